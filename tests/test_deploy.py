"""leptonlab.deploy: quantisation error bounds, exact pruning, distillation loss, drift monitor, checks, plots."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from matplotlib.figure import Figure

from leptonlab import checks, deploy, plot
from leptonlab.checks import CheckFailed
from leptonlab.models import CNN, MLP
from leptonlab.train import TrainConfig, TrainState


# ---------------------------------------------------------------- int8 quantisation


@pytest.mark.parametrize("shape, axis", [((16, 4), -1), ((3, 3, 2, 8), -1), ((5, 7), 0), ((9,), 0)])
def test_dequantised_weights_are_within_half_a_step(shape, axis):
    w = jax.random.normal(jax.random.key(1), shape) * jnp.linspace(0.01, 3.0, shape[axis]).reshape(
        [-1 if a == axis % len(shape) else 1 for a in range(len(shape))]
    )
    q = deploy.quantize_int8(w, axis=axis)
    assert q.values.dtype == jnp.int8 and q.values.shape == w.shape
    assert q.scale.shape[axis] == shape[axis] and q.scale.size == shape[axis]
    assert int(jnp.abs(q.values.astype(jnp.int32)).max()) <= 127
    error = jnp.abs(w - deploy.dequantize(q))
    assert bool(jnp.all(error <= q.scale * (0.5 + 2e-5)))  # half a step, up to float32 rounding
    # the largest weight of each channel is represented exactly by +-127
    others = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    assert bool(jnp.all(jnp.abs(q.values.astype(jnp.int32)).max(axis=others) == 127))


def test_per_channel_scales_beat_one_scale_for_the_whole_tensor():
    w = jnp.stack([jnp.linspace(-0.01, 0.01, 50), jnp.linspace(-5, 5, 50)], axis=1)  # [50, 2]
    per_channel = jnp.abs(w - deploy.dequantize(deploy.quantize_int8(w)))[:, 0].max()
    per_tensor = jnp.abs(
        w - deploy.dequantize(deploy.quantize_int8(w.reshape(-1, 1))).reshape(w.shape)
    )[:, 0].max()
    assert per_channel < per_tensor / 100


def test_an_all_zero_channel_quantises_to_zero():
    w = jnp.zeros((4, 3)).at[:, 1].set(jnp.array([1.0, -2.0, 0.5, 0.0]))
    q = deploy.quantize_int8(w)
    assert bool(jnp.all(jnp.isfinite(q.scale)))
    np.testing.assert_array_equal(deploy.dequantize(q)[:, [0, 2]], 0.0)


@pytest.mark.parametrize(
    "w, kwargs, error, message",
    [
        (jnp.arange(6).reshape(2, 3), {}, TypeError, "expects a float array"),
        (jnp.float32(1.0), {}, ValueError, "got a scalar"),
        (jnp.ones((2, 3)), {"axis": 2}, ValueError, "out of range"),
        (jnp.array([[1.0, jnp.nan]]), {}, ValueError, "NaN or infinity"),
    ],
)
def test_quantize_rejects_bad_input(w, kwargs, error, message):
    with pytest.raises(error, match=message):
        deploy.quantize_int8(w, **kwargs)


def test_dequantize_rejects_other_things():
    with pytest.raises(TypeError, match="QuantizedArray"):
        deploy.dequantize(jnp.ones(3))


def _small_cnn(seed=0, **kwargs):
    return CNN(image_size=8, channels=(4,), dense=8, rngs=nnx.Rngs(seed), **kwargs)


def test_quantized_model_is_about_4x_smaller_and_predicts_nearly_the_same():
    model = _small_cnn(batch_norm=True)
    model.eval()
    model_q, qparams = deploy.quantize_model(model)
    float_bytes = deploy.nbytes(nnx.state(model, nnx.Param))
    assert deploy.nbytes(qparams) < float_bytes / 3
    kernel = nnx.state(model, nnx.Param)["hidden"]["kernel"][...]  # [64, 8]
    q = qparams["hidden"]["kernel"]
    assert isinstance(q, deploy.QuantizedArray) and q.nbytes == kernel.size + 4 * 8
    x = jax.random.uniform(jax.random.key(2), (5, 8, 8))
    model_q.eval()
    np.testing.assert_allclose(model_q(x), model(x), atol=0.05)
    assert not np.allclose(model_q(x), model(x), atol=0)  # it really is quantised
    with pytest.raises(TypeError, match="nnx.Module"):
        deploy.quantize_model(nnx.state(model))
    with pytest.raises(ValueError, match="no arrays"):
        deploy.nbytes({})


# ---------------------------------------------------------------- pruning


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.9])
def test_pruning_removes_exactly_the_requested_fraction(scope, fraction):
    model = _small_cnn()
    pruned, masks = deploy.prune(model, fraction, scope=scope)
    params = nnx.state(pruned, nnx.Param)
    weights = [leaf for leaf in jax.tree.leaves(params) if leaf.ndim >= 2]
    n_total = sum(w.size for w in weights)
    zeros = sum(int(jnp.sum(w == 0)) for w in weights)
    if scope == "global":
        assert zeros == round(fraction * n_total)
    else:
        assert zeros == sum(round(fraction * w.size) for w in weights)
        for name, s in deploy.layer_sparsity(params).items():  # every layer loses the same fraction
            assert abs(s - fraction) <= 1 / min(w.size for w in weights), (name, s)
    assert deploy.sparsity(params) == pytest.approx(zeros / n_total)
    for name in ("bias",):  # biases are never pruned
        np.testing.assert_array_equal(
            params["hidden"][name][...], nnx.state(model, nnx.Param)["hidden"][name][...]
        )


def test_global_pruning_removes_the_smallest_magnitudes():
    params = {
        "a": jnp.array([[3.0, -0.1], [0.2, -4.0]]),
        "b": jnp.array([[-0.05, 1.0, 0.3]]),
        "bias": jnp.ones(2),
    }
    masks = deploy.magnitude_masks(params, 3 / 7)
    np.testing.assert_array_equal(masks["a"], [[1, 0], [0, 1]])  # 0.05, 0.1 and 0.2 go
    np.testing.assert_array_equal(masks["b"], [[0, 1, 1]])
    np.testing.assert_array_equal(masks["bias"], [1, 1])
    layer = deploy.magnitude_masks(params, 0.5, scope="layer")
    np.testing.assert_array_equal(layer["a"], [[1, 0], [0, 1]])
    assert int(layer["b"].sum()) == 1  # round(1.5) = 2 of 3 removed: only the largest stays
    pruned = deploy.apply_masks(params, masks)
    assert deploy.sparsity(pruned) == pytest.approx(3 / 7)


def test_ties_are_broken_so_the_count_stays_exact():
    params = {"w": jnp.ones((10, 10))}
    assert int(jnp.sum(deploy.magnitude_masks(params, 0.37)["w"] == 0)) == 37


@pytest.mark.parametrize(
    "fraction, scope, error, message",
    [
        (1.0, "global", ValueError, r"in \[0, 1\)"),
        (-0.1, "global", ValueError, r"in \[0, 1\)"),
        ("half", "global", TypeError, "must be a number"),
        (0.5, "model", ValueError, "unknown scope"),
    ],
)
def test_pruning_rejects_bad_input(fraction, scope, error, message):
    with pytest.raises(error, match=message):
        deploy.magnitude_masks({"w": jnp.ones((3, 3))}, fraction, scope=scope)


def test_pruning_needs_weights_and_matching_masks():
    with pytest.raises(ValueError, match="no weight matrix"):
        deploy.magnitude_masks({"b": jnp.ones(3)}, 0.5)
    with pytest.raises(ValueError, match="masks do not match"):
        deploy.apply_masks({"w": jnp.ones((2, 2))}, {"v": jnp.ones((2, 2))})
    with pytest.raises(TypeError, match="nnx.Module"):
        deploy.prune({"w": jnp.ones((2, 2))}, 0.5)


def test_keep_pruned_keeps_pruned_weights_at_zero_through_adam():
    params = {"w": jnp.array([[0.0, 1.0], [2.0, 0.0]]), "b": jnp.zeros(2)}
    masks = {"w": jnp.array([[0.0, 1.0], [1.0, 0.0]]), "b": jnp.ones(2)}
    tx = optax.chain(optax.adam(0.1), deploy.keep_pruned(masks))
    opt_state = tx.init(params)
    for _ in range(3):
        grads = jax.tree.map(jnp.ones_like, params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert float(params["w"][0, 0]) == 0.0 and float(params["w"][1, 1]) == 0.0
    assert float(params["w"][0, 1]) != 1.0 and bool(jnp.all(params["b"] != 0))


def test_fit_pruned_fine_tunes_and_the_sparsity_stays_exact():
    x = jax.random.uniform(jax.random.key(3), (32, 6))
    y = (x[:, 0] > 0.5).astype(jnp.int32)
    model = MLP(6, [16], 2, rngs=nnx.Rngs(0))
    pruned, masks = deploy.prune(model, 0.5, scope="layer")
    before = nnx.state(pruned, nnx.Param)
    state, history = deploy.fit_pruned(
        pruned, masks, (x, y), TrainConfig(epochs=2, batch_size=8, progress=False)
    )
    assert len(history) == 2
    assert deploy.sparsity(state.params) == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_array_equal(
        state.params["layers"][0]["kernel"][...] == 0, masks["layers"][0]["kernel"][...] == 0
    )
    changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), before, state.params)
    assert all(jax.tree.leaves(changed))  # the kept weights did train
    with pytest.raises(TypeError, match="TrainConfig"):
        deploy.fit_pruned(pruned, masks, (x, y), {"epochs": 1})


# ---------------------------------------------------------------- distillation


def test_soft_target_loss_matches_the_formula_and_vanishes_on_the_teacher():
    s = jnp.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = jnp.array([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    temperature = 3.0
    p_t = jax.nn.softmax(t / temperature)
    want = temperature**2 * jnp.sum(
        p_t * (jnp.log(p_t) - jax.nn.log_softmax(s / temperature)), axis=-1
    )
    np.testing.assert_allclose(
        deploy.soft_target_loss(s, t, temperature=temperature), want, rtol=1e-5
    )
    np.testing.assert_allclose(
        deploy.soft_target_loss(t + 5.0, t, temperature=temperature), 0.0, atol=1e-5
    )
    assert bool(jnp.all(deploy.soft_target_loss(s, t, temperature=temperature) > 0))


def test_distillation_loss_mixes_soft_and_hard_terms():
    s = jax.random.normal(jax.random.key(4), (6, 5))
    t = jax.random.normal(jax.random.key(5), (6, 5))
    y = jnp.arange(6) % 5
    ce = optax.softmax_cross_entropy_with_integer_labels(s, y)
    soft = deploy.soft_target_loss(s, t, temperature=2.0)
    np.testing.assert_allclose(
        deploy.distillation_loss(s, t, y, temperature=2.0, alpha=0.0), ce, rtol=1e-5
    )
    np.testing.assert_allclose(
        deploy.distillation_loss(s, t, y, temperature=2.0, alpha=1.0), soft, rtol=1e-5
    )
    np.testing.assert_allclose(
        deploy.distillation_loss(s, t, y, temperature=2.0, alpha=0.25),
        0.25 * soft + 0.75 * ce,
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0.0}, "temperature must be"),
        ({"alpha": 1.5}, "alpha"),
    ],
)
def test_distillation_rejects_bad_settings(kwargs, message):
    s = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=message):
        deploy.distillation_loss(s, s, jnp.zeros(2, jnp.int32), **kwargs)
    with pytest.raises(ValueError, match=message):
        deploy.DistillationLoss(**{"temperature": 2.0, "alpha": 0.5, **kwargs})


def test_distillation_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        deploy.soft_target_loss(jnp.zeros((2, 3)), jnp.zeros((2, 4)), temperature=1.0)
    with pytest.raises(ValueError, match="labels must be"):
        deploy.distillation_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros(3, jnp.int32))


def test_teacher_targets_and_the_distillation_loss_fn():
    teacher = TrainState.create(_small_cnn(), optax.adam(1e-3), key=jax.random.key(0))
    x = jax.random.uniform(jax.random.key(6), (5, 8, 8))
    y = jnp.array([0, 1, 2, 3, 4])
    targets = deploy.teacher_targets(teacher, x, y)
    assert targets.shape == (5, 11)
    np.testing.assert_array_equal(targets[:, 0], y)
    loss_fn = deploy.DistillationLoss(temperature=2.0, alpha=0.5)
    assert loss_fn == deploy.DistillationLoss(2.0, 0.5) and hash(loss_fn) == hash(
        deploy.DistillationLoss(2.0, 0.5)
    )
    student = teacher.model()
    student.eval()
    loss, metrics = loss_fn(
        student, (x, targets), None
    )  # the student is the teacher: only the hard term is left
    ce = optax.softmax_cross_entropy_with_integer_labels(targets[:, 1:], y)
    np.testing.assert_allclose(metrics["loss"], 0.5 * ce, rtol=1e-4, atol=1e-6)
    assert metrics["accuracy"].shape == (5,)
    with pytest.raises(ValueError, match="integer labels"):
        deploy.teacher_targets(teacher, x, y.astype(jnp.float32))
    with pytest.raises(TypeError, match="TrainState"):
        deploy.teacher_targets(student, x, y)


# ---------------------------------------------------------------- drift monitor


@pytest.fixture(scope="module")
def digits():
    """Fake 'digits': a bright blob on a dark background, [600, 12, 12] in [0, 1]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:12, :12]
    centres = rng.uniform(4, 8, size=(600, 2))
    blobs = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 6.0)
    return np.clip(blobs + rng.uniform(0, 0.05, blobs.shape), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def monitor(digits):
    return deploy.DriftMonitor.fit(digits[:400], key=jax.random.key(0), batch_size=64)


def test_a_clean_batch_is_not_flagged_and_shifted_ones_are(monitor, digits):
    clean = monitor.check(digits[400:464])  # held-out, same distribution
    assert not clean.drifted and clean.score < monitor.threshold
    inverted = monitor.check(1.0 - digits[400:464])
    noisy = monitor.check(
        np.clip(digits[400:464] + np.random.default_rng(1).normal(0, 0.3, (64, 12, 12)), 0, 1)
    )
    assert inverted.drifted and noisy.drifted
    assert inverted.score > 5 * monitor.threshold
    assert "DRIFT" in str(inverted) and "ok" in str(clean)
    assert monitor.feature_scores(1.0 - digits[400:464]).shape == (12, 12)


def test_the_drift_monitor_saves_and_loads(monitor, digits, tmp_path):
    monitor.save(tmp_path / "drift.npz")
    again = deploy.DriftMonitor.load(tmp_path / "drift.npz")
    assert again.threshold == monitor.threshold and again.feature_shape == (12, 12)
    assert again.score(digits[:64]) == pytest.approx(monitor.score(digits[:64]))


def test_the_drift_monitor_rejects_bad_input(monitor, digits):
    with pytest.raises(ValueError, match="fitted on inputs of shape"):
        monitor.check(digits[:64, :10, :10])
    with pytest.raises(ValueError, match="NaN"):
        monitor.check(np.full((8, 12, 12), np.nan))
    with pytest.raises(ValueError, match="B >= 2"):
        monitor.check(digits[:1])
    with pytest.raises(ValueError, match="batch_size"):
        deploy.DriftMonitor.fit(digits[:10], key=jax.random.key(0), batch_size=64)
    with pytest.raises(ValueError, match="margin"):
        deploy.DriftMonitor.fit(digits, key=jax.random.key(0), margin=0.5)


# ---------------------------------------------------------------- checks


def _quantize_reference(w):
    amax = jnp.max(jnp.abs(w), axis=0, keepdims=True)
    scale = jnp.where(amax > 0, amax / 127, 1.0)
    return jnp.clip(jnp.round(w / scale), -127, 127).astype(jnp.int8), scale


def test_quantize_check_passes_the_reference(capsys):
    assert checks.quantize_int8(_quantize_reference) is None
    assert capsys.readouterr().out.startswith("✓ quantize_int8")


def _stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_stub, "not written yet"),
        (
            lambda w: (
                jnp.round(w / (jnp.abs(w).max() / 127)).astype(jnp.int8),
                jnp.abs(w).max() / 127,
            ),
            "1 entries",
        ),
        (
            lambda w: (_quantize_reference(w)[0].astype(jnp.float32), _quantize_reference(w)[1]),
            "int8",
        ),
        (
            lambda w: (
                jnp.floor(w / _quantize_reference(w)[1]).astype(jnp.int8),
                _quantize_reference(w)[1],
            ),
            "floor",
        ),
        (lambda w: (_quantize_reference(w)[0], _quantize_reference(w)[1] * 127 / 128), "127"),
        (
            lambda w: (_quantize_reference(w)[0], jnp.max(jnp.abs(w), axis=0) / 127),
            "all-zero channel",
        ),
    ],
)
def test_quantize_check_catches_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checks.quantize_int8(wrong)


