"""Strict JAX for the package tests: implicit rank promotion is an error here."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_platforms", "cpu")


# `make test-fast` (pytest -m "not slow") leaves out these files: each trains networks, runs notebooks,
# subprocesses or compiles many programs (from tens of seconds to minutes each on a 2-core CPU).
# `make test` runs everything.
SLOW_FILES = frozenset(
    {
        "test_benchmarks.py",
        "test_benchmarks_cifar10.py",
        "test_book.py",
        "test_checkpoint_damaged.py",
        "test_checks_mf_loop.py",
        "test_checks_train_loop.py",
        "test_checks_training.py",
        "test_cli.py",
        "test_colab.py",
        "test_course_grading.py",
        "test_course_release.py",
        "test_course_report.py",
        "test_course_runner.py",
        "test_course_sandbox.py",
        "test_deploy.py",
        "test_diagnostics.py",
        "test_deploy_export.py",
        "test_explain.py",
        "test_kernels.py",
        "test_packaging.py",
        "test_recsys_honest.py",
        "test_recsys_neural.py",
        "test_recurrent.py",
        "test_resnet.py",
        "test_scale.py",
        "test_search.py",
        "test_speedups.py",
        "test_train_features.py",
        "test_transfer.py",
        "test_attention.py",
    }
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: left out of `make test-fast` (tests/conftest.py SLOW_FILES)"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def key():
    """A fixed PRNG key: tests are deterministic."""
    return jax.random.key(0)


@pytest.fixture(autouse=True)
def replay_every_check(monkeypatch):
    """Record every check that passes in any test, and replay each record as the grader does.

    A check must reach the same verdict from its record alone (leptonlab.checks._record): this
    catches a check that touches the learner's function other than through ``checks._core.call``.
    """
    from leptonlab.checks import _core, _record

    records = []
    # Each test starts at the first hint (escalating hints, leptonlab.checks._core._FAILURES).
    monkeypatch.setattr(_core, "_FAILURES", {})
    monkeypatch.setenv(_record.RECORD_ENV, "1")
    monkeypatch.setattr(_core, "_show_record", records.append)
    # Every CheckFailed the test makes: none may show its notebook's solution (issue 25).
    failures = []
    make_failure = _core.CheckFailed.__init__

    def keep_failure(self, *args, **kwargs):
        make_failure(self, *args, **kwargs)
        failures.append(self)

    monkeypatch.setattr(_core.CheckFailed, "__init__", keep_failure)
    yield records
    from _solutions import leaks, solutions

    for err in failures:
        solution = solutions().get(err.exercise)
        for text in (err.problem, *err.hints) if solution else ():
            shown = leaks(text, solution[2])
            assert not shown, (
                f"{err.exercise}: a message shows the solution's code {shown}: {text!r}"
            )
    for record in records:
        assert _core.replay(record) is None, f"{record['check']}: {_core.replay(record)}"
