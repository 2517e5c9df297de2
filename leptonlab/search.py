"""Hyperparameter search: many models trained at once in one compiled program (notebook 19).

A small model leaves most of a CPU core or a GPU idle; ``jax.vmap`` over a stack
of models fills it. Every model of a search has its own parameters, optimizer
state, PRNG key, data order, learning rate and weight decay, but all of them run
in one program: the training core's epoch body (one ``lax.scan`` over the steps,
:func:`leptonlab.train.core.train_on_batches`) under ``vmap`` over the models. The
learning rate and weight decay live in the optimizer state (``optax.inject_hyperparams``),
so they are arrays that ``vmap`` can batch.

    trials = search.grid(learning_rates=[1e-3, 3e-3, 1e-2], seeds=[0, 1])
    result = search.train_many(lambda rngs: MLP(784, [64], 10, rngs=rngs), train_data, trials,
                               epochs=3, batch_size=128, val_data=val_data)
    print(search.format_table(result.table()))

Model ``i`` of a search is trained exactly as one run of
:func:`leptonlab.train.train_step` would train it alone: the parameters are
initialised from ``model_fn(nnx.Rngs(seed))``, the state key and the data order
derive from the seed as in :func:`leptonlab.train.fit` (tests check the
equality). :func:`successive_halving` trains many trials briefly and keeps
training only the best fraction.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from leptonlab import speedups
from leptonlab.speedups import tuned_jit
from leptonlab.train import (
    OPTIMIZERS,
    Batch,
    LossFn,
    Metrics,
    TrainState,
    classification_loss,
    eval_step,
    train_on_batches,
)
from leptonlab.train import check_data as check_data
from leptonlab.train import epoch_order as epoch_order
from leptonlab.train import optimizer as train_optimizer
from leptonlab.train import seed_keys as seed_keys
from leptonlab.train import take_rows as take_rows
from leptonlab.train.evaluation import metric_names

__all__ = [
    "CostPoint",
    "HalvingResult",
    "ModelFn",
    "SearchResult",
    "Trials",
    "cost_curve",
    "evaluate_many",
    "format_table",
    "grid",
    "halving_survivors",
    "init_many",
    "log_uniform",
    "num_models",
    "random_trials",
    "search_optimizer",
    "select",
    "successive_halving",
    "train_epoch",
    "train_many",
    "unstack",
]

ModelFn = Callable[[nnx.Rngs], nnx.Module]


# --------------------------------------------------------------------------- trials


@dataclasses.dataclass(frozen=True, eq=False)
class Trials:
    """The hyperparameters of N models, one entry per model.

    ``learning_rate: [N] float`` (step size), ``weight_decay: [N] float``
    (decoupled for "adamw", L2 otherwise; 0 = none), ``seed: [N] int`` (the
    model's initialisation, dropout keys and data order). Build with
    :func:`grid` or :func:`random_trials`. Introduced in notebook 19.
    """

    learning_rate: np.ndarray  # [N] float64, > 0
    weight_decay: np.ndarray  # [N] float64, >= 0
    seed: np.ndarray  # [N] int64, >= 0

    def __post_init__(self):
        lr = np.atleast_1d(np.asarray(self.learning_rate, dtype=np.float64))
        wd = np.atleast_1d(np.asarray(self.weight_decay, dtype=np.float64))
        seed = np.atleast_1d(np.asarray(self.seed))
        if not (lr.ndim == wd.ndim == seed.ndim == 1 and len(lr) == len(wd) == len(seed)):
            raise ValueError(
                f"Trials needs three 1-D arrays of one length, got learning_rate {lr.shape}, "
                f"weight_decay {wd.shape} and seed {seed.shape}."
            )
        if len(lr) == 0:
            raise ValueError("Trials is empty: give at least one learning rate.")
        if not np.all(np.isfinite(lr) & (lr > 0)):
            raise ValueError(f"every learning_rate must be a positive number, got {lr.tolist()}.")
        if not np.all(np.isfinite(wd) & (wd >= 0)):
            raise ValueError(f"every weight_decay must be >= 0, got {wd.tolist()}.")
        if not (np.issubdtype(seed.dtype, np.integer) and np.all(seed >= 0)):
            raise ValueError(f"seeds must be integers >= 0, got {seed.tolist()}.")
        object.__setattr__(self, "learning_rate", lr)
        object.__setattr__(self, "weight_decay", wd)
        object.__setattr__(self, "seed", seed.astype(np.int64))

    def __len__(self) -> int:
        return len(self.learning_rate)

    def take(self, index: Sequence[int] | np.ndarray) -> Trials:
        """The trials at ``index`` (ints), in that order."""
        index = np.asarray(index, dtype=np.int64)
        return Trials(self.learning_rate[index], self.weight_decay[index], self.seed[index])

    def with_seeds(self, seeds: Sequence[int]) -> Trials:
        """Each trial once per seed (seed varies fastest): ``len(self) * len(seeds)`` trials."""
        seeds = np.asarray(seeds)
        if seeds.ndim != 1 or len(seeds) == 0:
            raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}.")
        k = len(seeds)
        return Trials(
            np.repeat(self.learning_rate, k),
            np.repeat(self.weight_decay, k),
            np.tile(seeds, len(self)),
        )

    def rows(self) -> list[dict[str, float]]:
        """One dict per trial: ``{"learning_rate", "weight_decay", "seed"}``."""
        return [
            {"learning_rate": float(lr), "weight_decay": float(wd), "seed": int(s)}
            for lr, wd, s in zip(self.learning_rate, self.weight_decay, self.seed)
        ]

    def __repr__(self) -> str:
        return f"Trials({len(self)} models)"


def grid(
    learning_rates: Sequence[float],
    weight_decays: Sequence[float] = (0.0,),
    seeds: Sequence[int] = (0,),
) -> Trials:
    """Every combination of the given values (learning rate varies slowest, seed fastest).

    ``grid([1e-3, 1e-2], seeds=[0, 1])`` is 4 trials. Introduced in notebook 19.
    """
    for name, values in (
        ("learning_rates", learning_rates),
        ("weight_decays", weight_decays),
        ("seeds", seeds),
    ):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
            raise TypeError(f"grid(): {name} must be a non-empty list of numbers, got {values!r}.")
    combos = list(itertools.product(learning_rates, weight_decays, seeds))
    lr, wd, seed = (np.array(column) for column in zip(*combos))
    return Trials(lr, wd, seed)


def log_uniform(key: jax.Array, n: int, low: float, high: float) -> np.ndarray:
    """``n`` samples whose logarithm is uniform on ``[log low, log high)``: ``[n]`` float64.

    Each decade between ``low`` and ``high`` gets the same share of samples, the
    right prior for a scale parameter such as a learning rate. Introduced in notebook 19.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"log_uniform(): n must be an int >= 1, got {n!r}.")
    if not (0 < low < high and math.isfinite(high)):
        raise ValueError(f"log_uniform() needs 0 < low < high, got low={low!r}, high={high!r}.")
    u = jax.random.uniform(key, (int(n),), minval=math.log(low), maxval=math.log(high))  # [n]
    return np.exp(np.asarray(u, dtype=np.float64))


