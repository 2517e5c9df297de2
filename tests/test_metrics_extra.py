"""metrics.worst_mistakes against a hand-made example."""

import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import metrics

PROBS = jnp.array(
    [
        [0.9, 0.1, 0.0],  # right (0)
        [0.2, 0.7, 0.1],  # wrong: predicts 1 with 0.7, true 0
        [0.05, 0.05, 0.9],  # wrong: predicts 2 with 0.9, true 1
        [0.4, 0.35, 0.25],  # wrong: predicts 0 with 0.4, true 2
        [0.1, 0.8, 0.1],
    ]
)  # right (1)
LABELS = jnp.array([0, 0, 1, 2, 1])


def test_worst_mistakes_most_confident_first():
    np.testing.assert_array_equal(metrics.worst_mistakes(PROBS, LABELS, 2), [2, 1])
    np.testing.assert_array_equal(metrics.worst_mistakes(PROBS, LABELS, 10), [2, 1, 3])
    assert metrics.worst_mistakes(PROBS, LABELS, 1).dtype == jnp.int32


def test_worst_mistakes_none_wrong_is_empty():
    assert metrics.worst_mistakes(PROBS[jnp.array([0, 4])], LABELS[jnp.array([0, 4])], 3).shape == (
        0,
    )


@pytest.mark.parametrize(
    "probs, labels, k, error, match",
    [
        (PROBS[0], LABELS, 2, ValueError, r"probs \[N, C\]"),
        (PROBS, LABELS[:3], 2, ValueError, "labels"),
        (PROBS, LABELS.astype(jnp.float32), 2, TypeError, "integers"),
        (PROBS, LABELS, 0, ValueError, "k must be"),
    ],
)
def test_worst_mistakes_bad_input(probs, labels, k, error, match):
    with pytest.raises(error, match=match):
        metrics.worst_mistakes(probs, labels, k)


def test_classification_report_by_hand():
    report = metrics.classification_report(
        jnp.array([0, 0, 1, 1, 1, 2]), jnp.array([0, 1, 1, 1, 0, 1]), ["zero", "one", "two"]
    )
    lines = report.splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[1].split() == ["zero", "0.500", "0.500", "0.500", "2"]
    assert lines[3].split() == ["two", "0.000", "0.000", "0.000", "1"]
    assert lines[4].split() == ["accuracy", "0.500", "6"]


@pytest.mark.parametrize("names, error", [([], ValueError), (["a", "b"], ValueError)])
def test_classification_report_bad_input(names, error):
    with pytest.raises(error):
        metrics.classification_report(jnp.array([0, 1]), jnp.array([0, 1, 1]), names)
