"""Tokenizers and vocabularies: round trips, unknown words, empty and very long input; windows; text checks."""

import numpy as np
import pytest

from leptonlab import checks
from leptonlab.checks import CheckFailed
from leptonlab.text import (
    PAD_ID,
    UNK_ID,
    CharVocab,
    WordVocab,
    lm_windows,
    sentence_split,
    sequence_lengths,
    split_text,
    tokenize,
)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n"


def test_char_vocab_round_trip_and_sorted_ids():
    vocab = CharVocab.from_text(TEXT)
    assert vocab.chars == tuple(sorted(set(TEXT)))
    ids = vocab.encode(TEXT)
    assert ids.dtype == np.int32 and ids.shape == (len(TEXT),)
    assert vocab.decode(ids) == TEXT
    assert vocab.decode(list(ids[:5])) == TEXT[:5]
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""


def test_char_vocab_rejects_unknown_characters_and_bad_ids():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="one sequence"):
        vocab.decode(np.zeros((2, 2), np.int32))
    with pytest.raises(TypeError, match="must be a str"):
        vocab.encode(["a"])
    with pytest.raises(ValueError, match="empty text"):
        CharVocab.from_text("")
    with pytest.raises(ValueError, match="duplicates"):
        CharVocab(("a", "a"))


def test_split_text_is_fixed_90_10_and_contiguous():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    train, val = split_text(text)
    assert len(train) == 900 and len(val) == 100 and train + val == text
    assert split_text(text) == (train, val)
    with pytest.raises(ValueError, match="val_fraction"):
        split_text(text, 1.0)
    with pytest.raises(ValueError, match="too short"):
        split_text("abc")


