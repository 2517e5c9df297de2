"""The leptonlab command: bad input gives one line and exit code 2; hygiene commands work."""

import subprocess
import sys

import nbformat
import pytest

from leptonlab.cli import COMMANDS, EXIT_USAGE, main

KERNELSPEC = {"name": "leptonlab", "display_name": "Python (leptonlab)", "language": "python"}


def notebook(path, *, outputs=False):
    """A tiny notebook following the conventions; with ``outputs``, as if just executed."""
    params = nbformat.v4.new_code_cell("QUICK = False\nSEED = 0")
    params.metadata["tags"] = ["parameters"]
    cell = nbformat.v4.new_code_cell("print('hi')")
    if outputs:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
        cell.execution_count = 1
    nb = nbformat.v4.new_notebook(cells=[params, cell], metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(
    "argv, message",
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: COMMAND"),
        (["run", "--quick", "--full", "x.ipynb"], "not allowed with argument --quick"),
        (["run", "--quick", "no/such/notebook.ipynb"], "no notebook at no/such/notebook.ipynb"),
        (["run", "--quick", "README.md"], "is not a notebook"),
        (["run", "--timeout", "-5", "x.ipynb"], "expected a positive number of seconds"),
        (["run", "--timeout", "soon", "x.ipynb"], "expected a number of seconds"),
        (["strip"], "required: NOTEBOOK"),
        (["strip", "missing.ipynb"], "no notebook at missing.ipynb"),
        (["check-notebooks", "missing.ipynb"], "no notebook at missing.ipynb"),
        (["doctor", "--verbose"], "unrecognized arguments: --verbose"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, message):
    assert main(argv) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("leptonlab: error: ") and message in err


def test_run_with_an_invalid_quick_variable_is_bad_input(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LEPTONLAB_QUICK", "maybe")
    assert main(["run", str(notebook(tmp_path / "00_a.ipynb"))]) == EXIT_USAGE
    assert "LEPTONLAB_QUICK='maybe' is not understood" in capsys.readouterr().err


def test_run_with_an_unknown_kernel_is_bad_input(capsys, tmp_path):
    argv = [
        "run",
        "--quick",
        "--kernel",
        "no-such-kernel",
        "--out",
        str(tmp_path / "o"),
        str(notebook(tmp_path / "00_a.ipynb")),
    ]
    assert main(argv) == EXIT_USAGE
    assert "no Jupyter kernel named 'no-such-kernel'" in capsys.readouterr().err


def test_fetch_unknown_dataset_is_bad_input(capsys):
    data = pytest.importorskip("leptonlab.data")
    if not hasattr(data, "prefetch"):
        pytest.skip("leptonlab.data has no prefetch yet")
    assert main(["fetch", "no-such-dataset"]) == EXIT_USAGE
    assert "no-such-dataset" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], *([c.name, "--help"] for c in COMMANDS)])
def test_help_exits_0(capsys, argv):
    assert main(argv) == 0
    assert "usage: leptonlab" in capsys.readouterr().out


def test_strip_then_check(capsys, tmp_path):
    path = notebook(tmp_path / "00_a.ipynb", outputs=True)
    assert main(["check-notebooks", str(path)]) == 1
    assert "cell 1 (code) has outputs" in capsys.readouterr().out
    assert main(["strip", str(path)]) == 0
    assert capsys.readouterr().out == f"stripped: {path}\n"
    assert main(["strip", str(path)]) == 0
    assert capsys.readouterr().out == f"already clean: {path}\n"
    assert main(["check-notebooks", str(path)]) == 0
    assert "1 notebook(s) checked, 0 with problems" in capsys.readouterr().out


def test_doctor_prints_the_table(capsys):
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out.startswith("leptonlab doctor\n")


def test_python_dash_m_leptonlab():
    done = subprocess.run(
        [sys.executable, "-m", "leptonlab", "nope"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == EXIT_USAGE
    expected = "leptonlab: error: argument COMMAND: invalid choice: 'nope'"
    assert done.stderr.strip().startswith(expected)


def test_kernel_install_registers_the_course_kernel(tmp_path):
    import json

    from leptonlab.course import install_kernel

    where = install_kernel(
        prefix=str(tmp_path), jax_cache=tmp_path / "jax", tunables="glibc.malloc.arena_max=1"
    )
    spec = json.loads((where / "kernel.json").read_text())
    assert where.name == "leptonlab" and spec["display_name"] == "Python (leptonlab)"
    assert spec["env"] == {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax"),
        "GLIBC_TUNABLES": "glibc.malloc.arena_max=1",
    }
    with pytest.raises(ValueError, match="kernel name"):
        install_kernel(name="two words", prefix=str(tmp_path))


def test_help_has_no_markup_and_every_example_path_exists(capsys):
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "``" not in shown, "the help is plain text, not reStructuredText"
    texts = {
        "leptonlab --help": shown,
        "README.md": (root / "README.md").read_text(encoding="utf-8"),
    }
    for where, text in texts.items():
        for path in set(re.findall(r"notebooks/\d\d_\w+\.ipynb", text)):
            assert (root / path).is_file(), f"{where} names {path}, which does not exist"
