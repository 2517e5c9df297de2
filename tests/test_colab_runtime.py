"""A notebook under a kernel named ``python3`` (Colab's, papermill's default), on an older JAX (issue 27).

The test builds a fresh virtual environment with the oldest JAX stack the package supports (jax and
jaxlib 0.8.1, flax 0.12.1: see pyproject.toml) and runs notebook 01 under a kernel named ``python3``
from it, where leptonlab is installed by the notebook's own first cell, pointed at a wheel of this
checkout by LEPTONLAB_INSTALL_FROM: the same code path as on Colab (``pip install --no-deps`` of
leptonlab, then ``leptonlab/_bootstrap.py`` for the missing dependencies, the runtime's
jax/jaxlib/flax/numpy pinned as they are). It needs the package index and took 189 s on the shared
2-core CPU (2026-12-06, pip's cache warm; about 70 s more with a cold cache); ``-m "not slow"``
leaves it out. Evidence that the cell did it: before the run the environment lacks leptonlab,
matplotlib, pooch, tqdm and pillow; after it they are there, leptonlab imports from that
environment, and jax, jaxlib, flax and numpy have the versions they had.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from leptonlab.course import _colab

ROOT = Path(__file__).resolve().parents[1]


OLD_STACK = [
    "jax==0.8.1",
    "jaxlib==0.8.1",
    "flax==0.12.1",
]  # the oldest the package supports (pyproject.toml)
NOTEBOOK = "01_sigmoid_and_activations.ipynb"


def _run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, (
        f"{command[:4]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def _versions(python, names):
    code = (
        "import json, sys\nfrom importlib import metadata\nv = {}\nfor n in sys.argv[1:]:\n"
        "    try:\n        v[n] = metadata.version(n)\n    except metadata.PackageNotFoundError:\n"
        "        v[n] = None\nprint(json.dumps(v))"
    )
    return json.loads(
        _run([python, "-c", code, *names], cwd="/").stdout
    )  # not the checkout's egg-info


RUNTIME = ["jax", "jaxlib", "flax", "numpy"]
MISSING = ["leptonlab", "matplotlib", "pooch", "tqdm", "pillow"]  # what the first cell must bring


@pytest.mark.slow
def test_a_notebook_runs_under_kernel_python3_after_its_first_cell_installed_leptonlab(tmp_path):
    """About 3 minutes: see the module's docstring."""
    source = ROOT / "notebooks" / NOTEBOOK
    assert _colab.colab_problems(nbformat.read(source, as_version=4).cells, NOTEBOOK) == []
    venv = tmp_path / "runtime"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", *OLD_STACK, "ipykernel"], timeout=900)
    _run([python, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "python3"])
    before = _versions(python, RUNTIME + MISSING)
    assert before["jax"] == "0.8.1" and all(before[name] is None for name in MISSING), before
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path / "wheel"),
            str(ROOT),
        ],
        timeout=600,
    )
    wheel = next((tmp_path / "wheel").glob("leptonlab-*.whl"))
    work = tmp_path / "work"  # not the checkout: the kernel must not find leptonlab/ in its folder
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "JUPYTER_PATH", "VIRTUAL_ENV")
    }
    env.update(
        JUPYTER_PATH=str(venv / "share" / "jupyter"),
        PYTHONNOUSERSITE="1",
        LEPTONLAB_QUICK="1",
        **{_colab.INSTALL_FROM_ENV: str(wheel)},
    )
    _run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(source),
            str(work / NOTEBOOK),
            "-k",
            "python3",
            "--cwd",
            str(work),
            "-p",
            "QUICK",
            "True",
        ],
        env=env,
        timeout=1200,
    )

    after = _versions(python, RUNTIME + MISSING)
    assert {n: after[n] for n in RUNTIME} == {n: before[n] for n in RUNTIME}, (
        "the runtime's jax stack was changed"
    )
    assert all(after[name] for name in MISSING), f"the first cell did not install {after}"
    where = _run(
        [python, "-c", "import leptonlab; print(leptonlab.__file__)"], cwd=str(work)
    ).stdout.strip()
    # Only that environment's Python (the python3 kernel) could have installed leptonlab there.
    assert where.startswith(str(venv)), (
        f"leptonlab imported from {where}, not installed by the cell"
    )
    nb = json.loads((work / NOTEBOOK).read_text())
    assert not [
        o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
