"""Convolution and max-pooling with hand-written gradients: the CPU hot spots of the CNNs.

XLA's CPU backend runs a convolution's *weight* gradient several times slower than
its forward pass (PERFORMANCE.md measures it), and the gradient of a max-pool written
as ``reshape(...).max(...)`` counts ties with an extra reduction. This module gives the
course's convolutional models the formulation a CPU is fast at, as ``jax.custom_vjp``:

* :func:`conv2d`: a convolution as **im2col + one matrix product**. The forward pass
  gathers every receptive window into a row (the patches, notebook 07) and multiplies by
  the kernel; it keeps the patches, so the weight gradient is one more product,
  ``patches^T @ dy`` (written in the form XLA's fast CPU kernels take, see
  ``_weight_grad``); the input gradient is XLA's transposed convolution, which the course's
  compiler options (:mod:`leptonlab.speedups`) send to Eigen's fast kernel. Compiled with
  XLA's defaults, layers with 64 or more output channels over 8x8 or more pixels fold
  ``dy @ kernel^T`` back onto the image instead (col2im; each route measured faster where it
  is used, see ``_col2im_pays``). Same numbers as ``lax.conv_general_dilated`` up to float
  rounding.
* Winograd's F(2x2, 3x3) for 3x3, stride-1, SAME convolutions of float32 images with even sides and
  at least :data:`MIN_WINOGRAD_CHANNELS` channels in and out: 16 matrix products over 4x4 input
  tiles in place of the 9-tap im2col product (2.25x fewer multiplications), both gradients
  written the same way (``_conv_winograd``; measured in PERFORMANCE.md, issue 28). 3x3 stride-1
  layers of 32 to 63 channels are left to XLA's own convolution when the speed-ups' compiler
  option sends it to Eigen (``_eigen_pays``).
* :func:`conv_general_dilated`: a drop-in for ``lax.conv_general_dilated`` that takes
  these paths for plain 2-D NHWC convolutions on the CPU and calls ``lax`` otherwise (other
  backends, dilations, groups, patches over :data:`MAX_PATCH_BYTES`, the speed-ups switched
  off). Where oneDNN's custom calls are available (:mod:`leptonlab.onednn`: Linux x86-64, the
  default install) a float32 convolution runs as oneDNN's instead, forward and both gradients:
  faster than every route above (PERFORMANCE.md, issue 28); the routes written here run
  elsewhere (bfloat16, other platforms, ``LEPTONLAB_ONEDNN=0``) and in exported models (a
  symbolic batch goes to ``lax``). :func:`leptonlab.speedups.apply` gives it to a model's
  ``nnx.Conv`` layers.
* :func:`max_pool_2x2`: 2x2 max-pooling whose gradient goes to the first maximum of each
  window (PyTorch's convention), computed in one elementwise pass.
* :func:`dot_general`: a drop-in for ``lax.dot_general`` whose dense-layer products
  (``x: [..., D] @ kernel: [D, F]``, what ``nnx.Linear`` computes) get a hand-written gradient
  on the CPU: the weight gradient ``x^T @ dy`` sums over the rows, a form XLA leaves to Eigen,
  and is written as for the convolutions (``_weight_grad``). :func:`leptonlab.speedups.apply`
  gives it to a model's ``nnx.Linear`` layers where it pays (``_dense_pays``: many rows, as in a
  sequence model; issue 26: the GPT's step about 12% faster).

Shapes: images ``[B, H, W, C]`` (NHWC), kernels ``[KH, KW, C, O]`` (HWIO).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from leptonlab import onednn, speedups

__all__ = ["MAX_PATCH_BYTES", "conv2d", "conv_general_dilated", "dot_general", "max_pool_2x2"]

#: Above this many bytes of patches per convolution, :func:`conv_general_dilated` calls ``lax``
#: instead (im2col keeps ``KH * KW`` copies of the input alive until the backward pass).
MAX_PATCH_BYTES = 512 * 2**20

#: A convolution whose patches have fewer columns than this (``KH * KW * C``) multiplies them by
#: the kernel as a sum of ``K`` column-times-row products instead of one matrix product.
MIN_PRODUCT_COLUMNS = 16

#: A weight gradient over patches with fewer columns than this is one plain ``p^T @ dy`` product;
#: with more it is computed as ``(dy^T @ p)^T`` (see ``_weight_grad``).
MIN_WEIGHT_GRAD_COLUMNS = 32

_NHWC = ("NHWC", "HWIO", "NHWC")

Pads = tuple[tuple[int, int], tuple[int, int]]


def _out_hw(
    hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int], pads: Pads
) -> tuple[int, int]:
    return tuple((n + lo + hi - k) // s + 1 for n, k, s, (lo, hi) in zip(hw, kernel, strides, pads))


def _patches(
    x: jax.Array, kernel: tuple[int, int], strides: tuple[int, int], pads: Pads
) -> jax.Array:
    """im2col: ``x: [B, H, W, C] -> [B * Ho * Wo, KH * KW * C]``, columns in ``(kh, kw, c)`` order.

    Strided slices of the padded image, stacked one kernel row at a time, then the rows.
    XLA's CPU compiler fuses a concatenation of at most 8 operands with its slices into one
    loop, but copies each slice out first when there are 9 (a 3x3 kernel); the two-level
    stack builds the patches in one pass (faster: PERFORMANCE.md).
    """
    kh, kw = kernel
    (sh, sw), b, c = strides, x.shape[0], x.shape[3]
    ho, wo = _out_hw(x.shape[1:3], kernel, strides, pads)
    xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))  # [B, Hp, Wp, C]

    def tap(i: int, j: int) -> jax.Array:  # [B, Ho, Wo, C]: the pixels kernel tap (i, j) meets
        return lax.slice(
            xp, (0, i, j, 0), (b, i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1, c), (1, sh, sw, 1)
        )

    rows = [
        jnp.stack([tap(i, j) for j in range(kw)], axis=3) for i in range(kh)
    ]  # KH x [B, Ho, Wo, KW, C]
    return jnp.stack(rows, axis=3).reshape(
        b * ho * wo, kh * kw * c
    )  # [B, Ho, Wo, KH, KW, C] -> rows


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv_im2col(
    x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads, col2im: bool
) -> jax.Array:
    """``col2im``: whether the input gradient is folded back by col2im (see ``_col2im_pays``)."""
    return _conv_im2col_fwd(x, w, strides, pads, col2im)[0]


def _conv_im2col_fwd(x, w, strides, pads, col2im):
    kh, kw, c, o = w.shape
    b, h, wd, _ = x.shape
    ho, wo = _out_hw((h, wd), (kh, kw), strides, pads)
    p = _patches(x, (kh, kw), strides, pads)  # [N, K] = [B*Ho*Wo, KH*KW*C]
    w2 = w.reshape(-1, o)  # [K, O]
    if p.shape[1] < MIN_PRODUCT_COLUMNS:
        # A few columns (a 3x3 kernel on one channel: K = 9): K multiply-adds of a column by a row of
        # the kernel, in one fused pass, beat a matrix product summing over only K (PERFORMANCE.md).
        acc = jnp.promote_types(p.dtype, jnp.float32)  # bf16 products are summed at float32
        y = sum(
            p[:, k : k + 1].astype(acc) * w2[k : k + 1].astype(acc) for k in range(p.shape[1])
        ).astype(p.dtype)  # [N, 1] * [1, O] -> [N, O]
    else:
        y = p @ w2  # [N, O]
    return y.reshape(b, ho, wo, o), (x, p, w)


def _transposed(a: jax.Array) -> jax.Array:
    """``a.T`` as its own copy, behind an optimisation barrier: ``[M, N] -> [N, M]``.

    XLA's CPU backend sends a matrix product to its fast kernels (YNNPACK) only when the left
    operand is summed over its last axis and the right over its first. Without the barrier XLA
    folds a transpose back into the product's dimension numbers, undoing that form.
    """
    return lax.optimization_barrier(a.T)


def _weight_grad(p: jax.Array, dy2: jax.Array) -> jax.Array:
    """``patches^T @ dy -> [K, O]`` for patches ``p: [N, K]`` and ``dy2: [N, O]``.

    The product sums over the ``N`` output pixels, the leading axis of both operands, a form
    XLA's CPU backend leaves to Eigen (a third to a half of the speed). Here it is
    ``(dy^T @ p)^T`` in the form YNNPACK takes (see :func:`_transposed`; ``dy^T`` is a small
    copy, ``[O, N]``; PERFORMANCE.md measures the effect). With very few columns
    (``K`` < :data:`MIN_WEIGHT_GRAD_COLUMNS`, e.g. a 3x3 stem on RGB, K = 27) the plain form
    measured faster.
    """
    if p.shape[1] < MIN_WEIGHT_GRAD_COLUMNS:
        return lax.dot_general(p, dy2, (((0,), (0,)), ((), ())))  # [K, O]
    # The barrier on the product keeps XLA from folding the last transpose into it as well.
    return lax.optimization_barrier(_transposed(dy2) @ p).T  # [O, N] @ [N, K] -> [O, K] -> [K, O]


def _col2im_input_grad(
    dy: jax.Array, w: jax.Array, x_shape: tuple[int, ...], strides: tuple[int, int], pads: Pads
) -> jax.Array:
    """The input gradient as ``dy @ kernel^T`` folded back onto the image: ``dy: [B, Ho, Wo, O] -> [B, H, W, C]``.

    Row ``(b, i, j)`` of ``dy @ kernel^T`` (``[B*Ho*Wo, KH*KW*C]``, the patches' shape) holds what
    each pixel of that receptive window receives; every tap's share is spread back to its pixels
    with ``lax.pad`` (interior padding for strides) and the shares summed, in one fused loop.
    ``kernel^T`` is a small copy, so the product keeps the form YNNPACK takes (:func:`_transposed`).
    """
    kh, kw, c, o = w.shape
    b, h, wd, _ = x_shape
    _, ho, wo, _ = dy.shape
    (sh, sw), ((top, bottom), (left, right)) = strides, pads
    hp, wp = h + top + bottom, wd + left + right  # the padded image
    w_t = _transposed(w.reshape(kh * kw * c, o))  # [O, K]
    acc = jnp.promote_types(dy.dtype, jnp.float32)  # bf16 shares are summed at float32
    shares = jnp.matmul(dy.reshape(-1, o), w_t, preferred_element_type=acc).reshape(
        b, ho, wo, kh, kw, c
    )
    zero = jnp.zeros((), acc)
    dxp = None
    for i in range(kh):
        for j in range(kw):  # tap (i, j) met padded pixels (i + sh * y, j + sw * x)
            tap = lax.pad(
                shares[:, :, :, i, j, :],
                zero,
                (
                    (0, 0, 0),
                    (i, hp - i - sh * (ho - 1) - 1, sh - 1),
                    (j, wp - j - sw * (wo - 1) - 1, sw - 1),
                    (0, 0, 0),
                ),
            )
            dxp = tap if dxp is None else dxp + tap  # [B, Hp, Wp, C]
    return dxp[:, top : top + h, left : left + wd].astype(dy.dtype)


def _col2im_pays(out_channels: int, out_pixels: int) -> bool:
    """Whether :func:`_col2im_input_grad` beats XLA's transposed convolution for this layer.

    Yes for 64 or more output channels over 8x8 or more output pixels per image, compiled with
    XLA's defaults; never when the speed-ups' XLA option sends convolutions to Eigen
    (:func:`leptonlab.speedups.xla_options`). The measurements behind the rule: PERFORMANCE.md.
    """
    return out_channels >= 64 and out_pixels >= 64 and not speedups.xla_options()


def _conv_im2col_bwd(strides, pads, col2im, residuals, dy):
    x, p, w = residuals
    kh, kw, c, o = w.shape
    dy2 = dy.reshape(-1, o)  # [B*Ho*Wo, O]
    dw = _weight_grad(p, dy2).reshape(w.shape)  # patches^T @ dy
    # The input gradient (dead code when x needs none): folded back by col2im where that measured
    # faster, else XLA's transposed convolution.
    if col2im:
        dx = _col2im_input_grad(dy, w, x.shape, strides, pads)
    else:
        dx = jax.vjp(
            lambda x: lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=_NHWC), x
        )[1](dy)[0]
    return dx, dw.astype(w.dtype)


_conv_im2col.defvjp(_conv_im2col_fwd, _conv_im2col_bwd)


# --------------------------------------------------------------------------- Winograd F(2x2, 3x3)
#
# A 3x3 convolution with stride 1 computes every 2x2 block of outputs from a 4x4 tile of the padded
# input (tiles overlap by 2 pixels). Winograd's minimal filtering algorithm (Lavin and Gray, 2015)
# writes that as ``Y = A^T [(G w G^T) * (B^T d B)] A``: the input tile ``d`` and the kernel ``w``
# are transformed into a 4x4 grid, multiplied elementwise over the grid and summed over the
# channels, which for a whole batch is 16 matrix products ``[T, C] @ [C, O]`` (``T`` tiles), and
# transformed back. 16 products of ``C x O`` per 4 outputs instead of 36: 2.25x fewer
# multiplications than im2col. The transforms are additions of strided slices, fused by XLA.
# Both gradients are the same three steps transposed, so the backward pass is 2 x 16 products too.

_WINO_BT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))  # B^T: [4, 4]
_WINO_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))  # G: [4, 3]
_WINO_AT = ((1, 1, 1, 0), (0, 1, -1, -1))  # A^T: [2, 4]

#: Convolutions with fewer input or output channels than this keep im2col (small products, where
#: the transforms cost more than the multiplications they save; PERFORMANCE.md, issue 28).
MIN_WINOGRAD_CHANNELS = 64


def _combine(coefs, terms: list[jax.Array]) -> jax.Array:
    """``sum(c * t)`` over the nonzero coefficients, written with adds and negations."""
    out = None
    for c, t in zip(coefs, terms):
        if c == 0:
            continue
        t = t if c == 1 else (-t if c == -1 else t * c)
        out = t if out is None else out + t
    return out


def _grid(parts: list[list[jax.Array]]) -> jax.Array:
    """A 4x4 grid of ``[B, th, tw, C]`` arrays -> ``[16, B*th*tw, C]`` (stacked a row at a time:
    XLA fuses a concatenation of at most 8 operands into one loop, see :func:`_patches`)."""
    b, th, tw, c = parts[0][0].shape
    return jnp.stack([jnp.stack(row) for row in parts]).reshape(16, b * th * tw, c)


def _wino_input(x: jax.Array) -> jax.Array:
    """``x: [B, H, W, C] -> V: [16, B*H/2*W/2, C]``: ``B^T d B`` for every 4x4 tile ``d``."""
    b, h, w, c = x.shape
    th, tw = h // 2, w // 2
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # [B, H+2, W+2, C]
    d = [
        [
            lax.slice(xp, (0, i, j, 0), (b, i + 2 * th - 1, j + 2 * tw - 1, c), (1, 2, 2, 1))
            for j in range(4)
        ]
        for i in range(4)
    ]  # d[i][j]: [B, th, tw, C], pixel (i, j) of every tile
    rows = [
        [_combine(_WINO_BT[k], [d[i][j] for i in range(4)]) for j in range(4)] for k in range(4)
    ]
    return _grid([[_combine(_WINO_BT[m], rows[k]) for m in range(4)] for k in range(4)])


def _wino_input_transposed(dv: jax.Array, x_shape: tuple[int, ...]) -> jax.Array:
    """The adjoint of :func:`_wino_input`: ``dV: [16, T, C] -> dx: [B, H, W, C]``.

    ``B dV B^T`` gives each tile's 4x4 pixels their share; overlapping tiles add up.
    """
    b, h, w, c = x_shape
    th, tw = h // 2, w // 2
    dv = dv.reshape(4, 4, b, th, tw, c)
    rows = [
        [
            _combine([_WINO_BT[k][i] for k in range(4)], [dv[k, m] for k in range(4)])
            for m in range(4)
        ]
        for i in range(4)
    ]
    dd = [
        [_combine([_WINO_BT[m][j] for m in range(4)], rows[i]) for j in range(4)] for i in range(4)
    ]  # dd[i][j]: [B, th, tw, C], the share of padded pixel (2t + i, 2s + j)
    zero = jnp.zeros((), dv.dtype)

    def parity(p: int, q: int) -> jax.Array:  # padded pixels (2t + p, 2s + q): [B, th+1, tw+1, C]
        out = None
        for i in (p, p + 2):  # i = p + 2 is the same row parity one tile further down
            for j in (q, q + 2):
                pads = ((0, 0, 0), (i // 2, 1 - i // 2, 0), (j // 2, 1 - j // 2, 0), (0, 0, 0))
                t = lax.pad(dd[i][j], zero, pads)
                out = t if out is None else out + t
        return out

    full = jnp.stack(
        [jnp.stack([parity(p, q) for q in range(2)], axis=3) for p in range(2)], axis=2
    ).reshape(b, h + 2, w + 2, c)  # [B, th+1, 2, tw+1, 2, C] -> the padded image
    return full[:, 1 : h + 1, 1 : w + 1]


def _wino_kernel(w: jax.Array) -> jax.Array:
    """``w: [3, 3, C, O] -> U: [16, C, O]``: ``G w G^T``."""
    g = jnp.asarray(_WINO_G, w.dtype)
    return jnp.einsum("ka,abco,lb->klco", g, w, g).reshape(16, *w.shape[2:])


def _wino_output(m: jax.Array, y_shape: tuple[int, ...]) -> jax.Array:
    """``M: [16, T, O] -> y: [B, H, W, O]``: ``A^T M A`` gives every tile's 2x2 outputs."""
    b, h, w, o = y_shape
    m = m.reshape(4, 4, b, h // 2, w // 2, o)
    rows = [
        [_combine(_WINO_AT[i], [m[k, n] for k in range(4)]) for n in range(4)] for i in range(2)
    ]
    ys = [[_combine(_WINO_AT[j], rows[i]) for j in range(2)] for i in range(2)]  # [B, th, tw, O]
    y = jnp.stack([jnp.stack(r, axis=3) for r in ys], axis=2)  # [B, th, 2, tw, 2, O]
    return y.reshape(b, h, w, o)


def _wino_output_transposed(dy: jax.Array) -> jax.Array:
    """The adjoint of :func:`_wino_output`: ``dy: [B, H, W, O] -> dM: [16, T, O]``."""
    at = _WINO_AT
    g = [[dy[:, i::2, j::2, :] for j in range(2)] for i in range(2)]  # [B, th, tw, O]
    rows = [
        [_combine([at[i][k] for i in range(2)], [g[i][j] for i in range(2)]) for j in range(2)]
        for k in range(4)
    ]
    return _grid(
        [[_combine([at[j][m] for j in range(2)], rows[k]) for m in range(4)] for k in range(4)]
    )


def _batched(a: jax.Array, b: jax.Array) -> jax.Array:
    """``[16, M, K] @ [16, K, N] -> [16, M, N]`` (summed over the left's last and the right's middle axis)."""
    return lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,))))


