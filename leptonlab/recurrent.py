"""Recurrent networks written by hand: RNN, GRU and LSTM cells run with ``jax.lax.scan``.

A cell maps ``(carry, x_t) -> (carry, h_t)``. :func:`scan` runs a cell over a
sequence ``xs: [B, T, D]``: it projects the inputs of all steps at once
(``cell.project(xs)``, one large matrix product) and loops over time with
``lax.scan``, so the loop body holds only the recurrent product ``h @ W_h``.
An optional mask ``[B, T]`` freezes the state at padded steps, so padding does
not change the result. The cells compute exactly what Flax's ``nnx.SimpleCell``,
``nnx.GRUCell`` and ``nnx.OptimizedLSTMCell`` compute (``Cell.from_flax`` copies
their weights; notebook 10 checks the equality).

On top of the cells: :class:`CharRNN` (a character language model, notebook 11,
trained with :func:`lm_loss`, sampled with :func:`sample`) and
:class:`RecurrentClassifier` (embeddings + (bi)directional recurrent layer over
padded word ids, notebook 13, trained with ``leptonlab.train.classification_loss``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

CELLS = ("rnn", "gru", "lstm")
POOLINGS = ("last", "max")  # how RecurrentClassifier turns the states of a sentence into features


def _check_size(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


def _param(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> nnx.Param:
    """A weight drawn uniformly from +-1/sqrt(fan_in) (the classic recurrent initialisation)."""
    bound = 1.0 / jnp.sqrt(fan_in)
    return nnx.Param(jax.random.uniform(key, shape, jnp.float32, -bound, bound))


def _bias(x: jax.Array, b: jax.Array) -> jax.Array:
    """``x: [..., F] + b: [F]`` with the broadcast written out (rank promotion is an error in tests)."""
    return x + b.reshape((1,) * (x.ndim - 1) + b.shape)


class RNNCell(nnx.Module):
    """The plain (Elman) recurrent cell, notebook 10: ``h' = tanh(x W_x + b + h W_h)``.

    ``w_x: [D, H]``, ``b: [H]``, ``w_h: [H, H]``; the carry is ``h: [B, H]``.
    Same maths and parameter layout as ``flax.nnx.SimpleCell``.
    """

    gates_per_unit = 1

    def __init__(self, in_features: int, hidden: int, *, rngs: nnx.Rngs):
        _check_size(in_features, "in_features")
        _check_size(hidden, "hidden")
        self.in_features, self.hidden = in_features, hidden
        k = self.gates_per_unit * hidden
        self.w_x = _param(rngs.params(), (in_features, k), hidden)
        self.b = nnx.Param(jnp.zeros((k,), jnp.float32))
        self.w_h = _param(rngs.params(), (hidden, k), hidden)

    def initial_state(self, batch: int):
        """The zero carry for ``batch`` sequences: ``[B, H]`` (a pair ``(c, h)`` for the LSTM)."""
        return jnp.zeros((batch, self.hidden), jnp.float32)

    def project(self, x: jax.Array) -> jax.Array:
        """The input part of every gate, ``x: [..., D] -> [..., G*H]`` (done for all steps at once)."""
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"this cell takes {self.in_features} input features, got shape {x.shape}."
            )
        return _bias(x @ self.w_x[...], self.b[...])

    def step(self, carry, xp: jax.Array):
        """One time step from the projected input ``xp: [B, G*H]``: returns ``(carry, h: [B, H])``."""
        h = jnp.tanh(xp + carry @ self.w_h[...])  # [B, H]
        return h, h

    def __call__(self, carry, x: jax.Array):
        """One step on the raw input ``x: [B, D]``, like a Flax cell: ``(carry, h)``."""
        return self.step(carry, self.project(x))

    @staticmethod
    def _flax_weights(cell) -> dict[str, jax.Array]:
        return {
            "w_x": cell.dense_i.kernel[...],
            "b": cell.dense_i.bias[...],
            "w_h": cell.dense_h.kernel[...],
        }

    @classmethod
    def from_flax(cls, cell: nnx.Module):
        """A cell of this class with the weights of the matching Flax NNX cell (copied)."""
        expected = _FLAX_CELLS[cls.__name__]
        if type(cell).__name__ != expected:
            raise TypeError(
                f"{cls.__name__}.from_flax expects a flax.nnx.{expected}, got {type(cell).__name__}."
            )
        new = cls(cell.in_features, cell.hidden_features, rngs=nnx.Rngs(0))
        for name, value in cls._flax_weights(cell).items():
            getattr(new, name)[...] = value
        return new


class GRUCell(RNNCell):
    """The gated recurrent unit, notebook 10 (gates in the order r, z, n as in ``flax.nnx.GRUCell``).

    .. math::
        r = \\sigma(x W_{xr} + b_r + h W_{hr}),\\quad z = \\sigma(x W_{xz} + b_z + h W_{hz}),\\\\
        n = \\tanh(x W_{xn} + b_n + r \\odot (h W_{hn})),\\quad h' = (1 - z) \\odot n + z \\odot h.

    ``w_x: [D, 3H]``, ``b: [3H]``, ``w_h: [H, 3H]``; the carry is ``h: [B, H]``.
    """

    gates_per_unit = 3

    def gates(self, carry, xp: jax.Array) -> dict[str, jax.Array]:
        """The reset gate ``r``, update gate ``z`` and candidate ``n``, each ``[B, H]``."""
        xr, xz, xn = jnp.split(xp, 3, axis=-1)  # each [B, H]
        hr, hz, hn = jnp.split(carry @ self.w_h[...], 3, axis=-1)  # each [B, H]
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        return {"r": r, "z": z, "n": jnp.tanh(xn + r * hn)}

    def step(self, carry, xp: jax.Array):
        g = self.gates(carry, xp)
        h = (1.0 - g["z"]) * g["n"] + g["z"] * carry  # [B, H]
        return h, h


class LSTMCell(RNNCell):
    """The long short-term memory cell, notebook 10 (gates i, f, g, o as in ``flax.nnx.OptimizedLSTMCell``).

    .. math::
        i, f, o = \\sigma(\\cdot),\\; g = \\tanh(x W_{xg} + b_g + h W_{hg}),\\quad
        c' = f \\odot c + i \\odot g,\\quad h' = o \\odot \\tanh(c').

    ``w_x: [D, 4H]``, ``b: [4H]``, ``w_h: [H, 4H]``; the carry is the pair ``(c, h)``, each ``[B, H]``.
    """

    gates_per_unit = 4

    def __init__(self, in_features: int, hidden: int, *, rngs: nnx.Rngs, forget_bias: float = 1.0):
        super().__init__(in_features, hidden, rngs=rngs)
        # a forget gate open at the start (sigmoid(1) = 0.73) lets gradients through early in training
        self.b[...] = self.b[...].at[hidden : 2 * hidden].set(forget_bias)

    def initial_state(self, batch: int):
        zeros = jnp.zeros((batch, self.hidden), jnp.float32)
        return zeros, zeros

    def gates(self, carry, xp: jax.Array) -> dict[str, jax.Array]:
        """The input ``i``, forget ``f``, output ``o`` gates and candidate ``g``, each ``[B, H]``."""
        _, h = carry
        i, f, g, o = jnp.split(xp + h @ self.w_h[...], 4, axis=-1)  # each [B, H]
        return {
            "i": jax.nn.sigmoid(i),
            "f": jax.nn.sigmoid(f),
            "g": jnp.tanh(g),
            "o": jax.nn.sigmoid(o),
        }

    def step(self, carry, xp: jax.Array):
        c, _ = carry
        gt = self.gates(carry, xp)
        c = gt["f"] * c + gt["i"] * gt["g"]  # [B, H]
        h = gt["o"] * jnp.tanh(c)  # [B, H]
        return (c, h), h

    @staticmethod
    def _flax_weights(cell) -> dict[str, jax.Array]:
        return {
            "w_x": cell.dense_i.kernel[...],
            "b": cell.dense_h.bias[...],
            "w_h": cell.dense_h.kernel[...],
        }


_FLAX_CELLS = {"RNNCell": "SimpleCell", "GRUCell": "GRUCell", "LSTMCell": "OptimizedLSTMCell"}
_CELL_CLASSES = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


def make_cell(kind: str, in_features: int, hidden: int, *, rngs: nnx.Rngs) -> RNNCell:
    """``"rnn"``, ``"gru"`` or ``"lstm"``: a cell of that kind."""
    if kind not in _CELL_CLASSES:
        raise ValueError(f"unknown cell {kind!r}; choose one of {CELLS}.")
    return _CELL_CLASSES[kind](in_features, hidden, rngs=rngs)


def _mask_carry(mask_t: jax.Array, new, old):
    """``new`` where ``mask_t: [B]`` is True, ``old`` elsewhere, leaf by leaf of a carry."""
    return jax.tree.map(lambda n, o: jnp.where(mask_t[:, None], n, o), new, old)


def scan(
    cell: RNNCell, carry, xs: jax.Array, *, mask: jax.Array | None = None, reverse: bool = False
):
    """Run ``cell`` over the sequence ``xs: [B, T, D]`` starting from ``carry``.

    Returns ``(carry, hs)``: the last carry and the outputs ``hs: [B, T, H]``.
    With ``mask: [B, T] bool`` the carry is left unchanged at steps where the
    mask is False (padding): for right-padded batches the final carry is the
    state after each sequence's last real token, forwards and (``reverse=True``,
    which runs from the last step to the first) backwards. The output at a masked
    step repeats the carried state. Introduced in notebook 10.
    """
    if not isinstance(cell, RNNCell):
        raise TypeError(
            f"scan expects a leptonlab.recurrent cell (RNNCell, GRUCell, LSTMCell), got {type(cell).__name__}."
        )
    if xs.ndim != 3:
        raise ValueError(
            f"scan expects inputs [B, T, D], got shape {xs.shape}; add a batch axis with xs[None]."
        )
    if mask is not None and mask.shape != xs.shape[:2]:
        raise ValueError(f"mask must have shape [B, T] = {xs.shape[:2]}, got {mask.shape}.")
    xp = jnp.swapaxes(cell.project(xs), 0, 1)  # [T, B, G*H]: time first for lax.scan
    if mask is None:

        def body(c, x_t):
            return cell.step(c, x_t)

        carry, hs = jax.lax.scan(body, carry, xp, reverse=reverse)
    else:

        def body(c, inputs):
            x_t, m_t = inputs  # [B, G*H], [B]
            new, _ = cell.step(c, x_t)
            c = _mask_carry(m_t, new, c)
            return c, (c[1] if isinstance(c, tuple) else c)

        carry, hs = jax.lax.scan(body, carry, (xp, jnp.swapaxes(mask, 0, 1)), reverse=reverse)
    return carry, jnp.swapaxes(hs, 0, 1)  # hs: [B, T, H]


def _hidden_of(carry) -> jax.Array:
    return carry[1] if isinstance(carry, tuple) else carry


class CharRNN(nnx.Module):
    """A character language model, notebook 11: embedding -> recurrent layers -> logits per step.

    ``x: [B, T] int`` (character ids) -> ``logits: [B, T, V]`` for the next character
    at every position. The state starts at zero for every window.

    Args:
        vocab_size: number of characters V.
        hidden: units per recurrent layer.
        cell: "rnn", "gru" or "lstm".
        embed: size of the character embedding (default: ``hidden``).
        layers: stacked recurrent layers.
        dropout: dropout on the embeddings and between and after the layers (training mode only).
        rngs: the NNX random streams that initialise the weights.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden: int,
        *,
        cell: str = "gru",
        embed: int | None = None,
        layers: int = 1,
        dropout: float = 0.0,
        rngs: nnx.Rngs,
    ):
        _check_size(vocab_size, "vocab_size")
        _check_size(hidden, "hidden")
        _check_size(layers, "layers")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}.")
        embed = hidden if embed is None else _check_size(embed, "embed")
        self.vocab_size = vocab_size
        self.embedding = nnx.Embed(vocab_size, embed, rngs=rngs)
        sizes = [embed] + [hidden] * layers
        self.cells = nnx.List([make_cell(cell, a, hidden, rngs=rngs) for a in sizes[:-1]])
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(hidden, vocab_size, rngs=rngs)

    def _check_ids(self, x: jax.Array) -> None:
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(f"CharRNN takes character ids (integers), got dtype {x.dtype}.")

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        self._check_ids(x)
        if x.ndim != 2:
            raise ValueError(f"CharRNN expects ids [B, T], got shape {x.shape}.")
        keys = (
            [None] * (len(self.cells) + 1)
            if rngs is None
            else list(jax.random.split(rngs, len(self.cells) + 1))
        )
        h = self.dropout(self.embedding(x), rngs=keys[0])  # [B, T, E]
        for cell, key in zip(self.cells, keys[1:]):
            _, h = scan(cell, cell.initial_state(x.shape[0]), h)  # [B, T, H]
            h = self.dropout(h, rngs=key)
        return self.head(h)  # [B, T, V]

    def initial_state(self, batch: int) -> list:
        """The zero state of every layer, for :meth:`step`."""
        return [cell.initial_state(batch) for cell in self.cells]

    def step(self, state: list, token: jax.Array) -> tuple[list, jax.Array]:
        """One character at a time (for sampling): ``token: [B] int`` -> ``(state, logits: [B, V])``."""
        self._check_ids(token)
        h = self.embedding(token)  # [B, E]
        new_state = []
        for cell, carry in zip(self.cells, state):
            carry, h = cell(carry, h)  # h: [B, H]
            new_state.append(carry)
        return new_state, self.head(h)  # [B, V]


