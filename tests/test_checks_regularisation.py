"""leptonlab.checks._regularisation (notebook 09): pass on the reference, fail helpfully on stubs and
typical mistakes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _check_helpers import stub

from leptonlab import checks
from leptonlab.checks import CheckFailed


def ref_l2_penalty(params, weight_decay):
    return 0.5 * weight_decay * sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(params))


def ref_should_stop(val_losses, patience):
    if patience == 0:
        return False
    return len(val_losses) - (int(np.argmin(val_losses)) + 1) >= patience


def ref_inverted_dropout(x, rate, key):
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


REFERENCES = [
    (checks.l2_penalty, ref_l2_penalty),
    (checks.should_stop, ref_should_stop),
    (checks.inverted_dropout, ref_inverted_dropout),
]


@pytest.mark.parametrize("check, reference", REFERENCES)
def test_passes_on_reference_and_fails_on_stub(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


def _loop_until_best_then_compare_previous(losses, patience):
    return patience > 0 and all(
        b > a for a, b in zip(losses[-patience - 1 : -1], losses[-patience:])
    )


def _strictly_greater(losses, patience):
    return patience > 0 and len(losses) - (int(np.argmin(losses)) + 1) > patience


def _no_scaling(x, rate, key):
    return jnp.where(jax.random.bernoulli(key, 1.0 - rate, x.shape), x, 0.0)


def _keep_with_rate(x, rate, key):
    return jnp.where(jax.random.bernoulli(key, rate, x.shape), x / (1.0 - rate), 0.0)


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (
            checks.l2_penalty,
            lambda p, wd: wd * sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(p)),
            "twice",
        ),
        (
            checks.l2_penalty,
            lambda p, wd: 0.5 * wd * sum(jnp.sum(jnp.abs(x)) for x in jax.tree.leaves(p)),
            "L1",
        ),
        (
            checks.l2_penalty,
            lambda p, wd: 0.5 * wd * jnp.sum(jnp.square(p["dense"]["kernel"])),
            "only one array",
        ),
        (
            checks.l2_penalty,
            lambda p, wd: [0.5 * wd * jnp.sum(jnp.square(x)) for x in jax.tree.leaves(p)],
            "one number",
        ),
        (checks.should_stop, _loop_until_best_then_compare_previous, "best loss so far"),
        (checks.should_stop, _strictly_greater, r"not >"),
        (
            checks.should_stop,
            lambda losses, patience: len(losses) - (int(np.argmin(losses)) + 1) >= patience,
            "patience is 0",
        ),
        (checks.should_stop, lambda losses, patience: "yes", "True or False"),
        (checks.inverted_dropout, _no_scaling, "divide the kept entries"),
        (checks.inverted_dropout, _keep_with_rate, "probability of \\*dropping\\*"),
        (checks.inverted_dropout, lambda x, rate, key: x[:, 0], "shape"),
    ],
)
def test_fails_with_a_specific_message(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


def test_should_stop_counts_ties_as_no_improvement():
    def last_of_equal_minima(losses, patience):
        best = len(losses) - int(np.argmin(losses[::-1]))
        return patience > 0 and len(losses) - best >= patience

    with pytest.raises(CheckFailed, match="equal loss is no improvement"):
        checks.should_stop(last_of_equal_minima)