def _batched_transposed(a: jax.Array) -> jax.Array:
    """``[16, M, N] -> [16, N, M]`` as its own copy (see :func:`_transposed`)."""
    return lax.optimization_barrier(jnp.swapaxes(a, 1, 2))


@jax.custom_vjp
def _conv_winograd(x: jax.Array, w: jax.Array) -> jax.Array:
    """A 3x3, stride-1, SAME convolution of ``x: [B, H, W, C]`` (H, W even) by Winograd F(2x2, 3x3)."""
    return _conv_winograd_fwd(x, w)[0]


def _conv_winograd_fwd(x, w):
    b, h, wd, _ = x.shape
    v, u = _wino_input(x), _wino_kernel(w)  # [16, T, C], [16, C, O]
    return _wino_output(_batched(v, u), (b, h, wd, w.shape[3])), (v, u, x.shape)


def _conv_winograd_bwd(residuals, dy):
    v, u, x_shape = residuals
    c, o = u.shape[1:]
    dm = _wino_output_transposed(dy)  # [16, T, O]
    # dU = V^T dM, summed over the T tiles, in the form YNNPACK takes (as in _weight_grad)
    du = jnp.swapaxes(lax.optimization_barrier(_batched(_batched_transposed(dm), v)), 1, 2)
    g = jnp.asarray(_WINO_G, du.dtype)
    dw = jnp.einsum("ka,klco,lb->abco", g, du.reshape(4, 4, c, o), g)  # G^T dU G: [3, 3, C, O]
    dx = _wino_input_transposed(_batched(dm, _batched_transposed(u)), x_shape)  # dM U^T
    return dx, dw


