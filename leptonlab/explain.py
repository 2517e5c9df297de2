"""Explaining and attacking an image classifier: saliency, integrated gradients, FGSM (notebook 18).

Every function takes the classifier as a function ``fn(x: [B, H, W, C]) -> logits [B, K]``
of its input alone; :func:`as_function` turns a trained :class:`~leptonlab.train.TrainState`
(or an NNX model) into one, in evaluation mode and compiled. Attributions have the shape
of the input.

- :func:`saliency`: the gradient of the class logit with respect to the pixels.
- :func:`integrated_gradients`: the path integral of that gradient from a baseline image
  to the input, times (input - baseline); its attributions add up to
  ``f(x) - f(baseline)`` (completeness), which :func:`completeness_gap` measures.
- :func:`fgsm`: the fast gradient sign attack, ``x + eps * sign(grad_x loss)``.
- :func:`adversarial_loss`: a loss function for :func:`leptonlab.train.fit` that trains on
  FGSM examples made on the fly (adversarial training).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

LogitFn = Callable[[jax.Array], jax.Array]


def as_function(model) -> LogitFn:
    """``x: [B, ...] -> logits [B, K]`` float32 of a trained model in evaluation mode, jitted.

    ``model`` is a :class:`~leptonlab.train.TrainState` (what ``fit`` returns) or an NNX
    module. The function is pure in ``x``, so ``jax.grad`` can differentiate through it.
    """
    from leptonlab.train import TrainState

    if isinstance(model, TrainState):
        graphdef, state = model.graphdef, (model.params, model.rest)
    elif isinstance(model, nnx.Module):
        graphdef, *rest = nnx.split(model, nnx.Param, ...)
        state = tuple(rest)
    else:
        raise TypeError(
            f"as_function needs a TrainState or a flax.nnx.Module, got {type(model).__name__}."
        )

    @jax.jit
    def logits(state, x):
        module = nnx.merge(graphdef, *state)
        module.eval()
        return module(x).astype(jnp.float32)  # [B, K]

    return lambda x: logits(state, x)


def _check_fn(fn) -> None:
    if not callable(fn):
        raise TypeError(
            f"fn must be a function x -> logits [B, K] (see explain.as_function), got {type(fn).__name__}."
        )


def _images(x, name: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0 or not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(
            f"{name} must be a non-empty float batch [B, ...] (scale images with data.to_float), "
            f"got shape {x.shape} and dtype {x.dtype}."
        )
    return x


def _targets(target, batch: int) -> jax.Array:
    t = jnp.asarray(target)
    if t.ndim == 0:
        t = jnp.full((batch,), t)
    if t.shape != (batch,) or not jnp.issubdtype(t.dtype, jnp.integer):
        raise ValueError(
            f"target must be an int class or [B] int classes for B = {batch}, "
            f"got shape {t.shape} and dtype {t.dtype}."
        )
    return t


def _class_logit(fn: LogitFn, x: jax.Array, target: jax.Array) -> jax.Array:
    """Sum over the batch of each example's target logit: its gradient is per-example."""
    logits = fn(x)  # [B, K]
    return jnp.take_along_axis(logits, target[:, None], axis=1).sum()


def saliency(fn: LogitFn, x, target) -> jax.Array:
    """The gradient of the ``target`` logit with respect to the input: ``[B, ...]`` like ``x``.

    ``x: [B, H, W, C]`` float images, ``target``: an int or ``[B]`` ints. Large values mark
    the pixels whose small change moves the class score most. Plot ``|saliency|``, taking
    the maximum over colour channels.
    """
    _check_fn(fn)
    x = _images(x, "x")
    target = _targets(target, x.shape[0])
    return jax.grad(_class_logit, argnums=1)(fn, x, target)


def _baseline(baseline, x: jax.Array) -> jax.Array:
    if baseline is None:
        return jnp.zeros_like(x)  # a black image
    base = jnp.asarray(baseline, x.dtype)
    try:
        return jnp.broadcast_to(base, x.shape)
    except ValueError:
        raise ValueError(
            f"baseline of shape {base.shape} does not broadcast to the input's shape {x.shape}; "
            "pass one image [H, W, C], a batch like x, or a number."
        ) from None


