"""``python -m benchmarks.profile --case resnet [--quick] [--top 40]``: where a case's step spends its time.

Runs the case's ``fit`` as the benchmark does (``benchmarks._run``: same model, data and
config, and the course's glibc allocator settings unless ``GLIBC_TUNABLES`` is set); two
warm-up calls compile and settle the allocator, then one more call runs under
``jax.profiler.trace``. It reads the trace back (``jax.profiler.ProfileData``) and prints, per
training step:

* every XLA operation of the compiled step with its output shape (from the compiled HLO),
  slowest first: on the CPU the thunks XLA's threads run (every host line but Python's), on a
  GPU the device's ``XLA Ops`` line;
* the same times summed by kind, the operation's name without its number
  (``ynn_fusion``, ``transpose_copy_fusion``, ``convolution``, ...).

Times are wall time inside each operation. On the CPU, XLA's Eigen convolutions hand their
work to the thread pool and are listed far below what ``perf`` attributes to Eigen's kernels,
so the listed total can fall short of the step's time, printed next to it. This is how the
issue-28 profile in PERFORMANCE.md was taken (CPU only; the GPU line selection has not been
run on a GPU yet).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["op_kind", "op_times", "output_shapes"]

_NUMBERED = re.compile(r"[._]\d+$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+) ", re.M)


def op_kind(name: str) -> str:
    """An operation's kind: its name without the number XLA appends (``ynn_fusion.96 -> ynn_fusion``)."""
    return _NUMBERED.sub("", name)


def output_shapes(hlo_text: str) -> dict[str, str]:
    """``{instruction name: output shape}`` from an HLO module's text (``compiled.as_text()``)."""
    return dict(_INSTRUCTION.findall(hlo_text))


def _is_op_line(plane: str, line: str) -> bool:
    if plane.startswith("/device:GPU"):
        return line == "XLA Ops"
    return plane == "/host:CPU" and line != "python"  # XLA's worker and client threads


def op_times(xspace: str | Path) -> collections.Counter[str]:
    """Nanoseconds per XLA operation in a trace file (``*.xplane.pb``), summed over its calls.

    The runtime's own spans (C++ names such as ``ThunkExecutor::Execute``, which contain the
    operations, or ``SlinkyThreadPool::Await``, inside them) and the ``end: ...`` markers are
    left out, so each nanosecond is counted once.
    """
    from jax.profiler import ProfileData

    times: collections.Counter[str] = collections.Counter()
    for plane in ProfileData.from_file(str(xspace)).planes:
        for line in plane.lines:
            if not _is_op_line(plane.name, line.name):
                continue
            for event in line.events:
                if "::" in event.name or event.name.startswith("end: "):
                    continue
                times[event.name] += event.duration_ns
    return times


def _profile_case(name: str, quick: bool) -> tuple[collections.Counter[str], int, float]:
    """(op times in ns, steps per call, the traced call's ms per step) for one case."""
    import jax
    import numpy as np

    from benchmarks._cases import CASES
    from benchmarks._run import leptonlab_fit_call

    case = CASES[name](quick)
    if case.trainer == "fit_mf":
        raise SystemExit(
            f"benchmarks.profile: case {name!r} does not train with fit; pick another."
        )
    x, y = case.make_data(np.random.default_rng(0), case.steps * case.batch_size)
    run = leptonlab_fit_call(case, x, y)  # the benchmark's own fit call
    for _ in range(2):  # compile, then one call with the allocator settled
        run()
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
        (xspace,) = Path(tmp).rglob("*.xplane.pb")
        times = op_times(xspace)
    return times, case.steps, seconds / case.steps * 1e3


def _dumped_shapes(dump_dir: Path) -> dict[str, str]:
    """Output shapes from the optimised HLO XLA dumped (``--xla_dump_to``) for the training step."""
    shapes: dict[str, str] = {}
    for path in sorted(dump_dir.glob("*after_optimizations.txt")):
        shapes.update(output_shapes(path.read_text()))
    return shapes


def format_profile(
    times: collections.Counter[str], shapes: dict[str, str], steps: int, step_ms: float, top: int
) -> str:
    """The two tables (operations, kinds) as Markdown, in ms per step."""
    total_ns = sum(times.values())
    lines = [
        f"traced step: {step_ms:.1f} ms (profiler on); "
        f"operations listed: {total_ns / 1e6 / steps:.1f} ms in all",
        "",
        "| ms/step | operation | output shape |",
        "|---:|---|---|",
    ]
    for op, ns in times.most_common(top):
        lines.append(f"| {ns / 1e6 / steps:.2f} | {op} | {shapes.get(op, '?')} |")
    kinds: collections.Counter[str] = collections.Counter()
    for op, ns in times.items():
        kinds[op_kind(op)] += ns
    lines += ["", "| ms/step | kind | share |", "|---:|---|---:|"]
    for kind, ns in kinds.most_common(top):
        lines.append(f"| {ns / 1e6 / steps:.2f} | {kind} | {ns / max(total_ns, 1):.0%} |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--case", required=True, help="a benchmark case, e.g. resnet, cnn, gpt")
    parser.add_argument("--quick", action="store_true", help="the case's quick size (a few steps)")
    parser.add_argument("--top", type=int, default=40, help="rows per table (default 40)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    from benchmarks._cases import CASES
    from leptonlab._env import ALLOCATOR_ENV, with_allocator_settings

    if args.case not in CASES:
        parser.error(f"unknown case {args.case!r}; choose from {', '.join(CASES)}")
    if ALLOCATOR_ENV not in os.environ:  # glibc reads its settings at start: run again with them
        argv = sys.argv[1:] if argv is None else argv
        env = with_allocator_settings(dict(os.environ))
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.profile", *argv], env)
    with tempfile.TemporaryDirectory() as dump:
        # Set before JAX starts its backend: XLA writes the step's optimised HLO here (the shapes).
        os.environ["XLA_FLAGS"] = " ".join(
            [
                os.environ.get("XLA_FLAGS", ""),
                f"--xla_dump_to={dump}",
                "--xla_dump_hlo_as_text",
                "--xla_dump_hlo_pass_re=^$",
                "--xla_dump_hlo_module_re=.*train.*",
            ]
        ).strip()
        times, steps, step_ms = _profile_case(args.case, args.quick)
        shapes = _dumped_shapes(Path(dump))
    if not times:
        raise SystemExit(
            "benchmarks.profile: the trace holds no XLA operations (was the step run?)."
        )
    print(f"{args.case}: {steps} steps per call")
    print(format_profile(times, shapes, steps, step_ms, args.top))


if __name__ == "__main__":
    sys.exit(main())
