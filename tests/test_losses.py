"""Tests for leptonlab.losses: hand values, references (optax, jax.nn), stability, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _train_helpers import Linear, linear_state
from flax import nnx

from leptonlab import losses as L
from leptonlab import train

PREDS = jnp.array([0.8, 1.9, 2.7, 3.6, 4.5])  # [5]
TARGETS = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])  # [5]


def test_mse_hand_values():
    assert float(L.mse(jnp.array([1.0]), jnp.array([2.0]))) == 1.0
    assert float(L.mse(1.0, 2.0)) == 1.0
    assert abs(float(L.mse(PREDS, TARGETS)) - 0.11) < 1e-6
    # the "half MSE" of some texts is a different number: 0.5 * sum / n = 0.055
    assert abs(float(jnp.mean(optax.l2_loss(PREDS, TARGETS))) - 0.055) < 1e-6


def test_mae_hand_value():
    assert abs(float(L.mae(PREDS, TARGETS)) - 0.3) < 1e-6


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "loss, per_element",
    [
        (L.mse, lambda p, t: (p - t) ** 2),
        (L.mae, lambda p, t: jnp.abs(p - t)),
    ],
)
def test_regression_reductions(loss, per_element, reduction):
    p = jax.random.normal(jax.random.key(0), (3, 4))
    t = jax.random.normal(jax.random.key(1), (3, 4))
    pe = per_element(p, t)
    want = {"mean": jnp.mean(pe), "sum": jnp.sum(pe), "none": pe}[reduction]
    np.testing.assert_allclose(loss(p, t, reduction=reduction), want, rtol=1e-6)


def test_bce_from_probs_matches_hand_formula():
    p = jnp.array([0.1, 0.5, 0.9, 0.99])
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    want = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(L.binary_cross_entropy(p, y, reduction="none"), want, rtol=1e-5)
    assert float(L.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))) == pytest.approx(
        np.log(2), rel=1e-6
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_optax_and_probability_form(reduction):
    z = jnp.linspace(-8.0, 8.0, 12).reshape(3, 4)  # [3, 4]
    y = (jax.random.uniform(jax.random.key(2), (3, 4)) > 0.5).astype(jnp.float32)
    ref = optax.sigmoid_binary_cross_entropy(z, y)
    want = {"mean": jnp.mean(ref), "sum": jnp.sum(ref), "none": ref}[reduction]
    np.testing.assert_allclose(
        L.binary_cross_entropy_with_logits(z, y, reduction=reduction), want, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        L.binary_cross_entropy(jax.nn.sigmoid(z), y, reduction=reduction), want, rtol=1e-3
    )


def test_bce_with_logits_stable_and_exact_at_large_logits():
    z = jnp.array([1000.0, -1000.0, 100.0, -100.0])
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    out = L.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_allclose(out, [1000.0, 1000.0, 0.0, 0.0], atol=1e-6)
    g = jax.grad(L.binary_cross_entropy_with_logits)(z, y)
    assert np.all(np.isfinite(g))
    # the probability form saturates: sigma(100) == 1.0 in float32, the clipped loss is ~16.1, not 100
    clipped = float(L.binary_cross_entropy(jax.nn.sigmoid(jnp.array([100.0])), jnp.array([0.0])))
    assert 15.0 < clipped < 17.0


@pytest.mark.parametrize("z", [-3.0, 0.0, 2.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_bce_with_logits_gradient_is_sigmoid_minus_label(z, y):
    g = float(jax.grad(L.binary_cross_entropy_with_logits)(jnp.array([z]), jnp.array([y]))[0])
    assert g == pytest.approx(float(jax.nn.sigmoid(z)) - y, abs=1e-6)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 6)])
def test_categorical_ce_matches_optax(shape):
    logits = jax.random.normal(jax.random.key(3), shape) * 3.0
    labels = jax.random.randint(jax.random.key(4), shape[:-1], 0, shape[-1])
    ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(
        L.categorical_cross_entropy(logits, labels, reduction="none"), ref, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        L.categorical_cross_entropy(logits, labels), jnp.mean(ref), rtol=1e-5
    )


def test_categorical_ce_hand_value_and_stability():
    assert float(L.categorical_cross_entropy(jnp.zeros((1, 4)), jnp.array([2]))) == pytest.approx(
        np.log(4), rel=1e-6
    )
    big = jnp.array([[1000.0, 0.0, -1000.0]])
    assert float(L.categorical_cross_entropy(big, jnp.array([2]))) == pytest.approx(2000.0)
    g = jax.grad(L.categorical_cross_entropy)(big, jnp.array([2]))
    np.testing.assert_allclose(
        g, jax.nn.softmax(big) - jax.nn.one_hot(jnp.array([2]), 3), atol=1e-6
    )


def test_categorical_ce_out_of_range_labels_give_nan_under_jit():
    out = jax.jit(L.categorical_cross_entropy)(jnp.zeros((2, 3)), jnp.array([0, 3]))
    assert np.isnan(float(out))


@pytest.mark.parametrize(
    "loss", [L.mse, L.mae, L.binary_cross_entropy, L.binary_cross_entropy_with_logits]
)
def test_jit_and_grad(loss):
    p = jnp.array([0.2, 0.7, 0.4])
    t = jnp.array([0.0, 1.0, 1.0])
    np.testing.assert_allclose(jax.jit(loss)(p, t), loss(p, t), rtol=1e-6)
    assert np.all(np.isfinite(jax.grad(loss)(p, t)))


# ------------------------------------------------------------------ bad input

ELEMENTWISE = [L.mse, L.mae, L.binary_cross_entropy, L.binary_cross_entropy_with_logits]


@pytest.mark.parametrize("loss", ELEMENTWISE, ids=lambda f: f.__name__)
def test_mismatched_shapes_are_refused(loss):
    with pytest.raises(ValueError, match=r"shape \(4, 1\).*shape \(4,\).*must match exactly"):
        loss(jnp.full((4, 1), 0.5), jnp.ones(4))


@pytest.mark.parametrize(
    "loss", ELEMENTWISE + [L.categorical_cross_entropy], ids=lambda f: f.__name__
)
def test_non_array_input_is_refused(loss):
    with pytest.raises(TypeError, match=loss.__name__):
        loss("0.5", jnp.ones(1))


@pytest.mark.parametrize(
    "loss", ELEMENTWISE + [L.categorical_cross_entropy], ids=lambda f: f.__name__
)
def test_bad_reduction_is_refused(loss):
    with pytest.raises(ValueError, match="reduction='avg'"):
        loss(
            jnp.full((2, 2), 0.5),
            jnp.ones(2, dtype=int) if loss is L.categorical_cross_entropy else jnp.ones((2, 2)),
            reduction="avg",
        )


@pytest.mark.parametrize("loss", ELEMENTWISE, ids=lambda f: f.__name__)
def test_empty_mean_is_refused(loss):
    with pytest.raises(ValueError, match="empty"):
        loss(jnp.zeros(0), jnp.zeros(0))


def test_bce_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\].*with_logits"):
        L.binary_cross_entropy(jnp.array([2.5, -1.0]), jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        L.binary_cross_entropy_with_logits(jnp.array([2.5, -1.0]), jnp.array([2.0, 0.0]))
    with pytest.raises(ValueError, match="eps"):
        L.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]), eps=0.0)


def test_categorical_ce_bad_labels():
    logits = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*\[1, 4\]"):
        L.categorical_cross_entropy(logits, jnp.array([1, 2, 4]))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        L.categorical_cross_entropy(logits, jnp.array([0, -1, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        L.categorical_cross_entropy(logits, jnp.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels should have shape \(3,\)"):
        L.categorical_cross_entropy(logits, jnp.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match="class axis"):
        L.categorical_cross_entropy(1.0, jnp.array(0))
    with pytest.raises(TypeError, match="labels"):
        L.categorical_cross_entropy(logits, None)


# ------------------------------------------------------------------ plot.function_curves, plot.loss_surfaces


def test_plot_function_curves_and_loss_surfaces_smoke():
    from matplotlib.figure import Figure

    from leptonlab import plot

    x = jnp.linspace(-2.0, 2.0, 9)
    fig = plot.function_curves(
        x, {"MSE": x**2, "MAE": jnp.abs(x)}, xlabel="error", ylabel="loss", title="t"
    )
    assert isinstance(fig, Figure)
    xs, ys = jnp.array([0.0, 1.0, 2.0]), jnp.array([1.0, 3.0, 5.0])
    fig = plot.loss_surfaces(
        {"MSE": lambda w, b: L.mse(w * xs + b, ys), "MAE": lambda w, b: L.mae(w * xs + b, ys)},
        w_range=(0.0, 4.0),
        b_range=(-1.0, 3.0),
        num=7,
        mark=(2.0, 1.0),
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # two panels and their colour bars


def test_plot_function_curves_bad_input():
    from leptonlab import plot

    with pytest.raises(ValueError, match="curve 'a' has shape"):
        plot.function_curves(jnp.arange(3.0), {"a": jnp.arange(4.0)})
    with pytest.raises(TypeError, match="non-empty dict"):
        plot.function_curves(jnp.arange(3.0), [jnp.arange(3.0)])
    with pytest.raises(ValueError, match="1-D"):
        plot.function_curves(jnp.ones((2, 2)), {"a": jnp.ones((2, 2))})


def test_plot_loss_surfaces_bad_input():
    from leptonlab import plot

    with pytest.raises(TypeError, match="pair"):
        plot.loss_surfaces({"a": lambda w, b: w}, w_range=1.0, b_range=(0, 1))
    with pytest.raises(ValueError, match="low < high"):
        plot.loss_surfaces({"a": lambda w, b: w}, w_range=(1, 0), b_range=(0, 1))
    with pytest.raises(TypeError, match="not a function"):
        plot.loss_surfaces({"a": 3}, w_range=(0, 1), b_range=(0, 1), num=3)


# ------------------------------------------------------------------ label smoothing (notebook 16)


def test_smooth_labels_values():
    targets = L.smooth_labels(jnp.array([2, 0]), 4, 0.2)
    np.testing.assert_allclose(
        targets, [[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]], rtol=1e-6
    )
    np.testing.assert_allclose(targets.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(L.smooth_labels(jnp.array([1]), 3, 0.0), [[0.0, 1.0, 0.0]])


def test_smoothed_loss_against_hand_computation_and_plain_loss():
    state = linear_state()
    model = state.model()
    x = jax.random.normal(jax.random.key(1), (6, 3, 4, 2))
    y = jnp.array([0, 1, 2, 3, 4, 0])
    logp = jax.nn.log_softmax(model(x), axis=-1)  # [6, 5]
    eps = 0.1
    want = -((1 - eps) * logp[jnp.arange(6), y] + eps / 5 * logp.sum(axis=-1))  # [6]
    loss, metrics = L.SmoothedClassificationLoss(eps)(model, (x, y), jax.random.key(0))
    np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
    np.testing.assert_allclose(loss, want.mean(), rtol=1e-5)
    plain_loss, plain = L.classification_loss(model, (x, y), jax.random.key(0))
    np.testing.assert_allclose(metrics["nll"], plain["loss"], rtol=1e-6)
    np.testing.assert_array_equal(metrics["accuracy"], plain["accuracy"])
    zero, _ = L.SmoothedClassificationLoss(0.0)(model, (x, y), jax.random.key(0))
    np.testing.assert_allclose(zero, plain_loss, rtol=1e-6)


def test_smoothed_loss_is_hashable_and_trains():
    assert hash(L.SmoothedClassificationLoss(0.1)) == hash(L.SmoothedClassificationLoss(0.1))
    x = jax.random.normal(jax.random.key(0), (64, 2, 2, 1))
    y = (x.reshape(64, -1).sum(axis=-1) > 0).astype(jnp.int32)
    state, history = train.fit(
        Linear(4, 2, rngs=nnx.Rngs(0)),
        (x, y),
        train.TrainConfig(epochs=20, batch_size=16, learning_rate=0.05, progress=False),
        loss_fn=L.SmoothedClassificationLoss(0.1),
        val_data=(x, y),
    )
    assert history["val_accuracy"][-1] >= 0.9
    assert "val_nll" in history.names and history["val_loss"][-1] > history["val_nll"][-1] > 0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: L.SmoothedClassificationLoss(1.0),
            ValueError,
            r"smoothing must be a number in \[0, 1\)",
        ),
        (lambda: L.SmoothedClassificationLoss(-0.1), ValueError, "smoothing must be"),
        (
            lambda: L.smooth_labels(jnp.array([0]), 1, 0.1),
            ValueError,
            "num_classes must be an int >= 2",
        ),
        (
            lambda: L.smooth_labels(jnp.array([0]), 3, 1.5),
            ValueError,
            r"smoothing must be in \[0, 1\)",
        ),
        (lambda: L.smooth_labels(jnp.array([0.5]), 3, 0.1), TypeError, "integer class labels"),
    ],
)
def test_label_smoothing_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
