"""Checks for notebook 03 (gradients and the chain rule)."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import numpy as np

from leptonlab.autodiff import Value
from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


@exercise
def central_difference(fn: Callable) -> None:
    """Check ``fn(f, x, h) -> float``: the central difference ``(f(x+h) - f(x-h)) / (2h)``. Notebook 03."""
    name = "central_difference"
    cases = [(np.sin, 0.7, 1e-3), (lambda t: t ** 3, 2.0, 1e-2), (np.exp, -1.5, 1e-4)]
    for f, x, h in cases:
        result = as_array(name, call(name, fn, f, x, h), "the result")
        if result.size != 1:
            raise CheckFailed(name, f"the result should be one number (the slope at x), got shape {result.shape}.",
                              "return (f(x + h) - f(x - h)) / (2 * h), a scalar.")
        got = float(result.reshape(()))
        want = (f(x + h) - f(x - h)) / (2 * h)
        if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            continue
        forward = (f(x + h) - f(x)) / h
        backward = (f(x) - f(x - h)) / h
        if math.isclose(got, forward, rel_tol=1e-6) or math.isclose(got, backward, rel_tol=1e-6):
            hint = "that is a one-sided difference (error O(h)): use both f(x + h) and f(x - h)."
        elif math.isclose(got, 2 * want, rel_tol=1e-6):
            hint = "the two points x - h and x + h are 2h apart: divide by 2 * h, not h (mind the brackets)."
        elif math.isclose(got, (f(x + h) - f(x - h)) / 2 * h, rel_tol=1e-6):
            hint = "write / (2 * h) with brackets: a / 2 * h means (a / 2) * h."
        else:
            hint = "use the h you are given, and evaluate f at x + h and x - h."
        raise CheckFailed(name, f"for x = {x}, h = {h} you returned {got:.8g}; the central difference is {want:.8g}.", hint)
    passed(name)


@exercise
def linear_backward(fn: Callable) -> None:
    """Check ``fn(x [B, D], W [D, H], grad_out [B, H]) -> (dx [B, D], dW [D, H], db [H])``
    for the layer ``y = x @ W + b``. Notebook 03."""
    name = "linear_backward"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))   # [B, D]
    w = rng.normal(size=(3, 2))   # [D, H]
    b = rng.normal(size=(2,))     # [H]
    g = rng.normal(size=(4, 2))   # [B, H]
    out = call(name, fn, x, w, g)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise CheckFailed(name, f"expected three gradients (dx, dW, db), got {type(out).__name__}"
                          + (f" of length {len(out)}." if isinstance(out, (tuple, list)) else "."),
                          "end with `return dx, dW, db`.")
    with jax.enable_x64(True):
        _, vjp = jax.vjp(lambda x_, w_, b_: x_ @ w_ + b_[None, :], x, w, b)
        want = [np.asarray(a) for a in vjp(g)]
    hints = {
        "dx": "dx has x's shape [B, D]: dL/dx = grad_out @ W.T.",
        "dW": "dW has W's shape [D, H]: dL/dW = x.T @ grad_out (each weight sums over the batch).",
        "db": "b is shared by every example: db = grad_out summed over the batch axis (axis 0).",
    }
    for label, got, ref in zip(("dx", "dW", "db"), out, want):
        got_arr = as_array(name, got, label)
        if got_arr.shape != ref.shape:
            raise CheckFailed(name, f"{label} has shape {got_arr.shape}, expected {ref.shape}.", hints[label])
        expect_close(name, got, ref, what=label, hint=hints[label], rtol=1e-4, atol=1e-5)
    passed(name, "dx, dW and db agree with jax.vjp.")


def value_and_grad_of_three_times(fn: Callable, x: float) -> dict:
    """Probe: build ``out = fn(Value(x))``, backpropagate ``3 * out``; the node's type, value and x's gradient."""
    a = Value(x)
    out = fn(a)
    if not isinstance(out, Value):
        return {"returned": type(out).__name__, "data": float("nan"), "grad": float("nan")}
    (out * 3.0).backward()
    return {"returned": "Value", "data": float(out.data), "grad": float(a.grad)}


@exercise
def autodiff_sin(fn: Callable) -> None:
    """Check ``fn(a: Value) -> Value``: sin as an op of the tiny autodiff (value sin a, local gradient cos a). Notebook 03."""
    name = "autodiff_sin"
    for x in (0.5, 2.0, -1.2):
        out = call(name, fn, x, probe=value_and_grad_of_three_times)
        if out["returned"] != "Value":
            raise CheckFailed(name, f"expected a Value, got {out['returned']}.",
                              "return Value(math.sin(a.data), (a,), 'sin', (local_gradient,)).")
        if not math.isclose(out["data"], math.sin(x), rel_tol=1e-9, abs_tol=1e-12):
            raise CheckFailed(name, f"sin({x}) came out as {out['data']:.6g}, expected {math.sin(x):.6g}.",
                              "the value of the new node is math.sin(a.data).")
        grad = out["grad"]
        want = 3.0 * math.cos(x)
        if math.isclose(grad, want, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if grad == 0.0:
            hint = "the gradient never reached the input: pass it as a child, children=(a,)."
        elif math.isclose(grad, -want, rel_tol=1e-9):
            hint = "d/dx sin x = +cos x (it is cos whose derivative is -sin)."
        elif math.isclose(grad, 3.0 * math.sin(x), rel_tol=1e-9):
            hint = "the local gradient is the derivative, cos(a.data), not the value sin(a.data)."
        else:
            hint = "the local gradient of sin at a is math.cos(a.data)."
        raise CheckFailed(name, f"for a = {x}, d(3 sin a)/da came out as {grad:.6g}; expected {want:.6g}.", hint)
    passed(name, "value and gradient agree with sin and cos.")
