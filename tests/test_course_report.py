"""The course report on hand-made rows: Markdown table, CSV columns, files, bad input."""

import csv
import io

import pytest

from leptonlab.course import NotebookRow, Report, RunInfo, report_csv, report_markdown, write_report

INFO = RunInfo(
    date="2025-01-31 14:05",
    quick=True,
    jax_version="0.6.0",
    backend="cpu",
    devices="1 × cpu",
    machine="laptop, Linux x86_64, 2 CPUs, 8 GiB RAM",
)
ROWS = (
    NotebookRow("00_setup.ipynb", "ok", 3.21, 180.4, {"test_accuracy": 0.97531, "steps": 50}),
    NotebookRow(
        "01_descent.ipynb",
        "failed",
        1.5,
        None,
        {"status": "half"},
        error="ValueError: boom | pipe\nsecond line",
    ),
    NotebookRow("02_plain.ipynb", "ok", 0.5, 90.0),
)


def test_markdown_has_header_and_one_row_per_notebook():
    text = report_markdown(ROWS, INFO)
    assert "2025-01-31 14:05" in text and "quick" in text
    assert "0.6.0" in text and "backend cpu" in text and "laptop" in text
    assert "3 notebooks: 2 ok, 1 failed" in text
    table = [line for line in text.splitlines() if line.startswith("| 0")]
    assert len(table) == 3
    assert table[0] == (
        "| 00_setup.ipynb | ✓ ok | 3.2 s | 180 MiB | test_accuracy = 0.9753, steps = 50 |"
    )
    assert "✗ failed" in table[1] and "–" in table[1]  # no memory measured


def test_markdown_lists_errors_on_one_line_with_escaped_pipes():
    text = report_markdown(ROWS, INFO)
    assert "- `01_descent.ipynb`: ValueError: boom \\| pipe second line" in text


def test_markdown_full_mode():
    full = RunInfo(**{**INFO.__dict__, "quick": False})
    assert "- mode: full" in report_markdown(ROWS, full)


def test_csv_one_row_per_notebook_and_metric_columns():
    table = list(csv.DictReader(io.StringIO(report_csv(ROWS))))
    assert [row["notebook"] for row in table] == [r.notebook for r in ROWS]
    assert table[0]["test_accuracy"] == "0.97531" and table[0]["steps"] == "50"
    assert table[0]["peak_mib"] == "180.4" and table[1]["peak_mib"] == ""
    assert table[1]["metric_status"] == "half"  # a metric named like a fixed column is prefixed
    assert table[1]["status"] == "failed"
    assert table[2]["test_accuracy"] == ""  # not recorded there


def test_csv_of_no_rows_is_just_the_header():
    assert report_csv([]) == "notebook,status,seconds,peak_mib,error\n"


def test_write_report_writes_both_files(tmp_path):
    report = write_report(ROWS, INFO, tmp_path / "run")
    assert isinstance(report, Report)
    assert report.markdown_path.read_text(encoding="utf-8") == report_markdown(ROWS, INFO)
    assert report.csv_path.read_text(encoding="utf-8") == report_csv(ROWS)
    assert report.failed == 1 and not report.ok and report.rows == ROWS


def test_row_is_frozen():
    with pytest.raises(AttributeError):
        ROWS[0].status = "failed"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"status": "maybe"}, "status must be one of"),
        ({"seconds": -1.0}, "seconds must be >= 0"),
    ],
)
def test_row_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NotebookRow(**{"notebook": "x.ipynb", "status": "ok", "seconds": 1.0, **kwargs})
