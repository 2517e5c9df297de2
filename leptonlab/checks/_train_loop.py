"""Checks for notebook 05: the learner's own ``train_step`` and epoch loop, equal to the package's.

The learner writes, in the notebook,

* ``train_step(params, batch, graphdef, loss_fn, learning_rate) -> (params, loss)``: one step of plain
  SGD (the loss of ``nnx.merge(graphdef, params)`` on the batch, its gradient by ``jax.grad``, the update
  by their own ``sgd_update``), returning the new parameters and the batch's loss *before* the update;
* ``train_epoch(params, data, epoch, graphdef, loss_fn, config) -> (params, losses)``: one epoch of
  those steps over the batches in the package's order (:func:`leptonlab.train.epoch_order`), compiled
  with ``jax.jit``; ``losses: [steps]``.

Both checks run the learner's function under ``jax.jit`` in a probe (plain data comes back) on small
models, and compare with a reference built from :mod:`jax`, :func:`leptonlab.train.epoch_order` and
plain SGD; the usual slips (a step up the gradient, the summed loss, no shuffling, the same order every
epoch, the last partial batch kept, steps that do not carry the parameters) are each named.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from leptonlab.checks._core import (
    CheckFailed,
    as_array,
    attempt,
    exercise,
    failure_from,
    passed,
    returned_nothing,
)
from leptonlab.checks._record import Raised

RTOL, ATOL = 1e-4, 1e-5  # float32: the learner's compiled steps against the reference's


# --------------------------------------------------------------------------- the small problems


def squared_error_loss(model: nnx.Module, batch: Any, key: Any) -> tuple[jax.Array, dict]:
    """A regression loss in the course's form: mean squared error, per-example ``loss`` ``[B]``."""
    del key  # this model has no randomness
    x, y = batch  # x: [B, D], y: [B, 1]
    errors = jnp.square(model(x) - y)[:, 0]  # [B]
    return errors.mean(), {"loss": errors}


def cross_entropy_loss(model: nnx.Module, batch: Any, key: Any) -> tuple[jax.Array, dict]:
    """A classification loss in the course's form: softmax cross-entropy, per-example ``loss`` ``[B]``."""
    del key
    x, y = batch  # x: [B, D], y: [B] int
    losses = optax.softmax_cross_entropy_with_integer_labels(model(x), y)  # [B]
    return losses.mean(), {"loss": losses}


@functools.cache
def _problem(case: str, n: int) -> tuple[Any, Any, tuple[jax.Array, jax.Array], Callable]:
    """(graphdef, params, (x, y), loss_fn) of one small problem, the same on every call."""
    from leptonlab.models import MLP

    kx, ky = jax.random.split(jax.random.key({"regression": 1, "classification": 2}[case]))
    if case == "regression":
        model = MLP(2, [5], 1, activation="tanh", rngs=nnx.Rngs(11))
        x = jax.random.normal(kx, (n, 2))  # [n, 2]
        y = jnp.sin(x[:, :1]) + 0.5 * x[:, 1:]  # [n, 1]
        loss_fn = squared_error_loss
    else:
        model = MLP(3, [6], 4, rngs=nnx.Rngs(12))
        x = jax.random.normal(kx, (n, 3))  # [n, 3]
        y = jax.random.randint(ky, (n,), 0, 4)  # [n] in 0..3
        loss_fn = cross_entropy_loss
    graphdef, params = nnx.split(model)
    return graphdef, params, (x, y), loss_fn


@functools.partial(jax.jit, static_argnames=("graphdef", "loss_fn"))
def _loss_and_grads(graphdef, params, batch, loss_fn) -> tuple[jax.Array, Any]:
    """The batch's loss and its gradient with respect to ``params`` (one compiled program per problem)."""
    return jax.value_and_grad(lambda p: loss_fn(nnx.merge(graphdef, p), batch, None)[0])(params)


def _leaves(tree: Any) -> list[np.ndarray]:
    return [np.asarray(leaf, np.float64) for leaf in jax.tree.leaves(tree)]