_conv_winograd.defvjp(_conv_winograd_fwd, _conv_winograd_bwd)


def _winograd_pays(x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads) -> bool:
    """Whether this convolution takes :func:`_conv_winograd`: a float32 3x3 kernel, stride 1,
    one pixel of padding on every side, even height and width, and at least
    :data:`MIN_WINOGRAD_CHANNELS` input and output channels."""
    return (
        x.dtype == jnp.float32
        and w.dtype == jnp.float32
        and w.shape[:2] == (3, 3)
        and tuple(strides) == (1, 1)
        and tuple(map(tuple, pads)) == ((1, 1), (1, 1))
        and x.shape[1] % 2 == 0
        and x.shape[2] % 2 == 0
        and min(w.shape[2], w.shape[3]) >= MIN_WINOGRAD_CHANNELS
    )


#: 3x3 stride-1 float32 layers with this many channels in and out, up to MIN_WINOGRAD_CHANNELS
#: (excluded), run as XLA's own convolution (Eigen's, with the speed-ups' compiler option): the
#: ResNet's 16x16x32->32 layers measured faster there in all three passes (PERFORMANCE.md, issue 28).
MIN_EIGEN_CHANNELS = 32


def _eigen_pays(x: jax.Array, w: jax.Array, strides: tuple[int, int]) -> bool:
    """Whether this convolution is left to XLA (Eigen's kernel): a float32 3x3 kernel with stride 1
    and :data:`MIN_EIGEN_CHANNELS` to ``MIN_WINOGRAD_CHANNELS - 1`` channels in and out, compiled
    with the speed-ups' XLA option (:func:`leptonlab.speedups.xla_options`; under XLA's defaults
    the convolution would run in YNNPACK, slower than im2col)."""
    return (
        x.dtype == jnp.float32
        and w.dtype == jnp.float32
        and w.shape[:2] == (3, 3)
        and tuple(strides) == (1, 1)
        and MIN_EIGEN_CHANNELS <= min(w.shape[2], w.shape[3])
        and max(w.shape[2], w.shape[3]) < MIN_WINOGRAD_CHANNELS
        and bool(speedups.xla_options())
    )


