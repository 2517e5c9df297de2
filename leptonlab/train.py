"""The training loop every chapter uses (introduced in notebook 05).

The model is split once into a static ``graphdef`` and array state. One pure
function, ``train_step(state, batch) -> (state, metrics)``, does a whole step
(forward, backward, optimizer update) and is compiled once with ``jax.jit``,
its state donated. The dataset lives on the device; an epoch is a permutation of
indices drawn from an explicit key, and nothing syncs with the host inside an
epoch except the progress bar's step count.

    state, history = fit(model, (x_train, y_train), TrainConfig(epochs=5),
                         loss_fn=classification_loss, val_data=(x_val, y_val))
    model = state.model()

A loss function has the signature ``loss_fn(model, batch, key) -> (loss, metrics)``
where ``batch = (x, y)``, ``loss`` is a scalar to minimise, and ``metrics`` maps
names to per-example values ``[B]`` (so that averages over an epoch are exact).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from leptonlab.compiler import tuned_jit

Batch = tuple[jax.Array, jax.Array]
Metrics = dict[str, jax.Array]
LossFn = Callable[[nnx.Module, Batch, jax.Array], tuple[jax.Array, Metrics]]

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle")
COMPUTE_DTYPES = ("float32", "bfloat16")
AugmentFn = Callable[[jax.Array, jax.Array], jax.Array]  # (x: [B, ...], key) -> x


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of :func:`fit`, each with its unit."""

    epochs: int = 10  # passes over the training set
    batch_size: int = 128  # examples per optimizer step
    learning_rate: float = 1e-3  # peak step size (parameter units per gradient unit)
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # momentum coefficient, used by "momentum" (and as Adam's b1)
    weight_decay: float = 0.0  # per-step shrinkage of the weights: decoupled for "adamw", L2 otherwise
    schedule: str = "constant"  # learning-rate schedule over the run, one of SCHEDULES
    warmup_epochs: float = 0.0  # epochs of linear warm-up from 0 to learning_rate ("cosine")
    early_stopping: int = 0  # stop after this many epochs without a better val_loss (0 = never)
    compute_dtype: str = "float32"  # "bfloat16": forward and backward in bf16, float32 master weights
    checkpoint_dir: str | None = None  # save the run here after each epoch, and resume from it
    seed: int = 0  # derives the shuffling and dropout keys: same seed, same run
    eval_batch_size: int = 1024  # examples per evaluation call (memory, not results)
    progress: bool = True  # show a tqdm progress bar
    steps_per_call: int = 0  # optimizer steps per compiled call (lax.scan over them); 0 = auto: 1 on CPU, 32 on GPU/TPU

    def __post_init__(self):
        _require(isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be an int >= 1, got {self.epochs!r}.")
        for name in ("batch_size", "eval_batch_size"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 1, f"{name} must be an int >= 1, got {value!r}.")
        _require(self.learning_rate > 0 and math.isfinite(self.learning_rate),
                 f"learning_rate must be a positive number, got {self.learning_rate!r}.")
        _require(self.optimizer in OPTIMIZERS, f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}.")
        _require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum!r}.")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        _require(self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}.")
        _require(0 <= self.warmup_epochs < self.epochs,
                 f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs!r} for {self.epochs} epochs.")
        _require(isinstance(self.early_stopping, int) and self.early_stopping >= 0,
                 f"early_stopping must be an int >= 0 (epochs of patience), got {self.early_stopping!r}.")
        _require(self.compute_dtype in COMPUTE_DTYPES,
                 f"unknown compute_dtype {self.compute_dtype!r}; choose one of {COMPUTE_DTYPES}.")
        _require(isinstance(self.steps_per_call, int) and self.steps_per_call >= 0,
                 f"steps_per_call must be an int >= 0 (0 = choose by backend), got {self.steps_per_call!r}.")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int) -> optax.Schedule:
    """The learning rate at each step: constant, warm-up + cosine decay to 0, or one-cycle."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}.")
    total = config.epochs * steps_per_epoch
    if config.schedule == "constant":
        return optax.constant_schedule(config.learning_rate)
    if config.schedule == "cosine":
        warmup = int(config.warmup_epochs * steps_per_epoch)
        return optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup, total, end_value=0.0)
    return optax.cosine_onecycle_schedule(total, config.learning_rate)


def make_optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> optax.GradientTransformation:
    """The optax optimizer that ``config`` describes, with its schedule and weight decay."""
    lr = learning_rate_schedule(config, steps_per_epoch)
    if config.optimizer == "adamw":
        return optax.adamw(lr, b1=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        tx = optax.sgd(lr)
    elif config.optimizer == "momentum":
        tx = optax.sgd(lr, momentum=config.momentum)
    else:
        tx = optax.adam(lr, b1=config.momentum)
    if config.weight_decay:
        return optax.chain(optax.add_decayed_weights(config.weight_decay), tx)  # L2: g + wd * w
    return tx


@struct.dataclass
class TrainState:
    """Everything that changes during training, as one pytree.

    ``graphdef`` and ``tx`` are static (part of the compiled program); the rest
    are arrays: ``params`` (trainable ``nnx.Param`` leaves), ``rest`` (other
    model state such as batch statistics), ``opt_state``, ``key`` (PRNG key,
    split every step) and ``step`` (int32 scalar). ``compute_dtype`` (static)
    is the dtype of the forward and backward pass; parameters stay float32.
    """

    graphdef: nnx.GraphDef = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    params: nnx.State
    rest: nnx.State
    opt_state: optax.OptState
    key: jax.Array
    step: jax.Array
    compute_dtype: str = struct.field(pytree_node=False, default="float32")

    @classmethod
    def create(cls, model: nnx.Module, tx: optax.GradientTransformation, *, key: jax.Array,
               compute_dtype: str = "float32") -> TrainState:
        """Split ``model`` once and initialise the optimizer; ``key`` seeds dropout and friends."""
        if not isinstance(model, nnx.Module):
            raise TypeError(f"expected a flax.nnx.Module, got {type(model).__name__}.")
        if compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(f"unknown compute_dtype {compute_dtype!r}; choose one of {COMPUTE_DTYPES}.")
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        return cls(graphdef=graphdef, tx=tx, params=params, rest=rest, opt_state=tx.init(params),
                   key=key, step=jnp.zeros((), jnp.int32), compute_dtype=compute_dtype)

    def model(self) -> nnx.Module:
        """The NNX model with this state's parameters (a new object; the state is unchanged)."""
        return nnx.merge(self.graphdef, self.params, self.rest)