def _describe(tree: Any) -> str:
    """What the learner's parameters came back as, in a few words."""
    if isinstance(tree, (tuple, list)):
        return f"a {type(tree).__name__} of {len(tree)}"
    return type(tree).__name__


def _returned_params(out: Any, params: Any, where: str) -> dict | None:
    """None if ``out`` is ``(new_params, something)`` with ``params``' structure, else what is wrong."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return {"bad": (where, _describe(out))}
    new = out[0]
    if jax.tree.structure(new) != jax.tree.structure(params):
        return {"bad_tree": (where, _describe(new), len(jax.tree.leaves(new)))}
    return None


# --------------------------------------------------------------------------- train_step


STEP_CASES = (("regression", 8, 0.1), ("classification", 8, 0.5))  # (problem, batch size, lr)


def run_train_step(fn: Callable, case: str, n: int, learning_rate: float) -> Any:
    """Probe: the learner's ``fn(params, batch, graphdef, loss_fn, learning_rate)`` compiled with ``jax.jit``
    on one problem's batch of ``n`` examples.

    Returns None when ``fn`` returned None, ``{"bad": ...}`` / ``{"bad_tree": ...}`` when it did not return
    ``(params, loss)`` with the parameters' structure, else ``{"params": [leaves], "loss": loss}``.
    """
    graphdef, params, batch, loss_fn = _problem(case, n)
    out = jax.jit(fn, static_argnums=(2, 3))(params, batch, graphdef, loss_fn, learning_rate)
    if out is None:
        return None
    wrong = _returned_params(out, params, "the step")
    if wrong is not None:
        return wrong
    return {"params": _leaves(out[0]), "loss": out[1]}


@functools.cache
def _first_step(case: str, n: int) -> tuple[float, Any]:
    """The loss (before the step) and its gradient on one problem's batch of ``n`` examples."""
    graphdef, params, batch, loss_fn = _problem(case, n)
    loss, grads = _loss_and_grads(graphdef, params, batch, loss_fn)
    return float(loss), grads


def step_reference(case: str, n: int, learning_rate: float, slip: str = "") -> dict:
    """One SGD step on a problem, as the package takes it; ``slip`` makes one of the usual mistakes.

    ``{"params": [leaves] after the step, "loss": the batch's mean loss before it}`` (float64 leaves).
    """
    graphdef, params, batch, loss_fn = _problem(case, n)
    loss, grads = _first_step(case, n)
    if slip == "summed":  # the per-example losses summed: a loss, and a gradient, n times larger
        loss, grads = loss * n, jax.tree.map(lambda g: g * n, grads)
    step = {
        "sign": lambda p, g: p + learning_rate * g,
        "no_learning_rate": lambda p, g: p - g,
        "gradient": lambda p, g: g,
        "unchanged": lambda p, g: p,
    }.get(slip, lambda p, g: p - learning_rate * g)
    new = jax.tree.map(step, params, grads)
    if slip == "loss_after":
        loss = float(_loss_and_grads(graphdef, new, batch, loss_fn)[0])
    return {"params": _leaves(new), "loss": loss}


_STEP_SLIPS = {  # slip -> (what the check saw, (a nudge, a stronger hint))
    "sign": (
        "your step went up the gradient: the loss grows.",
        (
            "gradient descent moves the parameters against the gradient.",
            "your sgd_update passes its own check: look at what you hand it, and whether you use it.",
        ),
    ),
    "summed": (
        f"your step is {STEP_CASES[0][1]} times too large: as many times as the batch has examples.",
        (
            "the loss of a batch is the mean over its examples, not their sum.",
            "loss_fn returns the batch's mean loss as its first value; its metrics hold the per-example "
            "losses, which are for reporting, not for differentiating.",
        ),
    ),
    "no_learning_rate": (
        "your parameters moved by the whole gradient: the learning rate is missing.",
        (
            "the step is the gradient scaled by learning_rate.",
            "pass learning_rate on to your update.",
        ),
    ),
    "gradient": (
        "you returned the gradient where the new parameters belong.",
        (
            "the gradient is what the update needs; return what the update gives back.",
            "the first value to return is the result of your sgd_update.",
        ),
    ),
    "unchanged": (
        "your step returned the parameters unchanged.",
        (
            "return the updated parameters, not the ones you were given.",
            "the first value to return is the result of your sgd_update.",
        ),
    ),
}


