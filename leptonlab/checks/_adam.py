"""Checks for notebook 04: Adam from scratch, step by step equal to ``optax.adam`` over 100 steps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from leptonlab.checks._backprop import returned_nothing
from leptonlab.checks._core import CheckFailed, as_array, call, exercise, passed

STEPS = 100  # steps of each run the check compares


def _quadratic(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stretched bowl L = 0.5 theta^T A theta - c^T theta: gradients of very different sizes per coordinate."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    a = q @ np.diag([10.0, 1.0, 0.05]) @ q.T  # [3, 3], eigenvalues 10, 1, 0.05
    return a, rng.normal(size=3), rng.normal(size=3)  # A, c, theta0


def run_adam_steps(
    fn: Callable,
    theta0: np.ndarray,
    a: np.ndarray,
    c: np.ndarray,
    learning_rate: float,
    b1: float,
    b2: float,
    eps: float,
    steps: int,
) -> dict:
    """Probe: ``steps`` steps of the learner's ``fn(theta, state, grad, t, ...)`` on the bowl, as plain data.

    Returns ``{"thetas": [steps + 1, P]}``, or ``{"bad": (t, repr)}`` at the first step that did not return
    ``(theta, state)``.
    """
    theta = np.asarray(theta0, np.float32)
    state = (np.zeros_like(theta), np.zeros_like(theta))  # (m, s): both averages start at zero
    thetas = [np.asarray(theta, np.float64)]
    for t in range(1, steps + 1):
        grad = (a @ np.asarray(theta, np.float64) - c).astype(np.float32)  # [P]
        out = fn(theta, state, grad, t, learning_rate, b1, b2, eps)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return {"bad": (t, type(out).__name__ if out is not None else "None")}
        theta, state = out
        thetas.append(np.asarray(theta, np.float64).reshape(-1))
    return {"thetas": np.stack(thetas)}


def adam_reference(
    theta0: np.ndarray,
    a: np.ndarray,
    c: np.ndarray,
    learning_rate: float,
    b1: float,
    b2: float,
    eps: float,
    steps: int,
    *,
    slip: str = "",
) -> np.ndarray:
    """Adam as ``optax.adam`` computes it (eps outside the root, bias correction, t from 1), in float64: [steps + 1, P]."""
    theta = np.asarray(theta0, np.float64)
    m, s = np.zeros_like(theta), np.zeros_like(theta)
    out = [theta]
    for t in range(1, steps + 1):
        g = a @ theta - c
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g if slip == "no_square" else g**2)
        tc = t + 1 if slip == "t_plus_one" else t
        m_hat, s_hat = (m, s) if slip == "no_correction" else (m / (1 - b1**tc), s / (1 - b2**tc))
        with np.errstate(invalid="ignore"):
            step = (
                m_hat / np.sqrt(s_hat + eps)
                if slip == "eps_inside"
                else m_hat / (np.sqrt(s_hat) + eps)
            )
        theta = theta + learning_rate * step if slip == "sign" else theta - learning_rate * step
        out.append(theta)
    return np.stack(out)


_SLIPS = {
    "no_correction": "your early steps have the wrong size: both averages start at zero, so for the first steps "
    "(about 1/(1 - beta) of them) they are biased towards zero; the hats undo that bias.",
    "eps_inside": "epsilon sits inside the square root; optax.adam adds it after the root.",
    "t_plus_one": "the bias correction uses the wrong step number: t counts the steps from 1.",
    "sign": "your steps go uphill: the update is *subtracted* from theta.",
    "no_square": "the second average should follow the *squared* gradient, elementwise.",
}


@exercise
def adam_step(fn: Callable) -> None:
    """Check ``fn(theta, state, grad, t, learning_rate, b1, b2, eps) -> (theta, state)``: one step of Adam.

    ``state = (m, s)``, both ``[P]`` and zeros before step ``t = 1``. The check runs 100 steps on a stretched
    quadratic bowl for two sets of hyperparameters and compares every step with ``optax.adam``'s update
    (eps outside the square root, bias-corrected averages). Notebook 04.
    """
    name = "adam_step"
    for seed, (lr, b1, b2, eps) in ((4, (0.1, 0.9, 0.999, 1e-8)), (5, (0.05, 0.8, 0.99, 1e-3))):
        a, c, theta0 = _quadratic(seed)
        out = call(name, fn, theta0, a, c, lr, b1, b2, eps, STEPS, probe=run_adam_steps)
        returned_nothing(name, out)
        if "bad" in out:
            t, what = out["bad"]
            if what == "None":
                returned_nothing(name, None)
            raise CheckFailed(
                name,
                f"at step {t} your function returned {what}, not (theta, state).",
                "return the new parameters and the new (m, s) pair: `return theta, (m, s)`.",
            )
        got = as_array(name, out["thetas"], "the parameters")
        want = adam_reference(theta0, a, c, lr, b1, b2, eps, STEPS)
        if got.shape != want.shape:
            raise CheckFailed(
                name,
                f"theta came back with {got.shape[1]} entries per step, expected {want.shape[1]}.",
                "the update is elementwise: theta, m and s all keep the parameters' shape.",
            )
        bad = ~np.isclose(got, want, rtol=1e-4, atol=1e-4)
        if not bad.any():
            continue
        step = int(np.argwhere(bad.any(axis=1))[0, 0])
        where = f"with learning_rate={lr}, b1={b1}, b2={b2}, eps={eps}"
        for slip, hint in _SLIPS.items():
            if np.allclose(
                got,
                adam_reference(theta0, a, c, lr, b1, b2, eps, STEPS, slip=slip),
                rtol=1e-4,
                atol=1e-4,
                equal_nan=True,
            ):
                raise CheckFailed(
                    name, f"your run leaves optax.adam's at step {step} {where}.", hint
                )
        if not np.isfinite(got[step]).all():
            raise CheckFailed(
                name,
                f"theta is NaN or infinite after step {step} {where}.",
                "at t = 0 the bias correction divides by 1 - beta**0 = 0: does your loop count t "
                "from 1, and do you use the t you are given?",
            )
        raise CheckFailed(
            name,
            f"after step {step} {where} theta is {np.round(got[step], 5).tolist()}; "
            f"optax.adam reaches {np.round(want[step], 5).tolist()}.",
            "compare one step by hand with the formulas above the exercise: m, then s, then their "
            "bias-corrected versions, then the update."
            if step > 1
            else "the very first step already differs: after one step every coordinate moves by about "
            "the learning rate, against the sign of its gradient.",
        )
    passed(name, f"{STEPS} steps equal optax.adam's for two sets of hyperparameters.")
