"""Saliency, integrated gradients (completeness), FGSM and adversarial training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab import explain
from leptonlab.models import CNN, MLP
from leptonlab.train import TrainConfig, fit


def quadratic(x):
    """logits [B, 2] of x [B, 2, 2, 1]: class 0 = sum(w * x^2), class 1 = sum(x)."""
    w = jnp.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    flat = lambda a: a.reshape(a.shape[0], -1).sum(axis=1)
    return jnp.stack([flat(w * x**2), flat(x)], axis=1)


@pytest.fixture(scope="module")
def small_cnn():
    return CNN(3, 4, image_size=8, channels=(4,), dense=8, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def small_mlp():
    """A nonlinear classifier of [B, 8, 8, 3] images that compiles fast."""
    return MLP(8 * 8 * 3, [16], 4, activation="tanh", rngs=nnx.Rngs(0))


def test_saliency_is_the_input_gradient():
    x = jax.random.uniform(jax.random.key(0), (3, 2, 2, 1))
    w = jnp.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    np.testing.assert_allclose(explain.saliency(quadratic, x, 0), 2 * w * x, rtol=1e-6)
    np.testing.assert_allclose(
        explain.saliency(quadratic, x, jnp.array([1, 1, 1])), jnp.ones_like(x)
    )


def test_integrated_gradients_exact_for_a_quadratic():
    # d/dx_i of w x^2 along the path a*x is 2 w a x: the integral over a is w x, times x -> w x^2.
    x = jax.random.uniform(jax.random.key(1), (2, 2, 2, 1))
    w = jnp.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    ig = explain.integrated_gradients(
        quadratic, x, 0, steps=4
    )  # trapezoid is exact for a linear integrand
    np.testing.assert_allclose(ig, w * x**2, rtol=1e-5)


def test_integrated_gradients_completeness_on_a_cnn(small_cnn):
    fn = explain.as_function(small_cnn)
    x = jax.random.uniform(jax.random.key(2), (3, 8, 8, 3))
    target = jnp.array([0, 1, 3])
    change = fn(x)[jnp.arange(3), target] - fn(jnp.zeros_like(x))[jnp.arange(3), target]
    ig = explain.integrated_gradients(fn, x, target, steps=128)
    gap = explain.completeness_gap(fn, x, target, ig)
    assert ig.shape == x.shape
    assert jnp.all(jnp.abs(gap) <= 0.01 * jnp.abs(change) + 1e-4), (gap, change)
    # a coarse integral is measurably worse: the check can fail
    gap_coarse = explain.completeness_gap(
        fn, x, target, explain.integrated_gradients(fn, x, target, steps=1)
    )
    assert jnp.max(jnp.abs(gap_coarse)) > jnp.max(jnp.abs(gap))


def test_integrated_gradients_with_a_baseline():
    x = jnp.full((1, 2, 2, 1), 0.8)
    base = jnp.full((1, 2, 2, 1), 0.3)
    ig = explain.integrated_gradients(quadratic, x, 1, baseline=base, steps=2)
    np.testing.assert_allclose(ig, x - base, rtol=1e-6)  # f = sum(x): IG_i = x_i - x'_i
    assert abs(float(explain.completeness_gap(quadratic, x, 1, ig, baseline=base)[0])) < 1e-5


def test_explain_bad_input(small_mlp):
    fn = explain.as_function(small_mlp)
    x = jnp.zeros((2, 8, 8, 3))
    with pytest.raises(ValueError, match="target"):
        explain.saliency(fn, x, jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match="float"):
        explain.saliency(fn, x.astype(jnp.uint8), 0)
    with pytest.raises(ValueError, match="steps"):
        explain.integrated_gradients(fn, x, 0, steps=0)
    with pytest.raises(TypeError, match="function"):
        explain.saliency("model", x, 0)
    with pytest.raises(TypeError, match="TrainState"):
        explain.as_function(lambda x: x)
    with pytest.raises(ValueError, match="broadcast"):
        explain.integrated_gradients(fn, x, 0, baseline=jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="input's shape"):
        explain.completeness_gap(fn, x, 0, jnp.zeros((2, 8, 8)))


def test_fgsm_moves_each_pixel_by_epsilon_and_raises_the_loss(small_mlp):
    fn = explain.as_function(small_mlp)
    x = jax.random.uniform(jax.random.key(3), (16, 8, 8, 3), minval=0.2, maxval=0.8)
    y = jnp.argmax(fn(x), axis=-1)  # attack the model's own predictions
    x_adv = explain.fgsm(fn, x, y, epsilon=0.05)
    np.testing.assert_allclose(jnp.abs(x_adv - x), 0.05, atol=1e-6)  # no pixel was clipped here
    ce = lambda z: -jax.nn.log_softmax(fn(z))[jnp.arange(16), y].mean()
    assert ce(x_adv) > ce(x)
    clipped = explain.fgsm(fn, x, y, epsilon=0.5)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    assert jnp.array_equal(explain.fgsm(fn, x, y, epsilon=0.0), x)


def test_fgsm_bad_input(small_mlp):
    fn = explain.as_function(small_mlp)
    x = jnp.zeros((2, 8, 8, 3))
    with pytest.raises(ValueError, match="epsilon"):
        explain.fgsm(fn, x, jnp.array([0, 1]), epsilon=-0.1)
    with pytest.raises(ValueError, match="epsilon"):
        explain.fgsm(fn, x, jnp.array([0, 1]), epsilon=float("nan"))
    with pytest.raises(ValueError, match="labels"):
        explain.fgsm(fn, x, jnp.array([0, 1, 2]), epsilon=0.1)
    with pytest.raises(ValueError, match="labels"):
        explain.fgsm(fn, x, jnp.array([0.0, 1.0]), epsilon=0.1)
    with pytest.raises(ValueError, match="clip"):
        explain.fgsm(fn, x, jnp.array([0, 1]), epsilon=0.1, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match="epsilons"):
        explain.accuracy_under_attack(fn, x, jnp.array([0, 1]), [])
    with pytest.raises(ValueError, match="clean_weight"):
        explain.adversarial_loss(0.1, clean_weight=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        explain.adversarial_loss(-1.0)


def test_accuracy_under_attack_falls_with_epsilon(small_mlp):
    fn = explain.as_function(small_mlp)
    x = jax.random.uniform(jax.random.key(4), (40, 8, 8, 3))
    y = jnp.argmax(fn(x), axis=-1)
    acc = explain.accuracy_under_attack(fn, x, y, [0.0, 0.1, 0.3], batch_size=16)
    assert acc[0] == 1.0 and acc[2] < 1.0 and acc.shape == (3,)


def test_adversarial_training_step_runs_and_learns():
    key_x, key_w = jax.random.split(jax.random.key(5))
    x = jax.random.uniform(key_x, (64, 8, 8, 3))
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(
        jnp.int32
    )  # top vs bottom half
    model = MLP(8 * 8 * 3, [16], 2, dropout=0.1, rngs=nnx.Rngs(0))
    config = TrainConfig(epochs=8, batch_size=16, learning_rate=1e-2, progress=False)
    state, history = fit(model, (x, y), config, loss_fn=explain.adversarial_loss(0.02))
    assert np.all(np.isfinite(history["train_loss"]))
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_plots_draw_and_reject_bad_input():
    from matplotlib.figure import Figure

    from leptonlab import metrics, plot

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    probs = jax.nn.softmax(jnp.asarray(rng.normal(size=(60, 3)) + 2 * np.eye(3)[y]))
    ovr = metrics.one_vs_rest_roc(y, probs)
    assert isinstance(
        plot.roc_curves({f"class {c}": (ovr.fpr[c], ovr.tpr[c]) for c in range(3)}), Figure
    )
    p, r, _ = metrics.precision_recall_curve(y == 0, np.asarray(probs[:, 0]))
    assert isinstance(plot.precision_recall({"class 0": (r, p)}), Figure)
    assert isinstance(plot.reliability_diagram(metrics.reliability(probs, y), ece=0.1), Figure)
    images = rng.uniform(size=(2, 8, 8, 3))
    assert isinstance(
        plot.saliency_overlays(images, {"saliency": images, "IG": images[..., 0]}), Figure
    )
    assert isinstance(
        plot.adversarial_examples(images, images, ["a", "b"], ["a", "c"], epsilon=0.1), Figure
    )
    assert isinstance(plot.accuracy_vs_epsilon([0, 0.1], {"plain": [0.9, 0.2]}), Figure)
    assert isinstance(
        plot.embedding_projection(rng.normal(size=(60, 2)), y, class_names=["a", "b", "c"]), Figure
    )
    assert isinstance(plot.verification_scores(rng.normal(size=60), y == 0, 0.2), Figure)
    with pytest.raises(ValueError, match="non-empty dict"):
        plot.roc_curves({})
    with pytest.raises(ValueError, match="same length"):
        plot.roc_curves({"a": ([0, 1], [0, 0.5, 1])})
    with pytest.raises(ValueError, match="metrics.reliability"):
        plot.reliability_diagram(None)
    with pytest.raises(ValueError, match="expected"):
        plot.saliency_overlays(images, images[:, :4])
    with pytest.raises(ValueError, match="accuracies"):
        plot.accuracy_vs_epsilon([0, 0.1], {"plain": [0.9]})
    with pytest.raises(ValueError, match="points"):
        plot.embedding_projection(rng.normal(size=(60, 3)), y)
    with pytest.raises(ValueError, match="genuine"):
        plot.verification_scores(rng.normal(size=60), np.ones(60, bool), 0.2)


def test_check_expected_calibration_error(capsys):
    from leptonlab import checks, metrics

    def reference(confidence, correct, n_bins):
        probs = np.stack(
            [confidence, 1 - confidence], axis=1
        )  # class 0 is the prediction (confidence >= 0.5)
        return metrics.expected_calibration_error(probs, np.where(correct, 0, 1), n_bins=n_bins)

    checks.expected_calibration_error(reference)
    assert "✓ expected_calibration_error" in capsys.readouterr().out

    def stub(confidence, correct, n_bins):
        raise NotImplementedError()

    def unweighted(confidence, correct, n_bins):
        bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
        gaps = [
            abs(correct[bins == b].mean() - confidence[bins == b].mean())
            for b in range(n_bins)
            if (bins == b).any()
        ]
        return float(np.mean(gaps))

    with pytest.raises(checks.CheckFailed, match="not written yet"):
        checks.expected_calibration_error(stub)
    with pytest.raises(checks.CheckFailed, match="share of the predictions"):
        checks.expected_calibration_error(unweighted)
    with pytest.raises(checks.CheckFailed, match="absolute gap"):
        checks.expected_calibration_error(lambda c, k, n: abs(k.mean() - c.mean()))


def test_check_fgsm_perturb(capsys):
    from leptonlab import checks

    checks.fgsm_perturb(lambda x, g, eps: jnp.clip(x + eps * jnp.sign(g), 0.0, 1.0))
    assert "✓ fgsm_perturb" in capsys.readouterr().out

    def stub(x, g, eps):
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed, match="not written yet"):
        checks.fgsm_perturb(stub)
    with pytest.raises(checks.CheckFailed, match="down the loss"):
        checks.fgsm_perturb(lambda x, g, eps: jnp.clip(x - eps * jnp.sign(g), 0.0, 1.0))
    with pytest.raises(checks.CheckFailed, match="sign"):
        checks.fgsm_perturb(lambda x, g, eps: jnp.clip(x + eps * g, 0.0, 1.0))
    with pytest.raises(checks.CheckFailed, match="valid range"):
        checks.fgsm_perturb(lambda x, g, eps: x + eps * jnp.sign(g))