def classification_loss(model: nnx.Module, batch: Batch, key: jax.Array) -> tuple[jax.Array, Metrics]:
    """Softmax cross-entropy on integer labels; metrics ``loss`` and ``accuracy`` per example.

    ``batch = (x: [B, ...], y: [B] int)``; the model returns logits ``[B, C]``.
    """
    x, y = batch
    logits = model(x, rngs=key).astype(jnp.float32)  # [B, C]; the key drives dropout in training mode
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)  # [B]
    correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)  # [B]
    return losses.mean(), {"loss": losses, "accuracy": correct}


def regression_loss(model: nnx.Module, batch: Batch, key: jax.Array) -> tuple[jax.Array, Metrics]:
    """Mean squared error; metric ``loss`` (squared error) per example.

    ``batch = (x: [B, ...], y: [B, T] or [B])``; the model returns ``[B, T]``.
    """
    x, y = batch
    pred = model(x, rngs=key).astype(jnp.float32).reshape(y.shape)  # [B, T] (or [B] when y is [B])
    errors = jnp.square(pred - y).reshape(y.shape[0], -1).mean(axis=-1)  # [B]
    return errors.mean(), {"loss": errors}


def _cast_floats(tree, dtype: str):
    """Floating-point leaves of ``tree`` cast to ``dtype`` (integers, e.g. labels, untouched)."""
    if dtype == "float32":
        return tree
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def train_step(state: TrainState, batch: Batch, loss_fn: LossFn,
               augment: AugmentFn | None = None) -> tuple[TrainState, Metrics]:
    """One optimizer step on ``batch``: the pure function :func:`fit` compiles.

    ``augment(x, key)`` (optional) transforms the inputs first, with a key split
    from the state. With ``compute_dtype="bfloat16"`` the forward and backward
    pass run in bf16 on bf16 copies of the parameters and inputs; gradients,
    optimizer and parameters stay float32. Returns the new state and the
    per-example metrics of this batch (with the parameters before the update).
    """
    key, step_key, augment_key = jax.random.split(state.key, 3)
    x, y = batch
    if augment is not None:
        x = augment(x, augment_key)  # [B, ...], same shape

    def loss_of(params):
        # Rebuilding ``rest`` here gives its Variables this trace, so batch norm may update them.
        rest = jax.tree.map(lambda v: v, state.rest)
        model = nnx.merge(state.graphdef, _cast_floats(params, state.compute_dtype), rest)
        model.train()
        loss, metrics = loss_fn(model, (_cast_floats(x, state.compute_dtype), y), step_key)
        _, _, rest = nnx.split(model, nnx.Param, ...)
        return loss, (metrics, rest)

    grads, (metrics, rest) = jax.grad(loss_of, has_aux=True)(state.params)  # grads: float32, like params
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    rest = jax.tree.map(lambda new, old: new.astype(old.dtype), rest, state.rest)  # batch stats stay float32
    new_state = state.replace(params=params, rest=rest, opt_state=opt_state, key=key, step=state.step + 1)
    return new_state, metrics


