"""The course's glibc malloc settings: freed memory is reused, not faulted back in (leptonlab._env)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from leptonlab._env import ALLOCATOR_ENV, ALLOCATOR_TUNABLES, with_allocator_settings

ROOT = Path(__file__).resolve().parents[1]

# malloc, touch and free a 64 MiB block 10 times (as XLA's CPU runtime does with its temporary
# buffers every step); print the page faults of the last 9 rounds.
_FAULTS = """
import ctypes, resource
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def round_trip():
    block = libc.malloc(64 * 2**20)
    ctypes.memset(block, 1, 64 * 2**20)
    libc.free(block)
round_trip()
before = faults()
for _ in range(9):
    round_trip()
print(faults() - before)
"""


def _faults_with(tunables: str) -> int:
    env = {"PATH": "/usr/bin:/bin", ALLOCATOR_ENV: tunables}
    done = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GLIBC_TUNABLES is read by glibc (Linux) only")
def test_the_settings_keep_freed_memory_for_the_next_step():
    # 9 x 64 MiB = 147,456 pages of 4 KiB. glibc's defaults map and unmap each block: every page
    # faults again. With the course's settings the block is reused: (almost) no faults.
    default, course = _faults_with(""), _faults_with(ALLOCATOR_TUNABLES)
    assert default > 100_000, f"expected glibc's default to fault the blocks back in, got {default} faults"
    assert course < 1_000, f"with {ALLOCATOR_TUNABLES} the block should be reused, got {course} faults"


def test_a_childs_environment_gets_the_settings_unless_it_has_its_own():
    assert with_allocator_settings({"A": "1"}) == {"A": "1", ALLOCATOR_ENV: ALLOCATOR_TUNABLES}
    mine = {ALLOCATOR_ENV: "glibc.malloc.arena_max=2"}
    assert with_allocator_settings(mine) == mine
    assert with_allocator_settings({ALLOCATOR_ENV: ""}) == {ALLOCATOR_ENV: ""}  # switched off on purpose
    original = {"A": "1"}
    with_allocator_settings(original)
    assert original == {"A": "1"}  # a copy: the caller's environment is untouched


def test_the_makefile_and_the_readme_give_the_same_settings():
    (value,) = re.findall(r"^ALLOCATOR_TUNABLES := (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert value == ALLOCATOR_TUNABLES
    assert f"export GLIBC_TUNABLES={ALLOCATOR_TUNABLES}" in (ROOT / "README.md").read_text()