def _im2col_conv(x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads) -> jax.Array:
    """:func:`_conv_im2col` with its input-gradient route chosen for this layer's shape.

    The route is an argument of the custom VJP, not a lookup in its backward pass: JAX keeps
    traced gradients by their arguments, so a changed choice is traced anew.
    """
    if _winograd_pays(x, w, strides, pads):
        return _conv_winograd(x, w)
    if _eigen_pays(x, w, strides):
        return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=_NHWC)
    ho, wo = _out_hw(x.shape[1:3], w.shape[:2], strides, pads)
    return _conv_im2col(x, w, strides, pads, _col2im_pays(w.shape[3], ho * wo))


def _onednn_pays(x: jax.Array, w: jax.Array) -> bool:
    """Whether this convolution runs as oneDNN's (:mod:`leptonlab.onednn`): float32 image and
    kernel, a CPU as JAX's default backend (GPUs keep theirs; nothing is built there), and the
    oneDNN custom calls built and loaded on this machine."""
    return (
        x.dtype == jnp.float32
        and w.dtype == jnp.float32
        and jax.default_backend() == "cpu"
        and onednn.available()
    )


def _pads(
    padding: Any, hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int]
) -> Pads:
    if isinstance(padding, str):
        return tuple(tuple(p) for p in lax.padtype_to_pads(hw, kernel, strides, padding))
    return tuple((int(lo), int(hi)) for lo, hi in padding)


