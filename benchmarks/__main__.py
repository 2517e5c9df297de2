"""``python -m benchmarks [--quick] [--only mlp,cnn] [--repeats 5] [--json out.json]``.

Each case runs in child processes (JAX, then PyTorch: their CPU thread pools must
not compete in one process), so its peak memory is its own; each child prints one
JSON line and this process gathers them into a table and a JSON file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._cases import CASES
from benchmarks._table import environment, format_table


def _child(name: str, quick: bool, repeats: int, part: str) -> None:
    from benchmarks._run import run_case

    row = run_case(CASES[name](quick), repeats, part)
    print("BENCHMARK-ROW " + json.dumps(row), flush=True)


def _run_child(name: str, quick: bool, repeats: int, part: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--part", part, "--repeats", str(repeats)]
    if quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    rows = [line[len("BENCHMARK-ROW "):] for line in done.stdout.splitlines() if line.startswith("BENCHMARK-ROW ")]
    if done.returncode != 0 or not rows:
        return {"case": name, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(rows[-1])


def _run_case(name: str, quick: bool, repeats: int) -> dict:
    """The JAX part and the PyTorch part of a case, each in its own process, merged into one row."""
    from benchmarks._run import add_ratios

    row = _run_child(name, quick, repeats, "jax")
    if "error" in row:
        return row
    reference = _run_child(name, quick, repeats, "torch")
    row["pytorch"] = reference.get("pytorch")
    return add_ratios(row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, few repeats: checks the runner, not the speed")
    parser.add_argument("--only", default=",".join(CASES), help=f"comma-separated cases (default: all of {list(CASES)})")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (median reported)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (default: print only)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--part", default="jax", choices=("jax", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.child is not None:
        _child(args.child, args.quick, repeats, args.part)
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    start = time.time()
    rows = [_run_case(name, args.quick, repeats) for name in names]
    result = {"environment": environment(), "quick": args.quick, "repeats": repeats, "rows": rows,
              "wall_s": time.time() - start}
    print(format_table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