def eval_step(state: TrainState, batch: Batch, loss_fn: LossFn) -> Metrics:
    """Per-example metrics of the model in evaluation mode on ``batch`` (no update)."""
    x, y = batch
    _, metrics = loss_fn(_eval_model(state), (_cast_floats(x, state.compute_dtype), y), jax.random.key(0))
    return metrics


def _take(data: Batch, idx: jax.Array) -> Batch:
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)  # each [B, ...]


def _sum_metrics(totals: Metrics, metrics: Metrics, weight: jax.Array) -> Metrics:
    return {name: totals[name] + jnp.sum(value * weight) for name, value in metrics.items()}


@tuned_jit(static_argnames=("loss_fn", "augment"), donate_argnames=("state", "totals"))
def _train_on_indices(state: TrainState, totals: Metrics, data: Batch, idx: jax.Array, loss_fn: LossFn,
                      augment: AugmentFn | None = None):
    """train_step on the batch ``data[idx]`` (idx: [B] int32), adding its metrics to ``totals``."""
    state, metrics = train_step(state, _take(data, idx), loss_fn, augment)
    return state, _sum_metrics(totals, metrics, jnp.ones(idx.shape[0], jnp.float32))


@tuned_jit(static_argnames=("loss_fn", "augment"), donate_argnames=("state", "totals"))
def _train_on_chunk(state: TrainState, totals: Metrics, data: Batch, idx: jax.Array, loss_fn: LossFn,
                    augment: AugmentFn | None = None):
    """train_step on the batches ``data[idx[k]]`` in turn (idx: [K, B] int32), one ``lax.scan`` call.

    The same steps as K calls of :func:`_train_on_indices`, in one compiled program:
    on a GPU this removes K - 1 dispatches; on a CPU the per-step loop measured faster (PERFORMANCE.md).
    """
    ones = jnp.ones(idx.shape[1], jnp.float32)  # [B]

    def body(carry, batch_idx):  # batch_idx: [B]
        state, totals = carry
        state, metrics = train_step(state, _take(data, batch_idx), loss_fn, augment)
        return (state, _sum_metrics(totals, metrics, ones)), None

    (state, totals), _ = jax.lax.scan(body, (state, totals), idx)
    return state, totals


def steps_per_call(config: TrainConfig, steps: int) -> int:
    """How many optimizer steps :func:`fit` runs per compiled call: ``config.steps_per_call``,
    or by backend when it is 0 (1 on CPU, where a Python loop of jitted steps was faster than
    ``lax.scan`` in our benchmarks; up to 32 on accelerators, where dispatch overhead dominates)."""
    chosen = config.steps_per_call or (1 if jax.default_backend() == "cpu" else 32)
    return max(1, min(chosen, steps))


@tuned_jit(static_argnames="loss_fn", donate_argnames="totals")
def _eval_on_indices(state: TrainState, totals: Metrics, data: Batch, idx: jax.Array, weight: jax.Array,
                     loss_fn: LossFn):
    """Add the metrics of ``data[idx]`` weighted by ``weight`` ([B], 0 for padding) to ``totals``."""
    return _sum_metrics(totals, eval_step(state, _take(data, idx), loss_fn), weight)


# One jitted function (not a fresh lambda per call), so that its trace is cached: fit and evaluate
# ask for the metric names on every call, and tracing a ResNet again cost 0.1 s each time.
_eval_step_jit = jax.jit(eval_step, static_argnames="loss_fn")


