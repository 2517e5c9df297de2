"""The grading sandbox (leptonlab.course._sandbox): what a command inside it can see, write and inherit."""

import os
import subprocess

import pytest

from leptonlab.course._sandbox import bubblewrap, sandbox_command


@pytest.fixture
def bwrap():
    path = bubblewrap()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(
                "bubblewrap is missing in CI: .ci/run installs it (apt-get install bubblewrap)."
            )
        pytest.skip("bubblewrap (bwrap) is missing or user namespaces are disabled here")
    return path


def run_inside(bwrap, script, *, writable, hidden=()):
    command = sandbox_command(bwrap, writable=writable, hidden=hidden) + ["sh", "-c", script]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_sandbox_sees_its_data_and_copy_but_not_the_rest(bwrap, tmp_path, monkeypatch):
    data, work, secret = tmp_path / "data", tmp_path / "work", tmp_path / "solutions"
    for folder in (data, work, secret):
        folder.mkdir()
    (data / "mnist.gz").write_text("pixels")
    (data / "answers").mkdir()
    (data / "answers" / "key.txt").write_text("42")  # hidden although inside a visible folder
    (secret / "01.ipynb").write_text("solution")
    monkeypatch.setenv("LEPTONLAB_DATA_DIR", str(data))
    monkeypatch.setenv("INSTRUCTOR_TOKEN", "s3cret")
    script = (
        f"cat {data}/mnist.gz; echo; echo written > {work}/out.txt && echo wrote-copy; "
        f"cat {secret}/01.ipynb 2>/dev/null || echo no-solutions; "
        f"cat {data}/answers/key.txt 2>/dev/null || echo no-key; "
        f"echo x > {data}/new.txt 2>/dev/null || echo data-read-only; "
        "echo token=${INSTRUCTOR_TOKEN:-none}; ls /proc | grep -c '^[0-9]'"
    )
    done = run_inside(bwrap, script, writable=[work], hidden=[secret, data / "answers"])
    lines = done.stdout.split()
    assert done.returncode == 0, done.stderr
    assert lines[:6] == [
        "pixels",
        "wrote-copy",
        "no-solutions",
        "no-key",
        "data-read-only",
        "token=none",
    ]
    assert int(lines[6]) <= 4, "only the sandbox's own processes are in /proc"
    assert (work / "out.txt").read_text() == "written\n" and not (data / "new.txt").exists()


def test_the_sandbox_has_no_network(bwrap, tmp_path):
    outside = subprocess.run(
        ["sh", "-c", "grep ':' /proc/net/dev | cut -d: -f1"], capture_output=True, text=True
    )
    done = run_inside(bwrap, "grep ':' /proc/net/dev | cut -d: -f1", writable=[tmp_path])
    assert done.stdout.split() == ["lo"], (
        f"interfaces inside: {done.stdout.split()}, outside: {outside.stdout.split()}"
    )
