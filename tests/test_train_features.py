"""Training features of Part II: schedules, weight decay, early stopping, checkpoint and resume,
bf16 compute, augmentation, dropout and batch norm."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from leptonlab import checkpoint, train
from leptonlab.models import CNN, MLP

QUIET = dict(progress=False)


def _blobs(n=256, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    y = jax.random.bernoulli(k1, 0.5, (n,)).astype(jnp.int32)
    return jax.random.normal(k2, (n, 2)) + 2.0 * (2 * y[:, None] - 1), y  # x [n, 2], y [n]


def _leaves_equal(a, b):
    return all(bool(jnp.array_equal(x, y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("schedule", train.SCHEDULES)
def test_schedules_peak_at_learning_rate_and_respect_warmup(schedule):
    config = train.TrainConfig(epochs=10, learning_rate=0.1, schedule=schedule, warmup_epochs=2)
    lr = train.learning_rate_schedule(config, steps_per_epoch=10)
    values = np.array([lr(i) for i in range(100)])
    assert values.max() == pytest.approx(0.1, rel=1e-3)
    if schedule == "cosine":
        assert values[0] == 0.0 and values[20] == pytest.approx(0.1, rel=1e-3)
        assert values[-1] < 0.01
    if schedule == "constant":
        assert np.all(values == pytest.approx(0.1))


def test_weight_decay_shrinks_weights():
    x, y = _blobs()
    norms = {}
    for wd in (0.0, 0.1):
        config = train.TrainConfig(
            epochs=3, batch_size=32, optimizer="sgd", learning_rate=0.05, weight_decay=wd, **QUIET
        )
        state, _ = train.fit(MLP(2, [16], 2, rngs=nnx.Rngs(0)), (x, y), config)
        norms[wd] = float(optax.tree.norm(state.params))
    assert norms[0.1] < norms[0.0]


def test_early_stopping_returns_the_best_epoch():
    x, y = _blobs(64)
    x_val, y_val = (
        x[:32],
        1 - y[:32],
    )  # validation labels flipped: val_loss rises as training succeeds
    config = train.TrainConfig(
        epochs=30, batch_size=16, learning_rate=0.05, early_stopping=2, **QUIET
    )
    state, history = train.fit(
        MLP(2, [8], 2, rngs=nnx.Rngs(0)), (x[32:], y[32:]), config, val_data=(x_val, y_val)
    )
    assert len(history) < 30
    best = int(np.argmin(history["val_loss"]))
    assert len(history) == best + 1 + 2
    assert train.evaluate(state, (x_val, y_val))["loss"] == pytest.approx(
        history["val_loss"][best], rel=1e-5
    )


def test_early_stopping_needs_validation_data():
    x, y = _blobs(32)
    with pytest.raises(ValueError, match="val_data"):
        train.fit(
            MLP(2, [4], 2, rngs=nnx.Rngs(0)), (x, y), train.TrainConfig(early_stopping=2, **QUIET)
        )


def _cnn():
    return CNN(
        1, 3, image_size=8, channels=(4,), dense=8, dropout=0.3, batch_norm=True, rngs=nnx.Rngs(0)
    )


def _images(n=48):
    x = jax.random.uniform(jax.random.key(1), (n, 8, 8))  # [n, 8, 8]
    y = (x.mean(axis=(1, 2)) * 30).astype(jnp.int32) % 3  # [n]
    return x, y


def test_resume_reproduces_the_uninterrupted_run(tmp_path, monkeypatch):
    """Interrupt after epoch 2 of 4, resume: the same parameters, bit for bit (dropout and batch norm included)."""
    x, y = _images()
    config = train.TrainConfig(
        epochs=4, batch_size=16, learning_rate=1e-2, schedule="cosine", **QUIET
    )
    reference, ref_history = train.fit(_cnn(), (x, y), config)

    real_save = checkpoint.save_checkpoint

    def save_then_interrupt(directory, epoch, state, record):
        path = real_save(directory, epoch, state, record)
        if epoch == 2:
            raise KeyboardInterrupt("simulated interruption")
        return path

    ckpt = dataclasses.replace(config, checkpoint_dir=str(tmp_path / "run"))
    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train.fit(_cnn(), (x, y), ckpt)
    monkeypatch.setattr(checkpoint, "save_checkpoint", real_save)
    assert checkpoint.latest_epoch(tmp_path / "run") == 2

    resumed, history = train.fit(_cnn(), (x, y), ckpt)
    assert len(history) == 4 and int(resumed.step) == int(reference.step)
    assert _leaves_equal(resumed.params, reference.params)
    assert _leaves_equal(resumed.rest, reference.rest)
    np.testing.assert_array_equal(history["train_loss"], ref_history["train_loss"])


def test_checkpoint_of_another_model_is_refused(tmp_path):
    x, y = _blobs(32)
    config = train.TrainConfig(epochs=1, batch_size=16, checkpoint_dir=str(tmp_path), **QUIET)
    train.fit(MLP(2, [4], 2, rngs=nnx.Rngs(0)), (x, y), config)
    with pytest.raises(checkpoint.CheckpointError, match="another model"):
        train.fit(MLP(2, [5], 2, rngs=nnx.Rngs(0)), (x, y), dataclasses.replace(config, epochs=2))


def test_restore_without_checkpoint_is_a_clear_error(tmp_path):
    state = train.TrainState.create(
        MLP(2, [4], 2, rngs=nnx.Rngs(0)), optax.sgd(0.1), key=jax.random.key(0)
    )
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint"):
        checkpoint.restore_checkpoint(tmp_path / "empty", state)
    with pytest.raises(ValueError, match="epoch"):
        checkpoint.save_checkpoint(tmp_path, -1, state, {})


def test_bfloat16_compute_keeps_float32_weights_and_learns():
    x, y = _blobs(256)
    config = train.TrainConfig(
        epochs=3, batch_size=32, learning_rate=1e-2, compute_dtype="bfloat16", **QUIET
    )
    state, history = train.fit(MLP(2, [16], 2, rngs=nnx.Rngs(0)), (x, y), config)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(state.params))
    assert history["train_accuracy"][-1] > 0.9
    assert train.predict(state, x[:4]).dtype == jnp.float32


def test_augmentation_runs_inside_the_step_and_changes_training():
    x, y = _blobs(128)
    config = train.TrainConfig(epochs=1, batch_size=32, **QUIET)
    plain, _ = train.fit(MLP(2, [8], 2, rngs=nnx.Rngs(0)), (x, y), config)
    noisy, _ = train.fit(
        MLP(2, [8], 2, rngs=nnx.Rngs(0)),
        (x, y),
        config,
        augment=lambda xb, key: xb + 0.1 * jax.random.normal(key, xb.shape),
    )
    assert not _leaves_equal(plain.params, noisy.params)


def test_dropout_is_deterministic_given_the_seed_and_off_in_evaluation():
    x, y = _images()
    config = train.TrainConfig(epochs=1, batch_size=16, **QUIET)
    a, _ = train.fit(_cnn(), (x, y), config)
    b, _ = train.fit(_cnn(), (x, y), config)
    assert _leaves_equal(a.params, b.params)
    np.testing.assert_array_equal(
        train.predict(a, x), train.predict(a, x)
    )  # eval mode: no dropout noise


def test_batch_norm_statistics_are_updated():
    x, y = _images()
    state, _ = train.fit(_cnn(), (x, y), train.TrainConfig(epochs=1, batch_size=16, **QUIET))
    fresh = nnx.state(_cnn(), nnx.BatchStat)
    assert not _leaves_equal(state.rest, fresh)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("schedule", "linear!", "unknown schedule"),
        ("warmup_epochs", 10, "warmup_epochs"),
        ("early_stopping", -1, "early_stopping"),
        ("compute_dtype", "float16", "compute_dtype"),
    ],
)
def test_new_config_fields_reject_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(epochs=10, **{field: value})


def test_resumed_early_stopping_returns_the_same_best_state(tmp_path, monkeypatch):
    """The best epoch's state survives an interruption: resumed and uninterrupted runs agree."""
    kx, ky, kvx, kvy = jax.random.split(jax.random.key(0), 4)
    x, y = (
        jax.random.normal(kx, (128, 8)),
        jax.random.randint(ky, (128,), 0, 2),
    )  # random labels: overfits
    xv, yv = jax.random.normal(kvx, (128, 8)), jax.random.randint(kvy, (128,), 0, 2)
    config = train.TrainConfig(
        epochs=20, batch_size=32, learning_rate=1e-2, early_stopping=3, **QUIET
    )
    reference, history = train.fit(
        MLP(8, [32], 2, rngs=nnx.Rngs(0)), (x, y), config, val_data=(xv, yv)
    )
    real_save = checkpoint.save_checkpoint

    def save_then_interrupt(directory, epoch, state, record):
        path = real_save(directory, epoch, state, record)
        if epoch == len(history) - 1 and "best" not in str(directory):
            raise KeyboardInterrupt("simulated interruption")
        return path

    ckpt = dataclasses.replace(config, checkpoint_dir=str(tmp_path / "run"))
    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train.fit(MLP(8, [32], 2, rngs=nnx.Rngs(0)), (x, y), ckpt, val_data=(xv, yv))
    monkeypatch.setattr(checkpoint, "save_checkpoint", real_save)
    resumed, resumed_history = train.fit(
        MLP(8, [32], 2, rngs=nnx.Rngs(0)), (x, y), ckpt, val_data=(xv, yv)
    )
    assert len(resumed_history) == len(history)
    assert _leaves_equal(resumed.params, reference.params)
