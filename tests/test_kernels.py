"""leptonlab.kernels: im2col and Winograd convolutions and max-pooling with hand-written gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from leptonlab import kernels, onednn


@pytest.fixture(autouse=True)
def _routes_written_in_jax(monkeypatch):
    """These tests pin the routes written in JAX (what runs where oneDNN's custom calls are not
    available); tests/test_onednn.py pins the oneDNN route."""
    monkeypatch.setenv(onednn.DISABLE_ENV, "0")


NHWC = ("NHWC", "HWIO", "NHWC")
CONFIGS = [  # (x shape, kernel size, strides, padding)
    ((3, 9, 11, 4), (3, 3), (1, 1), "SAME"),
    ((3, 9, 11, 4), (3, 3), (2, 2), "SAME"),
    ((2, 8, 8, 5), (1, 1), (2, 2), "VALID"),
    ((2, 7, 7, 2), (5, 5), (1, 2), ((2, 1), (0, 3))),
    ((2, 6, 6, 1), (3, 3), (1, 1), "VALID"),
]


def _lax_conv(x, w, strides, padding):
    return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _dropin(x, w, strides, padding, **kw):
    return kernels.conv_general_dilated(
        x,
        w,
        strides,
        padding,
        dimension_numbers=lax.conv_dimension_numbers(x.shape, w.shape, NHWC),
        **kw,
    )


@pytest.mark.parametrize("shape, ksize, strides, padding", CONFIGS)
def test_conv2d_matches_lax_values_and_both_gradients(shape, ksize, strides, padding):
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, shape)
    w = jax.random.normal(kw, (*ksize, shape[-1], 6))
    ref, ref_vjp = jax.vjp(lambda x, w: _lax_conv(x, w, strides, padding), x, w)
    out, vjp = jax.vjp(
        jax.jit(lambda x, w: kernels.conv2d(x, w, strides=strides, padding=padding)), x, w
    )
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    g = jax.random.normal(kg, ref.shape)
    for mine, theirs in zip(vjp(g), ref_vjp(g)):  # dx, dw
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape, ksize, strides, padding", CONFIGS)
def test_dropin_matches_lax_under_jit_and_grad(shape, ksize, strides, padding):
    x = jax.random.normal(jax.random.key(1), shape)
    w = jax.random.normal(jax.random.key(2), (*ksize, shape[-1], 3))
    loss = lambda conv: jax.jit(
        jax.grad(lambda w: jnp.sum(jnp.tanh(conv(x, w, strides, padding))))
    )(w)
    np.testing.assert_allclose(loss(_dropin), loss(_lax_conv), rtol=1e-4, atol=1e-5)


def _primitives(fn, *args) -> str:
    return str(jax.make_jaxpr(fn)(*args))


def test_dropin_takes_the_im2col_path_only_for_what_it_covers(monkeypatch):
    x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 4))
    assert "custom_vjp_call" in _primitives(lambda x, w: _dropin(x, w, (1, 1), "SAME"), x, w)
    dilated = _primitives(lambda x, w: _dropin(x, w, (1, 1), "SAME", rhs_dilation=(2, 2)), x, w)
    grouped = _primitives(
        lambda x, w: kernels.conv_general_dilated(
            x,
            w[:, :, :2],
            (1, 1),
            "SAME",
            dimension_numbers=lax.conv_dimension_numbers(x.shape, w.shape, NHWC),
            feature_group_count=2,
        ),
        x,
        w,
    )
    for jaxpr in (dilated, grouped):
        assert "custom_vjp_call" not in jaxpr and "conv_general_dilated" in jaxpr
    monkeypatch.setattr(kernels, "MAX_PATCH_BYTES", 0)  # patches too big: XLA's convolution instead
    assert "custom_vjp_call" not in _primitives(lambda x, w: _dropin(x, w, (1, 1), "SAME"), x, w)


def test_a_symbolic_batch_exports_through_xla_convolutions():
    # jax.export with a batch of any size ("B"): the patch size is unknown, so lax.conv is used.
    x = jax.random.normal(jax.random.key(5), (3, 8, 8, 2))
    w = jax.random.normal(jax.random.key(6), (3, 3, 2, 4))
    conv = jax.jit(lambda x: _dropin(x, w, (1, 1), "SAME"))
    (b,) = jax.export.symbolic_shape("B")
    exported = jax.export.export(conv, platforms=("cpu",))(
        jax.ShapeDtypeStruct((b, 8, 8, 2), jnp.float32)
    )
    assert "custom_vjp_call" not in _primitives(
        lambda x: _dropin(x, w, (1, 1), "SAME"), jax.ShapeDtypeStruct((b, 8, 8, 2), jnp.float32)
    )
    for n in (1, 3):
        np.testing.assert_allclose(
            exported.call(x[:n]), _lax_conv(x[:n], w, (1, 1), "SAME"), rtol=1e-6
        )


def test_grouped_convolution_falls_back_with_the_right_numbers():
    x = jax.random.normal(jax.random.key(3), (2, 6, 6, 4))
    w = jax.random.normal(jax.random.key(4), (3, 3, 2, 4))
    dn = lax.conv_dimension_numbers(x.shape, w.shape, NHWC)
    np.testing.assert_allclose(
        kernels.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=dn, feature_group_count=2
        ),
        lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn, feature_group_count=2),
        rtol=1e-6,
    )


def test_conv2d_rejects_mismatched_channels():
    with pytest.raises(ValueError, match=r"same C"):
        kernels.conv2d(jnp.ones((1, 5, 5, 3)), jnp.ones((3, 3, 4, 8)))


def test_max_pool_gradient_equals_autodiff_when_windows_have_one_maximum():
    x = jax.random.normal(jax.random.key(5), (2, 6, 8, 3))  # continuous values: no ties
    reference = lambda x: x.reshape(2, 3, 2, 4, 2, 3).max(axis=(2, 4))
    g = jax.random.normal(jax.random.key(6), (2, 3, 4, 3))
    np.testing.assert_array_equal(kernels.max_pool_2x2(x), reference(x))
    np.testing.assert_allclose(
        jax.vjp(kernels.max_pool_2x2, x)[1](g)[0], jax.vjp(reference, x)[1](g)[0]
    )


def test_max_pool_gradient_goes_to_the_first_maximum_of_a_tied_window():
    x = (
        jnp.zeros((1, 4, 4, 1)).at[0, 3, 3, 0].set(1.0)
    )  # three windows all zeros, one with a single 1
    dx = jax.grad(lambda x: kernels.max_pool_2x2(x).sum())(x)[0, :, :, 0]
    expected = np.zeros((4, 4))
    expected[0, 0] = expected[0, 2] = expected[2, 0] = 1.0  # tied windows: the top-left corner only
    expected[3, 3] = 1.0  # the window with one maximum: that pixel
    np.testing.assert_array_equal(dx, expected)


def test_max_pool_drops_an_odd_last_row_and_column_and_gives_them_no_gradient():
    x = jax.random.normal(jax.random.key(7), (1, 5, 7, 2))
    out = kernels.max_pool_2x2(x)
    assert out.shape == (1, 2, 3, 2)
    dx = jax.grad(lambda x: kernels.max_pool_2x2(x).sum())(x)
    assert float(jnp.abs(dx[:, 4]).sum()) == 0.0 and float(jnp.abs(dx[:, :, 6]).sum()) == 0.0
    assert float(dx.sum()) == pytest.approx(out.size)  # one unit of gradient per output


def test_cnn_gradients_equal_those_of_xla_convolutions():
    from leptonlab.models import CNN

    x = jax.random.normal(jax.random.key(8), (4, 28, 28))
    model = CNN(1, 10, image_size=28, rngs=nnx.Rngs(0))
    loss = lambda m: jnp.sum(jnp.tanh(m(x)))
    fast = nnx.grad(loss)(model)
    for conv in model.convs:
        conv.conv_general_dilated = lax.conv_general_dilated
    slow = nnx.grad(loss)(model)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(slow)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k", [27, 144])  # below and above MIN_WEIGHT_GRAD_COLUMNS
def test_weight_gradient_is_patches_transposed_times_dy(k):
    kp, kd = jax.random.split(jax.random.key(11))
    p, dy = jax.random.normal(kp, (1024, k)), jax.random.normal(kd, (1024, 8))
    exact = np.asarray(p, np.float64).T @ np.asarray(dy, np.float64)  # [K, O]
    np.testing.assert_allclose(jax.jit(kernels._weight_grad)(p, dy), exact, rtol=1e-4, atol=1e-3)


def _compiled_dots(fn, *args) -> list[str]:
    """The ``dot`` instructions of ``fn``'s program as XLA compiled it for this machine."""
    text = jax.jit(fn).lower(*args).compile().as_text()
    return [line for line in text.splitlines() if " dot(" in line]


