"""Checks for notebook 09: batch normalisation's forward and backward pass (training mode), by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from leptonlab.checks._backprop import compare_grad, returned_nothing, unpack
from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def batchnorm_reference(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    *,
    ddof: int = 0,
    eps_outside: bool = False,
) -> np.ndarray:
    """Training-mode batch norm of ``x [N, D]`` over the batch axis, in float64 (or a named slip)."""
    mu = x.mean(0)  # [D]
    var = x.var(0, ddof=ddof)  # [D], biased unless ddof = 1
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return gamma * (x - mu) / std + beta  # [N, D]


def batchnorm_backward_reference(
    x: np.ndarray, gamma: np.ndarray, g: np.ndarray, eps: float, *, constant_stats: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx [N, D], dgamma [D], dbeta [D]) of sum(batchnorm(x) * g); ``constant_stats``: a named slip."""
    mu, var = x.mean(0), x.var(0)
    inv = 1.0 / np.sqrt(var + eps)  # [D]
    xhat = (x - mu) * inv  # [N, D]
    dxhat = g * gamma  # [N, D]
    if constant_stats:
        dx = dxhat * inv
    else:
        dx = inv * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))
    return dx, (g * xhat).sum(0), g.sum(0)


def _cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(9)
    cases = []
    for n, d, eps in (
        (8, 3, 1e-5),
        (5, 4, 1e-1),
        (16, 2, 1e-5),
    ):  # eps = 0.1: its place in the formula shows
        x = 3.0 + 2.0 * rng.normal(size=(n, d))  # [N, D], mean 3, std 2: not standardised yet
        gamma, beta = 1.0 + 0.5 * rng.normal(size=d), rng.normal(size=d)  # [D], [D]
        g = rng.normal(size=(n, d))  # [N, D] upstream gradient
        cases.append(tuple(a.astype(np.float32) for a in (x, gamma, beta, g)) + (eps,))
    return cases


@exercise
def batchnorm_forward(fn: Callable) -> None:
    """Check ``fn(x [N, D], gamma [D], beta [D], eps) -> y [N, D]``: batch norm in training mode.

    Each feature standardised with the batch's mean and (biased) variance, ``eps`` inside the square root,
    then scaled by ``gamma`` and shifted by ``beta``: what ``leptonlab.layers.BatchNorm`` (Flax's) computes
    in training mode. Notebook 09.
    """
    name = "batchnorm_forward"
    for x, gamma, beta, _, eps in _cases():
        out = call(name, fn, x, gamma, beta, eps)
        returned_nothing(name, out)
        got = as_array(name, out, f"y for x {x.shape}")
        xd, gd, bd = (a.astype(np.float64) for a in (x, gamma, beta))
        want = batchnorm_reference(xd, gd, bd, eps)
        if got.shape == want.shape and not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            slips = {
                "you used the unbiased variance (dividing by N - 1); batch norm divides by N.": batchnorm_reference(
                    xd, gd, bd, eps, ddof=1
                ),
                "eps is added after the square root; it belongs inside it, with the variance.": batchnorm_reference(
                    xd, gd, bd, eps, eps_outside=True
                ),
                "your statistics run over the features of each example; batch norm takes them over the batch "
                "(axis 0), one mean and variance per feature.": gd
                * (xd - xd.mean(1, keepdims=True))
                / np.sqrt(xd.var(1, keepdims=True) + eps)
                + bd,
                "the output is standardised but gamma and beta are not applied.": batchnorm_reference(
                    xd, np.ones_like(gd), np.zeros_like(bd), eps
                ),
            }
            for problem, alt in slips.items():
                if alt.shape == got.shape and np.allclose(got, alt, rtol=1e-4, atol=1e-4):
                    raise CheckFailed(
                        name,
                        f"for x {x.shape}, eps = {eps}: {problem}",
                        "compare with the formula above the exercise, term by term.",
                    )
        expect_close(
            name,
            got,
            want,
            what=f"y for x {x.shape}, eps = {eps}",
            rtol=1e-4,
            atol=1e-4,
            hint="one mean and one variance per feature, over the batch axis; then gamma and beta.",
        )
    passed(name, "your forward pass equals batch norm's in training mode.")


@exercise
def batchnorm_backward(fn: Callable) -> None:
    """Check ``fn(x [N, D], gamma [D], beta [D], grad_out [N, D], eps) -> (dx [N, D], dgamma [D], dbeta [D])``.

    The gradients of ``sum(batchnorm(x) * grad_out)`` in training mode, where the batch mean and variance
    depend on ``x`` too, compared with the vector-Jacobian product autodiff gives (computed here in
    float64). Notebook 09.
    """
    name = "batchnorm_backward"
    for x, gamma, beta, g, eps in _cases():
        shape = f"x {x.shape}, eps = {eps}"
        dx, dgamma, dbeta = unpack(
            name, call(name, fn, x, gamma, beta, g, eps), ("dx", "dgamma", "dbeta")
        )
        xd, gd, gg = (a.astype(np.float64) for a in (x, gamma, g))
        want_dx, want_dgamma, want_dbeta = batchnorm_backward_reference(xd, gd, gg, eps)
        compare_grad(
            name,
            dbeta,
            want_dbeta,
            f"dbeta for {shape}",
            rtol=1e-4,
            atol=1e-4,
            hint="beta is added to every example: its gradient collects grad_out from all of them.",
        )
        compare_grad(
            name,
            dgamma,
            want_dgamma,
            f"dgamma for {shape}",
            rtol=1e-4,
            atol=1e-4,
            hint="gamma multiplies the standardised input x_hat, example by example.",
        )
        if dx.shape == want_dx.shape and np.allclose(
            dx,
            batchnorm_backward_reference(xd, gd, gg, eps, constant_stats=True)[0],
            rtol=1e-4,
            atol=1e-4,
        ):
            raise CheckFailed(
                name,
                f"dx for {shape} treats the batch mean and variance as constants.",
                "in training mode both are computed from x: each x[i] also moves the mean and the "
                "variance, and through them every other example's output. Follow those two paths "
                "back too.",
            )
        compare_grad(
            name,
            dx,
            want_dx,
            f"dx for {shape}",
            rtol=1e-3,
            atol=1e-4,
            hint="go back through the graph one node at a time: the scale, the division by the standard "
            "deviation, the variance, the mean; x reaches the output along three paths.",
        )
    passed(name, "dx, dgamma and dbeta equal autodiff's gradients.")
