"""Install leptonlab's missing dependencies on a hosted runtime (Colab), keeping its JAX stack.

Run as a script by each notebook's first cell, right after ``pip install --no-deps`` of leptonlab,
so it must not import leptonlab (whose dependencies may be missing): standard library only.

- A dependency that is installed, at any version, is left alone. A hosted runtime upgrades its own
  jax, jaxlib, flax and numpy; re-pinning them from a course's requirements is the most reported
  breakage in courses like this one.
- A missing one is installed with the version range leptonlab's metadata gives, under a
  constraints file that pins the runtime's installed jax, jaxlib, flax and numpy to their current
  versions, so pip can neither upgrade nor downgrade them while resolving the new packages.
- A runtime's jax or flax older than the range leptonlab supports is reported, not replaced.
- JupyterLab and papermill are left out: a notebook does not need them (``NOT_FOR_A_NOTEBOOK``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from importlib import metadata

#: The packages a hosted runtime brings and keeps up to date itself: never reinstalled here.
RUNTIME_OWNED = ("jax", "jaxlib", "flax", "numpy")
#: Requirements a notebook does not need (the runtime has its own front end; papermill is for
#: ``leptonlab run``): installing JupyterLab into Colab's Python could upset its own Jupyter server.
NOT_FOR_A_NOTEBOOK = ("jupyterlab", "papermill")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_MINIMUM = re.compile(r">=\s*([0-9][0-9.]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def runtime_requirements(requirements: list[str]) -> list[str]:
    """leptonlab's requirements without those of extras (``; extra == "test"``)."""
    return [r for r in requirements if "extra ==" not in r.replace("extra==", "extra ==")]


def plan(requirements: list[str], installed=_installed) -> tuple[list[str], list[str], list[str]]:
    """(requirements to install, constraints pinning the runtime's stack, warnings).

    ``installed(name)`` gives an installed version or None.
    """
    missing, constraints, warnings = [], [], []
    for requirement in runtime_requirements(requirements):
        match = _NAME.match(requirement)
        if match is None:
            continue
        name = _canonical(match.group(1))
        if name in NOT_FOR_A_NOTEBOOK:
            continue
        version = installed(name)
        if version is None:
            missing.append(requirement.split(";")[0].strip())
            continue
        if name in RUNTIME_OWNED:
            constraints.append(f"{name}=={version}")
            minimum = _MINIMUM.search(requirement)
            if minimum and _release(version) < _release(minimum.group(1)):
                warnings.append(
                    f"this runtime's {name} {version} is older than leptonlab supports "
                    f"({requirement.split(';')[0].strip()}); it is kept as it is, and some "
                    "cells may fail: upgrade it yourself if they do"
                )
    for name in RUNTIME_OWNED:  # pinned even where leptonlab does not require it directly (jaxlib)
        version = installed(name)
        if version is not None and f"{name}=={version}" not in constraints:
            constraints.append(f"{name}=={version}")
    return missing, constraints, warnings


def main() -> int:
    try:
        requirements = metadata.requires("leptonlab") or []
    except metadata.PackageNotFoundError:
        print(
            "leptonlab is not installed: install it first (pip install --no-deps ...)",
            file=sys.stderr,
        )
        return 2
    missing, constraints, warnings = plan(requirements)
    for warning in warnings:
        print(f"leptonlab: {warning}", file=sys.stderr)
    if not missing:
        print("leptonlab: every dependency is already installed")
        return 0
    print(
        f"leptonlab: installing {', '.join(missing)} (keeping {', '.join(constraints) or 'nothing pinned'})"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("\n".join(constraints) + "\n")
    # --no-warn-conflicts: pip would otherwise call the left-out jupyterlab and papermill "broken" in red.
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-warn-conflicts",
        "-c",
        pins.name,
        *missing,
    ]
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
