"""Every committed notebook follows CONTRIBUTING.md's conventions (leptonlab.course.check_notebook).

Parametrised over the notebooks found; with none yet there is nothing to check.
"""

from pathlib import Path

import pytest

from leptonlab.course import check_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_follows_the_conventions(path):
    problems = check_notebook(path)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_papermill_reads_the_parameters_without_complaint(path, caplog):
    import papermill

    with caplog.at_level("WARNING"):
        parameters = papermill.inspect_notebook(str(path))
    assert {"QUICK", "SEED"} <= set(parameters), (
        f"{path.name}: papermill found {sorted(parameters)}"
    )
    assert parameters["QUICK"]["default"] == "None", (
        "QUICK follows LEPTONLAB_QUICK unless papermill sets it"
    )
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()], caplog.text
