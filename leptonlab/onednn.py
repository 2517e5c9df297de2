"""oneDNN's direct convolutions on the CPU, as XLA custom calls (issue 28).

XLA's CPU backend has no convolution kernel of oneDNN's class (PERFORMANCE.md measures every
route it has); PyTorch's CPU convolutions are oneDNN's. This module gives the course's CPU
training step the same kernels: ``_onednn/conv.cc`` wraps oneDNN's forward, input-gradient and
weight-gradient convolutions as three XLA FFI handlers, and :func:`conv` calls them from a
``jax.custom_vjp``. :func:`leptonlab.kernels.conv_general_dilated` routes float32 NHWC
convolutions here on the CPU when :func:`available` (the speed-ups switched on); everything else
keeps its other routes. The numbers equal ``lax.conv_general_dilated``'s up to float rounding
(``tests/test_onednn.py``).

Where it comes from: oneDNN is Intel's library, installed from PyPI on Linux x86-64 as
``onednn-cpu-gomp`` (the library, run on GNU OpenMP's threads) and ``onednn-devel-cpu-gomp`` (its
headers), found through the wheels' lists of installed files. The small C++ file is compiled with the system's ``g++`` on first use (about 5 s),
into ``LEPTONLAB_CACHE_DIR`` (or the user's cache folder), once per version of the source, JAX
and oneDNN. Nothing happens at import.

When it is not there (another OS or CPU, no compiler, the wheels not installed, or
``LEPTONLAB_ONEDNN=0``), :func:`available` is False, :func:`unavailable_reason` says why, and
the convolutions take the routes written in JAX (:mod:`leptonlab.kernels`), with the same
numbers. Where leptonlab installs oneDNN (Linux x86-64) but building or loading fails, a
:class:`leptonlab.speedups.SpeedupWarning` says so once, with the reason. ``leptonlab doctor``
reports which kernels run.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp

from leptonlab import _env
from leptonlab.speedups import SpeedupWarning

__all__ = ["DISABLE_ENV", "available", "build", "conv", "unavailable_reason"]

#: ``LEPTONLAB_ONEDNN=0`` switches the oneDNN route off (to compare, or to rule it out).
DISABLE_ENV = "LEPTONLAB_ONEDNN"

_SOURCE = Path(__file__).parent / "_onednn" / "conv.cc"
_HANDLERS = {
    "forward": "LeptonlabConvForward",
    "backward_data": "LeptonlabConvBackwardData",
    "backward_weights": "LeptonlabConvBackwardWeights",
}
_TARGET_PREFIX = "leptonlab_onednn_conv_"


_WHEELS = ("onednn-cpu-gomp", "onednn-devel-cpu-gomp")


def _installed_files() -> list[Path]:
    """The files pip installed for oneDNN's two wheels, wherever its scheme put them (a venv's
    ``include/`` and ``lib/``, or ``/usr/local`` on a hosted runtime such as Colab)."""
    from importlib import metadata

    found = []
    for wheel in _WHEELS:
        try:
            dist = metadata.distribution(wheel)
        except metadata.PackageNotFoundError:
            continue
        found += [Path(dist.locate_file(f)).resolve() for f in dist.files or []]
    return found


def _find_onednn() -> tuple[Path, Path]:
    """``(include_dir, lib_dir)`` of the installed oneDNN, or ``FileNotFoundError`` saying what is missing."""
    files = _installed_files()
    headers = [f.parents[2] for f in files if f.parts[-3:] == ("oneapi", "dnnl", "dnnl.hpp")]
    libraries = [f.parent for f in files if f.name == "libdnnl.so"]
    if headers and libraries and headers[0].is_dir() and (libraries[0] / "libdnnl.so").exists():
        return headers[0], libraries[0]
    raise FileNotFoundError(
        "oneDNN's headers and library were not found (the wheels "
        + " and ".join(_WHEELS)
        + "): install them with `pip install onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0`"
        " (leptonlab's own install does this on Linux x86-64)."
    )


def _switched_off() -> str | None:
    """The reason if ``LEPTONLAB_ONEDNN`` switches the route off (read afresh on every call)."""
    if os.environ.get(DISABLE_ENV, "").strip().lower() in {"0", "false", "no", "off"}:
        return f"{DISABLE_ENV}={os.environ[DISABLE_ENV]} switches it off"
    return None


def _why_not() -> str | None:
    """Why this machine cannot use the route (None if nothing rules it out before building)."""
    if sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}:
        return f"oneDNN's wheels are installed on Linux x86-64 only (this is {sys.platform} {platform.machine()})"
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        return "no C++ compiler (g++, or $CXX) to build the small custom-call library with"
    return None


def build(cache: Path | None = None) -> Path:
    """Compile ``_onednn/conv.cc`` into a shared library (once per source, JAX and oneDNN) and return its path.

    The library is written to a temporary name and renamed into place, so that processes
    building at the same time (``pytest -n``) never load half a file.

    Raises:
        FileNotFoundError: oneDNN's headers or library are not installed.
        RuntimeError: the compiler failed; its message is included.
    """
    include, lib = _find_onednn()
    cxx = os.environ.get("CXX", "g++")
    source = _SOURCE.read_bytes()
    digest = hashlib.sha256(
        source
        + jax.__version__.encode()
        + str(lib.resolve()).encode()
        + str((lib / "libdnnl.so").resolve()).encode()
    ).hexdigest()[:16]
    folder = (cache or _env.cache_dir()) / "onednn"
    target = folder / f"leptonlab_onednn_{digest}.so"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
    os.close(fd)
    cmd = [
        cxx, "-O2", "-std=c++17", "-shared", "-fPIC", str(_SOURCE),
        "-isystem", jax.ffi.include_dir(), "-isystem", str(include),
        f"-L{lib}", "-ldnnl", f"-Wl,-rpath,{lib.resolve()}", "-o", tmp,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        os.unlink(tmp)
        raise RuntimeError(
            f"building leptonlab's oneDNN convolutions failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}"
        )
    os.replace(tmp, target)
    return target


@functools.cache
def _load() -> tuple[bool, str | None]:
    """Build, load and register the handlers once per process: ``(ok, reason if not)``."""
    reason = _why_not()
    if reason is not None:
        return False, reason
    try:
        library = ctypes.CDLL(str(build()))
    except (FileNotFoundError, RuntimeError, OSError) as error:
        # leptonlab installs oneDNN on this platform: say once that the faster kernels are lost
        warnings.warn(
            f"oneDNN's convolutions are not used, the ones written in JAX run instead (the same "
            f"numbers, slower): {error}",
            SpeedupWarning,
            stacklevel=2,
        )
        return False, str(error)
    for pass_name, symbol in _HANDLERS.items():
        jax.ffi.register_ffi_target(
            _TARGET_PREFIX + pass_name, jax.ffi.pycapsule(getattr(library, symbol)), platform="cpu"
        )
    return True, None


def available() -> bool:
    """Whether the oneDNN convolutions run here: not switched off by ``LEPTONLAB_ONEDNN=0`` (read on
    every call, so it takes effect for what is traced afterwards), and built and loaded (on the
    first call that gets that far)."""
    return _switched_off() is None and _load()[0]


def unavailable_reason() -> str | None:
    """Why :func:`available` is False (None when it is True)."""
    return _switched_off() or _load()[1]


Pads = tuple[tuple[int, int], tuple[int, int]]


def _call(pass_name: str, out: jax.ShapeDtypeStruct, a, b, strides, pads):
    ok, reason = _load()  # builds and registers the custom calls on first use
    if not ok:
        raise RuntimeError(
            f"leptonlab.onednn.conv cannot run here: {reason}. Use lax.conv_general_dilated "
            "(or leptonlab.kernels.conv_general_dilated, which chooses for you)."
        )
    (top, bottom), (left, right) = pads
    # under jax.vmap (leptonlab.search trains a stack of models) one call per item of the batch
    return jax.ffi.ffi_call(_TARGET_PREFIX + pass_name, out, vmap_method="sequential")(
        a, b,
        stride_h=int(strides[0]), stride_w=int(strides[1]),
        pad_top=int(top), pad_bottom=int(bottom), pad_left=int(left), pad_right=int(right),
    )  # fmt: skip


def _out_shape(x_shape, w_shape, strides, pads) -> tuple[int, int, int, int]:
    b, h, w, _ = x_shape
    kh, kw, _, o = w_shape
    (top, bottom), (left, right) = pads
    return (
        b,
        (h + top + bottom - kh) // strides[0] + 1,
        (w + left + right - kw) // strides[1] + 1,
        o,
    )


# The three passes are one bilinear map B(x, w) = conv(x, w) seen three ways, so each one's
# gradient is made of the others (any order of differentiation: notebook 18 trains on
# adversarial images, the gradient of a loss that holds an input gradient):
#   backward_data(dy, w)    = d<dy, B(x, w)>/dx;  its VJP for c [B, H, W, C]:   dy <- B(c, w),
#                                                                                w <- backward_weights(c, dy)
#   backward_weights(x, dy) = d<dy, B(x, w)>/dw;  its VJP for v [KH, KW, C, O]: x <- backward_data(dy, v),
#                                                                                dy <- B(x, v)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads) -> jax.Array:
    """``x: [B, H, W, C]`` float32, ``w: [KH, KW, C, O]`` float32 ``-> [B, Ho, Wo, O]`` by oneDNN.

    Equals ``lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=("NHWC", "HWIO",
    "NHWC"))`` up to float rounding; its gradients (of any order, reverse mode) are oneDNN's
    too. CPU only; the first call builds and registers the custom calls, and raises
    ``RuntimeError`` with the reason where they cannot run (:func:`unavailable_reason`).
    """
    out = jax.ShapeDtypeStruct(_out_shape(x.shape, w.shape, strides, pads), jnp.float32)
    return _call("forward", out, x, w, strides, pads)


def _conv_fwd(x, w, strides, pads):
    return conv(x, w, strides, pads), (x, w)


def _conv_bwd(strides, pads, residuals, dy):
    x, w = residuals
    return (
        _backward_data(dy, w, x.shape, strides, pads),
        _backward_weights(x, dy, w.shape, strides, pads),
    )


conv.defvjp(_conv_fwd, _conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _backward_data(dy: jax.Array, w: jax.Array, x_shape, strides, pads) -> jax.Array:
    """``dy: [B, Ho, Wo, O]``, ``w: [KH, KW, C, O] -> dx: x_shape [B, H, W, C]``."""
    return _call("backward_data", jax.ShapeDtypeStruct(x_shape, jnp.float32), dy, w, strides, pads)


def _backward_data_fwd(dy, w, x_shape, strides, pads):
    return _backward_data(dy, w, x_shape, strides, pads), (dy, w)


def _backward_data_bwd(x_shape, strides, pads, residuals, c):
    dy, w = residuals
    return conv(c, w, strides, pads), _backward_weights(c, dy, w.shape, strides, pads)


_backward_data.defvjp(_backward_data_fwd, _backward_data_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _backward_weights(x: jax.Array, dy: jax.Array, w_shape, strides, pads) -> jax.Array:
    """``x: [B, H, W, C]``, ``dy: [B, Ho, Wo, O] -> dw: w_shape [KH, KW, C, O]``."""
    return _call(
        "backward_weights", jax.ShapeDtypeStruct(w_shape, jnp.float32), x, dy, strides, pads
    )


def _backward_weights_fwd(x, dy, w_shape, strides, pads):
    return _backward_weights(x, dy, w_shape, strides, pads), (x, dy)


def _backward_weights_bwd(w_shape, strides, pads, residuals, v):
    x, dy = residuals
    return _backward_data(dy, v, x.shape, strides, pads), conv(x, v, strides, pads)


_backward_weights.defvjp(_backward_weights_fwd, _backward_weights_bwd)
