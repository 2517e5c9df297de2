"""Metrics of a trained state on a whole dataset, exact for any number of examples."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from leptonlab.speedups import tuned_jit
from leptonlab.losses import classification_loss
from leptonlab.train.core import (
    Batch,
    LossFn,
    Metrics,
    TrainState,
    check_data,
    eval_step,
    sum_metrics,
    take_rows,
)
from leptonlab.train.placement import local_copy, replicate

__all__ = ["evaluate", "metric_names"]


@tuned_jit(static_argnames="loss_fn", donate_argnames="totals")
def _eval_on_indices(
    state: TrainState,
    totals: Metrics,
    data: Batch,
    idx: jax.Array,
    weight: jax.Array,
    loss_fn: LossFn,
):
    """Add the metrics of ``data[idx]`` weighted by ``weight`` ([B], 0 for padding) to ``totals``."""
    return sum_metrics(totals, eval_step(state, take_rows(data, idx), loss_fn), weight)


# One jitted function (not a fresh lambda per call), so that its trace is cached: fit and evaluate
# ask for the metric names on every call, and tracing a ResNet again cost 0.1 s each time.
_eval_step_jit = jax.jit(eval_step, static_argnames="loss_fn")


def metric_names(state: TrainState, data: Batch, loss_fn: LossFn) -> tuple[str, ...]:
    """The names of the per-example metrics ``loss_fn`` returns on ``data`` (shapes only, nothing computed)."""
    one_row = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct((1, *a.shape[1:]), a.dtype), data
    )  # [1, ...] each
    return tuple(_eval_step_jit.eval_shape(state, one_row, loss_fn=loss_fn))


def evaluate(
    state: TrainState,
    data: Batch,
    *,
    loss_fn: LossFn = classification_loss,
    batch_size: int = 1024,
    mesh: Mesh | None = None,
) -> dict[str, float]:
    """Mean of each metric over all of ``data = (x: [N, ...], y: [N, ...])``.

    Batches are padded to one shape (so evaluation compiles once) and the
    padding is weighted out: the result is exact for any N. With ``mesh``
    (a state trained by ``fit(..., mesh=mesh)``) ``data`` is copied to every device of it.
    """
    place = (lambda tree: tree) if mesh is None else (lambda tree: replicate(tree, mesh))
    data = check_data(data, "data")
    n = data[0].shape[0]
    size = min(batch_size, n)
    names = metric_names(state, data, loss_fn)
    data = place(data)
    totals = place({name: jnp.zeros((), jnp.float32) for name in names})
    for start in range(0, n, size):
        idx = jnp.arange(start, start + size)  # [size]; past the end is padding
        weight = (idx < n).astype(jnp.float32)
        totals = _eval_on_indices(
            state, totals, data, *place((jnp.minimum(idx, n - 1), weight)), loss_fn=loss_fn
        )
    return {name: float(local_copy(total)) / n for name, total in totals.items()}
