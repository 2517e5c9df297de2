"""CPU speed-ups of the course's training steps: what they are, and the one switch that applies them.

``fit(..., cpu_speedups=True)`` (the default) and the other training loops apply them;
``cpu_speedups=False`` trains the plain Flax model with XLA's default settings. The
results agree to float rounding; only the time differs (PERFORMANCE.md has the figures).

1. **Convolutions by im2col with hand-written gradients** (:mod:`leptonlab.kernels`):
   :func:`apply` gives every ``nnx.Conv`` of a model :func:`leptonlab.kernels.conv_general_dilated`,
   which on the CPU computes a plain 2-D convolution as patches times kernel and its weight
   gradient as one more matrix product, or, for 3x3 stride-1 layers of 64 channels or more, by
   Winograd's F(2x2, 3x3) (GPUs and TPUs keep XLA's kernels). On Linux x86-64, float32
   convolutions run as oneDNN's kernels instead, called from XLA (:mod:`leptonlab.onednn`;
   ``LEPTONLAB_ONEDNN=0`` switches that off). The models themselves are plain Flax.
2. **An XLA compiler option, found by probing the installed XLA** (:func:`cpu_compiler_options`):
   JAX 0.10's XLA hands CPU convolutions to YNNPACK, the slow path for the input gradients of
   the course's small convolutions; one experimental option keeps them in Eigen. It is used
   only where a probe program shows that this XLA accepts it and that it moves exactly the
   convolutions. The probe reads the compiled HLO text, whose format may change with XLA:
   when it stops matching, training degrades to XLA's defaults with a warning, never to
   other numbers (tests/test_speedups.py fails then, so that the probe gets updated).
3. **Dense layers' weight gradients in the form XLA's fast kernels take**: :func:`apply` also
   gives every ``nnx.Linear`` :func:`leptonlab.kernels.dot_general`, whose hand-written gradient
   computes ``x^T @ dy`` as ``(dy^T @ x)^T`` (YNNPACK) instead of leaving it to Eigen, where
   the rows outnumber the features (a sequence model's ``[B * T, D]``; ``kernels._dense_pays``).
4. **Steps per compiled call** (:func:`leptonlab.train.steps_per_call`): one step per call on
   the CPU, a ``lax.scan`` of 32 on accelerators (``TrainConfig.steps_per_call`` overrides it).
5. **glibc allocator settings** (``leptonlab._env.ALLOCATOR_TUNABLES``): they must be set
   before a process starts, so ``make`` and the course's Jupyter kernel set them, not fit.

:func:`tuned_jit` is ``jax.jit`` with the options of 2 when the switch is on; it keeps one
compiled program per setting, so runs with and without speed-ups can share a process.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
from flax import nnx

__all__ = [
    "SpeedupWarning",
    "apply",
    "cpu_compiler_options",
    "enabled",
    "is_enabled",
    "library_ops",
    "tuned_jit",
    "xla_options",
]

_YNN_FUSION_TYPES = "xla_cpu_experimental_ynn_fusion_type"
_DOTS_AND_REDUCTIONS = "LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_REDUCE"  # no convolutions

_switch: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "leptonlab_cpu_speedups", default=True
)


class SpeedupWarning(UserWarning):
    """A speed-up could not be applied on this installation; training uses XLA's defaults instead."""


# --------------------------------------------------------------------------- the switch


@contextlib.contextmanager
def enabled(flag: bool) -> Iterator[None]:
    """Within this block, training steps compile with (``True``) or without (``False``) the speed-ups."""
    if not isinstance(flag, bool):
        raise TypeError(f"cpu_speedups must be True or False, got {flag!r}.")
    token = _switch.set(flag)
    try:
        yield
    finally:
        _switch.reset(token)


def is_enabled() -> bool:
    """Whether the speed-ups apply here (True unless inside ``enabled(False)``)."""
    return _switch.get()


def apply(model: nnx.Module) -> nnx.Module:
    """A copy of ``model`` (same arrays) whose ``nnx.Conv`` layers use the im2col convolution
    and whose ``nnx.Linear`` layers use :func:`leptonlab.kernels.dot_general`.

    Only layers that use Flax's default products (``lax.conv_general_dilated``,
    ``lax.dot_general``) are changed.
    """
    from leptonlab import (
        kernels,
    )  # kernels asks this module for the options: imported here, not above

    graphdef, state = nnx.split(model)
    copy = nnx.merge(graphdef, state)
    for _, module in nnx.iter_modules(copy):
        if (
            isinstance(module, nnx.Conv)
            and module.conv_general_dilated is jax.lax.conv_general_dilated
        ):
            module.conv_general_dilated = kernels.conv_general_dilated
        elif isinstance(module, nnx.Linear) and module.dot_general is jax.lax.dot_general:
            module.dot_general = kernels.dot_general
    return copy