def conv2d(
    x: jax.Array,
    w: jax.Array,
    *,
    strides: int | tuple[int, int] = 1,
    padding: str | tuple[tuple[int, int], tuple[int, int]] = "SAME",
) -> jax.Array:
    """A 2-D convolution by im2col and a matrix product, with its gradient written the same way.

    ``x: [B, H, W, C]``, ``w: [KH, KW, C, O] -> [B, Ho, Wo, O]``; ``padding`` is ``"SAME"``,
    ``"VALID"`` or ``((top, bottom), (left, right))``. Equals ``lax.conv_general_dilated``
    with NHWC/HWIO dimension numbers. Its memory cost: the patches, ``KH * KW`` times the
    input, live until the backward pass. Two shapes take another route, chosen as measured
    faster: 3x3 stride-1 layers of 64 or more channels Winograd's (``_winograd_pays``), of 32
    to 63 channels XLA's own convolution under the speed-ups' option (``_eigen_pays``).
    """
    if x.ndim != 4 or w.ndim != 4 or x.shape[-1] != w.shape[2]:
        raise ValueError(
            f"conv2d expects x [B, H, W, C] and w [KH, KW, C, O] with the same C, "
            f"got {x.shape} and {w.shape}."
        )
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    return _im2col_conv(x, w, strides, _pads(padding, x.shape[1:3], w.shape[:2], strides))


