"""ROC / PR curves, AUC, calibration and top-k accuracy against hand-computed values."""

import itertools

import numpy as np
import pytest

from leptonlab import metrics


def rank_auc(y, s):
    """P(score of a random positive > score of a random negative), ties = 1/2: the reference."""
    pos, neg = s[y == 1], s[y == 0]
    wins = [(p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)]
    return float(np.mean(wins))


def test_roc_curve_by_hand():
    # scores 0.9 (+), 0.8 (-), 0.7 (+), 0.6 (+), 0.2 (-): P = 3, N = 2
    y = np.array([1, 0, 1, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    fpr, tpr, thr = metrics.roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1 / 3, 2 / 3, 1.0, 1.0])
    np.testing.assert_allclose(thr, [np.inf, 0.9, 0.8, 0.7, 0.6, 0.2])
    # area: a 0.5-wide strip at height 1/3, then a 0.5-wide strip at height 1 -> 1/6 + 1/2
    assert metrics.auc(fpr, tpr) == pytest.approx(2 / 3)
    assert metrics.roc_auc(y, s) == pytest.approx(2 / 3)
    assert metrics.roc_auc(y, s) == pytest.approx(rank_auc(y, s))


def test_roc_ties_are_one_diagonal_step_and_count_half():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.5, 0.5, 0.9, 0.1])
    fpr, tpr, _ = metrics.roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0, 0.5, 1.0, 1.0])
    assert metrics.roc_auc(y, s) == pytest.approx(rank_auc(y, s)) == pytest.approx(0.875)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_the_rank_formula_on_random_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.normal(size=60) + y, 1)  # rounding makes ties
    assert metrics.roc_auc(y, s) == pytest.approx(rank_auc(y, s), abs=1e-12)
    assert metrics.roc_auc(y.astype(bool), -s) == pytest.approx(1 - rank_auc(y, s), abs=1e-12)


def test_perfect_and_reversed_rankings():
    y = np.array([0, 0, 1, 1])
    assert metrics.roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert metrics.roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0


def test_auc_trapezoid_and_bad_input():
    assert metrics.auc([0, 1], [0, 1]) == pytest.approx(0.5)
    assert metrics.auc([1, 0.5, 0], [1, 1, 0]) == pytest.approx(0.75)  # decreasing x is fine
    with pytest.raises(ValueError, match="monotonic"):
        metrics.auc([0, 1, 0.5], [0, 1, 1])
    with pytest.raises(ValueError, match="T >= 2"):
        metrics.auc([0.0], [1.0])


def test_roc_bad_input():
    with pytest.raises(ValueError, match="both positive and negative"):
        metrics.roc_curve([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="binary"):
        metrics.roc_curve([0, 2], [0.2, 0.3])
    with pytest.raises(ValueError, match="same length"):
        metrics.roc_curve([0, 1], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="finite"):
        metrics.roc_curve([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="empty"):
        metrics.roc_auc(np.zeros(0, int), np.zeros(0))


def test_one_vs_rest():
    y = np.array([0, 1, 2, 0, 1, 2])
    probs = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.2, 0.7],
            [0.3, 0.4, 0.3],
            [0.5, 0.4, 0.1],
            [0.3, 0.3, 0.4],
        ]
    )
    ovr = metrics.one_vs_rest_roc(y, probs)
    for c in range(3):
        assert ovr.auc[c] == pytest.approx(rank_auc((y == c).astype(int), probs[:, c]))
    assert ovr.macro_auc == pytest.approx(ovr.auc.mean())
    assert len(ovr.fpr) == len(ovr.tpr) == 3
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        metrics.one_vs_rest_roc(np.array([0, 3]), probs[:2])
    with pytest.raises(TypeError, match="integers"):
        metrics.one_vs_rest_roc(np.array([0.0, 1.0]), probs[:2])
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        metrics.one_vs_rest_roc(y, probs[:, 0])


def test_precision_recall_by_hand():
    y = np.array([1, 0, 1, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    precision, recall, thr = metrics.precision_recall_curve(y, s)
    np.testing.assert_allclose(recall, [0, 1 / 3, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(precision, [1, 1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(thr, [np.inf, 0.9, 0.8, 0.7, 0.6, 0.2])
    # AP = 1/3 * 1 + 0 * 1/2 + 1/3 * 2/3 + 1/3 * 3/4 + 0
    assert metrics.average_precision(y, s) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    with pytest.raises(ValueError, match="both positive and negative"):
        metrics.precision_recall_curve([0, 0], [0.1, 0.2])


def test_reliability_and_ece_by_hand():
    # four predictions, 2 classes, bins of width 0.5:
    #   confidences 0.6 (right), 0.8 (wrong), 0.9 (right), 0.3->0.7 for class 0 (right)
    probs = np.array([[0.6, 0.4], [0.2, 0.8], [0.9, 0.1], [0.7, 0.3]])
    y = np.array([0, 0, 0, 0])
    r = metrics.reliability(probs, y, n_bins=2)
    np.testing.assert_allclose(r.edges, [0, 0.5, 1])
    np.testing.assert_array_equal(r.count, [0, 4])
    assert np.isnan(r.confidence[0]) and np.isnan(r.accuracy[0])
    assert r.confidence[1] == pytest.approx((0.6 + 0.8 + 0.9 + 0.7) / 4)
    assert r.accuracy[1] == pytest.approx(3 / 4)
    assert metrics.expected_calibration_error(probs, y, n_bins=2) == pytest.approx(abs(0.75 - 0.75))
    # ten bins: 0.6 -> (0.5, 0.6], 0.7 -> (0.6, 0.7], 0.8 -> (0.7, 0.8], 0.9 -> (0.8, 0.9]
    ece = metrics.expected_calibration_error(probs, y, n_bins=10)
    want = 0.25 * (abs(1 - 0.6) + abs(1 - 0.7) + abs(0 - 0.8) + abs(1 - 0.9))
    assert ece == pytest.approx(want)


def test_ece_is_zero_for_a_calibrated_model_and_bad_input():
    # confidence 0.75 in every case, right in exactly 3 of 4: perfectly calibrated
    probs = np.tile([[0.75, 0.25]], (4, 1))
    y = np.array([0, 0, 0, 1])
    assert metrics.expected_calibration_error(probs, y) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="softmax"):
        metrics.expected_calibration_error(np.array([[3.0, -1.0]]), np.array([0]))
    with pytest.raises(ValueError, match="n_bins"):
        metrics.reliability(probs, y, n_bins=0)


def test_top_k_accuracy():
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    y = np.array([1, 2, 0])
    assert metrics.top_k_accuracy(y, scores, 1) == pytest.approx(1 / 3)
    assert metrics.top_k_accuracy(y, scores, 2) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(y, scores, 3) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        metrics.top_k_accuracy(y, scores, 4)
    with pytest.raises(ValueError, match="k must be"):
        metrics.top_k_accuracy(y, scores, 0)
