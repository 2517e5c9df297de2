"""Loss functions: how far predictions are from targets, as one number to minimise.

All losses take ``(predictions, targets)`` in that order (like Optax), compute
one loss per element, then reduce it: ``reduction="mean"`` (the default: the
mean over every element, i.e. over the batch), ``"sum"``, or ``"none"`` (the
per-element losses, same shape as the targets). Shapes must match exactly: a
``[B, 1]`` prediction against a ``[B]`` target would silently broadcast to
``[B, B]``, so it is an error here.

Every loss is a pure ``jax.numpy`` function: jit-able and differentiable. Value
checks (labels in range, probabilities in [0, 1]) run when the inputs are
concrete arrays; inside ``jit`` they cannot raise, and out-of-range class labels
give ``nan`` instead.

Introduced in notebook 02 (loss functions). The second part holds the loss functions
:func:`leptonlab.train.fit` trains with, ``loss_fn(model, (x, y), key) -> (loss, metrics)``:
``loss`` is the scalar to minimise and ``metrics`` maps names to per-example values ``[B]``
(so that averages over an epoch are exact).
"""

from __future__ import annotations

from typing import Any

import dataclasses

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from leptonlab.activations import as_float_array, log_softmax

__all__ = [
    "SmoothedClassificationLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "classification_loss",
    "mae",
    "mse",
    "regression_loss",
    "smooth_labels",
]

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- helpers


def _is_concrete(x: jax.Array) -> bool:
    """True when ``x`` holds values (not a tracer inside jit/grad/vmap)."""
    return not isinstance(x, jax.core.Tracer)


def _check_reduction(reduction: Any, fn: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}(): reduction={reduction!r} is not one of {_REDUCTIONS}.")
    return reduction


def _same_shape(
    pred: jax.Array, target: jax.Array, *, fn: str, pred_name: str, target_name: str
) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{fn}(): {pred_name} have shape {tuple(pred.shape)} but {target_name} have shape "
            f"{tuple(target.shape)}; they must match exactly (no broadcasting: [B, 1] against [B] "
            f"would silently compare every prediction with every target). Reshape one of them, "
            f"e.g. {pred_name}.reshape({target_name}.shape)."
        )


def _reduce(per_element: jax.Array, reduction: str, *, fn: str) -> jax.Array:
    if reduction == "none":
        return per_element
    if per_element.size == 0:
        raise ValueError(f"{fn}(): got empty arrays; the {reduction} of no losses is not defined.")
    if reduction == "sum":
        return jnp.sum(per_element)
    return jnp.mean(per_element)


def _check_in_unit_interval(x: jax.Array, *, fn: str, name: str, hint: str) -> None:
    if _is_concrete(x) and x.size:
        lo, hi = float(jnp.min(x)), float(jnp.max(x))
        if not (0.0 <= lo and hi <= 1.0):  # also catches nan
            raise ValueError(
                f"{fn}(): {name} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]. {hint}"
            )


# --------------------------------------------------------------------------- regression


def mse(predictions: Any, targets: Any, *, reduction: str = "mean") -> jax.Array:
    r"""Mean squared error :math:`\frac1n\sum_i (\hat y_i - y_i)^2`.

    Shapes: ``predictions: [...]``, ``targets: [...]`` (the same shape) ->
    scalar (``reduction="mean"`` or ``"sum"``) or ``[...]`` (``"none"``).
    There is no factor 1/2: some texts (and ``optax.l2_loss``) put one in front
    to make the gradient :math:`\hat y - y`; that is a different number.
    Introduced in notebook 02.
    """
    reduction = _check_reduction(reduction, "mse")
    p = as_float_array(predictions, fn="mse", name="predictions")
    t = as_float_array(targets, fn="mse", name="targets")
    _same_shape(p, t, fn="mse", pred_name="predictions", target_name="targets")
    return _reduce((p - t) ** 2, reduction, fn="mse")


def mae(predictions: Any, targets: Any, *, reduction: str = "mean") -> jax.Array:
    r"""Mean absolute error :math:`\frac1n\sum_i |\hat y_i - y_i|`.

    Shapes: as :func:`mse`. Less sensitive to outliers than MSE; its gradient
    has constant size :math:`\pm 1/n` (0 at a perfect prediction).
    Introduced in notebook 02.
    """
    reduction = _check_reduction(reduction, "mae")
    p = as_float_array(predictions, fn="mae", name="predictions")
    t = as_float_array(targets, fn="mae", name="targets")
    _same_shape(p, t, fn="mae", pred_name="predictions", target_name="targets")
    return _reduce(jnp.abs(p - t), reduction, fn="mae")


# --------------------------------------------------------------------------- binary classification


