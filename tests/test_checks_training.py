"""Checks of notebook 05: pass on the reference, fail helpfully on stubs and typical mistakes."""

import jax
import jax.numpy as jnp
import pytest

from leptonlab import checks, train
from leptonlab.checks import CheckFailed


def _stub(*args):
    raise NotImplementedError()


def ref_accuracy(logits, labels):
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def ref_sgd(params, grads, lr):
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


@pytest.mark.parametrize(
    "check, reference",
    [
        (checks.accuracy, ref_accuracy),
        (checks.mse_loss_fn, train.regression_loss),
        (checks.sgd_update, ref_sgd),
    ],
)
def test_passes_on_reference_and_fails_on_stub(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(_stub)


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (checks.accuracy, lambda z, y: jnp.sum(jnp.argmax(z, -1) == y), "number of correct"),
        (checks.accuracy, lambda z, y: jnp.mean(jnp.argmax(z, 0)[: y.shape[0]] == y), "accuracy"),
        (
            checks.mse_loss_fn,
            lambda m, b, k: (
                0.5 * jnp.mean((m(b[0]) - b[1]) ** 2),
                {"loss": (m(b[0]) - b[1])[:, 0] ** 2},
            ),
            "half the mean squared error",
        ),
        (checks.mse_loss_fn, lambda m, b, k: jnp.mean((m(b[0]) - b[1]) ** 2), "pair"),
        (
            checks.sgd_update,
            lambda p, g, lr: jax.tree.map(lambda a, b: a + lr * b, p, g),
            "up the gradient",
        ),
        (checks.sgd_update, lambda p, g, lr: 42, "same structure"),
    ],
)
def test_fails_with_a_specific_message(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


def test_not_a_function_and_render():
    with pytest.raises(CheckFailed, match="expected a function") as info:
        checks.accuracy(0.5)
    lines = info.value._render_traceback_()
    assert any("Hint" in line for line in lines) and len(lines) <= 4
