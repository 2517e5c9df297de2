"""Settings read from the environment: the quick switch and the data folders.

Nothing here is cached: each call reads the environment afresh, so a test or a
notebook can change a variable and see the effect at once.
"""

from __future__ import annotations

import os
from pathlib import Path

QUICK_ENV = "LEPTONLAB_QUICK"
DATA_DIR_ENV = "LEPTONLAB_DATA_DIR"
CACHE_DIR_ENV = "LEPTONLAB_CACHE_DIR"

#: glibc's malloc settings for the processes that train (the course kernel, ``make test``,
#: the benchmark's JAX side). XLA's CPU runtime allocates its temporary buffers afresh on every
#: step; by default glibc serves large blocks with ``mmap`` and gives them back on ``free``,
#: so every step faults tens of megabytes back in (18,000 page faults per MNIST CNN step). One
#: arena grown with ``brk`` and never trimmed keeps that memory for reuse: 0 page faults and
#: about 1.4x the CNN's steps per second on a 2-core machine (PERFORMANCE.md). The cost: the
#: process keeps its peak memory until it exits. Read at process start only (setting it from
#: Python is too late); ignored outside Linux/glibc.
ALLOCATOR_ENV = "GLIBC_TUNABLES"
ALLOCATOR_TUNABLES = (
    "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def quick_mode(override: bool | str | None = None) -> bool:
    """Whether the course runs in quick mode: ``override`` if given, else ``LEPTONLAB_QUICK=1``.

    Quick mode trains on subsets for a few steps so that every notebook runs in
    CI on a CPU in about a minute; the notebooks still assert a clearly
    better-than-chance result. A notebook's parameters cell sets ``QUICK = None``
    (follow the environment) or ``True``/``False`` (papermill ``-p QUICK True``) and
    the next cell resolves it with ``QUICK = lepton.quick_mode(QUICK)``.
    Introduced in notebook 00.

    Raises:
        ValueError: if the variable (or a string ``override``) is not a yes/no word.
        TypeError: if ``override`` is not None, a bool or a string.
    """
    if isinstance(override, bool):
        return override
    if override is not None and not isinstance(override, str):
        raise TypeError(f"QUICK must be None, True or False, got {override!r}.")
    where = "QUICK" if override is not None else QUICK_ENV
    raw = (override if override is not None else os.environ.get(QUICK_ENV, "")).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{where}={(override if override is not None else os.environ[QUICK_ENV])!r} is not understood: "
        "set it to 1 for quick mode or 0 (or leave it unset) for the full run."
    )


def data_dir() -> Path | None:
    """The offline data folder from ``LEPTONLAB_DATA_DIR``, or None when unset.

    When set, datasets are read from ``<data_dir>/<dataset>/<file>`` and the
    network is never used.
    """
    raw = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else None


def cache_dir() -> Path:
    """Where downloads are cached: ``LEPTONLAB_CACHE_DIR`` or the user's cache folder."""
    raw = os.environ.get(CACHE_DIR_ENV, "").strip()
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "leptonlab"


def with_allocator_settings(env: dict[str, str]) -> dict[str, str]:
    """A copy of ``env`` for a child process, with :data:`ALLOCATOR_TUNABLES` unless it sets its own.

    A ``GLIBC_TUNABLES`` already in ``env`` (the user's own choice, or an empty one to switch
    the course's settings off) is kept as it is.
    """
    child = dict(env)
    child.setdefault(ALLOCATOR_ENV, ALLOCATOR_TUNABLES)
    return child
