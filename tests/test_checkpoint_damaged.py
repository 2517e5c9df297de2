"""Damaged checkpoints (issue 23): reported as damaged, naming the step folder and what to delete, told apart
from a checkpoint of another model or optimizer, and without "Event loop is closed" noise on stderr."""

import asyncio
import dataclasses
import gc
import shutil
import sys
import time

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx

from leptonlab import checkpoint, train
from leptonlab.models import CNN, MLP


def _state(model=None, optimizer=None):
    model = model or CNN(1, 3, image_size=8, channels=(4,), dense=8, rngs=nnx.Rngs(0))
    return train.TrainState.create(model, optimizer or optax.adam(1e-2), key=jax.random.key(0))


@pytest.fixture
def run(tmp_path):
    """tmp_path/run holding the checkpoints of epochs 1 and 2 of a small CNN with Adam; returns (folder, state)."""
    state = _state()
    folder = tmp_path / "run"
    checkpoint.save_checkpoint(folder, 1, state, {"history": [{"epoch": 1}]})
    checkpoint.save_checkpoint(folder, 2, state, {"history": [{"epoch": 1}, {"epoch": 2}]})
    return folder, state


def _largest_data_file(step_dir):
    return max(
        (p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"),
        key=lambda p: p.stat().st_size,
    )


def _damage(step_dir, how):
    if how == "truncated array file":
        data = _largest_data_file(step_dir)
        data.write_bytes(data.read_bytes()[:100])
    elif how == "overwritten array file":
        data = _largest_data_file(step_dir)
        data.write_bytes(b"\0" * data.stat().st_size)
    elif how == "missing array file":
        _largest_data_file(step_dir).unlink()
    elif how == "damaged metadata":
        (step_dir / "state" / "_METADATA").write_text('{"tree_metadata": {')
    elif how == "damaged record":
        (step_dir / "record" / "metadata").write_text("{epoch: 2")
    elif how == "record of another epoch":
        (step_dir / "record" / "metadata").write_text('{"epoch": 7}')
    else:
        raise AssertionError(how)


DAMAGE = [
    "truncated array file",
    "overwritten array file",
    "missing array file",
    "damaged metadata",
    "damaged record",
    "record of another epoch",
]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_checkpoint_is_reported_as_damaged(run, how):
    folder, state = run
    _damage(folder / "2", how)
    with pytest.raises(checkpoint.CheckpointError) as caught:
        checkpoint.restore_checkpoint(folder, state)
    message = str(caught.value)
    assert f"the checkpoint of epoch 2 in {folder} is damaged: its " in message
    assert "another model" not in message and "different configuration" not in message
    assert f"delete the folder {folder / '2'} to resume from the checkpoint of epoch 1" in message
    assert f"delete {folder} to start afresh" in message
    assert "tensorstore_spec" not in message and len(message) < 800  # one readable paragraph
    # The previous checkpoint is intact and can still be restored by epoch.
    restored, record = checkpoint.restore_checkpoint(folder, state, epoch=1)
    assert record["epoch"] == 1 and jax.tree.all(
        jax.tree.map(jnp.array_equal, restored.params, state.params)
    )


def test_each_part_that_fails_is_named(run):
    folder, state = run
    _damage(folder / "2", "damaged metadata")
    with pytest.raises(
        checkpoint.CheckpointError, match=r"its metadata \(the arrays' names and shapes\) cannot be"
    ):
        checkpoint.restore_checkpoint(folder, state)
    _damage(folder / "1", "damaged record")
    with pytest.raises(
        checkpoint.CheckpointError, match=r"epoch 1 .* its record \(epoch and history\) cannot be"
    ):
        checkpoint.restore_checkpoint(folder, state, epoch=1)
    shutil.rmtree(folder / "1")
    _damage(folder / "2", "truncated array file")
    (folder / "2" / "state" / "_METADATA").unlink()
    with pytest.raises(checkpoint.CheckpointError, match="is damaged") as caught:
        checkpoint.restore_checkpoint(folder, state)
    assert "resume from" not in str(caught.value)  # no earlier checkpoint to fall back to
    assert f"delete {folder} to start afresh" in str(caught.value)


def test_fit_reports_the_damage_and_resumes_once_the_step_is_deleted(tmp_path):
    k1, k2 = jax.random.split(jax.random.key(0))
    y = jax.random.bernoulli(k1, 0.5, (32,)).astype(jnp.int32)
    x = jax.random.normal(k2, (32, 2)) + 2.0 * (2 * y[:, None] - 1)  # [32, 2]
    config = train.TrainConfig(
        epochs=2, batch_size=16, checkpoint_dir=str(tmp_path / "run"), progress=False
    )
    train.fit(MLP(2, [4], 2, rngs=nnx.Rngs(0)), (x, y), config)
    data = next((tmp_path / "run" / "2" / "state" / "d").iterdir())
    data.write_bytes(data.read_bytes()[:10])
    longer = dataclasses.replace(config, epochs=3)
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"epoch 2 in .*run is damaged: its .*delete the folder "
        r".*run/2 to resume from the checkpoint of epoch 1",
    ):
        train.fit(MLP(2, [4], 2, rngs=nnx.Rngs(0)), (x, y), longer)
    shutil.rmtree(tmp_path / "run" / "2")  # what the message says to do
    _, history = train.fit(MLP(2, [4], 2, rngs=nnx.Rngs(0)), (x, y), longer)
    assert [row["epoch"] for row in history.rows] == [1, 2, 3]
    assert checkpoint.latest_epoch(tmp_path / "run") == 3


