"""``fit``: the training loop every chapter uses (introduced in notebook 05)."""

from __future__ import annotations

import time

import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from leptonlab import speedups
from leptonlab.losses import classification_loss
from leptonlab.train.checkpointing import resume, save_epoch
from leptonlab.train.core import (
    AugmentFn,
    Batch,
    LossFn,
    TrainConfig,
    TrainState,
    check_data,
    epoch_order,
    make_optimizer,
    run_epoch,
    seed_keys,
    steps_per_call,
)
from leptonlab.train.evaluation import evaluate, metric_names
from leptonlab.train.history import History
from leptonlab.train.placement import check_mesh, local_copy, replicate
from leptonlab.train.progress import ProgressBar

__all__ = ["fit"]


def fit(
    model: nnx.Module | None,
    train_data: Batch,
    config: TrainConfig = TrainConfig(),
    *,
    loss_fn: LossFn = classification_loss,
    val_data: Batch | None = None,
    augment: AugmentFn | None = None,
    state: TrainState | None = None,
    mesh: Mesh | None = None,
    cpu_speedups: bool = True,
) -> tuple[TrainState, History]:
    """Train ``model`` on ``train_data = (x: [N, ...], y: [N, ...])``; returns ``(state, history)``.

    Each epoch visits ``N // batch_size`` batches in an order drawn from
    ``config.seed`` and the epoch number (the last partial batch is dropped so
    every step has the same shape and the step compiles once). ``augment(x, key)``
    transforms each training batch on the device. After each epoch the mean
    training metrics (``train_<name>``, averaged over the epoch's steps) and, with
    ``val_data``, the validation metrics (``val_<name>``) are recorded.

    With ``config.checkpoint_dir`` the run is saved after every epoch and, when
    the folder already holds a checkpoint of this run, resumed from it: the
    resumed run ends with exactly the parameters of an uninterrupted one. With
    ``config.early_stopping = k`` training stops after k epochs without a lower
    ``val_loss`` and returns the state of the best epoch. Pass ``state`` to continue
    a previous run instead of starting from ``model``. ``state.model()`` gives the
    trained model back.

    With ``mesh`` (:func:`leptonlab.scale.make_mesh`) the run is data-parallel: the state
    and the data are copied to every device of the mesh, each batch's rows are split over
    the devices, and the same steps give the same parameters to float tolerance.

    ``cpu_speedups`` (:mod:`leptonlab.speedups`): im2col convolutions and the probed XLA
    option, on by default (they change nothing on GPUs); False trains the plain Flax model
    with XLA's defaults, to the same results up to float rounding.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    train_data = check_data(train_data, "train_data")
    val_data = None if val_data is None else check_data(val_data, "val_data")
    if config.early_stopping and val_data is None:
        raise ValueError(
            "early_stopping watches val_loss: pass val_data=(x_val, y_val), or set early_stopping=0."
        )
    n = train_data[0].shape[0]
    batch_size = min(config.batch_size, n)
    steps, place = n // batch_size, _placement(mesh, batch_size)
    if state is None:
        tx, key = make_optimizer(config, steps), seed_keys(config.seed)[1]
        state = TrainState.create(model, tx, key=key, compute_dtype=config.compute_dtype)
    history = History()
    state, first_epoch, best = resume(config, place(_with_speedups(state, cpu_speedups)), history)
    names, data = metric_names(state, train_data, loss_fn), place(train_data)
    bar = ProgressBar((config.epochs - first_epoch) * steps, config.progress)
    with speedups.enabled(cpu_speedups), bar:
        for epoch in range(first_epoch, config.epochs):
            start = time.perf_counter()
            totals = place({name: jnp.zeros((), jnp.float32) for name in names})
            order = place(epoch_order(config.seed, n, batch_size, epoch))  # [steps, B]
            state, totals = run_epoch(
                state,
                totals,
                data,
                order,
                loss_fn=loss_fn,
                augment=augment,
                chunk=steps_per_call(config, steps),
                mesh=mesh,
                on_steps=bar.steps_done,
            )
            row = {"epoch": epoch + 1}
            row |= {f"train_{k}": float(local_copy(v)) / order.size for k, v in totals.items()}
            if val_data is not None:
                val = evaluate(
                    state, val_data, loss_fn=loss_fn, batch_size=config.eval_batch_size, mesh=mesh
                )
                row |= {f"val_{k}": v for k, v in val.items()}
            history.append({**row, "seconds": time.perf_counter() - start})
            bar.show(history.rows[-1])
            best.update(history, state)
            save_epoch(config, state, history)
            if best.should_stop(history):
                break
    return best.result(state), history


def _with_speedups(state: TrainState, cpu_speedups: bool) -> TrainState:
    """``state`` whose model has the im2col convolutions when ``cpu_speedups`` (nothing else changes)."""
    if not cpu_speedups:
        return state
    return state.replace(graphdef=nnx.split(speedups.apply(state.model()), nnx.Param, ...)[0])


def _placement(mesh: Mesh | None, batch_size: int):
    """``place(tree)``: nothing without a mesh; with one, a copy of ``tree`` on each of its devices."""
    if mesh is None:
        return lambda tree: tree
    check_mesh(mesh)
    if batch_size % mesh.size:
        raise ValueError(
            f"batch_size {batch_size} is not a multiple of the {mesh.size} devices of the mesh; "
            f"use e.g. {max(mesh.size, batch_size // mesh.size * mesh.size)}."
        )
    return lambda tree: replicate(tree, mesh)
