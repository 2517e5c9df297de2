"""Checks for notebook 19 (hyperparameter search)."""

from __future__ import annotations

import math

import jax
import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, passed


@exercise
def log_uniform(fn) -> None:
    """Check ``fn(key, n, low, high) -> [n]``: samples whose logarithm is uniform on [log low, log high)."""
    name = "log_uniform"
    n, low, high = 20_000, 1e-5, 1e-1
    got = as_array(name, call(name, fn, jax.random.key(0), n, low, high), "the samples")
    if got.shape != (n,):
        raise CheckFailed(
            name,
            f"for n={n} the result has shape {got.shape}; expected ({n},).",
            "return one sample per trial, a 1-D array of length n.",
        )
    if not np.all(np.isfinite(got)):
        raise CheckFailed(
            name, "some samples are NaN or infinite.", "exponentiate a uniform sample of the log."
        )
    if got.min() < low * (1 - 1e-6) or got.max() > high * (1 + 1e-6):
        hint = (
            (
                "you treated low and high as exponents: they are the values themselves.",
                "the exponent's range is the logarithm of low and of high.",
            )
            if got.min() > 0.5
            else "every sample must lie in [low, high)."
        )
        raise CheckFailed(
            name,
            f"samples range over [{got.min():.3g}, {got.max():.3g}], outside [{low:g}, {high:g}).",
            hint,
        )
    decades = (
        np.histogram(np.log10(got), bins=np.arange(-5, 0))[0] / n
    )  # share of each of the 4 decades
    if np.any(np.abs(decades - 0.25) > 0.03):
        shares = ", ".join(f"{s:.0%}" for s in decades)
        hint = (
            (
                "a uniform sample puts almost all values in the top decade: sample the *exponent* uniformly.",
                "draw uniformly between the logarithms of the bounds, then undo the logarithm.",
            )
            if decades[-1] > 0.6
            else "each decade between low and high should get the same share of the samples."
        )
        raise CheckFailed(
            name,
            f"the decades 1e-5..1e-4, ..., 1e-2..1e-1 hold {shares} of the samples; "
            "a log-uniform sample puts 25% in each.",
            hint,
        )
    again = as_array(name, call(name, fn, jax.random.key(0), n, low, high), "the samples")
    other = as_array(name, call(name, fn, jax.random.key(1), n, low, high), "the samples")
    if not np.array_equal(got, again):
        raise CheckFailed(
            name,
            "two calls with the same key gave different samples.",
            "draw every random number from the key argument (jax.random), not from np.random.",
        )
    if np.array_equal(got, other):
        raise CheckFailed(
            name, "two different keys gave the same samples.", "use the key you are given."
        )
    return passed(name, "log-uniform, in range, and determined by the key.")


def _reference_survivors(scores: np.ndarray, eta: int) -> np.ndarray:
    keep = math.ceil(len(scores) / eta)
    return np.argsort(np.where(np.isnan(scores), np.inf, scores), kind="stable")[:keep]


@exercise
def halving_survivors(fn) -> None:
    """Check ``fn(scores: [n], eta) -> [ceil(n / eta)]`` indices of the lowest scores, best first (NaN worst)."""
    name = "halving_survivors"
    cases = [  # (scores, eta)
        (np.array([0.5, 0.2, 0.9, 0.1]), 2),
        (np.array([0.7, 0.3, 0.6, 0.1, 0.4]), 3),  # ceil(5 / 3) = 2 survive
        (np.array([0.3, 0.2, 0.9]), 4),  # at least one survives
        (np.array([np.nan, 0.3, 0.2, np.nan, 1.0]), 2),  # two runs diverged
    ]
    for scores, eta in cases:
        want = _reference_survivors(scores, eta)
        got = np.asarray(call(name, fn, scores.copy(), eta))
        if got.shape == want.shape and np.array_equal(got, want):
            continue
        case = f"scores={scores.tolist()}, eta={eta}"
        keep = math.ceil(len(scores) / eta)
        hint = (
            "keep the indices of the best 1/eta of the configurations (rounded up), best first.",
            "order the indices by score, lowest loss first, then take as many as survive.",
        )
        if got.ndim == 1 and len(got) == len(scores) // eta and len(got) != keep:
            hint = "n // eta rounds down (and can keep nobody): round the number of survivors up."
        elif (
            got.ndim == 1
            and len(got) == keep
            and set(got.tolist())
            == set(np.argsort(-np.nan_to_num(scores, nan=-np.inf))[:keep].tolist())
        ):
            hint = "these are the *highest* scores; a loss is better when lower: keep the lowest."
        elif (
            got.ndim == 1
            and len(got) == keep
            and any(np.isnan(scores[int(i)]) for i in got if 0 <= int(i) < len(scores))
        ):
            hint = (
                "a NaN score is a diverged run: treat it as the worst score of all before sorting."
            )
        elif got.ndim == 1 and set(got.tolist()) == set(want.tolist()):
            hint = "the right trials, in the wrong order: return them best first."
        raise CheckFailed(
            name, f"for {case} you returned {got.tolist()}; expected {want.tolist()}.", hint
        )
    return passed(name)