def test_wide_weight_gradient_compiles_to_a_product_over_the_last_then_the_first_axis():
    # XLA's CPU backend gives a product to its fast kernels only in this form (kernels._weight_grad).
    p, dy = jnp.ones((2048, 64)), jnp.ones((2048, 16))
    dots = _compiled_dots(kernels._weight_grad, p, dy)
    assert (
        len(dots) == 1
        and "lhs_contracting_dims={1}" in dots[0]
        and "rhs_contracting_dims={0}" in dots[0]
    ), dots
    plain = _compiled_dots(
        lambda p, dy: p.T @ dy, p, dy
    )  # what the barriers prevent: summed over axis 0
    assert "lhs_contracting_dims={0}" in plain[0], plain


def test_conv2d_with_many_pixels_matches_lax():
    x = jax.random.normal(jax.random.key(12), (20, 16, 16, 16))  # patches [5120, 144]
    w = jax.random.normal(jax.random.key(13), (3, 3, 16, 8))
    g = jax.random.normal(jax.random.key(14), (20, 16, 16, 8))
    out, vjp = jax.vjp(jax.jit(lambda x, w: kernels.conv2d(x, w)), x, w)
    ref, ref_vjp = jax.vjp(lambda x, w: _lax_conv(x, w, (1, 1), "SAME"), x, w)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)
    for mine, theirs in zip(vjp(g), ref_vjp(g)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "hw, kernel, strides, padding",
    [
        ((9, 9), (3, 3), (1, 1), "SAME"),
        ((9, 9), (3, 3), (2, 2), "SAME"),
        ((10, 7), (3, 3), (2, 2), "VALID"),
        ((8, 8), (1, 1), (2, 2), "SAME"),
        ((9, 8), (3, 2), (2, 1), "SAME"),
        ((6, 6), (3, 3), (1, 1), ((2, 0), (1, 1))),
    ],
)
def test_col2im_input_gradient_equals_the_transposed_convolution(hw, kernel, strides, padding):
    x = jax.random.normal(jax.random.key(15), (2, *hw, 3))
    w = jax.random.normal(jax.random.key(16), (*kernel, 3, 5))
    pads = kernels._pads(padding, hw, kernel, strides)
    y, vjp = jax.vjp(lambda x: _lax_conv(x, w, strides, pads), x)
    dy = jax.random.normal(jax.random.key(17), y.shape)
    mine = jax.jit(kernels._col2im_input_grad, static_argnums=(2, 3, 4))(
        dy, w, x.shape, strides, pads
    )
    np.testing.assert_allclose(mine, vjp(dy)[0], rtol=1e-5, atol=1e-4)