def _close(got: list[np.ndarray], want: list[np.ndarray]) -> bool:
    return len(got) == len(want) and all(
        g.shape == w.shape and np.allclose(g, w, rtol=RTOL, atol=ATOL) for g, w in zip(got, want)
    )


def _scalar(name: str, value: Any, what: str) -> float:
    arr = as_array(name, value, what)
    if arr.size != 1:
        raise CheckFailed(
            name,
            f"{what} has shape {arr.shape}; it should be one number (the batch's mean loss).",
            "return the scalar that loss_fn gives for the batch, not the per-example losses.",
        )
    return float(arr.reshape(()))


def _run(name: str, fn: Callable, *args: Any, probe: Callable, when: str) -> Any:
    """The probe's plain result, or the friendly CheckFailed for what the learner's code raised (``when``:
    on which problem)."""
    out = attempt(name, fn, *args, probe=probe)
    if isinstance(out, Raised):
        if "Gradient only defined for scalar-output functions" in out.message:
            raise CheckFailed(
                name,
                "jax.grad was given a function whose result is not one number.",
                (
                    "loss_fn returns a pair (loss, metrics); only the first is the loss to differentiate.",
                    "the function you differentiate must return just the scalar loss (or tell jax.grad "
                    "that it returns more, with has_aux=True).",
                ),
            )
        raise failure_from(name, out, when=when)
    if out is None:
        raise returned_nothing(name)
    return out


def _shape_of_result(name: str, out: dict, expect: str) -> None:
    if "bad" in out:
        where, what = out["bad"]
        if what == "NoneType":
            raise returned_nothing(name)
        raise CheckFailed(
            name,
            f"{where} returned {what}; expected a pair {expect}.",
            f"end your function with a return of two things: {expect}.",
        )
    if "bad_tree" in out:
        where, what, count = out["bad_tree"]
        if what == "NoneType":
            raise CheckFailed(
                name,
                f"the parameters that {where} returned are None.",
                "a function without a `return` statement returns None: does your update (and every "
                "helper) end with `return <result>`?",
            )
        raise CheckFailed(
            name,
            f"the parameters that {where} returned ({what}, {count} arrays) do not have the structure "
            "of the params it was given.",
            (
                "the new parameters must be a tree of the same kind as params, one updated array per "
                "array of params.",
                "your sgd_update, given params and a gradient of the same structure, returns exactly "
                "that; return its result as the first value.",
            ),
        )