def _concrete_and_default(lhs, rhs, precision, preferred_element_type, extra) -> bool:
    """Concrete shapes (not a symbolic batch) and none of ``lax``'s precision or output options set."""
    if not all(isinstance(d, int) for d in (*lhs.shape, *rhs.shape)):
        return False
    return (
        precision is None
        and preferred_element_type is None
        and all(v is None for v in extra.values())
    )


def _is_plain(
    lhs,
    rhs,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision,
    preferred_element_type,
    extra,
) -> bool:
    """True for what :func:`conv2d` computes: 2-D, NHWC/HWIO, no dilation, no groups, default dtypes.

    Shapes must be concrete: a symbolic batch (``jax.export`` with ``"B, ..."``) goes to ``lax``,
    which is also what an exported model should carry to other machines.
    """
    if not _concrete_and_default(lhs, rhs, precision, preferred_element_type, extra):
        return False
    if lhs.ndim != 4 or rhs.ndim != 4 or feature_group_count != 1 or batch_group_count != 1:
        return False
    if any(d != 1 for d in (*(lhs_dilation or (1, 1)), *(rhs_dilation or (1, 1)))):
        return False
    return lax.conv_dimension_numbers(
        lhs.shape, rhs.shape, dimension_numbers
    ) == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision=None,
    preferred_element_type=None,
    **extra,
) -> jax.Array:
    """``lax.conv_general_dilated``, but plain 2-D NHWC convolutions run as oneDNN's
    (:func:`leptonlab.onednn.conv`, float32, where available) or as :func:`conv2d` on the CPU.

    The choice is made when the computation is lowered (``lax.platform_dependent``): GPUs and
    TPUs keep their own convolution kernels. Anything :func:`conv2d` does not cover
    (dilation, groups, other layouts, ``precision``, symbolic shapes, patches over
    :data:`MAX_PATCH_BYTES`) goes to ``lax`` unchanged.
    """

    def with_lax(lhs, rhs):
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dimension_numbers,
            feature_group_count,
            batch_group_count,
            precision,
            preferred_element_type,
            **extra,
        )

    if not speedups.is_enabled() or not _is_plain(
        lhs,
        rhs,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
        batch_group_count,
        precision,
        preferred_element_type,
        extra,
    ):
        return with_lax(lhs, rhs)
    strides = tuple(int(s) for s in window_strides)
    pads = _pads(padding, lhs.shape[1:3], rhs.shape[:2], strides)
    if _onednn_pays(lhs, rhs):
        return lax.platform_dependent(
            lhs, rhs, cpu=lambda a, b: onednn.conv(a, b, strides, pads), default=with_lax
        )
    ho, wo = _out_hw(lhs.shape[1:3], rhs.shape[:2], strides, pads)
    patch_bytes = (
        lhs.shape[0] * ho * wo * rhs.shape[0] * rhs.shape[1] * rhs.shape[2] * lhs.dtype.itemsize
    )
    if patch_bytes > MAX_PATCH_BYTES:
        return with_lax(lhs, rhs)
    return lax.platform_dependent(
        lhs, rhs, cpu=lambda a, b: _im2col_conv(a, b, strides, pads), default=with_lax
    )