def test_col2im_is_taken_only_with_xla_defaults(monkeypatch):
    monkeypatch.setattr(kernels.speedups, "xla_options", lambda: {})
    assert kernels._col2im_pays(64, 8 * 8) and not kernels._col2im_pays(32, 16 * 16)
    assert not kernels._col2im_pays(128, 4 * 4)
    monkeypatch.setattr(kernels.speedups, "xla_options", lambda: {"an option": "on"})
    assert not kernels._col2im_pays(64, 8 * 8)  # Eigen's transposed convolution instead


def _jaxpr_pads(f, *args) -> int:
    """How many pad operations the gradient's jaxpr holds (col2im spreads each tap with one)."""
    return str(jax.make_jaxpr(jax.grad(lambda *a: f(*a).sum(), argnums=(0, 1)))(*args)).count(
        " pad["
    )


@pytest.mark.parametrize("defaults", [True, False])
def test_wide_layers_route_the_input_gradient_by_the_options_and_match_lax(monkeypatch, defaults):
    monkeypatch.setattr(
        kernels.speedups, "xla_options", lambda: {} if defaults else {"an option": "on"}
    )
    x = jax.random.normal(jax.random.key(18), (2, 8, 8, 4))
    w = jax.random.normal(jax.random.key(19), (3, 3, 4, 64)) * 0.1
    g = jax.random.normal(jax.random.key(20), (2, 8, 8, 64))
    # the forward pads the image once; col2im spreads each of the 9 taps with one more pad
    assert _jaxpr_pads(kernels.conv2d, x, w) == (1 + 9 if defaults else 1)
    mine = jax.vjp(jax.jit(lambda x, w: kernels.conv2d(x, w)), x, w)[1](g)
    theirs = jax.vjp(lambda x, w: _lax_conv(x, w, (1, 1), "SAME"), x, w)[1](g)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_a_one_channel_conv2d_multiplies_by_columns_and_matches_lax():
    x = jax.random.normal(
        jax.random.key(21), (3, 9, 9, 1)
    )  # 3x3 kernel on one channel: K = 9 columns
    w = jax.random.normal(jax.random.key(22), (3, 3, 1, 6))
    g = jax.random.normal(jax.random.key(23), (3, 9, 9, 6))
    assert 9 < kernels.MIN_PRODUCT_COLUMNS
    fwd = jax.make_jaxpr(lambda x, w: kernels.conv2d(x, w))(x, w)
    assert "dot_general" not in str(fwd)  # K multiply-adds, no matrix product
    out, vjp = jax.vjp(jax.jit(lambda x, w: kernels.conv2d(x, w)), x, w)
    ref, ref_vjp = jax.vjp(lambda x, w: _lax_conv(x, w, (1, 1), "SAME"), x, w)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(vjp(g), ref_vjp(g)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_conv2d_in_bfloat16_keeps_the_dtype_and_the_numbers():
    x = jax.random.normal(jax.random.key(9), (2, 8, 8, 4))
    w = jax.random.normal(jax.random.key(10), (3, 3, 4, 8))
    low = lambda x, w: kernels.conv2d(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16))
    out, vjp = jax.vjp(low, x, w)
    assert out.dtype == jnp.bfloat16
    dx, dw = vjp(jnp.ones_like(out))
    ref, ref_vjp = jax.vjp(lambda x, w: _lax_conv(x, w, (1, 1), "SAME"), x, w)
    ref_dx, ref_dw = ref_vjp(jnp.ones_like(ref))
    np.testing.assert_allclose(out.astype(jnp.float32), ref, rtol=0.05, atol=0.2)
    np.testing.assert_allclose(dw, ref_dw, rtol=0.05, atol=0.5)
    np.testing.assert_allclose(dx, ref_dx, rtol=0.05, atol=0.5)


