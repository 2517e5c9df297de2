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
