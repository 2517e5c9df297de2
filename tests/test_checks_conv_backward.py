"""Check of notebook 07's convolution backward pass: passes on jax.vjp of the package's convolution, names slips."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import checks, conv
from leptonlab.checks import CheckFailed


def ref_conv_backward(x, w, grad_out):  # the notebook's solution: loops over the kernel offsets
    kh, kw = w.shape[:2]
    oh, ow = grad_out.shape[1:3]
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for a in range(kh):
        for b in range(kw):
            dx[:, a : a + oh, b : b + ow, :] += np.einsum("nijd,cd->nijc", grad_out, w[a, b])
            dw[a, b] = np.einsum("nijc,nijd->cd", x[:, a : a + oh, b : b + ow, :], grad_out)
    return dx, dw


def by_vjp(x, w, grad_out):
    _, vjp = jax.vjp(conv.conv2d_lax, jnp.asarray(x), jnp.asarray(w))
    return vjp(jnp.asarray(grad_out))


@pytest.mark.parametrize("fn", [ref_conv_backward, by_vjp])
def test_passes_on_reference_and_vjp(fn, capsys):
    assert checks.conv_backward(fn) is None
    assert "✓ conv_backward" in capsys.readouterr().out


def rotated(x, w, grad_out):
    return ref_conv_backward(x, w[::-1, ::-1], grad_out)[0], ref_conv_backward(x, w, grad_out)[1]


@pytest.mark.parametrize(
    "wrong, match",
    [
        (rotated, "upside down"),
        (
            lambda x, w, g: (
                ref_conv_backward(x, w, g)[0],
                np.swapaxes(ref_conv_backward(x, w, g)[1], 2, 3),
            ),
            "order",
        ),
        (
            lambda x, w, g: (ref_conv_backward(x, w, g)[0], -ref_conv_backward(x, w, g)[1]),
            "wrong sign",
        ),
        (
            lambda x, w, g: (ref_conv_backward(x, w, g)[0] / 2, ref_conv_backward(x, w, g)[1]),
            "0.5 times",
        ),
        (lambda x, w, g: (ref_conv_backward(x, w, g)[0],), "expected 2 values"),
        (lambda x, w, g: None, "returned nothing"),
    ],
)
def test_names_the_slip_without_the_solution(wrong, match):
    with pytest.raises(CheckFailed, match=match) as err:
        checks.conv_backward(wrong)
    for code in ("einsum", "w[::-1", "grad_out @", "[:, a:a"):
        assert code not in str(err.value)


def test_weight_gradient_per_example_is_named():
    def per_example(x, w, g):
        kh, kw = w.shape[:2]
        oh, ow = g.shape[1:3]
        dw = np.zeros((x.shape[0],) + w.shape)
        for a in range(kh):
            for b in range(kw):
                dw[:, a, b] = np.einsum("nijc,nijd->ncd", x[:, a : a + oh, b : b + ow, :], g)
        return ref_conv_backward(x, w, g)[0], dw

    with pytest.raises(CheckFailed, match="one gradient per example"):
        checks.conv_backward(per_example)
