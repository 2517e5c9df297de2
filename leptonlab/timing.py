"""Timing JAX code properly: compile time apart, wait for the result, median of repeats.

Three traps make naive timings of JAX code wrong:

1. the first call of a jitted function traces and compiles it (often far longer
   than one run), so it is timed separately, as ``first_call_s``;
2. JAX dispatches work asynchronously: a call returns before the device has
   finished, so every timed call ends with ``jax.block_until_ready``;
3. single runs are noisy (other processes, caches), so we repeat and report the
   median (and the minimum, the least disturbed run).

Introduced in notebook 00 (setup and JAX).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax

__all__ = ["Timing", "compare_devices", "time_fn"]


@dataclass(frozen=True)
class Timing:
    """How long one function call takes. Introduced in notebook 00.

    Times are in seconds; ``str(timing)`` prints them in readable units.
    """

    first_call_s: float  # the first call: tracing + compilation + one run, seconds
    median_s: float  # median of the timed repeats after warm-up, seconds per call
    min_s: float  # fastest timed repeat, seconds per call
    repeats: int  # number of timed calls behind median_s and min_s
    device: str  # where the result lives, e.g. "cpu:0" or "cuda:0"

    @property
    def compile_s(self) -> float:
        """Estimated compile (and trace) time: the first call minus a typical call, seconds."""
        return max(self.first_call_s - self.median_s, 0.0)

    def __str__(self) -> str:
        return (
            f"{_fmt(self.median_s)} per call (median of {self.repeats}, min {_fmt(self.min_s)}) "
            f"on {self.device}; first call {_fmt(self.first_call_s)} incl. compile"
        )


def _fmt(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _device_of(out: Any) -> str:
    for leaf in jax.tree_util.tree_leaves(out):
        devices = getattr(leaf, "devices", None)
        if callable(devices):
            ds = sorted(devices(), key=lambda d: d.id)
            if ds:
                return f"{ds[0].platform}:{ds[0].id}"
    return "host"


def time_fn(
    fn: Callable[..., Any], *args: Any, repeats: int = 10, warmup: int = 1, **kwargs: Any
) -> Timing:
    """Time ``fn(*args, **kwargs)``: the first call, then ``repeats`` calls after ``warmup`` more.

    ``fn`` is usually ``jax.jit(f)``; any callable returning JAX arrays (or a
    pytree of them) works. Every call is followed by ``jax.block_until_ready``
    so the clock stops when the device has finished. The arguments are passed
    as they are: put them on a device first (``jax.device_put``) to choose
    where the work runs. Returns a :class:`Timing`. Introduced in notebook 00.

    Example::

        f = jax.jit(lambda x: x @ x)
        t = time_fn(f, jnp.ones((512, 512)), repeats=20)
        print(t.median_s, t.first_call_s)
    """
    if not callable(fn):
        raise TypeError(
            f"time_fn() needs a function to call, got {type(fn).__name__}; "
            "pass the function itself: time_fn(f, x), not time_fn(f(x))."
        )
    for name, value in (("repeats", repeats), ("warmup", warmup)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"time_fn(): {name} must be an int, got {type(value).__name__}.")
    if repeats < 1:
        raise ValueError(f"time_fn(): repeats must be at least 1, got {repeats}.")
    if warmup < 0:
        raise ValueError(f"time_fn(): warmup must be 0 or more, got {warmup}.")

    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    first = time.perf_counter() - start
    for _ in range(warmup):
        jax.block_until_ready(fn(*args, **kwargs))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args, **kwargs))
        samples.append(time.perf_counter() - start)
    return Timing(
        first_call_s=first,
        median_s=statistics.median(samples),
        min_s=min(samples),
        repeats=repeats,
        device=_device_of(out),
    )


def compare_devices(
    fn: Callable[..., Any],
    *args: Any,
    devices: Sequence[Any] | None = None,
    repeats: int = 10,
    warmup: int = 1,
) -> dict[str, Timing]:
    """Time ``fn(*args)`` on each device: ``{"cpu:0": Timing, "cuda:0": Timing, ...}``.

    ``devices`` defaults to the first device of each platform JAX can see (the
    CPU always, plus a GPU or TPU when there is one). The arguments (arrays or
    pytrees of arrays) are copied to each device with ``jax.device_put``; a
    jitted ``fn`` then runs where its inputs are. Each device compiles its own
    version, so each ``Timing`` has its own ``first_call_s``. Introduced in notebook 00.
    """
    if not callable(fn):
        raise TypeError(f"compare_devices() needs a function to call, got {type(fn).__name__}.")
    if devices is None:
        platforms = ["cpu"] + sorted({d.platform for d in jax.devices()} - {"cpu"})
        devices = [jax.devices(p)[0] for p in platforms]
    else:
        devices = list(devices)
        if not devices:
            raise ValueError(
                "compare_devices(): devices is empty; pass None for every platform, or e.g. jax.devices()."
            )
        for d in devices:
            if not isinstance(d, jax.Device):
                raise TypeError(
                    f"compare_devices(): devices must be jax.Device objects (from jax.devices()), "
                    f"got {type(d).__name__}."
                )
    results: dict[str, Timing] = {}
    for device in devices:
        placed = jax.device_put(args, device)
        results[f"{device.platform}:{device.id}"] = time_fn(
            fn, *placed, repeats=repeats, warmup=warmup
        )
    return results
