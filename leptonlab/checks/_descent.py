"""Checks for notebook 04 (gradient descent)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab.checks._core import CheckFailed, Raised, as_array, attempt, call, exercise, passed, under_jit

def _theta() -> jax.Array:
    return jnp.array([1.0, -2.0, 0.5])  # [P]; built on call: importing the checks starts no JAX backend


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
            hint = "that step goes uphill (the `w -= -lr*g` bug): subtract learning_rate * grad."
        elif _close(got, theta - g):
            hint = "scale the gradient by the learning rate: theta - learning_rate * grad."
        elif _close(got, theta):
            hint = "theta did not change: return the updated value."
        else:
            hint = "gradient descent moves against the gradient: theta - learning_rate * grad."
        raise CheckFailed(name, f"with learning_rate = {lr} the new theta is {np.round(got, 4).tolist()}; "
                          f"expected {np.round(want, 4).tolist()}.", hint)
    jitted = attempt(name, fn, _theta(), _grad(), 0.1, probe=under_jit)  # gradient_descent compiles the update
    if isinstance(jitted, Raised):
        raise CheckFailed(name, f"your update fails under jax.jit ({jitted.type_name}).",
                          "use jnp / arithmetic on the arrays, not float() or NumPy in-place operations.")
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
            raise CheckFailed(name, f"expected (theta, velocity), got {type(out).__name__}.",
                              "end with `return theta, velocity`: the velocity is carried to the next step.")
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
            hint = "this notebook's momentum is v = beta * v + grad, without the (1 - beta) factor."
        elif _close(got_theta, prev_theta - lr * prev_v) or _close(got_theta, prev_theta - lr * (beta * prev_v)):
            hint = "update the velocity first, then move theta with the new velocity."
        elif _close(got_theta, prev_theta + lr * want_v):
            hint = "theta moves against the velocity: theta - learning_rate * v."
        elif _close(got_v, g64) and step > 1:
            hint = "the velocity should remember the past: v = beta * v + grad, not just grad."
        elif _close(got_theta, prev_theta - lr * g64) and step > 1:
            hint = "move theta by the velocity, not the raw gradient: theta - learning_rate * v."
        else:
            hint = "v = beta * v + grad; theta = theta - learning_rate * v; return theta, v."
        raise CheckFailed(name, f"at step {step} you returned theta = {np.round(got_theta, 4).tolist()}, "
                          f"velocity = {np.round(got_v, 4).tolist()}; expected theta = "
                          f"{np.round(want_theta, 4).tolist()}, velocity = {np.round(want_v, 4).tolist()}.", hint)
    passed(name, "three steps agree with the reference.")
