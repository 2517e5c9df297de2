"""Checks of notebook 09's batch norm: forward equal to the package's layer, backward to autodiff; slips named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab import checks
from leptonlab.checks import CheckFailed
from leptonlab.layers import BatchNorm


def ref_forward(x, gamma, beta, eps):  # the notebook's solution
    mu = x.mean(axis=0)  # [D]
    var = ((x - mu[None, :]) ** 2).mean(axis=0)  # [D], biased
    return gamma[None, :] * (x - mu[None, :]) / jnp.sqrt(var[None, :] + eps) + beta[None, :]


def ref_backward(x, gamma, beta, grad_out, eps):  # the notebook's solution, CS231n's compact form
    n = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv = 1 / jnp.sqrt(var + eps)
    xhat = (x - mu[None, :]) * inv[None, :]
    dxhat = grad_out * gamma[None, :]
    dx = (
        inv[None, :]
        / n
        * (n * dxhat - dxhat.sum(0)[None, :] - xhat * (dxhat * xhat).sum(0)[None, :])
    )
    return dx, (grad_out * xhat).sum(0), grad_out.sum(0)


def package_layer(x, gamma, beta, eps):
    layer = BatchNorm(x.shape[1], epsilon=eps, rngs=nnx.Rngs(0))
    layer.scale[...], layer.bias[...] = jnp.asarray(gamma), jnp.asarray(beta)
    return layer(jnp.asarray(x))  # training mode: the batch's statistics


def by_vjp(x, gamma, beta, grad_out, eps):
    _, vjp = jax.vjp(lambda x_, g_, b_: ref_forward(x_, g_, b_, eps), x, gamma, beta)
    return vjp(grad_out)


@pytest.mark.parametrize(
    "check, fn",
    [
        (checks.batchnorm_forward, ref_forward),
        (checks.batchnorm_forward, package_layer),
        (checks.batchnorm_backward, ref_backward),
        (checks.batchnorm_backward, by_vjp),
    ],
)
def test_passes_on_reference_package_and_autodiff(check, fn, capsys):
    assert check(fn) is None
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, match",
    [
        (
            lambda x, g, b, eps: g * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + b,
            "unbiased",
        ),
        (lambda x, g, b, eps: g * (x - x.mean(0)) / (np.sqrt(x.var(0)) + eps) + b, "inside"),
        (lambda x, g, b, eps: (x - x.mean(0)) / np.sqrt(x.var(0) + eps), "gamma and beta"),
        (
            lambda x, g, b, eps: (
                g * (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps) + b
            ),
            "over the batch",
        ),
        (lambda x, g, b, eps: None, "returned nothing"),
    ],
)
def test_forward_names_the_slip(wrong, match):
    with pytest.raises(CheckFailed, match=match) as err:
        checks.batchnorm_forward(wrong)
    assert "sqrt(" not in str(err.value) and ".mean(" not in str(err.value)


def constant_stats(x, gamma, beta, grad_out, eps):
    return (
        grad_out * gamma / np.sqrt(x.var(0) + eps),
        ref_backward(x, gamma, beta, grad_out, eps)[1],
        grad_out.sum(0),
    )


@pytest.mark.parametrize(
    "wrong, match",
    [
        (constant_stats, "as constants"),
        (
            lambda x, g, b, go, eps: (
                ref_backward(x, g, b, go, eps)[0],
                ref_backward(x, g, b, go, eps)[1],
                go,
            ),
            "one gradient per example",
        ),
        (
            lambda x, g, b, go, eps: (
                ref_backward(x, g, b, go, eps)[0],
                -ref_backward(x, g, b, go, eps)[1],
                go.sum(0),
            ),
            "wrong sign",
        ),
        (lambda x, g, b, go, eps: ref_backward(x, g, b, go, eps)[:2], "expected 3 values"),
    ],
)
def test_backward_names_the_slip_without_the_solution(wrong, match):
    with pytest.raises(CheckFailed, match=match) as err:
        checks.batchnorm_backward(wrong)
    for code in ("dxhat", "xhat *", "sqrt(", ".sum(0)"):
        assert code not in str(err.value)
