"""Evaluation figures: each returns a Figure on valid input and a clear error on bad input."""

import numpy as np
import optax
import pytest
from matplotlib.figure import Figure

from leptonlab import plot
from leptonlab.train import History


def _history(values):
    history = History()
    for i, v in enumerate(values):
        history.append(
            {"epoch": i + 1, "train_loss": v, "val_loss": v * 1.2, "val_accuracy": 1 - v}
        )
    return history


def _probs():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # [20, 3]
    return probs, rng.integers(0, 3, 20)


def test_confusion_matrix_figure():
    cm = np.array([[50, 2, 0], [3, 40, 1], [0, 0, 30]])
    fig = plot.confusion_matrix(cm, ["cat", "dog", "bird"])
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "50" in texts and "·" in texts
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cat", "dog", "bird"]
    normalized = plot.confusion_matrix(cm, normalize=True)
    assert "0.96" in [t.get_text() for t in normalized.axes[0].texts]  # 50 / 52


@pytest.mark.parametrize(
    "cm, names, match",
    [
        (np.ones((2, 3)), None, "square"),
        (np.ones(3), None, "square"),
        (-np.ones((2, 2)), None, "counts"),
        (np.ones((2, 2)), ["a", "b", "c"], "one name per class"),
    ],
)
def test_confusion_matrix_bad_input(cm, names, match):
    with pytest.raises(ValueError, match=match):
        plot.confusion_matrix(cm, names)


def test_worst_mistakes_figure():
    probs, labels = _probs()
    images = np.random.default_rng(1).random((20, 8, 8))
    fig = plot.worst_mistakes(images, labels, probs, k=4, class_names=["a", "b", "c"])
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and all("%" in t for t in titles)


def test_worst_mistakes_bad_input():
    probs, labels = _probs()
    with pytest.raises(ValueError, match="same N"):
        plot.worst_mistakes(np.zeros((19, 8, 8)), labels, probs)
    with pytest.raises(ValueError, match="no mistakes"):
        plot.worst_mistakes(np.zeros((20, 8, 8)), probs.argmax(axis=1), probs)
    with pytest.raises(ValueError, match="one name per class"):
        plot.worst_mistakes(np.zeros((20, 8, 8)), labels, probs, class_names=["a"])


def test_compare_runs_figure():
    fig = plot.compare_runs(
        {"baseline": _history([1.0, 0.05, 0.07]), "dropout": _history([1.0, 0.6, 0.4])}
    )
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and ax.get_yscale() == "log"
    assert plot.compare_runs({"a": _history([1.0, 0.5])}).axes[0].get_yscale() == "linear"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["baseline", "dropout"]
    acc = plot.compare_runs({"a": _history([0.5, 0.2])}, metric="val_accuracy")
    assert acc.axes[0].get_yscale() == "linear"


@pytest.mark.parametrize(
    "histories, metric, match",
    [
        ({}, "val_loss", "non-empty"),
        ([_history([1.0])], "val_loss", "non-empty"),
        ({"a": _history([1.0])}, "val_f1", "no metric 'val_f1'"),
        ({"a": [1.0, 2.0]}, "val_loss", "no metric"),
    ],
)
def test_compare_runs_bad_input(histories, metric, match):
    with pytest.raises(ValueError, match=match):
        plot.compare_runs(histories, metric=metric)


def test_learning_rate_schedules_figure():
    schedules = {
        "constant": optax.constant_schedule(1e-3),
        "cosine": optax.warmup_cosine_decay_schedule(0.0, 1e-3, 10, 100),
        "python": lambda step: 1e-3 / (1 + step) if step < 50 else 0.0,
        "joined": optax.join_schedules(
            [optax.constant_schedule(1e-3), optax.constant_schedule(1e-4)], [50]
        ),
    }
    fig = plot.learning_rate_schedules(schedules, 100, steps_per_epoch=10)
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and len(ax.lines) == 4 and ax.get_xlabel() == "epoch"
    np.testing.assert_allclose(
        ax.lines[1].get_ydata()[10], 1e-3, rtol=1e-5
    )  # the end of the warm-up


@pytest.mark.parametrize(
    "schedules, steps, kwargs, error",
    [
        ({}, 10, {}, ValueError),
        ({"a": optax.constant_schedule(1.0)}, 0, {}, ValueError),
        ({"a": optax.constant_schedule(1.0)}, 10, {"steps_per_epoch": 0}, ValueError),
        ({"a": 0.1}, 10, {}, TypeError),
    ],
)
def test_learning_rate_schedules_bad_input(schedules, steps, kwargs, error):
    with pytest.raises(error):
        plot.learning_rate_schedules(schedules, steps, **kwargs)
