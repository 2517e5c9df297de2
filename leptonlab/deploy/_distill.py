"""Knowledge distillation: a small student learns from a large teacher's soft predictions (notebook 21).

With temperature ``T``, the teacher's probabilities ``softmax(teacher_logits / T)`` are
"soft targets" that also say which wrong classes look alike (a 7 resembles a 1 more than
a 0). The student minimises, per example,

    alpha * T**2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, y)

The factor ``T**2`` keeps the soft term's gradients the same size for any ``T``
(Hinton, Vinyals and Dean, 2015). The teacher's logits are computed once and stored
beside the labels, so training is :func:`leptonlab.train.fit` with another loss.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from leptonlab.train import Batch, TrainConfig, TrainState, fit, predict


def _check_temperature_alpha(temperature: float, alpha: float) -> None:
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}.")
    if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"alpha (the weight of the soft-target term) must be in [0, 1], got {alpha!r}."
        )


def soft_target_loss(
    student_logits: jax.Array, teacher_logits: jax.Array, *, temperature: float
) -> jax.Array:
    """``T**2 * KL(softmax(t/T) || softmax(s/T))`` per example: ``[B, C], [B, C] -> [B]``.

    Zero when the student's logits equal the teacher's (up to a constant per example).
    Introduced in notebook 21.
    """
    _check_temperature_alpha(temperature, 0.0)
    s, t = jnp.asarray(student_logits, jnp.float32), jnp.asarray(teacher_logits, jnp.float32)
    if s.ndim != 2 or s.shape != t.shape:
        raise ValueError(
            f"student and teacher logits must both be [B, C] with the same shape, "
            f"got {s.shape} and {t.shape}."
        )
    log_p_teacher = jax.nn.log_softmax(t / temperature, axis=-1)  # [B, C]
    log_p_student = jax.nn.log_softmax(s / temperature, axis=-1)  # [B, C]
    kl = jnp.sum(jnp.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1)  # [B]
    return temperature**2 * kl


def distillation_loss(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    labels: jax.Array,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> jax.Array:
    """``alpha * soft_target_loss + (1 - alpha) * cross_entropy(student, labels)`` per example: ``[B]``.

    ``student_logits, teacher_logits: [B, C]``, ``labels: [B] int``. Introduced in notebook 21.
    """
    _check_temperature_alpha(temperature, alpha)
    labels = jnp.asarray(labels)
    if labels.shape != jnp.shape(student_logits)[:1]:
        raise ValueError(
            f"labels must be [B] = {jnp.shape(student_logits)[:1]}, got shape {labels.shape}."
        )
    soft = soft_target_loss(student_logits, teacher_logits, temperature=temperature)  # [B]
    hard = optax.softmax_cross_entropy_with_integer_labels(
        jnp.asarray(student_logits, jnp.float32), labels
    )
    return alpha * soft + (1.0 - alpha) * hard


def teacher_targets(
    teacher: TrainState, x: jax.Array, y: jax.Array, *, batch_size: int = 1024
) -> jax.Array:
    """Labels and the teacher's logits side by side: ``[N, 1 + C]`` float32 (column 0 = label).

    This is the ``y`` that :class:`DistillationLoss` reads, so ``fit`` can train on
    ``(x, teacher_targets(teacher, x, y))`` unchanged.
    """
    if not isinstance(teacher, TrainState):
        raise TypeError(f"teacher must be a TrainState (from fit), got {type(teacher).__name__}.")
    y = jnp.asarray(y)
    if y.ndim != 1 or y.shape[0] != jnp.shape(x)[0] or not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(
            f"y must be integer labels [N] with N = {jnp.shape(x)[0]}, got {y.dtype} {y.shape}."
        )
    logits = predict(teacher, x, batch_size=batch_size)  # [N, C]
    return jnp.concatenate([y[:, None].astype(jnp.float32), logits], axis=1)  # [N, 1 + C]


@dataclasses.dataclass(frozen=True)
class DistillationLoss:
    """A ``loss_fn(model, (x, targets), key)`` for :func:`fit`; ``targets`` from :func:`teacher_targets`.

    Metrics per example: ``loss`` (the distillation loss) and ``accuracy`` (against the true labels).
    Frozen, so equal settings share one compiled training step.
    """

    temperature: float = 4.0  # softens both distributions; 1 = the plain softmax
    alpha: float = 0.9  # weight of the soft-target term; 1 - alpha weights the true labels

    def __post_init__(self):
        _check_temperature_alpha(self.temperature, self.alpha)

    def __call__(self, model: nnx.Module, batch: Batch, key: jax.Array):
        x, targets = batch  # x: [B, ...], targets: [B, 1 + C]
        labels = targets[:, 0].astype(jnp.int32)  # [B]
        logits = model(x, rngs=key).astype(jnp.float32)  # [B, C]
        losses = distillation_loss(
            logits, targets[:, 1:], labels, temperature=self.temperature, alpha=self.alpha
        )
        correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)  # [B]
        return losses.mean(), {"loss": losses, "accuracy": correct}


def distill(
    student: nnx.Module,
    teacher: TrainState,
    train_data: Batch,
    config: TrainConfig = TrainConfig(),
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    val_data: Batch | None = None,
):
    """Train ``student`` on ``train_data = (x, y)`` against ``teacher``'s soft targets; returns ``(state, history)``.

    ``val_accuracy`` is against the true labels; ``val_loss`` is the distillation loss.
    Introduced in notebook 21.
    """
    if not isinstance(student, nnx.Module):
        raise TypeError(f"student must be a flax.nnx.Module, got {type(student).__name__}.")
    loss_fn = DistillationLoss(temperature, alpha)
    x, y = train_data
    train = (x, teacher_targets(teacher, x, y, batch_size=config.eval_batch_size))
    val = None
    if val_data is not None:
        val = (val_data[0], teacher_targets(teacher, *val_data, batch_size=config.eval_batch_size))
    return fit(student, train, config, loss_fn=loss_fn, val_data=val)
