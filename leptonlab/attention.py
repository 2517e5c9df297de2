"""Attention and a small transformer, written out: notebook 12.

The pieces, each usable on its own:

* :func:`scaled_dot_product_attention`: ``softmax(q k^T * scale + mask) v`` for
  ``q: [..., Tq, D]``, ``k: [..., Tk, D]``, ``v: [..., Tk, Dv]``, returning the
  output and the attention weights ``[..., Tq, Tk]``.
* :func:`causal_mask`: the ``[Tq, Tk]`` boolean mask that lets position i see
  positions <= i only.
* :class:`MultiHeadAttention`: H heads of width ``Dh = D / H`` over ``x: [B, T, D]``
  with the parameter layout of ``flax.nnx.MultiHeadAttention`` (``from_flax`` copies
  its weights; tests assert equal outputs).
* :func:`sinusoidal_positions` and learned positions (an ``nnx.Embed`` inside :class:`GPT`).
* :class:`DecoderBlock`: pre-norm ``x + attn(LN(x))``, then ``x + MLP(LN(x))``.
* :class:`GPT` and :class:`GPTConfig`: a character-level decoder-only transformer,
  ``[B, T] ids -> [B, T, V] logits``; trained with ``leptonlab.train.fit`` and
  ``leptonlab.recurrent.lm_loss`` exactly like notebook 11's GRU.
* :func:`sample`: temperature / top-k sampling with a key-value cache (each new
  character costs one position, not the whole prefix); ``use_cache=False``
  recomputes the whole prefix every step and gives the same characters.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from leptonlab.recurrent import prompt_ids, sample_logits

POSITIONS = (
    "learned",
    "sinusoidal",
    "none",
)  # how GPT tells positions apart ("none": the experiment)

__all__ = [
    "POSITIONS",
    "DecoderBlock",
    "GPT",
    "GPTConfig",
    "MultiHeadAttention",
    "causal_mask",
    "scaled_dot_product_attention",
    "sample",
    "sinusoidal_positions",
]


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


def causal_mask(tq: int, tk: int | None = None) -> jax.Array:
    """Boolean ``[Tq, Tk]``: True where query i may attend to key j, i.e. ``j <= i + (Tk - Tq)``.

    With ``Tk = Tq`` (the default) this is the lower triangle with its diagonal:
    each position sees itself and the positions before it, never a later one.
    ``Tk > Tq`` places the queries at the end of the keys (the last Tq positions
    of a longer sequence). Notebook 12.
    """
    tq = _positive_int(tq, "tq")
    tk = tq if tk is None else _positive_int(tk, "tk")
    if tk < tq:
        raise ValueError(
            f"a causal mask needs at least as many keys as queries, got Tq={tq}, Tk={tk}."
        )
    return jnp.arange(tk)[None, :] <= jnp.arange(tq)[:, None] + (tk - tq)  # [Tq, Tk]


def scaled_dot_product_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    mask: jax.Array | None = None,
    *,
    scale: float | None = None,
) -> tuple[jax.Array, jax.Array]:
    """``softmax(q k^T * scale, masked) v``: returns ``(out: [..., Tq, Dv], weights: [..., Tq, Tk])``.

    ``q: [..., Tq, D]``, ``k: [..., Tk, D]``, ``v: [..., Tk, Dv]`` with the same
    leading axes; ``mask`` (boolean, broadcastable to ``[..., Tq, Tk]``) is True where
    a query may look. ``scale`` defaults to ``1 / sqrt(D)``: with entries of unit
    variance, ``q . k`` has variance D, and the scale brings the scores back to
    unit variance so the softmax does not saturate. A query whose every key is
    masked gets uniform weights (no NaN). Notebook 12.
    """
    q, k, v = jnp.asarray(q), jnp.asarray(k), jnp.asarray(v)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(
            f"q, k, v must be [..., T, D] with the same number of axes, got shapes "
            f"{q.shape}, {k.shape}, {v.shape}."
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys must have the same width D to be compared, got q {q.shape} and k {k.shape}."
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"every key needs its value: k has {k.shape[-2]} positions, v has {v.shape[-2]} "
            f"(shapes {k.shape}, {v.shape})."
        )
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = jnp.einsum("...qd,...kd->...qk", q, k) * scale  # [..., Tq, Tk]
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.dtype != jnp.bool_:
            raise TypeError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}.")
        if mask.ndim > scores.ndim:
            raise ValueError(
                f"mask has shape {mask.shape}, more axes than the scores {scores.shape}."
            )
        scores = jnp.where(_lead(mask, scores.ndim), scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)  # [..., Tq, Tk], each row sums to 1
    return jnp.einsum("...qk,...kd->...qd", weights, v), weights


def sinusoidal_positions(length: int, width: int) -> jax.Array:
    """The fixed positional code of "Attention is all you need": ``[length, width]`` float32.

    Column ``2i`` holds ``sin(t / 10000^(2i / width))`` and column ``2i + 1`` the cosine
    of the same angle, so each pair of columns turns at its own frequency and a shift by
    a fixed offset is a rotation of each pair (a linear map). ``width`` must be even.
    """
    _positive_int(length, "length")
    if _positive_int(width, "width") % 2:
        raise ValueError(f"width must be even (sine and cosine pairs), got {width}.")
    t = jnp.arange(length, dtype=jnp.float32)[:, None]  # [T, 1]
    freq = jnp.exp(-math.log(10000.0) * jnp.arange(0, width, 2, dtype=jnp.float32) / width)  # [W/2]
    angles = t * freq[None, :]  # [T, W/2]
    return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(length, width)  # [T, W]


def _lead(a: jax.Array, ndim: int) -> jax.Array:
    """``a`` with leading axes of size 1 up to ``ndim`` axes (broadcasts written out: tests forbid rank promotion)."""
    return a.reshape((1,) * (ndim - a.ndim) + a.shape)


def _dense(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> nnx.Param:
    """A weight drawn from N(0, 1/fan_in) (LeCun normal, as ``nnx.Linear`` does)."""
    return nnx.Param(jax.random.normal(key, shape, jnp.float32) / math.sqrt(fan_in))


class MultiHeadAttention(nnx.Module):
    """Self-attention with ``heads`` heads over ``x: [B, T, D]`` -> ``[B, T, D]``, notebook 12.

    Each head projects x to its own queries, keys and values of width ``Dh = D / H``
    (``w_q, w_k, w_v: [D, H, Dh]``, biases ``[H, Dh]``), attends, and the heads'
    outputs are concatenated and projected back (``w_o: [H, Dh, D]``, ``b_o: [D]``):
    the layout of ``flax.nnx.MultiHeadAttention``'s ``query/key/value/out`` kernels.

    Args:
        width: the model width D.
        heads: number of heads H (must divide D).
        scale: the score scale; None means ``1 / sqrt(Dh)``.
        rngs: the NNX random streams that initialise the weights.
    """

    def __init__(self, width: int, heads: int, *, scale: float | None = None, rngs: nnx.Rngs):
        _positive_int(width, "width")
        _positive_int(heads, "heads")
        if width % heads:
            raise ValueError(f"heads must divide the width: {width} is not a multiple of {heads}.")
        self.width, self.heads, self.head_dim = width, heads, width // heads
        self.scale = 1.0 / math.sqrt(self.head_dim) if scale is None else float(scale)
        hd = (heads, self.head_dim)
        self.w_q = _dense(rngs.params(), (width, *hd), width)
        self.w_k = _dense(rngs.params(), (width, *hd), width)
        self.w_v = _dense(rngs.params(), (width, *hd), width)
        self.b_q, self.b_k, self.b_v = (nnx.Param(jnp.zeros(hd, jnp.float32)) for _ in range(3))
        self.w_o = _dense(rngs.params(), (*hd, width), width)
        self.b_o = nnx.Param(jnp.zeros((width,), jnp.float32))

    def qkv(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Queries, keys and values of every head: ``x: [..., D]`` -> three ``[..., H, Dh]``."""
        if x.shape[-1] != self.width:
            raise ValueError(
                f"this attention layer takes width {self.width}, got input of shape {x.shape}."
            )
        q = jnp.einsum("...d,dhe->...he", x, self.w_q[...])
        k = jnp.einsum("...d,dhe->...he", x, self.w_k[...])
        v = jnp.einsum("...d,dhe->...he", x, self.w_v[...])
        q, k, v = (
            a + _lead(b[...], a.ndim) for a, b in ((q, self.b_q), (k, self.b_k), (v, self.b_v))
        )
        return q, k, v

    def merge_heads(self, out: jax.Array) -> jax.Array:
        """The output projection: ``[..., H, Dh]`` -> ``[..., D]``."""
        y = jnp.einsum("...he,hed->...d", out, self.w_o[...])
        return y + _lead(self.b_o[...], y.ndim)

    def __call__(
        self, x: jax.Array, *, mask: jax.Array | None = None, return_weights: bool = False
    ) -> jax.Array | tuple[jax.Array, jax.Array]:
        """``x: [B, T, D]`` -> ``[B, T, D]``; ``mask`` broadcastable to ``[B, H, T, T]`` (True = may attend).

        With ``return_weights=True`` also returns the attention weights ``[B, H, T, T]``.
        """
        if x.ndim != 3:
            raise ValueError(f"MultiHeadAttention expects x: [B, T, D], got shape {x.shape}.")
        q, k, v = self.qkv(x)  # [B, T, H, Dh] each
        q, k, v = (jnp.swapaxes(a, 1, 2) for a in (q, k, v))  # [B, H, T, Dh]
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, scale=self.scale
        )  # [B, H, T, Dh], [B, H, T, T]
        y = self.merge_heads(jnp.swapaxes(out, 1, 2))  # [B, T, D]
        return (y, weights) if return_weights else y

    def step(self, x: jax.Array, cache: tuple[jax.Array, jax.Array], pos: jax.Array):
        """One position with a key-value cache: ``x: [B, D]`` at position ``pos`` -> ``(y: [B, D], cache)``.

        ``cache = (keys, values)``, each ``[B, L, H, Dh]``; this position's key and value
        are written at ``pos`` and the query attends to positions ``0..pos`` only.
        """
        q, k, v = self.qkv(x)  # [B, H, Dh]
        keys, values = cache
        keys = jax.lax.dynamic_update_slice_in_dim(keys, k[:, None], pos, axis=1)  # [B, L, H, Dh]
        values = jax.lax.dynamic_update_slice_in_dim(values, v[:, None], pos, axis=1)
        scores = jnp.einsum("bhe,blhe->bhl", q, keys) * self.scale  # [B, H, L]
        seen = jnp.arange(keys.shape[1]) <= pos  # [L]
        scores = jnp.where(seen[None, None, :], scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)  # [B, H, L]
        out = jnp.einsum("bhl,blhe->bhe", weights, values)  # [B, H, Dh]
        return self.merge_heads(out), (keys, values)

    @classmethod
    def from_flax(cls, mha: nnx.MultiHeadAttention) -> MultiHeadAttention:
        """A copy of ``flax.nnx.MultiHeadAttention`` (self-attention, biases, no dropout) with its weights."""
        kernel = mha.query.kernel[...]  # [D, H, Dh]
        width, heads, _ = kernel.shape
        if mha.out.kernel[...].shape[-1] != width:
            raise ValueError(
                "only self-attention with out_features == in_features == qkv_features can be copied."
            )
        new = cls(width, heads, rngs=nnx.Rngs(0))
        for mine, theirs in (("q", mha.query), ("k", mha.key), ("v", mha.value), ("o", mha.out)):
            getattr(new, f"w_{mine}")[...] = theirs.kernel[...]
            getattr(new, f"b_{mine}")[...] = theirs.bias[...]
        return new


