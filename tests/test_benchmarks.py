"""The benchmark runner runs on a tiny configuration and writes a well-formed table (no speed is asserted)."""

import dataclasses
import json
import statistics
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._cases import CASES  # noqa: E402
from benchmarks._table import environment, format_table  # noqa: E402


def test_runner_measures_the_mlp_and_writes_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "mlp",
            "--repeats",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["case"] == "mlp" and row["batch_size"] == 128
    ours = row["leptonlab"]
    assert (
        ours["samples_per_s"] > 0
        and ours["min_samples_per_s"] <= ours["samples_per_s"] <= ours["max_samples_per_s"]
    )
    assert ours["compile_s"] >= 0 and ours["peak_rss_mib"] > 50
    assert row["ratio_vs_naive_jax"] == pytest.approx(
        ours["samples_per_s"] / row["naive_jax"]["samples_per_s"]
    )
    table = done.stdout.splitlines()
    header = next(line for line in table if line.startswith("| case"))
    mlp_line = next(line for line in table if line.startswith("| mlp"))
    assert header.count("|") == mlp_line.count("|") == 10
    from leptonlab._env import ALLOCATOR_TUNABLES

    assert result["environment"]["allocator"] == {"leptonlab": ALLOCATOR_TUNABLES, "pytorch": ""}
    assert f"GLIBC_TUNABLES: leptonlab {ALLOCATOR_TUNABLES} | PyTorch (default)" in table


