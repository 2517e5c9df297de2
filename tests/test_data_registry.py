"""The dataset registry: official URLs, pinned checksums, licenses, and its own validation."""

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leptonlab import data
from leptonlab.data import _registry

EXPECTED = {"mnist", "fashion-mnist", "tinyshakespeare", "ml-100k", "sst-2", "cifar-10"}
SHA = "0" * 64


def test_every_course_dataset_is_registered_with_license_and_citation():
    assert set(data.DATASETS) == EXPECTED
    for ds in data.DATASETS.values():
        assert ds.files, ds.name
        assert ds.license and ds.citation and ds.homepage.startswith("http"), ds.name
        for entry in ds.files:
            assert entry.dataset == ds.name
            assert entry.size > 0
            assert entry.sha256 or entry.md5
            urls = entry.urls or entry.archive.urls
            assert all(u.startswith(("http://", "https://")) for u in urls)


def test_mnist_mirrors_in_torchvision_order():
    entry = data.get_dataset("mnist").file("train-images-idx3-ubyte.gz")
    assert entry.urls == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",
    )
    assert entry.md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"  # the official md5
    assert entry.known_hash == f"sha256:{entry.sha256}"


def test_official_urls():
    fashion = data.get_dataset("fashion-mnist").file("t10k-labels-idx1-ubyte.gz")
    assert fashion.urls == (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz",
    )
    text = data.get_dataset("tinyshakespeare").file("input.txt")
    assert text.urls == (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    )


@pytest.mark.parametrize(
    "dataset, name, archive_url, member",
    [
        (
            "ml-100k",
            "u.data",
            "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            "ml-100k/u.data",
        ),
        (
            "ml-100k",
            "ua.test",
            "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            "ml-100k/ua.test",
        ),
        (
            "sst-2",
            "train.tsv",
            "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
            "SST-2/train.tsv",
        ),
    ],
)
def test_archive_members_are_verified_by_their_own_sha256(dataset, name, archive_url, member):
    entry = data.get_dataset(dataset).file(name)
    assert entry.urls == ()
    assert entry.archive.urls == (archive_url,)
    assert entry.member == member
    assert entry.sha256 is not None


def test_cifar10_archive_is_pinned_by_the_official_md5_and_size():
    entry = data.get_dataset("cifar-10").file("cifar-10-python.tar.gz")
    assert entry.urls == ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
    assert entry.md5 == "c58f30108f718f92721af3b95e74349a"
    assert entry.size == 170498071
    assert entry.sha256 is None
    assert entry.digest == ("md5", entry.md5)
    assert entry.known_hash == "md5:c58f30108f718f92721af3b95e74349a"


def test_registry_agrees_with_the_shared_manifest():
    folder = os.environ.get("LEPTONLAB_DATA_DIR")
    manifest = Path(folder or "/nonexistent") / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip("needs LEPTONLAB_DATA_DIR pointing at the shared data folder with MANIFEST.tsv")
    rows = {r["path"]: r for r in csv.DictReader(manifest.open(), delimiter="\t")}
    for ds in data.DATASETS.values():
        for entry in ds.files:
            row = rows.get(f"{ds.name}/{entry.name}")
            if row is None:
                continue  # not in the offline copies (the CIFAR-10 archive)
            assert (entry.size, entry.sha256, entry.md5) == (
                int(row["bytes"]),
                row["sha256"],
                row["md5"],
            )
    registered = {f"{ds.name}/{e.name}" for ds in data.DATASETS.values() for e in ds.files}
    assert {p for p in rows if not p.startswith("cifar-10-png")} <= registered


def test_registry_is_frozen():
    entry = data.get_dataset("mnist").files[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.size = 1
    with pytest.raises(TypeError):
        data.DATASETS["mine"] = None


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'mnits'.*mnist, fashion-mnist"):
        data.get_dataset("mnits")
    with pytest.raises(ValueError, match="no file 'train.csv'.*train.tsv, dev.tsv, test.tsv"):
        data.get_dataset("sst-2").file("train.csv")
    with pytest.raises(TypeError, match="string"):
        data.get_dataset(3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "either download URLs or an archive"),
        (
            dict(
                urls=("http://x/f",), archive=data.Archive("a.zip", ("http://x/a.zip",)), member="f"
            ),
            "not both",
        ),
        (dict(archive=data.Archive("a.zip", ("http://x/a.zip",))), "needs both"),
        (dict(urls=("http://x/f",), sha256="ABC"), "64 lower-case hex"),
        (dict(urls=("http://x/f",), sha256=None), "needs a sha256"),
        (dict(urls=("http://x/f",), size=0), "positive"),
    ],
)
def test_datafile_rejects_inconsistent_entries(kwargs, message):
    fields = dict(dataset="d", name="f", size=1, sha256=SHA) | kwargs
    with pytest.raises(ValueError, match=message):
        data.DataFile(**fields)


def test_archive_and_dataset_validation():
    with pytest.raises(ValueError, match="at least one download URL"):
        data.Archive("a.zip", ())
    with pytest.raises(ValueError, match="only .zip and .tar.gz"):
        data.Archive("a.rar", ("http://x/a.rar",))
    entry = data.DataFile("d", "f", 1, SHA, urls=("http://x/f",))
    with pytest.raises(ValueError, match="unique"):
        data.Dataset("d", "D", "http://x", "l", "c", (entry, entry))
    with pytest.raises(ValueError, match="every file must name this dataset"):
        data.Dataset("other", "D", "http://x", "l", "c", (entry,))


def test_import_downloads_nothing_and_creates_no_folder(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, LEPTONLAB_CACHE_DIR=str(cache), HOME=str(tmp_path / "home"))
    env.pop("LEPTONLAB_DATA_DIR", None)
    code = "import sys, leptonlab.data; assert 'pooch' not in sys.modules, 'pooch imported at import time'"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert not cache.exists() and not (tmp_path / "home").exists()
    assert _registry.DATASETS is data.DATASETS
