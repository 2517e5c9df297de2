"""leptonlab.onednn: oneDNN's convolutions as XLA custom calls, and the route kernels.py gives them."""

import platform
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from leptonlab import kernels, onednn

NHWC = ("NHWC", "HWIO", "NHWC")
LINUX_X86 = sys.platform == "linux" and platform.machine() == "x86_64"
CONFIGS = [  # (x shape, kernel shape, strides, pads): the ResNet's layers, and odd ones
    ((4, 16, 16, 32), (3, 3, 32, 32), (1, 1), ((1, 1), (1, 1))),
    ((4, 32, 32, 3), (3, 3, 3, 32), (2, 2), ((1, 1), (1, 1))),
    ((4, 16, 16, 32), (1, 1, 32, 64), (2, 2), ((0, 0), (0, 0))),
    ((2, 4, 4, 128), (3, 3, 128, 128), (1, 1), ((1, 1), (1, 1))),
    ((2, 9, 11, 5), (5, 3, 5, 7), (1, 2), ((2, 1), (0, 3))),
    ((3, 28, 28, 1), (3, 3, 1, 16), (1, 1), ((0, 0), (0, 0))),
]

needs_onednn = pytest.mark.skipif(
    not LINUX_X86, reason="oneDNN's wheels are installed on Linux x86-64 only"
)


@pytest.fixture(autouse=True)
def _onednn_on(monkeypatch):
    monkeypatch.delenv(onednn.DISABLE_ENV, raising=False)


def _lax_conv(x, w, strides, pads):
    return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=NHWC)


@needs_onednn
def test_it_is_available_where_leptonlab_installs_onednn():
    # pyproject.toml installs the wheels on Linux x86-64; building needs g++ (the course's machines
    # have it). If this fails, the reason says what is missing.
    assert onednn.available(), onednn.unavailable_reason()
    assert onednn.unavailable_reason() is None


@needs_onednn
@pytest.mark.parametrize("x_shape, w_shape, strides, pads", CONFIGS)
def test_values_and_both_gradients_equal_lax(x_shape, w_shape, strides, pads):
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    x, w = jax.random.normal(kx, x_shape), jax.random.normal(kw, w_shape)
    out, vjp = jax.vjp(jax.jit(lambda x, w: onednn.conv(x, w, strides, pads)), x, w)
    ref, ref_vjp = jax.vjp(lambda x, w: _lax_conv(x, w, strides, pads), x, w)
    assert out.shape == ref.shape and out.dtype == jnp.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)
    dy = jax.random.normal(kg, ref.shape)
    for mine, theirs in zip(vjp(dy), ref_vjp(dy)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-3)


@needs_onednn
@pytest.mark.parametrize("x_shape, w_shape, strides, pads", [CONFIGS[1], CONFIGS[4]])
def test_gradients_of_gradients_equal_lax(x_shape, w_shape, strides, pads):
    # notebook 18 trains on adversarial images: the gradient of a loss that holds an input gradient
    kx, kw = jax.random.split(jax.random.key(5))
    x, w = jax.random.normal(kx, x_shape), 0.3 * jax.random.normal(kw, w_shape)

    def penalty(f):  # the squared input gradient and a weight-gradient term, differentiated again
        def loss(x, w):
            gx, gw = jax.grad(lambda x, w: jnp.sum(jnp.tanh(f(x, w))), (0, 1))(x, w)
            return jnp.sum(gx**2) + jnp.sum(jnp.sin(gw))

        return jax.jit(jax.grad(loss, (0, 1)))

    mine = penalty(lambda x, w: onednn.conv(x, w, strides, pads))(x, w)
    theirs = penalty(lambda x, w: _lax_conv(x, w, strides, pads))(x, w)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@needs_onednn
def test_under_vmap_each_item_is_its_own_convolution():
    # leptonlab.search trains a stack of models under jax.vmap: kernels and images both batched
    kx, kw, kg = jax.random.split(jax.random.key(4), 3)
    x, w = jax.random.normal(kx, (3, 2, 8, 8, 4)), jax.random.normal(kw, (3, 3, 3, 4, 5))
    pads = ((1, 1), (1, 1))
    mine = jax.jit(jax.vmap(lambda x, w: onednn.conv(x, w, (1, 1), pads)))
    ref = jax.vmap(lambda x, w: _lax_conv(x, w, (1, 1), pads))
    np.testing.assert_allclose(mine(x, w), ref(x, w), rtol=1e-5, atol=1e-4)
    loss = lambda f: lambda x, w: jnp.sum(jnp.sin(f(x, w)))
    for a, b in zip(jax.grad(loss(mine), (0, 1))(x, w), jax.grad(loss(ref), (0, 1))(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@needs_onednn
def test_repeated_calls_give_the_same_bits():
    x = jax.random.normal(jax.random.key(1), (8, 16, 16, 32))
    w = jax.random.normal(jax.random.key(2), (3, 3, 32, 32))
    grads = jax.jit(
        jax.grad(lambda x, w: jnp.sum(onednn.conv(x, w, (1, 1), ((1, 1),) * 2) ** 2), (0, 1))
    )
    first, second = grads(x, w), grads(x, w)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def _compiled(fn, *args) -> str:
    return jax.jit(fn).lower(*args).compile().as_text()


def _dropin(x, w, strides, padding):
    return kernels.conv_general_dilated(
        x, w, strides, padding, dimension_numbers=lax.conv_dimension_numbers(x.shape, w.shape, NHWC)
    )


@needs_onednn
def test_the_dropin_routes_float32_convolutions_and_both_gradients_to_onednn():
    x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 8))
    grad = jax.value_and_grad(lambda x, w: _dropin(x, w, (1, 1), "SAME").sum(), argnums=(0, 1))
    text = _compiled(grad, x, w)
    for pass_name in ("forward", "backward_data", "backward_weights"):
        assert f'custom_call_target="leptonlab_onednn_conv_{pass_name}"' in text
    assert "convolution(" not in text