def integrated_gradients(fn: LogitFn, x, target, *, baseline=None, steps: int = 64) -> jax.Array:
    """Integrated gradients (Sundararajan et al. 2017): ``[B, ...]`` attributions like ``x``.

    ``IG_i = (x_i - x'_i) * integral_0^1 d f(x' + a (x - x')) / d x_i  da`` for the
    ``target`` logit ``f``, with the integral by the trapezoid rule over ``steps`` intervals
    along the straight path from ``baseline`` ``x'`` (default: a black image, zeros) to
    ``x``. Completeness: ``sum_i IG_i = f(x) - f(x')`` up to the integration error, which
    shrinks as ``steps`` grows (:func:`completeness_gap`).
    """
    _check_fn(fn)
    x = _images(x, "x")
    target = _targets(target, x.shape[0])
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(
            f"steps must be an int >= 1 (intervals of the path integral), got {steps!r}."
        )
    base = _baseline(baseline, x)
    alphas = jnp.linspace(0.0, 1.0, steps + 1)  # [S + 1]
    weights = (
        jnp.full(steps + 1, 1.0 / steps).at[0].mul(0.5).at[-1].mul(0.5)
    )  # trapezoid rule, sums to 1
    grad_at = jax.grad(_class_logit, argnums=1)

    def accumulate(total, aw):
        alpha, weight = aw
        return total + weight * grad_at(fn, base + alpha * (x - base), target), None

    mean_grad, _ = jax.lax.scan(accumulate, jnp.zeros_like(x), (alphas, weights))  # [B, ...]
    return (x - base) * mean_grad


def completeness_gap(fn: LogitFn, x, target, attributions, *, baseline=None) -> jax.Array:
    """``sum(attributions) - (f(x) - f(baseline))`` per example, ``[B]``: 0 for exact IG.

    Divide by ``|f(x) - f(baseline)|`` for a relative error.
    """
    _check_fn(fn)
    x = _images(x, "x")
    target = _targets(target, x.shape[0])
    attributions = jnp.asarray(attributions)
    if attributions.shape != x.shape:
        raise ValueError(
            f"attributions must have the input's shape {x.shape}, got {attributions.shape}."
        )
    base = _baseline(baseline, x)
    pick = lambda z: jnp.take_along_axis(fn(z), target[:, None], axis=1)[:, 0]  # [B]
    return attributions.reshape(x.shape[0], -1).sum(axis=1) - (pick(x) - pick(base))


def _check_epsilon(epsilon) -> float:
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float))
        or not np.isfinite(epsilon)
        or epsilon < 0
    ):
        raise ValueError(
            f"epsilon must be a number >= 0 (the largest change per pixel), got {epsilon!r}."
        )
    return float(epsilon)


def _fgsm(
    fn: LogitFn, x: jax.Array, y: jax.Array, epsilon, clip: tuple[float, float] | None
) -> jax.Array:
    loss = lambda z: optax.softmax_cross_entropy_with_integer_labels(fn(z), y).sum()
    x_adv = x + epsilon * jnp.sign(
        jax.grad(loss)(x)
    )  # one step up the loss, at most epsilon per pixel
    if clip is not None:
        x_adv = jnp.clip(x_adv, clip[0], clip[1])
    return jax.lax.stop_gradient(x_adv)


def _check_clip(clip):
    if clip is None:
        return None
    if not (isinstance(clip, (tuple, list)) and len(clip) == 2 and clip[0] < clip[1]):
        raise ValueError(
            f"clip must be (low, high) with low < high, e.g. (0.0, 1.0), or None; got {clip!r}."
        )
    return float(clip[0]), float(clip[1])


def fgsm(
    fn: LogitFn, x, y, *, epsilon: float, clip: tuple[float, float] | None = (0.0, 1.0)
) -> jax.Array:
    """Fast gradient sign method (Goodfellow et al. 2015): adversarial images ``[B, ...]``.

    ``x_adv = clip(x + epsilon * sign(grad_x CE(fn(x), y)))``: every pixel moves by exactly
    ``epsilon`` in the direction that raises the loss of the true label ``y: [B]`` int,
    then is clipped to the valid range ``clip`` (``None``: no clipping). ``x: [B, ...]`` float.
    """
    _check_fn(fn)
    epsilon = _check_epsilon(epsilon)
    x = _images(x, "x")
    y = jnp.asarray(y)
    if y.shape != (x.shape[0],) or not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(
            f"y must be [B] int labels for the B = {x.shape[0]} images, got shape {y.shape} "
            f"and dtype {y.dtype}."
        )
    return _fgsm_jit(fn, x, y, jnp.float32(epsilon), _check_clip(clip))


