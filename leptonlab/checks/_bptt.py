"""Checks for notebook 10: backpropagation through time for the tanh RNN, by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from leptonlab.checks._backprop import compare_grad, unpack
from leptonlab.checks._core import CheckFailed, call, exercise, passed

_NAMES = ("dw_x", "dw_h", "db", "dh0")


def rnn_states(
    xs: np.ndarray, h0: np.ndarray, w_x: np.ndarray, w_h: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b) for t = 1..T: [B, T, H] (float64)."""
    h, out = h0, []
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ w_x + h @ w_h + b)
        out.append(h)
    return np.stack(out, axis=1)


def bptt_reference(
    xs: np.ndarray,
    h0: np.ndarray,
    w_x: np.ndarray,
    w_h: np.ndarray,
    b: np.ndarray,
    g: np.ndarray,
    *,
    slip: str = "",
) -> tuple[np.ndarray, ...]:
    """(dw_x, dw_h, db, dh0) of sum(states * g) by BPTT, in float64; ``slip`` names a usual mistake."""
    hs = rnn_states(xs, h0, w_x, w_h, b)  # [B, T, H]
    prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)  # [B, T, H]: h_{t-1}
    dw_x, dw_h, db = np.zeros_like(w_x), np.zeros_like(w_h), np.zeros_like(b)
    carry = np.zeros_like(h0)  # dL/dh_t from the later steps
    for t in reversed(range(xs.shape[1])):
        upstream = (
            g[:, t] if slip != "last_only" or t == xs.shape[1] - 1 else np.zeros_like(g[:, t])
        )
        dh = upstream + (0.0 if slip == "no_carry" else carry)
        pre = xs[:, t] @ w_x + prev[:, t] @ w_h + b
        local = {"pre": 1 - pre**2, "none": np.ones_like(pre)}.get(slip, 1 - hs[:, t] ** 2)
        da = dh * local  # [B, H]
        dw_x += xs[:, t].T @ da
        dw_h += prev[:, t].T @ da
        db += da.sum(0)
        carry = da @ w_h.T
    return dw_x, dw_h, db, carry


def _cases() -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(10)
    cases = []
    for bsz, t, d, h in ((2, 4, 3, 5), (3, 6, 2, 4)):
        xs = rng.normal(size=(bsz, t, d))  # [B, T, D]
        h0 = 0.5 * rng.normal(size=(bsz, h))  # [B, H]
        w_x = rng.normal(size=(d, h)) / np.sqrt(d)  # [D, H]
        w_h = rng.normal(size=(h, h)) / np.sqrt(h)  # [H, H]
        b = 0.1 * rng.normal(size=h)  # [H]
        g = rng.normal(size=(bsz, t, h))  # [B, T, H]: dL/dh_t from outside
        cases.append(tuple(a.astype(np.float32) for a in (xs, h0, w_x, w_h, b, g)))
    return cases


_SLIPS = {
    "last_only": "only the last state's gradient reaches the weights: every h_t has its own gradient from "
    "outside (grad_hs[:, t]), and each enters the backward pass at its own step.",
    "no_carry": "the gradient stops after one step: h_{t-1} also fed step t, so dL/dh_{t-1} gets a second "
    "part carried back from step t through W_h.",
    "pre": "you wrote the tanh's derivative with its input; the form in the derivation takes the tanh's *output*, h_t.",
    "none": "the tanh's local derivative is missing at each step.",
}


@exercise
def rnn_bptt(fn: Callable) -> None:
    """Check ``fn(xs [B, T, D], h0 [B, H], w_x [D, H], w_h [H, H], b [H], grad_hs [B, T, H]) -> (dw_x, dw_h, db, dh0)``.

    The gradients of ``sum(states * grad_hs)``, where ``states [B, T, H]`` are ``h_1 .. h_T`` of
    ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``: backpropagation through time, compared with autodiff's
    gradient (computed here in float64). Notebook 10.
    """
    name = "rnn_bptt"
    for case in _cases():
        xs, h0, w_x, w_h, b, g = case
        shape = f"B, T = {xs.shape[0]}, {xs.shape[1]}"
        got = unpack(name, call(name, fn, *case), _NAMES)
        want = bptt_reference(*(a.astype(np.float64) for a in case))
        ok = [
            gt.shape == wt.shape and np.allclose(gt, wt, rtol=1e-4, atol=1e-5)
            for gt, wt in zip(got, want)
        ]
        if all(ok):
            continue
        for slip, hint in _SLIPS.items():
            alt = bptt_reference(*(a.astype(np.float64) for a in case), slip=slip)
            if all(
                gt.shape == at.shape and np.allclose(gt, at, rtol=1e-4, atol=1e-5)
                for gt, at in zip(got, alt)
            ):
                wrong = ", ".join(n for n, o in zip(_NAMES, ok) if not o)
                raise CheckFailed(name, f"{wrong} differ from the true gradient for {shape}.", hint)
        for gt, wt, what, o in zip(got, want, _NAMES, ok):
            if not o:
                compare_grad(
                    name,
                    gt,
                    wt,
                    f"{what} for {shape}",
                    rtol=1e-4,
                    atol=1e-5,
                    hint="run the steps backwards, t = T..1: the gradient at h_t is its own grad_hs[:, t] "
                    "plus what step t + 1 sends back; go through the tanh, then share it out to "
                    "W_x, W_h, b and h_{t-1}.",
                )
        raise CheckFailed(
            name, f"the gradients for {shape} differ from autodiff's."
        )  # unreachable if compare_grad raised
    passed(name, "dW_x, dW_h, db and dh0 equal autodiff's gradients through time.")
