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

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def quick_mode() -> bool:
    """Whether the course runs in quick mode (``LEPTONLAB_QUICK=1``).

    Quick mode trains on subsets for a few steps so that every notebook runs in
    CI on a CPU in about a minute; the notebooks still assert a clearly
    better-than-chance result. Introduced in notebook 00.

    Raises:
        ValueError: if the variable holds something other than a yes/no word.
    """
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} is not understood: "
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
