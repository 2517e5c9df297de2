"""Activation functions and their derivatives, in numerically stable forms.

Every function here is a pure ``jax.numpy`` function: it works on arrays of any
shape (elementwise, or along ``axis`` for softmax), can be jitted, vmapped and
differentiated, and stays finite for inputs as large as ``|x| = 1000`` in
float32. The ``*_naive`` forms are the textbook formulas, kept to show in
notebook 01 how they overflow; do not use them for training.

Introduced in notebook 01 (sigmoid and activations).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "gelu",
    "gelu_derivative",
    "log_softmax",
    "log_softmax_jacobian",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "sigmoid_naive",
    "softmax",
    "softmax_jacobian",
    "softmax_naive",
    "tanh",
    "tanh_derivative",
]

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


# --------------------------------------------------------------------------- validation


def as_float_array(x: Any, *, fn: str, name: str = "x") -> jax.Array:
    """``x`` as a floating JAX array, or a TypeError that says what was passed.

    Accepts JAX arrays (also tracers inside ``jit``), NumPy arrays, Python or
    NumPy numbers and (nested) lists of numbers. Integers and booleans become
    float32; complex numbers and anything non-numeric are refused.
    """
    if isinstance(x, (str, bytes)) or x is None or isinstance(x, (dict, set)):
        raise TypeError(
            f"{fn}() expects {name} as an array of real numbers (jax.Array, NumPy array or float), "
            f"got {type(x).__name__}: convert it first, e.g. jnp.asarray(...)."
        )
    if not isinstance(x, (jax.Array, np.ndarray, np.generic, numbers.Number, list, tuple)):
        raise TypeError(
            f"{fn}() expects {name} as an array of real numbers (jax.Array, NumPy array or float), "
            f"got {type(x).__name__}."
        )
    try:
        arr = jnp.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{fn}() could not turn {name} into a numeric array: {err}") from None
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"{fn}() works on real numbers; {name} has complex dtype {arr.dtype}.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.float32)
    return arr


def _check_axis(axis: Any, ndim: int, *, fn: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(
            f"{fn}() takes axis as an int (e.g. -1 for the last axis), got {type(axis).__name__}."
        )
    if ndim == 0:
        raise ValueError(
            f"{fn}() needs at least a 1-D array of scores; got a scalar. Wrap it: jnp.array([x])."
        )
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{fn}(): axis={axis} is out of range for an array with {ndim} dimension(s)."
        )
    return int(axis) % ndim


# --------------------------------------------------------------------------- sigmoid


def sigmoid(x: Any) -> jax.Array:
    r"""The logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, elementwise, in a stable form.

    Shapes: ``x: [...]`` -> ``[...]`` float, values in [0, 1].

    With :math:`z = e^{-|x|} \in (0, 1]` (it never overflows),
    :math:`\sigma(x) = 1/(1+z)` for :math:`x \ge 0` and :math:`z/(1+z)` for
    :math:`x < 0`. ``-|x|`` is written as ``where(x >= 0, -x, x)`` so that both
    branches of the ``where`` stay finite and the gradient is finite too, even
    at ``|x| = 1000``. Introduced in notebook 01.
    """
    x = as_float_array(x, fn="sigmoid")
    z = jnp.exp(jnp.where(x >= 0, -x, x))  # e^{-|x|}, in (0, 1]
    return jnp.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_naive(x: Any) -> jax.Array:
    r"""The textbook formula :math:`1/(1+e^{-x})`, for teaching only.

    Shapes: ``x: [...]`` -> ``[...]``. For ``x`` below about -88 (float32),
    :math:`e^{-x}` overflows to ``inf``: the value is still 0 by luck, but its
    gradient is ``nan``. Use :func:`sigmoid`. Introduced in notebook 01.
    """
    x = as_float_array(x, fn="sigmoid_naive")
    return 1.0 / (1.0 + jnp.exp(-x))


def sigmoid_derivative(x: Any) -> jax.Array:
    r"""The derivative :math:`\sigma'(x) = \sigma(x)\,(1 - \sigma(x))`, elementwise.

    Shapes: ``x: [...]`` -> ``[...]``, values in (0, 1/4]; it is largest at 0
    and vanishes for large ``|x|``. Introduced in notebook 01.
    """
    s = sigmoid(as_float_array(x, fn="sigmoid_derivative"))
    return s * (1.0 - s)


# --------------------------------------------------------------------------- tanh


def tanh(x: Any) -> jax.Array:
    r"""The hyperbolic tangent :math:`\tanh(x) = (e^{x} - e^{-x})/(e^{x} + e^{-x}) = 2\sigma(2x) - 1`.

    Shapes: ``x: [...]`` -> ``[...]``, values in [-1, 1]. Computed by
    ``jnp.tanh`` (stable for all x). Introduced in notebook 01.
    """
    x = as_float_array(x, fn="tanh")
    return jnp.tanh(x)


def tanh_derivative(x: Any) -> jax.Array:
    r"""The derivative :math:`\tanh'(x) = 1 - \tanh^2(x)`, elementwise.

    Shapes: ``x: [...]`` -> ``[...]``, values in (0, 1]. Introduced in notebook 01.
    """
    t = jnp.tanh(as_float_array(x, fn="tanh_derivative"))
    return 1.0 - t * t


# --------------------------------------------------------------------------- ReLU


def relu(x: Any) -> jax.Array:
    r"""The rectified linear unit :math:`\mathrm{relu}(x) = \max(x, 0)`, elementwise.

    Shapes: ``x: [...]`` -> ``[...]``. Written with ``where(x > 0, x, 0)`` so
    that ``jax.grad`` gives 0 at ``x = 0``, the usual convention (``max`` would
    give 1/2). Introduced in notebook 01.
    """
    x = as_float_array(x, fn="relu")
    return jnp.where(x > 0, x, jnp.zeros_like(x))


def relu_derivative(x: Any) -> jax.Array:
    r"""The derivative of ReLU: 1 where ``x > 0``, else 0 (0 at ``x = 0`` by convention).

    Shapes: ``x: [...]`` -> ``[...]`` float. Introduced in notebook 01.
    """
    x = as_float_array(x, fn="relu_derivative")
    return (x > 0).astype(x.dtype)


# --------------------------------------------------------------------------- GELU


def _check_approximate(approximate: Any, fn: str) -> bool:
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(f"{fn}() takes approximate=True or False, got {approximate!r}.")
    return bool(approximate)


def gelu(x: Any, *, approximate: bool = False) -> jax.Array:
    r"""The Gaussian error linear unit :math:`\mathrm{gelu}(x) = x\,\Phi(x)`, elementwise.

    Shapes: ``x: [...]`` -> ``[...]``. :math:`\Phi` is the standard normal CDF,
    :math:`\Phi(x) = \tfrac12(1 + \mathrm{erf}(x/\sqrt2))` (``approximate=False``,
    the definition, PyTorch's default). With ``approximate=True`` it uses
    :math:`\tfrac12 x(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))` (GPT-2's form and
    the default of ``jax.nn.gelu``). Introduced in notebook 01.
    """
    approximate = _check_approximate(approximate, "gelu")
    x = as_float_array(x, fn="gelu")
    if approximate:
        inner = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)
        return 0.5 * x * (1.0 + jnp.tanh(inner))
    return 0.5 * x * (1.0 + jax.lax.erf(x / _SQRT_2))


def gelu_derivative(x: Any, *, approximate: bool = False) -> jax.Array:
    r"""The derivative of :func:`gelu`, elementwise.

    Shapes: ``x: [...]`` -> ``[...]``. Exact form:
    :math:`\Phi(x) + x\,\varphi(x)` with :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`.
    With ``approximate=True``, the derivative of the tanh form:
    :math:`\tfrac12(1+\tanh u) + \tfrac12 x (1-\tanh^2 u)\sqrt{2/\pi}(1 + 3\cdot0.044715x^2)`,
    :math:`u = \sqrt{2/\pi}(x + 0.044715x^3)`. Introduced in notebook 01.
    """
    approximate = _check_approximate(approximate, "gelu_derivative")
    x = as_float_array(x, fn="gelu_derivative")
    if approximate:
        t = jnp.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
    cdf = 0.5 * (1.0 + jax.lax.erf(x / _SQRT_2))
    pdf = jnp.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


# --------------------------------------------------------------------------- softmax


def softmax(x: Any, axis: int = -1) -> jax.Array:
    r"""The softmax :math:`\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}` along ``axis``, stable.

    Shapes: ``x: [..., C]`` -> ``[..., C]`` (for the default ``axis=-1``); the
    entries along ``axis`` are positive and sum to 1. Subtracting
    :math:`m = \max_j x_j` first changes nothing mathematically
    (:math:`e^{x_i - m}/\sum_j e^{x_j - m}`) but keeps every exponent
    :math:`\le 0`, so nothing overflows. Introduced in notebook 01.
    """
    x = as_float_array(x, fn="softmax")
    axis = _check_axis(axis, x.ndim, fn="softmax")
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))  # [..., C], <= 0
    e = jnp.exp(shifted)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def softmax_naive(x: Any, axis: int = -1) -> jax.Array:
    r"""The textbook formula :math:`e^{x_i} / \sum_j e^{x_j}`, for teaching only.

    Shapes: ``x: [..., C]`` -> ``[..., C]``. For scores above about 88
    (float32), :math:`e^{x}` overflows to ``inf`` and the result is ``nan``.
    Use :func:`softmax`. Introduced in notebook 01.
    """
    x = as_float_array(x, fn="softmax_naive")
    axis = _check_axis(axis, x.ndim, fn="softmax_naive")
    e = jnp.exp(x)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def log_softmax(x: Any, axis: int = -1) -> jax.Array:
    r"""The log-softmax :math:`x_i - \log\sum_j e^{x_j}` along ``axis``, stable.

    Shapes: ``x: [..., C]`` -> ``[..., C]``, entries :math:`\le 0`. Computed as
    :math:`(x_i - m) - \log\sum_j e^{x_j - m}` with :math:`m = \max_j x_j`
    (the log-sum-exp trick), so it is finite where ``log(softmax(x))`` would
    give ``-inf``. Cross-entropy is built on it (notebook 02). Introduced in notebook 01.
    """
    x = as_float_array(x, fn="log_softmax")
    axis = _check_axis(axis, x.ndim, fn="log_softmax")
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))  # [..., C], <= 0
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def _batched_eye(s: jax.Array) -> jax.Array:
    """The identity matrix broadcast to ``s.shape[:-1] + (C, C)`` (explicit, no rank promotion)."""
    c = s.shape[-1]
    return jnp.broadcast_to(jnp.eye(c, dtype=s.dtype), s.shape[:-1] + (c, c))


def softmax_jacobian(x: Any) -> jax.Array:
    r"""The Jacobian of :func:`softmax` over the last axis: :math:`J_{ij} = s_i(\delta_{ij} - s_j)`.

    Shapes: ``x: [..., C]`` -> ``[..., C, C]``, i.e. ``diag(s) - s s^T`` for
    each row, with :math:`J_{ij} = \partial s_i / \partial x_j`. Each row of
    ``J`` sums to 0 (the outputs always sum to 1). Introduced in notebook 01.
    """
    x = as_float_array(x, fn="softmax_jacobian")
    _check_axis(-1, x.ndim, fn="softmax_jacobian")
    s = softmax(x)  # [..., C]
    eye = _batched_eye(s)  # [..., C, C]
    return s[..., :, None] * eye - s[..., :, None] * s[..., None, :]


def log_softmax_jacobian(x: Any) -> jax.Array:
    r"""The Jacobian of :func:`log_softmax` over the last axis: :math:`J_{ij} = \delta_{ij} - s_j`.

    Shapes: ``x: [..., C]`` -> ``[..., C, C]``, with ``s = softmax(x)``. This is
    why the gradient of cross-entropy with respect to the logits is simply
    ``softmax(x) - onehot(y)`` (notebook 02). Introduced in notebook 01.
    """
    x = as_float_array(x, fn="log_softmax_jacobian")
    _check_axis(-1, x.ndim, fn="log_softmax_jacobian")
    s = softmax(x)  # [..., C]
    eye = _batched_eye(s)  # [..., C, C]
    return eye - s[..., None, :]
