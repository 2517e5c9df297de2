"""The training core: configuration, optimizer, state, one step, the epoch order and the epoch runner.

Everything that trains a network in the course is built from these pieces:
:func:`leptonlab.train.fit` runs them on one device or, with a mesh, data-parallel;
:func:`leptonlab.search.train_many` runs the same :func:`train_step` under ``jax.vmap``.

* :class:`TrainConfig`: the hyperparameters, each with its unit.
* :func:`optimizer`: THE optimizer factory (``make_optimizer`` applies a config's schedule).
* :class:`TrainState` and :func:`train_step`: one pure step ``(state, batch) -> (state, metrics)``.
* :func:`seed_keys` and :func:`epoch_order`: the data order and the state key, from the seed alone.
* :func:`run_epoch`: the one loop over an epoch's batches, compiled once per shape; its scanned
  body :func:`train_on_batches` is what :func:`leptonlab.search.train_epoch` runs under ``vmap``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct
from jax.sharding import Mesh

from leptonlab.speedups import tuned_jit
from leptonlab.train.placement import batch_sharding, replicated

__all__ = [
    "COMPUTE_DTYPES",
    "OPTIMIZERS",
    "SCHEDULES",
    "AugmentFn",
    "Batch",
    "LossFn",
    "Metrics",
    "TrainConfig",
    "TrainState",
    "cast_floats",
    "check_data",
    "epoch_order",
    "eval_model",
    "eval_step",
    "learning_rate_schedule",
    "make_optimizer",
    "optimizer",
    "run_epoch",
    "seed_keys",
    "steps_per_call",
    "sum_metrics",
    "take_rows",
    "train_on_batches",
    "train_step",
]

Batch = tuple[jax.Array, jax.Array]
Metrics = dict[str, jax.Array]
LossFn = Callable[[nnx.Module, Batch, jax.Array], tuple[jax.Array, Metrics]]
AugmentFn = Callable[[jax.Array, jax.Array], jax.Array]  # (x: [B, ...], key) -> x

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle")
COMPUTE_DTYPES = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of :func:`leptonlab.train.fit`, each with its unit."""

    epochs: int = 10  # passes over the training set
    batch_size: int = 128  # examples per optimizer step
    learning_rate: float = 1e-3  # peak step size (parameter units per gradient unit)
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # momentum coefficient, used by "momentum" (and as Adam's b1)
    weight_decay: float = (
        0.0  # per-step shrinkage of the weights: decoupled for "adamw", L2 otherwise
    )
    schedule: str = "constant"  # learning-rate schedule over the run, one of SCHEDULES
    warmup_epochs: float = 0.0  # epochs of linear warm-up from 0 to learning_rate ("cosine")
    early_stopping: int = 0  # stop after this many epochs without a better val_loss (0 = never)
    compute_dtype: str = (
        "float32"  # "bfloat16": forward and backward in bf16, float32 master weights
    )
    checkpoint_dir: str | None = None  # save the run here after each epoch, and resume from it
    seed: int = 0  # derives the shuffling and dropout keys: same seed, same run
    eval_batch_size: int = 1024  # examples per evaluation call (memory, not results)
    progress: bool = True  # show a tqdm progress bar
    # optimizer steps per compiled call (lax.scan over them); 0 = auto: 1 on CPU, 32 on GPU/TPU
    steps_per_call: int = 0

    def __post_init__(self):
        _require(
            isinstance(self.epochs, int) and self.epochs >= 1,
            f"epochs must be an int >= 1, got {self.epochs!r}.",
        )
        for name in ("batch_size", "eval_batch_size"):
            value = getattr(self, name)
            _require(
                isinstance(value, int) and value >= 1, f"{name} must be an int >= 1, got {value!r}."
            )
        _require(
            self.learning_rate > 0 and math.isfinite(self.learning_rate),
            f"learning_rate must be a positive number, got {self.learning_rate!r}.",
        )
        _require(
            self.optimizer in OPTIMIZERS,
            f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}.",
        )
        _require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum!r}.")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        _require(
            self.schedule in SCHEDULES,
            f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}.",
        )
        _require(
            0 <= self.warmup_epochs < self.epochs,
            f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs!r} for {self.epochs} epochs.",
        )
        _require(
            isinstance(self.early_stopping, int) and self.early_stopping >= 0,
            f"early_stopping must be an int >= 0 (epochs of patience), got {self.early_stopping!r}.",
        )
        _require(
            self.compute_dtype in COMPUTE_DTYPES,
            f"unknown compute_dtype {self.compute_dtype!r}; choose one of {COMPUTE_DTYPES}.",
        )
        _require(
            isinstance(self.steps_per_call, int) and self.steps_per_call >= 0,
            f"steps_per_call must be an int >= 0 (0 = choose by backend), got {self.steps_per_call!r}.",
        )


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


