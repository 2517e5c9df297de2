"""Checks of notebook 14's MF from scratch: the loss and the full-batch Adam loop, each usual slip named."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from leptonlab import checks, recsys
from leptonlab.checks import CheckFailed
from leptonlab.checks._mf_loop import (
    LOSS_CASES,
    TRAIN_CASES,
    loss_reference,
    mf_problem,
    train_reference,
)
from leptonlab.recsys import MFParams
from leptonlab.recsys import _mf


def my_mf_loss(params, users, items, ratings, l2, l2_bias, l2_uniform):  # the notebook's solution
    p, q = params.user_factors[users], params.item_factors[items]  # [N, r] each
    b_u, b_i = params.user_bias[users], params.item_bias[items]  # [N] each
    err = params.mu + b_u + b_i + jnp.sum(p * q, axis=-1) - ratings  # [N]
    per_rating = err**2 + l2 * (jnp.sum(p**2, -1) + jnp.sum(q**2, -1)) + l2_bias * (b_u**2 + b_i**2)
    uniform = l2_uniform * (jnp.sum(params.user_factors**2) + jnp.sum(params.item_factors**2))
    return jnp.mean(per_rating) + uniform / ratings.shape[0]


def make_train(loss_fn=my_mf_loss, slip=""):
    """The notebook's loop (one jitted lax.scan), or the same loop with one usual slip."""

    def train(params, users, items, ratings, steps, learning_rate, l2, l2_bias, l2_uniform):
        tx = (
            optax.sgd(learning_rate)
            if slip == "sgd"
            else optax.adam(-learning_rate if slip == "ascent" else learning_rate)
        )

        def step(carry, _):
            params, opt_state = carry
            if slip == "fresh_adam":
                opt_state = tx.init(params)
            loss, grads = jax.value_and_grad(loss_fn)(
                params, users, items, ratings, l2, l2_bias, l2_uniform
            )
            if slip != "mu_trained":
                grads = grads._replace(mu=jnp.zeros_like(grads.mu))
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            if slip == "loss_after":
                loss = loss_fn(params, users, items, ratings, l2, l2_bias, l2_uniform)
            return (params, opt_state), loss

        n = steps + 1 if slip == "one_more" else steps
        run = jax.jit(lambda start: jax.lax.scan(step, (start, tx.init(start)), None, length=n))
        (params, _), losses = run(params)
        if slip == "params_only":
            return params
        return params, losses

    return train


def python_loop_train(params, users, items, ratings, steps, learning_rate, l2, l2_bias, l2_uniform):
    """A correct answer written differently: a Python loop, a jitted step, the loss as a sum / N."""

    def loss_fn(p):
        err = (
            p.mu
            + p.user_bias[users]
            + p.item_bias[items]
            + (p.user_factors[users] * p.item_factors[items]).sum(1)
            - ratings
        )
        n = ratings.shape[0]
        penalty = l2 * ((p.user_factors[users] ** 2).sum() + (p.item_factors[items] ** 2).sum())
        penalty += l2_bias * ((p.user_bias[users] ** 2).sum() + (p.item_bias[items] ** 2).sum())
        uniform = l2_uniform * ((p.user_factors**2).sum() + (p.item_factors**2).sum())
        return ((err**2).sum() + penalty + uniform) / n

    tx = optax.adam(learning_rate)
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        loss, g = jax.value_and_grad(loss_fn)(params)
        g = MFParams(jnp.zeros(()), g.user_bias, g.item_bias, g.user_factors, g.item_factors)
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state, loss

    losses = []
    for _ in range(steps):
        params, state, loss = step(params, state)
        losses.append(loss)
    return params, jnp.stack(losses)


# ------------------------------------------------------------------ the reference is the package's