def _soft_reference(s, t, temperature):
    return deploy.soft_target_loss(s, t, temperature=temperature)


def test_soft_target_check_passes_the_reference(capsys):
    assert checks.soft_target_loss(_soft_reference) is None
    assert "✓ soft_target_loss" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_stub, "not written yet"),
        (lambda s, t, T: _soft_reference(s, t, T) / T**2, r"T\*\*2"),
        (lambda s, t, T: _soft_reference(s, t * T, T), "soften the teacher"),
        (lambda s, t, T: _soft_reference(s, t, T).mean(), "per example"),
        (lambda s, t, T: _soft_reference(t, s, T), "teacher's"),
    ],
)
def test_soft_target_check_catches_typical_mistakes(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checks.soft_target_loss(wrong)


# ---------------------------------------------------------------- plots


def test_plots_return_figures_and_reject_bad_input(monitor, digits):
    assert isinstance(
        plot.pruning_curve({"global": ([0, 0.5], [0.99, 0.98])}, baseline=0.99), Figure
    )
    assert isinstance(plot.model_sizes({"float32": 4000, "int8": 1000}), Figure)
    assert isinstance(plot.drift_scores({"clean": [0.1, 0.2], "inverted": [3.0]}, 0.3), Figure)
    assert isinstance(plot.drift_map(monitor.feature_scores(digits[:64])), Figure)
    with pytest.raises(ValueError, match="same length"):
        plot.pruning_curve({"x": ([0, 0.5], [0.9])})
    with pytest.raises(ValueError, match="non-empty"):
        plot.model_sizes({})
    with pytest.raises(ValueError, match="threshold"):
        plot.drift_scores({"clean": [0.1]}, 0.0)
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        plot.drift_map(np.zeros(5))


def test_prune_and_quantize_take_a_train_state_too():
    state = TrainState.create(
        MLP(6, [16], 3, rngs=nnx.Rngs(0)), optax.adam(1e-3), key=jax.random.key(0)
    )
    pruned, masks = deploy.prune(state, 0.5)
    assert isinstance(pruned, TrainState) and deploy.sparsity(pruned.params) == pytest.approx(0.5)
    assert deploy.sparsity(state.params) == 0.0  # the original is untouched
    quantized, qparams = deploy.quantize_model(state)
    kernel = state.params["layers"][0]["kernel"][...]
    q = qparams["layers"][0]["kernel"]
    np.testing.assert_allclose(quantized.params["layers"][0]["kernel"][...], deploy.dequantize(q))
    assert (
        float(jnp.abs(quantized.params["layers"][0]["kernel"][...] - kernel).max())
        <= float(q.scale.max()) / 2 + 1e-6
    )
