"""The course's content rules (leptonlab.course._content): verbatim quotes of the sources, the test
set used once, the cost header, and ERRATA.md; first on small made-up cells, then on the course."""

import json
import os
from pathlib import Path

import pytest

from leptonlab.course import (
    cost_header_problems,
    errata_problems,
    read_sources,
    source_quote_problems,
    validation_uses_test_data,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES_DIR = Path(os.environ.get("LEPTONLAB_SOURCES_DIR", ROOT.parent / "shared" / "sources"))

SOURCE = "004_49b5b2418a755484.txt"
SOURCES = {SOURCE: "示例：\n        self.fc2 = nn.Linear(128, 2)\n这个网络有两个输出。\n"}


def md(text):
    return {"cell_type": "markdown", "source": text}


def code(text):
    return {"cell_type": "code", "source": text}


def course_sources():
    if not SOURCES_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(
                f"the source texts are missing from {SOURCES_DIR}: CI must have ../shared/sources."
            )
        pytest.skip(f"no source texts at {SOURCES_DIR} (set LEPTONLAB_SOURCES_DIR)")
    return read_sources(SOURCES_DIR)


def cells_of(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


# --- quotes -------------------------------------------------------------------------------------


def test_a_verbatim_quote_passes_whatever_its_indentation():
    cell = md(
        f"`{SOURCE}` writes\n\n```python\nself.fc2   = nn.Linear(128, 2)\n```\n\n"
        "> 这个网络有两个输出。\n> *English:* this network has two outputs.\n"
    )
    assert source_quote_problems([cell], SOURCES) == []


@pytest.mark.parametrize(
    "quote",
    [
        "self.fc2 = nn.Linear(128, 10)",  # a changed number
        "self.fc2 = nn.Linear(128, 2)  # bug: 2 outputs",
    ],
)  # an annotation
def test_a_changed_code_line_is_a_misquote(quote):
    problems = source_quote_problems([md(f"{SOURCE}:\n```python\n{quote}\n```\n")], SOURCES)
    assert len(problems) == 1 and "not found verbatim" in problems[0] and "cell 0" in problems[0]


def test_a_changed_chinese_line_is_a_misquote():
    problems = source_quote_problems([md(f"{SOURCE}:\n\n> 这个网络有十个输出。\n")], SOURCES)
    assert len(problems) == 1 and "not found verbatim" in problems[0]


def test_code_beside_a_source_must_name_the_file():
    problems = source_quote_problems(
        [md("A source writes\n```python\nw -= -lr * g\n```\n")], SOURCES
    )
    assert len(problems) == 1 and "names no source file" in problems[0]


def test_an_unknown_source_file_is_reported():
    problems = source_quote_problems(
        [md("`001_0000000000000000.txt` says\n```\nx = 1\n```")], SOURCES
    )
    assert problems and "not a source text" in problems[0]


def test_code_cells_and_cells_without_sources_are_not_quotes():
    cells = [code("self.fc2 = nn.Linear(128, 10)"), md("Our fix:\n```python\ny = f(x)\n```")]
    assert source_quote_problems(cells, SOURCES) == []


def test_read_sources_refuses_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no source texts"):
        read_sources(tmp_path)


# --- the test set -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "fit(model, data, config, val_data=test_data)",
        "fit(model, data, config, val_data=(x_test, y_test))",
        "fit(model, data, config, val_data=splits['test'])",
        "fit(model, data, config, val_data=(data.test.x, data.test.y))",
    ],
)
def test_test_data_as_val_data_is_found(source):
    problems = validation_uses_test_data([code(source)])
    assert len(problems) == 1 and "test data" in problems[0]


def test_test_data_renamed_in_an_earlier_cell_is_found():
    cells = [
        code("held_out = (x_test[:500], y_test[:500])"),
        md("text"),
        code("%time\nstate, h = fit(model, data, config, val_data=held_out)"),
    ]
    problems = validation_uses_test_data(cells)
    assert len(problems) == 1 and problems[0].startswith("cell 2") and "held_out" in problems[0]