@pytest.mark.parametrize("seed, l2, l2_bias, l2_uniform", LOSS_CASES)
def test_loss_reference_equals_recsys_mf_loss(seed, l2, l2_bias, l2_uniform):
    params, (u, i, r) = mf_problem(seed)
    package = recsys.mf_loss(
        MFParams(*map(jnp.asarray, params)), u, i, r, l2, l2_bias, l2_uniform, n_train=len(r)
    )
    assert np.isclose(
        loss_reference(params, u, i, r, l2, l2_bias, l2_uniform), float(package), rtol=1e-5
    )


@pytest.mark.parametrize("seed, steps, lr, l2, l2_bias, l2_uniform", TRAIN_CASES)
def test_train_reference_equals_fit_mfs_compiled_loop(seed, steps, lr, l2, l2_bias, l2_uniform):
    params, (u, i, r) = mf_problem(seed)
    start = MFParams(*map(jnp.asarray, params))
    data = (jnp.asarray(u), jnp.asarray(i), jnp.asarray(r))
    hyper = recsys.MFConfig(learning_rate=lr, l2=l2, l2_bias=l2_bias, l2_uniform=l2_uniform)
    got, _, losses, _ = _mf._full_batch_epochs(
        start, optax.adam(lr).init(start), data, data, _mf._hyper(hyper), steps, None
    )
    want, want_losses = train_reference(params, u, i, r, steps, lr, l2, l2_bias, l2_uniform)
    np.testing.assert_allclose(np.asarray(losses), want_losses, rtol=1e-5)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, atol=2e-5)
    assert float(got.mu) == float(params[0])  # mu stays the training mean


def test_fit_mf_runs_the_same_loop_from_init_mf():
    """What notebook 14 relies on: fit_mf = init_mf with the first half of its key, then this loop."""
    rng = np.random.default_rng(0)
    n = 300
    u, i = rng.integers(0, 20, n), rng.integers(0, 30, n)
    u[:20], i[:30] = np.arange(20), np.arange(30)
    train = recsys.Interactions(
        user=u.astype(np.int32),
        item=i.astype(np.int32),
        rating=rng.integers(1, 6, n).astype(np.float32),
        timestamp=np.zeros(n, np.int64),
        users=recsys.IdIndex(np.arange(1, 21)),
        items=recsys.IdIndex(np.arange(1, 31)),
    )
    config = recsys.MFConfig(rank=4, epochs=15, l2=0.07, l2_bias=0.02, l2_uniform=3.0)
    key = jax.random.key(3)
    params, history = recsys.fit_mf(train, config, key=key)
    start = recsys.init_mf(
        20, 30, 4, key=jax.random.split(key)[0], mu=float(np.mean(train.rating)), init_scale=0.1
    )
    mine, losses = make_train()(
        start,
        jnp.asarray(u),
        jnp.asarray(i),
        jnp.asarray(train.rating),
        15,
        config.learning_rate,
        config.l2,
        config.l2_bias,
        config.l2_uniform,
    )
    np.testing.assert_allclose(np.asarray(losses), history.train_loss, rtol=1e-5)
    for g, w in zip(mine, params):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)


# --------------------------------------------------------------------------------- passing answers


def test_mf_loss_passes_on_the_solution_and_on_recsys_mf_loss(capsys):
    assert checks.mf_loss(my_mf_loss) is None
    assert (
        checks.mf_loss(
            lambda p, u, i, r, l2, lb, lu: recsys.mf_loss(
                p, u, i, r, l2, lb, lu, n_train=r.shape[0]
            )
        )
        is None
    )
    assert capsys.readouterr().out.count("✓ mf_loss") == 2


@pytest.mark.parametrize("train", [make_train(), python_loop_train], ids=["scan", "python-loop"])
def test_mf_training_passes_on_correct_loops(train, capsys):
    assert checks.mf_training(train) is None
    assert "✓ mf_training" in capsys.readouterr().out


# ------------------------------------------------------------------------------- the loss's slips