def lm_loss(model: nnx.Module, batch, key: jax.Array):
    """Next-token cross-entropy for :func:`leptonlab.train.fit` (notebook 11).

    ``batch = (x: [B, T] int, y: [B, T] int)``; the model returns ``[B, T, V]``.
    Returns the mean loss (nats per token) and, per example ``[B]``, the mean
    ``loss`` and ``accuracy`` (next token guessed right) over its T positions.
    """
    x, y = batch
    logits = model(x, rngs=key).astype(jnp.float32)  # [B, T, V]
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(axis=-1)  # [B]
    correct = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32).mean(axis=-1)  # [B]
    return losses.mean(), {"loss": losses, "accuracy": correct}


def sample_logits(
    logits: jax.Array, *, key: jax.Array, temperature: float | jax.Array = 1.0, top_k: int = 0
) -> jax.Array:
    """Draw one id per row of ``logits: [..., V]`` from ``softmax(logits / temperature)`` -> ``[...] int32``.

    ``top_k > 0`` keeps only the k most likely ids (the others get probability 0).
    Small temperatures sharpen the distribution towards the argmax, large ones
    flatten it towards uniform. Introduced in notebook 11.
    """
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0 (0 = keep all), got {top_k!r}.")
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature!r}; for the most likely token use top_k=1."
        )
    return _draw(logits, key, temperature, top_k)


