"""leptonlab.scale: data parallel equals one device, on 1, 4 simulated devices and 2 processes."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

from leptonlab import checks, plot, scale
from leptonlab.checks import CheckFailed
from leptonlab.train import TrainConfig, fit

TASK = scale.DemoTask(examples=256, batch_size=32, epochs=2)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


@pytest.fixture(scope="module")
def one_device():
    """The demo trained on a one-device mesh in this process: (flat params, history)."""
    state, history = scale.run_demo(TASK, scale.make_mesh(1))
    return scale.flat_params(state), history


def test_one_device_equals_fit(one_device):
    params, history = one_device
    state, fit_history = fit(scale.demo_model(TASK), scale.demo_data(TASK), scale.demo_config(TASK))
    assert _max_diff(params, scale.flat_params(state)) < 1e-6
    assert history["train_loss"] == pytest.approx(fit_history["train_loss"], rel=1e-6)
    assert history["train_accuracy"][-1] > 0.5  # 4 classes: chance is 0.25


def test_shardings_on_one_device():
    mesh = scale.make_mesh()
    assert mesh.axis_names == ("data",) and mesh.size == len(jax.devices())
    x = scale.shard_batch(np.arange(8.0).reshape(4, 2), mesh)
    assert x.sharding == scale.batch_sharding(mesh) and x.shape == (4, 2)
    table = scale.shard_table(x)
    assert table == [
        {"device": f"{jax.devices()[0].platform}:0", "index": ((0, 4), (0, 2)), "shape": (4, 2)}
    ]
    assert scale.local_rows(8, mesh) == slice(0, 8)
    key = scale.replicate(jax.random.key(3), mesh)
    assert jnp.array_equal(jax.random.key_data(key), jax.random.key_data(jax.random.key(3)))


SIMULATED = textwrap.dedent("""
    import json, os
    import jax, numpy as np
    from leptonlab import scale
    from leptonlab.train import fit
    task = scale.DemoTask(**json.loads(os.environ["TASK"]))
    state, _ = fit(scale.demo_model(task), scale.demo_data(task), scale.demo_config(task))
    ref = scale.flat_params(state)
    out = {"devices": len(jax.devices()), "diff": {}}
    for k in (1, 2, 4):
        mesh = scale.make_mesh(k)
        state, history = scale.run_demo(task, mesh)
        got = scale.flat_params(state)
        out["diff"][k] = max(float(np.abs(got[n] - ref[n]).max()) for n in ref)
        out.setdefault("loss", {})[k] = history["train_loss"].tolist()
        kernel = state.params["layers"][0]["kernel"][...]
        out.setdefault("param_shards", {})[k] = len({s.device.id for s in kernel.addressable_shards})
        out.setdefault("param_replicated", {})[k] = bool(kernel.sharding.is_fully_replicated)
    x = scale.shard_batch(np.zeros((8, 3), np.float32), scale.make_mesh(4))
    out["batch_table"] = [[list(map(list, r["index"])), r["device"]] for r in scale.shard_table(x)]
    # fit with a mesh: the batch's rows are split over the devices, whose gradients are all-reduced
    from leptonlab.train import core, classification_loss
    mesh = scale.make_mesh(4)
    st = scale.init_state(scale.demo_model(task), scale.demo_config(task), 1, mesh)
    data = scale.replicate(scale.demo_data(task), mesh)
    totals = scale.replicate({"loss": np.zeros((), np.float32), "accuracy": np.zeros((), np.float32)}, mesh)
    idx = scale.replicate(np.arange(32, dtype=np.int32), mesh)
    hlo = core._train_on_indices.lower(st, totals, data, idx, loss_fn=classification_loss,
                                       mesh=mesh).compile().as_text()
    out["all_reduce"] = "all-reduce" in hlo
    # early stopping and validation with a mesh return fit's best state
    x, y = scale.demo_data(task)
    config = scale.demo_config(task).__class__(**{**scale.demo_config(task).__dict__, "epochs": 4,
                                                  "early_stopping": 1})
    ref_state, ref_history = fit(scale.demo_model(task), (x[:192], y[:192]), config, val_data=(x[192:], y[192:]))
    dp_state, dp_history = scale.data_parallel_fit(scale.demo_model(task), (x[:192], y[:192]), config, mesh=mesh,
                                                   val_data=(x[192:], y[192:]))
    ref, got = scale.flat_params(ref_state), scale.flat_params(dp_state)
    out["early_stopping_diff"] = max(float(np.abs(got[n] - ref[n]).max()) for n in ref)
    out["val_loss"] = [dp_history["val_loss"].tolist(), ref_history["val_loss"].tolist()]
    try:
        scale.run_demo(scale.DemoTask(examples=64, batch_size=30), scale.make_mesh(4))
    except ValueError as err:
        out["error"] = str(err)
    print("RESULT" + json.dumps(out))
