"""leptonlab._env.quick_mode: the environment, or the notebook's QUICK parameter when it is set."""

import pytest

from leptonlab._env import QUICK_ENV, quick_mode


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_quick_mode_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(QUICK_ENV, value)
    assert quick_mode() is expected and quick_mode(None) is expected


@pytest.mark.parametrize(
    "override, expected", [(True, True), (False, False), ("True", True), ("false", False)]
)
def test_a_notebook_parameter_overrides_the_environment(monkeypatch, override, expected):
    monkeypatch.setenv(QUICK_ENV, "0" if expected else "1")
    assert quick_mode(override) is expected


def test_quick_mode_bad_values(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "maybe")
    with pytest.raises(ValueError, match="LEPTONLAB_QUICK='maybe' is not understood"):
        quick_mode()
    with pytest.raises(ValueError, match="QUICK='sometimes' is not understood"):
        quick_mode("sometimes")
    with pytest.raises(TypeError, match="QUICK must be None, True or False"):
        quick_mode(1)
