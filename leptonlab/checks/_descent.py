"""Checks for notebook 04 (gradient descent)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab.checks._core import (
    CheckFailed,
    Raised,
    as_array,
    attempt,
    call,
    exercise,
    passed,
    under_jit,
)


def _theta() -> jax.Array:
    return jnp.array(
        [1.0, -2.0, 0.5]
    )  # [P]; built on call: importing the checks starts no JAX backend


def _grad() -> jax.Array:
    return jnp.array([0.4, -1.0, 2.0])  # [P]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=1e-6))


@exercise
def gd_step(fn: Callable) -> None:
    """Check ``fn(theta [P], grad [P], learning_rate) -> theta [P]``: one step of gradient descent. Notebook 04."""
    name = "gd_step"
    for lr in (0.1, 0.03):
        got = as_array(name, call(name, fn, _theta(), _grad(), lr), "the new theta")
        theta, g = np.asarray(_theta(), np.float64), np.asarray(_grad(), np.float64)
        want = theta - lr * g
        if _close(got, want):
            continue
        if got.shape != want.shape:
            hint = "the new theta has the same shape as theta: one update per parameter."
        elif _close(got, theta + lr * g):
            hint = (
                "that step goes uphill (the `w -= -lr*g` bug): check the sign of your step.",
                "the gradient points uphill; a descent step goes the other way.",
            )
        elif _close(got, theta - g):
            hint = (
                "your step ignores the learning rate.",
                "the step's size is the gradient scaled by learning_rate.",
            )
        elif _close(got, theta):
            hint = (
                "theta did not change: return the updated value, not the one you were given.",
                "compute the new theta into a variable and return that.",
            )
        else:
            hint = (
                "gradient descent moves against the gradient, by a step proportional to it.",
                "work one parameter by hand: new value = old value minus (learning rate times its gradient).",
            )
        raise CheckFailed(
            name,
            f"with learning_rate = {lr} the new theta is {np.round(got, 4).tolist()}; "
            f"expected {np.round(want, 4).tolist()}.",
            hint,
        )
    jitted = attempt(
        name, fn, _theta(), _grad(), 0.1, probe=under_jit
    )  # gradient_descent compiles the update
    if isinstance(jitted, Raised):
        raise CheckFailed(
            name,
            f"your update fails under jax.jit ({jitted.type_name}).",
            "use plain arithmetic or jnp on the arrays, not float() or NumPy in-place operations.",
        )
    passed(name)


@exercise
def momentum_step(fn: Callable) -> None:
    """Check ``fn(theta, velocity, grad, learning_rate, beta) -> (theta, velocity)``: heavy-ball momentum
    (``v = beta * v + grad``, ``theta = theta - learning_rate * v``), over three steps. Notebook 04."""
    name = "momentum_step"
    lr, beta = 0.1, 0.9
    grads = [_grad(), 0.5 * _grad()[::-1], jnp.array([-1.0, 0.2, 0.3])]
    theta, v = _theta(), jnp.zeros_like(_theta())
    want_theta, want_v = np.asarray(_theta(), np.float64), np.zeros(3)
    for step, g in enumerate(grads, start=1):
        out = call(name, fn, theta, v, g, lr, beta)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CheckFailed(
                name,
                f"expected (theta, velocity), got {type(out).__name__}.",
                "return both the new theta and the new velocity: the velocity is carried to the next step.",
            )
        got_theta = as_array(name, out[0], "the new theta")
        got_v = as_array(name, out[1], "the new velocity")
        g64 = np.asarray(g, np.float64)
        prev_theta, prev_v = want_theta, want_v
        want_v = beta * prev_v + g64
        want_theta = prev_theta - lr * want_v
        if _close(got_theta, want_theta) and _close(got_v, want_v):
            theta, v = out[0], out[1]
            continue
        if _close(got_v, beta * prev_v + (1 - beta) * g64):
            hint = (
                "this notebook's momentum has no (1 - beta) factor on the gradient.",
                "some texts average (beta and 1 - beta); this notebook's velocity adds the full gradient.",
            )
        elif _close(got_theta, prev_theta - lr * prev_v) or _close(
            got_theta, prev_theta - lr * (beta * prev_v)
        ):
            hint = (
                "update the velocity first, then move theta with the new velocity.",
                "check the order of your two lines: theta must use the velocity of this step.",
            )
        elif _close(got_theta, prev_theta + lr * want_v):
            hint = (
                "theta moves against the velocity, as plain descent moves against the gradient.",
                "check the sign of theta's step.",
            )
        elif _close(got_v, g64) and step > 1:
            hint = (
                "the velocity should remember the past, not just hold this step's gradient.",
                "the new velocity starts from beta times the old one.",
            )
        elif _close(got_theta, prev_theta - lr * g64) and step > 1:
            hint = (
                "move theta by the velocity, not the raw gradient.",
                "theta's step uses the new velocity, scaled by the learning rate.",
            )
        else:
            hint = (
                "compare each of your two updates with the equations written above the exercise.",
                "do one step by hand for one parameter (theta 1, velocity 0, gradient 1) and compare.",
            )
        raise CheckFailed(
            name,
            f"at step {step} you returned theta = {np.round(got_theta, 4).tolist()}, "
            f"velocity = {np.round(got_v, 4).tolist()}; expected theta = "
            f"{np.round(want_theta, 4).tolist()}, velocity = {np.round(want_v, 4).tolist()}.",
            hint,
        )
    passed(name, "three steps agree with the reference.")