def _windows_2x2(x: jax.Array) -> list[jax.Array]:
    """The four corners of every 2x2 window: ``[B, 2h, 2w, C] -> 4 x [B, h, w, C]`` (row-major order)."""
    b, h2, w2, c = x.shape
    r = x.reshape(b, h2 // 2, 2, w2 // 2, 2, c)
    return [r[:, :, i, :, j] for i in range(2) for j in range(2)]


@jax.custom_vjp
def _max_pool_even(x: jax.Array) -> jax.Array:
    a, b, c, d = _windows_2x2(x)
    return jnp.maximum(jnp.maximum(a, b), jnp.maximum(c, d))


def _max_pool_even_fwd(x):
    return _max_pool_even(x), x


def _max_pool_even_bwd(x, g):
    corners = _windows_2x2(x)
    top = jnp.maximum(jnp.maximum(corners[0], corners[1]), jnp.maximum(corners[2], corners[3]))
    taken = jnp.zeros(top.shape, bool)
    parts = []
    for (
        corner
    ) in corners:  # the first corner equal to the maximum gets the gradient, the others none
        hit = (corner == top) & ~taken
        taken = taken | hit
        parts.append(jnp.where(hit, g, jnp.zeros((), g.dtype)))
    b, h2, w2, c = x.shape
    dx = jnp.stack(parts, axis=3).reshape(b, h2 // 2, w2 // 2, 2, 2, c)  # [B, h, w, di, dj, C]
    return (dx.transpose(0, 1, 3, 2, 4, 5).reshape(x.shape),)


_max_pool_even.defvjp(_max_pool_even_fwd, _max_pool_even_bwd)


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2 max-pooling with stride 2 (VALID: an odd last row or column is dropped).

    ``x: [B, H, W, C] -> [B, H // 2, W // 2, C]``: the same values as
    ``nnx.max_pool(x, (2, 2), strides=(2, 2))``. The gradient of each output goes to the
    first maximum of its window (row-major), as in PyTorch, in one elementwise pass.
    """
    if x.ndim != 4:
        raise ValueError(f"max_pool_2x2 expects [B, H, W, C], got shape {x.shape}.")
    _, h, w, _ = x.shape
    return _max_pool_even(x[:, : h // 2 * 2, : w // 2 * 2])


# --------------------------------------------------------------------------- dense layers


@jax.custom_vjp
def _dense(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x: [..., D] @ w: [D, F] -> [..., F]`` (no bias: ``nnx.Linear`` adds it after the product)."""
    return lax.dot_general(x, w, (((x.ndim - 1,), (0,)), ((), ())))


def _dense_fwd(x, w):
    return _dense(x, w), (x, w)


def _dense_bwd(residuals, dy):
    x, w = residuals
    dx = lax.dot_general(dy, w, (((dy.ndim - 1,), (1,)), ((), ())))  # [..., F] . [D, F] -> [..., D]
    dw = _weight_grad(
        x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
    )  # [N, D], [N, F] -> [D, F]
    return dx, dw


_dense.defvjp(_dense_fwd, _dense_bwd)


def _is_dense(lhs, rhs, dimension_numbers, precision, preferred_element_type, extra) -> bool:
    """True for a dense layer's product: ``lhs: [..., D]`` summed over its last axis with ``rhs: [D, F]``
    over its first, no batch axes, one dtype, concrete shapes, no precision or output options."""
    lhs, rhs = jnp.asarray(lhs), jnp.asarray(rhs)
    if lhs.ndim < 1 or rhs.ndim != 2 or lhs.dtype != rhs.dtype:
        return False
    if not _concrete_and_default(lhs, rhs, precision, preferred_element_type, extra):
        return False
    (lc, rc), (lb, rb) = dimension_numbers
    return tuple(lc) == (lhs.ndim - 1,) and tuple(rc) == (0,) and not tuple(lb) and not tuple(rb)


def _dense_pays(rows: int, d: int, f: int) -> bool:
    """Whether the hand-written gradient of a ``[rows, d] @ [d, f]`` product measured faster: when the
    weight gradient sums over at least as many rows as either side has features (a sequence model's
    ``[B * T, D]``; the GPT's step 0.88x the time). For a batch of a few hundred images or vectors
    against wide layers (the MLP's 784 -> 256, the CNN's flattened head) the transposes it adds
    cost more than the faster product saves (1.17x and 1.05x the time, PERFORMANCE.md)."""
    return rows >= max(d, f)


def dot_general(
    lhs: jax.Array,
    rhs: jax.Array,
    dimension_numbers,
    precision=None,
    preferred_element_type=None,
    **extra,
) -> jax.Array:
    """``lax.dot_general``, but a dense layer's product takes a hand-written gradient on the CPU.

    ``lhs: [..., D]`` times ``rhs: [D, F]`` (what ``nnx.Linear`` computes) gives the same values;
    its weight gradient is computed as ``(dy^T @ x)^T`` in the form XLA's fast CPU kernels take
    (see ``_weight_grad``) instead of ``x^T @ dy``, which XLA leaves to Eigen. The choice is made
    when the computation is lowered (``lax.platform_dependent``): other backends keep XLA's own
    gradient. Products with fewer rows than features (:func:`_dense_pays`), other products (batch
    axes, other contractions, ``precision``, mixed dtypes, symbolic shapes) and the speed-ups
    switched off go to ``lax.dot_general`` unchanged.
    """

    def with_lax(lhs, rhs):
        return lax.dot_general(
            lhs, rhs, dimension_numbers, precision, preferred_element_type, **extra
        )

    taken = (
        speedups.is_enabled()
        and _is_dense(lhs, rhs, dimension_numbers, precision, preferred_element_type, extra)
        and _dense_pays(math.prod(lhs.shape[:-1]), *rhs.shape)
    )
    if not taken:
        return with_lax(lhs, rhs)
    return lax.platform_dependent(lhs, rhs, cpu=_dense, default=with_lax)
