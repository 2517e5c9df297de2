"""Check of notebook 03's two-layer backward pass: passes on the package's and on autodiff, names the slips."""

import jax
import jax.numpy as jnp
import pytest

from leptonlab import checks, gradients
from leptonlab.checks import CheckFailed


def ref_backprop(params, x, y):  # the notebook's solution
    z1 = x @ params["W1"] + params["b1"][None, :]  # [B, H]
    h = jnp.tanh(z1)
    yhat = h @ params["W2"] + params["b2"][None, :]  # [B, O]
    loss = jnp.mean((yhat - y) ** 2)
    d_yhat = 2 * (yhat - y) / yhat.size
    d_z1 = (d_yhat @ params["W2"].T) * (1 - h**2)
    return loss, {"W1": x.T @ d_z1, "b1": d_z1.sum(0), "W2": h.T @ d_yhat, "b2": d_yhat.sum(0)}


def with_slip(slip):
    def backprop(params, x, y):
        z1 = x @ params["W1"] + params["b1"][None, :]
        h = jnp.tanh(z1)
        yhat = h @ params["W2"] + params["b2"][None, :]
        d_yhat = 2 * (yhat - y) / yhat.size
        if slip == "sum":
            d_yhat = 2 * (yhat - y)
        if slip == "no_two":
            d_yhat = (yhat - y) / yhat.size
        local = {"pre": 1 - z1**2, "none": 1.0}.get(slip, 1 - h**2)
        d_z1 = (d_yhat @ params["W2"].T) * local
        grads = {"W1": x.T @ d_z1, "b1": d_z1.sum(0), "W2": h.T @ d_yhat, "b2": d_yhat.sum(0)}
        if slip == "per_example_b2":
            grads["b2"] = d_yhat
        if slip == "missing_key":
            del grads["b1"]
        if slip == "sign":
            grads["W1"] = -grads["W1"]
        return jnp.mean((yhat - y) ** 2), grads

    return backprop


@pytest.mark.parametrize(
    "fn",
    [
        ref_backprop,
        gradients.two_layer_grads,
        lambda p, x, y: (
            gradients.two_layer_loss(p, x, y),
            jax.grad(gradients.two_layer_loss)(p, x, y),
        ),
    ],
)
def test_passes_on_reference_package_and_autodiff(fn, capsys):
    assert checks.two_layer_backprop(fn) is None
    assert "✓ two_layer_backprop" in capsys.readouterr().out


@pytest.mark.parametrize(
    "slip, match",
    [
        ("sum", "mean"),
        ("no_two", "lost a factor"),
        ("pre", "in terms of its input"),
        ("none", "local derivative"),
        ("per_example_b2", "one gradient per example"),
        ("missing_key", "'b1'"),
        ("sign", "wrong sign"),
    ],
)
def test_names_the_slip_without_the_solution(slip, match):
    with pytest.raises(CheckFailed, match=match) as err:
        checks.two_layer_backprop(with_slip(slip))
    for code in ("@ W2.T", "W2.T", "x.T @", "1 - h ** 2", "1 - h**2", "2 * (yhat - y)"):
        assert code not in str(err.value)


def test_stub_and_none_and_bad_shape():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.two_layer_backprop(stub)
    with pytest.raises(CheckFailed, match="returned nothing"):
        checks.two_layer_backprop(lambda p, x, y: None)
    with pytest.raises(CheckFailed, match="grads a dict"):
        checks.two_layer_backprop(lambda p, x, y: ref_backprop(p, x, y)[1])
    with pytest.raises(CheckFailed, match="expected a function"):
        checks.two_layer_backprop(3)