def test_another_model_or_optimizer_is_still_a_configuration_mismatch(run):
    folder, _ = run
    wider = _state(CNN(1, 3, image_size=8, channels=(5,), dense=8, rngs=nnx.Rngs(0)))
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"epoch 2 in .* was written by another model or optimizer "
        r"\(state array \d+ has shape \[.*\] there, \[.*\] here\)",
    ):
        checkpoint.restore_checkpoint(folder, wider)
    sgd = _state(optimizer=optax.sgd(0.1))  # no Adam moments: fewer arrays
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"another model or optimizer \(it holds \d+ arrays, this "
        r"model and optimizer have \d+\)",
    ) as caught:
        checkpoint.restore_checkpoint(folder, sgd)
    assert "damaged" not in str(caught.value)


def _closed_loop_report():
    """What tensorstore reports when a read finishes after the asyncio loop awaiting it was closed."""
    import tensorstore as ts

    promise, future = ts.Promise.new()
    loop = asyncio.new_event_loop()

    async def one_read_fails():
        asyncio.ensure_future(_await(future))
        await asyncio.sleep(0.01)
        raise ValueError("one read failed")

    with pytest.raises(ValueError):
        loop.run_until_complete(one_read_fails())
    loop.close()
    promise.set_result(1)  # the other read finishes: its callback finds the loop closed
    time.sleep(0.05)


class _Boom:
    def __del__(self):
        raise RuntimeError("something else")


def _other_report():
    """An unrelated unraisable report: an exception in __del__."""
    _Boom()
    gc.collect()


async def _await(future):
    return await future


def test_stderr_has_no_event_loop_is_closed(run, monkeypatch, capfd):
    """Python's default hook (as outside pytest) prints unraisable reports on stderr; none may come out."""
    folder, state = run
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    _damage(folder / "2", "overwritten array file")
    for _ in range(3):
        with pytest.raises(checkpoint.CheckpointError, match="is damaged"):
            checkpoint.restore_checkpoint(folder, state)
    time.sleep(0.2)  # late reads finish
    gc.collect()
    _closed_loop_report()  # the mechanism itself, deterministically
    err = capfd.readouterr().err
    assert "Event loop is closed" not in err, err[:2000]
    _other_report()  # every other unraisable report still reaches the hook that was there before
    assert "something else" in capfd.readouterr().err


def test_the_filter_is_installed_once_and_passes_other_reports_on(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    checkpoint._quiet_closed_loop_reports()
    hook = sys.unraisablehook
    checkpoint._quiet_closed_loop_reports()
    assert sys.unraisablehook is hook  # not wrapped twice
    _closed_loop_report()
    assert seen == []
    _other_report()
    assert [str(report.exc_value) for report in seen] == ["something else"]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda s, d: checkpoint.restore_checkpoint(3, s),
            TypeError,
            "directory must be a folder path",
        ),
        (
            lambda s, d: checkpoint.restore_checkpoint(d, s, epoch=-1),
            ValueError,
            "epoch must be None",
        ),
        (
            lambda s, d: checkpoint.restore_checkpoint(d, s, epoch="2"),
            ValueError,
            "epoch must be None",
        ),
        (
            lambda s, d: checkpoint.restore_checkpoint(d, s, epoch=5),
            checkpoint.CheckpointError,
            r"no checkpoint of epoch 5 in .*; it holds epochs \[1, 2\]",
        ),
        (lambda s, d: checkpoint.save_checkpoint(d, 3, s, [1]), TypeError, "record must be a dict"),
        (
            lambda s, d: checkpoint.save_checkpoint(d, True, s, {}),
            ValueError,
            "epoch must be an int",
        ),
        (lambda s, d: checkpoint.latest_epoch(None), TypeError, "directory must be a folder path"),
    ],
)
def test_bad_arguments(run, call, error, message):
    folder, state = run
    with pytest.raises(error, match=message):
        call(state, folder)