@needs_onednn
def test_switching_it_off_routes_to_the_kernels_written_in_jax(monkeypatch):
    monkeypatch.setenv(onednn.DISABLE_ENV, "0")
    assert not onednn.available()
    assert onednn.DISABLE_ENV in onednn.unavailable_reason()
    x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 8))
    assert "leptonlab_onednn" not in _compiled(lambda x, w: _dropin(x, w, (1, 1), "SAME"), x, w)


def test_bfloat16_keeps_the_other_routes():
    x, w = jnp.ones((2, 8, 8, 4), jnp.bfloat16), jnp.ones((3, 3, 4, 8), jnp.bfloat16)
    assert not kernels._onednn_pays(x, w)
    assert "leptonlab_onednn" not in _compiled(lambda x, w: _dropin(x, w, (1, 1), "SAME"), x, w)


def _cnn():
    from leptonlab.models import CNN

    return CNN(1, 10, image_size=28, rngs=nnx.Rngs(0)), (4, 28, 28)


def _resnet():
    from leptonlab.models import ResNet

    return ResNet(10, width=8, stages=(1, 1), rngs=nnx.Rngs(0)), (4, 16, 16, 3)


@needs_onednn
@pytest.mark.parametrize("make", [_cnn, _resnet], ids=["cnn", "resnet"])
def test_model_gradients_equal_those_of_xla_convolutions(make):
    from leptonlab import speedups

    model, x_shape = make()
    model = speedups.apply(model)  # what fit does: nnx.Conv layers get kernels.conv_general_dilated
    model.eval()  # batch norm from its running averages: nothing to update under jit below
    x = jax.random.normal(jax.random.key(3), x_shape)
    loss = lambda m: jnp.sum(jnp.tanh(m(x)))
    assert "leptonlab_onednn" in _compiled(lambda: loss(model))
    fast = nnx.grad(loss)(model)
    for conv in [m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Conv)]:
        conv.conv_general_dilated = lax.conv_general_dilated
    slow = nnx.grad(loss)(model)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(slow)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("present", [[], ["include/oneapi/dnnl/dnnl.hpp"], ["lib/libdnnl.so"]])
def test_missing_onednn_is_an_error_that_says_what_to_install(monkeypatch, tmp_path, present):
    for name in present:  # one wheel of the two installed, or neither
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    monkeypatch.setattr(onednn, "_installed_files", lambda: [tmp_path / n for n in present])
    with pytest.raises(FileNotFoundError, match=r"pip install onednn-cpu-gomp==2023\.2\.0"):
        onednn.build(tmp_path)


@needs_onednn
def test_a_failing_compiler_is_an_error_with_its_message_and_leaves_no_file(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", "false")  # a "compiler" that fails at once
    with pytest.raises(RuntimeError, match="building leptonlab's oneDNN convolutions failed"):
        onednn.build(tmp_path)
    assert list((tmp_path / "onednn").iterdir()) == []


@needs_onednn
def test_a_failed_build_warns_once_and_leaves_the_jax_routes(monkeypatch, tmp_path):
    from leptonlab.speedups import SpeedupWarning

    monkeypatch.setattr(onednn, "_installed_files", lambda: [])
    onednn._load.cache_clear()
    try:
        with pytest.warns(SpeedupWarning, match="not used, the ones written in JAX run instead"):
            assert not onednn.available()
        assert "pip install onednn-cpu-gomp" in onednn.unavailable_reason()
        x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 8))
        assert "leptonlab_onednn" not in _compiled(lambda x, w: _dropin(x, w, (1, 1), "SAME"), x, w)
    finally:
        onednn._load.cache_clear()  # the next test loads the real library again


def test_calling_it_where_it_cannot_run_is_an_error_with_the_reason(monkeypatch):
    monkeypatch.setattr(onednn, "_load", lambda: (False, "no C++ compiler (g++, or $CXX)"))
    x, w = jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 2, 2))
    with pytest.raises(RuntimeError, match=r"cannot run here: no C\+\+ compiler"):
        onednn.conv(x, w, (1, 1), ((1, 1), (1, 1)))


@needs_onednn
def test_build_is_cached_by_source_jax_and_onednn(tmp_path):
    first = onednn.build(tmp_path)
    mtime = first.stat().st_mtime_ns
    assert onednn.build(tmp_path) == first and first.stat().st_mtime_ns == mtime