def test_a_validation_split_is_fine():
    cells = [
        code("(x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, key=key)"),
        code(
            "fit(model, (x_tr, y_tr), config, val_data=(x_val, y_val))\nevaluate(state, (x_test, y_test))"
        ),
    ]
    assert validation_uses_test_data(cells) == []


# --- the cost header ----------------------------------------------------------------------------


def test_the_cost_header_must_follow_the_title():
    title = md("# 01 · Sigmoid")
    header = md("**What a run costs.** Full run: 20 s. Quick mode: 10 s. Data: none.")
    assert cost_header_problems([title, header]) == []
    assert "not the cost header" in cost_header_problems([title, md("## Goals")])[0]
    assert cost_header_problems([title, md("**What a run costs.** Full run: 20 s.")]) == [
        "cell 1 (the cost header) does not say 'Quick mode'.",
        "cell 1 (the cost header) does not say 'Data'.",
    ]


# --- errata -------------------------------------------------------------------------------------


def errata(corrected_in, quote="        self.fc2 = nn.Linear(128, 2)"):
    return (
        f"# Errata\n\n## {SOURCE}\n\n### Two outputs for ten digits\nQuote:\n~~~python\n{quote}\n~~~\n"
        f"Wrong: ten classes need ten outputs.\nCorrected in: {corrected_in}\n"
    )


def test_errata_entries_are_checked_against_sources_and_notebooks():
    notebooks = {"08_cnn.ipynb": [md("# 08"), md(f"The source `{SOURCE}`.")]}
    assert errata_problems(errata("`08_cnn.ipynb`, cell 1"), SOURCES, notebooks) == []
    assert errata_problems(errata("not shown in a notebook (no cell)"), SOURCES, notebooks) == []
    wrong_cell = errata_problems(errata("`08_cnn.ipynb`, cell 0"), SOURCES, notebooks)
    assert wrong_cell and "is not a Markdown cell naming" in wrong_cell[0]
    misquote = errata_problems(
        errata("`08_cnn.ipynb`, cell 1", quote="nn.Linear(128, 10)"), SOURCES, notebooks
    )
    assert misquote and "not found verbatim" in misquote[0]
    assert "lists no erratum" in errata_problems("# Errata\n", SOURCES, notebooks)[0]


# --- the course itself --------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_source_quote_in_the_course_is_verbatim(path):
    problems = source_quote_problems(cells_of(path), course_sources())
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_notebook_monitors_or_chooses_on_test_data(path):
    problems = validation_uses_test_data(cells_of(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_notebook_says_what_a_run_costs(path):
    problems = cost_header_problems(cells_of(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_errata_page_quotes_the_sources_and_points_at_the_corrections():
    text = (ROOT / "ERRATA.md").read_text(encoding="utf-8")
    problems = errata_problems(text, course_sources(), {p.name: cells_of(p) for p in NOTEBOOKS})
    assert not problems, "\n".join(problems)
    assert "ERRATA.md" in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "the README links the errata"
    )


def test_every_graded_cell_of_the_course_is_made_of_check_calls():
    """The grader replays check calls in its own process; a plain assert would be judged by the kernel alone."""
    import ast

    import nbformat

    from leptonlab.course._grading import checks_called, graded_cells

    for path in sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb")):
        for grade_id, cell in graded_cells(nbformat.read(path, 4)).items():
            if (
                cell.cell_type == "markdown"
            ):  # a written answer ("change it and explain"): scored by hand
                continue
            body = ast.parse(cell.source).body
            assert body and all(
                isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) for s in body
            ), f"{path.name} {grade_id}: a graded cell should only call leptonlab checks"
            assert len(checks_called(cell.source)) == len(body), (
                f"{path.name} {grade_id}: not all calls are checks"
            )


def test_each_title_carries_its_notebooks_number():
    """After a renumbering, '# 12 · Sentiment analysis' in 13_sentiment_analysis.ipynb would mislead."""
    import nbformat

    for path in sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb")):
        title = nbformat.read(path, 4).cells[0].source.splitlines()[0]
        assert title.startswith(f"# {path.name[:2]} · "), f"{path.name}: title {title!r}"
