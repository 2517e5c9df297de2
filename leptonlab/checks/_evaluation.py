"""Checks for notebook 18 (evaluation and explainability: calibration, adversarial examples)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _ece(confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


@exercise
def expected_calibration_error(fn) -> None:
    """Check ``fn(confidence: [N], correct: [N] bool, n_bins) -> float``: the ECE over equal-width bins.

    Bins are ``(b/n_bins, (b+1)/n_bins]`` (the first also holds 0);
    ``ECE = sum_b (n_b / N) |accuracy_b - mean confidence_b|`` over the non-empty bins.
    """
    name = "expected_calibration_error"
    confidence = np.array([0.95, 0.92, 0.97, 0.55, 0.58, 0.62, 0.99, 0.91, 0.65, 0.52])
    correct = np.array(
        [True, True, False, True, True, False, True, True, True, False]
    )  # low bin under-confident
    n_bins = 5
    want = _ece(confidence, correct, n_bins)
    got = as_array(name, call(name, fn, confidence, correct, n_bins), "the ECE")
    if got.shape != ():
        raise CheckFailed(
            name,
            f"the ECE has shape {got.shape}; it is one number.",
            "add up the weighted gaps of the bins into a single float.",
        )
    value = float(got)
    if not np.isfinite(value):
        raise CheckFailed(
            name,
            f"the ECE is {value}: an empty bin gave 0/0.",
            "skip the bins that hold no prediction (here, every bin below 0.4 is empty).",
        )
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    full = [b for b in range(n_bins) if (bins == b).any()]
    gaps = [correct[bins == b].mean() - confidence[bins == b].mean() for b in full]
    mistakes = [
        (
            float(np.mean(np.abs(gaps))),
            "weight each bin by its share of the predictions, n_b / N: a plain mean "
            "over bins lets a bin of one example count as much as a bin of fifty.",
        ),
        (
            abs(float(np.sum([(bins == b).mean() * g for b, g in zip(full, gaps)]))),
            "take the absolute gap |accuracy - confidence| in each bin before adding: over- and under-confident "
            "bins must not cancel (without it the sum is just the gap of the whole set, one big bin).",
        ),
    ]
    if not np.isclose(value, want, atol=1e-6):
        hint = next(
            (h for wrong, h in mistakes if np.isclose(value, wrong, atol=1e-6)),
            "bin b holds the confidences in (b/n_bins, (b+1)/n_bins]; ECE = sum over non-empty bins of "
            "(n_b / N) * |mean(correct) - mean(confidence)|.",
        )
        raise CheckFailed(
            name,
            f"your ECE is {value:.6g}; expected {want:.6g} for the 10 hand-made predictions.",
            hint,
        )
    calibrated = np.full(8, 0.75), np.array([True] * 6 + [False] * 2)
    expect_close(
        name,
        call(name, fn, *calibrated, 10),
        0.0,
        what="the ECE of a perfectly calibrated model",
        atol=1e-6,
    )
    return passed(name)


@exercise
def fgsm_perturb(fn) -> None:
    """Check ``fn(x, grad, epsilon) -> clip(x + epsilon * sign(grad), 0, 1)``: the FGSM step."""
    name = "fgsm_perturb"
    x = np.array([[0.5, 0.02, 0.99], [0.3, 0.7, 0.0]])
    grad = np.array([[2.0, -0.001, 3.0], [-5.0, 0.0, -1.0]])
    eps = 0.05
    want = np.clip(x + eps * np.sign(grad), 0, 1)
    got = as_array(name, call(name, fn, x, grad, eps), "the adversarial image")
    if got.shape == want.shape:
        if np.allclose(got, np.clip(x - eps * np.sign(grad), 0, 1)):
            raise CheckFailed(
                name,
                "your step goes down the loss: that makes the image *easier* to classify.",
                (
                    "an attack climbs the loss of the true label: step along the gradient, not against it.",
                    "check the sign of your step.",
                ),
            )
        if np.allclose(got, np.clip(x + eps * grad, 0, 1)) or np.allclose(got, x + eps * grad):
            raise CheckFailed(
                name,
                "you scaled the gradient itself; FGSM uses only its sign.",
                "only the gradient's sign counts: every pixel moves by exactly epsilon (the largest "
                "change allowed).",
            )
        if np.allclose(got, x + eps * np.sign(grad)):
            raise CheckFailed(
                name,
                "some pixels left the valid range [0, 1] (0.99 + 0.05 = 1.04).",
                "keep the result a valid image: limit every pixel to [0, 1] after the step.",
            )
    expect_close(
        name,
        got,
        want,
        what="the FGSM image for epsilon=0.05",
        hint=(
            "each pixel moves by epsilon in the direction that raises the loss; images stay in [0, 1].",
            "only the sign of the gradient matters, and a zero gradient leaves the pixel alone.",
        ),
    )
    return passed(name)
