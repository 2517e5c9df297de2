"""Gradients three ways: by hand (the chain rule), numerically (finite differences), and with ``jax.grad``.

Introduced in notebook 03. The numerical gradient is the referee: it needs no
calculus, only two evaluations of the function per input entry, so it checks
both a hand-derived backward pass and an autodiff system.

The tiny network used to practise the chain rule is

    h    = tanh(x @ W1 + b1)      # [B, H]
    yhat = h @ W2 + b2            # [B, O]
    L    = mean((yhat - y) ** 2)  # scalar

with parameters ``{"W1": [D, H], "b1": [H], "W2": [H, O], "b2": [O]}``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

__all__ = [
    "central_difference",
    "forward_difference",
    "numerical_grad",
    "max_relative_error",
    "step_size_errors",
    "init_two_layer",
    "two_layer_forward",
    "two_layer_loss",
    "two_layer_grads",
]

_PARAM_NAMES = ("W1", "b1", "W2", "b2")


def _check_function(f: Any, name: str = "f") -> None:
    if not callable(f):
        raise TypeError(
            f"{name} should be a function, got {type(f).__name__}: pass the function itself, not f(x)."
        )


def _check_step(h: Any) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating)):
        raise TypeError(f"the step h should be a positive float, got {type(h).__name__}.")
    h = float(h)
    if not (h > 0.0 and math.isfinite(h)):
        raise ValueError(
            f"the step h should be a positive finite number, got {h}: try 1e-5 (float64) or 1e-3 (float32)."
        )
    return h


def _check_scalar_x(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.number)):
        raise TypeError(
            f"x should be a real number, got {type(x).__name__}; for arrays use numerical_grad."
        )
    return float(x)


def central_difference(f: Callable[[float], float], x: float, h: float = 1e-5) -> float:
    """The central difference ``(f(x + h) - f(x - h)) / (2h)`` of a scalar function at ``x``.

    Its error is O(h**2): the h-terms of the two Taylor expansions cancel.
    Introduced in notebook 03.
    """
    _check_function(f)
    x, h = _check_scalar_x(x), _check_step(h)
    return float((f(x + h) - f(x - h)) / (2.0 * h))


def forward_difference(f: Callable[[float], float], x: float, h: float = 1e-5) -> float:
    """The forward difference ``(f(x + h) - f(x)) / h`` of a scalar function at ``x`` (error O(h)).

    Shown in notebook 03 next to :func:`central_difference` to see why the central one is preferred.
    """
    _check_function(f)
    x, h = _check_scalar_x(x), _check_step(h)
    return float((f(x + h) - f(x)) / h)


def numerical_grad(
    f: Callable[[Any], Any], params: Any, *, eps: float | None = None, float64: bool = True
) -> Any:
    """The gradient of a scalar function ``f(params)`` by central differences, entry by entry.

    ``params`` is an array of any shape (or a pytree of arrays, such as a dict of
    weights); the result has the same structure and shapes, as NumPy float64 arrays.
    Each entry costs two calls of ``f``, so this is for checking small problems,
    not for training.

    Args:
        f: a function of ``params`` returning a scalar.
        params: ``[...]`` array, or a pytree of arrays.
        eps: the step; defaults to 1e-6 in float64 and 1e-3 in float32 (about the
            cube root of the machine epsilon, where rounding and truncation errors balance).
        float64: evaluate ``f`` in double precision (inside ``jax.enable_x64``). Strongly
            advised for gradient checks: in float32, agreement is only to about 1e-3.

    Introduced in notebook 03.
    """
    _check_function(f)
    if not isinstance(float64, bool):
        raise TypeError(f"float64 should be True or False, got {type(float64).__name__}.")
    eps = (1e-6 if float64 else 1e-3) if eps is None else _check_step(eps)
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError(
            "params is empty: pass an array (or a dict of arrays) to differentiate with respect to."
        )
    for leaf in leaves:
        if isinstance(leaf, (str, bytes)) or np.asarray(leaf).dtype.kind not in "iuf":
            raise TypeError(f"params should hold real numeric arrays, got {type(leaf).__name__}.")
    dtype = np.float64 if float64 else np.float32
    context = jax.enable_x64(True) if float64 else contextlib.nullcontext()
    with context:
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=dtype), params)
        flat, unravel = ravel_pytree(params)  # flat: [P]
        base = np.asarray(flat, dtype=dtype)
        grad = np.zeros(base.shape, dtype=np.float64)
        for i in range(base.size):
            step = np.zeros_like(base)
            step[i] = eps
            f_plus = _scalar(f(unravel(jnp.asarray(base + step))))
            f_minus = _scalar(f(unravel(jnp.asarray(base - step))))
            grad[i] = (f_plus - f_minus) / (2.0 * eps)
        out = unravel(jnp.asarray(grad, dtype=dtype))
    return jax.tree_util.tree_map(lambda a: np.asarray(a, dtype=np.float64), out)


def _scalar(value: Any) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(
            f"f should return a scalar (a loss), got shape {arr.shape}: reduce with mean() or sum()."
        )
    return float(arr.reshape(()))


def max_relative_error(a: Any, b: Any, *, floor: float = 1e-8) -> float:
    """The largest ``|a - b| / max(|a|, |b|, floor)`` over all entries of two gradients.

    ``a`` and ``b`` are arrays of the same shape, or pytrees of them with the same
    structure (e.g. two gradient dicts). ``floor`` keeps entries where both are
    (nearly) zero from dividing by zero. About 1e-7 or less means two float64
    gradients agree; 1e-2 or more usually means a bug. Introduced in notebook 03.
    """
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not floor > 0:
        raise ValueError(f"floor should be a small positive number, got {floor!r}.")
    a_leaves, a_tree = jax.tree_util.tree_flatten(a)
    b_leaves, b_tree = jax.tree_util.tree_flatten(b)
    if a_tree != b_tree:
        raise ValueError(f"the two gradients have different structures: {a_tree} vs {b_tree}.")
    if not a_leaves:
        raise ValueError("the gradients are empty: nothing to compare.")
    worst = 0.0
    for x, y in zip(a_leaves, b_leaves):
        try:
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"gradients should be numeric arrays, got {type(x).__name__} and {type(y).__name__}."
            ) from None
        if x.shape != y.shape:
            raise ValueError(
                f"shapes differ: {x.shape} vs {y.shape}; compare gradients of the same parameter."
            )
        if x.size == 0:
            continue
        scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), floor)
        worst = max(worst, float(np.max(np.abs(x - y) / scale)))
    return worst


def step_size_errors(
    f: Callable[[Any], Any],
    dfdx: float,
    x: float,
    steps: Sequence[float],
    *,
    dtype: Any = np.float64,
) -> dict[str, np.ndarray]:
    """Absolute errors of the forward and central differences of ``f`` at ``x`` for each step h.

    ``f`` is evaluated on scalars of ``dtype`` (``np.float32`` or ``np.float64``; use a
    NumPy function such as ``np.sin`` so the dtype is kept); ``dfdx`` is the exact
    derivative. Returns ``{"forward": [S], "central": [S]}``. Small h loses to rounding,
    large h to truncation: the plot of error against h is a V. Introduced in notebook 03.
    """
    _check_function(f)
    x, dfdx = _check_scalar_x(x), _check_scalar_x(dfdx)
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype should be np.float32 or np.float64, got {dtype!r}.")
    hs = [_check_step(h) for h in steps]
    if not hs:
        raise ValueError("steps is empty: pass step sizes such as np.logspace(-12, -1, 23).")
    t = np.dtype(dtype).type
    xs = t(x)
    forward, central = [], []
    for h in hs:
        hh = t(h)
        f0, fp, fm = f(xs), f(t(xs + hh)), f(t(xs - hh))
        forward.append(abs(float((fp - f0) / hh) - dfdx))
        central.append(abs(float((fp - fm) / (t(2) * hh)) - dfdx))
    return {"forward": np.array(forward), "central": np.array(central)}


def init_two_layer(
    d_in: int, d_hidden: int, d_out: int = 1, *, key: jax.Array, dtype: Any = jnp.float32
) -> dict[str, jax.Array]:
    """Random parameters of the 2-layer tanh network (scaled normal weights, zero biases).

    Returns ``{"W1": [d_in, d_hidden], "b1": [d_hidden], "W2": [d_hidden, d_out], "b2": [d_out]}``.
    Introduced in notebook 03.
    """
    for name, value in (("d_in", d_in), ("d_hidden", d_hidden), ("d_out", d_out)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} should be an int, got {type(value).__name__}.")
        if value < 1:
            raise ValueError(f"{name} should be at least 1, got {value}.")
    _check_key(key)
    k1, k2 = jax.random.split(key)
    return {
        "W1": jax.random.normal(k1, (d_in, d_hidden), dtype) / math.sqrt(d_in),  # [D, H]
        "b1": jnp.zeros((d_hidden,), dtype),  # [H]
        "W2": jax.random.normal(k2, (d_hidden, d_out), dtype) / math.sqrt(d_hidden),  # [H, O]
        "b2": jnp.zeros((d_out,), dtype),  # [O]
    }


def _check_key(key: Any) -> None:
    if not isinstance(key, jax.Array):
        raise TypeError(
            f"key should be a JAX PRNG key such as jax.random.key(0), got {type(key).__name__}."
        )


def _check_net(params: Any, x: Any, y: Any | None = None) -> None:
    if not isinstance(params, dict) or set(params) != set(_PARAM_NAMES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise TypeError(
            f"params should be a dict with keys {list(_PARAM_NAMES)} (see init_two_layer), got {got}."
        )
    w1, b1, w2, b2 = (jnp.shape(params[k]) for k in _PARAM_NAMES)
    if len(w1) != 2 or len(w2) != 2 or b1 != (w1[1],) or b2 != (w2[1],) or w2[0] != w1[1]:
        raise ValueError(
            f"inconsistent parameter shapes W1 {w1}, b1 {b1}, W2 {w2}, b2 {b2}: "
            "expected W1 [D, H], b1 [H], W2 [H, O], b2 [O]."
        )
    if jnp.ndim(x) != 2 or jnp.shape(x)[1] != w1[0]:
        raise ValueError(f"x should have shape [B, {w1[0]}], got {jnp.shape(x)}.")
    if y is not None and jnp.shape(y) != (jnp.shape(x)[0], w2[1]):
        raise ValueError(
            f"y should have shape [B, O] = {(jnp.shape(x)[0], w2[1])}, got {jnp.shape(y)}."
        )


def two_layer_forward(params: dict[str, jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The network's forward pass: returns ``(yhat [B, O], h [B, H])``; ``x`` is ``[B, D]``.

    The hidden activations ``h`` are returned because the backward pass reuses them.
    Introduced in notebook 03.
    """
    _check_net(params, x)
    h = jnp.tanh(x @ params["W1"] + params["b1"][None, :])  # [B, H]
    yhat = h @ params["W2"] + params["b2"][None, :]  # [B, O]
    return yhat, h


