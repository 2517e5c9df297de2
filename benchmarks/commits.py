"""``python -m benchmarks.commits BEFORE AFTER [--only cnn,mlp] [--rounds 3]``: one commit against another.

A refactor should not change speed, and the only honest way to say so on a machine whose speed
drifts is to pair the measurements: for each case and round, leptonlab's side of the benchmark
(`fit`, then the naive JAX loop, in a child process as ``python -m benchmarks`` runs it) runs once
from a clean checkout of each commit, back to back, the order alternating by round. The ratio
after/before of leptonlab's samples/s is taken within each round; the median over rounds is
reported with every round's ratio, so the noise is in plain sight.

The checkouts are ``git worktree``s in a temporary folder (removed at the end); both run in this
Python environment. Rows are printed as they are measured and, with ``--json``, written after each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._cases import CASES
from leptonlab._env import with_allocator_settings

REPO = Path(__file__).resolve().parents[1]


def checkout(commit: str, folder: Path) -> Path:
    """A clean, detached worktree of ``commit`` at ``folder``; a clear error for an unknown commit."""
    done = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), commit],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"cannot check out {commit!r}: {done.stderr.strip()}")
    return folder


def measure(tree: Path, case: str, repeats: int, quick: bool) -> dict:
    """leptonlab's and the naive loop's figures for one case, from the code in ``tree``."""
    cmd = [sys.executable, "-m", "benchmarks", "--child", case, "--part", "jax"]
    cmd += ["--repeats", str(repeats)] + (["--quick"] if quick else [])
    env = with_allocator_settings(os.environ)
    env["PYTHONPATH"] = str(tree)  # that tree's leptonlab, whatever is installed
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    rows = [line for line in done.stdout.splitlines() if line.startswith("BENCHMARK-ROW ")]
    if done.returncode != 0 or not rows:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail}
    return json.loads(rows[-1][len("BENCHMARK-ROW ") :])


def paired_round(trees: dict[str, Path], case: str, round_: int, repeats: int, quick: bool) -> dict:
    """Both commits once, back to back; the order alternates with the round."""
    order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
    row = {"case": case, "round": round_, "first": order[0]}
    for side in order:
        row[side] = measure(trees[side], case, repeats, quick)
    if "error" not in row["before"] and "error" not in row["after"]:
        rate = {side: row[side]["leptonlab"]["samples_per_s"] for side in ("before", "after")}
        row["after_over_before"] = rate["after"] / rate["before"]
    return row


def summary(rows: list[dict]) -> list[str]:
    """One line per case: the median after/before ratio and each round's."""
    lines = []
    for case in dict.fromkeys(r["case"] for r in rows):
        ratios = [
            r["after_over_before"] for r in rows if r["case"] == case and "after_over_before" in r
        ]
        errors = [r for r in rows if r["case"] == case and "after_over_before" not in r]
        text = f"{case}: after/before "
        text += (
            f"{statistics.median(ratios):.3f} (rounds {', '.join(f'{x:.3f}' for x in ratios)})"
            if ratios
            else "-"
        )
        if errors:
            text += f"; {len(errors)} round(s) failed: {errors[0].get('before', {}).get('error') or errors[0]['after'].get('error')}"
        lines.append(text)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.commits", description=__doc__.split("\n")[0]
    )
    parser.add_argument("before", help="the commit measured as 'before' (any git revision)")
    parser.add_argument("after", help="the commit measured as 'after'")
    parser.add_argument(
        "--only", default="cnn,resnet,mlp,char-gru,mf", help="comma-separated cases"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--quick", action="store_true", help="few steps: checks the runner, not the speed"
    )
    parser.add_argument("--json", default=None, help="write the rows here after each round")
    args = parser.parse_args(argv)
    cases = args.only.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown or args.rounds < 1:
        parser.error(
            f"unknown case(s) {unknown}; choose from {sorted(CASES)}"
            if unknown
            else "--rounds >= 1"
        )
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="leptonlab-commits-") as tmp:
        trees = {
            side: checkout(getattr(args, side), Path(tmp) / side) for side in ("before", "after")
        }
        try:
            for case in cases:
                for r in range(args.rounds):
                    rows.append(paired_round(trees, case, r, args.repeats, args.quick))
                    print(
                        json.dumps(
                            {k: v for k, v in rows[-1].items() if k not in ("before", "after")}
                        ),
                        flush=True,
                    )
                    if args.json:
                        Path(args.json).write_text(json.dumps(rows, indent=1))
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                    capture_output=True,
                )
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