# --------------------------------------------------------------------------- the XLA option and its probe


def _probe(
    x: jax.Array, w: jax.Array, a: jax.Array, r: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One of each, as separate outputs: a convolution, a matrix product, a reduction (large enough for YNNPACK)."""
    y = jax.lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return y, a @ a, r.sum(axis=0)  # [2, 8, 8, 32], [64, 64], [256]


_PROBE_ARGS = (
    jax.ShapeDtypeStruct((2, 8, 8, 32), "float32"),  # x: [B, H, W, C]
    jax.ShapeDtypeStruct((3, 3, 32, 32), "float32"),  # w: [KH, KW, C, O]
    jax.ShapeDtypeStruct((64, 64), "float32"),  # a: [64, 64]
    jax.ShapeDtypeStruct((256, 256), "float32"),
)  # r: [256, 256]


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
    return frozenset(
        op
        for op in ("convolution", "dot", "reduce")
        if any(f" {op}(" in bodies.get(c, "") for c in called)
    )


def _ops_with(options: dict[str, str] | None) -> frozenset[str] | None:
    """:func:`library_ops` of the probe compiled with ``options``; None when XLA refuses them."""
    try:
        return library_ops(jax.jit(_probe).lower(*_PROBE_ARGS).compile(options).as_text())
    except Exception:  # an option this XLA does not know: compile with its defaults instead
        return None


def probe_options() -> tuple[dict[str, str], str]:
    """``(options, why)``: the option of speed-up 2 if the probe shows its effect, else ``{}`` and the reason."""
    if jax.default_backend() != "cpu":
        return {}, ""  # other backends: nothing to do, nothing to report
    default = _ops_with(None)
    if default is None:
        return {}, "the probe program did not compile"
    if not default:
        return {}, (
            "the compiled probe shows no YNNPACK fusion: this XLA has none, or its HLO text no longer "
            "reads as library_ops expects"
        )
    if "convolution" not in default:
        return {}, ""  # this XLA already keeps convolutions out of YNNPACK: nothing to move
    options = {_YNN_FUSION_TYPES: _DOTS_AND_REDUCTIONS}
    tuned = _ops_with(options)
    if tuned != default - {"convolution"}:
        return (
            {},
            f"{_YNN_FUSION_TYPES} is refused or moves more than the convolutions (library ops {tuned})",
        )
    return options, ""


@functools.cache
def cpu_compiler_options() -> dict[str, str]:
    """The XLA options of speed-up 2 on this installation: ``{}`` or one CPU option.

    Probed once per process (two small compilations: a fact of the installed XLA, not a
    setting). When the probe does not show the expected effect, ``{}`` and one
    :class:`SpeedupWarning` saying why.
    """
    options, why = probe_options()
    if why:
        warnings.warn(
            f"leptonlab.speedups: {why} (jax {jax.__version__}); the training steps compile with "
            "XLA's default options, slower on the CPU but with the same results.",
            SpeedupWarning,
            stacklevel=2,
        )
    return dict(options)


def xla_options() -> dict[str, str]:
    """The options training steps compile with here: :func:`cpu_compiler_options` if the switch is on, else ``{}``."""
    return cpu_compiler_options() if is_enabled() else {}


# --------------------------------------------------------------------------- tuned_jit


class _TunedJit:
    """``jax.jit(fun, **jit_kwargs)``, one per (switch, options), with :func:`xla_options`."""

    def __init__(self, fun: Callable, jit_kwargs: dict[str, Any]):
        self._fun, self._jit_kwargs = fun, jit_kwargs
        self._jitted: dict[tuple, Callable] = {}  # each keeps its own traces and compilations
        functools.update_wrapper(self, fun)

    def _get(self):
        options = xla_options()
        key = (
            is_enabled(),
            tuple(sorted(options.items())),
        )  # traces differ with the switch (im2col or lax)
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
    """``jax.jit`` with :func:`xla_options`, decided at each call by the switch (:func:`enabled`).

    Used like ``jax.jit``, also as a decorator with arguments::

        @tuned_jit(static_argnames="loss_fn", donate_argnames="state")
        def step(state, batch, loss_fn): ...
    """
    if fun is None:
        return lambda f: _TunedJit(f, jit_kwargs)
    return _TunedJit(fun, jit_kwargs)