# --------------------------------------------------------------------------- the optimizer


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int) -> optax.Schedule:
    """The learning rate at each step: constant, warm-up + cosine decay to 0, or one-cycle."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}.")
    total = config.epochs * steps_per_epoch
    if config.schedule == "constant":
        return optax.constant_schedule(config.learning_rate)
    if config.schedule == "cosine":
        warmup = int(config.warmup_epochs * steps_per_epoch)
        return optax.warmup_cosine_decay_schedule(
            0.0, config.learning_rate, warmup, total, end_value=0.0
        )
    return optax.cosine_onecycle_schedule(total, config.learning_rate)


def optimizer(
    name: str, learning_rate: Any, *, momentum: float = 0.9, weight_decay: Any = 0.0
) -> optax.GradientTransformation:
    """The course's optimizers, by name (one of :data:`OPTIMIZERS`): the one optimizer factory.

    ``learning_rate`` is a number, a schedule or (under ``optax.inject_hyperparams``) an array;
    ``momentum`` is the momentum coefficient ("momentum") and Adam's ``b1``. ``weight_decay``
    is decoupled for "adamw" and an L2 term ``g + wd * w`` otherwise; a plain 0 adds nothing.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}.")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")
    if name == "adamw":
        return optax.adamw(learning_rate, b1=momentum, weight_decay=weight_decay)
    if name == "sgd":
        tx = optax.sgd(learning_rate)
    elif name == "momentum":
        tx = optax.sgd(learning_rate, momentum=momentum)
    else:
        tx = optax.adam(learning_rate, b1=momentum)
    if isinstance(weight_decay, (int, float)) and weight_decay == 0:
        return tx
    return optax.chain(optax.add_decayed_weights(weight_decay), tx)  # L2: g + wd * w


def make_optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> optax.GradientTransformation:
    """The optimizer ``config`` describes: :func:`optimizer` with the config's learning-rate schedule."""
    return optimizer(
        config.optimizer,
        learning_rate_schedule(config, steps_per_epoch),
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )


# --------------------------------------------------------------------------- the state and one step


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
    def create(
        cls,
        model: nnx.Module,
        tx: optax.GradientTransformation,
        *,
        key: jax.Array,
        compute_dtype: str = "float32",
    ) -> TrainState:
        """Split ``model`` once and initialise the optimizer; ``key`` seeds dropout and friends."""
        if not isinstance(model, nnx.Module):
            raise TypeError(f"expected a flax.nnx.Module, got {type(model).__name__}.")
        if compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"unknown compute_dtype {compute_dtype!r}; choose one of {COMPUTE_DTYPES}."
            )
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        return cls(
            graphdef=graphdef,
            tx=tx,
            params=params,
            rest=rest,
            opt_state=tx.init(params),
            key=key,
            step=jnp.zeros((), jnp.int32),
            compute_dtype=compute_dtype,
        )

    def model(self) -> nnx.Module:
        """The NNX model with this state's parameters (a new object; the state is unchanged)."""
        return nnx.merge(self.graphdef, self.params, self.rest)


def cast_floats(tree: Any, dtype: str) -> Any:
    """Floating-point leaves of ``tree`` cast to ``dtype`` (integers, e.g. labels, untouched)."""
    if dtype == "float32":
        return tree
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )


