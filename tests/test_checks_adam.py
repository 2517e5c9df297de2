"""Check of notebook 04's Adam: 100 steps equal to optax.adam's, each usual slip named."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from leptonlab import checks
from leptonlab.checks import CheckFailed
from leptonlab.checks._adam import STEPS, _quadratic, adam_reference


def ref_adam(theta, state, grad, t, learning_rate, b1, b2, eps):  # the notebook's solution
    m = b1 * state[0] + (1 - b1) * grad
    s = b2 * state[1] + (1 - b2) * grad**2
    m_hat, s_hat = m / (1 - b1**t), s / (1 - b2**t)
    return theta - learning_rate * m_hat / (jnp.sqrt(s_hat) + eps), (m, s)


def optax_step(theta, state, grad, t, learning_rate, b1, b2, eps):
    """One step of optax.adam itself, its state rebuilt from (m, s) and t: the library passes too."""
    opt = optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)
    opt_state = opt.init(jnp.asarray(theta))
    opt_state = (
        opt_state[0]._replace(
            count=jnp.asarray(t - 1, jnp.int32), mu=jnp.asarray(state[0]), nu=jnp.asarray(state[1])
        ),
    ) + tuple(opt_state[1:])
    updates, opt_state = opt.update(jnp.asarray(grad), opt_state, jnp.asarray(theta))
    return optax.apply_updates(jnp.asarray(theta), updates), (opt_state[0].mu, opt_state[0].nu)


def test_reference_equals_optax_adam_over_100_steps():
    a, c, theta0 = _quadratic(5)
    opt = optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-3)
    theta = jnp.asarray(theta0, jnp.float32)
    opt_state, out = opt.init(theta), [theta]
    for _ in range(STEPS):
        updates, opt_state = opt.update(
            jnp.asarray(a, jnp.float32) @ theta - jnp.asarray(c, jnp.float32), opt_state
        )
        theta = optax.apply_updates(theta, updates)
        out.append(theta)
    assert (
        np.abs(np.stack(out) - adam_reference(theta0, a, c, 0.05, 0.8, 0.99, 1e-3, STEPS)).max()
        < 1e-4
    )


@pytest.mark.parametrize("fn", [ref_adam, optax_step])
def test_passes_on_reference_and_optax(fn, capsys):
    assert checks.adam_step(fn) is None
    assert "✓ adam_step" in capsys.readouterr().out


def slip(kind):
    def step(theta, state, grad, t, learning_rate, b1, b2, eps):
        m = b1 * state[0] + (1 - b1) * grad
        s = b2 * state[1] + (1 - b2) * (grad if kind == "no_square" else grad**2)
        tc = {"t0": t - 1, "t_plus_one": t + 1}.get(kind, t)
        m_hat, s_hat = (m, s) if kind == "no_correction" else (m / (1 - b1**tc), s / (1 - b2**tc))
        step = (
            m_hat / jnp.sqrt(s_hat + eps)
            if kind == "eps_inside"
            else m_hat / (jnp.sqrt(s_hat) + eps)
        )
        new = theta + learning_rate * step if kind == "sign" else theta - learning_rate * step
        if kind == "none":
            return None
        if kind == "theta_only":
            return new
        return new, (m, s)

    return step


@pytest.mark.parametrize(
    "kind, match",
    [
        ("no_correction", "biased towards zero"),
        ("eps_inside", "inside the square root"),
        ("t_plus_one", "step number"),
        ("sign", "uphill"),
        ("no_square", "squared"),
        ("t0", "NaN"),
        ("none", "returned nothing"),
        ("theta_only", "not \\(theta, state\\)"),
    ],
)
def test_names_the_slip_without_the_solution(kind, match):
    with np.errstate(all="ignore"):
        with pytest.raises(CheckFailed, match=match) as err:
            checks.adam_step(slip(kind))
    for code in ("1 - b1 ** t", "sqrt(s_hat)", "m / (1", "(1 - b2) * grad"):
        assert code not in str(err.value)


def test_stub_says_not_written_yet():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.adam_step(stub)