@exercise
def train_step(fn: Callable) -> None:
    """Check ``fn(params, batch, graphdef, loss_fn, learning_rate) -> (new_params, loss)``: one SGD step.

    ``params`` is an ``nnx.State`` (``nnx.split(model)``), ``batch = (x, y)``, ``loss_fn(model, batch, key)
    -> (loss, metrics)`` the course's form. Runs the step under ``jax.jit`` on a regression and a
    classification MLP and compares the new parameters and the loss (before the update) with plain SGD.
    Notebook 05.
    """
    name = "train_step"
    for case, n, lr in STEP_CASES:
        where = f"on the {case} batch ({n} examples, learning_rate={lr})"
        out = _run(name, fn, case, n, lr, probe=run_train_step, when=where)
        _shape_of_result(name, out, "(new params, loss)")
        got_params = [as_array(name, leaf, "the new parameters") for leaf in out["params"]]
        got_loss = _scalar(name, out["loss"], "the loss you returned")
        want = step_reference(case, n, lr)
        if not all(np.isfinite(leaf).all() for leaf in got_params) or not np.isfinite(got_loss):
            raise CheckFailed(
                name,
                f"{where} your step gave NaN or infinite values.",
                "take one step by hand in a new cell and print the loss and the new parameters.",
            )
        params_ok = _close(got_params, want["params"])
        loss_ok = np.isclose(got_loss, want["loss"], rtol=RTOL, atol=ATOL)
        if params_ok and loss_ok:
            continue
        for slip, (problem, hints) in _STEP_SLIPS.items():
            other = step_reference(case, n, lr, slip)
            if _close(got_params, other["params"]):
                raise CheckFailed(name, f"{where}: {problem}", hints)
        if params_ok:
            after = step_reference(case, n, lr, "loss_after")["loss"]
            if np.isclose(got_loss, after, rtol=RTOL, atol=ATOL):
                raise CheckFailed(
                    name,
                    f"{where} the loss you returned ({got_loss:.6g}) is the loss *after* the update; "
                    f"the step reports the loss before it ({want['loss']:.6g}).",
                    "return the loss that the gradient was computed from.",
                )
            raise CheckFailed(
                name,
                f"{where} your new parameters are right but the loss you returned is {got_loss:.6g}; "
                f"the batch's mean loss before the update is {want['loss']:.6g}.",
                (
                    "return the loss that loss_fn gives for the batch with the parameters you were given.",
                    "jax.value_and_grad gives the loss and its gradient in one call.",
                ),
            )
        raise CheckFailed(
            name,
            f"{where} your new parameters differ from one step of plain SGD.",
            (
                "one step: the loss of the model with these parameters on the batch, its gradient with "
                "respect to the parameters, then your sgd_update.",
                "differentiate with respect to params (the first argument of the function you give "
                "jax.grad), rebuilding the model from graphdef and those params inside that function.",
            ),
        )
    passed(name, "one step equals plain SGD's on a regression and a classification MLP, compiled.")


# --------------------------------------------------------------------------- the epoch loop


# (problem, examples, batch size, learning rate, seed, epochs): 22 // 4 = 5 steps, 2 examples left over
EPOCH_CASES = (("classification", 22, 4, 0.5, 3, 3), ("regression", 13, 3, 0.1, 8, 2))


def _config(batch_size: int, learning_rate: float, seed: int, epochs: int):
    from leptonlab.train.core import TrainConfig

    return TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        optimizer="sgd",
        seed=seed,
        progress=False,
    )


def run_epochs(
    fn: Callable, case: str, n: int, batch_size: int, learning_rate: float, seed: int, epochs: int
) -> Any:
    """Probe: ``epochs`` calls of the learner's ``fn(params, data, epoch, graphdef, loss_fn, config)``
    compiled with ``jax.jit``, each from the parameters the last returned.

    Returns None when ``fn`` returned None, ``{"bad": ...}`` / ``{"bad_tree": ...}`` when an epoch did not
    return ``(params, losses)`` with the parameters' structure, else ``{"losses": [per-epoch losses],
    "params": [leaves after the last epoch]}``.
    """
    graphdef, params, data, loss_fn = _problem(case, n)
    config = _config(batch_size, learning_rate, seed, epochs)
    epoch_fn = jax.jit(fn, static_argnums=(3, 4, 5))
    losses = []
    for epoch in range(epochs):
        out = epoch_fn(params, data, epoch, graphdef, loss_fn, config)
        if out is None:
            return None
        wrong = _returned_params(out, params, f"epoch {epoch}")
        if wrong is not None:
            return wrong
        params = out[0]
        losses.append(out[1])
    return {"losses": losses, "params": _leaves(params)}


def _order(seed: int, n: int, batch_size: int, epoch: int, slip: str) -> np.ndarray:
    """The batches of one epoch, ``[steps, B]`` example indices, as the package draws them (or a slip's)."""
    from leptonlab.train.core import epoch_order

    steps = n // batch_size
    if slip == "no_shuffle":
        return np.arange(steps * batch_size).reshape(steps, batch_size)
    if slip == "same_order":
        epoch = 0
    return np.asarray(epoch_order(seed, n, batch_size, epoch))  # [steps, B]


