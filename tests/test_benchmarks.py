"""The benchmark runner runs on a tiny configuration and writes a well-formed table (no speed is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._cases import CASES  # noqa: E402
from benchmarks._table import environment, format_table  # noqa: E402


def test_runner_measures_the_mlp_and_writes_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "mlp", "--repeats", "1",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["case"] == "mlp" and row["batch_size"] == 128
    ours = row["leptonlab"]
    assert ours["samples_per_s"] > 0 and ours["min_samples_per_s"] <= ours["samples_per_s"] <= ours["max_samples_per_s"]
    assert ours["compile_s"] >= 0 and ours["peak_rss_mib"] > 50
    assert row["ratio_vs_naive_jax"] == pytest.approx(ours["samples_per_s"] / row["naive_jax"]["samples_per_s"])
    table = done.stdout.splitlines()
    header = next(line for line in table if line.startswith("| case"))
    mlp_line = next(line for line in table if line.startswith("| mlp"))
    assert header.count("|") == mlp_line.count("|") == 10


def test_unknown_case_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "unknown case" in done.stderr


def test_table_reports_a_failed_case_instead_of_hiding_it():
    table = format_table({"environment": environment(), "quick": True, "repeats": 1,
                          "rows": [{"case": "cnn", "error": "RuntimeError: out of memory"}]})
    assert "| cnn | error: RuntimeError: out of memory" in table


def test_every_case_builds_its_data_with_the_batch_shape():
    import numpy as np

    for name, build in CASES.items():
        case = build(True)
        x, y = case.make_data(np.random.default_rng(0), 2 * case.batch_size)
        assert x.shape[0] == y.shape[0] == 2 * case.batch_size, name
