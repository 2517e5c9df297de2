"""Checks of notebook 05's own training step and epoch loop: the right answers pass, each usual slip is named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab import checks
from leptonlab.checks import CheckFailed
from leptonlab.checks._train_loop import EPOCH_CASES, epochs_reference
from leptonlab.train import TrainState, epoch_order, optimizer, seed_keys, take_rows, train_step


def sgd_update(params, grads, learning_rate):
    return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)


def ref_step(params, batch, graphdef, loss_fn, learning_rate):  # the notebook's solution
    def loss_of(params):
        loss, _ = loss_fn(nnx.merge(graphdef, params), batch, None)
        return loss

    loss, grads = jax.value_and_grad(loss_of)(params)
    return sgd_update(params, grads, learning_rate), loss


def package_step(params, batch, graphdef, loss_fn, learning_rate):
    """The package's own train_step with optax.sgd, wrapped to the exercise's signature: it passes too."""
    model = nnx.merge(graphdef, params)
    state = TrainState.create(model, optimizer("sgd", learning_rate), key=jax.random.key(0))
    state, metrics = train_step(state, batch, loss_fn)
    return nnx.split(state.model())[1], metrics["loss"].mean()


def epoch_with(step_fn, *, order="package", carry=True, drop_partial=True, mean=False):
    """An epoch loop like the notebook's solution, with one thing changed."""

    def epoch_fn(params, data, epoch, graphdef, loss_fn, config):
        x, y = data
        n, b = x.shape[0], config.batch_size
        data_key, _ = jax.random.split(jax.random.key(config.seed))
        if order == "package":
            perm = jax.random.permutation(jax.random.fold_in(data_key, epoch), n)
        elif order == "stored":
            perm = jnp.arange(n)
        elif order == "epoch0":
            perm = jax.random.permutation(jax.random.fold_in(data_key, 0), n)
        else:  # "seed key": the permutation drawn from the seed's key itself, not its data half
            perm = jax.random.permutation(jax.random.fold_in(jax.random.key(config.seed), epoch), n)
        if not drop_partial:  # a Python loop over every batch, the last one short
            losses = []
            for i in range(0, n, b):
                idx = perm[i : i + b]
                params, loss = step_fn(
                    params, (x[idx], y[idx]), graphdef, loss_fn, config.learning_rate
                )
                losses.append(loss)
            return params, jnp.stack(losses)
        batches = perm[: n // b * b].reshape(n // b, b)  # [steps, B]
        start = params

        def step(params, idx):
            new, loss = step_fn(
                params if carry else start,
                (x[idx], y[idx]),
                graphdef,
                loss_fn,
                config.learning_rate,
            )
            return (new if carry else params), loss

        params, losses = jax.lax.scan(step, params, batches)
        return params, (losses.mean() if mean else losses)

    return epoch_fn


ref_epoch = epoch_with(ref_step)


# --------------------------------------------------------------------------- train_step


@pytest.mark.parametrize("fn", [ref_step, package_step])
def test_train_step_passes_on_the_solution_and_the_packages_step(fn, capsys):
    assert checks.train_step(fn) is None
    assert "✓ train_step" in capsys.readouterr().out


def _step_slip(kind):
    def step(params, batch, graphdef, loss_fn, learning_rate):
        def loss_of(params):
            loss, metrics = loss_fn(nnx.merge(graphdef, params), batch, None)
            return metrics["loss"].sum() if kind == "summed" else loss

        loss, grads = jax.value_and_grad(loss_of)(params)
        if kind == "sign":
            new = jax.tree.map(lambda p, g: p + learning_rate * g, params, grads)
        elif kind == "no_learning_rate":
            new = sgd_update(params, grads, 1.0)
        elif kind == "gradient":
            new = grads
        elif kind == "unchanged":
            new = params
        else:
            new = sgd_update(params, grads, learning_rate)
        if kind == "loss_after":
            loss = loss_of(new)
        if kind == "only_params":
            return new
        if kind == "none_params":
            return None, loss
        return new, loss

    return step


@pytest.mark.parametrize(
    "kind, words",
    [
        ("sign", "up the gradient"),
        ("summed", "8 times too large"),
        ("no_learning_rate", "learning rate is missing"),
        ("gradient", "returned the gradient"),
        ("unchanged", "parameters unchanged"),
        ("loss_after", "loss *after* the update"),
        ("only_params", "expected a pair (new params, loss)"),
        ("none_params", "are None"),
    ],
)
def test_train_step_names_each_usual_slip(kind, words):
    with pytest.raises(CheckFailed) as info:
        checks.train_step(_step_slip(kind))
    assert words in info.value.problem, str(info.value)


def test_train_step_catches_a_loss_that_ignores_loss_fn_and_the_tuple_loss():
    def fixed_loss(params, batch, graphdef, loss_fn, learning_rate):  # mean squared error, always
        x, y = batch
        loss_of = lambda p: jnp.mean(jnp.square(nnx.merge(graphdef, p)(x) - y))
        loss, grads = jax.value_and_grad(loss_of)(params)
        return sgd_update(params, grads, learning_rate), loss

    with pytest.raises(CheckFailed) as info:
        checks.train_step(fixed_loss)
    assert "classification" in info.value.problem, str(info.value)  # the regression case passes

    def whole_tuple(
        params, batch, graphdef, loss_fn, learning_rate
    ):  # differentiates (loss, metrics)
        grads = jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), batch, None))(params)
        return sgd_update(params, grads, learning_rate), 0.0

    first, second = (pytest.raises(CheckFailed) for _ in range(2))
    with first as one:
        checks.train_step(whole_tuple)
    with second as two:
        checks.train_step(whole_tuple)
    assert "not one number" in one.value.problem and "(loss, metrics)" in one.value.hint
    assert two.value.level == 1 and "has_aux" in two.value.hint  # the repeat gets the stronger hint
    assert "Error" not in str(one.value)


