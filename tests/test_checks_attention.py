"""Checks of notebook 12 (attention): pass on the reference, fail helpfully on stubs and typical mistakes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import attention, checks
from leptonlab.checks import CheckFailed


def _stub(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------ references (notebook solutions)
def ref_weights(q, k):
    return jax.nn.softmax(q @ k.T / jnp.sqrt(q.shape[-1]), axis=-1)


def ref_mask(t):
    return jnp.tril(jnp.ones((t, t), bool))


def ref_head(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / jnp.sqrt(q.shape[-1])
    t = x.shape[0]
    scores = jnp.where(jnp.tril(jnp.ones((t, t), bool)), scores, -jnp.inf)
    return jax.nn.softmax(scores, axis=-1) @ v


def package_head(x, w_q, w_k, w_v):  # the package's own pieces must pass too
    out, _ = attention.scaled_dot_product_attention(
        x @ w_q, x @ w_k, x @ w_v, attention.causal_mask(x.shape[0])
    )
    return out


@pytest.mark.parametrize(
    "check, reference",
    [
        (checks.attention_weights, ref_weights),
        (checks.attention_weights, lambda q, k: attention.scaled_dot_product_attention(q, k, k)[1]),
        (checks.causal_mask, ref_mask),
        (checks.causal_mask, attention.causal_mask),
        (
            checks.causal_mask,
            lambda t: np.tril(np.ones((t, t))),
        ),  # 0/1 floats are read as a mask too
        (checks.one_head, ref_head),
        (checks.one_head, package_head),
    ],
)
def test_passes_on_reference(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("check", [checks.attention_weights, checks.causal_mask, checks.one_head])
def test_stub_says_not_written_yet(check):
    with pytest.raises(CheckFailed, match="not written yet"):
        check(_stub)


@pytest.mark.parametrize(
    "wrong, match",
    [
        (lambda q, k: jax.nn.softmax(q @ k.T, axis=-1), "raw scores"),
        (lambda q, k: jax.nn.softmax(q @ k.T / q.shape[-1], axis=-1), "divided the scores by D"),
        (lambda q, k: jax.nn.softmax(q @ k.T / jnp.sqrt(q.shape[-1]), axis=0), "column"),
        (lambda q, k: jax.nn.softmax(k @ q.T / jnp.sqrt(q.shape[-1]), axis=-1), "queries x keys"),
        (
            lambda q, k: (lambda e: e / e.sum(-1, keepdims=True))(
                np.exp(q @ k.T / np.sqrt(q.shape[-1]))
            ),
            "overflow",
        ),
    ],
)
def test_attention_weights_names_the_mistake(wrong, match):
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(CheckFailed, match=match):
            checks.attention_weights(wrong)


@pytest.mark.parametrize(
    "wrong, match",
    [
        (lambda t: jnp.triu(jnp.ones((t, t), bool)), "later"),
        (lambda t: jnp.tril(jnp.ones((t, t), bool), -1), "itself"),
        (lambda t: ~jnp.tril(jnp.ones((t, t), bool)), "later|inverted"),
        (lambda t: jnp.ones((t, t), bool), "expected"),
        (lambda t: jnp.ones((t, t + 1), bool), "shape"),
        (
            lambda t: jnp.where(jnp.tril(jnp.ones((t, t))) > 0, 0.0, -jnp.inf),
            "other than True/False",
        ),
    ],
)
def test_causal_mask_names_the_mistake(wrong, match):
    with pytest.raises(CheckFailed, match=match):
        checks.causal_mask(wrong)


def _unmasked(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return jax.nn.softmax(q @ k.T / jnp.sqrt(q.shape[-1]), axis=-1) @ v


def _input_width_scale(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    t = x.shape[0]
    scores = jnp.where(jnp.tril(jnp.ones((t, t), bool)), q @ k.T / jnp.sqrt(x.shape[-1]), -jnp.inf)
    return jax.nn.softmax(scores, axis=-1) @ v


def _values_forgotten(x, w_q, w_k, w_v):
    return ref_head(x, w_q, w_k, jnp.eye(x.shape[1], w_v.shape[1]))


@pytest.mark.parametrize(
    "wrong, match",
    [
        (_unmasked, "later positions"),
        (_input_width_scale, "input width"),
        (lambda x, w_q, w_k, w_v: ref_head(x, w_q, w_k, w_v)[:, :1], "shape"),
        (_values_forgotten, "head's output"),
    ],
)
def test_one_head_names_the_mistake(wrong, match):
    with pytest.raises(CheckFailed, match=match):
        checks.one_head(wrong)


def test_a_check_is_not_fooled_by_a_constant():
    with pytest.raises(CheckFailed):
        checks.attention_weights(lambda q, k: np.full((q.shape[0], k.shape[0]), 1.0 / k.shape[0]))
    with pytest.raises(CheckFailed):
        checks.one_head(lambda x, w_q, w_k, w_v: np.zeros((x.shape[0], w_v.shape[1])))