def loss_slip(kind):
    def loss(params, users, items, ratings, l2, l2_bias, l2_uniform):
        p, q = params.user_factors[users], params.item_factors[items]
        b_u, b_i = params.user_bias[users], params.item_bias[items]
        mu = 0.0 if kind == "no_mu" else params.mu
        err = mu + b_u + b_i + jnp.sum(p * q, axis=-1) - ratings
        fac = l2 * (jnp.sum(p**2, -1) + jnp.sum(q**2, -1))
        bias = 0.0 if kind == "no_bias_penalty" else l2_bias * (b_u**2 + b_i**2)
        every = jnp.sum(params.user_factors**2) + jnp.sum(params.item_factors**2)
        uniform = {
            "no_uniform": 0.0,
            "uniform_whole": l2_uniform * every,
        }.get(kind, l2_uniform * every / ratings.shape[0])
        if kind == "factors_once":
            return jnp.mean(err**2 + bias) + l2 * every + uniform
        if kind == "sum":
            return jnp.sum(err**2 + fac + bias) + uniform
        return jnp.mean(err**2 + fac + bias) + uniform

    return loss


@pytest.mark.parametrize(
    "kind, words",
    [
        ("sum", "*sum* over the ratings"),
        ("no_uniform", "uniform penalty"),
        ("uniform_whole", "not divided by the number of ratings"),
        ("no_bias_penalty", "penalty on the biases"),
        ("factors_once", "applied once to every factor"),
        ("no_mu", "global mean mu is missing"),
    ],
)
def test_mf_loss_names_each_slip(kind, words):
    with pytest.raises(CheckFailed) as info:
        checks.mf_loss(loss_slip(kind))
    assert words in info.value.hint, str(info.value)
    assert "expected" in info.value.problem


def test_mf_loss_in_numpy_is_told_to_use_jax_numpy():
    def numpy_loss(params, users, items, ratings, l2, l2_bias, l2_uniform):
        err = np.asarray(params.mu + params.user_bias[users]) - np.asarray(ratings)
        return float(np.mean(err**2))

    with pytest.raises(CheckFailed) as info:
        checks.mf_loss(numpy_loss)
    assert "uses NumPy" in info.value.problem and "jax.numpy" in info.value.hint


def test_mf_loss_unknown_mistake_gets_escalating_hints():
    wrong = lambda p, u, i, r, l2, lb, lu: my_mf_loss(p, u, i, r, l2, lb, lu) + 0.1  # noqa: E731
    first = pytest.raises(CheckFailed, checks.mf_loss, wrong).value
    second = pytest.raises(CheckFailed, checks.mf_loss, wrong).value
    assert first.level == 0 and second.level == 1 and first.hint != second.hint


# --------------------------------------------------------------------------- the loop's slips


@pytest.mark.parametrize(
    "slip, words",
    [
        ("mu_trained", "mu moved"),
        ("fresh_adam", "carried from one step to the next"),
        ("sgd", "plain gradient-descent steps"),
        ("ascent", "against the gradient"),
        ("loss_after", "each of your losses is the next step's"),
        ("one_more", "expected one per step"),
        ("params_only", "not (params, losses)"),
    ],
)
def test_mf_training_names_each_slip(slip, words):
    with pytest.raises(CheckFailed) as info:
        checks.mf_training(make_train(slip=slip))
    assert words in str(info.value), str(info.value)


def test_mf_training_with_a_wrong_loss_points_to_the_loss():
    with pytest.raises(CheckFailed) as info:
        checks.mf_training(make_train(loss_fn=loss_slip("no_uniform")))
    assert "first loss" in info.value.problem and "uniform penalty" in info.value.hint


def test_mf_training_stub_and_none():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.mf_training(stub)
    with pytest.raises(CheckFailed, match="returned nothing"):
        checks.mf_training(lambda *args: None)
    with pytest.raises(CheckFailed, match="returned nothing"):
        checks.mf_loss(lambda *args: None)
