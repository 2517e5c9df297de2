"""Timing helpers: medians over repeats of a function that does ``n`` samples of work."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def throughput(run: Callable[[], int], *, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Samples per second of ``run`` (which returns the samples it processed, after it has synced).

    The first call is timed separately as ``first_s`` (it includes compilation);
    then ``warmup`` untimed calls, then ``repeats`` timed calls. Reports the median
    and the spread (min, max) of samples/s over the repeats.
    """
    start = time.perf_counter()
    run()
    first_s = time.perf_counter() - start
    for _ in range(warmup):
        run()
    rates, seconds = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        samples = run()
        elapsed = time.perf_counter() - start
        rates.append(samples / elapsed)
        seconds.append(elapsed)
    median_s = statistics.median(seconds)
    return {
        "samples_per_s": statistics.median(rates),
        "min_samples_per_s": min(rates),
        "max_samples_per_s": max(rates),
        "first_call_s": first_s,
        "compile_s": max(first_s - median_s, 0.0),
        "repeats": repeats,
    }