def test_leptonlab_runs_with_the_course_allocator_and_pytorch_as_its_users_run_it(monkeypatch):
    from benchmarks.__main__ import child_environment
    from leptonlab._env import ALLOCATOR_TUNABLES

    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert child_environment("jax", False)["GLIBC_TUNABLES"] == ALLOCATOR_TUNABLES
    assert child_environment("target-jax", False)["GLIBC_TUNABLES"] == ALLOCATOR_TUNABLES
    assert "GLIBC_TUNABLES" not in child_environment("torch", False)
    assert child_environment("target-torch", True)["GLIBC_TUNABLES"] == ALLOCATOR_TUNABLES
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")  # the user's own choice wins
    assert child_environment("jax", False)["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2"


def test_unknown_case_is_a_usage_error():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "unknown case" in done.stderr


def test_table_reports_a_failed_case_instead_of_hiding_it():
    table = format_table(
        {
            "environment": environment(),
            "quick": True,
            "repeats": 1,
            "rows": [{"case": "cnn", "error": "RuntimeError: out of memory"}],
        }
    )
    assert "| cnn | error: RuntimeError: out of memory" in table


def test_every_case_builds_its_data_with_the_batch_shape():
    import numpy as np

    for name, build in CASES.items():
        case = build(True)
        x, y = case.make_data(np.random.default_rng(0), 2 * case.batch_size)
        assert x.shape[0] == y.shape[0] == 2 * case.batch_size, name


def test_a_failed_child_reports_its_exception_not_jax_notes():
    from benchmarks.__main__ import _exception_line

    stderr = (
        'Traceback (most recent call last):\n  File "x.py", line 1\n'
        "flax.errors.TraceContextError: Cannot mutate BatchStat\n--------------------\n"
        "For simplicity, JAX has removed its internal frames from the traceback of the following exception.\n"
    )
    assert _exception_line(stderr) == "flax.errors.TraceContextError: Cannot mutate BatchStat"
    assert _exception_line("") == "no output"


def test_the_matrix_factorisation_case_times_fit_mf_and_the_naive_loop():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--child",
            "mf",
            "--part",
            "jax",
            "--quick",
            "--repeats",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(
        next(line for line in done.stdout.splitlines() if line.startswith("BENCHMARK-ROW "))[14:]
    )
    assert row["case"] == "mf" and row["batch_size"] == 80_000
    assert row["leptonlab"]["samples_per_s"] > 0 and row["naive_jax"]["samples_per_s"] > 0


def test_time_to_target_table_says_when_a_target_was_not_reached():
    from benchmarks._table import format_target_table
    from benchmarks._target import _result, Target

    target = Target("mnist", 0.99, 3, "test")
    reached = _result([(12.0, 0.985), (20.5, 0.991)], target)
    missed = _result([(30.0, 0.97), (61.0, 0.98), (90.0, 0.989)], target)
    assert reached["reached"] and reached["seconds"] == 20.5 and reached["epochs"] == 2
    assert not missed["reached"] and missed["seconds"] is None and missed["best"] == 0.989
    table = format_target_table(
        [
            {"case": "cnn", "jax": reached, "torch": missed},
            {"case": "mlp", "jax": reached, "torch": reached, "speedup_vs_pytorch": 1.0},
        ]
    )
    assert "| cnn | 99.0% | 20 s (2 epochs) | not reached (best 98.90%) | - |" in table
    assert "| mlp | 99.0% | 20 s (2 epochs) | 20 s (2 epochs) | 1.00x |" in table


def test_an_rmse_target_is_met_from_above_and_reported_in_steps():
    from benchmarks._table import format_target_table
    from benchmarks._target import TARGETS, _result, Target

    target = Target("ml-100k-u1", 0.93, 300, "test", metric="rmse")
    assert target.met(0.9299) and target.met(0.93) and not target.met(0.9301)
    reached = _result([(0.5, 1.02), (0.9, 0.95), (1.4, 0.929), (1.9, 0.931)], target)
    missed = _result([(0.5, 1.02), (0.9, 0.95)], target)
    assert (
        reached["reached"]
        and reached["epochs"] == 3
        and reached["seconds"] == 1.4
        and reached["best"] == 0.929
    )
    assert not missed["reached"] and missed["best"] == 0.95
    table = format_target_table([{"case": "mf", "jax": reached, "torch": missed}])
    assert "| mf | RMSE <= 0.930 | 1.4 s (3 steps) | not reached (best RMSE 0.9500) | - |" in table
    assert (
        TARGETS["mf"].metric == "rmse"
        and TARGETS["mlp"].metric == TARGETS["cnn"].metric == "accuracy"
    )


def _measure(rate: float, **extra) -> dict:
    return {
        "samples_per_s": rate,
        "min_samples_per_s": rate * 0.9,
        "max_samples_per_s": rate * 1.1,
        "compile_s": 2.0,
        **extra,
    }


def test_rounds_give_the_median_of_ratios_within_each_round_not_a_ratio_of_drifted_medians():
    from benchmarks._run import merge_rounds

    # The machine slows down in round 2 for both sides; leptonlab is 1.0x, 1.25x, 0.9x of PyTorch per round.
    rounds = [
        {
            "case": "cnn",
            "batch_size": 128,
            "leptonlab": _measure(100.0, peak_rss_mib=900.0),
            "naive_jax": _measure(80.0),
            "pytorch": _measure(torch_rate, torch="2.13"),
        }
        for torch_rate in (100.0, 40.0, 100.0)
    ]
    rounds[1]["leptonlab"] = _measure(50.0, peak_rss_mib=950.0)
    rounds[2]["leptonlab"] = _measure(90.0, peak_rss_mib=901.0)
    row = merge_rounds(rounds)
    assert row["rounds"] == 3 and row["case"] == "cnn" and row["batch_size"] == 128
    assert row["per_round_ratio_vs_pytorch"] == pytest.approx([1.0, 1.25, 0.9])
    assert row["ratio_vs_pytorch"] == pytest.approx(1.0)  # a ratio of the medians would say 0.9
    assert row["leptonlab"]["samples_per_s"] == 90.0 and row["pytorch"]["samples_per_s"] == 100.0
    assert row["leptonlab"]["per_round_samples_per_s"] == [100.0, 50.0, 90.0]
    assert row["leptonlab"]["min_samples_per_s"] == pytest.approx(45.0)
    assert row["leptonlab"]["max_samples_per_s"] == pytest.approx(110.0)
    assert row["leptonlab"]["peak_rss_mib"] == 950.0 and row["pytorch"]["torch"] == "2.13"
    assert row["ratio_vs_naive_jax"] == pytest.approx(
        statistics.median([100 / 80, 50 / 80, 90 / 80])
    )


def test_a_round_without_pytorch_leaves_the_pytorch_column_empty():
    from benchmarks._run import merge_rounds

    rounds = [
        {
            "case": "mlp",
            "batch_size": 128,
            "leptonlab": _measure(10.0, peak_rss_mib=1.0),
            "naive_jax": _measure(5.0),
            "pytorch": None,
        },
        {
            "case": "mlp",
            "batch_size": 128,
            "leptonlab": _measure(12.0, peak_rss_mib=1.0),
            "naive_jax": _measure(6.0),
            "pytorch": _measure(9.0),
        },
    ]
    row = merge_rounds(rounds)
    assert row["pytorch"] is None and "ratio_vs_pytorch" not in row
    assert row["ratio_vs_naive_jax"] == pytest.approx(2.0)
    assert (
        format_table(
            {"environment": environment(), "quick": True, "repeats": 1, "rounds": 2, "rows": [row]}
        )
        .splitlines()[0]
        .endswith("median of 1 runs x 2 rounds (ratios: median of each round's)")
    )


def test_rounds_must_be_positive():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--rounds", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--rounds must be >= 1" in done.stderr


def _finished_case(name: str, *args) -> dict:
    return {
        "case": name,
        "batch_size": 128,
        "leptonlab": _measure(100.0, peak_rss_mib=900.0),
        "naive_jax": _measure(80.0),
        "pytorch": None,
        "ratio_vs_naive_jax": 1.25,
    }


def test_a_run_cut_short_keeps_every_case_it_finished(tmp_path, monkeypatch, capsys):
    import benchmarks.__main__ as runner

    out, seen = tmp_path / "bench.json", []

    def run_case(name, *args):  # what a run killed during this case would leave behind
        seen.append(json.loads(out.read_text()) if out.exists() else None)
        return _finished_case(name)

    monkeypatch.setattr(runner, "_run_case", run_case)
    assert runner.main(["--only", "mlp,cnn,mf", "--json", str(out)]) == 0
    assert seen[0] is None
    assert [row["case"] for row in seen[1]["rows"]] == ["mlp"] and seen[1]["complete"] is False
    assert [row["case"] for row in seen[2]["rows"]] == ["mlp", "cnn"] and seen[2][
        "complete"
    ] is False
    final = json.loads(out.read_text())
    assert [row["case"] for row in final["rows"]] == ["mlp", "cnn", "mf"] and final[
        "complete"
    ] is True
    assert not list(tmp_path.glob("*.partial"))
    progress = capsys.readouterr().err.splitlines()
    assert len(progress) == 3 and progress[1].endswith(
        "| cnn | 128 | 100 | 80 | - | 1.25x | - | 2.0 | 900 |"
    )
    assert "incomplete" in format_table(seen[2]) and "incomplete" not in format_table(final)


def test_a_time_budget_skips_the_cases_it_leaves_no_time_for(monkeypatch, capsys):
    import time

    import benchmarks.__main__ as runner

    def slow_case(name, *args):
        time.sleep(0.3)
        return _finished_case(name)

    monkeypatch.setattr(runner, "_run_case", slow_case)
    assert runner.main(["--only", "mlp,cnn,mf", "--budget-s", "0.1"]) == 0
    table = capsys.readouterr().out
    assert "| mlp | 128 | 100 |" in table
    for name in ("cnn", "mf"):
        assert f"| {name} | skipped: not started, the --budget-s of 0.1 s was spent |" in table


def test_a_child_that_overruns_its_timeout_is_an_error_row_not_a_hang():
    from benchmarks.__main__ import _run_child

    row = _run_child("mlp", True, 1, "jax", timeout_s=0.5)  # starting JAX alone takes longer
    assert row == {"case": "mlp", "error": "the jax part took longer than --child-timeout-s 0.5 s"}


@pytest.mark.parametrize("option", ["--budget-s", "--child-timeout-s"])
def test_time_limits_must_be_positive(option):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", option, "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and f"{option} must be a positive number of seconds" in done.stderr


@pytest.mark.skipif(
    not os.environ.get("LEPTONLAB_DATA_DIR"), reason="set LEPTONLAB_DATA_DIR to the offline data"
)
def test_mf_time_to_target_times_a_fresh_run_that_ends_on_the_recorded_rmse():
    from benchmarks._target import Target, leptonlab_mf_time_to_target

    result = leptonlab_mf_time_to_target(Target("ml-100k-u1", 1.05, 40, "test", metric="rmse"))
    assert result["reached"] and 1 <= result["epochs"] <= 40 and result["seconds"] > 0
    assert (
        result["curve"][result["epochs"] - 1]
        <= 1.05
        < min(result["curve"][: result["epochs"] - 1], default=9)
    )
    assert result["rmse_at_stop"] == pytest.approx(result["curve"][result["epochs"] - 1], abs=1e-4)
    missed = leptonlab_mf_time_to_target(Target("ml-100k-u1", 0.5, 3, "test", metric="rmse"))
    assert (
        not missed["reached"]
        and missed["seconds"] is None
        and missed["best"] == min(missed["curve"])
    )


def test_a_loss_target_is_met_from_above_and_reported_in_nats():
    from benchmarks._table import format_target_table
    from benchmarks._target import TARGETS, _result

    target = TARGETS["char-gru"]
    assert target.metric == "loss" and target.value == 1.50 and target.lower_is_better
    assert (
        target.model_options == {"dropout": 0.2} and TARGETS["cnn"].model_options == {}
    )  # notebook 11's dropout
    assert target.met(1.5) and target.met(1.49) and not target.met(1.501)
    reached = _result([(110.0, 1.91), (220.0, 1.62), (330.0, 1.498)], target)
    missed = _result([(110.0, 1.91), (220.0, 1.62)], target)
    assert (
        reached["reached"]
        and reached["epochs"] == 3
        and reached["best"] == 1.498
        and missed["best"] == 1.62
    )
    table = format_target_table([{"case": "char-gru", "jax": reached, "torch": missed}])
    assert (
        "| char-gru | loss <= 1.50 nats | 330 s (3 epochs) | not reached (best 1.620 nats) | - |"
        in table
    )


def test_pytorch_side_measures_the_mean_loss_per_character_as_leptonlab_does():
    torch = pytest.importorskip("torch")
    from benchmarks._target import _torch_evaluate

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 7, 4)).astype(
        np.float32
    )  # [W, T, V]: a "model" that returns fixed logits
    y = rng.integers(0, 4, size=(5, 7))  # [W, T]
    model = torch.nn.Identity()
    got = _torch_evaluate(
        model, torch.from_numpy(logits), torch.from_numpy(y), "loss", batch_size=2
    )
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))  # [W, T, V]
    want = -np.take_along_axis(log_p, y[..., None], -1).mean()
    assert got == pytest.approx(float(want), rel=1e-5)
    accuracy = _torch_evaluate(
        model, torch.from_numpy(logits[:, 0]), torch.from_numpy(y[:, 0]), "accuracy"
    )
    assert accuracy == pytest.approx(float((logits[:, 0].argmax(-1) == y[:, 0]).mean()))