def train_step(
    state: TrainState, batch: Batch, loss_fn: LossFn, augment: AugmentFn | None = None
) -> tuple[TrainState, Metrics]:
    """One optimizer step on ``batch``: the pure function every training loop compiles.

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
        model = nnx.merge(state.graphdef, cast_floats(params, state.compute_dtype), rest)
        model.train()
        loss, metrics = loss_fn(model, (cast_floats(x, state.compute_dtype), y), step_key)
        _, _, rest = nnx.split(model, nnx.Param, ...)
        return loss, (metrics, rest)

    grads, (metrics, rest) = jax.grad(loss_of, has_aux=True)(
        state.params
    )  # grads: float32, like params
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    rest = jax.tree.map(
        lambda new, old: new.astype(old.dtype), rest, state.rest
    )  # batch stats stay float32
    new_state = state.replace(
        params=params, rest=rest, opt_state=opt_state, key=key, step=state.step + 1
    )
    return new_state, metrics


def eval_model(state: TrainState) -> nnx.Module:
    """The state's model in evaluation mode, its parameters in ``state.compute_dtype``."""
    model = nnx.merge(state.graphdef, cast_floats(state.params, state.compute_dtype), state.rest)
    model.eval()
    return model


def eval_step(state: TrainState, batch: Batch, loss_fn: LossFn) -> Metrics:
    """Per-example metrics of the model in evaluation mode on ``batch`` (no update)."""
    x, y = batch
    _, metrics = loss_fn(
        eval_model(state), (cast_floats(x, state.compute_dtype), y), jax.random.key(0)
    )
    return metrics


# --------------------------------------------------------------------------- data and its order


def check_data(data: Any, name: str) -> Batch:
    """``data`` as a pair of arrays ``(x: [N, ...], y: [N, ...])``, N >= 1; a clear error otherwise."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (x, y) of arrays, got {type(data).__name__}.")
    x, y = (jnp.asarray(a) for a in data)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name}: x and y need the same number of examples on axis 0, "
            f"got x {x.shape} and y {y.shape}."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one example.")
    return x, y


def take_rows(data: Any, idx: jax.Array) -> Any:
    """The rows ``idx: [B]`` of every array of ``data`` (each ``[N, ...] -> [B, ...]``)."""
    return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)


def seed_keys(seed) -> tuple[jax.Array, jax.Array]:
    """(data-order key, state key): both derive from the seed alone (a Python int or a traced one)."""
    data_key, state_key = jax.random.split(jax.random.key(seed))
    return data_key, state_key


def epoch_order(seed, n: int, batch_size: int, epoch) -> jax.Array:
    """The batches of one epoch: ``[n // batch_size, batch_size]`` int32 example indices.

    A permutation drawn from (seed, epoch), the last partial batch dropped so every
    step has the same shape. ``seed`` and ``epoch`` may be traced (``vmap`` over seeds).
    """
    steps = n // batch_size
    data_key, _ = seed_keys(seed)
    order = jax.random.permutation(jax.random.fold_in(data_key, epoch), n)  # [n]
    return order[: steps * batch_size].reshape(steps, batch_size)  # [steps, B]


# --------------------------------------------------------------------------- the epoch runner


def sum_metrics(totals: Metrics, metrics: Metrics, weight: jax.Array) -> Metrics:
    """``totals`` plus the ``weight``-weighted sum of each per-example metric ``[B]``."""
    return {name: totals[name] + jnp.sum(value * weight) for name, value in metrics.items()}


def _step_on_rows(
    state: TrainState,
    totals: Metrics,
    data: Batch,
    idx: jax.Array,
    loss_fn: LossFn,
    augment: AugmentFn | None,
    mesh: Mesh | None,
):
    """train_step on ``data[idx]`` (idx: [B]); with a mesh the batch's rows are split over its devices."""
    batch = take_rows(data, idx)
    if mesh is not None:  # XLA partitions the step by rows and all-reduces the gradients
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding(mesh))
    state, metrics = train_step(state, batch, loss_fn, augment)
    totals = sum_metrics(totals, metrics, jnp.ones(idx.shape[0], jnp.float32))
    if mesh is not None:  # the updated state stays one copy per device
        state, totals = jax.lax.with_sharding_constraint((state, totals), replicated(mesh))
    return state, totals


