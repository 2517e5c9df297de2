"""benchmarks.commits: one commit's training speed against another's, paired round by round."""

import json

import pytest

from benchmarks import commits

pytestmark = pytest.mark.slow  # runs the benchmark's children: seconds each, left out of test-fast


def test_summary_gives_the_median_and_every_round_and_names_failures():
    rows = [
        {"case": "mlp", "round": 0, "after_over_before": 0.9},
        {"case": "mlp", "round": 1, "after_over_before": 1.2},
        {"case": "mlp", "round": 2, "after_over_before": 1.0},
        {"case": "cnn", "round": 0, "before": {"error": "MemoryError: boom"}, "after": {}},
    ]
    lines = commits.summary(rows)
    assert lines[0] == "mlp: after/before 1.000 (rounds 0.900, 1.200, 1.000)"
    assert lines[1].startswith("cnn: after/before -") and "MemoryError: boom" in lines[1]


def test_an_unknown_commit_or_case_is_a_clear_error(capsys):
    with pytest.raises(SystemExit, match="cannot check out 'no-such-commit'"):
        commits.main(["no-such-commit", "HEAD", "--only", "mlp", "--quick"])
    with pytest.raises(SystemExit):
        commits.main(["HEAD", "HEAD", "--only", "nope"])
    assert "unknown case(s) ['nope']" in capsys.readouterr().err


def test_the_same_commit_twice_measures_both_sides_in_alternating_order(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert (
        commits.main(
            [
                "HEAD",
                "HEAD",
                "--only",
                "mlp",
                "--rounds",
                "2",
                "--quick",
                "--repeats",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    assert [r["first"] for r in rows] == ["before", "after"]
    for row in rows:
        for side in ("before", "after"):
            assert (
                row[side]["leptonlab"]["samples_per_s"] > 0
                and row[side]["naive_jax"]["samples_per_s"] > 0
            )
        assert row["after_over_before"] == pytest.approx(
            row["after"]["leptonlab"]["samples_per_s"] / row["before"]["leptonlab"]["samples_per_s"]
        )
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("mlp: after/before ")