@pytest.mark.skipif(
    not os.environ.get("LEPTONLAB_DATA_DIR"), reason="set LEPTONLAB_DATA_DIR to the offline data"
)
def test_char_gru_time_to_target_trains_on_notebook_11s_windows_and_reads_the_validation_loss(
    monkeypatch,
):
    from benchmarks import _target

    x, y, x_val, y_val = _target.load(
        "tinyshakespeare"
    )  # windows of 128 at stride 64; validation side by side
    assert x.shape == y.shape == (15_684, 128) and x_val.shape == y_val.shape == (871, 128)
    assert (
        (x[:, 1:] == y[:, :-1]).all()
        and (x[1, :64] == x[0, 64:]).all()
        and (x_val[1, 0] == y_val[0, -1])
    )

    monkeypatch.setattr(_target, "load", lambda dataset: (x[:320], y[:320], x_val[:50], y_val[:50]))
    target = dataclasses.replace(_target.TARGETS["char-gru"], value=4.1, max_epochs=3)
    result = _target.leptonlab_time_to_target(
        CASES["char-gru"](True), target
    )  # 5 steps of 64 windows an epoch
    assert result["metric"] == "loss" and result["reached"] and result["seconds"] > 0
    losses = [loss for _, loss in result["curve"]]
    assert len(losses) == result["epochs"] and losses[-1] <= 4.1 < min(losses[:-1], default=9)
    assert losses[-1] < np.log(65)  # below the uniform guess over tiny Shakespeare's 65 characters


