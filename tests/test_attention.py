"""Attention equals Flax's, the causal mask leaks nothing, the KV cache equals recomputation, a GPT trains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab.attention import (
    GPT,
    DecoderBlock,
    GPTConfig,
    MultiHeadAttention,
    causal_mask,
    sample,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from leptonlab.recurrent import CharRNN, lm_loss
from leptonlab.train import TrainConfig, fit

TINY = GPTConfig(vocab_size=11, context=12, width=16, heads=4, layers=2)


def _ids(key, shape, vocab=11):
    return jax.random.randint(key, shape, 0, vocab)


# ---- scaled dot-product attention and the mask ----


def test_attention_equals_the_formula_written_with_numpy(key):
    kq, kk, kv = jax.random.split(key, 3)
    q, k, v = (
        jax.random.normal(kq, (2, 3, 5, 8)),
        jax.random.normal(kk, (2, 3, 7, 8)),
        jax.random.normal(kv, (2, 3, 7, 4)),
    )
    out, weights = scaled_dot_product_attention(q, k, v)
    s = np.einsum(
        "bhqd,bhkd->bhqk", np.asarray(q, np.float64), np.asarray(k, np.float64)
    ) / np.sqrt(8)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, w, atol=1e-5)
    np.testing.assert_allclose(out, w @ np.asarray(v, np.float64), atol=1e-5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert out.shape == (2, 3, 5, 4) and weights.shape == (2, 3, 5, 7)


def test_attention_equals_flax_dot_product_attention_with_a_mask(key):
    kq, kk, kv = jax.random.split(key, 3)
    q, k, v = (
        jax.random.normal(kk_, (2, 6, 3, 4)) for kk_ in (kq, kk, kv)
    )  # Flax layout [B, T, H, D]
    mask = causal_mask(6)
    want = nnx.dot_product_attention(q, k, v, mask=mask[None, None])
    got, _ = scaled_dot_product_attention(*(jnp.swapaxes(a, 1, 2) for a in (q, k, v)), mask)
    np.testing.assert_allclose(jnp.swapaxes(got, 1, 2), want, atol=1e-5)


def test_causal_mask_is_the_lower_triangle_with_the_diagonal():
    np.testing.assert_array_equal(causal_mask(4), np.tril(np.ones((4, 4), bool)))
    # queries at the end of a longer sequence: the last of 3 queries sees all 5 keys, the first sees 3
    np.testing.assert_array_equal(causal_mask(3, 5).sum(axis=1), [3, 4, 5])
    assert causal_mask(4).dtype == jnp.bool_


def test_masked_positions_get_zero_weight_and_a_fully_masked_row_no_nan(key):
    q = k = v = jax.random.normal(key, (4, 8))
    _, weights = scaled_dot_product_attention(q, k, v, causal_mask(4))
    assert float(jnp.abs(jnp.triu(weights, 1)).max()) == 0.0
    out, weights = scaled_dot_product_attention(q, k, v, jnp.zeros((4, 4), bool))
    assert np.isfinite(np.asarray(out)).all()


def test_the_default_scale_is_one_over_sqrt_d(key):
    q, k, v = (jax.random.normal(kk, (5, 16)) for kk in jax.random.split(key, 3))
    default, _ = scaled_dot_product_attention(q, k, v)
    explicit, _ = scaled_dot_product_attention(q, k, v, scale=0.25)
    unscaled, _ = scaled_dot_product_attention(q, k, v, scale=1.0)
    np.testing.assert_allclose(default, explicit, atol=1e-6)
    assert not np.allclose(default, unscaled, atol=1e-3)


# ---- multi-head attention against Flax ----


@pytest.mark.parametrize("width, heads, t", [(16, 4, 5), (12, 3, 1), (8, 1, 7)])
@pytest.mark.parametrize("masked", [False, True])
def test_multi_head_attention_equals_flax_with_the_same_weights(width, heads, t, masked, key):
    reference = nnx.MultiHeadAttention(
        num_heads=heads, in_features=width, qkv_features=width, decode=False, rngs=nnx.Rngs(1)
    )
    for layer in (
        reference.query,
        reference.key,
        reference.value,
        reference.out,
    ):  # non-zero biases too
        layer.bias[...] = jax.random.normal(
            jax.random.fold_in(key, layer.bias[...].size), layer.bias[...].shape
        )
    mine = MultiHeadAttention.from_flax(reference)
    x = jax.random.normal(key, (2, t, width))
    mask = causal_mask(t) if masked else None
    want = reference(x, mask=None if mask is None else mask[None, None])
    np.testing.assert_allclose(mine(x, mask=mask), want, atol=1e-5)


def test_one_head_is_attention_over_its_own_projections(key):
    mha = MultiHeadAttention(8, 2, rngs=nnx.Rngs(0))
    x = jax.random.normal(key, (1, 5, 8))
    _, weights = mha(x, mask=causal_mask(5), return_weights=True)
    q = x[0] @ mha.w_q[...][:, 1] + mha.b_q[...][1][None]  # head 1 by hand: [T, Dh]
    k = x[0] @ mha.w_k[...][:, 1] + mha.b_k[...][1][None]
    _, want = scaled_dot_product_attention(q, k, k, causal_mask(5))
    np.testing.assert_allclose(weights[0, 1], want, atol=1e-5)


# ---- the causal mask, proved by gradients ----


def test_no_output_of_a_decoder_block_depends_on_a_later_position(key):
    block = DecoderBlock(16, 4, rngs=nnx.Rngs(0))
    x = jax.random.normal(key, (1, 6, 16))
    mask = causal_mask(6)
    jac = jax.jacrev(lambda x: block(x, mask=mask))(x)  # [1, T, D, 1, T, D]
    dependence = np.abs(np.asarray(jac[0, :, :, 0])).sum(axis=(1, 3))  # [T out, T in]
    assert (dependence[np.triu_indices(6, 1)] == 0).all(), "an output depends on a later input"
    assert (dependence[np.tril_indices(6)] > 0).all(), (
        "an output ignores an earlier input or itself"
    )


def test_without_the_mask_the_same_gradient_test_finds_the_leak(key):
    block = DecoderBlock(16, 4, rngs=nnx.Rngs(0))
    x = jax.random.normal(key, (1, 6, 16))
    jac = jax.jacrev(lambda x: block(x))(x)
    dependence = np.abs(np.asarray(jac[0, :, :, 0])).sum(axis=(1, 3))
    assert (dependence[np.triu_indices(6, 1)] > 0).all()


def test_changing_a_later_token_leaves_the_gpt_logits_before_it_unchanged(key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    x = _ids(key, (2, 10))
    for j in (0, 4, 9):
        changed = x.at[:, j].set((x[:, j] + 1) % 11)
        a, b = model(x), model(changed)
        np.testing.assert_array_equal(a[:, :j], b[:, :j])
        assert not np.allclose(a[:, j], b[:, j])


# ---- positions ----


def test_sinusoidal_positions_have_the_textbook_values():
    pe = sinusoidal_positions(50, 8)
    t, i = 7, 2  # column 2i = 4, 2i + 1 = 5
    angle = t / 10000 ** (2 * i / 8)
    np.testing.assert_allclose(pe[t, 4], np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(pe[t, 5], np.cos(angle), atol=1e-6)
    np.testing.assert_allclose(pe[0], np.tile([0.0, 1.0], 4), atol=1e-7)
    assert pe.shape == (50, 8)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "none"])
def test_every_position_scheme_runs(positions, key):
    model = GPT(
        GPTConfig(11, context=12, width=16, heads=4, layers=1, positions=positions),
        rngs=nnx.Rngs(0),
    )
    assert model(_ids(key, (3, 12))).shape == (3, 12, 11)


def test_without_positions_attention_cannot_tell_the_order_apart():
    """With no positional code, one block's last output is a function of the *set* of earlier tokens.

    (With more blocks the causal mask itself leaks some order: an earlier position's state depends on its own
    prefix, so the test takes one block.)
    """
    model = GPT(
        GPTConfig(11, context=12, width=16, heads=4, layers=1, positions="none"), rngs=nnx.Rngs(0)
    )
    a = model(jnp.array([[1, 2, 3, 4, 5]]))[0, -1]
    b = model(jnp.array([[3, 1, 4, 2, 5]]))[0, -1]  # same tokens before the last, another order
    np.testing.assert_allclose(a, b, atol=1e-5)
    learned = GPT(TINY, rngs=nnx.Rngs(0))
    assert not np.allclose(
        learned(jnp.array([[1, 2, 3, 4, 5]]))[0, -1], learned(jnp.array([[3, 1, 4, 2, 5]]))[0, -1]
    )


# ---- the key-value cache ----


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_cached_steps_give_the_logits_of_the_full_forward_pass(positions, key):
    model = GPT(
        GPTConfig(11, context=12, width=16, heads=4, layers=2, positions=positions),
        rngs=nnx.Rngs(0),
    )
    x = _ids(key, (2, 12))
    full = model(x)  # [B, T, V]
    cache = model.init_cache(2)
    for t in range(12):
        cache, logits = model.step(cache, x[:, t], jnp.int32(t))
        np.testing.assert_allclose(logits, full[:, t], atol=1e-5)


@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.7, 0), (1.3, 3), (1.0, 1)])
def test_sampling_with_the_cache_equals_recomputing_the_prefix(temperature, top_k, key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    prompt = jnp.array([[1, 2, 3], [4, 5, 6]])
    cached = sample(model, prompt, 9, key=key, temperature=temperature, top_k=top_k)
    recomputed = sample(
        model, prompt, 9, key=key, temperature=temperature, top_k=top_k, use_cache=False
    )
    np.testing.assert_array_equal(cached, recomputed)
    assert cached.shape == (2, 9) and cached.dtype == jnp.int32


def test_top_1_sampling_is_greedy_decoding(key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    tokens = list(np.asarray(sample(model, jnp.array([3]), 6, key=key, top_k=1)))
    forward = nnx.jit(lambda m, ids: m(ids))  # one compiled shape: the window padded to the context
    seq = [3]
    for _ in range(6):
        padded = jnp.array(
            [seq + [0] * (12 - len(seq))]
        )  # later positions cannot matter (causal mask)
        seq.append(int(jnp.argmax(forward(model, padded)[0, len(seq) - 1])))
    assert tokens == seq[1:]


# ---- determinism ----


def test_sampling_is_deterministic_given_a_key(key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    a = sample(model, jnp.array([1, 2]), 10, key=key)
    b = sample(model, jnp.array([1, 2]), 10, key=key)
    c = sample(model, jnp.array([1, 2]), 10, key=jax.random.fold_in(key, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_same_seed_same_model_and_same_training(key):
    x = _ids(key, (64, 12))
    data = (x, jnp.roll(x, -1, axis=1))
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=1e-3, seed=3, progress=False)
    runs = [
        fit(GPT(TINY, rngs=nnx.Rngs(5)), data, config, loss_fn=lm_loss)[1]["train_loss"]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])


# ---- training with the course's fit ----


def test_a_gpt_trained_with_fit_learns_a_repeating_text():
    text = np.tile(np.arange(11), 60)  # 0 1 2 ... 10 0 1 ...: each token determines the next
    starts = np.arange(0, len(text) - 13, 3)
    x = jnp.asarray(np.stack([text[s : s + 12] for s in starts]))  # [W, T]
    y = jnp.asarray(np.stack([text[s + 1 : s + 13] for s in starts]))
    config = TrainConfig(epochs=8, batch_size=32, learning_rate=3e-3, progress=False)
    _, history = fit(
        GPT(TINY, rngs=nnx.Rngs(0)), (x, y), config, loss_fn=lm_loss, val_data=(x[:32], y[:32])
    )
    assert history["val_loss"][0] > history["val_loss"][-1]
    assert history["val_loss"][-1] < 0.1 * np.log(11), (
        "a deterministic sequence should be learnt almost perfectly"
    )


def test_dropout_is_used_in_training_and_not_in_evaluation(key):
    model = GPT(
        GPTConfig(11, context=12, width=16, heads=4, layers=1, dropout=0.5), rngs=nnx.Rngs(0)
    )
    x = _ids(key, (2, 12))
    a, b = model(x, rngs=jax.random.key(1)), model(x, rngs=jax.random.key(2))
    assert not np.allclose(a, b)
    model.eval()
    np.testing.assert_array_equal(
        model(x, rngs=jax.random.key(1)), model(x, rngs=jax.random.key(2))
    )


# ---- bad inputs ----


def test_a_window_longer_than_the_context_is_refused_with_what_to_do(key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="context is 12"):
        model(_ids(key, (1, 13)))
    with pytest.raises(ValueError, match="exceeds the model's context of 12"):
        sample(model, jnp.array([1, 2, 3]), 10, key=key)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GPTConfig(11, width=10, heads=4), "heads must divide"),
        (lambda: GPTConfig(11, positions="rotary"), "unknown positions"),
        (lambda: GPTConfig(0), "vocab_size"),
        (lambda: GPTConfig(11, dropout=1.0), "dropout"),
        (lambda: GPTConfig(11, attention_scale=0.0), "attention_scale"),
        (lambda: GPTConfig(11, width=15, heads=3, positions="sinusoidal"), "even width"),
        (lambda: MultiHeadAttention(10, 3, rngs=nnx.Rngs(0)), "heads must divide"),
        (lambda: causal_mask(5, 3), "at least as many keys"),
        (lambda: sinusoidal_positions(4, 5), "even"),
    ],
)
def test_bad_configurations_say_what_is_wrong(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_shapes_and_types_say_what_is_wrong(key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="token ids"):
        model(jnp.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model(jnp.zeros((4,), jnp.int32))
    with pytest.raises(ValueError, match="takes width 16"):
        MultiHeadAttention(16, 4, rngs=nnx.Rngs(0))(jnp.zeros((1, 3, 8)))
    with pytest.raises(ValueError, match="same width"):
        scaled_dot_product_attention(jnp.zeros((3, 4)), jnp.zeros((3, 5)), jnp.zeros((3, 5)))
    with pytest.raises(ValueError, match="every key needs its value"):
        scaled_dot_product_attention(jnp.zeros((3, 4)), jnp.zeros((3, 4)), jnp.zeros((2, 4)))
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(
            jnp.zeros((3, 4)), jnp.zeros((3, 4)), jnp.zeros((3, 4)), jnp.ones((3, 3))
        )
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"vocab_size": 11}, rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 2.0}, "top_k"),
    ],
)
def test_bad_sampling_settings_are_refused(kwargs, match, key):
    model = GPT(TINY, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=match):
        sample(model, jnp.array([1]), 3, key=key, **kwargs)
    with pytest.raises(ValueError, match="P >= 1"):
        sample(model, jnp.zeros((0,), jnp.int32), 3, key=key)
    with pytest.raises(TypeError, match="integer ids"):
        sample(model, jnp.array([1.0]), 3, key=key)
    with pytest.raises(TypeError, match="CharRNN"):
        sample(CharRNN(11, 8, rngs=nnx.Rngs(0)), jnp.array([1]), 3, key=key)


# ---- the figure ----


def test_attention_maps_draws_one_panel_per_map_and_refuses_bad_shapes():
    from leptonlab import plot

    weights = (
        np.tril(np.ones((3, 5, 5))) / np.arange(1, 6)[None, :, None]
    )  # [N, T, T], rows sum to 1
    fig = plot.attention_maps(weights, list("to be"), titles=["a", "b", "c"])
    assert len(fig.axes) == 3 and fig.axes[1].get_title() == "b"
    with pytest.raises(ValueError, match=r"\[N, T, T\]"):
        plot.attention_maps(np.zeros((2, 4, 5)), list("abcd"))
    with pytest.raises(ValueError, match="one label per position"):
        plot.attention_maps(weights, list("abc"))


# ---- the benchmark's PyTorch twin ----


def test_the_benchmarks_pytorch_gpt_is_the_same_network():
    """Same parameter count, and with leptonlab's weights copied in, the same logits."""
    torch = pytest.importorskip("torch")
    from benchmarks._cases import CHARS, GPT_CONTEXT, _gpt, _torch_gpt

    model, (twin, _) = _gpt(), _torch_gpt()
    from leptonlab.models import count_params

    assert count_params(model) == sum(p.numel() for p in twin.parameters())
    t = lambda a: torch.from_numpy(np.array(a))  # noqa: E731
    with torch.no_grad():
        twin.embedding.weight.copy_(t(model.embedding.embedding[...]))
        twin.position.weight.copy_(t(model.position.embedding[...]))
        for mine, theirs in zip(model.blocks, twin.blocks):
            a = mine.attn
            for name, lin in (("q", theirs.q), ("k", theirs.k), ("v", theirs.v)):
                lin.weight.copy_(t(getattr(a, f"w_{name}")[...].reshape(a.width, -1).T))
                lin.bias.copy_(t(getattr(a, f"b_{name}")[...].reshape(-1)))
            theirs.o.weight.copy_(t(a.w_o[...].reshape(-1, a.width).T))
            theirs.o.bias.copy_(t(a.b_o[...]))
            for mine_ln, theirs_ln in ((mine.ln1, theirs.ln1), (mine.ln2, theirs.ln2)):
                theirs_ln.weight.copy_(t(mine_ln.scale[...]))
                theirs_ln.bias.copy_(t(mine_ln.bias[...]))
            for mine_lin, theirs_lin in ((mine.fc, theirs.fc), (mine.proj, theirs.proj)):
                theirs_lin.weight.copy_(t(mine_lin.kernel[...].T))
                theirs_lin.bias.copy_(t(mine_lin.bias[...]))
        twin.ln_f.weight.copy_(t(model.ln_f.scale[...]))
        twin.ln_f.bias.copy_(t(model.ln_f.bias[...]))
        twin.head.weight.copy_(t(model.head.kernel[...].T))
        twin.head.bias.copy_(t(model.head.bias[...]))
        ids = np.random.default_rng(0).integers(0, CHARS, size=(2, GPT_CONTEXT)).astype(np.int32)
        np.testing.assert_allclose(twin(t(ids)).numpy(), model(jnp.asarray(ids)), atol=2e-4)
