"""The course's glibc malloc settings (leptonlab._env): glibc reads them as meant, children get them."""

import glob
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leptonlab._env import ALLOCATOR_ENV, ALLOCATOR_TUNABLES, with_allocator_settings

ROOT = Path(__file__).resolve().parents[1]


def _loader() -> str | None:
    """glibc's dynamic loader, which lists the tunables a process would start with (glibc >= 2.33)."""
    found = sorted(glob.glob("/lib64/ld-linux-*.so.*") + glob.glob("/lib/*/ld-linux-*.so.*"))
    return found[0] if found else None


def _tunables_seen_by_glibc(env: dict[str, str]) -> dict[str, int]:
    done = subprocess.run(
        [_loader(), "--list-tunables"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-1500:]
    return {
        name: int(value, 0)
        for name, value in re.findall(r"^(glibc\.[\w.]+): (\w+)", done.stdout, flags=re.M)
    }


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or _loader() is None,
    reason="GLIBC_TUNABLES is read by glibc (Linux) only",
)
def test_glibc_reads_the_settings_a_training_child_gets_as_meant():
    # A child started through with_allocator_settings (the benchmark runner, the course kernel) gets
    # the string; glibc must know every name in it and read the values we mean (an unknown name or a
    # malformed value is silently ignored by glibc: the settings would then do nothing).
    seen = _tunables_seen_by_glibc(with_allocator_settings({"PATH": "/usr/bin:/bin"}))
    wanted = dict(item.split("=") for item in ALLOCATOR_TUNABLES.split(":"))
    assert set(wanted) <= set(seen), f"glibc does not know {sorted(set(wanted) - set(seen))}"
    assert {name: seen[name] for name in wanted} == {
        name: int(value) for name, value in wanted.items()
    }
    assert seen["glibc.malloc.arena_max"] == 1 and seen["glibc.malloc.mmap_max"] == 0
    default = _tunables_seen_by_glibc(
        {"PATH": "/usr/bin:/bin", ALLOCATOR_ENV: ""}
    )  # switched off on purpose
    assert default["glibc.malloc.arena_max"] != 1


def test_a_childs_environment_gets_the_settings_unless_it_has_its_own():
    assert with_allocator_settings({"A": "1"}) == {"A": "1", ALLOCATOR_ENV: ALLOCATOR_TUNABLES}
    mine = {ALLOCATOR_ENV: "glibc.malloc.arena_max=2"}
    assert with_allocator_settings(mine) == mine
    assert with_allocator_settings({ALLOCATOR_ENV: ""}) == {
        ALLOCATOR_ENV: ""
    }  # switched off on purpose
    original = {"A": "1"}
    with_allocator_settings(original)
    assert original == {"A": "1"}  # a copy: the caller's environment is untouched


def test_the_makefile_and_the_readme_give_the_same_settings():
    (value,) = re.findall(
        r"^ALLOCATOR_TUNABLES := (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M
    )
    assert value == ALLOCATOR_TUNABLES
    assert f"export GLIBC_TUNABLES={ALLOCATOR_TUNABLES}" in (ROOT / "README.md").read_text()
