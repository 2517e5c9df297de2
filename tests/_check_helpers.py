"""Helpers the exercise-check tests share: a stub answer, and a pass or a first failure asserted."""

import pytest

from leptonlab.checks import CheckFailed, _core


def stub(*args, **kwargs):
    """The released notebook's answer before the learner writes it."""
    raise NotImplementedError()


def fails(check, fn, *patterns):
    """Run ``check(fn)`` as a first failure; it must raise CheckFailed whose text contains every pattern."""
    _core.reset_hints()  # each wrong answer here is judged as a first try (its first hint)
    with pytest.raises(CheckFailed) as info:
        check(fn)
    text = str(info.value)
    for p in patterns:
        assert p in text, f"{p!r} not in {text!r}"
    return text


def passes(check, fn, capsys):
    """``check(fn)`` prints one ✓ line naming the exercise and returns None."""
    assert check(fn) is None
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {check.__name__}:") and out.count("\n") == 1, out
