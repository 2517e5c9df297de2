"""Checks for notebook 03: backpropagation through the two-layer network, written out by the learner.

Also home of the small helpers the other derivation checks share (:func:`unpack`, :func:`compare_grad`):
a gradient that is a known multiple of the right one, or right in one part and wrong in another,
is named as such; no message prints the backward pass itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed

_PARAMS = ("W1", "b1", "W2", "b2")


def returned_nothing(name: str, out: Any) -> None:
    """Raise the CheckFailed for a function that returned ``None`` (a forgotten ``return``)."""
    if out is None:
        raise CheckFailed(
            name,
            "your function returned nothing (None).",
            "is the `return` line missing, or does it sit inside a loop or an `if`?",
        )


def unpack(name: str, out: Any, names: Sequence[str]) -> list[np.ndarray]:
    """``out`` as a tuple of ``len(names)`` float64 arrays, or a CheckFailed saying what came back."""
    returned_nothing(name, out)
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        got = f"{type(out).__name__}" + (
            f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""
        )
        raise CheckFailed(
            name,
            f"expected {len(names)} values ({', '.join(names)}), got {got}.",
            f"end with `return {', '.join(names)}`, in that order.",
        )
    return [as_array(name, value, what) for value, what in zip(out, names)]


def compare_grad(
    name: str,
    got: np.ndarray,
    want: np.ndarray,
    what: str,
    *,
    hint: str,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """Raise a CheckFailed naming the usual slip (a sign, a constant factor, a missing sum) unless got == want."""
    if got.shape != want.shape:
        if got.shape[1:] == want.shape and got.ndim == want.ndim + 1:
            raise CheckFailed(
                name,
                f"{what} has shape {got.shape}, expected {want.shape}: one gradient per example.",
                "a parameter is shared by every example of the batch: its gradient adds up their "
                "contributions over the batch axis.",
            )
        raise CheckFailed(
            name,
            f"{what} has shape {got.shape}, expected {want.shape}.",
            "a gradient has the shape of the thing it is the gradient of.",
        )
    if not np.isfinite(got).all():
        raise CheckFailed(name, f"{what} holds NaN or infinity.", hint)
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return
    scale = float(np.vdot(got, want) / max(np.vdot(want, want), 1e-300))
    if np.allclose(got, scale * want, rtol=rtol, atol=atol) and abs(scale) > 1e-12:
        if np.isclose(scale, -1.0, rtol=1e-3):
            raise CheckFailed(name, f"{what} has the right size and the wrong sign.", hint)
        raise CheckFailed(
            name, f"{what} is {scale:.4g} times the right gradient: a constant factor is off.", hint
        )
    expect_close(name, got, want, what=what, hint=hint, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------- notebook 03


def _forward(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.tanh(x @ p["W1"] + p["b1"])  # [B, H]
    return h, h @ p["W2"] + p["b2"]  # [B, O]


def _two_layer(
    p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, *, slip: str = ""
) -> tuple[float, dict]:
    """Loss and gradients of mean((tanh(x W1 + b1) W2 + b2 - y)^2), or of a named slip of the derivation."""
    h, yhat = _forward(p, x)
    n = yhat.size
    g_yhat = 2.0 * (yhat - y) / n  # [B, O]
    if slip == "no_two":
        g_yhat = g_yhat / 2
    if slip == "sum":
        g_yhat = g_yhat * n
    g_h = g_yhat @ p["W2"].T  # [B, H]
    z1 = x @ p["W1"] + p["b1"]
    local = {"pre": 1 - z1**2, "none": np.ones_like(h), "sech": 1 - np.tanh(h) ** 2}.get(
        slip, 1 - h**2
    )
    g_z = g_h * local  # [B, H]
    grads = {"W1": x.T @ g_z, "b1": g_z.sum(0), "W2": h.T @ g_yhat, "b2": g_yhat.sum(0)}
    return float(np.mean((yhat - y) ** 2)), grads


def _two_layer_cases() -> list[tuple[dict, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    cases = []
    for b, d, hdim, o in ((5, 3, 4, 1), (7, 2, 6, 2)):  # [B, D], hidden H, outputs O
        p = {
            "W1": rng.normal(size=(d, hdim)),
            "b1": 0.5 * rng.normal(size=hdim),
            "W2": rng.normal(size=(hdim, o)),
            "b2": 0.5 * rng.normal(size=o),
        }
        x = rng.normal(size=(b, d))
        cases.append((p, x, np.sin(x.sum(1, keepdims=True)) + 0.1 * rng.normal(size=(b, o))))
    return cases


_SLIPS = {
    "no_two": "the gradient of the squared error at the output has lost a factor: differentiate (yhat - y)^2 again.",
    "sum": "your gradients are B x O times too large: the loss is a *mean* over the batch, and the "
    "gradient at the output carries the same 1/(B x O) the loss does.",
    "pre": "you wrote the tanh's derivative in terms of its input z1; the form in the derivation above takes the "
    "tanh's *output*, h.",
    "none": "the gradient skips the tanh's local derivative: on the way back through h = tanh(z1), multiply "
    "elementwise by dh/dz1.",
    "sech": "you applied tanh to h again inside the local derivative; h is already tanh(z1).",
}


@exercise
def two_layer_backprop(fn: Callable) -> None:
    """Check ``fn(params, x [B, D], y [B, O]) -> (loss, grads)``: the two-layer network's backward pass by hand.

    ``params`` and ``grads`` are dicts with keys ``W1 [D, H], b1 [H], W2 [H, O], b2 [O]``; the network is
    ``mean((tanh(x W1 + b1) W2 + b2 - y)^2)`` (:mod:`leptonlab.gradients`). Compared, entry by entry, with
    the gradient reverse-mode autodiff gives (computed here in float64). Notebook 03.
    """
    name = "two_layer_backprop"
    for params, x, y in _two_layer_cases():
        out = call(name, fn, params, x, y)
        returned_nothing(name, out)
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
            raise CheckFailed(
                name,
                f"expected (loss, grads) with grads a dict, got {type(out).__name__}"
                + (f" of length {len(out)}." if isinstance(out, (tuple, list)) else "."),
                'end with `return loss, {"W1": ..., "b1": ..., "W2": ..., "b2": ...}`.',
            )
        loss, grads = out
        want_loss, want = _two_layer(params, x, y)
        expect_close(
            name,
            loss,
            want_loss,
            what=f"the loss for B = {x.shape[0]}",
            rtol=1e-4,
            hint="the forward pass first: the mean of the squared errors over the batch and the outputs.",
        )
        missing = [k for k in _PARAMS if k not in grads]
        if missing:
            raise CheckFailed(
                name,
                f"grads has no {', '.join(repr(k) for k in missing)} "
                f"(it has {sorted(map(str, grads))}).",
                "one entry per parameter, under the same names.",
            )
        got = {k: as_array(name, grads[k], f"grads[{k!r}]") for k in _PARAMS}
        wrong = [
            k
            for k in _PARAMS
            if got[k].shape != want[k].shape
            or not np.allclose(got[k], want[k], rtol=1e-4, atol=1e-6)
        ]
        if not wrong:
            continue
        for slip, hint in _SLIPS.items():
            _, alt = _two_layer(params, x, y, slip=slip)
            if all(
                got[k].shape == alt[k].shape and np.allclose(got[k], alt[k], rtol=1e-4, atol=1e-6)
                for k in _PARAMS
            ):
                raise CheckFailed(
                    name,
                    f"{' and '.join(wrong)} differ from the true gradient for B = {x.shape[0]}.",
                    hint,
                )
        if set(wrong) <= {"W1", "b1"}:
            hint = (
                "the output layer is right, so the error enters between h and the first layer: the step "
                "back through W2 to h, then through the tanh."
            )
        elif set(wrong) <= {"W1", "W2"}:
            hint = (
                "the biases are right, so look at the weight gradients: each is (the layer's input)^T times "
                "the gradient at the layer's output."
            )
        else:
            hint = "start at the output: check the gradient of the loss with respect to yhat, then go back one line at a time."
        for k in wrong:
            compare_grad(name, got[k], want[k], f"grads[{k!r}] for B = {x.shape[0]}", hint=hint)
    passed(name, "your backward pass equals autodiff's gradient on every parameter.")
