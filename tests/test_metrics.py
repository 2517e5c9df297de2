"""Classification metrics against hand-computed values."""

import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import metrics

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
