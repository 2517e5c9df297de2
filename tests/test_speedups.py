"""leptonlab.speedups: the probed XLA option, the im2col convolutions, the one switch, and tuned_jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jax import lax

from leptonlab import kernels, speedups, train
from leptonlab.models import CNN, MLP, ResNet

_HLO = """\
%fused_computation (param_0: f32[4,4]) -> f32[4,4] {
  %param_0 = f32[4,4]{1,0} parameter(0)
  ROOT %dot.1 = f32[4,4]{1,0} dot(%param_0, %param_0), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%fused_computation.1 (param_0.1: f32[2,4,4,8], param_1.1: f32[3,3,8,8]) -> f32[2,4,4,8] {
  %param_0.1 = f32[2,4,4,8]{3,2,1,0} parameter(0)
  %param_1.1 = f32[3,3,8,8]{3,2,1,0} parameter(1)
  ROOT %conv.1 = f32[2,4,4,8]{3,2,1,0} convolution(%param_0.1, %param_1.1), window={size=3x3 pad=1_1x1_1}
}

ENTRY %main (a: f32[4,4], x: f32[2,4,4,8], w: f32[3,3,8,8]) -> (f32[4,4], f32[2,4,4,8]) {
  %a = f32[4,4]{1,0} parameter(0)
  %x = f32[2,4,4,8]{3,2,1,0} parameter(1)
  %w = f32[3,3,8,8]{3,2,1,0} parameter(2)
  %ynn_fusion = f32[4,4] fusion(%a), kind=kCustom, calls=%fused_computation, backend_config={"kind":"__ynn_fusion"}
  %conv_fusion = f32[2,4,4,8]{3,2,1,0} fusion(%x, %w), kind=kLoop, calls=%fused_computation.1
  ROOT %t = (f32[4,4]{1,0}, f32[2,4,4,8]{3,2,1,0}) tuple(%ynn_fusion, %conv_fusion)
}
"""


def test_library_ops_reads_the_ops_inside_ynnpack_fusions():
    assert speedups.library_ops(_HLO) == {"dot"}  # the convolution's fusion is XLA's own loop
    assert speedups.library_ops(
        _HLO.replace(
            "kind=kLoop, calls=%fused_computation.1",
            'kind=kCustom, calls=%fused_computation.1, "__ynn_fusion"',
        )
    ) == {"dot", "convolution"}


def test_the_probe_still_matches_this_xla():
    """Fails (does not skip) when a new XLA changes its HLO text or its YNNPACK fusions: update the probe."""
    assert jax.default_backend() == "cpu"
    options, why = speedups.probe_options()
    assert not why, f"the HLO probe no longer matches jax {jax.__version__}: {why}"
    assert options == {
        "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_REDUCE"
    }
    default = speedups._ops_with(None)
    assert "convolution" in default
    assert speedups._ops_with(options) == default - {
        "convolution"
    }  # it moves exactly the convolutions
    assert speedups.cpu_compiler_options() == options


def test_the_switch_turns_the_options_off_inside_its_block_only():
    assert speedups.is_enabled() and speedups.xla_options() == speedups.cpu_compiler_options()
    with speedups.enabled(False):
        assert not speedups.is_enabled() and speedups.xla_options() == {}
        with speedups.enabled(True):
            assert speedups.xla_options() == speedups.cpu_compiler_options()
    assert speedups.is_enabled()
    with pytest.raises(TypeError, match="cpu_speedups must be True or False"):
        with speedups.enabled("off"):
            pass


@pytest.mark.parametrize(
    "default, tuned, why",
    [
        (None, None, "did not compile"),  # the probe does not compile: leave XLA alone
        (
            frozenset(),
            None,
            "no YNNPACK fusion",
        ),  # the HLO text no longer reads as library_ops expects
        (
            frozenset({"convolution", "dot", "reduce"}),
            None,
            "refused or moves more",
        ),  # the option is refused
        (
            frozenset({"convolution", "dot", "reduce"}),
            frozenset({"reduce"}),
            "refused or moves more",
        ),  # too much
    ],
)
def test_a_probe_that_stops_matching_degrades_to_the_defaults_with_a_message(
    monkeypatch, default, tuned, why
):
    monkeypatch.setattr(
        speedups, "_ops_with", lambda options: default if options is None else tuned
    )
    options, reason = speedups.probe_options()
    assert options == {} and why in reason
    with pytest.warns(speedups.SpeedupWarning, match="compile with XLA's default options"):
        assert (
            speedups.cpu_compiler_options.__wrapped__() == {}
        )  # the uncached function: no process state


def test_convolutions_already_outside_ynnpack_need_no_option_and_no_message(monkeypatch):
    monkeypatch.setattr(speedups, "_ops_with", lambda options: frozenset({"dot", "reduce"}))
    assert speedups.probe_options() == ({}, "")


def test_an_unknown_option_is_refused_not_raised():
    assert speedups._ops_with({"xla_cpu_experimental_ynn_fusion_type": "NOT_A_FUSION_TYPE"}) is None
    assert speedups._ops_with({"xla_no_such_option_in_any_version": "1"}) is None


def test_tuned_jit_computes_what_jit_computes_and_keeps_its_methods():
    def scale(x, factor):
        return x * factor

    tuned = speedups.tuned_jit(scale, static_argnames="factor")
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(
        tuned(x, factor=3), jax.jit(scale, static_argnames="factor")(x, factor=3)
    )
    assert tuned.__wrapped__ is scale and tuned.__name__ == "scale"
    assert "multiply" in tuned.lower(x, factor=3).as_text()

    @speedups.tuned_jit(donate_argnames="x")
    def double(x):
        return 2 * x

    np.testing.assert_array_equal(double(jnp.ones(3)), [2.0, 2.0, 2.0])


def test_the_models_are_plain_flax_and_apply_swaps_only_a_copys_convolutions():
    model = CNN(1, 10, image_size=8, channels=(4,), dense=8, rngs=nnx.Rngs(0))
    assert all(c.conv_general_dilated is lax.conv_general_dilated for c in model.convs)
    fast = speedups.apply(model)
    assert all(c.conv_general_dilated is kernels.conv_general_dilated for c in fast.convs)
    assert all(
        c.conv_general_dilated is lax.conv_general_dilated for c in model.convs
    )  # the original unchanged
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
    np.testing.assert_allclose(fast(x), model(x), rtol=1e-5, atol=1e-5)


def _compiled_train_step_ops(enabled: bool) -> frozenset[str]:
    model = ResNet(
        10, width=32, stages=(1,), rngs=nnx.Rngs(0)
    )  # 32 channels: large enough for YNNPACK
    config = train.TrainConfig(batch_size=4, progress=False)
    state = train.TrainState.create(
        speedups.apply(model), train.make_optimizer(config, 1), key=jax.random.key(0)
    )
    data = (jnp.zeros((4, 8, 8, 3)), jnp.zeros(4, jnp.int32))
    totals = {"loss": jnp.zeros(()), "accuracy": jnp.zeros(())}
    with speedups.enabled(enabled):
        lowered = train.core._train_on_indices.lower(
            state, totals, data, jnp.arange(4), loss_fn=train.classification_loss
        )
        return speedups.library_ops(lowered.compile().as_text())


def test_fit_compiles_its_step_with_the_options_only_when_switched_on():
    assert "convolution" in _compiled_train_step_ops(
        False
    )  # XLA's defaults: convolutions in YNNPACK
    assert "convolution" not in _compiled_train_step_ops(
        True
    )  # im2col products, Eigen's transposed convolution


def test_fit_with_and_without_the_speedups_trains_the_same_model():
    x = jax.random.normal(jax.random.key(1), (64, 8, 8, 1))
    y = jax.random.randint(jax.random.key(2), (64,), 0, 3)
    config = train.TrainConfig(epochs=2, batch_size=16, progress=False)
    runs = {
        flag: train.fit(
            CNN(1, 3, image_size=8, channels=(4, 8), dense=16, rngs=nnx.Rngs(0)),
            (x, y),
            config,
            cpu_speedups=flag,
        )
        for flag in (True, False)
    }
    fast_model, plain_model = runs[True][0].model(), runs[False][0].model()
    assert fast_model.convs[0].conv_general_dilated is kernels.conv_general_dilated
    assert plain_model.convs[0].conv_general_dilated is lax.conv_general_dilated
    np.testing.assert_allclose(runs[True][1]["train_loss"], runs[False][1]["train_loss"], rtol=1e-4)
    for a, b in zip(jax.tree.leaves(runs[True][0].params), jax.tree.leaves(runs[False][0].params)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_apply_gives_a_copys_dense_layers_the_dense_product_and_leaves_custom_ones():
    model = MLP(6, [16], 3, rngs=nnx.Rngs(0))

    def own(*args, **kwargs):  # a layer's own product, e.g. a quantised one
        return lax.dot_general(*args, **kwargs)

    custom = nnx.Linear(3, 2, dot_general=own, rngs=nnx.Rngs(1))
    fast, fast_custom = speedups.apply(model), speedups.apply(custom)
    assert all(layer.dot_general is kernels.dot_general for layer in fast.layers)
    assert all(layer.dot_general is lax.dot_general for layer in model.layers)  # unchanged
    assert fast_custom.dot_general is own  # a layer's own product is kept
    x = jax.random.normal(jax.random.key(0), (5, 6))
    np.testing.assert_allclose(fast(x), model(x), rtol=1e-6)


def test_fit_with_and_without_the_speedups_trains_the_same_dense_model():
    x = jax.random.normal(jax.random.key(3), (128, 40))
    y = jax.random.randint(jax.random.key(4), (128,), 0, 4)
    config = train.TrainConfig(
        epochs=2, batch_size=64, progress=False
    )  # 64 rows: kernels._dense_pays
    runs = {
        flag: train.fit(MLP(40, [64, 32], 4, rngs=nnx.Rngs(0)), (x, y), config, cpu_speedups=flag)
        for flag in (True, False)
    }
    assert runs[True][0].model().layers[0].dot_general is kernels.dot_general
    assert runs[False][0].model().layers[0].dot_general is lax.dot_general
    np.testing.assert_allclose(runs[True][1]["train_loss"], runs[False][1]["train_loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(runs[True][0].params), jax.tree.leaves(runs[False][0].params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