@functools.partial(jax.jit, static_argnames=("graphdef", "loss_fn", "carry"))
def _sgd_epochs(graphdef, params, data, batches, learning_rate, loss_fn, carry=True):
    """Plain SGD over ``batches: [epochs, steps, B]`` example indices: (final params, losses [epochs, steps]).

    ``carry=False`` is the slip where every step of an epoch starts from the epoch's first parameters."""

    def epoch(params, idx):  # idx: [steps, B]
        def step(current, rows):  # rows: [B]
            base = current if carry else params
            batch = jax.tree.map(lambda a: a[rows], data)
            loss, grads = _loss_and_grads(graphdef, base, batch, loss_fn)
            return jax.tree.map(lambda p, g: p - learning_rate * g, base, grads), loss

        return jax.lax.scan(step, params, idx)

    return jax.lax.scan(epoch, params, batches)


def epochs_reference(
    case: str,
    n: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    epochs: int,
    slip: str = "",
) -> dict:
    """Plain SGD over the package's epoch order (or a slip's): ``{"losses": [epochs] arrays [steps], the loss
    before each step, "params": [leaves] at the end}``. ``slip="no_carry"``: every step starts from the
    epoch's first parameters, and the epoch returns the last step's result."""
    graphdef, params, data, loss_fn = _problem(case, n)
    batches = np.stack(
        [_order(seed, n, batch_size, e, slip) for e in range(epochs)]
    )  # [E, steps, B]
    params, losses = _sgd_epochs(
        graphdef,
        params,
        data,
        jnp.asarray(batches),
        learning_rate,
        loss_fn,
        carry=slip != "no_carry",
    )
    return {"losses": list(np.asarray(losses, np.float64)), "params": _leaves(params)}


_EPOCH_SLIPS = {  # slip -> (what the check saw, (a nudge, a stronger hint))
    "no_shuffle": (
        "your batches go through the examples in their stored order: the epoch is not shuffled.",
        (
            "each epoch visits the examples in a new random order, drawn from the seed and the epoch "
            "number as the cell above the exercise describes.",
            "take each batch's rows from a permutation of all n examples drawn with the epoch's key.",
        ),
    ),
    "same_order": (
        "your first epoch is right, but every later epoch repeats its order.",
        (
            "the order depends on the epoch number too.",
            "fold the epoch number into the data key before drawing the permutation.",
        ),
    ),
    "no_carry": (
        "every step of your first epoch starts from the parameters the epoch started with: the steps do "
        "not build on each other.",
        (
            "each step must start from the parameters the previous step returned.",
            "in jax.lax.scan the carry is what the step function returns first: return the new "
            "parameters there, and use the carry it is given.",
        ),
    ),
}


