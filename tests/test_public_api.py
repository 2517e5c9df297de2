"""The package's public surface (issue 24): every public module says what it exports, and no
module reaches into another module's private names."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import leptonlab

ROOT = Path(leptonlab.__file__).parent

# Imports of another module's private names still to be removed, each with its owner.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()  # (file, module, name): none left


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix="leptonlab."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[1] in ("checks", "course"):
            continue  # private modules; checks and course are kept by the lead
        names.append(info.name)
    return names


# Public modules still without __all__: plot/__init__.py was being edited by another helper when
# issue 24 added __all__ everywhere else; whoever commits it next adds its __all__ and removes this.
KNOWN_WITHOUT_ALL: set[str] = set()


@pytest.mark.parametrize("name", _public_modules())
def test_every_public_module_lists_its_public_names(name):
    module = importlib.import_module(name)
    if name in KNOWN_WITHOUT_ALL:
        assert not hasattr(module, "__all__"), (
            f"{name} has __all__ now: remove it from KNOWN_WITHOUT_ALL"
        )
        return
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}.__all__ repeats a name"


def _private_imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for each ``from leptonlab.X import _name`` in ``path`` whose ``_name`` is
    not a submodule (importing a package's private module is allowed)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("leptonlab"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        found.append((node.module, alias.name))
    return found


def test_no_module_imports_another_modules_private_names():
    offenders = set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT.parent))
        if rel.startswith(("leptonlab/checks/", "leptonlab/course/")):
            continue  # kept by the lead
        for module, name in _private_imports(path):
            offenders.add((rel, module, name))
    assert offenders <= KNOWN_PRIVATE_IMPORTS, sorted(offenders - KNOWN_PRIVATE_IMPORTS)