def test_the_pytorch_char_gru_drops_out_in_training_only_as_charrnn_does():
    torch = pytest.importorskip("torch")
    from benchmarks._cases import _char_gru, _torch_char_gru

    model, _ = _torch_char_gru(dropout=0.5)
    x = torch.randint(0, 65, (2, 16))
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))
    ours = _char_gru(dropout=0.5)  # the same rate reaches leptonlab's CharRNN
    assert ours.dropout.rate == 0.5


def _fake_cnn_children(monkeypatch):
    """The runner module with its child processes replaced: each prints a finished cnn row (leptonlab
    100 samples/s, PyTorch 50) and none is started; returns it and the list of their commands."""
    import benchmarks.__main__ as runner

    commands, real_run = [], subprocess.run

    def fake_run(cmd, **kwargs):
        if "--child" not in cmd:  # e.g. platform.processor()'s own call
            return real_run(cmd, **kwargs)
        commands.append(cmd)
        part = cmd[cmd.index("--part") + 1]
        row = (
            {"case": "cnn", "pytorch": _measure(50.0)} if part == "torch" else _finished_case("cnn")
        )
        return subprocess.CompletedProcess(
            cmd, 0, stdout="BENCHMARK-ROW " + json.dumps(row), stderr=""
        )

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    return runner, commands