WINOGRAD_CONFIGS = [  # (x shape, output channels): 3x3, stride 1, SAME, even sides, >= 64 channels
    ((3, 8, 6, 64), 64),
    ((2, 4, 4, 128), 128),
    ((2, 16, 16, 64), 72),
    ((1, 2, 2, 64), 64),
]


@pytest.mark.parametrize("shape, out_channels", WINOGRAD_CONFIGS)
def test_winograd_convolution_matches_lax_values_and_both_gradients(shape, out_channels):
    kx, kw, kg = jax.random.split(jax.random.key(30), 3)
    x = jax.random.normal(kx, shape)
    w = jax.random.normal(kw, (3, 3, shape[-1], out_channels)) * 0.1
    assert kernels._winograd_pays(x, w, (1, 1), ((1, 1), (1, 1)))
    # conv2d takes the Winograd route: its 16 products are one dot_general over [16, T, C] tiles
    assert "f32[16," in str(jax.make_jaxpr(lambda x, w: kernels.conv2d(x, w))(x, w))
    ref, ref_vjp = jax.vjp(lambda x, w: _lax_conv(x, w, (1, 1), "SAME"), x, w)
    out, vjp = jax.vjp(jax.jit(lambda x, w: kernels.conv2d(x, w)), x, w)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=2e-5)
    g = jax.random.normal(kg, ref.shape)
    for mine, theirs in zip(vjp(g), ref_vjp(g)):  # dx, dw
        np.testing.assert_allclose(
            mine, theirs, rtol=1e-4, atol=1e-4 * float(jnp.abs(theirs).max())
        )


