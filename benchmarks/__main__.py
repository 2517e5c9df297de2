"""``python -m benchmarks [--quick] [--only mlp,cnn] [--repeats 5] [--rounds 3] [--json out.json] [--time-to-target]``.

Each case runs in child processes (JAX, then PyTorch: their CPU thread pools must
not compete in one process), so its peak memory is its own; each child prints one
JSON line and this process gathers them into a table and a JSON file. leptonlab's
child runs with the course's glibc malloc settings (``leptonlab._env.ALLOCATOR_TUNABLES``,
as the course kernel does); PyTorch's child as its users run it, or with the same
settings under ``--same-allocator``. The table's header says which.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._cases import CASES
from benchmarks._table import environment, format_table, format_target_table
from benchmarks._target import TARGETS
from leptonlab._env import ALLOCATOR_ENV, with_allocator_settings


def _child(name: str, quick: bool, repeats: int, part: str) -> None:
    if part.startswith("target-"):
        from benchmarks import _target

        case, target = CASES[name](quick), _target.TARGETS[name]
        run = _target.leptonlab_time_to_target if part == "target-jax" else _target.torch_time_to_target
        row = {"case": name, "note": target.note, "batch_size": case.batch_size, part[len("target-"):]: run(case, target)}
    else:
        from benchmarks._run import run_case

        row = run_case(CASES[name](quick), repeats, part)
    print("BENCHMARK-ROW " + json.dumps(row), flush=True)


def _exception_line(stderr: str) -> str:
    """The ``SomeError: message`` line of a child's traceback (JAX appends notes after it)."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b", line)]
    return (errors or lines or ["no output"])[-1]


def child_environment(part: str, same_allocator: bool) -> dict[str, str]:
    """The environment of a child: leptonlab's side runs with the course's allocator settings
    (as in the course kernel); PyTorch's side as its users run it, unless ``same_allocator``."""
    if part.endswith("jax") or same_allocator:
        return with_allocator_settings(os.environ)
    return dict(os.environ)


def _run_child(name: str, quick: bool, repeats: int, part: str, same_allocator: bool = False) -> dict:
    cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--part", part, "--repeats", str(repeats)]
    if quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
                          env=child_environment(part, same_allocator))
    rows = [line[len("BENCHMARK-ROW "):] for line in done.stdout.splitlines() if line.startswith("BENCHMARK-ROW ")]
    if done.returncode != 0 or not rows:
        return {"case": name, "error": _exception_line(done.stderr)}
    return json.loads(rows[-1])


def _run_case(name: str, quick: bool, repeats: int, same_allocator: bool, rounds: int = 1) -> dict:
    """The JAX part and the PyTorch part of a case, each in its own process, back to back, ``rounds``
    times; the rounds merged into one row (ratios: medians of the ratios within each round)."""
    from benchmarks._run import merge_rounds

    rows = []
    for _ in range(rounds):
        row = _run_child(name, quick, repeats, "jax")
        if "error" in row:
            return row
        row["pytorch"] = _run_child(name, quick, repeats, "torch", same_allocator).get("pytorch")
        rows.append(row)
    return merge_rounds(rows)


def _time_to_target(name: str, same_allocator: bool) -> dict:
    """leptonlab, then PyTorch, each in its own process, trained on the real data to the case's target."""
    row = _run_child(name, False, 1, "target-jax")
    if "error" in row:
        return row
    row["torch"] = _run_child(name, False, 1, "target-torch", same_allocator).get("torch")
    ours, ref = row["jax"], row["torch"]
    if ref is not None and ours["reached"] and ref["reached"]:
        row["speedup_vs_pytorch"] = ref["seconds"] / ours["seconds"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, few repeats: checks the runner, not the speed")
    parser.add_argument("--only", default=",".join(CASES), help=f"comma-separated cases (default: all of {list(CASES)})")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (median reported)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run leptonlab and PyTorch back to back this many times; ratios are medians of the "
                             "ratios within each round (robust to the machine's drift)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (default: print only)")
    parser.add_argument("--time-to-target", action="store_true",
                        help=f"also train on the real data to a target test accuracy, RMSE or loss (cases {list(TARGETS)}; "
                             "needs the dataset, minutes per case)")
    parser.add_argument("--same-allocator", action="store_true",
                        help="run PyTorch with the course's glibc malloc settings too (default: as its users run it)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--part", default="jax", choices=("jax", "torch", "target-jax", "target-torch"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.child is not None:
        _child(args.child, args.quick, repeats, args.part)
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    start = time.time()
    rows = [_run_case(name, args.quick, repeats, args.same_allocator, args.rounds) for name in names]
    env = environment()
    env["allocator"] = {side: child_environment(part, args.same_allocator).get(ALLOCATOR_ENV, "")
                        for side, part in (("leptonlab", "jax"), ("pytorch", "torch"))}
    result = {"environment": env, "quick": args.quick, "repeats": repeats, "rounds": args.rounds, "rows": rows}
    if args.time_to_target:
        result["time_to_target"] = [_time_to_target(name, args.same_allocator) for name in names if name in TARGETS]
    result["wall_s"] = time.time() - start
    print(format_table(result))
    if args.time_to_target:
        print("\n" + format_target_table(result["time_to_target"]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if any("error" in row for row in rows + result.get("time_to_target", [])) else 0


if __name__ == "__main__":
    sys.exit(main())
