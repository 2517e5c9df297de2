"""leptonlab.doctor: the facts it reports, the printed table, and no crash without a data layer."""

import re
import sys

import jax
import pytest

import leptonlab
from leptonlab.doctor import (
    DATA_UNAVAILABLE,
    KEYS,
    MEMORY_ENV,
    PACKAGES,
    doctor,
    format_datasets,
    format_doctor,
    print_doctor,
)


def test_doctor_has_the_expected_keys_and_values(monkeypatch):
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    monkeypatch.setenv("LEPTONLAB_QUICK", "1")
    monkeypatch.setenv("LEPTONLAB_CACHE_DIR", "/tmp/lepton-cache")
    facts = doctor()
    assert tuple(facts) == KEYS
    assert set(facts["packages"]) == set(PACKAGES) and facts["packages"]["jax"] == jax.__version__
    assert facts["backend"] == jax.default_backend()
    assert sum(d["count"] for d in facts["devices"]) == len(jax.devices())
    assert set(facts["memory_env"]) == set(MEMORY_ENV)
    assert facts["memory_env"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert facts["quick"] is True and facts["cache_dir"] == "/tmp/lepton-cache"
    assert isinstance(facts["datasets"], (list, str))


def test_xla_options_are_reported_and_a_failed_probe_says_why(monkeypatch):
    from leptonlab import speedups

    assert doctor()["xla_options"] == speedups.cpu_compiler_options()
    assert "XLA options" in format_doctor(doctor())
    monkeypatch.setattr(
        speedups, "_ops_with", lambda options: None
    )  # an XLA on which the probe cannot compile
    facts = doctor()
    assert facts["xla_options"] == "XLA's defaults: the probe program did not compile"
    assert "XLA options: XLA's defaults: the probe program did not compile" in format_doctor(facts)


def test_the_cpu_convolutions_are_reported_and_when_not_onednn_why(monkeypatch):
    from leptonlab import onednn

    if onednn.available():  # Linux x86-64 with leptonlab's install
        assert doctor()["convolutions"] == "oneDNN's (leptonlab.onednn)"
    monkeypatch.setenv(onednn.DISABLE_ENV, "0")
    facts = doctor()
    assert facts["convolutions"].startswith("written in JAX (leptonlab.kernels)")
    assert f"{onednn.DISABLE_ENV}=0 switches it off" in facts["convolutions"]
    assert "convolutions" in format_doctor(facts)


def test_invalid_quick_setting_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv("LEPTONLAB_QUICK", "maybe")
    assert doctor()["quick"].startswith("invalid: LEPTONLAB_QUICK='maybe'")


def test_missing_data_layer_is_reported(monkeypatch):
    monkeypatch.delattr(leptonlab, "data", raising=False)
    monkeypatch.setitem(sys.modules, "leptonlab.data", None)  # import now raises ImportError
    assert doctor()["datasets"] == DATA_UNAVAILABLE
    assert DATA_UNAVAILABLE in format_doctor(doctor())


def test_printed_table_is_aligned(capsys):
    assert print_doctor() is None  # nothing echoed as a notebook cell's value
    out = capsys.readouterr().out
    assert out.startswith("leptonlab doctor\n") and "\ndatasets\n" in out
    facts_block = out.split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in facts_block[:2]] == ["python", "jax"]
    value_columns = {re.match(r"^  \S.*?\s{2,}(?=\S)", line).end() for line in facts_block}
    assert len(value_columns) == 1  # every value starts in the same column


@pytest.mark.parametrize(
    "datasets, expected",
    [
        ("data layer unavailable", ["  data layer unavailable"]),
        ([], ["  no datasets registered"]),
    ],
)
def test_format_datasets_without_rows(datasets, expected):
    assert format_datasets(datasets) == expected


def test_format_datasets_table():
    rows = [
        {
            "dataset": "mnist",
            "file": "train.gz",
            "state": "ok",
            "path": "/c/mnist/train.gz",
            "source": "cache",
        },
        {
            "dataset": "sst-2",
            "file": "dev.tsv",
            "state": "missing",
            "path": "/c/sst-2/dev.tsv",
            "source": "cache",
        },
    ]
    lines = format_datasets(rows)
    assert lines[0].split() == ["dataset", "file", "state", "path"]
    assert lines[2].split() == ["mnist", "train.gz", "ok", "/c/mnist/train.gz"]
    assert lines[2].index("ok") == lines[3].index("missing") == lines[0].index("state")


def _facts_with_cifar(tmp_path, state, with_png):
    facts = {**doctor(), "data_dir": str(tmp_path), "xla_options": {}}
    facts["datasets"] = [
        {
            "dataset": "cifar-10",
            "file": "cifar-10-python.tar.gz",
            "state": state,
            "path": str(tmp_path / "cifar-10" / "cifar-10-python.tar.gz"),
            "source": "offline dir",
        }
    ]
    if with_png:
        (tmp_path / "cifar-10-png" / "train").mkdir(parents=True, exist_ok=True)
    return facts


def test_plain_words_say_which_cifar_data_the_notebooks_will_use(tmp_path):
    subset = format_doctor(_facts_with_cifar(tmp_path, "missing", with_png=True))
    assert "in plain words" in subset and "will read the offline PNG subset" in subset
    assert "default settings" in subset, "the XLA line is explained"
    download = format_doctor(_facts_with_cifar(tmp_path / "empty", "missing", with_png=False))
    assert "download it on first use" in download
    ready = format_doctor(_facts_with_cifar(tmp_path, "ok", with_png=True))
    assert "CIFAR-10:" not in ready
