"""Notebook 16's training additions (label smoothing, TTA, time to accuracy) and its checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from leptonlab import checks, models, train
from leptonlab.checks import CheckFailed


class Linear(nnx.Module):
    """[B, H, W, C] -> flatten -> dense: not invariant to mirroring."""

    def __init__(self, n_in, n_out, *, rngs):
        self.dense = nnx.Linear(n_in, n_out, rngs=rngs)

    def __call__(self, x, *, rngs=None):
        return self.dense(x.reshape(x.shape[0], -1))


def linear_state(shape=(3, 4, 2), classes=5):
    model = Linear(int(np.prod(shape)), classes, rngs=nnx.Rngs(0))
    return train.TrainState.create(model, optax.sgd(0.1), key=jax.random.key(0))


# ---------------------------------------------------------------------------- label smoothing


def test_smooth_labels_values():
    targets = train.smooth_labels(jnp.array([2, 0]), 4, 0.2)
    np.testing.assert_allclose(
        targets, [[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]], rtol=1e-6
    )
    np.testing.assert_allclose(targets.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(train.smooth_labels(jnp.array([1]), 3, 0.0), [[0.0, 1.0, 0.0]])


def test_smoothed_loss_against_hand_computation_and_plain_loss():
    state = linear_state()
    model = state.model()
    x = jax.random.normal(jax.random.key(1), (6, 3, 4, 2))
    y = jnp.array([0, 1, 2, 3, 4, 0])
    logp = jax.nn.log_softmax(model(x), axis=-1)  # [6, 5]
    eps = 0.1
    want = -((1 - eps) * logp[jnp.arange(6), y] + eps / 5 * logp.sum(axis=-1))  # [6]
    loss, metrics = train.SmoothedClassificationLoss(eps)(model, (x, y), jax.random.key(0))
    np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
    np.testing.assert_allclose(loss, want.mean(), rtol=1e-5)
    plain_loss, plain = train.classification_loss(model, (x, y), jax.random.key(0))
    np.testing.assert_allclose(metrics["nll"], plain["loss"], rtol=1e-6)
    np.testing.assert_array_equal(metrics["accuracy"], plain["accuracy"])
    zero, _ = train.SmoothedClassificationLoss(0.0)(model, (x, y), jax.random.key(0))
    np.testing.assert_allclose(zero, plain_loss, rtol=1e-6)


def test_smoothed_loss_is_hashable_and_trains():
    assert hash(train.SmoothedClassificationLoss(0.1)) == hash(
        train.SmoothedClassificationLoss(0.1)
    )
    x = jax.random.normal(jax.random.key(0), (64, 2, 2, 1))
    y = (x.reshape(64, -1).sum(axis=-1) > 0).astype(jnp.int32)
    state, history = train.fit(
        Linear(4, 2, rngs=nnx.Rngs(0)),
        (x, y),
        train.TrainConfig(epochs=20, batch_size=16, learning_rate=0.05, progress=False),
        loss_fn=train.SmoothedClassificationLoss(0.1),
        val_data=(x, y),
    )
    assert history["val_accuracy"][-1] >= 0.9
    assert "val_nll" in history.names and history["val_loss"][-1] > history["val_nll"][-1] > 0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: train.SmoothedClassificationLoss(1.0),
            ValueError,
            r"smoothing must be a number in \[0, 1\)",
        ),
        (lambda: train.SmoothedClassificationLoss(-0.1), ValueError, "smoothing must be"),
        (
            lambda: train.smooth_labels(jnp.array([0]), 1, 0.1),
            ValueError,
            "num_classes must be an int >= 2",
        ),
        (
            lambda: train.smooth_labels(jnp.array([0]), 3, 1.5),
            ValueError,
            r"smoothing must be in \[0, 1\)",
        ),
        (lambda: train.smooth_labels(jnp.array([0.5]), 3, 0.1), TypeError, "integer class labels"),
    ],
)
def test_label_smoothing_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------- test-time augmentation


def test_predict_tta_averages_image_and_mirror():
    state = linear_state()
    x = jax.random.normal(jax.random.key(2), (7, 3, 4, 2))
    probs = train.predict_tta(state, x, batch_size=3)
    p = jax.nn.softmax(train.predict(state, x), axis=-1)
    p_mirror = jax.nn.softmax(train.predict(state, x[:, :, ::-1]), axis=-1)
    np.testing.assert_allclose(probs, (p + p_mirror) / 2, rtol=1e-5, atol=1e-7)
    assert probs.shape == (7, 5)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    # invariant to mirroring the input, unlike the plain prediction
    np.testing.assert_allclose(train.predict_tta(state, x[:, :, ::-1]), probs, rtol=1e-5, atol=1e-7)
    assert not np.allclose(p_mirror, p, atol=1e-3)
    np.testing.assert_allclose(train.predict_tta(state, x, flip=False), p, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, x, error, message",
    [
        ({}, jnp.ones((2, 12)), ValueError, r"images \[N, H, W, C\] or \[N, H, W\]"),
        ({}, jnp.ones((0, 3, 4, 2)), ValueError, "N >= 1"),
        ({"batch_size": 0}, jnp.ones((2, 3, 4, 2)), ValueError, "batch_size must be an int >= 1"),
    ],
)
def test_predict_tta_bad_input(kwargs, x, error, message):
    with pytest.raises(error, match=message):
        train.predict_tta(linear_state(), x, **kwargs)
    with pytest.raises(TypeError, match="state must be a TrainState"):
        train.predict_tta(models.MLP(2, [2], 2, rngs=nnx.Rngs(0)), jnp.ones((2, 3, 4, 2)))


# ---------------------------------------------------------------------------- time to accuracy


def history_of(rows):
    history = train.History()
    for row in rows:
        history.append(row)
    return history


def test_time_to_accuracy():
    history = history_of(
        [
            {"epoch": 1, "seconds": 10.0, "val_accuracy": 0.3},
            {"epoch": 2, "seconds": 2.0, "val_accuracy": 0.6},
            {"epoch": 3, "seconds": 2.5, "val_accuracy": 0.55},
            {"epoch": 4, "seconds": 2.0, "val_accuracy": 0.7},
        ]
    )
    np.testing.assert_allclose(train.elapsed_seconds(history), [10.0, 12.0, 14.5, 16.5])
    assert train.time_to_accuracy(history, 0.5) == 12.0
    assert train.time_to_accuracy(history, 0.6) == 12.0  # reaching counts (>=)
    assert train.time_to_accuracy(history, 0.65) == 16.5
    assert train.time_to_accuracy(history, 0.9) is None
    assert train.time_to_accuracy(history, 0.2, metric="val_accuracy") == 10.0


def test_time_to_accuracy_bad_input():
    history = history_of([{"epoch": 1, "seconds": 1.0, "val_accuracy": 0.3}])
    with pytest.raises(ValueError, match=r"target must be an accuracy in \(0, 1\]"):
        train.time_to_accuracy(history, 30)
    with pytest.raises(KeyError, match="no metric 'test_accuracy'"):
        train.time_to_accuracy(history, 0.3, metric="test_accuracy")
    with pytest.raises(ValueError, match="the history is empty"):
        train.elapsed_seconds(train.History())
    with pytest.raises(TypeError, match="must be the History returned by fit"):
        train.elapsed_seconds([1.0, 2.0])


# ---------------------------------------------------------------------------- checks of notebook 16


def ref_channel_stats(images):
    x = images.astype(np.float32) / 255
    return x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))


def ref_smooth_labels(y, num_classes, smoothing):
    return np.eye(num_classes)[y] * (1 - smoothing) + smoothing / num_classes


def ref_tta_probs(logits_fn, x):
    return (
        jax.nn.softmax(logits_fn(x), axis=-1) + jax.nn.softmax(logits_fn(x[:, :, ::-1]), axis=-1)
    ) / 2


def stub(*args):
    raise NotImplementedError()


def test_checks_pass_on_the_references(capsys):
    checks.channel_stats(ref_channel_stats)
    checks.channel_stats(
        lambda im: (im.mean(axis=(0, 1, 2)) / 255, (im / 255).std(axis=(0, 1, 2), ddof=1))
    )
    checks.smooth_labels(ref_smooth_labels)
    checks.smooth_labels(lambda y, c, e: train.smooth_labels(jnp.asarray(y), c, e))
    checks.tta_probs(ref_tta_probs)
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize("check", [checks.channel_stats, checks.smooth_labels, checks.tta_probs])
def test_checks_fail_on_a_stub(check):
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (checks.channel_stats, lambda im: (im.mean() / 255, im.std() / 255), "one per channel"),
        (
            checks.channel_stats,
            lambda im: (im.mean(axis=0) / 255, im.std(axis=0) / 255),
            "reduce over axes",
        ),
        (
            checks.channel_stats,
            lambda im: (im.mean(axis=(0, 1, 2)), im.std(axis=(0, 1, 2))),
            "0..255 scale",
        ),
        (checks.smooth_labels, lambda y, c, e: np.eye(c)[y] + e / c, "sum to more than 1"),
        (
            checks.smooth_labels,
            lambda y, c, e: np.eye(c)[y] * (1 - e) + (1 - np.eye(c)[y]) * e / (c - 1),
            "C - 1",
        ),
        (checks.smooth_labels, lambda y, c, e: np.eye(c)[y] * (1 - e), "not spread"),
        (
            checks.tta_probs,
            lambda f, x: (jax.nn.softmax(f(x), -1) + jax.nn.softmax(f(x[:, ::-1]), -1)) / 2,
            "upside down",
        ),
        (
            checks.tta_probs,
            lambda f, x: jax.nn.softmax((f(x) + f(x[:, :, ::-1])) / 2, -1),
            "averaged the logits",
        ),
        (checks.tta_probs, lambda f, x: jax.nn.softmax(f(x), -1), "mirrored images are missing"),
    ],
)
def test_checks_catch_typical_mistakes(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


def test_time_to_accuracy_on_a_real_fit():
    x = jax.random.normal(jax.random.key(0), (32, 2, 2, 1))
    y = (x.reshape(32, -1).sum(axis=-1) > 0).astype(jnp.int32)
    _, history = train.fit(
        Linear(4, 2, rngs=nnx.Rngs(0)),
        (x, y),
        train.TrainConfig(epochs=3, batch_size=8, learning_rate=0.1, progress=False),
        val_data=(x, y),
    )
    seconds = train.elapsed_seconds(history)
    assert np.all(np.diff(seconds) > 0) and len(seconds) == 3
    reached = train.time_to_accuracy(history, float(history["val_accuracy"].max()))
    assert reached is not None and math.isfinite(reached) and reached in seconds


# ---------------------------------------------------------------------------- plots of notebook 16


def test_plot_time_to_accuracy_and_channel_means():
    from matplotlib.figure import Figure

    from leptonlab import plot

    h1 = history_of(
        [
            {"epoch": 1, "seconds": 1.0, "val_accuracy": 0.3},
            {"epoch": 2, "seconds": 1.0, "val_accuracy": 0.6},
        ]
    )
    h2 = history_of([{"epoch": 1, "seconds": 3.0, "val_accuracy": 0.5}])
    fig = plot.time_to_accuracy({"a": h1, "b": h2}, target=0.5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1.0, 2.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "target 50%"]
    with pytest.raises(ValueError, match="non-empty dict"):
        plot.time_to_accuracy({})
    with pytest.raises(TypeError, match="not a leptonlab.train.History"):
        plot.time_to_accuracy({"a": [0.1]})
    with pytest.raises(ValueError, match="needs the metrics 'val_top5'"):
        plot.time_to_accuracy({"a": h1}, metric="val_top5")
    with pytest.raises(ValueError, match="target must be an accuracy"):
        plot.time_to_accuracy({"a": h1}, target=50)
    fig = plot.channel_means({"train": [0.49, 0.48, 0.45], "test": [0.5, 0.48, 0.44]})
    assert len(fig.axes[0].patches) == 6
    with pytest.raises(ValueError, match="expected one per channel"):
        plot.channel_means({"train": [0.1, 0.2]})
