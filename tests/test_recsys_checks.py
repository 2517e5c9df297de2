"""Checks of notebooks 14-15: pass on the reference, fail with the intended hint on a stub and typical mistakes."""

import numpy as np
import pytest

from leptonlab import checks
from leptonlab.checks import CheckFailed


def stub(*args, **kwargs):
    raise NotImplementedError()


CASES = {
    "rmse": (
        lambda p, t: np.sqrt(np.mean((p - t) ** 2)),
        [
            (lambda p, t: np.mean((p - t) ** 2), "square root"),
            (lambda p, t: np.mean(np.abs(p - t)), "mean absolute error"),
            (lambda p, t: np.sqrt(np.sum((p - t) ** 2)), "divide by the number"),
        ],
    ),
    "predict_rating": (
        lambda mu, bu, bi, p, q: mu + bu + bi + (p * q).sum(1),
        [
            (lambda mu, bu, bi, p, q: bu + bi + (p * q).sum(1), "global mean mu is missing"),
            (lambda mu, bu, bi, p, q: mu + (p * q).sum(1), "biases b_u and b_i are missing"),
            (lambda mu, bu, bi, p, q: mu + bu + bi + p @ q.T, r"\[N, N\]"),
        ],
    ),
    "ndcg_single": (
        lambda r, k: 1 / np.log2(r + 2) if r < k else 0.0,
        [
            (lambda r, k: 1 / np.log2(r + 1) if r < k else 0.0, "0-based"),
            (lambda r, k: 1 / np.log(r + 2) if r < k else 0.0, "log base 2"),
            (lambda r, k: 1 / np.log2(r + 2), "return 0 when rank >= k"),
        ],
    ),
    "mask_seen": (
        lambda s, seen: np.where(seen, -np.inf, s),
        [
            (lambda s, seen: np.where(seen, 0.0, s), "still beats every negative score"),
            (lambda s, seen: np.where(~seen, -np.inf, s), "NOT seen"),
        ],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_check_passes_on_the_reference(name, capsys):
    assert getattr(checks, name)(CASES[name][0]) is None
    assert capsys.readouterr().out.startswith(f"✓ {name}")


@pytest.mark.parametrize("name", list(CASES))
def test_check_fails_on_a_stub(name):
    with pytest.raises(CheckFailed, match="not written yet"):
        getattr(checks, name)(stub)


@pytest.mark.parametrize(
    "name, wrong, message", [(n, w, m) for n, (_, wrongs) in CASES.items() for w, m in wrongs]
)
def test_check_names_the_typical_mistake(name, wrong, message):
    with np.errstate(divide="ignore"):
        with pytest.raises(CheckFailed, match=message):
            getattr(checks, name)(wrong)