def _draw(logits: jax.Array, key: jax.Array, temperature, top_k) -> jax.Array:
    """:func:`sample_logits` without the checks; ``temperature`` and ``top_k`` may be traced."""
    logits = logits.astype(jnp.float32) / temperature
    vocab = logits.shape[-1]
    k = jnp.clip(top_k, 1, vocab)
    kth = jnp.take(jnp.sort(logits, axis=-1), vocab - k, axis=-1)[
        ..., None
    ]  # [..., 1] the k-th largest
    logits = jnp.where(
        (top_k > 0) & (logits < kth), -jnp.inf, logits
    )  # top_k = 0 keeps every logit
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


@partial(jax.jit, static_argnames=("graphdef", "length"))
def _sample(
    graphdef,
    state,
    prompt: jax.Array,
    key: jax.Array,
    temperature: jax.Array,
    top_k: jax.Array,
    length: int,
) -> jax.Array:
    model = nnx.merge(graphdef, state)
    model.eval()
    batch = prompt.shape[0]

    def read(carry, token):  # feed the prompt, one character per step
        carry, logits = model.step(carry, token)
        return carry, logits

    carry, logits = jax.lax.scan(read, model.initial_state(batch), jnp.swapaxes(prompt, 0, 1))
    logits = logits[-1]  # [B, V] after the last prompt character

    def write(c, i):
        carry, logits = c
        token = _draw(logits, jax.random.fold_in(key, i), temperature, top_k)
        carry, logits = model.step(carry, token)
        return (carry, logits), token

    _, tokens = jax.lax.scan(write, (carry, logits), jnp.arange(length))  # [length, B]
    return jnp.swapaxes(tokens, 0, 1)  # [B, length]