def binary_cross_entropy(
    probs: Any, labels: Any, *, eps: float = 1e-7, reduction: str = "mean"
) -> jax.Array:
    r"""Binary cross-entropy from probabilities: :math:`-[y\log p + (1-y)\log(1-p)]`.

    Shapes: ``probs: [...]`` in [0, 1] (the predicted probability of class 1),
    ``labels: [...]`` in [0, 1] (usually 0 or 1), the same shape -> scalar or
    ``[...]``. ``probs`` is clipped to ``[eps, 1 - eps]`` so ``log(0)`` never
    happens; the price is that a confidently wrong prediction costs at most
    :math:`-\log(\epsilon) \approx 16.1` for a label 1, and 15.9 for a label 0
    (in float32, ``1 - 1e-7`` rounds to ``1 - 2**-23``). If you have logits, use
    :func:`binary_cross_entropy_with_logits`, which is exact. Introduced in notebook 02.
    """
    reduction = _check_reduction(reduction, "binary_cross_entropy")
    if not isinstance(eps, (float, int)) or not 0.0 < eps < 0.5:
        raise ValueError(
            f"binary_cross_entropy(): eps must be a small positive float such as 1e-7, got {eps!r}."
        )
    p = as_float_array(probs, fn="binary_cross_entropy", name="probs")
    y = as_float_array(labels, fn="binary_cross_entropy", name="labels")
    _same_shape(p, y, fn="binary_cross_entropy", pred_name="probs", target_name="labels")
    _check_in_unit_interval(
        p,
        fn="binary_cross_entropy",
        name="probs",
        hint="Did you pass logits? Use binary_cross_entropy_with_logits(logits, labels).",
    )
    _check_in_unit_interval(
        y,
        fn="binary_cross_entropy",
        name="labels",
        hint="Labels are 0 or 1 (or soft labels in between).",
    )
    p = jnp.clip(p, eps, 1.0 - eps)
    per_element = -(y * jnp.log(p) + (1.0 - y) * jnp.log1p(-p))
    return _reduce(per_element, reduction, fn="binary_cross_entropy")


def binary_cross_entropy_with_logits(
    logits: Any, labels: Any, *, reduction: str = "mean"
) -> jax.Array:
    r"""Binary cross-entropy from logits :math:`z` (with :math:`p = \sigma(z)`), stable and exact.

    Shapes: ``logits: [...]`` (any real numbers), ``labels: [...]`` in [0, 1],
    the same shape -> scalar or ``[...]``. Substituting :math:`p = \sigma(z)`
    into the binary cross-entropy and simplifying gives

    .. math:: \ell(z, y) = \max(z, 0) - z\,y + \log(1 + e^{-|z|}),

    where no exponent is positive, so nothing overflows and no ``log(0)``
    happens: at :math:`z = 100, y = 0` it returns 100, where the
    probability form returns 15.9 (its clipping cap). Its gradient is :math:`\sigma(z) - y`.
    Introduced in notebook 02.
    """
    reduction = _check_reduction(reduction, "binary_cross_entropy_with_logits")
    z = as_float_array(logits, fn="binary_cross_entropy_with_logits", name="logits")
    y = as_float_array(labels, fn="binary_cross_entropy_with_logits", name="labels")
    _same_shape(
        z, y, fn="binary_cross_entropy_with_logits", pred_name="logits", target_name="labels"
    )
    _check_in_unit_interval(
        y,
        fn="binary_cross_entropy_with_logits",
        name="labels",
        hint="Labels are 0 or 1 (or soft labels in between).",
    )
    # Both pieces use the z >= 0 branch at z = 0, so jax.grad gives sigma(0) - y = 0.5 - y there.
    positive_part = jnp.where(z >= 0, z, jnp.zeros_like(z))  # max(z, 0)
    minus_abs = jnp.where(z >= 0, -z, z)  # -|z|
    per_element = positive_part - z * y + jnp.log1p(jnp.exp(minus_abs))
    return _reduce(per_element, reduction, fn="binary_cross_entropy_with_logits")


# --------------------------------------------------------------------------- multi-class classification