def two_layer_loss(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of the network on ``x [B, D]`` against ``y [B, O]``; a scalar.

    The function to hand to ``jax.grad`` or :func:`numerical_grad`. Introduced in notebook 03.
    """
    _check_net(params, x, y)
    yhat, _ = two_layer_forward(params, x)
    return jnp.mean((yhat - y) ** 2)


def two_layer_grads(
    params: dict[str, jax.Array], x: jax.Array, y: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The loss and its gradient with respect to every parameter, by the chain rule written out by hand.

    Returns ``(loss, grads)`` with ``grads`` shaped like ``params``. Each line of the
    backward pass is one application of the chain rule, from the loss back to the input:

        dL/dyhat = 2 (yhat - y) / (B * O)        # [B, O]
        dL/dW2   = h^T @ dL/dyhat                # [H, O]
        dL/db2   = sum over the batch of dL/dyhat  # [O]
        dL/dh    = dL/dyhat @ W2^T               # [B, H]
        dL/dz1   = dL/dh * (1 - h**2)            # [B, H]  tanh'(z) = 1 - tanh(z)**2
        dL/dW1   = x^T @ dL/dz1                  # [D, H]
        dL/db1   = sum over the batch of dL/dz1    # [H]

    Introduced in notebook 03, where it is checked against ``jax.grad`` and :func:`numerical_grad`.
    """
    _check_net(params, x, y)
    yhat, h = two_layer_forward(params, x)  # [B, O], [B, H]
    loss = jnp.mean((yhat - y) ** 2)
    d_yhat = 2.0 * (yhat - y) / yhat.size  # [B, O]
    d_w2 = h.T @ d_yhat  # [H, O]
    d_b2 = d_yhat.sum(axis=0)  # [O]
    d_h = d_yhat @ params["W2"].T  # [B, H]
    d_z1 = d_h * (1.0 - h**2)  # [B, H]
    d_w1 = x.T @ d_z1  # [D, H]
    d_b1 = d_z1.sum(axis=0)  # [H]
    return loss, {"W1": d_w1, "b1": d_b1, "W2": d_w2, "b2": d_b2}
