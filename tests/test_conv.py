"""leptonlab.conv: three convolutions that agree with lax.conv, pooling, sizes, receptive fields."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import conv

# (H, W, C_in, C_out, kernel (KH, KW), stride, padding): square and not, odd and even kernels.
GRID = [
    (7, 6, 2, 3, (3, 3), 1, "VALID"),
    (7, 6, 2, 3, (3, 3), 1, "SAME"),
    (7, 6, 2, 3, (3, 3), 2, "SAME"),
    (8, 8, 1, 2, (2, 3), (2, 1), 1),
    (9, 7, 3, 1, (4, 4), 3, "SAME"),
    (5, 5, 1, 1, (5, 5), 1, "VALID"),
    (6, 9, 2, 2, (1, 1), 2, 0),
    (10, 10, 1, 4, (3, 3), 2, 2),
]


def _inputs(h, w, c_in, c_out, kernel, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, h, w, c_in)).astype(np.float32)  # [N, H, W, C_in]
    k = rng.normal(size=(*kernel, c_in, c_out)).astype(np.float32)  # [KH, KW, C_in, C_out]
    return x, k


@pytest.mark.parametrize("h, w, c_in, c_out, kernel, stride, padding", GRID)
def test_three_implementations_agree_with_lax(h, w, c_in, c_out, kernel, stride, padding):
    x, k = _inputs(h, w, c_in, c_out, kernel)
    loops = conv.conv2d_loops(x, k, stride=stride, padding=padding)
    im2col = conv.conv2d_im2col(x, k, stride=stride, padding=padding)
    lax_out = conv.conv2d_lax(x, k, stride=stride, padding=padding)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    want_shape = (
        2,
        conv.output_size(h, kernel[0], stride=sh, padding=padding),
        conv.output_size(w, kernel[1], stride=sw, padding=padding),
        c_out,
    )
    assert loops.shape == im2col.shape == lax_out.shape == want_shape
    np.testing.assert_allclose(loops, lax_out, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(im2col, lax_out, atol=1e-5, rtol=1e-5)


def test_lax_wrapper_is_the_library_call():
    x, k = _inputs(6, 6, 2, 2, (3, 3))
    want = jax.lax.conv_general_dilated(
        x,
        k,
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST,
    )
    np.testing.assert_allclose(conv.conv2d_lax(x, k, padding="SAME"), want, atol=1e-6)


def test_hand_example_and_no_kernel_flip():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)  # [[0 1 2] [3 4 5] [6 7 8]]
    k = np.array([[1, 0], [0, -1]], np.float32)[:, :, None, None]  # top-left minus bottom-right
    want = np.full((1, 2, 2, 1), -4.0)
    for f in (conv.conv2d_loops, conv.conv2d_im2col, conv.conv2d_lax):
        np.testing.assert_allclose(f(x, k), want)


def test_patches_layout_matches_hwio_reshape():
    x, _ = _inputs(5, 4, 2, 1, (3, 3))
    p = conv.patches(x, 3, stride=1, padding="VALID")
    assert p.shape == (2, 3, 2, 3 * 3 * 2)
    np.testing.assert_array_equal(p[1, 2, 1], x[1, 2:5, 1:4, :].reshape(-1))


def test_conv_is_jittable_and_differentiable():
    x, k = _inputs(6, 6, 1, 2, (3, 3))
    g = jax.grad(lambda w: conv.conv2d_im2col(x, w, padding="SAME").sum())(jnp.asarray(k))
    g_ref = jax.grad(lambda w: conv.conv2d_lax(x, w, padding="SAME").sum())(jnp.asarray(k))
    np.testing.assert_allclose(g, g_ref, atol=1e-4)


def test_pooling_hand_example():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 1], [0, 1, 7, 8], [2, 6, 5, 9]], np.float32)[
        None, :, :, None
    ]
    np.testing.assert_array_equal(conv.max_pool(x)[0, :, :, 0], [[4, 2], [6, 9]])
    np.testing.assert_allclose(conv.avg_pool(x)[0, :, :, 0], [[2.5, 1.0], [2.25, 7.25]])
    assert conv.max_pool(x, 3, stride=1).shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(conv.max_pool(x, 3, stride=1)[0, :, :, 0], [[7, 8], [7, 9]])


def test_pooling_same_padding_ignores_pad():
    x = -np.ones((1, 3, 3, 1), np.float32)
    assert float(conv.max_pool(x, 2, stride=2, padding="SAME").max()) == -1.0  # padding never wins
    np.testing.assert_allclose(conv.avg_pool(x, 3, stride=1, padding="SAME"), x)  # pads not counted
    assert conv.max_pool(x, 2, stride=2, padding="SAME").shape == (1, 2, 2, 1)


@pytest.mark.parametrize(
    "n, k, s, p, want",
    [
        (28, 3, 1, 0, 26),
        (28, 3, 1, 1, 28),
        (28, 5, 2, 2, 14),
        (5, 2, 2, 0, 2),
        (32, 4, 2, 1, 16),
        (28, 3, 2, "SAME", 14),
        (7, 3, 2, "SAME", 4),
        (7, 3, 2, "VALID", 3),
    ],
)
def test_output_size(n, k, s, p, want):
    assert conv.output_size(n, k, stride=s, padding=p) == want


def test_same_padding_split_like_lax():
    assert conv.pad_amounts(6, 4, stride=1, padding="SAME") == (1, 2)
    assert conv.pad_amounts(7, 3, stride=2, padding="SAME") == (1, 1)
    assert conv.pad_amounts(7, 3, padding=2) == (2, 2)


@pytest.mark.parametrize(
    "layers, want",
    [
        ([(3, 1)], [3]),
        ([(3, 1), (3, 1), (3, 1)], [3, 5, 7]),
        ([(3, 1), (3, 1), (2, 2), (3, 1)], [3, 5, 6, 10]),
        ([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)], [3, 4, 8, 10, 18]),
    ],
)
def test_receptive_field_formula_and_measurement(layers, want):
    assert conv.receptive_fields(layers) == want
    assert conv.receptive_field(layers) == want[-1]
    mask = conv.receptive_field_mask(layers, 40)
    assert mask.shape == (40, 40)
    assert mask.any(axis=0).sum() == mask.any(axis=1).sum() == want[-1]
    assert mask.sum() == want[-1] ** 2


def test_classic_filters_and_bank():
    f = conv.classic_filters()
    assert set(f) == {"sobel_x", "sobel_y", "laplacian", "blur"}
    for k in f.values():
        assert k.shape == (3, 3) and k.dtype == np.float32
    np.testing.assert_allclose(f["sobel_x"].sum(), 0) and np.testing.assert_allclose(
        f["blur"].sum(), 1, rtol=1e-6
    )
    ramp = np.tile(np.arange(5, dtype=np.float32), (5, 1))[
        None, :, :, None
    ]  # brighter to the right
    out = conv.conv2d_lax(ramp, conv.filter_bank(f))[0]  # [3, 3, 4]
    np.testing.assert_allclose(out[..., 0], 8.0)  # sobel_x: positive on a left-to-right rise
    np.testing.assert_allclose(out[..., 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(out[..., 2], 0.0, atol=1e-6)  # laplacian of a linear ramp
    f["blur"][0, 0] = 99  # fresh copies each call
    assert conv.classic_filters()["blur"][0, 0] == pytest.approx(1 / 9)
    assert conv.filter_bank([np.ones((2, 3))] * 5).shape == (2, 3, 1, 5)


@pytest.mark.parametrize("fn", [conv.conv2d_loops, conv.conv2d_im2col, conv.conv2d_lax])
@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs, exc, match",
    [
        ((5, 5), (3, 3, 1, 1), {}, ValueError, r"x\[None, :, :, None\]"),
        ((1, 5, 5, 1), (3, 3), {}, ValueError, r"w\[:, :, None, None\]"),
        ((1, 5, 5, 2), (3, 3, 1, 1), {}, ValueError, "input channels"),
        ((1, 3, 3, 1), (5, 5, 1, 1), {}, ValueError, "larger than the padded input"),
        ((1, 5, 5, 1), (3, 3, 1, 1), {"stride": 0}, ValueError, "stride"),
        ((1, 5, 5, 1), (3, 3, 1, 1), {"stride": (1, 2, 3)}, ValueError, "pair"),
        ((1, 5, 5, 1), (3, 3, 1, 1), {"padding": "FULL"}, ValueError, "padding"),
        ((1, 5, 5, 1), (3, 3, 1, 1), {"padding": -1}, ValueError, "padding"),
    ],
)
def test_conv_bad_input(fn, x_shape, w_shape, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), **kwargs)


def test_conv_rejects_non_numbers():
    with pytest.raises(TypeError, match="numbers"):
        conv.conv2d_loops(np.full((1, 3, 3, 1), "a"), np.zeros((2, 2, 1, 1)))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: conv.output_size(3, 5), ValueError, "does not fit"),
        (lambda: conv.output_size(0, 3), ValueError, "n must be"),
        (lambda: conv.output_size(5, 3, stride=1.5), ValueError, "stride"),
        (lambda: conv.output_size(5, 3, padding="full"), ValueError, "padding"),
        (lambda: conv.max_pool(np.zeros((4, 4))), ValueError, r"\[N, H, W, C\]"),
        (lambda: conv.avg_pool(np.zeros((1, 4, 4, 1)), 0), ValueError, "window"),
        (
            lambda: conv.max_pool(np.zeros((1, 2, 2, 1)), 3),
            ValueError,
            "larger than the padded input",
        ),
        (lambda: conv.patches(np.zeros((4, 4)), 3), ValueError, r"\[N, H, W, C\]"),
        (lambda: conv.receptive_fields([]), TypeError, "non-empty list"),
        (lambda: conv.receptive_field("3x3"), TypeError, "non-empty list"),
        (lambda: conv.pad_amounts(5, 3, padding="full"), ValueError, "padding"),
        (lambda: conv.pad_amounts(5, 0), ValueError, "kernel_size"),
        (lambda: conv.receptive_fields([3, 3]), TypeError, r"layers\[0\]"),
        (lambda: conv.receptive_fields([(3, 0)]), ValueError, "stride"),
        (lambda: conv.receptive_field_mask([(5, 1), (5, 1)], 6), ValueError, "larger input_size"),
        (lambda: conv.filter_bank([]), ValueError, "at least one"),
        (lambda: conv.filter_bank([np.ones((3, 3)), np.ones((2, 2))]), ValueError, "same shape"),
    ],
)
def test_other_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
