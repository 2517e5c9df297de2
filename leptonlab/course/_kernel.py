"""The course's Jupyter kernel: one command registers it, for ``make`` and for everyone else.

``leptonlab kernel install`` registers the kernel the notebooks, papermill and nbval use
(name ``leptonlab``, shown as "Python (leptonlab)") for the Python it runs in, with the JAX
compilation cache and the allocator settings of PERFORMANCE.md in its environment. The
Makefile calls the same command, so the "without make" route gives the same kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path

KERNEL_NAME = "leptonlab"
DISPLAY_NAME = "Python (leptonlab)"


def default_jax_cache() -> Path:
    """Where the kernel keeps JAX's compiled programs by default: ``<cache dir>/jax-compilation``."""
    from leptonlab._env import cache_dir

    return cache_dir() / "jax-compilation"


def kernel_env(
    *, jax_cache: str | Path | None = None, tunables: str | None = None
) -> dict[str, str]:
    """The kernel's environment: the JAX compilation cache and glibc's malloc settings.

    ``tunables=None`` means :data:`leptonlab._env.ALLOCATOR_TUNABLES`; ``""`` leaves them out.
    """
    from leptonlab._env import ALLOCATOR_ENV, ALLOCATOR_TUNABLES

    env = {
        "JAX_COMPILATION_CACHE_DIR": str(
            Path(jax_cache or default_jax_cache()).expanduser().absolute()
        )
    }
    tunables = ALLOCATOR_TUNABLES if tunables is None else tunables
    if tunables:
        env[ALLOCATOR_ENV] = tunables
    return env


def install_kernel(
    *,
    name: str = KERNEL_NAME,
    display_name: str = DISPLAY_NAME,
    prefix: str | None = None,
    user: bool = False,
    jax_cache: str | Path | None = None,
    tunables: str | None = None,
) -> Path:
    """Register the course kernel for this Python; returns the kernel spec's folder.

    By default it goes into this Python's environment (``sys.prefix``: a virtual environment's
    kernel is found when Jupyter runs from it); ``user=True`` installs for the user instead.

    Raises:
        ValueError: for an empty name, or a name Jupyter does not accept.
    """
    from ipykernel import kernelspec

    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(
            f"kernel name {name!r} must be letters, digits, '-', '_' or '.': e.g. 'leptonlab'."
        )
    if user and prefix:
        raise ValueError("choose one place for the kernel: user=True or a prefix, not both.")
    where = kernelspec.install(
        kernel_name=name,
        display_name=display_name,
        user=user,
        prefix=None if user else (prefix or sys.prefix),
        env=kernel_env(jax_cache=jax_cache, tunables=tunables),
    )
    return Path(where)