def categorical_cross_entropy(logits: Any, labels: Any, *, reduction: str = "mean") -> jax.Array:
    r"""Categorical cross-entropy from logits and integer class labels.

    Shapes: ``logits: [..., C]`` float (one unnormalised score per class),
    ``labels: [...]`` int in ``[0, C)`` -> scalar or ``[...]``. Per example,

    .. math:: \ell(z, y) = -\log \mathrm{softmax}(z)_y = -z_y + \log\sum_j e^{z_j},

    computed with :func:`leptonlab.activations.log_softmax` (log-sum-exp), so
    it stays finite for logits of any size. Its gradient with respect to the
    logits is :math:`\mathrm{softmax}(z) - \mathrm{onehot}(y)`.
    Labels outside ``[0, C)`` raise a ValueError for concrete arrays and give
    ``nan`` inside ``jit``. Introduced in notebook 02.
    """
    fn = "categorical_cross_entropy"
    reduction = _check_reduction(reduction, fn)
    z = as_float_array(logits, fn=fn, name="logits")
    if z.ndim == 0:
        raise ValueError(f"{fn}(): logits must have a class axis, shape [..., C]; got a scalar.")
    if isinstance(labels, (str, bytes)) or labels is None:
        raise TypeError(
            f"{fn}() expects labels as an integer array of class indices, got {type(labels).__name__}."
        )
    try:
        y = jnp.asarray(labels)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{fn}() could not turn labels into an integer array: {err}") from None
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(
            f"{fn}(): labels must be integer class indices in [0, C), got dtype {y.dtype}. "
            "For one-hot targets pass labels.argmax(-1); for floats holding whole numbers use labels.astype(int)."
        )
    num_classes = z.shape[-1]
    if y.shape != z.shape[:-1]:
        raise ValueError(
            f"{fn}(): labels have shape {tuple(y.shape)} but logits have shape {tuple(z.shape)}; "
            f"labels should have shape {tuple(z.shape[:-1])} (one class index per row of logits)."
        )
    if num_classes == 0:
        raise ValueError(f"{fn}(): logits have 0 classes (last axis of size 0).")
    if _is_concrete(y) and y.size:
        lo, hi = int(jnp.min(y)), int(jnp.max(y))
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"{fn}(): labels must lie in [0, {num_classes}) for {num_classes} classes; "
                f"got values in [{lo}, {hi}]. Are the labels 1-based? Then pass labels - 1."
            )
    logp = log_softmax(z, axis=-1)  # [..., C]
    valid = (y >= 0) & (y < num_classes)  # [...]
    safe = jnp.where(valid, y, 0)  # [...]
    picked = jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]  # [...]
    per_example = jnp.where(valid, -picked, jnp.nan)
    return _reduce(per_example, reduction, fn=fn)


# --------------------------------------------------------------------------- loss functions of a model (fit's loss_fn)


def classification_loss(
    model: nnx.Module, batch: tuple[jax.Array, jax.Array], key: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Softmax cross-entropy on integer labels; metrics ``loss`` and ``accuracy`` per example.

    ``batch = (x: [B, ...], y: [B] int)``; the model returns logits ``[B, C]``.
    """
    x, y = batch
    logits = model(x, rngs=key).astype(
        jnp.float32
    )  # [B, C]; the key drives dropout in training mode
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)  # [B]
    correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)  # [B]
    return losses.mean(), {"loss": losses, "accuracy": correct}


def regression_loss(
    model: nnx.Module, batch: tuple[jax.Array, jax.Array], key: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean squared error; metric ``loss`` (squared error) per example.

    ``batch = (x: [B, ...], y: [B, T] or [B])``; the model returns ``[B, T]``.
    """
    x, y = batch
    pred = model(x, rngs=key).astype(jnp.float32).reshape(y.shape)  # [B, T] (or [B] when y is [B])
    errors = jnp.square(pred - y).reshape(y.shape[0], -1).mean(axis=-1)  # [B]
    return errors.mean(), {"loss": errors}


def smooth_labels(y: jax.Array, num_classes: int, smoothing: float) -> jax.Array:
    """Integer labels ``y: [B]`` as smoothed one-hot targets ``[B, num_classes]`` float32.

    The true class gets ``1 - smoothing + smoothing / C`` and every other class
    ``smoothing / C``; each row still sums to 1. Introduced in notebook 16.
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}.")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}.")
    y = jnp.asarray(y)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"y must hold integer class labels, got {y.dtype}.")
    one_hot = jax.nn.one_hot(y, num_classes, dtype=jnp.float32)  # [B, C]
    return one_hot * (1.0 - smoothing) + smoothing / num_classes


@dataclasses.dataclass(frozen=True)
class SmoothedClassificationLoss:
    """Softmax cross-entropy against label-smoothed targets: a ``loss_fn`` for ``fit``.

    ``SmoothedClassificationLoss(0.1)(model, (x, y), key) -> (loss, metrics)`` where ``loss``
    is the mean smoothed cross-entropy (what is minimised) and ``metrics`` holds, per
    example ``[B]``: ``loss`` (smoothed), ``nll`` (the plain cross-entropy, comparable with
    :func:`classification_loss`) and ``accuracy``. Smoothing stops the network from
    pushing logits to infinity to reach probability 1 on training labels. Frozen and
    hashable, so the compiled training step is reused. Introduced in notebook 16.
    """

    smoothing: float = 0.1  # probability mass spread evenly over all classes

    def __post_init__(self):
        if not isinstance(self.smoothing, (int, float)) or not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be a number in [0, 1), got {self.smoothing!r}.")

    def __call__(
        self, model: nnx.Module, batch: tuple[jax.Array, jax.Array], key: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        x, y = batch
        logits = model(x, rngs=key).astype(jnp.float32)  # [B, C]
        targets = smooth_labels(y, logits.shape[-1], float(self.smoothing))  # [B, C]
        losses = optax.softmax_cross_entropy(logits, targets)  # [B]
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, y)  # [B]
        correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)  # [B]
        return losses.mean(), {"loss": losses, "nll": nll, "accuracy": correct}
