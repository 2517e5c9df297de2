"""``python -m benchmarks [--quick] [--only mlp,cnn] [--repeats 5] [--rounds 3] [--json out.json] [--time-to-target]``.

Each case runs in child processes (JAX, then PyTorch: their CPU thread pools must
not compete in one process), so its peak memory is its own; each child prints one
JSON line and this process gathers them into a table and a JSON file. leptonlab's
child runs with the course's glibc malloc settings (``leptonlab._env.ALLOCATOR_TUNABLES``,
as the course kernel does); PyTorch's child as its users run it, or with the same
settings under ``--same-allocator``; PyTorch's images in its default layout, or in channels-last
(its fast path for CPU convolutions) under ``--torch-channels-last``. ``--compute-dtype bfloat16``
trains leptonlab in bf16 compute (float32 master weights, ``TrainConfig.compute_dtype``) and
PyTorch under bf16 autocast, the mixed precision each framework's users run on a GPU; the naive
JAX loop stays float32. The table's header says which.

A run cut short loses nothing it finished: each case's row is printed as soon as it is
measured and the JSON file is rewritten after every case (``"complete": false`` until the
end). ``--budget-s`` stops starting cases once that many seconds are spent (the rest are
listed as skipped), and ``--child-timeout-s`` ends a child that takes longer (an error row):
the way to fit a run into a borrowed machine's time limit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._cases import CASES
from benchmarks._table import (
    environment,
    format_row,
    format_table,
    format_target_row,
    format_target_table,
)
from benchmarks._target import TARGETS
from leptonlab._env import ALLOCATOR_ENV, with_allocator_settings


COMPUTE_DTYPES = ("float32", "bfloat16")


def case_in_dtype(name: str, quick: bool, compute_dtype: str):
    """Case ``name`` computing in ``compute_dtype``; the matrix factorisation (``fit_mf``) has no bf16
    path and stays float32 (its row is labelled by the case's own ``compute_dtype``)."""
    case = CASES[name](quick)
    if compute_dtype == "float32" or case.trainer != "fit":
        return case
    return dataclasses.replace(case, compute_dtype=compute_dtype)


def torch_bf16(case, compute_dtype: str) -> bool:
    """Whether PyTorch's side of ``case`` runs under bf16 autocast: in a bf16 run, for the cases whose
    leptonlab side computes in bf16 (not ``mf``); ``cnn-bf16`` in a float32 run keeps PyTorch float32."""
    return compute_dtype == "bfloat16" and case.trainer == "fit"


def _child(
    name: str,
    quick: bool,
    repeats: int,
    part: str,
    channels_last_layout: bool = False,
    compute_dtype: str = "float32",
) -> None:
    if part.startswith("target-"):
        from benchmarks import _target

        case, target = CASES[name](quick), _target.TARGETS[name]
        run = (
            _target.leptonlab_time_to_target
            if part == "target-jax"
            else _target.torch_time_to_target
        )
        options = (
            {"channels_last_layout": True}
            if channels_last_layout and part == "target-torch"
            else {}
        )
        row = {
            "case": name,
            "note": target.note,
            "batch_size": case.batch_size,
            part[len("target-") :]: run(case, target, **options),
        }
    else:
        from benchmarks._run import run_case

        case = case_in_dtype(name, quick, compute_dtype)
        row = run_case(
            case, repeats, part, channels_last_layout, torch_bf16=torch_bf16(case, compute_dtype)
        )
    print("BENCHMARK-ROW " + json.dumps(row), flush=True)


def _exception_line(stderr: str) -> str:
    """The ``SomeError: message`` line of a child's traceback (JAX appends notes after it)."""
    lines = stderr.strip().splitlines()
    errors = [
        line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b", line)
    ]
    return (errors or lines or ["no output"])[-1]


def child_environment(part: str, same_allocator: bool) -> dict[str, str]:
    """The environment of a child: leptonlab's side runs with the course's allocator settings
    (as in the course kernel); PyTorch's side as its users run it, unless ``same_allocator``."""
    if part.endswith("jax") or same_allocator:
        return with_allocator_settings(os.environ)
    return dict(os.environ)


def _run_child(
    name: str,
    quick: bool,
    repeats: int,
    part: str,
    same_allocator: bool = False,
    timeout_s: float | None = None,
    channels_last_layout: bool = False,
    compute_dtype: str = "float32",
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks",
        "--child",
        name,
        "--part",
        part,
        "--repeats",
        str(repeats),
    ]
    if quick:
        cmd.append("--quick")
    if channels_last_layout and part.endswith("torch"):
        cmd.append("--torch-channels-last")
    if compute_dtype != "float32":
        cmd += ["--compute-dtype", compute_dtype]
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            env=child_environment(part, same_allocator),
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {
            "case": name,
            "error": f"the {part} part took longer than --child-timeout-s {timeout_s:g} s",
        }
    rows = [
        line[len("BENCHMARK-ROW ") :]
        for line in done.stdout.splitlines()
        if line.startswith("BENCHMARK-ROW ")
    ]
    if done.returncode != 0 or not rows:
        return {"case": name, "error": _exception_line(done.stderr)}
    return json.loads(rows[-1])


def _run_case(
    name: str,
    quick: bool,
    repeats: int,
    same_allocator: bool,
    rounds: int = 1,
    timeout_s: float | None = None,
    channels_last_layout: bool = False,
    compute_dtype: str = "float32",
) -> dict:
    """The JAX part and the PyTorch part of a case, each in its own process, back to back, ``rounds``
    times; the rounds merged into one row (ratios: medians of the ratios within each round)."""
    from benchmarks._run import merge_rounds

    rows = []
    for _ in range(rounds):
        row = _run_child(
            name, quick, repeats, "jax", timeout_s=timeout_s, compute_dtype=compute_dtype
        )
        if "error" in row:
            return row
        row["pytorch"] = _run_child(
            name,
            quick,
            repeats,
            "torch",
            same_allocator,
            timeout_s,
            channels_last_layout,
            compute_dtype,
        ).get("pytorch")
        rows.append(row)
    return merge_rounds(rows)


def _time_to_target(
    name: str,
    same_allocator: bool,
    timeout_s: float | None = None,
    channels_last_layout: bool = False,
) -> dict:
    """leptonlab, then PyTorch, each in its own process, trained on the real data to the case's target."""
    row = _run_child(name, False, 1, "target-jax", timeout_s=timeout_s)
    if "error" in row:
        return row
    row["torch"] = _run_child(
        name, False, 1, "target-torch", same_allocator, timeout_s, channels_last_layout
    ).get("torch")
    ours, ref = row["jax"], row["torch"]
    if ref is not None and ours["reached"] and ref["reached"]:
        row["speedup_vs_pytorch"] = ref["seconds"] / ours["seconds"]
    return row


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few steps, few repeats: checks the runner, not the speed",
    )
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        help=f"comma-separated cases (default: all of {list(CASES)})",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per measurement (median reported)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run leptonlab and PyTorch back to back this many times; ratios are medians of the "
        "ratios within each round (robust to the machine's drift)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write the results here (default: print only)"
    )
    parser.add_argument(
        "--time-to-target",
        action="store_true",
        help=f"also train on the real data to a target test accuracy, RMSE or loss (cases {list(TARGETS)}; "
        "needs the dataset, minutes per case)",
    )
    parser.add_argument(
        "--same-allocator",
        action="store_true",
        help="run PyTorch with the course's glibc malloc settings too (default: as its users run it)",
    )
    parser.add_argument(
        "--torch-channels-last",
        action="store_true",
        help="give PyTorch its images and convolution weights in channels-last layout, its fast path "
        "for CPU convolutions (default: PyTorch's default layout, as most of its users run it)",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="start no case after this many seconds (the rest are listed as skipped)",
    )
    parser.add_argument(
        "--child-timeout-s",
        type=float,
        default=None,
        help="end a child process (one side of one case) that runs longer than this (an error row)",
    )
    parser.add_argument(
        "--compute-dtype",
        default="float32",
        choices=COMPUTE_DTYPES,
        help="bfloat16: leptonlab in bf16 compute with float32 master weights, PyTorch under bf16 "
        "autocast (the GPU's mixed precision); the naive JAX loop stays float32 (default float32)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--part",
        default="jax",
        choices=("jax", "torch", "target-jax", "target-torch"),
        help=argparse.SUPPRESS,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    for option in ("budget_s", "child_timeout_s"):
        if getattr(args, option) is not None and getattr(args, option) <= 0:
            parser.error(f"--{option.replace('_', '-')} must be a positive number of seconds")
    if args.child is not None:
        _child(
            args.child,
            args.quick,
            repeats,
            args.part,
            args.torch_channels_last,
            args.compute_dtype,
        )
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    result = {
        "environment": environment(),
        "quick": args.quick,
        "repeats": repeats,
        "rounds": args.rounds,
        "rows": [],
        "complete": False,
    }
    result["environment"]["allocator"] = {
        side: child_environment(part, args.same_allocator).get(ALLOCATOR_ENV, "")
        for side, part in (("leptonlab", "jax"), ("pytorch", "torch"))
    }
    result["environment"]["torch_layout"] = (
        "channels-last" if args.torch_channels_last else "default"
    )
    result["environment"]["compute_dtype"] = args.compute_dtype
    start = time.monotonic()

    def over_budget(name: str) -> dict | None:
        if args.budget_s is not None and time.monotonic() - start >= args.budget_s:
            return {
                "case": name,
                "skipped": f"not started, the --budget-s of {args.budget_s:g} s was spent",
            }
        return None

    def keep(
        key: str, row: dict
    ) -> None:  # report a finished case at once and save what the run has so far
        result.setdefault(key, []).append(row)
        result["wall_s"] = time.monotonic() - start
        print(
            f"[{result['wall_s']:.0f} s] {format_row(row) if key == 'rows' else format_target_row(row)}",
            file=sys.stderr,
            flush=True,
        )
        _save(args.json, result)

    for name in names:
        keep(
            "rows",
            over_budget(name)
            or _run_case(
                name,
                args.quick,
                repeats,
                args.same_allocator,
                args.rounds,
                args.child_timeout_s,
                args.torch_channels_last,
                args.compute_dtype,
            ),
        )
    if args.time_to_target:
        result["time_to_target"] = []
        for name in (n for n in names if n in TARGETS):
            keep(
                "time_to_target",
                over_budget(name)
                or _time_to_target(
                    name, args.same_allocator, args.child_timeout_s, args.torch_channels_last
                ),
            )
    result["complete"] = True
    result["wall_s"] = time.monotonic() - start
    print(format_table(result))
    if args.time_to_target:
        print("\n" + format_target_table(result["time_to_target"], result["environment"]))
    if args.json is not None:
        _save(args.json, result)
        print(f"wrote {args.json}")
    return (
        1 if any("error" in row for row in result["rows"] + result.get("time_to_target", [])) else 0
    )


def _save(path: Path | None, result: dict) -> None:
    """Write the results so far; a run killed while writing leaves the previous version, not half a file."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())
