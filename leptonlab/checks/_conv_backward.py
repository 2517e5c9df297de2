"""Checks for notebook 07: the convolution's backward pass (input and weight gradients), by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from leptonlab.checks._backprop import compare_grad, unpack
from leptonlab.checks._core import CheckFailed, call, exercise, passed


def conv_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1 "VALID" cross-correlation, NHWC x HWIO -> NHWC, in float64 (the reference forward pass)."""
    kh, kw = w.shape[:2]
    oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = np.zeros((x.shape[0], oh, ow, w.shape[3]))  # [N, OH, OW, C_out]
    for a in range(kh):
        for b in range(kw):
            y += np.einsum("nijc,cd->nijd", x[:, a : a + oh, b : b + ow, :], w[a, b])
    return y


def conv_backward_reference(
    x: np.ndarray, w: np.ndarray, g: np.ndarray, *, flip: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(dx [N, H, W, C_in], dw [KH, KW, C_in, C_out]) of sum(conv_valid(x, w) * g); ``flip=False``: a named slip."""
    kh, kw = w.shape[:2]
    oh, ow = g.shape[1:3]
    dx, dw = np.zeros_like(x, dtype=np.float64), np.zeros_like(w, dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            wa = w[a, b] if flip else w[kh - 1 - a, kw - 1 - b]
            dx[:, a : a + oh, b : b + ow, :] += np.einsum("nijd,cd->nijc", g, wa)
            dw[a, b] = np.einsum("nijc,nijd->cd", x[:, a : a + oh, b : b + ow, :], g)
    return dx, dw


def _cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    cases = []
    for n, h, wd, cin, k, cout in ((2, 5, 6, 1, 3, 1), (2, 6, 5, 3, 3, 4), (1, 7, 7, 2, 2, 3)):
        x = rng.normal(size=(n, h, wd, cin))  # [N, H, W, C_in]
        w = rng.normal(size=(k, k, cin, cout))  # [KH, KW, C_in, C_out]
        g = rng.normal(size=(n, h - k + 1, wd - k + 1, cout))  # [N, OH, OW, C_out]
        cases.append((x.astype(np.float32), w.astype(np.float32), g.astype(np.float32)))
    return cases


@exercise
def conv_backward(fn: Callable) -> None:
    """Check ``fn(x [N, H, W, C_in], w [KH, KW, C_in, C_out], grad_out [N, OH, OW, C_out]) -> (dx, dw)``.

    The gradients of ``sum(conv(x, w) * grad_out)`` for the stride-1, "VALID" convolution of notebook 07
    (``conv.conv2d_lax``), compared with the vector-Jacobian product autodiff gives (computed here in
    float64). Notebook 07.
    """
    name = "conv_backward"
    for x, w, g in _cases():
        shape = f"x {x.shape}, w {w.shape}"
        dx, dw = unpack(name, call(name, fn, x, w, g), ("dx", "dw"))
        want_dx, want_dw = conv_backward_reference(
            x.astype(np.float64), w.astype(np.float64), g.astype(np.float64)
        )
        if dw.shape == want_dw.shape[:2] + want_dw.shape[2:][::-1] and dw.shape != want_dw.shape:
            raise CheckFailed(
                name,
                f"dw for {shape} has shape {dw.shape}, expected {want_dw.shape}.",
                "the weight gradient has the kernel's layout [KH, KW, C_in, C_out]: mind the order "
                "of the two channel axes.",
            )
        compare_grad(
            name,
            dw,
            want_dw,
            f"dw for {shape}",
            rtol=1e-4,
            atol=1e-4,
            hint="each kernel entry w[a, b] multiplies the input window shifted by (a, b): its gradient "
            "pairs that shifted window with grad_out, summed over the batch and every output position.",
        )
        if dx.shape == want_dx.shape and not np.allclose(dx, want_dx, rtol=1e-4, atol=1e-4):
            if w.shape[0] > 1 and np.allclose(
                dx, conv_backward_reference(x, w, g, flip=False)[0], rtol=1e-4, atol=1e-4
            ):
                raise CheckFailed(
                    name,
                    f"dx for {shape} uses the kernel upside down (rotated by 180°).",
                    "follow one input pixel: which output positions did it feed, and through which "
                    "kernel entry each time?",
                )
        compare_grad(
            name,
            dx,
            want_dx,
            f"dx for {shape}",
            rtol=1e-4,
            atol=1e-4,
            hint="an input pixel feeds every output window that covers it: its gradient sums grad_out over "
            "those windows, each weighted by the kernel entry that touched the pixel.",
        )
    passed(name, "dx and dw equal autodiff's on three shapes.")