def prompt_ids(prompt) -> tuple[jax.Array, bool]:
    """``prompt`` as ids ``[P]`` or ``[B, P]`` (P >= 1, an integer dtype), and whether it was one ``[P]``.

    The input check that :func:`sample` and ``leptonlab.attention.sample`` share; a clear error otherwise.
    """
    prompt = jnp.asarray(prompt)
    if prompt.ndim not in (1, 2) or prompt.shape[-1] < 1:
        raise ValueError(
            f"prompt must be ids [P] or [B, P] with P >= 1, got shape {prompt.shape}; "
            "start from at least one character (e.g. a newline)."
        )
    if not jnp.issubdtype(prompt.dtype, jnp.integer):
        raise TypeError(
            f"prompt must hold integer ids, got dtype {prompt.dtype}; encode the text first."
        )
    return prompt, prompt.ndim == 1


def sample(
    model: CharRNN, prompt, length: int, *, key: jax.Array, temperature: float = 1.0, top_k: int = 0
) -> jax.Array:
    """Continue ``prompt`` by ``length`` ids drawn from ``model``, compiled with ``jax.jit``.

    ``prompt: [P] or [B, P] int`` (P >= 1) -> ``[length] or [B, length] int32``, the
    new ids only. Each draw uses :func:`sample_logits` with a key folded from ``key``
    and the step number: the same key gives the same text. The model runs in
    evaluation mode (no dropout). It compiles once per model, prompt shape and
    ``length``; other temperatures and top-k values reuse the compiled loop.
    Introduced in notebook 11.
    """
    if not isinstance(model, CharRNN):
        raise TypeError(
            f"sample needs a CharRNN (a model with step() and initial_state()), got {type(model).__name__}."
        )
    prompt, single = prompt_ids(prompt)
    _check_size(length, "length")
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}.")
    if not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0 (0 = keep all), got {top_k!r}.")
    graphdef, state = nnx.split(model)
    tokens = _sample(
        graphdef,
        state,
        prompt[None] if single else prompt,
        key,
        jnp.float32(temperature),
        jnp.int32(top_k),
        length,
    )
    return tokens[0] if single else tokens