def _metric_names(state: TrainState, data: Batch, loss_fn: LossFn) -> tuple[str, ...]:
    one_row = jax.tree.map(lambda a: jax.ShapeDtypeStruct((1, *a.shape[1:]), a.dtype), data)  # [1, ...] each
    return tuple(_eval_step_jit.eval_shape(state, one_row, loss_fn=loss_fn))


def _check_data(data: Any, name: str) -> Batch:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (x, y) of arrays, got {type(data).__name__}.")
    x, y = (jnp.asarray(a) for a in data)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: x and y need the same number of examples on axis 0, "
                         f"got x {x.shape} and y {y.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one example.")
    return x, y


def evaluate(state: TrainState, data: Batch, *, loss_fn: LossFn = classification_loss,
             batch_size: int = 1024) -> dict[str, float]:
    """Mean of each metric over all of ``data = (x: [N, ...], y: [N, ...])``.

    Batches are padded to one shape (so evaluation compiles once) and the
    padding is weighted out: the result is exact for any N.
    """
    data = _check_data(data, "data")
    n = data[0].shape[0]
    size = min(batch_size, n)
    totals = {name: jnp.zeros((), jnp.float32) for name in _metric_names(state, data, loss_fn)}
    for start in range(0, n, size):
        idx = jnp.arange(start, start + size)  # [size]; past the end is padding
        weight = (idx < n).astype(jnp.float32)
        totals = _eval_on_indices(state, totals, data, jnp.minimum(idx, n - 1), weight, loss_fn=loss_fn)
    return {name: float(total) / n for name, total in totals.items()}