def test_torch_channels_last_reaches_only_pytorchs_children_and_names_itself_in_the_tables(
    monkeypatch, capsys
):
    from benchmarks._table import format_target_table

    runner, commands = _fake_cnn_children(monkeypatch)
    assert runner.main(["--only", "cnn", "--torch-channels-last"]) == 0
    jax_cmd, torch_cmd = commands
    assert "--torch-channels-last" not in jax_cmd and "--torch-channels-last" in torch_cmd
    table = capsys.readouterr().out
    assert "| leptonlab samples/s | naive JAX | PyTorch eager, channels-last | vs" in table
    assert "| cnn | 128 | 100 | 80 | 50 | 1.25x | 2.00x |" in table
    assert "| PyTorch eager, channels-last |" in format_target_table(
        [], {"torch_layout": "channels-last"}
    )
    assert "| PyTorch eager |" in format_target_table([], {"torch_layout": "default"})


def test_channels_last_changes_pytorchs_memory_layout_not_its_numbers():
    torch = pytest.importorskip("torch")
    from benchmarks._cases import _torch_resnet, channels_last

    torch.manual_seed(0)
    model, _ = _torch_resnet(width=8, stages=(1, 1), stem_stride=1)
    x, labels = torch.randn(4, 3, 16, 16), torch.arange(4)  # [N, C, H, W], [N]
    want = model(x)
    model, x_cl, same = channels_last(model, x, labels)
    assert x_cl.is_contiguous(memory_format=torch.channels_last) and not x_cl.is_contiguous()
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last) and same is labels
    assert x_cl[torch.tensor([2, 0])].is_contiguous(
        memory_format=torch.channels_last
    )  # a batch keeps it
    torch.testing.assert_close(model(x_cl), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("zero_init", [True, False])
def test_pytorch_resnet_twin_starts_like_leptonlabs(zero_init):
    """Same parameter count and the same batch-norm scales starting at 0 (each block's last with
    ``zero_init``): a time-to-target comparison must not hinge on a different initialisation."""
    torch = pytest.importorskip("torch")
    import jax
    from flax import nnx

    from benchmarks._cases import _torch_resnet
    from leptonlab.models import ResNet

    twin, _ = _torch_resnet(width=8, stages=(2, 1), stem_stride=1, zero_init=zero_init)
    ours = ResNet(10, width=8, stages=(2, 1), zero_init=zero_init, rngs=nnx.Rngs(0))
    params = nnx.state(ours, nnx.Param)
    assert sum(p.size for p in jax.tree.leaves(params)) == sum(p.numel() for p in twin.parameters())

    twin_scales = [m.weight for m in twin.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    our_scales = [m.scale[...] for _, m in nnx.iter_modules(ours) if isinstance(m, nnx.BatchNorm)]
    assert len(twin_scales) == len(our_scales) == 8  # stem, 2 per block, 1 projection
    twin_zero = sorted(bool((s == 0).all()) for s in twin_scales)
    our_zero = sorted(bool((s == 0).all()) for s in our_scales)
    assert twin_zero == our_zero and sum(our_zero) == (3 if zero_init else 0)


def test_compute_dtype_reaches_both_children_and_names_itself_in_the_table(monkeypatch, capsys):
    runner, commands = _fake_cnn_children(monkeypatch)
    assert runner.main(["--only", "cnn", "--compute-dtype", "bfloat16"]) == 0
    assert [cmd[cmd.index("--compute-dtype") + 1] for cmd in commands] == ["bfloat16"] * 2
    assert "compute: leptonlab bfloat16 (float32 master weights) | PyTorch bfloat16 autocast" in (
        capsys.readouterr().out
    )
    commands.clear()
    assert runner.main(["--only", "cnn"]) == 0  # the default says nothing and passes nothing
    assert all("--compute-dtype" not in cmd for cmd in commands)
    assert "compute:" not in capsys.readouterr().out


def test_bf16_cases_train_leptonlab_in_bf16_and_pytorch_under_autocast():
    from benchmarks.__main__ import case_in_dtype, torch_bf16
    from benchmarks._run import _config, run_case

    assert _config(case_in_dtype("resnet", True, "bfloat16")).compute_dtype == "bfloat16"
    assert _config(case_in_dtype("resnet", True, "float32")).compute_dtype == "float32"
    mf = case_in_dtype("mf", True, "bfloat16")
    assert mf.compute_dtype == "float32" and not torch_bf16(mf, "bfloat16")  # fit_mf: no bf16 path
    assert torch_bf16(case_in_dtype("resnet", True, "bfloat16"), "bfloat16")
    assert not torch_bf16(case_in_dtype("cnn-bf16", True, "float32"), "float32")  # PyTorch float32
    pytest.importorskip("torch")
    row = run_case(case_in_dtype("mlp", True, "bfloat16"), 1, "torch", torch_bf16=True)
    assert row["pytorch"]["compute_dtype"] == "bfloat16 autocast"
    assert row["pytorch"]["samples_per_s"] > 0
    row = run_case(case_in_dtype("mlp", True, "float32"), 1, "torch")
    assert row["pytorch"]["compute_dtype"] == "float32"