""")


def test_data_parallel_on_four_simulated_devices_equals_one():
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
        TASK=json.dumps({"examples": 256, "batch_size": 32, "epochs": 2}),
    )
    done = subprocess.run(
        [sys.executable, "-c", SIMULATED], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT", 1)[1])
    assert out["devices"] == 4
    assert all(d < 1e-5 for d in out["diff"].values()), out["diff"]  # 1, 2, 4 devices == fit on one
    assert out["diff"]["1"] < 1e-7
    assert np.allclose(out["loss"]["4"], out["loss"]["1"], rtol=1e-5)
    assert out["param_shards"] == {
        "1": 1,
        "2": 2,
        "4": 4,
    }  # a copy of the parameters on every device
    assert all(out["param_replicated"].values())
    assert out["batch_table"] == [
        [[[0, 2], [0, 3]], "cpu:0"],
        [[[2, 4], [0, 3]], "cpu:1"],
        [[[4, 6], [0, 3]], "cpu:2"],
        [[[6, 8], [0, 3]], "cpu:3"],
    ]
    assert "multiple of the 4 devices" in out["error"]
    assert out[
        "all_reduce"
    ]  # the step of fit(mesh=...) is partitioned by rows, not run 4 times whole
    assert out["early_stopping_diff"] < 1e-5
    assert np.allclose(*out["val_loss"], rtol=1e-5)


def test_two_processes_with_jax_distributed_equal_one(one_device):
    results = scale.launch_local(2, TASK, timeout=240)
    assert [r.process_id for r in results] == [0, 1]
    assert all(
        r.process_count == 2 and r.global_devices == 2 and r.local_devices == 1 for r in results
    )
    params, history = one_device
    for r in results:
        assert _max_diff(r.params, params) < 1e-5
        assert r.history[-1]["train_loss"] == pytest.approx(history["train_loss"][-1], rel=1e-5)
    assert _max_diff(results[0].params, results[1].params) == 0.0  # replicas agree exactly


def test_launch_local_reports_a_failing_process():
    with pytest.raises(RuntimeError, match="failed or ran past"):
        scale.launch_local(2, TASK, timeout=0.5)  # far too short to start: both are killed


def test_scaling_curve_on_one_device():
    x, y = scale.demo_data(TASK)
    points = scale.scaling_curve(
        lambda: scale.demo_model(TASK),
        (x[:32], y[:32]),
        [1],
        config=scale.demo_config(TASK),
        repeats=2,
    )
    assert points[0].devices == 1 and points[0].seconds > 0
    assert points[0].examples_per_second == pytest.approx(32 / points[0].seconds)


def test_bad_inputs():
    mesh = scale.make_mesh(1)
    with pytest.raises(ValueError, match="num_devices"):
        scale.make_mesh(len(jax.devices()) + 1)
    with pytest.raises(TypeError, match="jax.Device"):
        scale.make_mesh(devices=["cpu"])
    with pytest.raises(TypeError, match="Mesh"):
        scale.batch_sharding("data")
    with pytest.raises(ValueError, match="one-axis mesh"):
        scale.replicated(jax.make_mesh((1, 1), ("a", "b")))
    with pytest.raises(ValueError, match="multiple"):
        scale.local_rows(0.5, mesh)
    with pytest.raises(TypeError, match="jax.Array"):
        scale.shard_table(np.zeros(3))
    with pytest.raises(ValueError, match="cannot be split"):
        scale.shard_batch(np.float32(1.0), mesh)
    with pytest.raises(ValueError, match="early_stopping watches val_loss"):  # fit's own check
        scale.data_parallel_fit(
            scale.demo_model(TASK), scale.demo_data(TASK), TrainConfig(early_stopping=2), mesh=mesh
        )

    with pytest.raises(TypeError, match="TrainConfig"):
        scale.data_parallel_fit(
            scale.demo_model(TASK), scale.demo_data(TASK), {"epochs": 1}, mesh=mesh
        )
    with pytest.raises(TypeError, match="nnx.Module"):
        scale.init_state("model", TrainConfig(), 1, mesh)
    with pytest.raises(ValueError, match="device_counts"):
        scale.scaling_curve(lambda: scale.demo_model(TASK), scale.demo_data(TASK), [])
    with pytest.raises(ValueError, match="DemoTask.hidden"):
        scale.DemoTask(hidden=0)
    with pytest.raises(TypeError, match="DemoTask"):
        scale.run_demo({"examples": 3}, mesh)
    with pytest.raises(ValueError, match="num_processes"):
        scale.launch_local(0)
    with pytest.raises(ValueError, match="multiple of the"):
        scale.launch_local(3, scale.DemoTask(batch_size=64))
    with pytest.raises(ValueError, match="timeout"):
        scale.launch_local(2, timeout=0)


# ---------------------------------------------------------------- checks


def _dp_grad(loss_fn, params, x, y, n_devices):
    xs, ys = x.reshape(n_devices, -1, *x.shape[1:]), y.reshape(n_devices, -1)
    grads = [jax.grad(loss_fn)(params, xs[i], ys[i]) for i in range(n_devices)]
    return jax.tree.map(lambda *g: sum(g) / n_devices, *grads)


def test_check_data_parallel_grad(capsys):
    checks.data_parallel_grad(_dp_grad)
    assert "✓ data_parallel_grad" in capsys.readouterr().out

    def stub(loss_fn, params, x, y, n_devices):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.data_parallel_grad(stub)
    with pytest.raises(CheckFailed, match="times too large"):  # summed, not averaged
        checks.data_parallel_grad(
            lambda f, p, x, y, n: jax.tree.map(lambda g: g * n, _dp_grad(f, p, x, y, n))
        )
    with pytest.raises(CheckFailed, match="batches of"):  # the full batch, not split
        checks.data_parallel_grad(lambda f, p, x, y, n: jax.grad(f)(p, x, y))
    with pytest.raises(CheckFailed, match="gradient"):  # only the first shard
        checks.data_parallel_grad(
            lambda f, p, x, y, n: jax.grad(f)(p, x[: len(x) // n], y[: len(y) // n])
        )


def _rows(global_batch, process_index, process_count):
    if global_batch % process_count:
        raise ValueError("the batch does not split evenly")
    per = global_batch // process_count
    return process_index * per, (process_index + 1) * per


def test_check_local_batch_rows(capsys):
    checks.local_batch_rows(_rows)
    assert "✓ local_batch_rows" in capsys.readouterr().out

    def stub(global_batch, process_index, process_count):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.local_batch_rows(stub)
    with pytest.raises(CheckFailed, match="whole global batch"):
        checks.local_batch_rows(lambda b, p, n: (p * b, (p + 1) * b))
    with pytest.raises(CheckFailed, match="exclusive"):
        checks.local_batch_rows(lambda b, p, n: (p * (b // n), (p + 1) * (b // n) - 1))
    with pytest.raises(CheckFailed, match="raise ValueError"):
        checks.local_batch_rows(lambda b, p, n: (p * (b // n), (p + 1) * (b // n)))


# ---------------------------------------------------------------- plots


def test_plots():
    fig = plot.scaling_curve([1, 2, 4], [0.02, 0.021, 0.025])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    table = [
        {"device": f"cpu:{i}", "index": ((2 * i, 2 * i + 2), (0, 3)), "shape": (2, 3)}
        for i in range(4)
    ]
    assert isinstance(plot.sharding_map(table, (8, 3)), Figure)
    replicated = [{"device": f"cpu:{i}", "index": ((0, 8),), "shape": (8,)} for i in range(2)]
    assert isinstance(plot.sharding_map(replicated, (8,)), Figure)
    with pytest.raises(ValueError, match="device counts must be >= 1"):
        plot.scaling_curve([0, 1], [0.1, 0.1])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        plot.sharding_map(table, (2, 2, 2))
