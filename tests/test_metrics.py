"""Classification metrics against hand-computed values; time to accuracy from a History."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _train_helpers import Linear, history_of
from flax import nnx

from leptonlab import metrics, train

Y_TRUE = jnp.array([0, 0, 1, 1, 1, 2])
Y_PRED = jnp.array([0, 1, 1, 1, 0, 1])


def test_accuracy():
    assert float(metrics.accuracy(Y_TRUE, Y_PRED)) == pytest.approx(3 / 6)


def test_confusion_matrix_by_hand():
    want = [[1, 1, 0], [1, 2, 0], [0, 1, 0]]
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, Y_PRED, 3), want)


def test_precision_recall_f1_by_hand():
    scores = metrics.precision_recall_f1(Y_TRUE, Y_PRED, 3)
    np.testing.assert_allclose(scores.precision, [1 / 2, 2 / 4, 0.0], rtol=1e-6)
    np.testing.assert_allclose(scores.recall, [1 / 2, 2 / 3, 0.0], rtol=1e-6)
    f1_class1 = 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3)
    np.testing.assert_allclose(scores.f1, [0.5, f1_class1, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(scores.support, [2, 3, 1])


def test_perfect_predictions():
    scores = metrics.precision_recall_f1(Y_TRUE, Y_TRUE, 3)
    np.testing.assert_allclose(scores.f1, 1.0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: metrics.accuracy(Y_TRUE, Y_PRED[:3]), ValueError, "same length"),
        (lambda: metrics.accuracy(Y_TRUE, jnp.ones((6, 3))), ValueError, "same length"),
        (
            lambda: metrics.confusion_matrix(Y_TRUE, Y_PRED.astype(jnp.float32), 3),
            TypeError,
            "integers",
        ),
        (lambda: metrics.confusion_matrix(Y_TRUE, Y_PRED, 0), ValueError, "num_classes"),
        (
            lambda: metrics.accuracy(jnp.zeros(0, jnp.int32), jnp.zeros(0, jnp.int32)),
            ValueError,
            "empty",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------ time to accuracy (notebook 16)


def test_time_to_accuracy():
    history = history_of(
        [
            {"epoch": 1, "seconds": 10.0, "val_accuracy": 0.3},
            {"epoch": 2, "seconds": 2.0, "val_accuracy": 0.6},
            {"epoch": 3, "seconds": 2.5, "val_accuracy": 0.55},
            {"epoch": 4, "seconds": 2.0, "val_accuracy": 0.7},
        ]
    )
    np.testing.assert_allclose(metrics.elapsed_seconds(history), [10.0, 12.0, 14.5, 16.5])
    assert metrics.time_to_accuracy(history, 0.5) == 12.0
    assert metrics.time_to_accuracy(history, 0.6) == 12.0  # reaching counts (>=)
    assert metrics.time_to_accuracy(history, 0.65) == 16.5
    assert metrics.time_to_accuracy(history, 0.9) is None
    assert metrics.time_to_accuracy(history, 0.2, metric="val_accuracy") == 10.0


def test_time_to_accuracy_bad_input():
    history = history_of([{"epoch": 1, "seconds": 1.0, "val_accuracy": 0.3}])
    with pytest.raises(ValueError, match=r"target must be an accuracy in \(0, 1\]"):
        metrics.time_to_accuracy(history, 30)
    with pytest.raises(KeyError, match="no metric 'test_accuracy'"):
        metrics.time_to_accuracy(history, 0.3, metric="test_accuracy")
    with pytest.raises(ValueError, match="the history is empty"):
        metrics.elapsed_seconds(train.History())
    with pytest.raises(TypeError, match="must be the History returned by fit"):
        metrics.elapsed_seconds([1.0, 2.0])


def test_time_to_accuracy_on_a_real_fit():
    x = jax.random.normal(jax.random.key(0), (32, 2, 2, 1))
    y = (x.reshape(32, -1).sum(axis=-1) > 0).astype(jnp.int32)
    _, history = train.fit(
        Linear(4, 2, rngs=nnx.Rngs(0)),
        (x, y),
        train.TrainConfig(epochs=3, batch_size=8, learning_rate=0.1, progress=False),
        val_data=(x, y),
    )
    seconds = metrics.elapsed_seconds(history)
    assert np.all(np.diff(seconds) > 0) and len(seconds) == 3
    reached = metrics.time_to_accuracy(history, float(history["val_accuracy"].max()))
    assert reached is not None and math.isfinite(reached) and reached in seconds