class RecurrentClassifier(nnx.Module):
    """Embeddings + a (bi)directional recurrent layer over padded word ids, notebook 13.

    ``x: [B, L] int`` (right-padded with ``pad_id``) -> ``logits: [B, num_classes]``.
    The mask ``x != pad_id`` freezes the state at padded steps, so the forward
    state after the last real word and the backward state after the first word are
    the same however much padding follows. ``pooling="last"`` represents the sentence
    by those two states; ``pooling="max"`` adds, per direction, the largest value each
    unit reached over the real words (a masked max over time, which lets a single
    strong word anywhere in a long sentence count). The features ``[B, F]`` with
    ``F = H * directions * (1 or 2)`` go through dropout to a linear layer. Train it
    with ``leptonlab.train.classification_loss``: the masking is inside the model.
    ``word_dropout`` (training only) replaces each real word by ``unk_id`` with that
    probability, so the model cannot lean on any single word it has memorised.
    """

    def __init__(
        self,
        vocab_size: int,
        embed: int,
        hidden: int,
        num_classes: int = 2,
        *,
        cell: str = "gru",
        bidirectional: bool = True,
        pooling: str = "last",
        pad_id: int = 0,
        dropout: float = 0.0,
        word_dropout: float = 0.0,
        unk_id: int = 1,
        rngs: nnx.Rngs,
    ):
        for value, name in ((vocab_size, "vocab_size"), (embed, "embed"), (hidden, "hidden")):
            _check_size(value, name)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}.")
        for value, name in ((dropout, "dropout"), (word_dropout, "word_dropout")):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}.")
        for value, name in ((pad_id, "pad_id"), (unk_id, "unk_id")):
            if not 0 <= value < vocab_size:
                raise ValueError(f"{name} must be an id in [0, {vocab_size}), got {value!r}.")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}.")
        self.pad_id, self.unk_id, self.pooling = pad_id, unk_id, pooling
        self.word_dropout = nnx.Dropout(
            word_dropout
        )  # used on a mask: off in eval mode, like all dropout
        self.embedding = nnx.Embed(vocab_size, embed, rngs=rngs)
        self.forward_cell = make_cell(cell, embed, hidden, rngs=rngs)
        self.backward_cell = make_cell(cell, embed, hidden, rngs=rngs) if bidirectional else None
        self.dropout = nnx.Dropout(dropout)
        features = hidden * (2 if bidirectional else 1) * (2 if pooling == "max" else 1)
        self.head = nnx.Linear(features, num_classes, rngs=rngs)

    def features(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        """The sentence representation ``[B, F]`` before the classifier layer (see the class docstring)."""
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(f"RecurrentClassifier takes word ids (integers), got dtype {x.dtype}.")
        if x.ndim != 2:
            raise ValueError(f"RecurrentClassifier expects padded ids [B, L], got shape {x.shape}.")
        k_word, k_embed, k_out = (
            (None, None, None) if rngs is None else tuple(jax.random.split(rngs, 3))
        )
        mask = x != self.pad_id  # [B, L]
        if self.word_dropout.rate > 0:
            keep = (
                self.word_dropout(jnp.ones(x.shape, jnp.float32), rngs=k_word) > 0
            )  # [B, L]; all True in eval
            x = jnp.where(keep | ~mask, x, self.unk_id)
        e = self.dropout(self.embedding(x), rngs=k_embed)  # [B, L, E]
        parts = []
        for cell, reverse in ((self.forward_cell, False), (self.backward_cell, True)):
            if cell is None:
                continue
            carry, hs = scan(
                cell, cell.initial_state(x.shape[0]), e, mask=mask, reverse=reverse
            )  # hs: [B, L, H]
            parts.append(
                _hidden_of(carry)
            )  # [B, H] after the last real word (backwards: the first)
            if (
                self.pooling == "max"
            ):  # [B, H] over the real words; 0 for a row of padding only (no word)
                pooled = jnp.max(jnp.where(mask[..., None], hs, -jnp.inf), axis=1)
                parts.append(jnp.where(mask.any(axis=1, keepdims=True), pooled, 0.0))
        return self.dropout(jnp.concatenate(parts, axis=-1), rngs=k_out)

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        return self.head(self.features(x, rngs=rngs))  # [B, num_classes]


def gradient_norms_through_time(cell: RNNCell, xs: jax.Array) -> jax.Array:
    """How much the last state depends on each input: ``||d sum(h_T) / d x_t||`` for every t.

    ``xs: [B, T, D]`` -> ``[T]`` (mean over the batch); entry t is for the input
    ``T - 1 - t`` steps before the end. Backpropagation through time multiplies one
    Jacobian per step, so for a plain RNN these norms shrink geometrically with
    the distance (vanishing gradients). Introduced in notebook 10.
    """
    if not isinstance(cell, RNNCell):
        raise TypeError(f"expected a leptonlab.recurrent cell, got {type(cell).__name__}.")
    if xs.ndim != 3:
        raise ValueError(f"xs must be [B, T, D], got shape {xs.shape}.")

    def last_state(xs):
        carry, _ = scan(cell, cell.initial_state(xs.shape[0]), xs)
        return jnp.sum(_hidden_of(carry))

    grads = jax.grad(last_state)(xs)  # [B, T, D]
    return jnp.linalg.norm(grads, axis=-1).mean(axis=0)  # [T]


__all__ = [  # the public names (explicit re-exports and definitions)
    "CELLS",
    "CharRNN",
    "gradient_norms_through_time",
    "GRUCell",
    "lm_loss",
    "LSTMCell",
    "make_cell",
    "POOLINGS",
    "RecurrentClassifier",
    "RNNCell",
    "prompt_ids",
    "sample",
    "sample_logits",
    "scan",
]
