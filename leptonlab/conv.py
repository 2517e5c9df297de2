"""2-D convolution three ways, pooling, output sizes, receptive fields and classic filters (notebook 07).

Deep learning's "convolution" is a **cross-correlation**: the kernel slides over the
image without being flipped,

    out[n, i, j, o] = sum_{a, b, c} x_pad[n, i*s_h + a, j*s_w + b, c] * w[a, b, c, o].

Every function here uses the layouts of Flax and ``jax.lax``:

* images ``x: [N, H, W, C_in]`` (NHWC, channels last);
* kernels ``w: [KH, KW, C_in, C_out]`` (HWIO);
* outputs ``[N, H_out, W_out, C_out]``.

``padding`` is ``"VALID"`` (none), ``"SAME"`` (enough zeros that ``H_out = ceil(H / s)``,
split as ``jax.lax`` does: the extra pixel, if any, goes at the end) or an int ``p``
(``p`` zeros on every side). ``stride`` is an int or a pair ``(s_h, s_w)``.

The three implementations compute the same numbers:

* :func:`conv2d_loops`: explicit Python loops over output pixels and channels, in NumPy.
  Readable, slow: for small inputs only.
* :func:`conv2d_im2col`: gathers every receptive window into a row (:func:`patches`),
  then one matrix product. Vectorised ``jax.numpy``, jitted.
* :func:`conv2d_lax`: ``jax.lax.conv_general_dilated``, what Flax's ``nnx.Conv`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "avg_pool",
    "classic_filters",
    "conv2d_im2col",
    "conv2d_lax",
    "conv2d_loops",
    "filter_bank",
    "max_pool",
    "output_size",
    "pad_amounts",
    "patches",
    "receptive_field",
    "receptive_field_mask",
    "receptive_fields",
]

_DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")


# ---------------------------------------------------------------------------------------- sizes
def _positive_int(value: Any, what: str, fn: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{fn}(): {what} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def _pair(value: Any, what: str, fn: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as ``(height, width)`` values."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"{fn}(): {what} must be an int or a pair (height, width), got {value!r}."
            )
        return (
            _positive_int(value[0], what, fn, minimum),
            _positive_int(value[1], what, fn, minimum),
        )
    v = _positive_int(value, what, fn, minimum)
    return v, v


def _check_padding(padding: Any, fn: str) -> str | int:
    if isinstance(padding, str):
        if padding.upper() not in ("VALID", "SAME"):
            raise ValueError(
                f"{fn}(): padding must be 'VALID', 'SAME' or an int >= 0, got {padding!r}."
            )
        return padding.upper()
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(
            f"{fn}(): padding must be 'VALID', 'SAME' or an int >= 0, got {padding!r}."
        )
    return int(padding)


def pad_amounts(
    n: int, kernel_size: int, *, stride: int = 1, padding: str | int = "VALID"
) -> tuple[int, int]:
    """Zeros added ``(before, after)`` along one axis of length ``n``.

    ``"VALID"``: ``(0, 0)``. An int ``p``: ``(p, p)``. ``"SAME"``: the output has
    ``ceil(n / stride)`` pixels; the total padding ``max((out - 1) * stride + k - n, 0)``
    is split with the odd pixel after, as ``jax.lax`` (and TensorFlow) do.
    Introduced in notebook 07.
    """
    fn = "pad_amounts"
    n = _positive_int(n, "n", fn)
    k = _positive_int(kernel_size, "kernel_size", fn)
    s = _positive_int(stride, "stride", fn)
    padding = _check_padding(padding, fn)
    if padding == "VALID":
        return 0, 0
    if padding == "SAME":
        out = -(-n // s)  # ceil(n / s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2
    return padding, padding


def output_size(n: int, kernel_size: int, *, stride: int = 1, padding: str | int = 0) -> int:
    """Output length along one axis: ``(n + 2p - k) // s + 1`` for integer padding ``p``.

    ``padding="VALID"`` is ``p = 0``; ``"SAME"`` gives ``ceil(n / s)``. Works for
    convolutions and pooling alike. Example: ``output_size(28, 5, stride=2, padding=2) == 14``.
    Introduced in notebook 07.

    Raises:
        ValueError: for non-positive sizes or a kernel larger than the padded input.
    """
    before, after = pad_amounts(n, kernel_size, stride=stride, padding=padding)
    padded = n + before + after
    if kernel_size > padded:
        raise ValueError(
            f"output_size(): a kernel of {kernel_size} does not fit in an input of {n} "
            f"padded to {padded}: use a smaller kernel or more padding."
        )
    return (padded - kernel_size) // stride + 1


# ---------------------------------------------------------------------------------------- inputs
def _check_conv_inputs(x: Any, w: Any, fn: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    xs, ws = np.shape(x), np.shape(w)
    if len(xs) != 4:
        hint = " (one grey image [H, W] becomes x[None, :, :, None])" if len(xs) == 2 else ""
        raise ValueError(f"{fn}(): x must be images [N, H, W, C_in] (NHWC), got shape {xs}{hint}.")
    if len(ws) != 4:
        hint = " (one [KH, KW] filter becomes w[:, :, None, None])" if len(ws) == 2 else ""
        raise ValueError(
            f"{fn}(): w must be a kernel [KH, KW, C_in, C_out] (HWIO), got shape {ws}{hint}."
        )
    if xs[3] != ws[2]:
        raise ValueError(
            f"{fn}(): x has {xs[3]} input channels (last axis) but w expects {ws[2]} "
            f"(its third axis): x {xs}, w {ws}."
        )
    if min(xs) < 1 or min(ws) < 1:
        raise ValueError(f"{fn}(): empty input: x {xs}, w {ws}.")
    for name, value in (("x", x), ("w", w)):
        dtype = np.asarray(value).dtype if not hasattr(value, "dtype") else value.dtype
        if not (np.issubdtype(dtype, np.number) or dtype == jnp.bfloat16):
            raise TypeError(f"{fn}(): {name} must hold numbers, got dtype {dtype}.")
    return xs, ws


def _geometry(xs, ks, stride, padding, fn: str):
    """((top, bottom), (left, right)), (out_h, out_w) and the stride pair, all checked."""
    sh, sw = _pair(stride, "stride", fn)
    padding = _check_padding(padding, fn)
    pads, outs = [], []
    for n, k, s, axis in ((xs[1], ks[0], sh, "height"), (xs[2], ks[1], sw, "width")):
        before, after = pad_amounts(n, k, stride=s, padding=padding)
        if k > n + before + after:
            raise ValueError(
                f"{fn}(): the kernel {axis} {k} is larger than the padded input {axis} "
                f"{n + before + after} (input {n}, padding {padding!r}): use a smaller "
                "kernel or more padding."
            )
        pads.append((before, after))
        outs.append((n + before + after - k) // s + 1)
    return tuple(pads), tuple(outs), (sh, sw), padding


# ---------------------------------------------------------------------------------------- conv
def conv2d_loops(
    x: Any, w: Any, *, stride: int | tuple[int, int] = 1, padding: str | int = "VALID"
) -> np.ndarray:
    """2-D cross-correlation with explicit loops over output pixels and channels (NumPy, float64).

    ``x: [N, H, W, C_in]``, ``w: [KH, KW, C_in, C_out]`` -> ``[N, H_out, W_out, C_out]``.
    Each output value is the sum of the elementwise product of one window of the
    (zero-padded) input with one output channel's kernel. Slow: use small inputs.
    Introduced in notebook 07.
    """
    fn = "conv2d_loops"
    xs, ws = _check_conv_inputs(x, w, fn)
    ((pt, pb), (pl, pr)), (out_h, out_w), (sh, sw), _ = _geometry(xs, ws, stride, padding, fn)
    x = np.pad(
        np.asarray(x, np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0))
    )  # [N, H+pt+pb, W+pl+pr, C_in]
    w = np.asarray(w, np.float64)
    kh, kw, _, c_out = ws
    out = np.zeros((xs[0], out_h, out_w, c_out))  # [N, H_out, W_out, C_out]
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]  # [N, KH, KW, C_in]
            for o in range(c_out):
                out[:, i, j, o] = np.sum(window * w[:, :, :, o], axis=(1, 2, 3))
    return out


@partial(jax.jit, static_argnames=("kernel_size", "stride", "pads"))
def _patches(x, kernel_size, stride, pads):
    kh, kw = kernel_size
    sh, sw = stride
    x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))  # [N, Hp, Wp, C]
    out_h = (x.shape[1] - kh) // sh + 1
    out_w = (x.shape[2] - kw) // sw + 1
    rows = (np.arange(out_h) * sh)[:, None] + np.arange(kh)[
        None, :
    ]  # [H_out, KH]: input row of each tap
    cols = (np.arange(out_w) * sw)[:, None] + np.arange(kw)[None, :]  # [W_out, KW]
    windows = x[
        :, rows[:, None, :, None], cols[None, :, None, :], :
    ]  # [N, H_out, W_out, KH, KW, C]
    return windows.reshape(
        x.shape[0], out_h, out_w, kh * kw * x.shape[3]
    )  # [N, H_out, W_out, KH*KW*C]


def patches(
    x: Any,
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: str | int = "VALID",
) -> jax.Array:
    """Every receptive window of ``x: [N, H, W, C]`` flattened into a row ("im2col").

    Returns ``[N, H_out, W_out, KH * KW * C]``; entry ``[n, i, j]`` is the window under
    output pixel ``(i, j)``, flattened in ``(KH, KW, C)`` order, the order of
    ``w.reshape(KH * KW * C, C_out)`` for a HWIO kernel. Introduced in notebook 07.
    """
    fn = "patches"
    kh, kw = _pair(kernel_size, "kernel_size", fn)
    xs = np.shape(x)
    if len(xs) != 4:
        raise ValueError(f"{fn}(): x must be images [N, H, W, C], got shape {xs}.")
    pads, _, stride, _ = _geometry(xs, (kh, kw), stride, padding, fn)
    return _patches(jnp.asarray(x), (kh, kw), stride, pads)


def conv2d_im2col(
    x: Any, w: Any, *, stride: int | tuple[int, int] = 1, padding: str | int = "VALID"
) -> jax.Array:
    """2-D cross-correlation as one matrix product: :func:`patches` ``@ w.reshape(KH*KW*C_in, C_out)``.

    ``x: [N, H, W, C_in]``, ``w: [KH, KW, C_in, C_out]`` -> ``[N, H_out, W_out, C_out]``.
    Vectorised and jitted: the windows are gathered with one indexing operation.
    Introduced in notebook 07.
    """
    fn = "conv2d_im2col"
    xs, ws = _check_conv_inputs(x, w, fn)
    pads, _, stride, _ = _geometry(xs, ws, stride, padding, fn)
    return _conv_im2col(jnp.asarray(x), jnp.asarray(w), stride, pads)


@partial(jax.jit, static_argnames=("stride", "pads"))
def _conv_im2col(x, w, stride, pads):
    kh, kw, c_in, c_out = w.shape
    cols = _patches(x, (kh, kw), stride, pads)  # [N, H_out, W_out, KH*KW*C_in]
    w_mat = w.reshape(
        kh * kw * c_in, c_out
    )  # [KH*KW*C_in, C_out], rows in the order of the patches
    return jnp.matmul(cols, w_mat, precision=lax.Precision.HIGHEST)  # [N, H_out, W_out, C_out]


def conv2d_lax(
    x: Any, w: Any, *, stride: int | tuple[int, int] = 1, padding: str | int = "VALID"
) -> jax.Array:
    """2-D cross-correlation by ``jax.lax.conv_general_dilated`` (what ``nnx.Conv`` uses).

    ``x: [N, H, W, C_in]``, ``w: [KH, KW, C_in, C_out]`` -> ``[N, H_out, W_out, C_out]``.
    ``"VALID"`` and ``"SAME"`` are passed to ``lax`` as they are, so comparing with the
    other two implementations also checks their padding arithmetic. Introduced in notebook 07.
    """
    fn = "conv2d_lax"
    xs, ws = _check_conv_inputs(x, w, fn)
    pads, _, stride, padding = _geometry(xs, ws, stride, padding, fn)
    lax_padding = padding if isinstance(padding, str) else pads
    return _conv_lax(jnp.asarray(x), jnp.asarray(w), stride, lax_padding)


@partial(jax.jit, static_argnames=("stride", "padding"))
def _conv_lax(x, w, stride, padding):
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=stride,
        padding=padding,
        dimension_numbers=_DIMENSION_NUMBERS,
        precision=lax.Precision.HIGHEST,
    )


# ---------------------------------------------------------------------------------------- pooling
def _pool_setup(x: Any, window, stride, padding, fn: str):
    xs = np.shape(x)
    if len(xs) != 4:
        hint = " (one grey image [H, W] becomes x[None, :, :, None])" if len(xs) == 2 else ""
        raise ValueError(f"{fn}(): x must be images [N, H, W, C] (NHWC), got shape {xs}{hint}.")
    window = _pair(window, "window", fn)
    stride = window if stride is None else stride
    pads, _, stride, _ = _geometry(xs, window, stride, padding, fn)
    return jnp.asarray(x), window, stride, pads


def max_pool(
    x: Any,
    window: int | tuple[int, int] = 2,
    *,
    stride: int | tuple[int, int] | None = None,
    padding: str | int = "VALID",
) -> jax.Array:
    """The largest value of each ``window`` of ``x: [N, H, W, C]``, per channel.

    ``stride`` defaults to ``window`` (non-overlapping windows). Padded positions count
    as ``-inf``, so they never win. Output ``[N, H_out, W_out, C]`` with
    :func:`output_size` along each axis. Introduced in notebook 07.
    """
    x, window, stride, pads = _pool_setup(x, window, stride, padding, "max_pool")
    return _max_pool(x, window, stride, pads)


@partial(jax.jit, static_argnames=("window", "stride", "pads"))
def _max_pool(x, window, stride, pads):
    init = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
    return lax.reduce_window(
        x,
        jnp.array(init, x.dtype),
        lax.max,
        (1, *window, 1),
        (1, *stride, 1),
        ((0, 0), *pads, (0, 0)),
    )


def avg_pool(
    x: Any,
    window: int | tuple[int, int] = 2,
    *,
    stride: int | tuple[int, int] | None = None,
    padding: str | int = "VALID",
) -> jax.Array:
    """The mean of each ``window`` of ``x: [N, H, W, C]``, per channel (float result).

    ``stride`` defaults to ``window``. With padding, a window's mean is over its real
    pixels only (padded zeros are not counted). Introduced in notebook 07.
    """
    x, window, stride, pads = _pool_setup(x, window, stride, padding, "avg_pool")
    return _avg_pool(x.astype(jnp.result_type(x.dtype, jnp.float32)), window, stride, pads)


@partial(jax.jit, static_argnames=("window", "stride", "pads"))
def _avg_pool(x, window, stride, pads):
    dims, strides, padding = (1, *window, 1), (1, *stride, 1), ((0, 0), *pads, (0, 0))
    zero = jnp.array(0, x.dtype)
    total = lax.reduce_window(x, zero, lax.add, dims, strides, padding)
    count = lax.reduce_window(jnp.ones_like(x), zero, lax.add, dims, strides, padding)
    return total / count


# ---------------------------------------------------------------------------------------- receptive field
def _check_layers(layers: Any, fn: str) -> list[tuple[int, int]]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise TypeError(
            f"{fn}(): layers must be a non-empty list of (kernel_size, stride) pairs, "
            f"e.g. [(3, 1), (3, 1), (2, 2)], got {layers!r}."
        )
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise TypeError(
                f"{fn}(): layers[{i}] must be a (kernel_size, stride) pair, got {layer!r}."
            )
        out.append(
            (
                _positive_int(layer[0], f"layers[{i}] kernel_size", fn),
                _positive_int(layer[1], f"layers[{i}] stride", fn),
            )
        )
    return out


def receptive_fields(layers: Sequence[tuple[int, int]]) -> list[int]:
    """Receptive-field size (in input pixels, along one axis) after each layer of a stack.

    ``layers`` lists ``(kernel_size, stride)`` per layer (convolutions and pooling alike).
    With ``j_l = s_1 ... s_l`` the distance in input pixels between neighbouring outputs
    of layer ``l`` (its "jump"),

        r_0 = 1,    r_l = r_{l-1} + (k_l - 1) * j_{l-1}.

    Example: ``receptive_fields([(3, 1), (3, 1), (2, 2), (3, 1)]) == [3, 5, 6, 10]``.
    Padding does not change it. Introduced in notebook 07.
    """
    size, jump, sizes = 1, 1, []
    for k, s in _check_layers(layers, "receptive_fields"):
        size += (k - 1) * jump
        jump *= s
        sizes.append(size)
    return sizes


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive-field size of the last layer of ``layers`` (see :func:`receptive_fields`)."""
    return receptive_fields(layers)[-1]


