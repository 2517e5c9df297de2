"""Tests for leptonlab.descent: gradient descent and its relatives against the least-squares solution."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from leptonlab import descent as D


@pytest.fixture(scope="module")
def problem():
    data = D.make_regression(64, key=jax.random.key(0))
    return data.X, data.y, D.least_squares(data.X, data.y)


THETA0 = jnp.array([-1.0, 3.0])


def test_make_regression_shapes_and_determinism():
    a = D.make_regression(10, key=jax.random.key(3), true_params=(1.0, 2.0, 3.0))
    b = D.make_regression(10, key=jax.random.key(3), true_params=(1.0, 2.0, 3.0))
    c = D.make_regression(10, key=jax.random.key(4), true_params=(1.0, 2.0, 3.0))
    assert a.X.shape == (10, 3) and a.y.shape == (10,)
    assert np.all(a.X[:, -1] == 1.0)
    assert np.array_equal(a.y, b.y) and not np.array_equal(a.y, c.y)
    exact = D.make_regression(20, key=jax.random.key(3), noise=0.0)
    assert np.allclose(D.least_squares(exact.X, exact.y), exact.true_params, atol=1e-4)


def test_mse_grad_by_hand_matches_jax_grad(problem):
    X, y, _ = problem
    theta = jnp.array([0.3, -0.2])
    assert np.allclose(D.mse_grad(theta, X, y), jax.grad(D.mse_loss)(theta, X, y), rtol=1e-5)


def test_least_squares_solves_the_normal_equations(problem):
    X, y, theta_star = problem
    assert np.allclose(D.mse_grad(theta_star, X, y), 0.0, atol=1e-4)


@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_gradient_descent_reaches_least_squares(problem, fraction):
    X, y, theta_star = problem
    lr = fraction * D.max_stable_learning_rate(X)
    traj = D.gradient_descent(THETA0, X, y, learning_rate=lr, steps=300)
    assert traj.params.shape == (301, 2) and traj.losses.shape == (301,)
    assert np.allclose(traj.params[0], THETA0)
    assert np.allclose(traj.params[-1], theta_star, atol=1e-3)
    assert float(traj.losses[-1]) == pytest.approx(float(D.mse_loss(theta_star, X, y)), rel=1e-4)


def test_learning_rate_above_the_stability_limit_diverges(problem):
    X, y, _ = problem
    lr_max = D.max_stable_learning_rate(X)
    traj = D.gradient_descent(THETA0, X, y, learning_rate=1.1 * lr_max, steps=50)
    assert float(traj.losses[-1]) > 100 * float(traj.losses[0])


def test_the_sign_bug_climbs_the_loss(problem):
    X, y, _ = problem

    def source_update(w, g, lr):
        w -= -lr * g  # the source's bug
        return w

    bad = D.gradient_descent(THETA0, X, y, learning_rate=0.05, steps=20, update=source_update)
    good = D.gradient_descent(THETA0, X, y, learning_rate=0.05, steps=20)
    assert np.all(np.diff(bad.losses) > 0)
    assert np.all(np.diff(good.losses) < 0)


def test_sweep_equals_separate_runs(problem):
    X, y, _ = problem
    rates = [0.01, 0.1]
    sweep = D.learning_rate_sweep(THETA0, X, y, learning_rates=rates, steps=30)
    assert sweep.params.shape == (2, 31, 2)
    for i, lr in enumerate(rates):
        one = D.gradient_descent(THETA0, X, y, learning_rate=lr, steps=30)
        assert np.allclose(sweep.losses[i], one.losses, rtol=1e-5)


def test_full_batch_sgd_without_momentum_is_gradient_descent(problem):
    X, y, _ = problem
    a = D.sgd(THETA0, X, y, learning_rate=0.1, steps=20)
    b = D.gradient_descent(THETA0, X, y, learning_rate=0.1, steps=20)
    assert np.allclose(a.params, b.params, rtol=1e-5)


def test_sgd_is_deterministic_given_the_key(problem):
    X, y, _ = problem
    run = lambda k: D.sgd(
        THETA0, X, y, learning_rate=0.05, steps=30, batch_size=8, key=jax.random.key(k)
    )
    assert np.array_equal(run(1).params, run(1).params)
    assert not np.array_equal(run(1).params, run(2).params)


def test_momentum_step_with_zero_beta_is_gd_step():
    theta, g = jnp.array([1.0, 2.0]), jnp.array([0.5, -1.0])
    new, v = D.momentum_step(theta, jnp.zeros(2), g, 0.1, 0.0)
    assert np.allclose(new, D.gd_step(theta, g, 0.1)) and np.allclose(v, g)


CONFIGS = [
    D.DescentConfig(learning_rate=0.1, steps=300),
    D.DescentConfig(learning_rate=0.05, steps=300, momentum=0.8),
    D.DescentConfig(learning_rate=0.05, steps=400, batch_size=16),
    D.DescentConfig(learning_rate=0.1, steps=400, optimizer="adam"),
    D.DescentConfig(learning_rate=0.05, steps=400, batch_size=16, optimizer="adam"),
]


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: f"{c.optimizer}-m{c.momentum}-b{c.batch_size}"
)
def test_every_optimizer_gets_close_to_least_squares(problem, config):
    X, y, theta_star = problem
    traj = D.descend(THETA0, X, y, config, key=jax.random.key(7))
    best = float(D.mse_loss(theta_star, X, y))
    tol = 1e-3 if config.batch_size is None else 0.15  # mini-batches jitter around the optimum
    assert float(traj.losses[-1]) < best * (1 + tol)
    assert float(traj.losses[-1]) < float(traj.losses[0]) / 10


def test_optax_sgd_matches_the_scratch_version(problem):
    X, y, _ = problem
    a = D.optax_descent(THETA0, X, y, optax.sgd(0.05, momentum=0.8), steps=25)
    b = D.sgd(THETA0, X, y, learning_rate=0.05, steps=25, momentum=0.8)
    assert np.allclose(a.params, b.params, rtol=1e-4, atol=1e-6)


def test_loss_surface_matches_mse_loss(problem):
    X, y, _ = problem
    ws, bs = jnp.array([0.0, 1.0, 2.5]), jnp.array([-1.0, 0.5])
    surface = D.loss_surface(X, y, ws, bs)
    assert surface.shape == (2, 3)
    assert float(surface[1, 2]) == pytest.approx(
        float(D.mse_loss(jnp.array([2.5, 0.5]), X, y)), rel=1e-5
    )


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        D.DescentConfig().learning_rate = 1.0


# ------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors(problem):
    X, y, _ = problem
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="positive"):
        D.DescentConfig(learning_rate=-0.1)
    with pytest.raises(TypeError, match="int"):
        D.DescentConfig(steps=10.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        D.DescentConfig(momentum=1.0)
    with pytest.raises(ValueError, match="optimizer"):
        D.DescentConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="Adam has its own"):
        D.DescentConfig(optimizer="adam", momentum=0.9)
    with pytest.raises(TypeError, match="PRNG key"):
        D.make_regression(10, key=0)
    with pytest.raises(ValueError, match="at least 1"):
        D.make_regression(0, key=key)
    with pytest.raises(ValueError, match="noise"):
        D.make_regression(5, key=key, noise=-1.0)
    with pytest.raises(ValueError, match=r"theta should have shape \[P\]"):
        D.mse_loss(jnp.ones(3), X, y)
    with pytest.raises(ValueError, match="y should have shape"):
        D.mse_grad(THETA0, X, y[:5])
    with pytest.raises(ValueError, match="design matrix"):
        D.least_squares(X[:, 0], y)
    with pytest.raises(TypeError, match="numeric"):
        D.least_squares("X", y)
    with pytest.raises(ValueError, match="design matrix"):
        D.max_stable_learning_rate(jnp.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        D.gd_step(jnp.ones(2), jnp.ones(3), 0.1)
    with pytest.raises(ValueError, match="same shape"):
        D.momentum_step(jnp.ones(2), jnp.ones(3), jnp.ones(2), 0.1, 0.9)
    with pytest.raises(ValueError, match="positive"):
        D.gradient_descent(THETA0, X, y, learning_rate=0.0, steps=5)
    with pytest.raises(TypeError, match="update should be a function"):
        D.gradient_descent(THETA0, X, y, learning_rate=0.1, steps=5, update=1.0)
    with pytest.raises(ValueError, match="update should return"):
        D.gradient_descent(
            THETA0, X, y, learning_rate=0.1, steps=5, update=lambda t, g, lr: t.sum()
        )
    with pytest.raises(ValueError, match="empty"):
        D.learning_rate_sweep(THETA0, X, y, learning_rates=[], steps=5)
    with pytest.raises(TypeError, match="list of floats"):
        D.learning_rate_sweep(THETA0, X, y, learning_rates=0.1, steps=5)
    with pytest.raises(ValueError, match="pass key"):
        D.sgd(THETA0, X, y, learning_rate=0.1, steps=5, batch_size=8)
    with pytest.raises(ValueError, match="larger than"):
        D.sgd(THETA0, X, y, learning_rate=0.1, steps=5, batch_size=1000, key=key)
    with pytest.raises(TypeError, match="optax optimizer"):
        D.optax_descent(THETA0, X, y, "adam", steps=5)
    with pytest.raises(ValueError, match="pass key"):
        D.optax_descent(THETA0, X, y, optax.adam(0.1), steps=5, batch_size=4)
    with pytest.raises(TypeError, match="DescentConfig"):
        D.descend(THETA0, X, y, {"learning_rate": 0.1})
    with pytest.raises(ValueError, match="exactly two parameters"):
        D.loss_surface(jnp.ones((4, 3)), jnp.ones(4), jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="1-D grids"):
        D.loss_surface(X, y, jnp.ones(1), jnp.ones(3))
