"""Recurrent cells equal Flax's, masking ignores padding, sampling is deterministic, one training step works."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab import checks, recurrent
from leptonlab.checks import CheckFailed
from leptonlab.recurrent import (
    CharRNN,
    GRUCell,
    LSTMCell,
    RecurrentClassifier,
    RNNCell,
    lm_loss,
    sample,
    sample_logits,
    scan,
)
from leptonlab.train import TrainConfig, classification_loss, fit

PAIRS = [(RNNCell, nnx.SimpleCell), (GRUCell, nnx.GRUCell), (LSTMCell, nnx.OptimizedLSTMCell)]


@pytest.mark.parametrize("mine, flax_cell", PAIRS, ids=lambda c: getattr(c, "__name__", ""))
def test_cells_equal_the_flax_cells(mine, flax_cell, key):
    reference = flax_cell(4, 6, rngs=nnx.Rngs(1))
    cell = mine.from_flax(reference)
    xs = jax.random.normal(key, (3, 7, 4))  # [B, T, D]
    want_carry, want = nnx.RNN(reference, return_carry=True)(xs)
    carry, hs = scan(cell, cell.initial_state(3), xs)
    assert hs.shape == (3, 7, 6)
    np.testing.assert_allclose(hs, want, atol=1e-5)
    for got_leaf, want_leaf in zip(jax.tree.leaves(carry), jax.tree.leaves(want_carry)):
        np.testing.assert_allclose(got_leaf, want_leaf, atol=1e-5)
    one_carry, h1 = cell(cell.initial_state(3), xs[:, 0])  # a single step, Flax-style
    np.testing.assert_allclose(h1, want[:, 0], atol=1e-5)


def test_rnn_cell_matches_hand_computation(key):
    cell = RNNCell(3, 5, rngs=nnx.Rngs(0))
    xs = jax.random.normal(key, (2, 4, 3))
    h = jnp.zeros((2, 5))
    for t in range(4):
        h = jnp.tanh(xs[:, t] @ cell.w_x[...] + h @ cell.w_h[...] + cell.b[...][None, :])
    _, hs = scan(cell, cell.initial_state(2), xs)
    np.testing.assert_allclose(hs[:, -1], h, atol=1e-6)


def test_cell_bad_input(key):
    with pytest.raises(TypeError, match="SimpleCell"):
        RNNCell.from_flax(nnx.GRUCell(2, 3, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match="hidden"):
        GRUCell(2, 0, rngs=nnx.Rngs(0))
    cell = GRUCell(2, 3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        scan(cell, cell.initial_state(1), jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="takes 2 input features"):
        scan(cell, cell.initial_state(1), jnp.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match="mask must have shape"):
        scan(cell, cell.initial_state(1), jnp.zeros((1, 4, 2)), mask=jnp.ones((1, 3), bool))
    with pytest.raises(TypeError, match="leptonlab.recurrent cell"):
        scan(nnx.GRUCell(2, 3, rngs=nnx.Rngs(0)), None, jnp.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="unknown cell"):
        recurrent.make_cell("transformer", 2, 3, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_masked_scan_freezes_the_state_on_padding(kind, key):
    cell = recurrent.make_cell(kind, 3, 4, rngs=nnx.Rngs(0))
    xs = jax.random.normal(key, (2, 6, 3))
    mask = jnp.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)
    carry, _ = scan(cell, cell.initial_state(2), xs, mask=mask)
    short, _ = scan(cell, cell.initial_state(1), xs[:1, :3])  # the first row without its padding
    np.testing.assert_allclose(
        jax.tree.leaves(carry)[-1][0], jax.tree.leaves(short)[-1][0], atol=1e-6
    )
    back, _ = scan(cell, cell.initial_state(2), xs, mask=mask, reverse=True)
    back_short, _ = scan(cell, cell.initial_state(1), xs[:1, :3], reverse=True)
    np.testing.assert_allclose(
        jax.tree.leaves(back)[-1][0], jax.tree.leaves(back_short)[-1][0], atol=1e-6
    )


@pytest.mark.parametrize("pooling", ["last", "max"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_classifier_ignores_padding(bidirectional, pooling):
    model = RecurrentClassifier(
        20, 8, 6, bidirectional=bidirectional, pooling=pooling, rngs=nnx.Rngs(0)
    )
    x = jnp.array([[3, 4, 5, 0, 0], [2, 0, 0, 0, 0]], jnp.int32)
    longer = jnp.concatenate([x, jnp.zeros((2, 7), jnp.int32)], axis=1)
    logits = model(x)
    assert logits.shape == (2, 2)
    np.testing.assert_allclose(logits, model(longer), atol=1e-6)
    np.testing.assert_allclose(logits[1], model(x[1:, :1])[0], atol=1e-6)
    assert not np.allclose(model(x[:1, :2]), logits[:1]), "the real words do matter"
    with pytest.raises(TypeError, match="word ids"):
        model(jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"\[B, L\]"):
        model(jnp.zeros((5,), jnp.int32))
    with pytest.raises(ValueError, match="pad_id"):
        RecurrentClassifier(5, 4, 4, pad_id=7, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="pooling"):
        RecurrentClassifier(5, 4, 4, pooling="mean", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="word_dropout"):
        RecurrentClassifier(5, 4, 4, word_dropout=1.0, rngs=nnx.Rngs(0))


def test_word_dropout_hides_words_in_training_only():
    model = RecurrentClassifier(20, 8, 6, word_dropout=0.5, rngs=nnx.Rngs(0))
    x = jnp.array([[3, 4, 5, 6, 7, 8, 0, 0]] * 64, jnp.int32)  # [64, 8]: 6 real words, 2 pads
    unk_only = jnp.where(x != 0, 1, 0)  # every real word replaced by <unk>
    key = jax.random.key(1)
    train = model(x, rngs=key)
    assert not np.allclose(train, model(x, rngs=jax.random.key(2))), "another key drops other words"
    np.testing.assert_allclose(train, model(x, rngs=key), atol=0)  # same key, same words dropped
    rows = [model(x[:1], rngs=k)[0] for k in jax.random.split(key, 16)]
    assert any(not np.allclose(r, rows[0]) for r in rows[1:])
    model.eval()
    clean = model(x)
    np.testing.assert_allclose(
        clean, jnp.broadcast_to(clean[:1], clean.shape), atol=1e-6
    )  # nothing dropped
    assert not np.allclose(clean[:1], model(unk_only[:1]))


def test_max_pooling_takes_the_largest_state_over_the_real_words():
    model = RecurrentClassifier(20, 8, 6, pooling="max", rngs=nnx.Rngs(0))
    x = jnp.array([[3, 4, 5, 0, 0], [2, 9, 0, 0, 0]], jnp.int32)  # [B=2, L=5], 3 and 2 real words
    e = model.embedding(x)
    fwd, fwd_hs = scan(model.forward_cell, model.forward_cell.initial_state(2), e, mask=x != 0)
    bwd, bwd_hs = scan(
        model.backward_cell, model.backward_cell.initial_state(2), e, mask=x != 0, reverse=True
    )
    n = [3, 2]
    expected = jnp.stack(
        [
            jnp.concatenate([fwd[i], fwd_hs[i, : n[i]].max(0), bwd[i], bwd_hs[i, : n[i]].max(0)])
            for i in range(2)
        ]
    )  # [2, 4H]
    features = model.features(x)
    assert features.shape == (2, 4 * 6)
    np.testing.assert_allclose(features, expected, atol=1e-6)
    empty = model.features(jnp.zeros((1, 5), jnp.int32))  # a sentence with no word (all padding)
    assert np.isfinite(empty).all(), "an empty sentence must not give -inf features"


def test_classifier_one_training_step_lowers_the_loss():
    x = jnp.array([[3, 4, 0, 0], [5, 6, 7, 0]] * 8, jnp.int32)
    y = jnp.array([0, 1] * 8, jnp.int32)
    model = RecurrentClassifier(10, 8, 8, rngs=nnx.Rngs(0))
    state, history = fit(
        model,
        (x, y),
        TrainConfig(epochs=15, batch_size=16, learning_rate=1e-2, progress=False),
        loss_fn=classification_loss,
    )
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_char_rnn_shapes_step_equals_full_pass(kind, key):
    model = CharRNN(11, 8, cell=kind, layers=2, rngs=nnx.Rngs(0))
    x = jax.random.randint(key, (2, 5), 0, 11)
    logits = model(x)
    assert logits.shape == (2, 5, 11)
    state = model.initial_state(2)
    for t in range(5):
        state, step_logits = model.step(state, x[:, t])
        np.testing.assert_allclose(step_logits, logits[:, t], atol=1e-5)
    with pytest.raises(TypeError, match="ids"):
        model(jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match="dropout"):
        CharRNN(5, 4, dropout=1.0, rngs=nnx.Rngs(0))


def test_lm_loss_is_ln_vocab_for_uniform_logits_and_fit_learns():
    class Uniform(nnx.Module):
        def __init__(self):
            self.w = nnx.Param(jnp.zeros(()))

        def __call__(self, x, *, rngs=None):
            return jnp.zeros((*x.shape, 7)) + self.w[...]

    x = jnp.zeros((3, 4), jnp.int32)
    loss, metrics = lm_loss(Uniform(), (x, x), jax.random.key(0))
    np.testing.assert_allclose(loss, np.log(7), rtol=1e-6)
    assert metrics["loss"].shape == (3,)
    ids = jnp.tile(jnp.arange(5, dtype=jnp.int32), 40)  # a periodic text: easy to learn
    xs = jnp.stack([ids[i : i + 8] for i in range(0, 180, 8)])
    ys = jnp.stack([ids[i + 1 : i + 9] for i in range(0, 180, 8)])
    _, history = fit(
        CharRNN(5, 16, rngs=nnx.Rngs(0)),
        (xs, ys),
        TrainConfig(epochs=20, batch_size=8, learning_rate=1e-2, progress=False),
        loss_fn=lm_loss,
    )
    assert history["train_loss"][-1] < 0.2 < np.log(5)


def test_sampling_is_deterministic_given_a_key(key):
    model = CharRNN(9, 8, rngs=nnx.Rngs(0))
    prompt = jnp.array([1, 2, 3], jnp.int32)
    a = sample(model, prompt, 20, key=key, temperature=0.8, top_k=4)
    b = sample(model, prompt, 20, key=key, temperature=0.8, top_k=4)
    c = sample(model, prompt, 20, key=jax.random.key(1), temperature=0.8, top_k=4)
    assert a.shape == (20,) and a.dtype == jnp.int32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    batch = sample(model, jnp.stack([prompt, prompt]), 5, key=key)
    assert batch.shape == (2, 5)
    greedy = sample(model, prompt, 20, key=key, top_k=1)  # top_k=1 is the argmax, whatever the key
    np.testing.assert_array_equal(greedy, sample(model, prompt, 20, key=jax.random.key(7), top_k=1))
    state, logits = model.initial_state(1), None
    for t in prompt:
        state, logits = model.step(state, t[None])
    assert int(greedy[0]) == int(jnp.argmax(logits[0]))


def test_sampling_bad_input(key):
    model = CharRNN(9, 8, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="P >= 1"):
        sample(model, jnp.zeros((0,), jnp.int32), 5, key=key)
    with pytest.raises(TypeError, match="integer ids"):
        sample(model, jnp.zeros((3,)), 5, key=key)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, jnp.zeros((3,), jnp.int32), 5, key=key, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        sample(model, jnp.zeros((3,), jnp.int32), 5, key=key, top_k=-1)
    with pytest.raises(ValueError, match="length"):
        sample(model, jnp.zeros((3,), jnp.int32), 0, key=key)
    with pytest.raises(TypeError, match="CharRNN"):
        sample(RNNCell(2, 2, rngs=nnx.Rngs(0)), jnp.zeros((3,), jnp.int32), 2, key=key)


def test_sample_logits_temperature_and_top_k(key):
    logits = jnp.log(jnp.array([0.5, 0.3, 0.15, 0.05]))
    keys = jax.random.split(key, 4000)
    draws = jax.vmap(lambda k: sample_logits(logits, key=k))(keys)
    np.testing.assert_allclose(
        np.bincount(draws, minlength=4) / 4000, [0.5, 0.3, 0.15, 0.05], atol=0.03
    )
    top2 = jax.vmap(lambda k: sample_logits(logits, key=k, top_k=2))(keys)
    assert set(np.unique(top2)) == {0, 1}
    cold = jax.vmap(lambda k: sample_logits(logits, key=k, temperature=0.05))(keys)
    assert np.mean(cold == 0) > 0.99
    with pytest.raises(ValueError, match="temperature"):
        sample_logits(logits, key=key, temperature=-1.0)


def test_gradient_norms_vanish_for_a_plain_rnn(key):
    xs = jax.random.normal(key, (4, 30, 3))
    norms = recurrent.gradient_norms_through_time(RNNCell(3, 16, rngs=nnx.Rngs(0)), xs)
    assert norms.shape == (30,)
    assert norms[0] < 1e-3 * norms[-1]
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        recurrent.gradient_norms_through_time(RNNCell(3, 16, rngs=nnx.Rngs(0)), xs[0])


# ---- checks of notebook 10 ----


def _step(x, h, w_x, w_h, b):
    return np.tanh(x @ w_x + h @ w_h + b)


def _not_written(*args):
    raise NotImplementedError()


def test_rnn_step_check():
    checks.rnn_step(_step)
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.rnn_step(_not_written)
    with pytest.raises(CheckFailed, match="nonlinearity"):
        checks.rnn_step(lambda x, h, w_x, w_h, b: x @ w_x + h @ w_h + b)
    with pytest.raises(CheckFailed, match="previous state enters"):
        checks.rnn_step(lambda x, h, w_x, w_h, b: np.tanh(x @ w_x + b))
    with pytest.raises(CheckFailed, match="bias"):
        checks.rnn_step(lambda x, h, w_x, w_h, b: np.tanh(x @ w_x + h @ w_h))


def _forward(step, h0, xs):
    h, out = h0, []
    for x_t in xs:
        h = step(h, x_t)
        out.append(h)
    return np.stack(out)


def test_rnn_forward_check():
    checks.rnn_forward(_forward)
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.rnn_forward(_not_written)
    with pytest.raises(CheckFailed, match="starts from zeros|start from zeros"):
        checks.rnn_forward(lambda step, h0, xs: _forward(step, np.zeros_like(h0), xs))
    with pytest.raises(CheckFailed, match="7 states for 6 inputs"):
        checks.rnn_forward(lambda step, h0, xs: np.concatenate([h0[None], _forward(step, h0, xs)]))
    with pytest.raises(CheckFailed, match="shifted by one"):
        checks.rnn_forward(
            lambda step, h0, xs: np.concatenate([h0[None], _forward(step, h0, xs)[:-1]])
        )


# ---- figures of notebook 10 ----


def test_gradient_and_gate_figures():
    from matplotlib.figure import Figure

    from leptonlab import plot

    fig = plot.gradient_vs_distance({"RNN": 0.5 ** np.arange(10)[::-1], "GRU": np.ones(10)})
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "log"
    assert len(fig.axes[0].lines) == 2
    fig = plot.gate_activations({"z": np.full((6, 4), 0.9), "n": np.full((6, 4), -0.5)})
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # two heatmaps and their colour bars
    with pytest.raises(ValueError, match="at least one curve"):
        plot.gradient_vs_distance({})
    with pytest.raises(ValueError, match=r"\[T\]"):
        plot.gradient_vs_distance({"RNN": np.ones((3, 3))})
    with pytest.raises(ValueError, match=r"\[T, H\]"):
        plot.gate_activations({"z": np.ones(5)})


def test_prompt_ids_shared_by_both_samplers():
    import jax.numpy as jnp

    from leptonlab.recurrent import prompt_ids

    ids, single = prompt_ids([1, 2, 3])
    assert ids.shape == (3,) and single
    assert prompt_ids(jnp.ones((2, 4), jnp.int32))[1] is False
    with pytest.raises(ValueError, match="at least one character"):
        prompt_ids(jnp.ones((2, 3, 4), jnp.int32))
    with pytest.raises(TypeError, match="encode the text first"):
        prompt_ids(jnp.ones(3))
