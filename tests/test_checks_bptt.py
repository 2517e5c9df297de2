"""Check of notebook 10's backpropagation through time: passes on autodiff through lax.scan, names slips."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import checks
from leptonlab.checks import CheckFailed


def ref_bptt(
    xs, h0, w_x, w_h, b, grad_hs, slip=""
):  # the notebook's solution (slip: a usual mistake)
    states, h = [], h0
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ w_x + h @ w_h + b[None, :])
        states.append(h)
    dw_x, dw_h, db = np.zeros(w_x.shape), np.zeros(w_h.shape), np.zeros(b.shape)
    dh_next = np.zeros(h0.shape)
    for t in reversed(range(xs.shape[1])):
        h_prev = states[t - 1] if t > 0 else h0
        dh = (grad_hs[:, t] if slip != "last_only" or t == xs.shape[1] - 1 else 0.0) + (
            0.0 if slip == "no_carry" else dh_next
        )
        da = dh * (1 - states[t] ** 2)
        dw_x += xs[:, t].T @ da
        dw_h += h_prev.T @ da
        db += da.sum(0)
        dh_next = da @ w_h.T
    return dw_x, dw_h, db, dh_next


def by_autodiff(xs, h0, w_x, w_h, b, grad_hs):
    def states(w_x, w_h, b, h0):
        def step(h, x_t):
            h = jnp.tanh(x_t @ w_x + h @ w_h + b[None, :])
            return h, h

        return jnp.swapaxes(jax.lax.scan(step, h0, jnp.swapaxes(xs, 0, 1))[1], 0, 1)  # [B, T, H]

    _, vjp = jax.vjp(states, w_x, w_h, b, h0)
    return vjp(jnp.asarray(grad_hs))


@pytest.mark.parametrize("fn", [ref_bptt, by_autodiff])
def test_passes_on_reference_and_autodiff(fn, capsys):
    assert checks.rnn_bptt(fn) is None
    assert "✓ rnn_bptt" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, match",
    [
        (lambda *a: ref_bptt(*a, slip="last_only"), "only the last state"),
        (lambda *a: ref_bptt(*a, slip="no_carry"), "stops after one step"),
        (lambda *a: ref_bptt(*a)[:3], "expected 4 values"),
        (lambda *a: (ref_bptt(*a)[0], ref_bptt(*a)[1].T) + ref_bptt(*a)[2:], "dw_h"),
        (lambda *a: None, "returned nothing"),
    ],
)
def test_names_the_slip_without_the_solution(wrong, match):
    with pytest.raises(CheckFailed, match=match) as err:
        checks.rnn_bptt(wrong)
    for code in ("@ w_h.T", "w_h.T", "1 - states", "dh_next"):
        assert code not in str(err.value)


def test_stub_says_not_written_yet():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        checks.rnn_bptt(stub)
