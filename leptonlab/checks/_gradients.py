"""Checks for notebook 03 (gradients and the chain rule)."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import numpy as np

from leptonlab.autodiff import Value
from leptonlab.checks._core import (
    CheckFailed,
    as_array,
    call,
    exercise,
    expect_close,
    passed,
    returned_nothing,
)


@exercise
def central_difference(fn: Callable) -> None:
    """Check ``fn(f, x, h) -> float``: the central difference ``(f(x+h) - f(x-h)) / (2h)``. Notebook 03."""
    name = "central_difference"
    cases = [(np.sin, 0.7, 1e-3), (lambda t: t**3, 2.0, 1e-2), (np.exp, -1.5, 1e-4)]
    for f, x, h in cases:
        result = as_array(name, call(name, fn, f, x, h), "the result")
        if result.size != 1:
            raise CheckFailed(
                name,
                f"the result should be one number (the slope at x), got shape {result.shape}.",
                "the central difference is one number: a difference of two values of f, divided.",
            )
        got = float(result.reshape(()))
        want = (f(x + h) - f(x - h)) / (2 * h)
        if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            continue
        forward = (f(x + h) - f(x)) / h
        backward = (f(x) - f(x - h)) / h
        if math.isclose(got, forward, rel_tol=1e-6) or math.isclose(got, backward, rel_tol=1e-6):
            hint = (
                "that is a one-sided difference (error O(h)): a central difference looks at both sides of x.",
                "evaluate f once a step h to the right of x and once a step h to the left.",
            )
        elif math.isclose(got, 2 * want, rel_tol=1e-6):
            hint = (
                "your two points are 2h apart: divide by their distance, not by h.",
                "the slope is rise over run, and the run between your two points is twice h.",
            )
        elif math.isclose(got, (f(x + h) - f(x - h)) / 2 * h, rel_tol=1e-6):
            hint = (
                "check your brackets: a / 2 * h means (a / 2) * h in Python.",
                "the whole distance between the points must be in the denominator: bracket it.",
            )
        else:
            hint = (
                "use the h you are given, and evaluate f at points on both sides of x.",
                "print f at your two points and their distance for x = 1, h = 0.1 and compare with the "
                "notebook's definition.",
            )
        raise CheckFailed(
            name,
            f"for x = {x}, h = {h} you returned {got:.8g}; the central difference is {want:.8g}.",
            hint,
        )
    passed(name)


@exercise
def linear_backward(fn: Callable) -> None:
    """Check ``fn(x [B, D], W [D, H], grad_out [B, H]) -> (dx [B, D], dW [D, H], db [H])``
    for the layer ``y = x @ W + b``. Notebook 03."""
    name = "linear_backward"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))  # [B, D]
    w = rng.normal(size=(3, 2))  # [D, H]
    b = rng.normal(size=(2,))  # [H]
    g = rng.normal(size=(4, 2))  # [B, H]
    out = call(name, fn, x, w, g)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise CheckFailed(
            name,
            f"expected three gradients (dx, dW, db), got {type(out).__name__}"
            + (f" of length {len(out)}." if isinstance(out, (tuple, list)) else "."),
            "return the three gradients together, in the order dx, dW, db.",
        )
    with jax.enable_x64(True):
        _, vjp = jax.vjp(lambda x_, w_, b_: x_ @ w_ + b_[None, :], x, w, b)
        want = [np.asarray(a) for a in vjp(g)]
    hints = {
        "dx": (
            "dx has x's shape [B, D]: which two arrays can you multiply to get that shape?",
            "write y = x @ W for one entry, y[b, h] = sum_d x[b, d] W[d, h], differentiate by x[b, d], "
            "and read off the matrix product; let the shapes tell you which operand is transposed.",
        ),
        "dW": (
            "dW has W's shape [D, H], and each weight is used by every example of the batch.",
            "differentiate y[b, h] = sum_d x[b, d] W[d, h] by W[d, h] and sum over b; a matrix product "
            "sums over the batch for you once the shapes line up.",
        ),
        "db": (
            "b is shared by every example of the batch, so its gradient collects from all of them.",
            "db has shape [H]: reduce grad_out over the axis that indexes the examples.",
        ),
    }
    for label, got, ref in zip(("dx", "dW", "db"), out, want):
        got_arr = as_array(name, got, label)
        if got_arr.shape != ref.shape:
            raise CheckFailed(
                name, f"{label} has shape {got_arr.shape}, expected {ref.shape}.", hints[label]
            )
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
            if out["returned"] == "NoneType":
                raise returned_nothing(name)
            raise CheckFailed(
                name,
                f"expected a Value, got {out['returned']}.",
                (
                    "a new operation returns a new node: build a Value, as the other operations of "
                    "the notebook's Value class do.",
                    "a node needs its value, its children, its operation's name and one local gradient "
                    "per child; look at how Value.__mul__ builds its node.",
                ),
            )
        if not math.isclose(out["data"], math.sin(x), rel_tol=1e-9, abs_tol=1e-12):
            raise CheckFailed(
                name,
                f"sin({x}) came out as {out['data']:.6g}, expected {math.sin(x):.6g}.",
                (
                    "the new node's value is the sine of the input's value.",
                    "the input is a Value: take the sine of its number (its .data), not of the node.",
                ),
            )
        grad = out["grad"]
        want = 3.0 * math.cos(x)
        if math.isclose(grad, want, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if grad == 0.0:
            hint = (
                "the gradient never reached the input: is the input among the new node's children?",
                "backward() only visits the children a node lists: list the input there.",
            )
        elif math.isclose(grad, -want, rel_tol=1e-9):
            hint = (
                "check the sign of your local gradient.",
                "it is the derivative of cos that carries a minus sign, not the derivative of sin.",
            )
        elif math.isclose(grad, 3.0 * math.sin(x), rel_tol=1e-9):
            hint = (
                "the local gradient is the derivative of sin at the input, not the value of sin.",
                "which function is the derivative of sin?",
            )
        else:
            hint = (
                "the local gradient is the derivative of sin, evaluated at the input's value.",
                "compare your local gradient with a central difference of math.sin at the same point.",
            )
        raise CheckFailed(
            name, f"for a = {x}, d(3 sin a)/da came out as {grad:.6g}; expected {want:.6g}.", hint
        )
    passed(name, "value and gradient agree with sin and cos.")
