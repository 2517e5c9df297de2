"""pytest, whole repository: after a run, say how long the notebooks (the quick course) took."""

from leptonlab.course._test_times import format_notebook_times, notebook_seconds


def pytest_terminal_summary(terminalreporter):
    reports = [r for group in terminalreporter.stats.values() for r in group if hasattr(r, "duration")]
    summary = format_notebook_times(notebook_seconds((r.nodeid, r.duration) for r in reports))
    if summary:
        terminalreporter.write_sep("=", "notebook times")
        terminalreporter.write_line(summary)
