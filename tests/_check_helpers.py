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


def reference_tests(references, wrong):
    """The three tests a check module shares, for its ``references`` ``[(check, reference answer)]`` and
    ``wrong`` ``[(check, wrong answer, words the hint must contain)]``: each check passes its reference
    (printing ✓), explains a stub ("not written yet"), and names each typical mistake.

    Use: ``test_a, test_b, test_c = reference_tests(REFERENCES, WRONG)`` at module level (pytest collects them).
    """

    @pytest.mark.parametrize("check,ref", references, ids=lambda c: getattr(c, "__name__", ""))
    def test_check_passes_the_reference(check, ref, capsys):
        assert check(ref) is None
        assert "✓" in capsys.readouterr().out

    @pytest.mark.parametrize("check", [c for c, _ in references], ids=lambda c: c.__name__)
    def test_check_explains_a_stub(check):
        with pytest.raises(CheckFailed, match="not written yet"):
            check(stub)

    @pytest.mark.parametrize(
        "check,wrong,words", wrong, ids=[f"{c.__name__}-{w}" for c, _, w in wrong]
    )
    def test_check_names_the_typical_mistake(check, wrong, words):
        with pytest.raises(CheckFailed) as err:
            check(wrong)
        assert words in str(err.value)

    return (
        test_check_passes_the_reference,
        test_check_explains_a_stub,
        test_check_names_the_typical_mistake,
    )