class DecoderBlock(nnx.Module):
    """A pre-norm transformer decoder block, notebook 12: ``[B, T, D] -> [B, T, D]``.

    ``x = x + Attention(LayerNorm(x))`` then ``x = x + MLP(LayerNorm(x))`` with the MLP
    ``D -> mlp_ratio * D -> D`` (GELU). The residual path is never normalised, so the
    block starts close to the identity and gradients reach early layers unchanged.
    """

    def __init__(
        self,
        width: int,
        heads: int,
        *,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
        scale: float | None = None,
        rngs: nnx.Rngs,
    ):
        _positive_int(mlp_ratio, "mlp_ratio")
        self.ln1 = nnx.LayerNorm(width, rngs=rngs)
        self.attn = MultiHeadAttention(width, heads, scale=scale, rngs=rngs)
        self.ln2 = nnx.LayerNorm(width, rngs=rngs)
        self.fc = nnx.Linear(width, mlp_ratio * width, rngs=rngs)
        self.proj = nnx.Linear(mlp_ratio * width, width, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)

    def _drop(self, x: jax.Array, key: jax.Array | None) -> jax.Array:
        return (
            x if key is None else self.dropout(x, rngs=key)
        )  # dropout only when training gives a key

    def _mlp(self, x: jax.Array) -> jax.Array:
        return self.proj(jax.nn.gelu(self.fc(x)))  # [..., D] -> [..., 4D] -> [..., D]

    def __call__(
        self,
        x: jax.Array,
        *,
        mask: jax.Array | None = None,
        rngs: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """``x: [B, T, D]`` -> ``[B, T, D]`` (and the weights ``[B, H, T, T]`` with ``return_weights``)."""
        k1, k2 = (None, None) if rngs is None else jax.random.split(rngs)
        a, weights = self.attn(self.ln1(x), mask=mask, return_weights=True)
        x = x + self._drop(a, k1)
        x = x + self._drop(self._mlp(self.ln2(x)), k2)
        return (x, weights) if return_weights else x

    def step(self, x: jax.Array, cache, pos: jax.Array):
        """One position with the cache of :meth:`MultiHeadAttention.step`: ``x: [B, D]`` -> ``(x, cache)``."""
        a, cache = self.attn.step(self.ln1(x), cache, pos)
        x = x + a
        return x + self._mlp(self.ln2(x)), cache


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """The size of a :class:`GPT`, each field with its unit."""

    vocab_size: int  # number of distinct tokens V (characters here)
    context: int = 64  # the longest window the model reads, in tokens
    width: int = 128  # model width D (embedding and residual stream)
    heads: int = 4  # attention heads per block (must divide width)
    layers: int = 4  # decoder blocks
    mlp_ratio: int = 4  # hidden units of each block's MLP, as a multiple of width
    dropout: float = 0.0  # dropout on the residual branches and the embeddings (training only)
    positions: str = "learned"  # one of POSITIONS
    attention_scale: float | None = (
        None  # score scale; None = 1/sqrt(width / heads) (the experiment sets 1.0)
    )

    def __post_init__(self):
        for name in ("vocab_size", "context", "width", "heads", "layers", "mlp_ratio"):
            _positive_int(getattr(self, name), name)
        if self.width % self.heads:
            raise ValueError(
                f"heads must divide the width: {self.width} is not a multiple of {self.heads}."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {self.dropout!r}.")
        if self.positions not in POSITIONS:
            raise ValueError(f"unknown positions {self.positions!r}; choose one of {POSITIONS}.")
        if self.positions == "sinusoidal" and self.width % 2:
            raise ValueError(f"sinusoidal positions need an even width, got {self.width}.")
        if self.attention_scale is not None and not self.attention_scale > 0:
            raise ValueError(
                f"attention_scale must be > 0 (or None for 1/sqrt(head width)), got {self.attention_scale!r}."
            )


class GPT(nnx.Module):
    """A decoder-only transformer language model, notebook 12: ``x: [B, T] ids -> logits [B, T, V]``.

    Token embedding + positions, ``config.layers`` :class:`DecoderBlock` s with a causal
    mask, a final LayerNorm and a linear head. ``T`` may be at most ``config.context``.
    Called as ``model(x, rngs=key)`` it fits ``leptonlab.recurrent.lm_loss`` and
    ``leptonlab.train.fit``. :meth:`init_cache` and :meth:`step` run one position at a
    time with a key-value cache, for :func:`sample`.
    """

    def __init__(self, config: GPTConfig, *, rngs: nnx.Rngs):
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT takes a GPTConfig, got {type(config).__name__}.")
        self.config = config
        self.embedding = nnx.Embed(config.vocab_size, config.width, rngs=rngs)
        self.position = (
            nnx.Embed(config.context, config.width, rngs=rngs)
            if config.positions == "learned"
            else None
        )
        self.blocks = nnx.List(
            [
                DecoderBlock(
                    config.width,
                    config.heads,
                    mlp_ratio=config.mlp_ratio,
                    dropout=config.dropout,
                    scale=config.attention_scale,
                    rngs=rngs,
                )
                for _ in range(config.layers)
            ]
        )
        self.ln_f = nnx.LayerNorm(config.width, rngs=rngs)
        self.head = nnx.Linear(config.width, config.vocab_size, rngs=rngs)
        self.dropout = nnx.Dropout(config.dropout)

    def _check_ids(self, x: jax.Array, what: str = "x") -> None:
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(
                f"GPT takes token ids (integers) as {what}, got dtype {x.dtype}; encode the text first."
            )

    def _positions(self, pos: jax.Array) -> jax.Array:
        """The positional code at integer positions ``pos: [...]`` -> ``[..., D]`` (zeros for "none")."""
        c = self.config
        if c.positions == "learned":
            return self.position(pos)
        if c.positions == "sinusoidal":
            return jnp.take(sinusoidal_positions(c.context, c.width), pos, axis=0)
        return jnp.zeros((*jnp.shape(pos), c.width), jnp.float32)

    def _embed(self, x: jax.Array) -> jax.Array:
        self._check_ids(x)
        if x.ndim != 2:
            raise ValueError(f"GPT expects ids x: [B, T], got shape {x.shape}.")
        if x.shape[1] > self.config.context:
            raise ValueError(
                f"the window has {x.shape[1]} tokens but this model's context is {self.config.context}: "
                f"pass at most the last {self.config.context} tokens, or build a GPTConfig with a longer "
                "context."
            )
        return self.embedding(x) + self._positions(jnp.arange(x.shape[1]))[None]  # [B, T, D]

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        """``x: [B, T] int`` (T <= context) -> next-token logits ``[B, T, V]``."""
        keys = (
            [None] * (len(self.blocks) + 1)
            if rngs is None
            else list(jax.random.split(rngs, len(self.blocks) + 1))
        )
        h = self._embed(x)  # [B, T, D]
        if keys[0] is not None:
            h = self.dropout(h, rngs=keys[0])  # dropout only when training gives a key
        mask = causal_mask(x.shape[1])  # [T, T], broadcast over batch and heads
        for block, key in zip(self.blocks, keys[1:]):
            h = block(h, mask=mask, rngs=key)
        return self.head(self.ln_f(h))  # [B, T, V]

    def attention_weights(self, x: jax.Array) -> jax.Array:
        """The attention weights of every block for ``x: [B, T]``: ``[layers, B, H, T, T]`` (evaluation mode)."""
        h = self._embed(x)
        mask = causal_mask(x.shape[1])
        maps = []
        for block in self.blocks:
            h, w = block(h, mask=mask, return_weights=True)
            maps.append(w)
        return jnp.stack(maps)

    def init_cache(self, batch: int) -> list[tuple[jax.Array, jax.Array]]:
        """An empty key-value cache: per block ``(keys, values)``, each ``[B, context, H, Dh]``."""
        _positive_int(batch, "batch")
        c = self.config
        shape = (batch, c.context, c.heads, c.width // c.heads)
        return [(jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32)) for _ in self.blocks]

    def step(self, cache: list, token: jax.Array, pos: jax.Array) -> tuple[list, jax.Array]:
        """Token ``token: [B] int`` at position ``pos`` (< context) -> ``(cache, logits: [B, V])``.

        Reads the keys and values of positions ``0..pos-1`` from ``cache`` instead of
        recomputing them, and writes this position's.
        """
        self._check_ids(token, "token")
        h = self.embedding(token) + self._positions(pos)[None]  # [B, D]
        new = []
        for block, layer_cache in zip(self.blocks, cache):
            h, layer_cache = block.step(h, layer_cache, pos)
            new.append(layer_cache)
        return new, self.head(self.ln_f(h))  # [B, V]


@partial(jax.jit, static_argnames=("graphdef", "top_k", "length", "use_cache"))
def _sample(
    graphdef,
    state,
    prompt: jax.Array,
    key: jax.Array,
    temperature: jax.Array,
    top_k: int,
    length: int,
    use_cache: bool,
) -> jax.Array:
    model = nnx.merge(graphdef, state)
    model.eval()
    batch, p = prompt.shape
    if use_cache:

        def read(cache, inputs):  # the prompt, one position at a time
            token, pos = inputs
            return model.step(cache, token, pos)

        cache, logits = jax.lax.scan(
            read, model.init_cache(batch), (jnp.swapaxes(prompt, 0, 1), jnp.arange(p))
        )

        def write(carry, i):
            cache, logits = carry
            token = sample_logits(
                logits, key=jax.random.fold_in(key, i), temperature=temperature, top_k=top_k
            )  # [B]
            cache, logits = model.step(cache, token, p + i)
            return (cache, logits), token

        _, tokens = jax.lax.scan(write, (cache, logits[-1]), jnp.arange(length))  # [length, B]
        return jnp.swapaxes(tokens, 0, 1)

    context = model.config.context
    buffer = jnp.zeros((batch, context), prompt.dtype).at[:, :p].set(prompt)  # [B, context]

    def recompute(buffer, i):  # the whole prefix through the whole model, every step
        logits = model(buffer)[
            :, p + i - 1
        ]  # [B, V]; positions after p + i - 1 cannot leak (causal mask)
        token = sample_logits(
            logits, key=jax.random.fold_in(key, i), temperature=temperature, top_k=top_k
        ).astype(buffer.dtype)
        return jax.lax.dynamic_update_slice_in_dim(buffer, token[:, None], p + i, axis=1), token

    _, tokens = jax.lax.scan(recompute, buffer, jnp.arange(length))
    return jnp.swapaxes(tokens, 0, 1)


def sample(
    model: GPT,
    prompt,
    length: int,
    *,
    key: jax.Array,
    temperature: float = 1.0,
    top_k: int = 0,
    use_cache: bool = True,
) -> jax.Array:
    """Continue ``prompt`` by ``length`` tokens drawn from ``model``: ``[P] or [B, P]`` -> ``[length] or [B, length]``.

    Each draw divides the logits by ``temperature`` and, with ``top_k > 0``, keeps only
    the k most likely tokens (as ``leptonlab.recurrent.sample_logits``); the key of step
    i is ``fold_in(key, i)``, so the same key gives the same text. With ``use_cache``
    each step runs the model on one position and reads the earlier keys and values
    from a cache; without it every step runs the whole prefix again, and the result
    is the same tokens. ``P + length`` must not exceed the model's context. The model
    runs in evaluation mode; compiled once per model, prompt shape, length and top_k.
    Notebook 12.
    """
    if not isinstance(model, GPT):
        raise TypeError(
            f"sample needs a GPT, got {type(model).__name__}; for a CharRNN use leptonlab.recurrent.sample."
        )
    prompt, single = prompt_ids(prompt)
    _positive_int(length, "length")
    context = model.config.context
    if prompt.shape[-1] + length > context:
        raise ValueError(
            f"prompt ({prompt.shape[-1]} tokens) + length ({length}) = {prompt.shape[-1] + length} "
            f"exceeds the model's context of {context} tokens: ask for at most "
            f"{context - prompt.shape[-1]} new tokens, or shorten the prompt."
        )
    if (
        not isinstance(temperature, (int, float))
        or isinstance(temperature, bool)
        or not temperature > 0
    ):
        raise ValueError(
            f"temperature must be a number > 0, got {temperature!r}; for the most likely token use top_k=1."
        )
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0 (0 = keep all), got {top_k!r}.")
    graphdef, state = nnx.split(model)
    tokens = _sample(
        graphdef,
        state,
        (prompt[None] if single else prompt).astype(jnp.int32),
        key,
        jnp.float32(temperature),
        top_k,
        length,
        bool(use_cache),
    )
    return tokens[0] if single else tokens
