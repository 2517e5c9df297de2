"""leptonlab.course._test_times: the quick course's time summed from nbval's cell reports."""

from leptonlab.course._test_times import (
    QUICK_COURSE_BUDGET_S,
    format_notebook_times,
    notebook_seconds,
)


def test_cells_are_summed_per_notebook_and_other_tests_left_out():
    totals = notebook_seconds(
        [
            ("notebooks/05_mlp.ipynb::Cell 0", 2.0),
            ("notebooks/05_mlp.ipynb::Cell 1", 0.5),
            ("notebooks/08_cnn.ipynb::Cell 3", 10.0),
            ("tests/test_train.py::test_fit", 99.0),
        ]
    )
    assert totals == {"05_mlp.ipynb": 2.5, "08_cnn.ipynb": 10.0}


def test_summary_states_total_budget_and_slowest_first():
    text = format_notebook_times({"a.ipynb": 60.0, "b.ipynb": 180.0, "c.ipynb": 30.0}, slowest=2)
    lines = text.splitlines()
    assert lines[0] == "quick course: 3 notebooks in 4.5 min (within the 15-minute budget)"
    assert [line.split()[-1] for line in lines[1:]] == ["b.ipynb", "a.ipynb"]


def test_summary_says_over_when_the_budget_is_exceeded_and_nothing_without_notebooks():
    assert "OVER the 15-minute budget" in format_notebook_times(
        {"a.ipynb": QUICK_COURSE_BUDGET_S + 1.0}
    )
    assert format_notebook_times({}) == ""