def test_train_step_in_numpy_is_told_to_use_jax_numpy():
    def numpy_step(params, batch, graphdef, loss_fn, learning_rate):
        loss, grads = jax.value_and_grad(lambda p: loss_fn(nnx.merge(graphdef, p), batch, None)[0])(
            params
        )
        new = jax.tree.map(
            lambda p, g: np.asarray(p) - learning_rate * np.asarray(g), params, grads
        )
        return new, loss

    with pytest.raises(CheckFailed) as info:
        checks.train_step(numpy_step)
    assert "uses NumPy" in info.value.problem and "Tracer" not in str(info.value)


# --------------------------------------------------------------------------- train_epoch


def test_reference_is_the_packages_loop():
    """The check's reference equals the package's train_step (optax.sgd) over epoch_order's batches."""
    case, n, batch_size, lr, seed, epochs = EPOCH_CASES[0]
    from leptonlab.checks._train_loop import _problem

    graphdef, params, data, loss_fn = _problem(case, n)
    state = TrainState.create(
        nnx.merge(graphdef, params), optimizer("sgd", lr), key=seed_keys(seed)[1]
    )
    losses = []
    for epoch in range(epochs):
        for idx in epoch_order(seed, n, batch_size, epoch):
            state, metrics = train_step(state, take_rows(data, idx), loss_fn)
            losses.append(float(metrics["loss"].mean()))
    want = epochs_reference(case, n, batch_size, lr, seed, epochs)
    np.testing.assert_allclose(np.concatenate(want["losses"]), losses, rtol=1e-5)
    for got, ref in zip(want["params"], jax.tree.leaves(state.params)):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_train_epoch_passes_on_the_solution_eager_or_jitted(capsys):
    assert checks.train_epoch(ref_epoch) is None
    jitted = jax.jit(ref_epoch, static_argnames=("graphdef", "loss_fn", "config"))
    assert checks.train_epoch(jitted) is None
    assert capsys.readouterr().out.count("✓ train_epoch") == 2


@pytest.mark.parametrize(
    "wrong, words",
    [
        (epoch_with(ref_step, order="stored"), "not shuffled"),
        (epoch_with(ref_step, order="epoch0"), "every later epoch repeats its order"),
        (epoch_with(ref_step, carry=False), "not build on each other"),
        (epoch_with(ref_step, drop_partial=False), "your last batch is a partial one"),
        (epoch_with(ref_step, mean=True), "returned one loss"),
        (epoch_with(ref_step, order="seed key"), "the very first batch already differs"),
        (epoch_with(_step_slip("sign")), "step 1 is"),
        (lambda *args: ref_epoch(*args)[1], "expected a pair"),
    ],
)
def test_train_epoch_names_each_usual_slip(wrong, words):
    with pytest.raises(CheckFailed) as info:
        checks.train_epoch(wrong)
    assert words in info.value.problem, str(info.value)


def test_train_epoch_hints_escalate_on_a_repeated_slip():
    shuffled_once = epoch_with(ref_step, order="seed key")
    errors = []
    for _ in range(2):
        with pytest.raises(CheckFailed) as info:
            checks.train_epoch(shuffled_once)
        errors.append(info.value)
    assert (errors[0].level, errors[1].level) == (0, 1)
    assert errors[0].problem == errors[1].problem and errors[0].hint != errors[1].hint
    assert "fold" in errors[1].hint


def test_train_epoch_that_forgets_the_epoch_in_a_python_int_is_told_why():
    def python_int(params, data, epoch, graphdef, loss_fn, config):
        return ref_epoch(params, data, int(epoch), graphdef, loss_fn, config)

    with pytest.raises(CheckFailed) as info:
        checks.train_epoch(python_int)
    assert "uses NumPy" in info.value.problem and "Tracer" not in str(info.value)
