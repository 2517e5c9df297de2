"""What the course's content must honour: quotes of the sources, the test set, the cost header.

Three rules of issue 22 ("a course that is right"), checked mechanically so that no later edit
can quietly break them:

- **Sources quoted verbatim.** A Markdown cell that names a source text
  (``004_49b5b2418a755484.txt``) quotes it exactly: every line of its fenced code blocks, and
  every blockquote line written in Chinese, is found in the named file (whitespace aside).
  A Markdown cell that speaks of "a source" and shows fenced code must name the file.
- **The test set is used once.** No call passes test data as ``val_data`` (monitored every
  epoch, it would become a validation set): the names in the argument, and the names assigned
  from test data earlier in the notebook, must not mention ``test``.
- **Each notebook says what a run costs**, in the Markdown cell right after its title.

``ERRATA.md`` is checked too: every quote in it is found in the file it names, and every cell
it names as the correction is a Markdown cell that names that file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The first words of the cost header, the Markdown cell right after a notebook's title.
COST_HEADER = "**What a run costs.**"
_COST_HEADER_PARTS = ("Full run", "Quick mode", "Data")

#: A source text's file name, e.g. ``004_49b5b2418a755484.txt``.
SOURCE_FILE = re.compile(r"\b\d{3}_[0-9a-f]{16}\.txt\b")
_MENTIONS_SOURCE = re.compile(r"\bsources?\b|原文|博客", re.IGNORECASE)
_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
_TEST_NAME = re.compile(r"test", re.IGNORECASE)


def _norm(text: str) -> str:
    """Whitespace collapsed: a quote may be re-indented or re-wrapped, not re-worded."""
    return re.sub(r"\s+", " ", text).strip()


def read_sources(folder: str | Path) -> dict[str, str]:
    """``{file name: text}`` of the source texts (``NNN_<hex>.txt``) in ``folder``.

    Raises:
        FileNotFoundError: if ``folder`` holds no source text.
    """
    folder = Path(folder)
    texts = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.glob("*.txt"))
        if SOURCE_FILE.fullmatch(p.name)
    }
    if not texts:
        raise FileNotFoundError(
            f"no source texts (NNN_<hex>.txt) in {folder}: the course's "
            "sources live in ../shared/sources beside the repository."
        )
    return texts


class _Corpus:
    """The sources, normalised once: whole files, and their lines."""

    def __init__(self, sources: Mapping[str, str]):
        self.whole = {name: _norm(text) for name, text in sources.items()}
        self.lines = {
            name: [_norm(line) for line in text.splitlines()] for name, text in sources.items()
        }

    def has_line(self, names: Iterable[str], line: str) -> bool:
        """``line`` is (part of) one line of one of the files ``names``."""
        return any(line in candidate for name in names for candidate in self.lines.get(name, ()))

    def has_text(self, names: Iterable[str], text: str) -> bool:
        return any(text in self.whole.get(name, "") for name in names)


def _cell_text(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _fenced_lines(text: str) -> list[str]:
    return [
        line for _, block in _FENCE.findall(text) for line in block.splitlines() if line.strip()
    ]


def _chinese_quote_lines(text: str) -> list[str]:
    outside = _FENCE.sub("", text)
    quoted = (
        re.sub(r"^\s*(>\s*)+", "", line)
        for line in outside.splitlines()
        if line.lstrip().startswith(">")
    )
    return [line for line in quoted if _CJK.search(line)]


def _misquotes(text: str, names: list[str], corpus: _Corpus) -> list[str]:
    problems = []
    for line in _fenced_lines(text):
        if not corpus.has_line(names, _norm(line)):
            problems.append(
                f"code line not found verbatim in {', '.join(names)}: {line.strip()[:90]!r}"
            )
    for line in _chinese_quote_lines(text):
        if not corpus.has_text(names, _norm(line)):
            problems.append(
                f"quoted line not found verbatim in {', '.join(names)}: {line.strip()[:60]!r}"
            )
    return problems


def source_quote_problems(cells: Iterable[Any], sources: Mapping[str, str]) -> list[str]:
    """The misquotes in a notebook's Markdown cells (``cells``: nbformat cells or dicts).

    A cell naming a source file: each fenced code line must be part of a line of that file,
    and each Chinese blockquote line must be found in it (whitespace aside). A cell that
    speaks of a source and holds fenced code without naming the file is a problem too, since
    a learner could not check the quote. An empty list means every quote is verbatim.
    """
    corpus = _Corpus(sources)
    problems = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        text = _cell_text(cell)
        names = sorted(set(SOURCE_FILE.findall(text)))
        unknown = [name for name in names if name not in sources]
        if unknown:
            problems.append(
                f"cell {index}: names {', '.join(unknown)}, which is not a source text."
            )
            continue
        if not names:
            if _MENTIONS_SOURCE.search(text) and _fenced_lines(text):
                problems.append(
                    f"cell {index}: shows fenced code beside a mention of a source but names no "
                    "source file: name it (e.g. `004_49b5b2418a755484.txt`) and quote it "
                    "verbatim, or move code of the course's own into a code cell."
                )
            continue
        problems += [f"cell {index}: {problem}" for problem in _misquotes(text, names, corpus)]
    return problems


def _code(cell: Any) -> str:
    """A code cell's Python, IPython's magics and shell lines blanked (they are not Python)."""
    lines = _cell_text(cell).splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _names_in(node: ast.AST) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            names.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            names.add(sub.value)
    return names


def _targets(node: ast.AST) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}


def validation_uses_test_data(cells: Iterable[Any]) -> list[str]:
    """Calls in a notebook's code cells that pass test data as ``val_data``.

    Test data is a name (or string) containing ``test``, or a name assigned, earlier in the
    notebook, from an expression holding test data. An empty list means none.
    """
    tainted: set[str] = set()
    problems = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_code(cell))
        except SyntaxError:
            continue  # the notebook's own run reports it
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                names = _names_in(node.value)
                if tainted & names or any(_TEST_NAME.search(name) for name in names):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    tainted |= {t for target in targets for t in _targets(target)} - {"_"}
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg != "val_data":
                        continue
                    names = _names_in(keyword.value)
                    culprits = sorted(n for n in names if _TEST_NAME.search(n) or n in tainted)
                    if culprits:
                        problems.append(
                            f"cell {index}: val_data={ast.unparse(keyword.value)} is test data "
                            f"({', '.join(culprits)}): monitor and choose on a validation split of the "
                            "training data (leptonlab.data.train_val_split); evaluate the test split once, at the end."
                        )
    return problems


def cost_header_problems(cells: list[Any]) -> list[str]:
    """The cost header (the cell after the title) is missing or lacks one of its parts."""
    if (
        len(cells) < 2
        or cells[1].get("cell_type") != "markdown"
        or not _cell_text(cells[1]).lstrip().startswith(COST_HEADER)
    ):
        return [
            f"cell 1 is not the cost header: put a Markdown cell beginning {COST_HEADER!r} right "
            "after the title, saying the full run's and the quick mode's time, the data downloaded, "
            "and how to switch mode."
        ]
    text = _cell_text(cells[1])
    return [
        f"cell 1 (the cost header) does not say {part!r}."
        for part in _COST_HEADER_PARTS
        if part not in text
    ]


_ERRATA_FILE = re.compile(r"^## (\S+\.txt)\s*$")
_ERRATA_ENTRY = re.compile(r"^### ")
_ERRATA_CELL = re.compile(r"(\d{2}_\w+\.ipynb)[^,;\n]*?,? cell (\d+)")


def errata_problems(
    errata: str, sources: Mapping[str, str], notebooks: Mapping[str, list[Any]]
) -> list[str]:
    """What is wrong with ``ERRATA.md``'s text: misquotes, and corrections that point nowhere.

    The errata are grouped under ``## <source file>``; each entry (``### <title>``) quotes the
    source in ``~~~`` fences and has a line ``Corrected in:`` naming ``NN_name.ipynb ..., cell K``
    (one or more) or saying ``not shown in a notebook``. ``notebooks`` maps notebook file names to
    their cells. Each named cell must be a Markdown cell that names the source file.
    """
    corpus = _Corpus(sources)
    problems: list[str] = []
    source, title, entries = None, None, 0
    body: list[str] = []

    def finish() -> None:
        nonlocal entries
        if title is None:
            return
        entries += 1
        text = "\n".join(body)
        where = f"ERRATA.md, {source} / {title!r}"
        quote = [
            line
            for block in re.findall(r"^~~~[^\n]*\n(.*?)^~~~", text, re.M | re.S)
            for line in block.splitlines()
            if line.strip()
        ]
        if not quote:
            problems.append(f"{where}: no quote (a ~~~ fenced block of the source's words).")
        for line in quote:
            if not corpus.has_text([source], _norm(line)):
                problems.append(
                    f"{where}: quote not found verbatim in {source}: {line.strip()[:70]!r}"
                )
        corrected = [line for line in body if line.startswith("Corrected in:")]
        if not corrected:
            problems.append(f"{where}: no 'Corrected in:' line.")
            return
        cells = _ERRATA_CELL.findall(corrected[0])
        if not cells and "not shown in a notebook" not in corrected[0]:
            problems.append(f"{where}: 'Corrected in:' names no 'NN_name.ipynb, cell K'.")
        for name, index in cells:
            nb_cells = notebooks.get(name)
            if nb_cells is None:
                problems.append(f"{where}: no notebook {name}.")
            elif (
                int(index) >= len(nb_cells)
                or nb_cells[int(index)].get("cell_type") != "markdown"
                or source not in _cell_text(nb_cells[int(index)])
            ):
                problems.append(
                    f"{where}: {name} cell {index} is not a Markdown cell naming {source}."
                )

    for line in errata.splitlines():
        match = _ERRATA_FILE.match(line)
        if match or _ERRATA_ENTRY.match(line):
            finish()
            title, body = None, []
            if match:
                source = match.group(1)
                if source not in sources:
                    problems.append(f"ERRATA.md: section {source} is not a source text.")
            else:
                title = line[4:].strip()
                if source is None:
                    problems.append(
                        f"ERRATA.md: entry {title!r} comes before any '## <source file>' section."
                    )
            continue
        body.append(line)
    finish()
    if not entries:
        problems.append("ERRATA.md lists no erratum.")
    return problems
