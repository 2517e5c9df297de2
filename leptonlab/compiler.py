"""XLA compiler options for the course's compiled training steps, chosen by probing the installed XLA.

JAX 0.10's XLA hands a 2-D float convolution on the CPU to YNNPACK. For the gradients of the
course's small convolutions that is the slow path: the input gradient of a 3x3, 32-channel
layer on 16x16 images (batch 128) took 6.4 ms there and 3.4 ms in Eigen's convolution, which
XLA uses when YNNPACK is told to leave convolutions alone (PERFORMANCE.md). Matrix products
and reductions stay in YNNPACK, where they are fast.

* :func:`cpu_compiler_options` is ``{}`` or the one option that does this; it is chosen
  once per process by compiling a small probe program with and without it. The option is
  experimental and unknown to other versions of XLA, so it is used only where the probe
  shows it is accepted and changes exactly where convolutions run. Set
  ``LEPTONLAB_XLA_OPTIONS=0`` (before the first training step) to compile with XLA's defaults.
* :func:`tuned_jit` is ``jax.jit`` with those options, decided at the first call (nothing
  is compiled at import). :func:`leptonlab.train.fit` and the other training loops use it.

Introduced with the benchmarks of issue 7 (PERFORMANCE.md); no notebook needs it directly.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["OPTIONS_ENV", "cpu_compiler_options", "tuned_jit"]

#: Set to 0 to compile the training steps with XLA's default options.
OPTIONS_ENV = "LEPTONLAB_XLA_OPTIONS"

_YNN_FUSION_TYPES = "xla_cpu_experimental_ynn_fusion_type"
_DOTS_AND_REDUCTIONS = "LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_REDUCE"  # no convolutions


def _probe(x: jax.Array, w: jax.Array, a: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One of each, as separate outputs: a convolution, a matrix product, a reduction (large enough for YNNPACK)."""
    y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y, a @ a, r.sum(axis=0)  # [2, 8, 8, 32], [64, 64], [256]


_PROBE_ARGS = (jax.ShapeDtypeStruct((2, 8, 8, 32), "float32"),  # x: [B, H, W, C]
               jax.ShapeDtypeStruct((3, 3, 32, 32), "float32"),  # w: [KH, KW, C, O]
               jax.ShapeDtypeStruct((64, 64), "float32"),  # a: [64, 64]
               jax.ShapeDtypeStruct((256, 256), "float32"))  # r: [256, 256]


def library_ops(hlo_text: str) -> frozenset[str]:
    """Which of ``convolution``, ``dot`` and ``reduce`` run inside YNNPACK fusions of a compiled program.

    ``hlo_text`` is ``jax.jit(f).lower(...).compile().as_text()``.
    """
    bodies: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", hlo_text):  # computations start at column 0
        name = re.match(r"(?:ENTRY )?%?([\w.\-]+)", block)
        if name:
            bodies[name.group(1)] = block
    called = re.findall(r"fusion\(.*calls=%([\w.\-]+).*__ynn_fusion", hlo_text)
    return frozenset(op for op in ("convolution", "dot", "reduce")
                     if any(f" {op}(" in bodies.get(c, "") for c in called))


def _ops_with(options: dict[str, str] | None) -> frozenset[str] | None:
    """:func:`library_ops` of the probe compiled with ``options``; None when XLA refuses them."""
    try:
        return library_ops(jax.jit(_probe).lower(*_PROBE_ARGS).compile(options).as_text())
    except Exception:  # an option this XLA does not know: compile with its defaults instead
        return None


def _probed_options() -> dict[str, str]:
    if jax.default_backend() != "cpu":
        return {}
    default = _ops_with(None)
    if default is None or "convolution" not in default:
        return {}  # this XLA already keeps convolutions out of YNNPACK (or has no YNNPACK)
    options = {_YNN_FUSION_TYPES: _DOTS_AND_REDUCTIONS}
    if _ops_with(options) != default - {"convolution"}:
        return {}  # refused, or it would move more than the convolutions
    return options


@functools.cache
def _decided() -> tuple[tuple[str, str], ...]:
    raw = os.environ.get(OPTIONS_ENV, "").strip().lower()
    if raw in {"0", "false", "no", "off"}:
        return ()
    if raw not in {"", "1", "true", "yes", "on"}:
        raise ValueError(f"{OPTIONS_ENV}={os.environ[OPTIONS_ENV]!r} is not understood: set it to 0 to compile "
                         "with XLA's defaults, or leave it unset.")
    return tuple(_probed_options().items())


def cpu_compiler_options() -> dict[str, str]:
    """The XLA options the course compiles its training steps with: ``{}`` or one CPU option.

    Non-empty only on the CPU backend, when the installed XLA gives convolutions to YNNPACK
    and accepts the option that keeps them in Eigen (matrix products and reductions stay in
    YNNPACK), and unless ``LEPTONLAB_XLA_OPTIONS=0``. Decided once per process, at the first
    call (two small compilations): :mod:`leptonlab.kernels` routes gradients by it when a model
    is traced, and JAX keeps those traces, so it must not change while the process runs.

    Raises:
        ValueError: if ``LEPTONLAB_XLA_OPTIONS`` holds something other than 0 or 1.
    """
    return dict(_decided())


class _TunedJit:
    """``jax.jit(fun, **jit_kwargs)`` built at the first use, with :func:`cpu_compiler_options`."""

    def __init__(self, fun: Callable, jit_kwargs: dict[str, Any]):
        self._fun, self._jit_kwargs = fun, jit_kwargs
        self._jitted: dict[tuple[tuple[str, str], ...], Callable] = {}  # by options: each keeps its compilations
        functools.update_wrapper(self, fun)

    def _get(self):
        options = cpu_compiler_options()
        key = tuple(sorted(options.items()))
        if key not in self._jitted:
            extra = {"compiler_options": options} if options else {}
            self._jitted[key] = jax.jit(self._fun, **self._jit_kwargs, **extra)
        return self._jitted[key]

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def __getattr__(self, name: str):  # lower, eval_shape, trace, ... of the jitted function
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def tuned_jit(fun: Callable | None = None, /, **jit_kwargs: Any):
    """``jax.jit`` with :func:`cpu_compiler_options`, decided when the function is first called.

    Used like ``jax.jit``, also as a decorator with arguments::

        @tuned_jit(static_argnames="loss_fn", donate_argnames="state")
        def step(state, batch, loss_fn): ...
    """
    if fun is None:
        return lambda f: _TunedJit(f, jit_kwargs)
    return _TunedJit(fun, jit_kwargs)
