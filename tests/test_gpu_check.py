"""``benchmarks/gpu_check.sh``, issue 28's prepared GPU run, rehearsed with a stand-in ``python3``
that records its arguments: every step runs in order, within its limits, with arguments the real
parsers accept, and reports its status in ``summary.txt``."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchmarks.__main__ as runner  # noqa: E402
from benchmarks import cifar10, profile  # noqa: E402

PARSERS = {"benchmarks": runner._parser, "benchmarks.cifar10": cifar10._parser}
PARSERS["benchmarks.profile"] = profile._parser


def _rehearse(tmp_path, arrays: Path, **env) -> tuple[list[list[str]], str]:
    log = tmp_path / "argv.log"
    stub = tmp_path / "python3"
    stub.write_text(
        '#!/bin/sh\nfor a in "$@"; do printf "%s\\037" "$a"; done >> "$LOG"\necho >> "$LOG"\n'
    )
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out"
    subprocess.run(
        ["bash", "benchmarks/gpu_check.sh"],
        cwd=ROOT,
        env={**os.environ, "PYTHON": str(stub), "LOG": str(log), "OUT": str(out)}
        | {"ARRAYS": str(arrays), "LEPTONLAB_QUICK": "0", "BUDGET_S": "470"}  # not the caller's
        | env,
        check=True,
        timeout=60,
    )
    calls = [line.split("\x1f")[:-1] for line in log.read_text().splitlines()]
    return calls, (out / "summary.txt").read_text()


def test_every_step_runs_with_arguments_its_parser_accepts(tmp_path):
    arrays = tmp_path / "c.npz.xz"
    arrays.write_bytes(b"stand-in")
    calls, summary = _rehearse(tmp_path, arrays)
    assert calls[0][0] == "-c"  # the versions, into summary.txt
    steps = [c for c in calls if c[0] == "-m"]
    assert [c[1] for c in steps] == [
        "benchmarks",
        "benchmarks.cifar10",
        "benchmarks",
        "benchmarks.profile",
    ]
    for call in steps:
        PARSERS[call[1]]().parse_args(call[2:])  # raises SystemExit on a bad argument
    bf16, recipe, f32, _ = (" ".join(c) for c in steps)
    assert "--compute-dtype bfloat16" in bf16 and "--compute-dtype" not in f32
    assert all("--budget-s" in c and "--child-timeout-s" in c for c in (bf16, f32))
    assert f"--pytorch --arrays {arrays}" in recipe and "--quick" not in bf16
    for name in ("bench_bf16", "cifar", "bench_f32", "profile"):
        assert f"{name}: exit 0 in " in summary
    assert "done in" in summary


def test_without_the_arrays_the_recipe_is_skipped_and_said_so(tmp_path):
    calls, summary = _rehearse(tmp_path, tmp_path / "missing.npz.xz", LEPTONLAB_QUICK="1")
    assert "cifar: not run" in summary and "bench_f32: exit 0" in summary
    assert all(c[1] != "benchmarks.cifar10" for c in calls if c[0] == "-m")
    assert all("--quick" in c for c in calls if c[0] == "-m")


def test_a_spent_budget_starts_no_more_steps(tmp_path):
    _, summary = _rehearse(tmp_path, tmp_path / "missing.npz.xz", BUDGET_S="10")
    assert "bench_bf16: not started" in summary and "profile: not started" in summary


@pytest.mark.parametrize("name", ["bench_bf16", "cifar", "bench_f32", "profile"])
def test_the_script_documents_each_step(name):
    head = (ROOT / "benchmarks" / "gpu_check.sh").read_text().split("set -u")[0]
    assert f"#   {name}" in head
    assert 'carry=[".gpu"]' in head and ".gpu/" in (ROOT / ".gitignore").read_text()
