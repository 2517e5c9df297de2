"""pytest, whole repository: after a run, say how long the notebooks (the quick course) took."""

from leptonlab.course._test_times import format_notebook_times, notebook_seconds


def pytest_terminal_summary(terminalreporter):
    reports = [r for group in terminalreporter.stats.values() for r in group if hasattr(r, "duration")]
    summary = format_notebook_times(notebook_seconds((r.nodeid, r.duration) for r in reports))
    if summary:
        terminalreporter.write_sep("=", "notebook times")
        terminalreporter.write_line(summary)


# ---- issue 27: the course book is built from the notebooks this session executed (no second run).
# nbval runs each notebook cell by cell and keeps each cell's outputs on its item; when a notebook's
# last cell is done, the notebook is written with those outputs to build/test-notebooks/ (or
# LEPTONLAB_EXECUTED_DIR). Tests marked `after_notebooks` (tests/test_book.py) run after every
# notebook, whatever order pytest collected them in, and build the book from that folder.

import os
from pathlib import Path

EXECUTED_DIR = Path(os.environ.get("LEPTONLAB_EXECUTED_DIR") or Path(__file__).parent / "build" / "test-notebooks")


def pytest_configure(config):
    config.addinivalue_line("markers", "after_notebooks: runs after every notebook of the session (the book)")
    config.addinivalue_line("markers", "slow: minutes, not seconds (deselect with -m 'not slow')")
    config.leptonlab_executed = {}  # notebook name -> executed copy written in this session
    config.leptonlab_outputs = {}  # notebook path -> {code cell number: outputs}


def pytest_collection_modifyitems(session, config, items):
    late = [item for item in items if item.get_closest_marker("after_notebooks")]
    if late:
        items[:] = [item for item in items if not item.get_closest_marker("after_notebooks")] + late


def pytest_runtest_teardown(item, nextitem):
    if not (hasattr(item, "cell_num") and hasattr(item, "test_outputs")):  # not an nbval cell
        return
    path = Path(str(item.parent.fspath))
    outputs = item.config.leptonlab_outputs.setdefault(path, {})
    if item.test_outputs is not None:
        outputs[item.cell_num] = list(item.test_outputs)
    if nextitem is None or getattr(nextitem, "parent", None) is not item.parent:
        from leptonlab.course._book import save_executed_notebook

        written = save_executed_notebook(path, item.config.leptonlab_outputs.pop(path), EXECUTED_DIR,
                                         notebook=getattr(item.parent, "nb", None))
        item.config.leptonlab_executed[path.name] = written