def test_lm_windows_targets_are_inputs_shifted_by_one():
    ids = np.arange(23, dtype=np.int32)
    x, y = lm_windows(ids, 5)
    assert (
        x.shape == y.shape == (4, 5)
    )  # starts 0, 5, 10, 15 (a window needs its 6th id as a target)
    np.testing.assert_array_equal(x[1], [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(y, x + 1)
    xo, _ = lm_windows(ids, 5, stride=2)
    np.testing.assert_array_equal(xo[:, 0], np.arange(0, 18, 2))
    with pytest.raises(ValueError, match="too few"):
        lm_windows(ids[:5], 5)
    with pytest.raises(ValueError, match="seq_len"):
        lm_windows(ids, 0)
    with pytest.raises(ValueError, match="stride"):
        lm_windows(ids, 4, stride=0)
    with pytest.raises(TypeError, match="integers"):
        lm_windows(np.ones(10), 3)


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("This is a great day!", ["this", "is", "a", "great", "day", "!"]),
        (
            "It isn't BAD, it's well-made.",
            ["it", "is", "n't", "bad", ",", "it", "'s", "well-made", "."],
        ),
        ("It isn\u2019t bad", ["it", "is", "n't", "bad"]),  # a curly apostrophe
        (
            "it 's a charming journey . ",
            ["it", "'s", "a", "charming", "journey", "."],
        ),  # SST's own tokens
        ("", []),
        ("   ", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_tokenize_rejects_non_strings():
    with pytest.raises(TypeError, match="must be a str"):
        tokenize(None)


SENTENCES = ["a good film .", "a bad film .", "good , good acting", "the plot is bad"]


def test_word_vocab_orders_by_frequency_with_special_tokens_first():
    vocab = WordVocab.build(SENTENCES)
    assert vocab.words[:2] == ("<pad>", "<unk>")
    assert vocab.words[2] == "good"  # 3 times
    assert vocab.token_id("never-seen") == UNK_ID
    small = WordVocab.build(SENTENCES, min_count=2)
    assert set(small.words[2:]) == {"good", "a", "film", ".", "bad"}
    assert WordVocab.build(SENTENCES, max_size=4).size == 4


def test_word_vocab_round_trip_unknown_empty_and_long_input():
    vocab = WordVocab.build(SENTENCES)
    ids = vocab.encode("A GOOD film.", 8)
    assert ids.dtype == np.int32 and ids.shape == (8,)
    assert vocab.decode(ids) == "a good film ."
    assert list(ids[4:]) == [PAD_ID] * 4
    unknown = vocab.encode("a wonderful film", 5)
    assert unknown[1] == UNK_ID and vocab.decode(unknown) == "a <unk> film"
    assert list(vocab.encode("", 3)) == [PAD_ID] * 3 and vocab.decode(vocab.encode("", 3)) == ""
    long = " ".join(["good"] * 10_000)
    cut = vocab.encode(long, 16)
    assert cut.shape == (16,) and (cut == vocab.token_id("good")).all()
    batch = vocab.encode_batch(SENTENCES, 6)
    assert batch.shape == (4, 6)
    np.testing.assert_array_equal(sequence_lengths(batch), [4, 4, 4, 4])
    for sentence, row in zip(SENTENCES, batch):
        assert vocab.decode(row) == " ".join(tokenize(sentence))


def test_word_vocab_bad_input():
    vocab = WordVocab.build(SENTENCES)
    with pytest.raises(ValueError, match="max_length"):
        vocab.encode("good", 0)
    with pytest.raises(TypeError, match="list of strings"):
        vocab.encode_batch("good film", 4)
    with pytest.raises(TypeError, match="list of strings"):
        WordVocab.build("good film")
    with pytest.raises(ValueError, match="min_count"):
        WordVocab.build(SENTENCES, min_count=0)
    with pytest.raises(ValueError, match="must be a tuple starting"):
        WordVocab(("good", "bad"))
    with pytest.raises(ValueError, match=r"ids must lie"):
        vocab.decode([vocab.size])
    with pytest.raises(ValueError, match=r"\[N, L\]"):
        sequence_lengths(np.zeros(3, np.int32))


# ---- checks of notebooks 11 and 13 ----


def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)


def _not_written(*args):
    raise NotImplementedError()


def test_temperature_softmax_check():
    checks.temperature_softmax(lambda z, t: _softmax(np.asarray(z) / t))
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.temperature_softmax(_not_written)
    with pytest.raises(CheckFailed, match="divide the logits"):
        checks.temperature_softmax(lambda z, t: _softmax(np.asarray(z) * t))
    with pytest.raises(CheckFailed, match="subtract the maximum"), np.errstate(all="ignore"):
        checks.temperature_softmax(
            lambda z, t: (
                np.exp(np.asarray(z, np.float32) / t)
                / np.exp(np.asarray(z, np.float32) / t).sum(-1, keepdims=True)
            )
        )


def _top_k(z, k):
    z = np.asarray(z, np.float64)
    kth = np.sort(z)[-k]
    return np.where(z < kth, -np.inf, z)


def test_top_k_filter_check():
    checks.top_k_filter(_top_k)
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.top_k_filter(_not_written)
    with pytest.raises(CheckFailed, match="least"):
        checks.top_k_filter(lambda z, k: np.where(np.asarray(z) > np.sort(z)[k - 1], -np.inf, z))
    with pytest.raises(CheckFailed, match="none is -inf"):
        checks.top_k_filter(lambda z, k: np.where(np.asarray(z) < np.sort(z)[-k], 0.0, z))
    with pytest.raises(CheckFailed, match=r"kept 2 tokens"):
        checks.top_k_filter(
            lambda z, k: (
                np.where(np.asarray(z) < np.sort(z)[-k - 1], -np.inf, z)
                if k < len(z)
                else np.asarray(z)
            )
        )


def _pad(seqs, max_length, pad_id):
    out = np.full((len(seqs), max_length), pad_id)
    for i, s in enumerate(seqs):
        s = list(s)[:max_length]
        out[i, : len(s)] = s
    return out


def test_pad_and_truncate_check():
    checks.pad_and_truncate(_pad)
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.pad_and_truncate(_not_written)
    with pytest.raises(CheckFailed, match="start of each sequence"):
        checks.pad_and_truncate(
            lambda s, n, p: (
                _pad(s, n, p)[:, ::-1] * 0
                + np.array([[p] * (n - len(x[:n])) + list(x[:n]) for x in s])
            )
        )
    with pytest.raises(CheckFailed, match="lost its beginning"):
        checks.pad_and_truncate(lambda s, n, p: _pad([list(x)[-n:] for x in s], n, p))
    with pytest.raises(CheckFailed, match="pad_id"):
        checks.pad_and_truncate(lambda s, n, p: _pad(s, n, 0))


def test_masked_mean_check():
    def masked_mean(x, mask):
        m = np.asarray(mask, np.float64)[..., None]
        return (np.asarray(x) * m).sum(1) / m.sum(1)

    checks.masked_mean(masked_mean)
    with pytest.raises(CheckFailed, match="not written yet"):
        checks.masked_mean(_not_written)
    with pytest.raises(CheckFailed, match="includes the padded"):
        checks.masked_mean(lambda x, mask: np.asarray(x).mean(1))
    with pytest.raises(CheckFailed, match="divided by T"):
        checks.masked_mean(
            lambda x, mask: (np.asarray(x) * np.asarray(mask)[..., None]).sum(1) / x.shape[1]
        )


# ---- a validation split of treebank phrases by whole sentence (notebook 13) ----

PHRASES = [
    "a great film",
    "great film",
    "great",
    "a dull plot",
    "dull plot",
    "dull",
    "a fine cast",
    "fine cast",
    "fine",
    "the worst day",
    "worst day",
    "worst",
    "great cast",
    "a dull film indeed",
    "film indeed",
]
PHRASE_LABELS = np.array([1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0])


def test_sentence_split_holds_out_whole_sentences_without_their_pieces():
    import jax

    split = sentence_split(PHRASES, PHRASE_LABELS, val_fraction=0.4, key=jax.random.key(0))
    roots = {
        "a great film",
        "a dull plot",
        "a fine cast",
        "the worst day",
        "great cast",
        "a dull film indeed",
    }
    val = [PHRASES[i] for i in split.val]
    train = [PHRASES[i] for i in split.train]
    assert set(val) <= roots and len(val) == 2 and not set(split.train) & set(split.val)
    assert sorted(PHRASE_LABELS[split.val]) == [0, 1]  # stratified: one sentence of each label
    for v in val:  # no training phrase contains a validation sentence
        assert not any(f" {v} " in f" {t} " for t in train)
    for p in PHRASES:  # a phrase is used for training iff it is part of a training sentence
        in_train_root = any(f" {p} " in f" {r} " for r in roots - set(val))
        assert (p in train) == in_train_root, p
    again = sentence_split(PHRASES, PHRASE_LABELS, val_fraction=0.4, key=jax.random.key(0))
    assert np.array_equal(again.train, split.train) and np.array_equal(again.val, split.val)


def test_sentence_split_bad_input():
    import jax

    with pytest.raises(ValueError, match="one label per sentence"):
        sentence_split(PHRASES, PHRASE_LABELS[:3], val_fraction=0.5, key=jax.random.key(0))
    with pytest.raises(TypeError, match="sequence of str"):
        sentence_split("a great film", np.array([1]), val_fraction=0.5, key=jax.random.key(0))
    with pytest.raises(ValueError, match="too few to split"):
        sentence_split(
            ["great", "great"], np.array([1, 1]), val_fraction=0.5, key=jax.random.key(0)
        )
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        sentence_split(PHRASES, PHRASE_LABELS, val_fraction=1.5, key=jax.random.key(0))


# ---- figures of notebooks 11 and 13 ----


def test_text_figures():
    from matplotlib.figure import Figure

    from leptonlab import plot

    labels = list("abcd")
    fig = plot.token_distributions(
        {"t=1": [0.1, 0.6, 0.2, 0.1], "t=2": [0.2, 0.3, 0.3, 0.2]}, labels, top=3
    )
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "b",
        "c",
        "a",
    ]  # by the first distribution
    fig = plot.word_scores(["good", "bad", "fine", "awful"], [2.0, -2.0, 0.5, -3.0], k=1)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["awful", "good"]
    fig = plot.length_histogram(np.array([1, 2, 2, 9]), max_length=5)
    assert "25.0% cut" in fig.axes[0].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="V = len"):
        plot.token_distributions({"t": [0.5, 0.5]}, labels)
    with pytest.raises(ValueError, match="one score per word"):
        plot.word_scores(["a"], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"\[N\]"):
        plot.length_histogram(np.array([]))
