"""The student's kernel in a sandbox: bubblewrap (``bwrap``), unprivileged user namespaces.

A graded notebook runs in a Jupyter kernel that sees a minimal filesystem:

- read-only: the operating system (``/usr``, ``/etc``, ...), the Python installation and its
  virtual environment, the ``leptonlab`` package itself, and the offline data and download cache;
- writable: the student's own working copy, and a private ``/tmp``;
- nothing else: not the instructor's source notebooks (the solutions), not the other
  submissions, not the repository the package came from, not the grader's processes (a new PID
  namespace, so ``/proc`` shows only the sandbox), and no network (a new network namespace; the
  grader talks to the kernel over Unix sockets in a folder shared with the sandbox).

Every process the student starts lives in the sandbox's PID namespace, so all of them end when
the kernel ends or is killed (``--die-with-parent``), detached ones included. When the grader
runs as root, the kernel runs as ``nobody`` inside the sandbox. The environment is cleared
except for a short list of variables the course needs.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from jupyter_client import AsyncKernelManager
from traitlets import List, Unicode

#: Variables passed into the sandbox from the grader's environment (everything else is dropped).
PASSED_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "GLIBC_TUNABLES",
    "PYTHONNOUSERSITE",
    "XLA_FLAGS",
    "JAX_PLATFORMS",
    "JAX_ENABLE_X64",
    "LEPTONLAB_QUICK",
    "LEPTONLAB_DATA_DIR",
    "LEPTONLAB_CACHE_DIR",
    "LEPTONLAB_CHECK_RECORD",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt")
_NOBODY = 65534


@functools.cache
def bubblewrap() -> str | None:
    """The path of a working ``bwrap``, or None (missing, or namespaces forbidden here)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [
        path,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-all",
        "--die-with-parent",
        "true",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def _data_dirs() -> list[Path]:
    cache = os.environ.get("LEPTONLAB_CACHE_DIR") or str(Path.home() / ".cache" / "leptonlab")
    return [Path(p) for p in (os.environ.get("LEPTONLAB_DATA_DIR"), cache) if p]


def _inside(path: Path, folders: Iterable[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def sandbox_command(
    bwrap: str,
    *,
    writable: Iterable[Path],
    hidden: Iterable[Path] = (),
    env: dict[str, str] | None = None,
) -> list[str]:
    """The ``bwrap`` arguments that run a command in the grading sandbox.

    ``writable``: folders bound read-write at their own paths (the working copy, the socket
    folder). ``hidden``: folders that must stay out of sight (the sources, the submissions): they
    are covered by an empty tmpfs if a read-only folder would otherwise expose them. ``env``: the
    extra variables to set (the kernel spec's), on top of :data:`PASSED_ENV`.
    """
    import leptonlab

    readonly = [Path(p) for p in _SYSTEM_DIRS]
    readonly += [Path(sys.base_prefix), Path(sys.prefix), Path(leptonlab.__file__).resolve().parent]
    readonly += _data_dirs()
    args = [bwrap, "--unshare-all", "--die-with-parent", "--clearenv"]
    if os.geteuid() == 0:
        args += ["--unshare-user", "--uid", str(_NOBODY), "--gid", str(_NOBODY)]
    # /tmp first: a data or cache folder under /tmp is then bound on top of the private one.
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/tmp/home"]
    for folder in readonly:
        if folder.is_symlink():  # e.g. /lib -> usr/lib on a merged-/usr system
            args += ["--symlink", os.readlink(folder), str(folder)]
        elif folder.is_dir():
            real = folder.resolve()
            args += ["--ro-bind", str(real), str(real)]
    visible = [Path(args[i + 1]) for i, a in enumerate(args) if a == "--ro-bind"]
    for folder in hidden:
        real = Path(folder).resolve()
        if _inside(real, visible):
            args += ["--tmpfs", str(real)]
    for folder in writable:
        real = Path(folder).resolve()
        args += ["--bind", str(real), str(real)]
    variables = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    variables.update(env or {})
    variables.update(HOME="/tmp/home", MPLCONFIGDIR="/tmp/home/matplotlib", TMPDIR="/tmp")
    for name, value in sorted(variables.items()):
        args += ["--setenv", name, value]
    return args


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside :func:`sandbox_command`'s sandbox.

    Use with ``transport="ipc"`` and ``ip``/``connection_file`` inside one of the writable
    folders: the kernel has no network, so it talks to the grader over Unix sockets.
    """

    bwrap = Unicode("bwrap", help="the bwrap executable").tag(config=True)
    writable = List(Unicode(), help="folders bound read-write").tag(config=True)
    hidden = List(Unicode(), help="folders kept out of sight").tag(config=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        spec_env = {
            k: v
            for k, v in (self.kernel_spec.env or {}).items()
            if k != "JAX_COMPILATION_CACHE_DIR"
        }  # the instructor's cache stays outside
        prefix = sandbox_command(
            self.bwrap,
            writable=[Path(p) for p in self.writable],
            hidden=[Path(p) for p in self.hidden],
            env=spec_env,
        )
        return [*prefix, "--chdir", str(Path(self.writable[0]).resolve()), *cmd]
