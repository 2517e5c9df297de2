"""The course report: one row per executed notebook, as Markdown and CSV.

Plain functions from rows to text, so that they can be tested on hand-made
rows: :func:`report_markdown` and :func:`report_csv`. :func:`write_report`
puts both files into the run's folder. The runner (``run_course``) builds the
rows; see notebook 00 and ``leptonlab run --help``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

OK = "ok"
FAILED = "failed"
STATUSES = (OK, FAILED)

MetricValue = float | int | str | bool

_CSV_COLUMNS = ("notebook", "status", "seconds", "peak_mib", "error")


@dataclass(frozen=True)
class NotebookRow:
    """What happened to one notebook of the course run."""

    notebook: str  # file name, e.g. "03_descent.ipynb"
    status: str  # "ok" or "failed"
    seconds: float  # wall time, kernel start-up included [s]
    peak_mib: float | None = None  # peak resident memory of the kernel [MiB]; None: not measured
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)  # from lepton.record(...)
    error: str | None = None  # "ErrorName: message" of the failing cell, one line
    output: str | None = None  # path of the executed copy

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}.")
        if self.seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {self.seconds}.")

    @property
    def ok(self) -> bool:
        """Whether the notebook ran to the end without an error."""
        return self.status == OK


@dataclass(frozen=True)
class RunInfo:
    """The header of a report: when, how and where the course ran."""

    date: str  # local time, "2025-01-31 14:05"
    quick: bool  # quick mode (LEPTONLAB_QUICK=1) or the full run
    jax_version: str  # as the kernel's Python sees it; "unknown" if it could not be read
    backend: str  # jax.default_backend(): "cpu", "gpu", "tpu" or "unknown"
    devices: str  # e.g. "1 × cpu"
    machine: str  # host name, architecture, CPUs and memory


@dataclass(frozen=True)
class Report:
    """A course run: its header, one row per notebook and where the report files are."""

    info: RunInfo
    rows: tuple[NotebookRow, ...]
    out_dir: Path | None = None  # folder with the executed notebooks and the report files
    markdown_path: Path | None = None  # report.md
    csv_path: Path | None = None  # report.csv

    @property
    def failed(self) -> int:
        """How many notebooks failed."""
        return sum(not row.ok for row in self.rows)

    @property
    def ok(self) -> bool:
        """Whether every notebook ran to the end."""
        return self.failed == 0


def format_value(value: MetricValue) -> str:
    """A metric as short text: floats to 4 significant digits, the rest as they are."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _format_memory(mib: float | None) -> str:
    return "–" if mib is None else f"{mib:.0f} MiB"


def _format_metrics(metrics: Mapping[str, MetricValue]) -> str:
    return ", ".join(f"{name} = {format_value(value)}" for name, value in metrics.items())


def _cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def summary_line(rows: Sequence[NotebookRow]) -> str:
    """``"12 notebooks: 11 ok, 1 failed, 305 s"``."""
    failed = sum(not row.ok for row in rows)
    seconds = sum(row.seconds for row in rows)
    noun = "notebook" if len(rows) == 1 else "notebooks"
    return f"{len(rows)} {noun}: {len(rows) - failed} ok, {failed} failed, {seconds:.0f} s"


def report_markdown(rows: Sequence[NotebookRow], info: RunInfo) -> str:
    """The report as Markdown: a header with the run's settings, then one table row per notebook.

    Failed notebooks' errors are listed below the table, one line each.
    """
    mode = "quick (LEPTONLAB_QUICK=1)" if info.quick else "full"
    lines = [
        "# leptonlab course run",
        "",
        f"- date: {info.date}",
        f"- mode: {mode}",
        f"- JAX: {info.jax_version}, backend {info.backend}, devices {info.devices}",
        f"- machine: {info.machine}",
        f"- result: {summary_line(rows)}",
        "",
        "| notebook | status | time | peak memory | metrics |",
        "|---|---|---:|---:|---|",
    ]
    for row in rows:
        status = "✓ ok" if row.ok else "✗ failed"
        cells = [
            row.notebook,
            status,
            f"{row.seconds:.1f} s",
            _format_memory(row.peak_mib),
            _format_metrics(row.metrics),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    errors = [row for row in rows if row.error]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- `{row.notebook}`: {_cell(row.error or '')}" for row in errors]
    return "\n".join(lines) + "\n"


def metric_columns(rows: Sequence[NotebookRow]) -> list[str]:
    """Every metric name in the rows, in the order they first appear."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.metrics))
    return list(names)


def _metric_header(name: str) -> str:
    return f"metric_{name}" if name in _CSV_COLUMNS else name


def report_csv(rows: Sequence[NotebookRow]) -> str:
    """The report as CSV: one row per notebook, one extra column per metric name.

    A metric named like a fixed column (``status`` ...) gets the header ``metric_<name>``;
    a notebook that did not record a metric leaves its cell empty.
    """
    metrics = metric_columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*_CSV_COLUMNS, *(_metric_header(name) for name in metrics)])
    for row in rows:
        peak = "" if row.peak_mib is None else f"{row.peak_mib:.1f}"
        fixed = [row.notebook, row.status, f"{row.seconds:.2f}", peak, row.error or ""]
        writer.writerow([*fixed, *(row.metrics.get(name, "") for name in metrics)])
    return buffer.getvalue()


def write_report(rows: Sequence[NotebookRow], info: RunInfo, out_dir: str | Path) -> Report:
    """Write ``report.md`` and ``report.csv`` into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown_path = out / "report.md"
    csv_path = out / "report.csv"
    markdown_path.write_text(report_markdown(rows, info), encoding="utf-8")
    csv_path.write_text(report_csv(rows), encoding="utf-8")
    return Report(
        info=info, rows=tuple(rows), out_dir=out, markdown_path=markdown_path, csv_path=csv_path
    )
