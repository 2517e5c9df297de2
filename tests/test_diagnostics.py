"""leptonlab.diagnostics (notebook 09): initialisation, per-layer statistics, dead ReLUs and the
learning-rate range test; the exercise checks of leptonlab.checks._init; the two figures.

The margins come from the variance argument: a ReLU layer of width n whose weights have variance
s^2 multiplies the mean square of the signal by n s^2 / 2 (He: 1, so the signal keeps its scale).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from matplotlib.figure import Figure

from leptonlab import checks, diagnostics, plot
from leptonlab.checks import CheckFailed
from leptonlab.losses import classification_loss, regression_loss
from leptonlab.models import MLP

WIDTH, DEPTH, BATCH = 256, 20, 512


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.fixture(scope="module")
def gaussian_batch():
    x = jax.random.normal(jax.random.key(1), (BATCH, WIDTH))  # [B, 256], unit variance
    y = jax.random.randint(jax.random.key(2), (BATCH,), 0, 10)  # [B]
    return x, y


@pytest.fixture(scope="module")
def deep_stats(gaussian_batch):
    """LayerStats of a 20-hidden-layer ReLU MLP (width 256) for each initialisation."""
    x, y = gaussian_batch
    inits = {"naive 0.01": 0.01, "naive 1": 1.0, "xavier": "xavier", "he": "he"}
    return {
        name: diagnostics.layer_stats(
            diagnostics.mlp_with_init(WIDTH, [WIDTH] * DEPTH, 10, init, key=jax.random.key(0)), x, y
        )
        for name, init in inits.items()
    }


# --------------------------------------------------------------------------- init_std, mlp_with_init


def test_init_std_follows_the_formulas():
    assert diagnostics.init_std("he", 784, 256) == pytest.approx(math.sqrt(2 / 784))
    assert diagnostics.init_std("xavier", 784, 256) == pytest.approx(math.sqrt(2 / 1040))
    assert diagnostics.init_std("lecun", 784, 256) == pytest.approx(math.sqrt(1 / 784))
    assert diagnostics.init_std(0.01, 784, 256) == 0.01
    # square layers: Xavier is LeCun, He is sqrt(2) times LeCun
    assert diagnostics.init_std("xavier", 256, 256) == pytest.approx(
        diagnostics.init_std("lecun", 256, 256)
    )
    assert diagnostics.init_std("he", 256, 256) == pytest.approx(
        math.sqrt(2) * diagnostics.init_std("lecun", 256, 256)
    )


@pytest.mark.parametrize(
    "init, n_in, n_out, error, words",
    [
        ("kaiming", 10, 10, ValueError, "unknown initialisation"),
        (-0.1, 10, 10, ValueError, "must be > 0"),
        (float("nan"), 10, 10, ValueError, "must be > 0"),
        (True, 10, 10, TypeError, "standard deviation"),
        (None, 10, 10, TypeError, "standard deviation"),
        ("he", 0, 10, ValueError, "n_in must be a positive integer"),
        ("he", 10, 2.5, ValueError, "n_out must be a positive integer"),
    ],
)
def test_init_std_rejects_bad_input(init, n_in, n_out, error, words):
    with pytest.raises(error, match=words):
        diagnostics.init_std(init, n_in, n_out)


def test_mlp_with_init_draws_the_kernels_with_that_std():
    model = diagnostics.mlp_with_init(784, [256, 128], 10, "he", key=jax.random.key(3), bias=-0.5)
    for layer, (n_in, n_out) in zip(model.layers, [(784, 256), (256, 128), (128, 10)]):
        kernel = np.asarray(layer.kernel[...])
        assert kernel.shape == (n_in, n_out)
        # the sample std of k normal draws is within a few times 1/sqrt(2k) of the true one (relative)
        tolerance = 5 / math.sqrt(2 * kernel.size)
        assert kernel.std() == pytest.approx(math.sqrt(2 / n_in), rel=tolerance)
        assert abs(kernel.mean()) < 5 * math.sqrt(2 / n_in) / math.sqrt(kernel.size)
        assert np.all(np.asarray(layer.bias[...]) == -0.5)
    again = diagnostics.mlp_with_init(784, [256, 128], 10, "he", key=jax.random.key(3), bias=-0.5)
    other = diagnostics.mlp_with_init(784, [256, 128], 10, "he", key=jax.random.key(4))
    assert np.array_equal(model.layers[0].kernel[...], again.layers[0].kernel[...])
    assert not np.array_equal(model.layers[0].kernel[...], other.layers[0].kernel[...])
    # layers draw from different keys: two equal-shaped kernels are not copies of each other
    square = diagnostics.mlp_with_init(8, [8, 8], 8, 1.0, key=jax.random.key(0))
    assert not np.allclose(square.layers[0].kernel[...], square.layers[1].kernel[...])


def test_mlp_with_init_needs_a_key():
    with pytest.raises(TypeError, match="PRNG key"):
        diagnostics.mlp_with_init(4, [4], 2, "he", key=0)
    with pytest.raises(ValueError, match="positive integer"):
        diagnostics.mlp_with_init(4, [0], 2, "he", key=jax.random.key(0))


# --------------------------------------------------------------------------- layer_stats: the maths


def test_he_keeps_the_activation_scale_through_20_relu_layers(deep_stats):
    he = deep_stats["he"]
    assert (
        he.depth == DEPTH and he.grad_std.shape == (DEPTH + 1,) and he.delta_std.shape == (DEPTH,)
    )
    # n * (2/n) / 2 = 1 per layer; the finite width makes a random walk of a few tens of percent
    ratio = he.act_std[-1] / he.act_std[0]
    assert 1 / 3 < ratio < 3, ratio
    assert np.all((he.act_std > he.act_std[0] / 3) & (he.act_std < 3 * he.act_std[0]))
    # the backward signal too: each step back multiplies its variance by n * (2/n) / 2 = 1
    assert 1 / 3 < he.delta_std[0] / he.delta_std[-1] < 3


def test_naive_small_init_vanishes_and_large_init_explodes(deep_stats):
    small, large = deep_stats["naive 0.01"], deep_stats["naive 1"]
    # per layer the std is multiplied by sqrt(n s^2 / 2): 0.113 for s = 0.01, 11.3 for s = 1;
    # over the 19 layers after the first that is 1e-18 and 1e+20
    per_layer_small, per_layer_large = math.sqrt(WIDTH * 0.01**2 / 2), math.sqrt(WIDTH / 2)
    assert small.act_std[-1] / small.act_std[0] == pytest.approx(per_layer_small**19, rel=0.9)
    assert small.act_std[-1] / small.act_std[0] < 1e-15
    assert large.act_std[-1] / large.act_std[0] == pytest.approx(per_layer_large**19, rel=0.9)
    assert large.act_std[-1] / large.act_std[0] > 1e17
    assert np.all(np.isfinite(large.act_std))  # 1e20 is within float32; the std is computed scaled
    # backward: the first layer's signal has passed back through 19 layers
    assert small.delta_std[0] / small.delta_std[-1] < 1e-15
    assert large.delta_std[0] / large.delta_std[-1] > 1e17
    # with a ReLU, Xavier on square layers (variance 1/n) halves the mean square at every layer
    xavier = deep_stats["xavier"]
    assert 0.1 * 0.5**9.5 < xavier.act_std[-1] / xavier.act_std[0] < 10 * 0.5**9.5
    # a naive init's first-layer gradient is orders of magnitude below He's
    assert small.grad_std[0] < 1e-12 * deep_stats["he"].grad_std[0]


def test_layer_stats_loss_is_the_models_loss_for_every_activation(gaussian_batch):
    x, y = gaussian_batch
    for activation in ("relu", "tanh", "sigmoid", "gelu"):
        model = MLP(WIDTH, [32, 16], 10, activation=activation, rngs=nnx.Rngs(0))
        stats = diagnostics.layer_stats(model, x, y)
        want, _ = classification_loss(model, (x, y), jax.random.key(0))
        assert stats.loss == pytest.approx(float(want), rel=1e-5), activation
        assert stats.depth == 2 and np.all(stats.act_std > 0)


def test_dead_fraction_counts_units_zero_on_every_example_and_they_pass_no_gradient(
    gaussian_batch,
):
    x, y = gaussian_batch
    model = diagnostics.mlp_with_init(WIDTH, [64, 64, 64], 10, "he", key=jax.random.key(0))
    model.layers[0].bias[...] = jnp.where(jnp.arange(64) < 16, -1e3, 0.0)  # 16 of 64 never fire
    model.layers[1].bias[...] = jnp.full((64,), -1e3)  # the whole second layer never fires
    stats = diagnostics.layer_stats(model, x, y)
    assert stats.dead_fraction[0] == 0.25 and stats.dead_fraction[1] == 1.0
    assert stats.dead_fraction[2] == 1.0  # its input is all zeros: relu(0 @ W + 0) = 0 everywhere
    # nothing reaches the first two kernels through a layer that is all zero
    assert stats.grad_std[0] == 0 and stats.grad_std[1] == 0 and stats.delta_std[0] == 0
    # a healthy layer: about half of the entries are 0, but no unit is zero on all 512 examples
    healthy = diagnostics.layer_stats(
        diagnostics.mlp_with_init(WIDTH, [64], 10, "he", key=jax.random.key(0)), x, y
    )
    assert healthy.dead_fraction[0] == 0 and healthy.act_mean[0] > 0


def test_dead_fraction_at_init_does_not_depend_on_the_scale(deep_stats):
    # ReLU(c z) = c ReLU(z): which units are zero is the same for every std, with the same draws
    fractions = [s.dead_fraction for s in deep_stats.values()]
    assert all(np.array_equal(fractions[0], f) for f in fractions[1:])


@pytest.mark.parametrize(
    "make, x, y, error, words",
    [
        (lambda: "model", np.ones((4, 3)), np.zeros(4, int), TypeError, "leptonlab.models.MLP"),
        (lambda: MLP(3, [], 2, rngs=nnx.Rngs(0)), np.ones((4, 3)), np.zeros(4, int), ValueError, "no hidden layer"),
        (lambda: MLP(3, [4], 2, rngs=nnx.Rngs(0)), np.ones((4, 5)), np.zeros(4, int), ValueError, "3 input features"),
        (lambda: MLP(3, [4], 2, rngs=nnx.Rngs(0)), np.ones((1, 3)), np.zeros(1, int), ValueError, "at least 2"),
        (lambda: MLP(3, [4], 2, rngs=nnx.Rngs(0)), np.ones((4, 3)), np.zeros(4), ValueError, "integer class labels"),
        (lambda: MLP(3, [4], 2, rngs=nnx.Rngs(0)), np.ones((4, 3)), np.full(4, 2), ValueError, r"\[0, 2\)"),
        (lambda: MLP(3, [4], 2, rngs=nnx.Rngs(0)), np.ones((4, 3)), np.zeros(3, int), ValueError, "same number"),
    ],
)  # fmt: skip
def test_layer_stats_rejects_bad_input(make, x, y, error, words):
    with pytest.raises(error, match=words):
        diagnostics.layer_stats(make(), x, y)


# --------------------------------------------------------------------------- the learning-rate range test


def _whitened_regression(n=256, d=4):
    """x: [n, d] with centred, orthogonal columns and x^T x / n = I; y = x w + 0.7 + noise: [n, 1].

    The mean squared error then has Hessian 2 I (weights and bias alike), so plain gradient
    descent on the full batch contracts every direction for a rate below 1, converges in one step
    at 0.5, and diverges above 1.
    """
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(a - a.mean(axis=0))
    x = math.sqrt(n) * q  # [n, d]
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.7 + 0.1 * rng.normal(size=n)
    return jnp.asarray(x, jnp.float32), jnp.asarray(y[:, None], jnp.float32)


@pytest.mark.parametrize("smoothing", [0.0, 0.9])
def test_lr_range_test_finds_the_good_rate_of_a_problem_where_it_is_known(smoothing):
    data = _whitened_regression()
    model = MLP(4, [], 1, rngs=nnx.Rngs(0))
    before = np.asarray(model.layers[0].kernel[...]).copy()
    result = diagnostics.lr_range_test(
        model, data, key=jax.random.key(0), lr_min=1e-3, lr_max=1e2, steps=100,
        batch_size=256, loss_fn=regression_loss, smoothing=smoothing,
    )  # fmt: skip
    assert np.array_equal(model.layers[0].kernel[...], before)  # the model itself is not trained
    rates = result.learning_rates
    assert np.allclose(rates, 1e-3 * (1e5) ** (np.arange(len(rates)) / 99))
    # below a rate of 1 every step shrinks the loss: it cannot rise by 4x before 1
    assert result.diverged_at is not None and 1.0 < result.diverged_at < 10.0
    assert rates[-1] == result.diverged_at and len(rates) < 100
    # the loss fell to the noise floor (variance 0.01) on the way
    assert result.losses.min() < 0.02 < result.losses[0]
    # the suggestion is a stable rate, within a factor 10 of the best one (0.5)
    assert 0.05 < result.suggested < 1.0 and result.lr_at_min <= result.diverged_at
    again = diagnostics.lr_range_test(
        model, data, key=jax.random.key(0), lr_min=1e-3, lr_max=1e2, steps=100,
        batch_size=256, loss_fn=regression_loss, smoothing=smoothing,
    )  # fmt: skip
    assert np.array_equal(result.losses, again.losses)  # same key, same test


def test_lr_range_test_without_divergence_says_so():
    result = diagnostics.lr_range_test(
        MLP(4, [], 1, rngs=nnx.Rngs(0)), _whitened_regression(), key=jax.random.key(0),
        lr_min=1e-4, lr_max=0.5, steps=40, batch_size=256, loss_fn=regression_loss,
    )  # fmt: skip
    assert result.diverged_at is None and len(result.losses) == 40
    assert result.learning_rates[-1] == pytest.approx(0.5)


def test_lr_range_test_on_classification_with_adam(gaussian_batch):
    x, y = gaussian_batch
    model = diagnostics.mlp_with_init(WIDTH, [32], 10, "he", key=jax.random.key(0))
    result = diagnostics.lr_range_test(
        model, (x, y), key=jax.random.key(1), lr_min=1e-5, lr_max=10.0, steps=60, optimizer="adam"
    )
    assert (
        result.diverged_at is not None and result.suggested < result.lr_at_min < result.diverged_at
    )
    assert result.smoothed.min() < 0.8 * result.smoothed[0]  # the loss fell before it blew up


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"model": "mlp"}, TypeError, "flax.nnx.Module"),
        ({"key": 0}, TypeError, "PRNG key"),
        ({"lr_min": 1.0, "lr_max": 0.1}, ValueError, "lr_min < lr_max"),
        ({"lr_min": 0.0}, ValueError, "lr_min < lr_max"),
        ({"steps": 1}, ValueError, "steps must be an int >= 2"),
        ({"optimizer": "lion"}, ValueError, "unknown optimizer"),
        ({"smoothing": 1.0}, ValueError, "smoothing"),
        ({"diverge_factor": 1.0}, ValueError, "diverge_factor"),
        ({"batch_size": 300}, ValueError, r"batch_size must be an int in \[1, 256\]"),
        ({"data": (np.ones((4, 4)), np.ones((3, 1)))}, ValueError, "same number"),
    ],
)
def test_lr_range_test_rejects_bad_input(kwargs, error, words):
    args = {
        "model": MLP(4, [], 1, rngs=nnx.Rngs(0)),
        "data": _whitened_regression(),
        "key": jax.random.key(0),
        "loss_fn": regression_loss,
        "batch_size": 32,
    }
    args.update(kwargs)
    model, data = args.pop("model"), args.pop("data")
    with pytest.raises(error, match=words):
        diagnostics.lr_range_test(model, data, **args)


# --------------------------------------------------------------------------- the checks (leptonlab.checks._init)


def ref_init_std(init, n_in, n_out):
    return math.sqrt(2.0 / n_in) if init == "he" else math.sqrt(2.0 / (n_in + n_out))


def ref_dead_fraction(h):
    return jnp.mean(jnp.all(h == 0, axis=0))


@pytest.mark.parametrize(
    "check, reference", [(checks.init_std, ref_init_std), (checks.dead_fraction, ref_dead_fraction)]
)
def test_checks_pass_on_the_reference_and_fail_on_a_stub(check, reference, capsys):
    assert check(reference) is None and "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


def test_the_package_init_std_passes_the_check(capsys):
    checks.init_std(diagnostics.init_std)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda init, n_in, n_out: ref_init_std(init, n_in, n_out) ** 2, "the variance"),
        (
            lambda init, n_in, n_out: math.sqrt(2 / n_out) if init == "he" else ref_init_std(init, n_in, n_out),
            "uses n_out",
        ),
        (lambda init, n_in, n_out: math.sqrt(1 / n_in), "LeCun"),
        (lambda init, n_in, n_out: math.sqrt(2 / n_in), "He's value"),
        (
            lambda init, n_in, n_out: math.sqrt(1 / (n_in + n_out)) if init == "xavier" else ref_init_std(init, n_in, n_out),
            "half of Xavier's variance",
        ),
        (lambda init, n_in, n_out: 0.01, "expected"),
        (lambda init, n_in, n_out: np.full(3, 0.1), "one number"),
        (lambda init, n_in, n_out: float("inf"), "overflow"),
    ],
)  # fmt: skip
def test_init_std_check_names_the_usual_mistakes(wrong, words):
    with pytest.raises(CheckFailed, match=words) as info:
        checks.init_std(wrong)
    assert "Hint" in str(info.value)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda h: jnp.mean(h == 0), "zero \\*entries\\*"),
        (lambda h: jnp.sum(jnp.all(h == 0, axis=0)), "number of dead units"),
        (lambda h: jnp.mean(jnp.any(h == 0, axis=0)), "on \\*some\\* example"),
        (lambda h: jnp.mean(jnp.all(h == 0, axis=1)), "the units are the columns"),
        (lambda h: jnp.all(h == 0, axis=0), "shape \\(8,\\)"),
        (lambda h: jnp.mean(jnp.all(h < 0, axis=0)), "3 of 8 units"),
    ],
)
def test_dead_fraction_check_names_the_usual_mistakes(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        checks.dead_fraction(wrong)


def test_dead_fraction_check_wants_zero_for_a_live_layer():
    def counts_the_3_dead_units_by_position(h):  # right on the first input, wrong on the second
        return 0.375

    with pytest.raises(CheckFailed, match="expected 0"):
        checks.dead_fraction(counts_the_3_dead_units_by_position)


# --------------------------------------------------------------------------- the figures


def test_figures(deep_stats):
    assert isinstance(plot.layer_stats(deep_stats, title="20 ReLU layers"), Figure)
    result = diagnostics.lr_range_test(
        MLP(4, [], 1, rngs=nnx.Rngs(0)), _whitened_regression(), key=jax.random.key(0),
        lr_min=1e-3, lr_max=1e2, steps=60, batch_size=256, loss_fn=regression_loss,
    )  # fmt: skip
    assert isinstance(plot.lr_range_test(result), Figure)
    with pytest.raises(ValueError, match="at least one entry"):
        plot.layer_stats({})
    with pytest.raises(TypeError, match="not a LayerStats"):
        plot.layer_stats({"he": [1, 2, 3]})
    with pytest.raises(TypeError, match="LRRangeResult"):
        plot.lr_range_test(deep_stats["he"])