def test_winograd_transforms_are_each_others_adjoints():
    # <T x, y> == <x, T^T y> for the input and output transforms written by hand in the backward pass
    x = jax.random.normal(jax.random.key(31), (2, 6, 4, 3))
    v = jax.random.normal(jax.random.key(32), (16, 2 * 3 * 2, 3))
    lhs = jnp.vdot(kernels._wino_input(x), v)
    rhs = jnp.vdot(x, kernels._wino_input_transposed(v, x.shape))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)
    m = jax.random.normal(jax.random.key(33), (16, 2 * 3 * 2, 5))
    dy = jax.random.normal(jax.random.key(34), (2, 6, 4, 5))
    lhs = jnp.vdot(kernels._wino_output(m, dy.shape), dy)
    rhs = jnp.vdot(m, kernels._wino_output_transposed(dy))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)


@pytest.mark.parametrize(
    "shape, kernel, strides, padding, dtype, taken",
    [
        ((2, 8, 8, 64), (3, 3, 64, 64), (1, 1), ((1, 1), (1, 1)), jnp.float32, True),
        ((2, 8, 8, 32), (3, 3, 32, 32), (1, 1), ((1, 1), (1, 1)), jnp.float32, False),  # narrow
        ((2, 8, 8, 64), (3, 3, 64, 32), (1, 1), ((1, 1), (1, 1)), jnp.float32, False),
        ((2, 8, 8, 64), (3, 3, 64, 64), (2, 2), ((0, 1), (0, 1)), jnp.float32, False),  # stride
        ((2, 9, 8, 64), (3, 3, 64, 64), (1, 1), ((1, 1), (1, 1)), jnp.float32, False),  # odd
        ((2, 8, 8, 64), (3, 3, 64, 64), (1, 1), ((0, 0), (0, 0)), jnp.float32, False),  # VALID
        ((2, 8, 8, 64), (1, 1, 64, 64), (1, 1), ((0, 0), (0, 0)), jnp.float32, False),  # 1x1
        ((2, 8, 8, 64), (3, 3, 64, 64), (1, 1), ((1, 1), (1, 1)), jnp.bfloat16, False),
    ],
)
def test_winograd_is_taken_only_for_what_it_covers(shape, kernel, strides, padding, dtype, taken):
    x, w = jnp.zeros(shape, dtype), jnp.zeros(kernel, dtype)
    assert kernels._winograd_pays(x, w, strides, padding) is taken


@pytest.mark.parametrize(
    "channels, kernel, strides, options, taken",
    [
        ((32, 32), (3, 3), (1, 1), True, True),  # the ResNet's 16x16x32->32 layers
        ((48, 40), (3, 3), (1, 1), True, True),
        ((32, 32), (3, 3), (1, 1), False, False),  # XLA's defaults: YNNPACK's convolution, slower
        ((32, 64), (3, 3), (1, 1), True, False),  # the MNIST CNN's 14x14x32->64 keeps im2col
        ((16, 16), (3, 3), (1, 1), True, False),
        ((32, 32), (3, 3), (2, 2), True, False),
        ((32, 32), (1, 1), (1, 1), True, False),
    ],
)
def test_eigen_route_is_taken_only_for_narrow_3x3_stride_1_layers_under_the_option(
    monkeypatch, channels, kernel, strides, options, taken
):
    monkeypatch.setattr(
        kernels.speedups, "xla_options", lambda: {"an option": "on"} if options else {}
    )
    x, w = jnp.zeros((2, 8, 8, channels[0])), jnp.zeros((*kernel, *channels))
    assert kernels._eigen_pays(x, w, strides) is taken


def test_a_narrow_3x3_layer_under_the_option_is_xla_convolution_with_the_same_numbers(monkeypatch):
    monkeypatch.setattr(kernels.speedups, "xla_options", lambda: {"an option": "on"})
    x = jax.random.normal(jax.random.key(35), (2, 8, 8, 32))
    w = jax.random.normal(jax.random.key(36), (3, 3, 32, 32)) * 0.1
    jaxpr = _primitives(lambda x, w: _dropin(x, w, (1, 1), "SAME"), x, w)
    assert "custom_vjp_call" not in jaxpr and "conv_general_dilated" in jaxpr
    np.testing.assert_allclose(
        jax.jit(lambda x, w: kernels.conv2d(x, w))(x, w), _lax_conv(x, w, (1, 1), "SAME"), rtol=1e-6
    )


