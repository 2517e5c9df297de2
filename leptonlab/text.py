"""Text as integers: a character vocabulary, a word tokenizer and vocabulary, language-model windows.

Notebook 11 turns tiny Shakespeare into character ids with :class:`CharVocab`,
splits it 90/10 with :func:`split_text` and cuts it into training windows with
:func:`lm_windows`. Notebook 13 turns SST-2 sentences into padded word ids with
:func:`tokenize` and :class:`WordVocab` (padding id 0, out-of-vocabulary id 1).
Everything here is plain Python and NumPy: encoding happens once, before training.

    vocab = CharVocab.from_text(text)
    ids = vocab.encode("To be")            # [5] int32
    assert vocab.decode(ids) == "To be"
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD = "<pad>"  # the padding token of WordVocab, id 0
UNK = "<unk>"  # the out-of-vocabulary token of WordVocab, id 1
PAD_ID = 0
UNK_ID = 1

# n't and 's-style clitics, words (with inner hyphens / apostrophes), or any single other symbol.
_TOKEN = re.compile(r"n't|'[^\W_]+|[^\W_]+(?:-[^\W_]+)*|[^\w\s]|_")


def _require_str(value, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}.")
    return value


def _ids_array(ids, name: str = "ids") -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return arr.reshape(-1).astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers (token ids), got dtype {arr.dtype}.")
    return arr


def _sequence_to_decode(ids, size: int, length: str) -> np.ndarray:
    """``ids`` as one sequence ``[length]`` of ids in ``[0, size)``, or a clear error."""
    arr = _ids_array(ids)
    if arr.ndim != 1:
        raise ValueError(
            f"decode expects one sequence of ids [{length}], got shape {arr.shape}; decode each row."
        )
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise ValueError(
            f"ids must lie in [0, {size}), got values from {arr.min()} to {arr.max()}."
        )
    return arr


@dataclasses.dataclass(frozen=True)
class CharVocab:
    """A character vocabulary: character ``chars[i]`` has id ``i`` (notebook 11).

    Build it with :meth:`from_text` (the sorted distinct characters of a text:
    65 for tiny Shakespeare).
    """

    chars: tuple[str, ...]  # one single-character string per id, no duplicates
    _index: dict = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.chars, tuple) or not self.chars:
            raise ValueError(
                "CharVocab needs a non-empty tuple of characters; use CharVocab.from_text(text)."
            )
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise ValueError("every entry of CharVocab.chars must be a single character.")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharVocab.chars has duplicates; each character needs exactly one id.")
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of the distinct characters of ``text``, in sorted order."""
        _require_str(text, "text")
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text.")
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        """Number of characters (the model's input and output size)."""
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> np.ndarray:
        """``text`` (length N) as ids ``[N] int32``; a character not in the vocabulary is an error."""
        _require_str(text, "text")
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int32, count=len(text))
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} is not in the vocabulary of {self.size} characters; "
                "build the vocabulary from a text that contains it."
            ) from None

    def decode(self, ids) -> str:
        """Ids ``[N]`` (any integer array or list) back to the string of length N."""
        arr = _sequence_to_decode(ids, self.size, "N")
        return "".join(self.chars[i] for i in arr.tolist())


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The fixed train/validation split of a text: the first ``1 - val_fraction`` and the rest.

    Not shuffled: neighbouring characters are not independent examples, so the
    validation text is one contiguous stretch the model never saw (notebook 11
    uses the last 10% of tiny Shakespeare).
    """
    _require_str(text, "text")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}.")
    cut = int(round(len(text) * (1.0 - val_fraction)))
    if cut < 2 or len(text) - cut < 2:
        raise ValueError(
            f"a text of {len(text)} characters is too short to split with val_fraction={val_fraction}."
        )
    return text[:cut], text[cut:]


def lm_windows(ids, seq_len: int, *, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Language-modelling examples: inputs and next-token targets of contiguous windows.

    ``ids: [N]`` -> ``(x, y)``, each ``[W, seq_len] int32`` with ``x[w] = ids[s : s + seq_len]``
    and ``y[w] = ids[s + 1 : s + seq_len + 1]`` for ``s = 0, stride, 2 * stride, ...``.
    ``stride`` defaults to ``seq_len`` (windows side by side, every character used once).
    Introduced in notebook 11.
    """
    arr = _ids_array(ids)
    if arr.ndim != 1:
        raise ValueError(f"lm_windows expects one sequence of ids [N], got shape {arr.shape}.")
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be an int >= 1, got {seq_len!r}.")
    stride = seq_len if stride is None else stride
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an int >= 1, got {stride!r}.")
    if arr.shape[0] < seq_len + 1:
        raise ValueError(
            f"{arr.shape[0]} ids are too few for one window of {seq_len} inputs plus its target; "
            "use a shorter seq_len."
        )
    starts = np.arange(0, arr.shape[0] - seq_len, stride)  # [W]
    offsets = np.arange(seq_len)  # [T]
    x = arr[starts[:, None] + offsets[None, :]].astype(np.int32)  # [W, T]
    y = arr[starts[:, None] + offsets[None, :] + 1].astype(np.int32)  # [W, T]
    return x, y


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and punctuation, SST-style (notebook 13).

    ``"This isn't bad!" -> ["this", "is", "n't", "bad", "!"]``: clitics (``n't``,
    ``'s``, ``'re``) become their own tokens, as in the Stanford Sentiment Treebank,
    and every other symbol is a token by itself. The empty string gives ``[]``.
    """
    _require_str(text, "text")
    text = text.lower().replace("\u2019", "'").replace("n't", " n't")  # curly apostrophes first
    return _TOKEN.findall(text)


@dataclasses.dataclass(frozen=True)
class WordVocab:
    """A word vocabulary with padding (id 0) and out-of-vocabulary (id 1) tokens (notebook 13).

    ``words[i]`` is the word of id ``i``; ``words[0] == "<pad>"`` and ``words[1] == "<unk>"``.
    Build it from training sentences with :meth:`build`.
    """

    words: tuple[str, ...]
    _index: dict = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.words, tuple) or self.words[:2] != (PAD, UNK):
            raise ValueError(
                f"WordVocab.words must be a tuple starting with {PAD!r}, {UNK!r}; "
                "use WordVocab.build(sentences)."
            )
        if len(set(self.words)) != len(self.words):
            raise ValueError("WordVocab.words has duplicates; each word needs exactly one id.")
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    @classmethod
    def build(
        cls, sentences: Iterable[str], *, min_count: int = 1, max_size: int | None = None
    ) -> WordVocab:
        """The words of ``sentences`` (after :func:`tokenize`) seen at least ``min_count`` times.

        The most frequent come first (ties in alphabetical order); ``max_size``
        caps the size including the two special tokens. Rare words become ``<unk>``.
        """
        if isinstance(sentences, str):
            raise TypeError(
                "sentences must be a list of strings, not one string; wrap it: [sentence]."
            )
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}.")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 3):
            raise ValueError(
                f"max_size must be None or an int >= 3 (two special tokens and a word), got {max_size!r}."
            )
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(tokenize(sentence))
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        words = [
            w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_count
        ]
        if max_size is not None:
            words = words[: max_size - 2]
        return cls((PAD, UNK, *words))

    @property
    def size(self) -> int:
        """Number of ids, the two special tokens included."""
        return len(self.words)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def token_id(self, word: str) -> int:
        """The id of one token (``UNK_ID`` if it is not in the vocabulary)."""
        return self._index.get(word, UNK_ID)

    def encode(self, text: str, max_length: int) -> np.ndarray:
        """``text`` as ``[max_length] int32`` ids: tokenised, cut after ``max_length`` tokens, padded with 0."""
        return self.encode_batch([_require_str(text, "text")], max_length)[0]

    def encode_batch(self, texts: Sequence[str], max_length: int) -> np.ndarray:
        """Many texts as ``[N, max_length] int32`` ids, padded at the end (right) with ``PAD_ID``."""
        if isinstance(texts, str):
            raise TypeError(
                "encode_batch takes a list of strings; for one string use encode(text, max_length)."
            )
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be an int >= 1, got {max_length!r}.")
        out = np.full((len(texts), max_length), PAD_ID, np.int32)  # [N, L]
        for row, text in enumerate(texts):
            ids = [self.token_id(t) for t in tokenize(_require_str(text, f"texts[{row}]"))][
                :max_length
            ]
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids) -> str:
        """Ids ``[L]`` back to tokens joined by spaces, padding dropped (``<unk>`` stays visible)."""
        arr = _sequence_to_decode(ids, self.size, "L")
        return " ".join(self.words[i] for i in arr.tolist() if i != PAD_ID)


def sequence_lengths(ids, pad_id: int = PAD_ID) -> np.ndarray:
    """Tokens before the padding in each row of right-padded ``ids: [N, L]`` -> ``[N] int32``."""
    arr = _ids_array(ids)
    if arr.ndim != 2:
        raise ValueError(
            f"sequence_lengths expects a batch of padded rows [N, L], got shape {arr.shape}."
        )
    return (arr != pad_id).sum(axis=1).astype(np.int32)


def _spans(tokens: tuple) -> Iterable[int]:
    """Hashes of every contiguous token span of ``tokens`` (a phrase's possible sub-phrases)."""
    n = len(tokens)
    return (hash(tokens[a:b]) for a in range(n) for b in range(a + 1, n + 1))


def sentence_split(sentences: Sequence[str], labels, *, val_fraction: float, key):
    """A train/validation split of treebank *phrases* by whole sentence (notebook 13).

    SST-2's training split holds the phrases of every parse tree: a training sentence and many of
    its pieces, each labelled. A split of the phrases at random leaks: most validation phrases are
    then pieces of training phrases. This split finds the *roots* (phrases that are no contiguous
    token span of another phrase: the whole sentences), draws ``val_fraction`` of them for
    validation (stratified by label, with ``key``, through ``leptonlab.data.train_val_split``), and
    keeps for training every phrase that also occurs in a training sentence. The phrases found only
    inside validation sentences are left out of both. So the validation sentences relate to the
    training phrases as the dev sentences do: their common pieces were seen, they were not.

    ``sentences``: N space-tokenised phrases; ``labels: [N]``. Returns a ``leptonlab.data.Split``
    of index arrays (``val`` holds only whole sentences).
    """
    from leptonlab.data import Split, train_val_split  # here: text.py itself stays free of JAX

    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError(f"sentences must be a sequence of str, got {type(sentences).__name__}.")
    labels = np.asarray(labels)
    if labels.shape != (len(sentences),):
        raise ValueError(
            f"labels must hold one label per sentence, shape ({len(sentences)},), got {labels.shape}."
        )
    tokens = [tuple(_require_str(s, "each sentence").split()) for s in sentences]
    seen: set[int] = set()
    roots = []
    for i in sorted(range(len(tokens)), key=lambda i: -len(tokens[i])):  # longest first
        if tokens[i] and hash(tokens[i]) not in seen:
            roots.append(i)
            seen.update(_spans(tokens[i]))
    del seen
    roots = np.array(sorted(roots), dtype=np.int64)
    if len(roots) < 2:
        raise ValueError(
            f"found {len(roots)} whole sentence(s) among the phrases: too few to split."
        )
    root_split = train_val_split(
        len(roots), val_fraction=val_fraction, key=key, stratify=labels[roots]
    )
    val_roots = roots[root_split.val]
    in_train: set[int] = set()
    for i in roots[root_split.train]:
        in_train.update(_spans(tokens[i]))
    is_val_root = np.zeros(len(tokens), bool)
    is_val_root[val_roots] = True
    train = [i for i in range(len(tokens)) if not is_val_root[i] and hash(tokens[i]) in in_train]
    return Split(np.array(train, dtype=np.int64), np.sort(val_roots))


__all__ = [  # the public names (explicit re-exports and definitions)
    "CharVocab",
    "lm_windows",
    "PAD",
    "PAD_ID",
    "sentence_split",
    "sequence_lengths",
    "split_text",
    "tokenize",
    "UNK",
    "UNK_ID",
    "WordVocab",
]
