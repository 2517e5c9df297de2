"""leptonlab.compiler: the probed XLA options, the switch that turns them off, and tuned_jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab import compiler, train
from leptonlab.models import ResNet

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


@pytest.fixture
def fresh_decision():
    """Forget the per-process decision before and after the test (the environment is the test's to set)."""
    compiler._decided.cache_clear()
    yield
    compiler._decided.cache_clear()


def test_library_ops_reads_the_ops_inside_ynnpack_fusions():
    assert compiler.library_ops(_HLO) == {"dot"}  # the convolution's fusion is XLA's own loop
    assert compiler.library_ops(_HLO.replace("kind=kLoop, calls=%fused_computation.1",
                                             'kind=kCustom, calls=%fused_computation.1, "__ynn_fusion"'))\
        == {"dot", "convolution"}


def test_the_probed_option_moves_only_the_convolutions(fresh_decision):
    default = compiler._ops_with(None)
    if default is None or "convolution" not in default:
        assert compiler.cpu_compiler_options() == {}  # nothing to move on this XLA
        pytest.skip(f"this XLA runs no convolution in YNNPACK (library ops {default})")
    options = compiler.cpu_compiler_options()
    assert options  # jax 0.10 (the version CI installs) accepts it
    assert compiler._ops_with(options) == default - {"convolution"}


@pytest.mark.parametrize("value", ["0", "off", "no"])
def test_the_switch_turns_the_options_off(monkeypatch, fresh_decision, value):
    monkeypatch.setenv(compiler.OPTIONS_ENV, value)
    assert compiler.cpu_compiler_options() == {}


def test_a_bad_switch_value_says_what_to_set(monkeypatch, fresh_decision):
    monkeypatch.setenv(compiler.OPTIONS_ENV, "fast")
    with pytest.raises(ValueError, match="LEPTONLAB_XLA_OPTIONS='fast' is not understood: set it to 0"):
        compiler.cpu_compiler_options()


@pytest.mark.parametrize("default, tuned", [
    (None, None),  # the probe does not compile: leave XLA alone
    (frozenset({"dot", "reduce"}), frozenset({"dot", "reduce"})),  # convolutions already outside YNNPACK
    (frozenset({"convolution", "dot", "reduce"}), None),  # the option is refused
    (frozenset({"convolution", "dot", "reduce"}), frozenset({"reduce"})),  # it would move the products too
])
def test_options_are_used_only_where_the_probe_shows_their_effect(monkeypatch, fresh_decision, default, tuned):
    monkeypatch.delenv(compiler.OPTIONS_ENV, raising=False)
    monkeypatch.setattr(compiler, "_ops_with", lambda options: default if options is None else tuned)
    assert compiler.cpu_compiler_options() == {}


def test_an_unknown_option_is_refused_not_raised():
    assert compiler._ops_with({"xla_cpu_experimental_ynn_fusion_type": "NOT_A_FUSION_TYPE"}) is None
    assert compiler._ops_with({"xla_no_such_option_in_any_version": "1"}) is None


def test_tuned_jit_computes_what_jit_computes_and_keeps_its_methods():
    def scale(x, factor):
        return x * factor

    tuned = compiler.tuned_jit(scale, static_argnames="factor")
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(tuned(x, factor=3), jax.jit(scale, static_argnames="factor")(x, factor=3))
    assert tuned.__wrapped__ is scale and tuned.__name__ == "scale"
    assert "multiply" in tuned.lower(x, factor=3).as_text()

    @compiler.tuned_jit(donate_argnames="x")
    def double(x):
        return 2 * x

    np.testing.assert_array_equal(double(jnp.ones(3)), [2.0, 2.0, 2.0])


def _compiled_train_step_ops() -> frozenset[str]:
    model = ResNet(10, width=32, stages=(1,), rngs=nnx.Rngs(0))  # 32 channels: large enough for YNNPACK
    config = train.TrainConfig(batch_size=4, progress=False)
    state = train.TrainState.create(model, train.make_optimizer(config, 1), key=jax.random.key(0))
    data = (jnp.zeros((4, 8, 8, 3)), jnp.zeros(4, jnp.int32))
    totals = {"loss": jnp.zeros(()), "accuracy": jnp.zeros(())}
    lowered = train.core._train_on_indices.lower(state, totals, data, jnp.arange(4), loss_fn=train.classification_loss)
    return compiler.library_ops(lowered.compile().as_text())


def test_fit_compiles_its_step_with_the_options(monkeypatch, fresh_decision):
    monkeypatch.setenv(compiler.OPTIONS_ENV, "0")
    with_defaults = _compiled_train_step_ops()
    compiler._decided.cache_clear()
    monkeypatch.delenv(compiler.OPTIONS_ENV)
    if not compiler.cpu_compiler_options():
        pytest.skip("this XLA needs no options")
    assert "convolution" in with_defaults  # the input gradients' transposed convolutions
    assert _compiled_train_step_ops() == with_defaults - {"convolution"}