def receptive_field_mask(layers: Sequence[tuple[int, int]], input_size: int) -> np.ndarray:
    """Which input pixels influence the centre output pixel of a stack, measured with ``jax.grad``.

    Builds the stack as "VALID" convolutions with all-positive kernels (an average pool is
    such a convolution), differentiates the centre output pixel with respect to the
    ``[input_size, input_size]`` input and returns ``[input_size, input_size] bool``: True
    where the gradient is non-zero. Its side equals :func:`receptive_field` when the
    field fits in the input. Introduced in notebook 07.
    """
    fn = "receptive_field_mask"
    checked = _check_layers(layers, fn)
    n = _positive_int(input_size, "input_size", fn)
    size = n
    for i, (k, s) in enumerate(checked):
        if k > size:
            raise ValueError(
                f"{fn}(): layer {i} (kernel {k}) does not fit its input of {size} pixels: "
                "use a larger input_size."
            )
        size = (size - k) // s + 1

    def centre_output(img):  # img: [n, n]
        h = img[None, :, :, None]  # [1, n, n, 1]
        for k, s in checked:
            h = lax.conv_general_dilated(
                h,
                jnp.ones((k, k, 1, 1)) / (k * k),
                (s, s),
                "VALID",
                dimension_numbers=_DIMENSION_NUMBERS,
            )
        return h[0, h.shape[1] // 2, h.shape[2] // 2, 0]

    grad = jax.grad(centre_output)(jnp.ones((n, n), jnp.float32))  # [n, n]
    return np.asarray(grad) > 0


# ---------------------------------------------------------------------------------------- filters
def classic_filters() -> dict[str, np.ndarray]:
    """Classic 3x3 image filters as ``float32 [3, 3]`` arrays (fresh copies on each call).

    * ``sobel_x``: responds to intensity rising left to right (vertical edges);
    * ``sobel_y``: rising top to bottom (horizontal edges);
    * ``laplacian``: second derivative, large at thin strokes and corners, 0 on flat areas;
    * ``blur``: the 3x3 mean (a box filter), which smooths.

    Written for cross-correlation (as :func:`conv2d_lax` computes); a true convolution
    would flip them, which changes the sign of the Sobel responses. Introduced in notebook 07.
    """
    return {
        "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
        "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
        "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32),
        "blur": np.full((3, 3), 1 / 9, np.float32),
    }


def filter_bank(filters: Mapping[str, Any] | Sequence[Any]) -> jax.Array:
    """Stack single-channel filters ``[KH, KW]`` into one kernel ``[KH, KW, 1, F]`` (HWIO).

    One convolution with the bank computes all ``F`` feature maps of a grey image at
    once: output channel ``f`` is filter ``f``. Introduced in notebook 07.
    """
    items = list(filters.values()) if isinstance(filters, Mapping) else list(filters)
    if not items:
        raise ValueError("filter_bank(): give at least one filter [KH, KW].")
    arrays = [np.asarray(f, np.float32) for f in items]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(
            f"filter_bank(): every filter must be 2-D [KH, KW] with the same shape, "
            f"got shapes {[a.shape for a in arrays]}."
        )
    return jnp.asarray(np.stack(arrays, axis=-1)[:, :, None, :])  # [KH, KW, 1, F]
