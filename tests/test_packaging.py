"""The project's own files agree: environment.yml lists what pyproject.toml lists, and the
course kernel runs this environment's Python."""

import os
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_pip_requirements() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    reqs = []
    for line in lines[start + 1 :]:
        if not line.strip() or len(line) - len(line.lstrip()) < indent:
            break
        reqs.append(line.strip()[2:].strip())
    return [r for r in reqs if not r.startswith("-e")]


def test_environment_yml_lists_the_same_requirements_as_pyproject():
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    assert set(_environment_pip_requirements()) == wanted


def test_environment_yml_python_matches_requires_python():
    text = (ROOT / "environment.yml").read_text()
    required = _pyproject()["project"]["requires-python"]  # e.g. ">=3.11"
    assert f"python{required}" in text.replace(" ", "")


def test_cuda_extra_is_the_cuda_build_of_jax():
    assert any(
        _name(r) == "jax" and "cuda12" in r
        for r in _pyproject()["project"]["optional-dependencies"]["cuda"]
    )


def _course_kernel_spec():
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    try:
        return kernelspec.KernelSpecManager().get_kernel_spec("leptonlab")
    except kernelspec.NoSuchKernel:
        pytest.fail(
            "no 'leptonlab' kernel: run `make venv` (or python -m ipykernel install --sys-prefix --name leptonlab)"
        )


def test_course_kernel_runs_this_python():
    """The kernel named leptonlab must start this environment's interpreter, not a stale one."""
    spec = _course_kernel_spec()
    kernel_prefix = Path(spec.argv[0]).absolute().parent.parent  # <prefix>/bin/python -> <prefix>
    assert kernel_prefix == Path(sys.prefix).absolute(), (
        f"the leptonlab kernel runs {spec.argv[0]}, outside this environment ({sys.prefix}): a stale kernelspec wins; "
        "re-run `make venv` or remove the stale one (`jupyter kernelspec list`)."
    )


def test_course_kernel_keeps_a_persistent_compilation_cache():
    """Re-running a notebook reuses compiled steps: the kernel points JAX at a cache folder (PERFORMANCE.md)."""
    cache = _course_kernel_spec().env.get("JAX_COMPILATION_CACHE_DIR")
    assert cache and Path(cache).is_absolute(), (
        f"the leptonlab kernel sets no absolute JAX_COMPILATION_CACHE_DIR (got {cache!r}): re-run `make venv`."
    )


def test_course_kernel_runs_with_the_allocator_settings():
    """The kernel reuses freed memory instead of faulting it back in every step (leptonlab._env)."""
    from leptonlab._env import ALLOCATOR_TUNABLES

    if "GLIBC_TUNABLES" in os.environ and os.environ["GLIBC_TUNABLES"] != ALLOCATOR_TUNABLES:
        pytest.skip(
            "GLIBC_TUNABLES is set to something else here: `make venv` put that in the kernel on purpose"
        )
    assert _course_kernel_spec().env.get("GLIBC_TUNABLES") == ALLOCATOR_TUNABLES, (
        "the leptonlab kernel does not set the course's GLIBC_TUNABLES: re-run `make venv`."
    )


def test_importing_the_package_starts_no_jax_backend():
    """Nothing runs at import: jax.distributed.initialize() (notebook 20) must still be possible afterwards."""
    import subprocess

    code = (
        "import leptonlab, leptonlab.checks, leptonlab.plot, leptonlab.doctor\n"
        "import jax._src.xla_bridge as xb\n"
        "assert not xb._backends, f'importing leptonlab initialised {list(xb._backends)}'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
