"""Gradient descent from scratch on linear regression, and its relatives: SGD, momentum, Adam.

Introduced in notebook 04. The problem is least squares, small enough to see whole:

    X: [N, P] design matrix (features, then a column of ones for the bias)
    y: [N] targets
    theta: [P] parameters;  loss(theta) = mean((X @ theta - y) ** 2)

Its exact minimiser is known (:func:`least_squares`), so every optimiser can be
judged by how close it gets. Every optimiser here is a pure function under one
``jax.jit``, with ``lax.scan`` over the steps, and returns a :class:`Trajectory`:
the parameters before the first step and after each step, and the full-data loss
at each of them, as arrays ready to plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

__all__ = [
    "DescentConfig",
    "Regression",
    "Trajectory",
    "make_regression",
    "mse_loss",
    "mse_grad",
    "least_squares",
    "max_stable_learning_rate",
    "gd_step",
    "momentum_step",
    "gradient_descent",
    "learning_rate_sweep",
    "sgd",
    "optax_descent",
    "descend",
    "loss_surface",
]

_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class DescentConfig:
    """Hyperparameters of one optimisation run on the regression problem (see :func:`descend`).

    Introduced in notebook 04.
    """

    learning_rate: float = 0.1  # eta: step size, parameter change per unit of gradient
    steps: int = 100  # number of parameter updates (one mini-batch each)
    batch_size: int | None = None  # examples per gradient estimate; None = all N (full-batch GD)
    momentum: float = 0.0  # beta in [0, 1): share of the previous velocity kept; 0 = plain (S)GD
    optimizer: str = (
        "sgd"  # "sgd": from scratch, with `momentum` above; "adam": optax.adam(learning_rate)
    )

    def __post_init__(self):
        _check_lr(self.learning_rate)
        _check_count(self.steps, "steps")
        if self.batch_size is not None:
            _check_count(self.batch_size, "batch_size")
        _check_beta(self.momentum)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer should be one of {_OPTIMIZERS}, got {self.optimizer!r}.")
        if self.optimizer == "adam" and self.momentum != 0.0:
            raise ValueError("momentum applies to optimizer='sgd'; Adam has its own (b1 = 0.9).")


class Regression(NamedTuple):
    """A synthetic linear-regression problem (see :func:`make_regression`)."""

    X: jax.Array  # [N, P] features, last column all ones (the bias input)
    y: jax.Array  # [N] targets
    true_params: jax.Array  # [P] the parameters the data was generated with


class Trajectory(NamedTuple):
    """One optimisation run: where the parameters went and what the loss was there."""

    params: jax.Array  # [T + 1, P] parameters before the first step, then after each step
    losses: jax.Array  # [T + 1] full-data MSE at each of those parameters


# ----------------------------------------------------------------------------- validation
def _check_lr(lr: Any, name: str = "learning_rate") -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)):
        raise TypeError(f"{name} should be a float, got {type(lr).__name__}.")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{name} should be positive and finite, got {lr}: try 0.1.")
    return float(lr)


def _check_count(n: Any, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} should be an int, got {type(n).__name__}.")
    if n < 1:
        raise ValueError(f"{name} should be at least 1, got {n}.")
    return int(n)


def _check_beta(beta: Any) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.floating)):
        raise TypeError(f"momentum should be a float in [0, 1), got {type(beta).__name__}.")
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"momentum should be in [0, 1), got {beta}: 0.9 is usual, 0 turns it off.")
    return float(beta)


def _check_key(key: Any) -> None:
    if not isinstance(key, jax.Array):
        raise TypeError(
            f"key should be a JAX PRNG key such as jax.random.key(0), got {type(key).__name__}."
        )


def _as_float_array(a: Any, name: str) -> jax.Array:
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} should be a numeric array, got {type(a).__name__}.")
    try:
        arr = jnp.asarray(a)
    except TypeError:
        raise TypeError(f"{name} should be a numeric array, got {type(a).__name__}.") from None
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise TypeError(f"{name} should be a real numeric array, got dtype {arr.dtype}.")
    return (
        arr.astype(jnp.result_type(float)) if not jnp.issubdtype(arr.dtype, jnp.floating) else arr
    )


def _check_data(X: Any, y: Any) -> tuple[jax.Array, jax.Array]:
    X, y = _as_float_array(X, "X"), _as_float_array(y, "y")
    if X.ndim != 2:
        raise ValueError(f"X should be a design matrix [N, P], got shape {X.shape}.")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y should have shape [N] = ({X.shape[0]},) to match X {X.shape}, got {y.shape}."
        )
    if X.shape[0] == 0:
        raise ValueError("X has no rows: the regression needs at least one example.")
    return X, y


def _check_problem(theta: Any, X: Any, y: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    X, y = _check_data(X, y)
    theta = _as_float_array(theta, "theta")
    if theta.shape != (X.shape[1],):
        raise ValueError(
            f"theta should have shape [P] = ({X.shape[1]},) to match X {X.shape}, got {theta.shape}."
        )
    return theta, X, y


# ----------------------------------------------------------------------------- the problem
def make_regression(
    n: int,
    *,
    key: jax.Array,
    true_params: Sequence[float] = (2.0, -1.0),
    noise: float = 0.5,
    x_mean: float = 1.0,
    x_std: float = 1.0,
) -> Regression:
    """``n`` noisy examples of ``y = X @ true_params``; the last parameter is the bias.

    The ``P - 1`` features are drawn from N(x_mean, x_std^2); a nonzero mean couples
    slope and bias, which stretches the loss contours into ellipses (the interesting case
    for gradient descent). ``noise`` is the standard deviation of the Gaussian noise on y.
    Returns :class:`Regression` with ``X [n, P]``, ``y [n]``. Introduced in notebook 04.
    """
    _check_count(n, "n")
    _check_key(key)
    theta = _as_float_array(true_params, "true_params")
    if theta.ndim != 1 or theta.shape[0] < 1:
        raise ValueError(
            f"true_params should be a flat list of at least one number (the bias), got shape {theta.shape}."
        )
    for name, value in (("noise", noise), ("x_mean", x_mean), ("x_std", x_std)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise TypeError(f"{name} should be a finite float, got {value!r}.")
    if noise < 0 or x_std <= 0:
        raise ValueError(f"noise should be >= 0 and x_std > 0, got noise={noise}, x_std={x_std}.")
    k_x, k_noise = jax.random.split(key)
    features = x_mean + x_std * jax.random.normal(k_x, (n, theta.shape[0] - 1))  # [N, P-1]
    X = jnp.concatenate([features, jnp.ones((n, 1))], axis=1)  # [N, P]
    y = X @ theta + noise * jax.random.normal(k_noise, (n,))  # [N]
    return Regression(X, y, theta)


def _loss(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((X @ theta - y) ** 2)


def _grad(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    return 2.0 / X.shape[0] * (X.T @ (X @ theta - y))  # [P]


def mse_loss(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """``mean((X @ theta - y) ** 2)``: a scalar. ``theta [P]``, ``X [N, P]``, ``y [N]``. Notebook 04."""
    theta, X, y = _check_problem(theta, X, y)
    return _loss(theta, X, y)


def mse_grad(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """The gradient of :func:`mse_loss` by hand: ``2/N X^T (X theta - y)``, shape ``[P]``. Notebook 04."""
    theta, X, y = _check_problem(theta, X, y)
    return _grad(theta, X, y)


def least_squares(X: jax.Array, y: jax.Array) -> jax.Array:
    """The exact minimiser of the MSE, ``argmin_theta |X theta - y|^2`` (normal equations), shape ``[P]``.

    Solved with ``jnp.linalg.lstsq`` (stable even when ``X^T X`` is badly conditioned).
    The target every optimiser in notebook 04 is measured against.
    """
    X, y = _check_data(X, y)
    return jnp.linalg.lstsq(X, y)[0]


def max_stable_learning_rate(X: jax.Array) -> float:
    """The largest learning rate at which full-batch GD on the MSE converges: ``2 / lambda_max``.

    The loss is quadratic with Hessian ``H = 2/N X^T X``; one GD step multiplies the
    error along each eigenvector of H by ``1 - eta * lambda``, which shrinks only
    while ``eta < 2 / lambda_max``. Introduced in notebook 04.
    """
    X = _as_float_array(X, "X")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X should be a non-empty design matrix [N, P], got shape {X.shape}.")
    hessian = 2.0 / X.shape[0] * (X.T @ X)  # [P, P]
    return float(2.0 / jnp.linalg.eigvalsh(hessian)[-1])


# ----------------------------------------------------------------------------- update rules
def gd_step(theta: jax.Array, grad: jax.Array, learning_rate: float) -> jax.Array:
    """One gradient-descent update, ``theta - learning_rate * grad``: a step *down* the slope.

    ``theta`` and ``grad`` are ``[P]``. Introduced in notebook 04.
    """
    if jnp.shape(theta) != jnp.shape(grad):
        raise ValueError(
            f"theta {jnp.shape(theta)} and grad {jnp.shape(grad)} should have the same shape."
        )
    return theta - learning_rate * grad


def momentum_step(
    theta: jax.Array, velocity: jax.Array, grad: jax.Array, learning_rate: float, beta: float
) -> tuple[jax.Array, jax.Array]:
    """One heavy-ball momentum update: ``v = beta * v + grad``; ``theta = theta - learning_rate * v``.

    Returns ``(theta, velocity)``, both ``[P]``. With ``beta = 0`` it is :func:`gd_step`.
    Introduced in notebook 04.
    """
    if not (jnp.shape(theta) == jnp.shape(velocity) == jnp.shape(grad)):
        raise ValueError(
            f"theta {jnp.shape(theta)}, velocity {jnp.shape(velocity)} and grad "
            f"{jnp.shape(grad)} should have the same shape."
        )
    velocity = beta * velocity + grad
    return theta - learning_rate * velocity, velocity


# ----------------------------------------------------------------------------- optimisers
def _trajectory(theta0: jax.Array, thetas: jax.Array, X: jax.Array, y: jax.Array) -> Trajectory:
    params = jnp.concatenate([theta0[None, :], thetas], axis=0)  # [T+1, P]
    losses = jax.vmap(_loss, in_axes=(0, None, None))(params, X, y)  # [T+1]
    return Trajectory(params, losses)


@partial(jax.jit, static_argnames=("steps", "update"))
def _gd_run(theta0, X, y, learning_rate, *, steps, update):
    def body(theta, _):
        theta = update(theta, _grad(theta, X, y), learning_rate)
        return theta, theta

    _, thetas = lax.scan(body, theta0, None, length=steps)  # [T, P]
    return _trajectory(theta0, thetas, X, y)


def gradient_descent(
    theta0: jax.Array,
    X: jax.Array,
    y: jax.Array,
    *,
    learning_rate: float,
    steps: int,
    update: Callable[[jax.Array, jax.Array, float], jax.Array] = gd_step,
) -> Trajectory:
    """Full-batch gradient descent on the MSE, ``steps`` updates from ``theta0 [P]``.

    ``update(theta, grad, learning_rate) -> theta`` is the update rule (default
    :func:`gd_step`); pass your own to try it, bugs included. The whole run is one
    jitted ``lax.scan``. Returns a :class:`Trajectory` (``params [T+1, P]``,
    ``losses [T+1]``). Introduced in notebook 04.
    """
    theta0, X, y = _check_problem(theta0, X, y)
    lr = _check_lr(learning_rate)
    steps = _check_count(steps, "steps")
    if not callable(update):
        raise TypeError(
            f"update should be a function (theta, grad, learning_rate) -> theta, got {type(update).__name__}."
        )
    out = jax.eval_shape(update, theta0, theta0, lr)
    if getattr(out, "shape", None) != theta0.shape:
        raise ValueError(
            f"update should return the new theta with shape {theta0.shape}, got "
            f"{getattr(out, 'shape', type(out).__name__)}."
        )
    return _gd_run(theta0, X, y, jnp.asarray(lr, theta0.dtype), steps=steps, update=update)


def learning_rate_sweep(
    theta0: jax.Array, X: jax.Array, y: jax.Array, *, learning_rates: Sequence[float], steps: int
) -> Trajectory:
    """Full-batch GD once per learning rate, all runs at once under ``vmap``.

    Returns a :class:`Trajectory` with a leading axis over the rates: ``params [L, T+1, P]``,
    ``losses [L, T+1]``. A diverging rate gives huge (possibly inf) losses rather than an
    error. Introduced in notebook 04.
    """
    theta0, X, y = _check_problem(theta0, X, y)
    if isinstance(learning_rates, (str, bytes)) or not isinstance(
        learning_rates, (Sequence, np.ndarray, jax.Array)
    ):
        raise TypeError(
            f"learning_rates should be a list of floats, got {type(learning_rates).__name__}."
        )
    rates = [
        _check_lr(float(r) if isinstance(r, (np.generic, jax.Array)) else r, "each learning rate")
        for r in learning_rates
    ]
    if not rates:
        raise ValueError("learning_rates is empty: pass e.g. [0.01, 0.1, 0.5].")
    steps = _check_count(steps, "steps")
    run = jax.vmap(lambda lr: _gd_run(theta0, X, y, lr, steps=steps, update=gd_step))
    return run(jnp.asarray(rates, theta0.dtype))


def _minibatch_grad(theta, X, y, key, batch_size):
    """The MSE gradient on ``batch_size`` distinct examples drawn with ``key`` (None: all of them)."""
    if batch_size is None:
        return _grad(theta, X, y)
    idx = jax.random.choice(key, X.shape[0], (batch_size,), replace=False)  # [B] distinct examples
    return _grad(theta, X[idx], y[idx])


@partial(jax.jit, static_argnames=("steps", "batch_size"))
def _sgd_run(theta0, X, y, learning_rate, beta, keys, *, steps, batch_size):
    def body(carry, key):
        theta, velocity = carry
        g = _minibatch_grad(theta, X, y, key, batch_size)
        theta, velocity = momentum_step(theta, velocity, g, learning_rate, beta)
        return (theta, velocity), theta

    _, thetas = lax.scan(body, (theta0, jnp.zeros_like(theta0)), keys, length=steps)
    return _trajectory(theta0, thetas, X, y)


def _batch_keys(batch_size: int | None, key: jax.Array | None, n: int, steps: int):
    """Validated ``batch_size`` and one key per step (unused when the batch is all ``n`` examples)."""
    if batch_size is not None:
        batch_size = _check_count(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(
                f"batch_size {batch_size} is larger than the {n} examples; use at most N, or None."
            )
        if key is None:
            raise ValueError("mini-batches are random: pass key=jax.random.key(SEED).")
    if key is not None:
        _check_key(key)
    return batch_size, jax.random.split(key if key is not None else jax.random.key(0), steps)


def sgd(
    theta0: jax.Array,
    X: jax.Array,
    y: jax.Array,
    *,
    learning_rate: float,
    steps: int,
    batch_size: int | None = None,
    momentum: float = 0.0,
    key: jax.Array | None = None,
) -> Trajectory:
    """(Stochastic) gradient descent with optional mini-batches and heavy-ball momentum, from scratch.

    Each step estimates the gradient on ``batch_size`` examples drawn without replacement
    (``None``: all of them, which is plain GD) and applies :func:`momentum_step` with
    ``beta = momentum`` (0: no momentum). Mini-batches need ``key``; the same key gives
    the same run. Returns a :class:`Trajectory` whose losses are on the full data.
    Introduced in notebook 04.
    """
    theta0, X, y = _check_problem(theta0, X, y)
    lr = _check_lr(learning_rate)
    steps = _check_count(steps, "steps")
    beta = _check_beta(momentum)
    batch_size, keys = _batch_keys(batch_size, key, X.shape[0], steps)
    return _sgd_run(
        theta0,
        X,
        y,
        jnp.asarray(lr, theta0.dtype),
        jnp.asarray(beta, theta0.dtype),
        keys,
        steps=steps,
        batch_size=batch_size,
    )


@partial(jax.jit, static_argnames=("optimizer", "steps", "batch_size"))
def _optax_run(theta0, X, y, keys, *, optimizer, steps, batch_size):
    def body(carry, key):
        theta, opt_state = carry
        g = _minibatch_grad(theta, X, y, key, batch_size)
        updates, opt_state = optimizer.update(g, opt_state, theta)
        theta = optax.apply_updates(theta, updates)
        return (theta, opt_state), theta

    _, thetas = lax.scan(body, (theta0, optimizer.init(theta0)), keys, length=steps)
    return _trajectory(theta0, thetas, X, y)


def optax_descent(
    theta0: jax.Array,
    X: jax.Array,
    y: jax.Array,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    batch_size: int | None = None,
    key: jax.Array | None = None,
) -> Trajectory:
    """Minimise the MSE with an Optax optimiser, e.g. ``optax.adam(0.1)``; otherwise like :func:`sgd`.

    ``optimizer`` is any ``optax.GradientTransformation`` (``init``, ``update``). Mini-batches
    (``batch_size``) need ``key``. Returns a :class:`Trajectory`. Introduced in notebook 04.
    """
    theta0, X, y = _check_problem(theta0, X, y)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(
            f"optimizer should be an optax optimizer such as optax.adam(0.1), got {type(optimizer).__name__}."
        )
    steps = _check_count(steps, "steps")
    batch_size, keys = _batch_keys(batch_size, key, X.shape[0], steps)
    return _optax_run(theta0, X, y, keys, optimizer=optimizer, steps=steps, batch_size=batch_size)


def descend(
    theta0: jax.Array,
    X: jax.Array,
    y: jax.Array,
    config: DescentConfig,
    *,
    key: jax.Array | None = None,
) -> Trajectory:
    """Run the optimiser that ``config`` (:class:`DescentConfig`) describes; returns a :class:`Trajectory`.

    ``"sgd"`` runs :func:`sgd` (mini-batches, momentum); ``"adam"`` runs :func:`optax_descent`
    with ``optax.adam(config.learning_rate)``. Introduced in notebook 04.
    """
    if not isinstance(config, DescentConfig):
        raise TypeError(f"config should be a DescentConfig, got {type(config).__name__}.")
    if config.optimizer == "adam":
        return optax_descent(
            theta0,
            X,
            y,
            optax.adam(config.learning_rate),
            steps=config.steps,
            batch_size=config.batch_size,
            key=key,
        )
    return sgd(
        theta0,
        X,
        y,
        learning_rate=config.learning_rate,
        steps=config.steps,
        batch_size=config.batch_size,
        momentum=config.momentum,
        key=key,
    )


def loss_surface(X: jax.Array, y: jax.Array, w_values: Any, b_values: Any) -> jax.Array:
    """The MSE on a grid of two parameters ``(w, b)``: ``[len(b_values), len(w_values)]``, for contour plots.

    Needs ``X [N, 2]`` (one feature and the bias column). Row ``i``, column ``j`` is the
    loss at ``theta = (w_values[j], b_values[i])``. Introduced in notebook 04.
    """
    X, y = _check_data(X, y)
    if X.shape[1] != 2:
        raise ValueError(
            f"a loss surface needs exactly two parameters (X [N, 2]), got X {X.shape}."
        )
    w = _as_float_array(w_values, "w_values")
    b = _as_float_array(b_values, "b_values")
    if w.ndim != 1 or b.ndim != 1 or w.size < 2 or b.size < 2:
        raise ValueError(
            f"w_values and b_values should be 1-D grids of at least 2 points, got {w.shape} and {b.shape}."
        )
    thetas = jnp.stack(jnp.meshgrid(w, b), axis=-1)  # [Gb, Gw, 2]
    flat = thetas.reshape(-1, 2)  # [Gb * Gw, 2]
    losses = jax.vmap(_loss, in_axes=(0, None, None))(flat, X, y)  # [Gb * Gw]
    return losses.reshape(b.shape[0], w.shape[0])