_fgsm_jit = jax.jit(_fgsm, static_argnums=(0, 4))  # epsilon is traced: one compile per (fn, shapes)


def accuracy_under_attack(
    fn: LogitFn,
    x,
    y,
    epsilons: Sequence[float],
    *,
    batch_size: int = 500,
    clip: tuple[float, float] | None = (0.0, 1.0),
) -> np.ndarray:
    """Accuracy on FGSM images for each ``epsilon``: ``[E]`` float (epsilon 0 = clean accuracy).

    ``x: [N, ...]`` float images, ``y: [N]`` int labels, processed ``batch_size`` at a time.
    """
    _check_fn(fn)
    x = _images(x, "x")
    y = jnp.asarray(y)
    if y.shape != (x.shape[0],) or not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(
            f"y must be [N] int labels for the N = {x.shape[0]} images, got {y.shape}, {y.dtype}."
        )
    epsilons = [_check_epsilon(e) for e in epsilons]
    if not epsilons:
        raise ValueError("epsilons must hold at least one value, e.g. [0, 0.01, 0.02].")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    clip = _check_clip(clip)
    out = []
    for eps in epsilons:
        correct = 0
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            x_adv = _fgsm_jit(fn, xb, yb, jnp.float32(eps), clip) if eps > 0 else xb
            correct += int(jnp.sum(jnp.argmax(fn(x_adv), axis=-1) == yb))
        out.append(correct / x.shape[0])
    return np.array(out)


def adversarial_loss(
    epsilon: float, *, clean_weight: float = 0.5, clip: tuple[float, float] | None = (0.0, 1.0)
):
    """A ``loss_fn(model, batch, key)`` for :func:`~leptonlab.train.fit` that trains on FGSM images.

    Each step attacks the current model (``fgsm`` with ``epsilon``, the gradient taken
    through the model in its training mode, with the step's key) and minimises
    ``clean_weight * CE(clean) + (1 - clean_weight) * CE(adversarial)``, the objective of
    Goodfellow et al. (2015). The adversarial images are constants for the parameter
    gradient (``stop_gradient``). Metrics ``loss`` and ``accuracy`` are those of the clean
    batch, so validation curves stay comparable with ordinary training.
    """
    epsilon = _check_epsilon(epsilon)
    if not 0.0 <= clean_weight <= 1.0:
        raise ValueError(f"clean_weight must be in [0, 1], got {clean_weight!r}.")
    clip = _check_clip(clip)

    def loss_fn(model, batch, key):
        x, y = batch
        graphdef, state = nnx.split(model)

        def logits_of(z):  # a fresh copy per call, so batch-norm updates stay inside this trace
            return nnx.merge(graphdef, state)(z, rngs=key).astype(jnp.float32)

        x_adv = _fgsm(logits_of, x, y, epsilon, clip).astype(x.dtype)
        clean = model(x, rngs=key).astype(jnp.float32)  # [B, K]
        adv = model(x_adv, rngs=key).astype(jnp.float32)  # [B, K]
        ce_clean = optax.softmax_cross_entropy_with_integer_labels(clean, y)  # [B]
        ce_adv = optax.softmax_cross_entropy_with_integer_labels(adv, y)  # [B]
        loss = clean_weight * ce_clean.mean() + (1 - clean_weight) * ce_adv.mean()
        correct = (jnp.argmax(clean, axis=-1) == y).astype(jnp.float32)
        return loss, {"loss": ce_clean, "accuracy": correct}

    return loss_fn


__all__ = [  # the public names (explicit re-exports and definitions)
    "accuracy_under_attack",
    "adversarial_loss",
    "as_function",
    "completeness_gap",
    "fgsm",
    "integrated_gradients",
    "saliency",
]