def random_trials(
    n: int,
    *,
    key: jax.Array,
    learning_rate: tuple[float, float] = (1e-4, 1e-1),
    weight_decay: tuple[float, float] | None = None,
    seed: int = 0,
) -> Trials:
    """``n`` random trials: learning rate (and weight decay, if a range is given) log-uniform.

    Random search samples each hyperparameter independently, so with few trials
    it still tries ``n`` different values of the one that matters most (Bergstra
    and Bengio, 2012), where a grid tries only a few. Introduced in notebook 19.
    """
    lr_key, wd_key = jax.random.split(key)
    lr = log_uniform(lr_key, n, *learning_rate)
    wd = np.zeros(n) if weight_decay is None else log_uniform(wd_key, n, *weight_decay)
    return Trials(lr, wd, np.full(n, seed))


# --------------------------------------------------------------------------- training


@functools.lru_cache(maxsize=16)
def search_optimizer(
    optimizer: str = "adamw", *, momentum: float = 0.9
) -> optax.GradientTransformation:
    """The optimizer of a search: :func:`leptonlab.train.optimizer` with ``learning_rate`` and
    ``weight_decay`` held in its state.

    ``optax.inject_hyperparams`` keeps both as arrays in ``opt_state.hyperparams``,
    so each model of a stack has its own. The same arguments return the same
    object, so a second search of the same shapes reuses the compiled program.
    Introduced in notebook 19.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}.")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")

    def make(learning_rate, weight_decay):  # only these two become arrays in the optimizer state
        return train_optimizer(
            optimizer, learning_rate, momentum=momentum, weight_decay=weight_decay
        )

    return optax.inject_hyperparams(make)(learning_rate=1.0, weight_decay=0.0)


def _check_model_fn(model_fn: ModelFn) -> nnx.GraphDef:
    if not callable(model_fn):
        raise TypeError(
            f"model_fn must be a function rngs -> nnx.Module, got {type(model_fn).__name__}."
        )
    model = nnx.eval_shape(lambda: model_fn(nnx.Rngs(0)))  # shapes only: nothing computed
    if not isinstance(model, nnx.Module):
        raise TypeError(
            f"model_fn(rngs) must return a flax.nnx.Module, got {type(model).__name__}."
        )
    graphdef, _, _ = nnx.split(
        speedups.apply(model), nnx.Param, ...
    )  # im2col convolutions (leptonlab.speedups)
    return graphdef


def init_many(
    model_fn: ModelFn, trials: Trials, *, optimizer: str = "adamw", momentum: float = 0.9
) -> TrainState:
    """One :class:`~leptonlab.train.TrainState` holding ``len(trials)`` models stacked on axis 0.

    Model ``i`` is ``model_fn(nnx.Rngs(trials.seed[i]))`` with its optimizer state,
    its learning rate and weight decay (``opt_state.hyperparams``) and its state
    key; every array leaf has shape ``[N, ...]``. Initialised under one ``vmap``.
    Introduced in notebook 19.
    """
    if not isinstance(trials, Trials):
        raise TypeError(f"trials must be a Trials (see search.grid), got {type(trials).__name__}.")
    graphdef = _check_model_fn(model_fn)
    tx = search_optimizer(optimizer, momentum=momentum)

    def init_one(seed, lr, wd):
        model = model_fn(nnx.Rngs(jax.random.key(seed)))
        _, params, rest = nnx.split(model, nnx.Param, ...)
        opt_state = tx.init(params)
        hyper = dict(opt_state.hyperparams, learning_rate=lr, weight_decay=wd)
        return params, rest, opt_state._replace(hyperparams=hyper), seed_keys(seed)[1]

    seeds = jnp.asarray(trials.seed, jnp.uint32)
    lrs = jnp.asarray(trials.learning_rate, jnp.float32)
    wds = jnp.asarray(trials.weight_decay, jnp.float32)
    params, rest, opt_state, keys = jax.jit(jax.vmap(init_one))(seeds, lrs, wds)
    return TrainState(
        graphdef=graphdef,
        tx=tx,
        params=params,
        rest=rest,
        opt_state=opt_state,
        key=keys,
        step=jnp.zeros(len(trials), jnp.int32),
    )


def num_models(states: TrainState) -> int:
    """How many models a stacked state holds (the length of its leading axis)."""
    if not isinstance(states, TrainState):
        raise TypeError(
            f"expected a stacked TrainState (from init_many), got {type(states).__name__}."
        )
    if states.step.ndim != 1:
        raise ValueError(
            "this TrainState holds one model, not a stack: build stacks with search.init_many."
        )
    return int(states.step.shape[0])


def unstack(states: TrainState, i: int) -> TrainState:
    """Model ``i`` of a stack as an ordinary TrainState (usable with train.evaluate, predict ...)."""
    n = num_models(states)
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
        raise ValueError(f"model index must be an int in [0, {n}), got {i!r}.")
    return jax.tree.map(lambda a: a[i], states)


def select(states: TrainState, index: Sequence[int] | np.ndarray) -> TrainState:
    """The models at ``index`` as a smaller stack (e.g. the survivors of a halving round)."""
    n = num_models(states)
    index = np.asarray(index, dtype=np.int64)
    if index.ndim != 1 or len(index) == 0 or index.min() < 0 or index.max() >= n:
        raise ValueError(
            f"index must be a non-empty list of model indices in [0, {n}), got {index.tolist()}."
        )
    return jax.tree.map(lambda a: a[index], states)


def _train_epoch_impl(
    states: TrainState, totals: Metrics, data: Batch, batches: jax.Array, loss_fn: LossFn
) -> tuple[TrainState, Metrics]:
    """An epoch of every model: :func:`leptonlab.train.core.train_on_batches` under ``vmap``.

    batches: ``[steps, N, B]`` int32 (each model its own order) or ``[steps, B]`` (one order
    shared by all models: then the batch is not batched by ``vmap``, and a dense layer of N
    models becomes one wide matrix product). ``totals``: ``{name: [N]}`` sums, as in ``fit``.
    """
    by_model = None if batches.ndim == 2 else 1  # the models' axis of batches, if it has one
    run = lambda state, sums, idx: train_on_batches(state, sums, data, idx, loss_fn)  # one model
    return jax.vmap(run, in_axes=(0, 0, by_model))(states, totals, batches)


_train_epoch = tuned_jit(
    _train_epoch_impl, static_argnames="loss_fn", donate_argnames=("states", "totals")
)
_train_epoch_keep = tuned_jit(
    _train_epoch_impl, static_argnames="loss_fn"
)  # no donation: for timing


@functools.partial(jax.jit, static_argnames=("n", "batch_size"))
def _epoch_batches_jit(seeds: jax.Array, epoch: jax.Array, n: int, batch_size: int) -> jax.Array:
    orders = jax.vmap(lambda s: epoch_order(s, n, batch_size, epoch))(seeds)  # [N, steps, B]
    return jnp.swapaxes(orders, 0, 1)  # [steps, N, B]


def _epoch_batches(seeds: np.ndarray, epoch: int, n: int, batch_size: int) -> jax.Array:
    """``[steps, N, B]`` indices, or ``[steps, B]`` when every model has the same seed (one shared order)."""
    seeds = np.asarray(seeds)
    if np.all(seeds == seeds[0]):
        return _epoch_batches_jit(
            jnp.asarray(seeds[:1], jnp.uint32), jnp.asarray(epoch), n, batch_size
        )[:, 0]
    return _epoch_batches_jit(jnp.asarray(seeds, jnp.uint32), jnp.asarray(epoch), n, batch_size)


def train_epoch(
    states: TrainState,
    data: Batch,
    seeds: Sequence[int] | np.ndarray,
    epoch: int,
    *,
    batch_size: int,
    loss_fn: LossFn = classification_loss,
) -> tuple[TrainState, Metrics]:
    """One epoch of every model of ``states`` in one compiled call.

    ``data = (x: [n, ...], y: [n])`` is shared; model ``i`` visits it in the order
    of ``epoch_order(seeds[i], n, batch_size, epoch)``; models with one seed share
    one order, and when all do, every step reads one batch for all models (much
    cheaper than N batches). Returns the new stack (the old one is donated) and the
    mean training metrics of the epoch, ``{name: [N]}``.
    """
    n_models = num_models(states)
    data = check_data(data, "data")
    seeds = np.asarray(seeds)
    if seeds.shape != (n_models,):
        raise ValueError(
            f"need one seed per model: {n_models} models, got seeds of shape {seeds.shape}."
        )
    n = data[0].shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(
            f"batch_size must be an int in [1, {n}] (the examples in data), got {batch_size!r}."
        )
    batches = _epoch_batches(seeds, epoch, n, batch_size)  # [steps, N, B], or [steps, B] if shared
    states, totals = _train_epoch(
        states, _zero_totals(states, data, loss_fn), data, batches, loss_fn=loss_fn
    )
    return states, {name: total / (batches.shape[0] * batch_size) for name, total in totals.items()}


def _zero_totals(states: TrainState, data: Batch, loss_fn: LossFn) -> Metrics:
    """``{name: zeros [N]}``, one per metric ``loss_fn`` returns (shapes only, nothing computed)."""
    one_model = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), states)
    names = metric_names(one_model, data, loss_fn)
    return {name: jnp.zeros(num_models(states), jnp.float32) for name in names}


@functools.partial(jax.jit, static_argnames="loss_fn", donate_argnames="totals")
def _eval_many(
    states: TrainState,
    totals: Metrics,
    data: Batch,
    idx: jax.Array,
    weight: jax.Array,
    loss_fn: LossFn,
) -> Metrics:
    metrics = jax.vmap(lambda s: eval_step(s, take_rows(data, idx), loss_fn))(
        states
    )  # {name: [N, B]}
    return {
        k: totals[k] + jnp.sum(v * weight[None, :], axis=-1) for k, v in metrics.items()
    }  # {name: [N]}


def evaluate_many(
    states: TrainState,
    data: Batch,
    *,
    loss_fn: LossFn = classification_loss,
    batch_size: int = 1024,
) -> dict[str, np.ndarray]:
    """Mean of each metric over ``data`` for every model of the stack: ``{name: [N]}`` float64.

    Like :func:`leptonlab.train.evaluate` (padded batches weighted out, exact for any
    size), for all models at once. A model whose training diverged gets NaN.
    """
    n_models = num_models(states)
    data = check_data(data, "data")
    n = data[0].shape[0]
    size = min(batch_size, n)
    names = jax.eval_shape(
        lambda s, d: eval_step(s, d, loss_fn),
        unstack(states, 0),
        take_rows(data, jnp.zeros(1, jnp.int32)),
    )
    totals = {name: jnp.zeros(n_models, jnp.float32) for name in names}
    for start in range(0, n, size):
        idx = jnp.arange(start, start + size)  # [size]; past the end is padding
        weight = (idx < n).astype(jnp.float32)
        totals = _eval_many(states, totals, data, jnp.minimum(idx, n - 1), weight, loss_fn=loss_fn)
    return {name: np.asarray(total, dtype=np.float64) / n for name, total in totals.items()}


@dataclasses.dataclass(frozen=True, eq=False)
class SearchResult:
    """What :func:`train_many` returns.

    ``states``: the trained stack (leading axis N); ``history[name]``: ``[epochs, N]``
    per-epoch metrics (``train_loss``, ``val_accuracy`` ...); ``seconds``: wall time
    of the whole run including compilation. Introduced in notebook 19.
    """

    trials: Trials
    states: TrainState
    history: dict[str, np.ndarray]  # name -> [epochs, N]
    seconds: float  # wall-clock seconds, compilation included

    def final(self, name: str) -> np.ndarray:
        """The metric ``name`` after the last epoch: ``[N]``."""
        if name not in self.history:
            raise KeyError(f"no metric {name!r}; this result has {sorted(self.history)}.")
        return self.history[name][-1]

    def best(self, metric: str = "val_loss", *, mode: str = "min") -> int:
        """Index of the best trial by the final ``metric`` (NaN, a diverged run, is never best)."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        values = self.final(metric)
        if np.all(np.isnan(values)):
            raise ValueError(
                f"every trial has NaN {metric}: all runs diverged; lower the learning rates."
            )
        return int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))

    def table(self, metric: str = "val_loss", *, mode: str = "min") -> list[dict[str, float]]:
        """One row per trial (hyperparameters and final metrics), best first by ``metric``."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        rows = self.trials.rows()
        for name, values in self.history.items():
            for row, value in zip(rows, values[-1]):
                row[name] = float(value)
        sign = 1.0 if mode == "min" else -1.0
        return sorted(
            rows,
            key=lambda r: (
                math.isnan(r[metric]),
                sign * r[metric] if not math.isnan(r[metric]) else 0.0,
            ),
        )


def train_many(
    model_fn: ModelFn,
    train_data: Batch,
    trials: Trials,
    *,
    epochs: int,
    batch_size: int,
    loss_fn: LossFn = classification_loss,
    val_data: Batch | None = None,
    optimizer: str = "adamw",
    momentum: float = 0.9,
    eval_batch_size: int = 1024,
) -> SearchResult:
    """Train one model per trial, all at once; ``model_fn(rngs) -> nnx.Module`` builds one model.

    ``train_data = (x: [n, ...], y: [n])``. Each epoch is one compiled call for all
    models (:func:`train_epoch`); after it the mean training metrics and, with
    ``val_data``, the validation metrics of every model are recorded. Model ``i``
    ends with the parameters that training it alone with
    ``TrainConfig(optimizer, learning_rate=trials.learning_rate[i], weight_decay=...,
    seed=trials.seed[i], batch_size=batch_size)`` gives, to float tolerance.
    Introduced in notebook 19.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}.")
    train_data = check_data(train_data, "train_data")
    if val_data is not None:
        val_data = check_data(val_data, "val_data")
    start = time.perf_counter()
    states = init_many(model_fn, trials, optimizer=optimizer, momentum=momentum)
    history: dict[str, list[np.ndarray]] = {}
    for epoch in range(epochs):
        states, metrics = train_epoch(
            states, train_data, trials.seed, epoch, batch_size=batch_size, loss_fn=loss_fn
        )
        row = {f"train_{k}": np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
        if val_data is not None:
            row.update(
                {
                    f"val_{k}": v
                    for k, v in evaluate_many(
                        states, val_data, loss_fn=loss_fn, batch_size=eval_batch_size
                    ).items()
                }
            )
        for name, values in row.items():
            history.setdefault(name, []).append(values)
    return SearchResult(
        trials=trials,
        states=states,
        history={k: np.stack(v) for k, v in history.items()},
        seconds=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- successive halving


def halving_survivors(scores: Sequence[float] | np.ndarray, eta: int = 2) -> np.ndarray:
    """Indices of the ``ceil(n / eta)`` lowest ``scores`` (e.g. validation losses), best first.

    NaN (a diverged run) counts as the worst score; ties keep the lower index.
    At least one survives. Introduced in notebook 19.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(
            f"scores must be a non-empty 1-D array (one per trial), got shape {scores.shape}."
        )
    if isinstance(eta, bool) or not isinstance(eta, (int, np.integer)) or eta < 2:
        raise ValueError(f"eta (the fraction 1/eta survives) must be an int >= 2, got {eta!r}.")
    keep = math.ceil(len(scores) / eta)
    order = np.argsort(np.where(np.isnan(scores), np.inf, scores), kind="stable")
    return order[:keep]


@dataclasses.dataclass(frozen=True, eq=False)
class HalvingResult:
    """What :func:`successive_halving` returns.

    ``rounds[r]`` is a dict with ``"trials"`` (indices into the original trials alive
    in round r), ``"epochs"`` (epochs each of them has trained by the end of it) and
    ``"scores"`` (their metric then). ``best`` indexes the original trials;
    ``model_epochs`` is the total training spent (models x epochs).
    """

    trials: Trials
    rounds: list[dict[str, Any]]
    best: int
    model_epochs: int
    states: TrainState  # the last round's survivors, stacked
    seconds: float


def successive_halving(
    model_fn: ModelFn,
    train_data: Batch,
    trials: Trials,
    *,
    val_data: Batch,
    rounds: int,
    epochs_per_round: int = 1,
    eta: int = 2,
    batch_size: int,
    loss_fn: LossFn = classification_loss,
    metric: str = "loss",
    optimizer: str = "adamw",
    momentum: float = 0.9,
) -> HalvingResult:
    """Train all trials for ``epochs_per_round`` epochs, keep the best ``1/eta`` by validation
    ``metric`` (lower is better), train the survivors on, and so on for ``rounds`` rounds.

    Cheap trials reveal bad learning rates early, so most of the budget goes to the
    promising ones: ``model_epochs`` is much less than ``len(trials) * rounds *
    epochs_per_round``. Survivors continue where they stopped (same state, same data
    order as an uninterrupted run). Introduced in notebook 19.
    """
    for name, value in (("rounds", rounds), ("epochs_per_round", epochs_per_round)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if eta < 2:
        raise ValueError(f"eta must be an int >= 2, got {eta!r}.")
    train_data = check_data(train_data, "train_data")
    val_data = check_data(val_data, "val_data")
    start = time.perf_counter()
    states = init_many(model_fn, trials, optimizer=optimizer, momentum=momentum)
    alive = np.arange(len(trials))
    history, spent, epoch = [], 0, 0
    for r in range(rounds):
        for _ in range(epochs_per_round):
            states, _ = train_epoch(
                states,
                train_data,
                trials.seed[alive],
                epoch,
                batch_size=batch_size,
                loss_fn=loss_fn,
            )
            epoch += 1
        spent += len(alive) * epochs_per_round
        scores = evaluate_many(states, val_data, loss_fn=loss_fn)
        if metric not in scores:
            raise ValueError(
                f"unknown metric {metric!r}; the loss function gives {sorted(scores)}."
            )
        history.append({"trials": alive.copy(), "epochs": epoch, "scores": scores[metric]})
        if r < rounds - 1:
            keep = halving_survivors(scores[metric], eta)
            alive, states = alive[keep], select(states, keep)
    last = history[-1]
    best = int(last["trials"][halving_survivors(last["scores"], 2)[0]])  # the lowest score
    return HalvingResult(
        trials=trials,
        rounds=history,
        best=best,
        model_epochs=spent,
        states=states,
        seconds=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- the cost curve


@dataclasses.dataclass(frozen=True)
class CostPoint:
    """Wall time of one epoch of ``models`` models trained together (notebook 19)."""

    models: int  # N, models trained at once
    seconds: float  # median wall time of one epoch (compiled), seconds
    compile_seconds: float  # the first call minus a typical one: tracing + compilation, seconds


def cost_curve(
    model_fn: ModelFn,
    train_data: Batch,
    ns: Sequence[int],
    *,
    batch_size: int,
    loss_fn: LossFn = classification_loss,
    learning_rate: float = 1e-3,
    repeats: int = 3,
) -> list[CostPoint]:
    """Time one epoch of N models trained at once, for each N in ``ns``.

    The models differ in learning rate (log-spaced around ``learning_rate``) and
    share seed 0 (so one data order, the usual set-up of a learning-rate search);
    each N compiles its own program, timed apart. With
    N = 1 it is the time of a single model with the very same code, so
    ``seconds(N) / (N * seconds(1))`` is the honest saving of ``vmap``.
    """
    from leptonlab.timing import time_fn

    train_data = check_data(train_data, "train_data")
    ns = list(ns)
    if not ns or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in ns
    ):
        raise ValueError(f"ns must be a non-empty list of ints >= 1 (models at once), got {ns!r}.")
    n_data = train_data[0].shape[0]
    if not 1 <= batch_size <= n_data:
        raise ValueError(f"batch_size must be in [1, {n_data}], got {batch_size!r}.")
    points = []
    for n_models in ns:
        lrs = (
            learning_rate * np.logspace(-0.5, 0.5, int(n_models))
            if n_models > 1
            else np.array([learning_rate])
        )
        trials = Trials(
            lrs, np.zeros(n_models), np.zeros(n_models, np.int64)
        )  # one seed: a shared data order
        states = init_many(model_fn, trials)
        batches = _epoch_batches(trials.seed, 0, n_data, batch_size)  # [steps, B]
        timing = time_fn(
            functools.partial(_train_epoch_keep, loss_fn=loss_fn),
            states,
            _zero_totals(states, train_data, loss_fn),
            train_data,
            batches,
            repeats=repeats,
            warmup=0,
        )
        points.append(
            CostPoint(
                models=int(n_models), seconds=timing.median_s, compile_seconds=timing.compile_s
            )
        )
    return points


def format_table(
    rows: Sequence[Mapping[str, Any]], *, columns: Sequence[str] | None = None, max_rows: int = 20
) -> str:
    """Rows of dicts (e.g. ``SearchResult.table()``) as an aligned text table, one line per row."""
    rows = list(rows)
    if not rows:
        raise ValueError("format_table() needs at least one row.")
    columns = list(columns or rows[0])
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise ValueError(f"unknown columns {missing}; the rows have {list(rows[0])}.")

    def fmt(value):
        if isinstance(value, (float, np.floating)):
            return f"{value:.4g}"
        return str(value)

    cells = [columns] + [[fmt(row[c]) for c in columns] for row in rows[:max_rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more rows")
    return "\n".join(lines)