@tuned_jit(static_argnames=("loss_fn", "augment", "mesh"), donate_argnames=("state", "totals"))
def _train_on_indices(
    state: TrainState,
    totals: Metrics,
    data: Batch,
    idx: jax.Array,
    loss_fn: LossFn,
    augment: AugmentFn | None = None,
    mesh: Mesh | None = None,
):
    """One step on the batch ``data[idx]`` (idx: [B] int32), adding its metrics to ``totals``."""
    return _step_on_rows(state, totals, data, idx, loss_fn, augment, mesh)


def train_on_batches(
    state: TrainState,
    totals: Metrics,
    data: Batch,
    batches: jax.Array,
    loss_fn: LossFn,
    augment: AugmentFn | None = None,
    mesh: Mesh | None = None,
) -> tuple[TrainState, Metrics]:
    """K steps on the batches ``data[batches[k]]`` in turn (batches: [K, B] int32): one lax.scan.

    The package's one loop over steps inside a compiled program, traced by the caller:
    :func:`run_epoch` compiles it for chunks of K steps (the same steps as K calls of one
    step: on a GPU this removes K - 1 dispatches; on a CPU the per-step loop measured faster,
    PERFORMANCE.md), and :func:`leptonlab.search.train_epoch` runs it under ``jax.vmap`` over
    a stack of models, a whole epoch in one call. ``totals`` gains the sum of each metric.
    """

    def body(carry, idx):  # idx: [B]
        return _step_on_rows(*carry, data, idx, loss_fn, augment, mesh), None

    (state, totals), _ = jax.lax.scan(body, (state, totals), batches)
    return state, totals


_train_on_chunk = tuned_jit(
    train_on_batches,
    static_argnames=("loss_fn", "augment", "mesh"),
    donate_argnames=("state", "totals"),
)


def steps_per_call(config: TrainConfig, steps: int) -> int:
    """How many optimizer steps :func:`run_epoch` runs per compiled call: ``config.steps_per_call``,
    or by backend when it is 0 (1 on CPU, where a Python loop of jitted steps was faster than
    ``lax.scan`` in our benchmarks; up to 32 on accelerators, where dispatch overhead dominates)."""
    chosen = config.steps_per_call or (1 if jax.default_backend() == "cpu" else 32)
    return max(1, min(chosen, steps))


def run_epoch(
    state: TrainState,
    totals: Metrics,
    data: Batch,
    batches: jax.Array,
    *,
    loss_fn: LossFn,
    augment: AugmentFn | None = None,
    chunk: int = 1,
    mesh: Mesh | None = None,
    on_steps: Callable[[int], None] | None = None,
) -> tuple[TrainState, Metrics]:
    """Train on each batch ``data[batches[i]]`` of an epoch in turn (batches: ``[steps, B]`` int32).

    ``chunk`` steps run per compiled call (then single steps for the remainder); ``totals``
    accumulates the per-example metrics (sums over the epoch). With ``mesh`` the state, the
    data and ``batches`` are copies on every device of the mesh and each batch's rows are
    split over it. ``on_steps(k)`` is called after each call of ``k`` steps (a progress bar).
    Both ``state`` and ``totals`` are donated.
    """
    steps, i = batches.shape[0], 0
    while i < steps:
        k = chunk if steps - i >= chunk else 1
        if k == 1:
            state, totals = _train_on_indices(
                state, totals, data, batches[i], loss_fn=loss_fn, augment=augment, mesh=mesh
            )
        else:
            state, totals = _train_on_chunk(
                state, totals, data, batches[i : i + k], loss_fn=loss_fn, augment=augment, mesh=mesh
            )
        i += k
        if on_steps is not None:
            on_steps(k)
    return state, totals