@exercise
def train_epoch(fn: Callable) -> None:
    """Check ``fn(params, data, epoch, graphdef, loss_fn, config) -> (params, losses: [steps])``: one epoch.

    ``config`` is a :class:`leptonlab.train.TrainConfig` (its ``batch_size``, ``learning_rate`` and
    ``seed`` are used). The check runs a few epochs under ``jax.jit`` on two small problems whose size is
    not a multiple of the batch size, and compares every step's loss and the final parameters with plain
    SGD over :func:`leptonlab.train.epoch_order`'s batches (what ``fit(..., optimizer="sgd")`` runs).
    Notebook 05.
    """
    name = "train_epoch"
    for case, n, batch_size, lr, seed, epochs in EPOCH_CASES:
        where = (
            f"on {n} {case} examples with batch_size={batch_size}, learning_rate={lr}, seed={seed}"
        )
        out = _run(name, fn, case, n, batch_size, lr, seed, epochs, probe=run_epochs, when=where)
        _shape_of_result(name, out, "(new params, losses of the epoch's steps)")
        want = epochs_reference(case, n, batch_size, lr, seed, epochs)
        steps = n // batch_size
        got = []
        for epoch, value in enumerate(out["losses"]):
            arr = as_array(name, value, f"the losses of epoch {epoch}")
            if arr.shape != (steps,):
                raise CheckFailed(name, *_losses_shape(arr.shape, n, batch_size, epoch))
            got.append(arr)
        got_params = [
            as_array(name, leaf, "the parameters after the last epoch") for leaf in out["params"]
        ]
        for epoch, (g, w) in enumerate(zip(got, want["losses"])):
            if not np.isfinite(g).all():
                step = int(np.flatnonzero(~np.isfinite(g))[0])
                raise CheckFailed(
                    name,
                    f"{where}: the loss of epoch {epoch}, step {step} is {g[step]}; expected {w[step]:.6g}.",
                    "run one epoch in a new cell and print the losses to see where they go wrong.",
                )
        if all(
            np.allclose(g, w, rtol=RTOL, atol=ATOL) for g, w in zip(got, want["losses"])
        ) and _close(got_params, want["params"]):
            continue
        for slip, (problem, hint) in _EPOCH_SLIPS.items():
            other = epochs_reference(case, n, batch_size, lr, seed, epochs, slip)
            # without carrying, what the epoch returns varies (its first or its last step's parameters):
            # the first epoch's losses, all from the starting parameters, say it
            compared = 1 if slip == "no_carry" else epochs
            if all(
                np.allclose(g, w, rtol=RTOL, atol=ATOL)
                for g, w in zip(got[:compared], other["losses"][:compared])
            ):
                raise CheckFailed(name, f"{where}: {problem}", hint)
        epoch, step = _first_difference(got, want["losses"])
        if epoch is None:  # every loss right, the parameters not
            raise CheckFailed(
                name,
                f"{where} every step's loss is right, but the parameters you return after the epoch are not "
                "the last step's.",
                "return the parameters the epoch's last step produced.",
            )
        raise CheckFailed(
            name,
            f"{where} the loss of epoch {epoch}, step {step} is {got[epoch][step]:.6g}; plain SGD over the "
            f"package's batches gives {want['losses'][epoch][step]:.6g}"
            + (" (the very first batch already differs)." if (epoch, step) == (0, 0) else "."),
            (
                "compare your batches with the package's: the order comes from the seed's data key, "
                "folded with the epoch number, as the cell above the exercise describes.",
                "draw the order exactly as that cell does: split the key made from config.seed in two and "
                "keep the first half; fold the epoch into it; permute all n examples; keep the first "
                "n // batch_size full batches.",
            )
            if (epoch, step) == (0, 0)
            else (
                "each step should be your train_step on the next batch, starting from the parameters "
                "the step before returned, with config.learning_rate.",
                "print the losses of one epoch next to those of your train_step called by hand on the "
                "same batches.",
            ),
        )
    passed(
        name,
        "every step's loss and the final parameters equal plain SGD over the package's batches.",
    )


def _losses_shape(shape: tuple, n: int, batch_size: int, epoch: int) -> tuple[str, Any]:
    steps = n // batch_size
    if shape == ():
        return (
            f"epoch {epoch} returned one loss; expected one per step, shape ({steps},).",
            "return the loss of every step of the epoch (the curve), not their mean.",
        )
    if shape == (-(-n // batch_size),):
        return (
            f"epoch {epoch} returned {shape[0]} losses for {n} examples in batches of {batch_size}: "
            f"your last batch is a partial one.",
            (
                f"drop the last partial batch (here {n % batch_size} examples), as the package does, so "
                "every step has the same shape and compiles once.",
                "keep only the first n // batch_size full batches of the permutation.",
            ),
        )
    return (
        f"epoch {epoch} returned losses of shape {shape}; expected ({steps},), one per step.",
        "an epoch of n examples in batches of batch_size has n // batch_size steps; return one loss each.",
    )


def _first_difference(got: list, want: list) -> tuple[int | None, int | None]:
    for epoch, (g, w) in enumerate(zip(got, want)):
        bad = ~np.isclose(g, w, rtol=RTOL, atol=ATOL)
        if bad.any():
            return epoch, int(np.flatnonzero(bad)[0])
    return None, None
