"""Diagnostics of a network before and during training (notebook 09): initialisation, dead ReLUs,
the learning-rate range test.

* :func:`init_std` and :func:`mlp_with_init`: the standard deviation a weight initialisation draws
  with ("naive" fixed std, LeCun, Xavier/Glorot, He/Kaiming), and a :class:`~leptonlab.models.MLP`
  whose kernels are drawn with it.
* :func:`layer_stats`: per hidden layer, the mean and standard deviation of the activations, the
  fraction of dead units (zero on every example) and the size of the backward signal, and per
  weight matrix the standard deviation of the loss gradient: where the signal vanishes or explodes.
* :func:`lr_range_test`: train for a few hundred steps while the learning rate grows exponentially,
  record the loss, and suggest a rate below the point where the loss stops falling (L. N. Smith,
  "Cyclical Learning Rates for Training Neural Networks", 2017).

Everything is a pure function of its arguments; random draws take an explicit ``key``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from leptonlab.losses import classification_loss
from leptonlab.models import MLP
from leptonlab.train import OPTIMIZERS, LossFn, TrainState, check_data, train_step
from leptonlab.train import optimizer as optimizer_by_name

INITS = ("lecun", "xavier", "he")  # the named initialisations; a number is a fixed ("naive") std

# The activations of leptonlab.models.MLP, by the names it takes (layer_stats runs the same forward pass;
# tests/test_diagnostics.py checks that its logits equal the model's).
_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
}


# --------------------------------------------------------------------------- initialisation


def init_std(init: str | float, n_in: int, n_out: int) -> float:
    """The standard deviation of the weights ``N(0, std^2)`` of a dense layer ``n_in -> n_out``.

    A layer's output ``z = x @ W`` has ``Var[z] = n_in * Var[w] * E[x^2]`` (independent, zero-mean
    weights), so the scale of the signal is kept when ``Var[w]`` cancels ``n_in``:

    * ``"lecun"``: ``Var[w] = 1 / n_in`` (keeps ``Var[z] = E[x^2]``; Flax's default, ``lecun_normal``);
    * ``"xavier"`` (Glorot & Bengio, 2010): ``Var[w] = 2 / (n_in + n_out)``, the compromise between
      the forward pass (``1 / n_in``) and the backward pass (``1 / n_out``), made for tanh;
    * ``"he"`` (He et al., 2015): ``Var[w] = 2 / n_in``; a ReLU zeroes half of a symmetric signal,
      so ``E[relu(z)^2] = Var[z] / 2``, and the 2 puts it back;
    * a positive number: that standard deviation whatever the widths (a "naive" initialisation).

    Notebook 09.
    """
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{name} must be a positive integer (a layer width), got {n!r}.")
    if isinstance(init, str):
        if init == "lecun":
            return math.sqrt(1.0 / n_in)
        if init == "xavier":
            return math.sqrt(2.0 / (n_in + n_out))
        if init == "he":
            return math.sqrt(2.0 / n_in)
        raise ValueError(
            f"unknown initialisation {init!r}; choose one of {INITS}, or pass a standard deviation "
            "(a positive number) for a naive initialisation."
        )
    if isinstance(init, bool) or not isinstance(init, (int, float, np.floating, np.integer)):
        raise TypeError(
            f"init must be one of {INITS} or a standard deviation (a number), got "
            f"{type(init).__name__}."
        )
    if not (math.isfinite(init) and init > 0):
        raise ValueError(f"a naive initialisation's standard deviation must be > 0, got {init!r}.")
    return float(init)


def mlp_with_init(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    init: str | float,
    *,
    key: jax.Array,
    activation: str = "relu",
    bias: float = 0.0,
) -> MLP:
    """A :class:`~leptonlab.models.MLP` whose kernels are drawn from ``N(0, init_std(init, n_in, n_out)^2)``.

    Layer ``l``'s kernel ``[n_in, n_out]`` is drawn with ``jax.random.fold_in(key, l)``; every bias
    is the constant ``bias`` (0 as usual; a negative one switches ReLUs off). The widths, the
    activation and the forward pass are the MLP's: ``x: [B, in_features] -> [B, out_features]``.
    Notebook 09.
    """
    widths = [in_features, *hidden, out_features]
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        raise TypeError(
            f"key must be a JAX PRNG key (jax.random.key(seed)), got {type(key).__name__}."
        )
    stds = [init_std(init, a, b) for a, b in zip(widths[:-1], widths[1:])]  # checks the widths too
    model = MLP(in_features, list(hidden), out_features, activation=activation, rngs=nnx.Rngs(0))
    for i, (layer, std) in enumerate(zip(model.layers, stds)):
        shape = layer.kernel[...].shape  # [n_in, n_out]
        layer.kernel[...] = std * jax.random.normal(jax.random.fold_in(key, i), shape)
        layer.bias[...] = jnp.full(layer.bias[...].shape, bias, jnp.float32)
    return model


# --------------------------------------------------------------------------- per-layer statistics


@dataclasses.dataclass(frozen=True)
class LayerStats:
    """What :func:`layer_stats` measured, for an MLP with ``L`` hidden layers (``L + 1`` weight matrices).

    ``act_mean``, ``act_std`` ``[L]``: mean and standard deviation of hidden layer ``l``'s outputs
    (after the activation) over the batch and the units; ``dead_fraction`` ``[L]``: the fraction of
    its units whose output is 0 on every example of the batch (a dead ReLU passes no gradient);
    ``delta_std`` ``[L]``: standard deviation of the backward signal, the gradient of each
    example's loss with respect to hidden layer ``l``'s pre-activation ``z = x @ W + b``;
    ``grad_std`` ``[L + 1]``: standard deviation of the entries of ``dLoss/dW`` (the batch's mean
    loss) for each kernel, the first layer's first and the output layer's last, what the optimizer
    sees; ``loss``: the batch's mean loss.
    """

    act_mean: np.ndarray  # [L]
    act_std: np.ndarray  # [L]
    dead_fraction: np.ndarray  # [L], in [0, 1]
    delta_std: np.ndarray  # [L]
    grad_std: np.ndarray  # [L + 1]
    loss: float

    @property
    def depth(self) -> int:
        """The number of hidden layers ``L``."""
        return len(self.act_std)


def _forward(weights, shifts, x, activation: str):
    """Logits ``[B, C]`` and every hidden layer's output ``[B, width]`` of an MLP given as ``[(W, b)]``.

    ``shifts[l]`` ``[B, width]`` is added to hidden layer ``l``'s pre-activation: zeros, whose
    gradient is the gradient of the loss with respect to that pre-activation (the backward signal).
    """
    act = _ACTIVATIONS[activation]
    hidden = []
    for (kernel, bias), shift in zip(weights[:-1], shifts):
        x = act(x @ kernel + bias[None, :] + shift)  # [B, width]
        hidden.append(x)
    kernel, bias = weights[-1]
    return x @ kernel + bias[None, :], hidden  # [B, C]


def _std(a: jax.Array) -> jax.Array:
    """The standard deviation of ``a``'s entries, computed on ``a / max|a|`` so that squaring neither
    underflows (values near 1e-20) nor overflows (near 1e20) in float32; inf if ``a`` holds inf."""
    scale = jnp.max(jnp.abs(a))
    safe = jnp.where((scale > 0) & jnp.isfinite(scale), scale, 1.0)
    return jnp.where(jnp.isfinite(scale), safe * jnp.std(a / safe), jnp.inf)


@functools.partial(jax.jit, static_argnames="activation")
def _stats(weights, x, y, activation: str):
    batch = x.shape[0]
    shifts = [jnp.zeros((batch, kernel.shape[1]), jnp.float32) for kernel, _ in weights[:-1]]

    def loss_of(w, shifts):
        logits, hidden = _forward(w, shifts, x, activation)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), hidden

    (loss, hidden), (grads, deltas) = jax.value_and_grad(loss_of, argnums=(0, 1), has_aux=True)(
        weights, shifts
    )
    act_mean = jnp.stack([h.mean() for h in hidden])  # [L]
    act_std = jnp.stack([_std(h) for h in hidden])  # [L]
    dead = jnp.stack(
        [jnp.all(h == 0, axis=0).mean() for h in hidden]
    )  # [L]: units zero on every row
    # The loss is the batch mean, so B * dLoss/dz is each example's own gradient.
    delta_std = jnp.stack([_std(batch * g) for g in deltas])  # [L]
    grad_std = jnp.stack([_std(g_kernel) for g_kernel, _ in grads])  # [L + 1]
    return act_mean, act_std, dead, delta_std, grad_std, loss


def layer_stats(model: MLP, x: jax.Array, y: jax.Array) -> LayerStats:
    """Activation and gradient statistics of every layer of ``model`` on one batch.

    ``model``: a :class:`~leptonlab.models.MLP` with at least one hidden layer; ``x: [B, ...]``
    (flattened to ``[B, in_features]`` as the MLP does), ``y: [B]`` integer class labels for the
    softmax cross-entropy whose gradient is measured. Dropout is not applied (evaluation mode).
    Needs ``B >= 2`` (a standard deviation over one example says little about a unit being dead).
    Returns a :class:`LayerStats` of NumPy arrays. Notebook 09.
    """
    if not isinstance(model, MLP):
        raise TypeError(
            f"layer_stats measures a leptonlab.models.MLP, got {type(model).__name__}; build one "
            "with MLP(...) or diagnostics.mlp_with_init(...)."
        )
    if len(model.layers) < 2:
        raise ValueError("the MLP has no hidden layer: give it at least one (hidden=[width]).")
    x, y = check_data((x, y), "layer_stats' (x, y)")
    x = x.reshape(x.shape[0], -1).astype(jnp.float32)  # [B, in_features]
    if x.shape[1] != model.in_features:
        raise ValueError(
            f"the MLP takes {model.in_features} input features, x has {x.shape[1]} per example."
        )
    if x.shape[0] < 2:
        raise ValueError(f"layer_stats needs a batch of at least 2 examples, got {x.shape[0]}.")
    if y.ndim != 1 or not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"y must be integer class labels [B], got {y.dtype} {y.shape}.")
    n_classes = model.layers[-1].out_features
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(
            f"labels must lie in [0, {n_classes}) for the MLP's {n_classes} outputs, got "
            f"{int(y.min())}..{int(y.max())}."
        )
    weights = [(layer.kernel[...], layer.bias[...]) for layer in model.layers]
    act_mean, act_std, dead, delta_std, grad_std, loss = _stats(weights, x, y, model.activation)
    return LayerStats(
        act_mean=np.asarray(act_mean),
        act_std=np.asarray(act_std),
        dead_fraction=np.asarray(dead),
        delta_std=np.asarray(delta_std),
        grad_std=np.asarray(grad_std),
        loss=float(loss),
    )


# --------------------------------------------------------------------------- the learning-rate range test


@dataclasses.dataclass(frozen=True)
class LRRangeResult:
    """What :func:`lr_range_test` measured.

    ``learning_rates``, ``losses``, ``smoothed`` ``[S]``: the rate of each step, the loss of its
    batch (before the step) and its exponential moving average, up to and including the step at
    which the test stopped (``S <= steps``). ``lr_at_min``: the rate at the lowest smoothed loss.
    ``diverged_at``: the rate at which the smoothed loss first exceeded ``diverge_factor`` times its
    lowest value (or was not finite), None if it never did. ``suggested``: ``lr_at_min / 10``, the
    usual pick one decade below the minimum, where the loss still falls steeply and the run is
    far from the edge.
    """

    learning_rates: np.ndarray  # [S]
    losses: np.ndarray  # [S]
    smoothed: np.ndarray  # [S]
    lr_at_min: float
    diverged_at: float | None

    @property
    def suggested(self) -> float:
        """One decade below the rate at the lowest smoothed loss."""
        return self.lr_at_min / 10


@functools.partial(jax.jit, static_argnames="loss_fn")
def _range_steps(state: TrainState, data, batches: jax.Array, loss_fn: LossFn):
    """``train_step`` on ``data[batches[s]]`` for every ``s`` (batches: ``[S, B]``): the batch losses ``[S]``."""

    def body(state, idx):  # idx: [B]
        batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)
        state, metrics = train_step(state, batch, loss_fn)
        return state, metrics["loss"].mean()

    _, losses = jax.lax.scan(body, state, batches)
    return losses  # [S]


def lr_range_test(
    model: nnx.Module,
    data: tuple[jax.Array, jax.Array],
    *,
    key: jax.Array,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    steps: int = 100,
    batch_size: int = 64,
    optimizer: str = "sgd",
    loss_fn: LossFn = classification_loss,
    smoothing: float = 0.9,
    diverge_factor: float = 4.0,
) -> LRRangeResult:
    """The learning-rate range test: the loss while the learning rate grows from ``lr_min`` to ``lr_max``.

    Step ``s`` of ``steps`` trains ``model`` (a copy; the model itself is left untouched) on a
    batch of ``batch_size`` rows of ``data = (x: [N, ...], y: [N, ...])``, drawn with ``key``, at
    the rate ``lr_min * (lr_max / lr_min) ** (s / (steps - 1))``, with the optimizer
    ``optimizer`` (one of :data:`leptonlab.train.OPTIMIZERS`) and ``loss_fn`` (the
    ``fit`` signature). The batch losses are smoothed with an exponential moving average
    (``smoothing``, bias-corrected); the test stops at the first step whose smoothed loss exceeds
    ``diverge_factor`` times the lowest so far, or is not finite. Every step runs in one compiled
    ``lax.scan``. Returns an :class:`LRRangeResult`. Notebook 09.
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"expected a flax.nnx.Module, got {type(model).__name__}.")
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        raise TypeError(
            f"key must be a JAX PRNG key (jax.random.key(seed)), got {type(key).__name__}."
        )
    if not (0 < lr_min < lr_max and math.isfinite(lr_max)):
        raise ValueError(
            f"need 0 < lr_min < lr_max (finite), got lr_min={lr_min!r}, lr_max={lr_max!r}."
        )
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}.")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}.")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1) (0 = no smoothing), got {smoothing!r}.")
    if not diverge_factor > 1:
        raise ValueError(f"diverge_factor must be > 1, got {diverge_factor!r}.")
    data = check_data(data, "lr_range_test's data")
    n = data[0].shape[0]
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= n:
        raise ValueError(
            f"batch_size must be an int in [1, {n}] (the examples), got {batch_size!r}."
        )

    growth = math.log(lr_max / lr_min) / (steps - 1)
    rates = lr_min * np.exp(growth * np.arange(steps))  # [S]
    schedule = lambda step: lr_min * jnp.exp(growth * step)  # noqa: E731  (the same rates, traced)
    state_key, data_key = jax.random.split(key)
    graphdef, state = nnx.split(model)
    state = TrainState.create(
        nnx.merge(graphdef, jax.tree.map(jnp.copy, state)),
        optimizer_by_name(optimizer, schedule),
        key=state_key,
    )
    batches = jax.vmap(lambda k: jax.random.choice(k, n, (batch_size,), replace=False))(
        jax.random.split(data_key, steps)
    )  # [S, B]: each step's rows, without repeats within a batch
    losses = np.asarray(_range_steps(state, data, batches, loss_fn), np.float64)  # [S]

    smoothed = np.empty_like(losses)
    average, best, stop, diverged = 0.0, np.inf, steps - 1, False
    for s, loss in enumerate(losses):
        average = smoothing * average + (1 - smoothing) * loss
        smoothed[s] = average / (1 - smoothing ** (s + 1))  # bias-corrected
        if not np.isfinite(smoothed[s]) or smoothed[s] > diverge_factor * best:
            stop, diverged = s, True
            break
        best = min(best, smoothed[s])
    kept = slice(0, stop + 1)
    finite = np.where(np.isfinite(smoothed[kept]), smoothed[kept], np.inf)
    return LRRangeResult(
        learning_rates=rates[kept],
        losses=losses[kept],
        smoothed=smoothed[kept],
        lr_at_min=float(rates[int(np.argmin(finite))]),
        diverged_at=float(rates[stop]) if diverged else None,
    )


__all__ = [
    "INITS",
    "LRRangeResult",
    "LayerStats",
    "init_std",
    "layer_stats",
    "lr_range_test",
    "mlp_with_init",
]