class History:
    """Per-epoch metrics of a run: ``history["val_accuracy"]`` is a NumPy array over epochs."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def append(self, row: Mapping[str, float]) -> None:
        self.rows.append(dict(row))

    def __getitem__(self, name: str) -> np.ndarray:
        if not self.rows or name not in self.rows[-1]:
            known = sorted(self.rows[-1]) if self.rows else []
            raise KeyError(f"no metric {name!r} in this history; it has {known}.")
        return np.array([row.get(name, np.nan) for row in self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        """The metric names recorded in the last epoch."""
        return list(self.rows[-1]) if self.rows else []

    def last(self) -> dict[str, float]:
        """The metrics of the last epoch."""
        if not self.rows:
            raise ValueError("the history is empty: no epoch has finished.")
        return dict(self.rows[-1])

    def __repr__(self) -> str:
        return f"History({len(self)} epoch{'' if len(self) == 1 else 's'}, metrics={self.names})"


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    # The first call compiles the step (seconds to a minute, with nothing to count): the bar says so.
    return tqdm(total=total, unit="step", leave=False, dynamic_ncols=True, mininterval=0.5,
                desc="compiling the training step")


def _seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """(data-order key, state key): both derive from the seed alone."""
    data_key, state_key = jax.random.split(jax.random.key(seed))
    return data_key, state_key


def _epoch_batches(config: TrainConfig, n: int, epoch: int) -> jax.Array:
    """The batches of ``epoch``: a permutation drawn from (seed, epoch), cut into ``[steps, B]`` indices."""
    batch_size = min(config.batch_size, n)
    steps = n // batch_size
    data_key, _ = _seed_keys(config.seed)
    order = jax.random.permutation(jax.random.fold_in(data_key, epoch), n)  # [N]
    return order[: steps * batch_size].reshape(steps, batch_size)  # [steps, B]


def _best_dir(config: TrainConfig) -> Path:
    """Where early stopping keeps the best epoch's state, beside the run's checkpoints."""
    return Path(config.checkpoint_dir) / "best"


def _resume(config: TrainConfig, state: TrainState, history: History) -> tuple[TrainState, int, tuple]:
    """Restore the newest checkpoint of ``config.checkpoint_dir`` if there is one.

    Returns the state, the number of finished epochs and, for early stopping, the
    best (val_loss, state) so far.
    """
    from leptonlab import checkpoint

    no_best = (math.inf, None)
    if config.checkpoint_dir is None or checkpoint.latest_epoch(config.checkpoint_dir) is None:
        return state, 0, no_best
    template = state
    state, record = checkpoint.restore_checkpoint(config.checkpoint_dir, template)
    for row in record.get("history", []):
        history.append(row)
    best = no_best
    if config.early_stopping and checkpoint.latest_epoch(_best_dir(config)) is not None:
        best_state, _ = checkpoint.restore_checkpoint(_best_dir(config), template)
        best = (float(np.min(history["val_loss"])), best_state)
    return state, int(record["epoch"]), best


def fit(model: nnx.Module | None, train_data: Batch, config: TrainConfig = TrainConfig(), *,
        loss_fn: LossFn = classification_loss, val_data: Batch | None = None,
        augment: AugmentFn | None = None, state: TrainState | None = None) -> tuple[TrainState, History]:
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
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    train_data = _check_data(train_data, "train_data")
    if val_data is not None:
        val_data = _check_data(val_data, "val_data")
    if config.early_stopping and val_data is None:
        raise ValueError("early_stopping watches val_loss: pass val_data=(x_val, y_val), or set early_stopping=0.")
    n = train_data[0].shape[0]
    steps = n // min(config.batch_size, n)
    if state is None:
        _, init_key = _seed_keys(config.seed)
        state = TrainState.create(model, make_optimizer(config, steps), key=init_key,
                                  compute_dtype=config.compute_dtype)
    history = History()
    state, first_epoch, best = _resume(config, state, history)  # best: (val_loss, state), for early stopping
    names = _metric_names(state, train_data, loss_fn)
    chunk = steps_per_call(config, steps)
    bar = _progress_bar((config.epochs - first_epoch) * steps, config.progress)
    try:
        for epoch in range(first_epoch, config.epochs):
            start = time.perf_counter()
            batches = _epoch_batches(config, n, epoch)  # [steps, B]
            totals = {name: jnp.zeros((), jnp.float32) for name in names}
            i = 0
            while i < steps:  # chunks of `chunk` steps, then single steps for the remainder
                k = chunk if steps - i >= chunk else 1
                if k == 1:
                    state, totals = _train_on_indices(state, totals, train_data, batches[i], loss_fn=loss_fn,
                                                      augment=augment)
                else:
                    state, totals = _train_on_chunk(state, totals, train_data, batches[i:i + k], loss_fn=loss_fn,
                                                    augment=augment)
                i += k
                if bar is not None:
                    if bar.desc.startswith("compiling"):  # the first call returned: compiled (once per run)
                        bar.set_description("training", refresh=False)
                    bar.update(k)
            row = {"epoch": epoch + 1}
            row.update({f"train_{k}": float(v) / batches.size for k, v in totals.items()})  # one sync
            if val_data is not None:
                row.update({f"val_{k}": v for k, v in evaluate(state, val_data, loss_fn=loss_fn,
                                                               batch_size=config.eval_batch_size).items()})
            row["seconds"] = time.perf_counter() - start
            history.append(row)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k.endswith(("loss", "accuracy"))})
            if config.early_stopping and row["val_loss"] < best[0]:
                best = (row["val_loss"], jax.tree.map(jnp.copy, state))
                if config.checkpoint_dir is not None:
                    from leptonlab import checkpoint

                    checkpoint.save_checkpoint(_best_dir(config), epoch + 1, state, {})
            if config.checkpoint_dir is not None:  # saved last: a resumed run never misses the best state
                from leptonlab import checkpoint

                checkpoint.save_checkpoint(config.checkpoint_dir, epoch + 1, state, {"history": history.rows})
            if config.early_stopping and epoch + 1 - _best_epoch(history) >= config.early_stopping:
                return best[1], history
    finally:
        if bar is not None:
            bar.close()
    if config.early_stopping and best[1] is not None:
        return best[1], history
    return state, history


def _best_epoch(history: History) -> int:
    return int(history["epoch"][int(np.argmin(history["val_loss"]))])


def _eval_model(state: TrainState) -> nnx.Module:
    model = nnx.merge(state.graphdef, _cast_floats(state.params, state.compute_dtype), state.rest)
    model.eval()
    return model


def predict(state: TrainState, x: jax.Array, *, batch_size: int = 1024) -> jax.Array:
    """The model's outputs on ``x: [N, ...]`` in evaluation mode, batch by batch: ``[N, ...]`` float32."""
    x = jnp.asarray(x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"predict needs a batch of at least one example, got shape {x.shape}.")
    outputs = [_predict_batch(state, x[i: i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return jnp.concatenate(outputs)


@jax.jit
def _predict_batch(state: TrainState, x: jax.Array) -> jax.Array:
    return _eval_model(state)(_cast_floats(x, state.compute_dtype)).astype(jnp.float32)


# ---------------------------------------------------------------------------- notebook 15: label smoothing,
# test-time augmentation, time to accuracy


def smooth_labels(y: jax.Array, num_classes: int, smoothing: float) -> jax.Array:
    """Integer labels ``y: [B]`` as smoothed one-hot targets ``[B, num_classes]`` float32.

    The true class gets ``1 - smoothing + smoothing / C`` and every other class
    ``smoothing / C``; each row still sums to 1. Introduced in notebook 15.
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
    """Softmax cross-entropy against label-smoothed targets: a ``loss_fn`` for :func:`fit`.

    ``SmoothedClassificationLoss(0.1)(model, (x, y), key) -> (loss, metrics)`` where ``loss``
    is the mean smoothed cross-entropy (what is minimised) and ``metrics`` holds, per
    example ``[B]``: ``loss`` (smoothed), ``nll`` (the plain cross-entropy, comparable with
    :func:`classification_loss`) and ``accuracy``. Smoothing stops the network from
    pushing logits to infinity to reach probability 1 on training labels. Frozen and
    hashable, so the compiled training step is reused. Introduced in notebook 15.
    """

    smoothing: float = 0.1  # probability mass spread evenly over all classes

    def __post_init__(self):
        if not isinstance(self.smoothing, (int, float)) or not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be a number in [0, 1), got {self.smoothing!r}.")

    def __call__(self, model: nnx.Module, batch: Batch, key: jax.Array) -> tuple[jax.Array, Metrics]:
        x, y = batch
        logits = model(x, rngs=key).astype(jnp.float32)  # [B, C]
        targets = smooth_labels(y, logits.shape[-1], float(self.smoothing))  # [B, C]
        losses = optax.softmax_cross_entropy(logits, targets)  # [B]
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, y)  # [B]
        correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)  # [B]
        return losses.mean(), {"loss": losses, "nll": nll, "accuracy": correct}


def predict_tta(state: TrainState, x: jax.Array, *, flip: bool = True, batch_size: int = 1024) -> jax.Array:
    """Test-time augmentation: class probabilities averaged over each image and its mirror image.

    ``x: [N, H, W, C]`` (or ``[N, H, W]``) -> ``[N, classes]`` float32 probabilities: the mean
    of the softmax of the model's logits on ``x`` and on ``x`` flipped left-right. Use it only
    for data whose labels do not change under a left-right flip (photos; not digits or text).
    With ``flip=False`` it is the softmax of :func:`predict`. Introduced in notebook 15.
    """
    if not isinstance(state, TrainState):
        raise TypeError(f"state must be a TrainState (from fit), got {type(state).__name__}.")
    x = jnp.asarray(x)
    if x.ndim not in (3, 4) or x.shape[0] == 0:
        raise ValueError(f"predict_tta needs images [N, H, W, C] or [N, H, W] with N >= 1, got shape {x.shape}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    probs = jax.nn.softmax(predict(state, x, batch_size=batch_size), axis=-1)  # [N, classes]
    if not flip:
        return probs
    mirrored = jax.nn.softmax(predict(state, x[:, :, ::-1], batch_size=batch_size), axis=-1)  # axis 2 = width
    return (probs + mirrored) / 2


def elapsed_seconds(history: History) -> np.ndarray:
    """Wall-clock seconds since the start of training at the end of each epoch: ``[epochs]``.

    The cumulative sum of ``history["seconds"]`` (training and validation time, including
    compilation in the first epoch). Introduced in notebook 15.
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be the History returned by fit, got {type(history).__name__}.")
    if not len(history):
        raise ValueError("the history is empty: no epoch has finished.")
    return np.cumsum(history["seconds"])


def time_to_accuracy(history: History, target: float, *, metric: str = "val_accuracy") -> float | None:
    """Seconds of training until ``history[metric]`` first reached ``target``; None if it never did.

    Time-to-accuracy (as in the DAWNBench and airbench CIFAR-10 benchmarks) measures a
    training recipe by how fast it gets good, not by its accuracy after an arbitrary number
    of epochs. Resolution: one epoch. Introduced in notebook 15.
    """
    if not isinstance(target, (int, float)) or not 0.0 < target <= 1.0:
        raise ValueError(f"target must be an accuracy in (0, 1], got {target!r}.")
    seconds = elapsed_seconds(history)
    values = history[metric]  # KeyError listing the recorded metrics
    reached = np.flatnonzero(values >= target)
    return float(seconds[reached[0]]) if reached.size else None