# --- dense layers (kernels.dot_general, issue 26)


def _dense_dn(x):
    return (((x.ndim - 1,), (0,)), ((), ()))


@pytest.mark.parametrize("x_shape", [(64, 24), (4, 16, 48), (7,)])  # 2-D, [B, T, D], one vector
def test_dense_dot_general_matches_lax_values_and_both_gradients(x_shape):
    kx, kw, kg = jax.random.split(jax.random.key(21), 3)
    x, w = jax.random.normal(kx, x_shape), jax.random.normal(kw, (x_shape[-1], 40))
    g = jax.random.normal(kg, (*x_shape[:-1], 40))

    def loss(dot):
        return lambda x, w: jnp.sum(dot(x, w, _dense_dn(x)) * g)

    np.testing.assert_allclose(
        kernels.dot_general(x, w, _dense_dn(x)), lax.dot_general(x, w, _dense_dn(x)), rtol=1e-6
    )
    ours = jax.jit(jax.grad(loss(kernels.dot_general), (0, 1)))(x, w)
    theirs = jax.grad(loss(lax.dot_general), (0, 1))(x, w)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_dense_dot_general_under_vmap_matches_lax():
    # search.train_epoch vmaps training over stacked models
    x, w = jax.random.normal(jax.random.key(22), (3, 50, 40)), jnp.ones((3, 40, 8)) / 40

    def grads(dot):
        return jax.vmap(jax.grad(lambda x, w: jnp.sum(dot(x, w, _dense_dn(x)) ** 2), (0, 1)))

    for a, b in zip(jax.jit(grads(kernels.dot_general))(x, w), grads(lax.dot_general)(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _takes_dense(*args, **kw) -> bool:
    jaxpr = str(jax.make_jaxpr(lambda a, b: kernels.dot_general(a, b, *args[2:], **kw))(*args[:2]))
    return "custom_vjp_call" in jaxpr


def test_dense_dot_general_takes_the_hand_written_gradient_only_for_dense_products():
    x, w = jnp.ones((32, 16)), jnp.ones((16, 4))
    assert _takes_dense(x, w, _dense_dn(x))
    assert not _takes_dense(x, w.T, (((1,), (1,)), ((), ())))  # another contraction
    assert not _takes_dense(
        jnp.ones((2, 8, 16)), jnp.ones((2, 16, 4)), (((2,), (1,)), ((0,), (0,)))
    )
    assert not _takes_dense(x, w, _dense_dn(x), precision=lax.Precision.HIGHEST)
    assert not _takes_dense(x, w, _dense_dn(x), preferred_element_type=jnp.float32)
    assert not _takes_dense(x.astype(jnp.bfloat16), w, _dense_dn(x))  # mixed dtypes
    with kernels.speedups.enabled(False):
        assert not _takes_dense(x, w, _dense_dn(x))


def test_dense_dot_general_leaves_wide_layers_over_few_rows_to_lax():
    # a batch of 128 images against a 784 -> 256 layer: the transposes cost more than they save
    assert not _takes_dense(jnp.ones((128, 784)), jnp.ones((784, 256)), (((1,), (0,)), ((), ())))
    assert _takes_dense(jnp.ones((16, 64, 128)), jnp.ones((128, 512)), (((2,), (0,)), ((), ())))
    assert kernels._dense_pays(2048, 128, 512) and not kernels._dense_pays(127, 128, 10)


def test_a_dense_layers_weight_gradient_compiles_to_the_fast_form():
    # nnx.Linear's weight gradient x^T @ dy sums over the rows: XLA leaves that form to Eigen
    x, w = jnp.ones((2048, 128)), jnp.ones((128, 64))

    def weight_grad(dot):
        return jax.grad(lambda w: jnp.sum(jnp.tanh(dot(x, w, _dense_dn(x)))))

    ours = _compiled_dots(weight_grad(kernels.dot_general), w)
    assert any("f32[128,64]" in d or "f32[64,128]" in d for d in ours), (
        ours
    )  # the weight gradient is one of them
    assert not any("lhs_contracting_dims={0}" in d for d in ours), ours
    plain = _compiled_dots(weight_grad(lax.dot_general), w)
    assert any("lhs_contracting_dims={0}" in d for d in plain), plain
