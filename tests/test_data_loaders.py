"""Public loaders: on tiny files in the original formats (offline folder, patched registry),
their bad-input errors, and on the real offline copies when ``LEPTONLAB_DATA_DIR`` is set."""

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from leptonlab import data
from leptonlab.data import DataError, DataFile, Dataset, _registry

REAL_DATA = os.environ.get("LEPTONLAB_DATA_DIR")


def idx_gz(array: np.ndarray) -> bytes:
    """A gzip'd uint8 IDX file."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def cifar_tar(batches: dict) -> bytes:
    """A cifar-10-python.tar.gz holding ``{member name: labels}`` batches."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, labels in batches.items():
            n = len(labels)
            pixels = np.tile(np.arange(3072, dtype=np.uint16) % 251, (n, 1)).astype(
                np.uint8
            )  # [N, 3072]
            content = pickle.dumps(
                {b"data": pixels, b"labels": labels, b"batch_label": name.encode()}, protocol=4
            )
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """Offline folder + registry for tiny datasets with the real names: ``tiny(dataset, {file: bytes})``."""
    folder = tmp_path / "offline"
    monkeypatch.setenv("LEPTONLAB_DATA_DIR", str(folder))
    registry = {}
    monkeypatch.setattr(_registry, "DATASETS", registry)

    def add(dataset, files):
        (folder / dataset).mkdir(parents=True)
        entries = []
        for name, content in files.items():
            (folder / dataset / name).write_bytes(content)
            entries.append(
                DataFile(
                    dataset,
                    name,
                    len(content),
                    hashlib.sha256(content).hexdigest(),
                    urls=("http://unused/" + name,),
                )
            )
        registry[dataset] = Dataset(dataset, dataset, "http://unused/", "l", "c", tuple(entries))
        return folder / dataset

    return add


IMAGES = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256  # [N=3, 28, 28]


@pytest.mark.parametrize(
    "loader, dataset", [(data.load_mnist, "mnist"), (data.load_fashion_mnist, "fashion-mnist")]
)
@pytest.mark.parametrize("split, prefix", [("train", "train"), ("test", "t10k")])
def test_idx_loaders(tiny, loader, dataset, split, prefix):
    tiny(
        dataset,
        {
            f"{prefix}-images-idx3-ubyte.gz": idx_gz(IMAGES),
            f"{prefix}-labels-idx1-ubyte.gz": idx_gz(np.array([7, 0, 9])),
        },
    )
    images, labels = loader(split)
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, IMAGES)
    np.testing.assert_array_equal(labels, [7, 0, 9])
    assert labels.dtype == np.int32


@pytest.mark.parametrize(
    "labels, message",
    [(np.array([1, 2]), "expected 3 labels"), (np.array([1, 2, 12]), r"labels must lie in 0..9")],
)
def test_idx_loader_refuses_inconsistent_files(tiny, labels, message):
    tiny(
        "mnist",
        {
            "train-images-idx3-ubyte.gz": idx_gz(IMAGES),
            "train-labels-idx1-ubyte.gz": idx_gz(labels),
        },
    )
    with pytest.raises(DataError, match=message):
        data.load_mnist()


def test_idx_loader_refuses_wrong_image_shape(tiny):
    tiny(
        "mnist",
        {
            "train-images-idx3-ubyte.gz": idx_gz(np.zeros((2, 32, 32))),
            "train-labels-idx1-ubyte.gz": idx_gz(np.array([1, 2])),
        },
    )
    with pytest.raises(DataError, match=r"expected \[N, 28, 28\] uint8 images"):
        data.load_mnist()


def test_tinyshakespeare(tiny):
    tiny("tinyshakespeare", {"input.txt": b"First Citizen:\nSpeak, speak.\n"})
    assert data.load_tinyshakespeare() == "First Citizen:\nSpeak, speak.\n"


def test_sst2(tiny):
    tiny(
        "sst-2",
        {
            "train.tsv": b"sentence\tlabel\ngood \t1\nbad \t0\n",
            "dev.tsv": b"sentence\tlabel\nfine \t1\n",
            "test.tsv": b"index\tsentence\n0\tunknown .\n",
        },
    )
    sentences, labels = data.load_sst2()
    assert sentences == ["good ", "bad "] and labels.tolist() == [1, 0]
    assert data.load_sst2("dev")[1].dtype == np.int32
    assert data.load_sst2("test") == (["unknown ."], None)


GENRES = b"".join(f"g{i}|{i}\n".encode() for i in range(19))
FLAGS = "|".join(["0"] * 18 + ["1"])


def movielens_files():
    return {
        "u.data": b"1\t2\t5\t881250949\n2\t1\t3\t891717742\n2\t2\t4\t878887116\n",
        "u.item": f"1|A (1995)|01-Jan-1995||u|{FLAGS}\n2|B (1996)|||u|{FLAGS}\n".encode("latin-1"),
        "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n",
        "u.genre": GENRES,
        "u1.base": b"1\t2\t5\t881250949\n2\t1\t3\t891717742\n",
        "u1.test": b"2\t2\t4\t878887116\n",
    }


def test_movielens(tiny):
    tiny("ml-100k", movielens_files())
    ml = data.load_movielens_100k()
    assert ml.ratings.user.tolist() == [1, 2, 2] and ml.ratings.rating.tolist() == [5, 3, 4]
    assert ml.movies.title[ml.ratings.item - 1].tolist() == ["B (1996)", "A (1995)", "B (1996)"]
    assert ml.movies.genres.shape == (2, 19) and ml.movies.genres[:, 18].all()
    assert ml.users.occupation.tolist() == ["technician", "other"]
    assert ml.genre_names[:2] == ("g0", "g1")
    train, test = data.load_movielens_fold("u1")
    assert len(train.user) == 2 and test.item.tolist() == [2]


def test_movielens_refuses_files_that_do_not_belong_together(tiny):
    files = movielens_files() | {"u.data": b"3\t2\t5\t881250949\n"}  # user 3 is not in u.user
    tiny("ml-100k", files)
    with pytest.raises(DataError, match="do not belong together"):
        data.load_movielens_100k()


def test_cifar10(tiny):
    batches = {f"data_batch_{i}": [i, i + 1] for i in range(1, 6)} | {"test_batch": [9, 0, 3]}
    tiny("cifar-10", {"cifar-10-python.tar.gz": cifar_tar(batches)})
    images, labels = data.load_cifar10()
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    assert (
        labels.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6] and labels.dtype == np.int32
    )  # batches in order
    assert images[0, 0, 0].tolist() == [0, 1024 % 251, 2048 % 251]  # R, G, B of the top-left pixel
    images, labels = data.load_cifar10("test")
    assert images.shape == (3, 32, 32, 3) and labels.tolist() == [9, 0, 3]


def test_cifar10_refuses_a_malicious_batch(tiny, tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        content = pickle.dumps({b"data": Evil(), b"labels": [0]})
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    tiny("cifar-10", {"cifar-10-python.tar.gz": buffer.getvalue()})
    with pytest.raises(DataError, match="refusing"):
        data.load_cifar10("test")
    assert not (tmp_path / "pwned").exists()


def test_cifar10_offline_without_the_archive_is_a_clear_error(tiny, tmp_path):
    tiny("cifar-10", {})
    _registry.DATASETS["cifar-10"] = Dataset(
        "cifar-10",
        "C",
        "http://x/",
        "l",
        "c",
        (
            DataFile(
                "cifar-10", "cifar-10-python.tar.gz", 1, "0" * 64, urls=("http://unused/c.tar.gz",)
            ),
        ),
    )
    with pytest.raises(DataError, match="cifar-10-python.tar.gz is not in the offline data folder"):
        data.load_cifar10()


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: data.load_mnist("validation"),
            "split='validation' is not valid; choose one of: 'train', 'test'",
        ),
        (lambda: data.load_fashion_mnist(0), "split=0 is not valid"),
        (lambda: data.load_sst2("val"), "choose one of: 'train', 'dev', 'test'"),
        (lambda: data.load_cifar10("dev"), "choose one of: 'train', 'test'"),
        (
            lambda: data.load_movielens_fold("u6"),
            "fold='u6' is not valid; choose one of: 'u1', 'u2', 'u3', 'u4', 'u5', 'ua', 'ub'",
        ),
    ],
)
def test_bad_arguments_list_the_valid_ones(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_class_names():
    assert (
        len(data.MNIST_CLASSES)
        == len(data.FASHION_MNIST_CLASSES)
        == len(data.CIFAR10_CLASSES)
        == 10
    )
    assert data.FASHION_MNIST_CLASSES[9] == "Ankle boot" and data.CIFAR10_CLASSES[0] == "airplane"


# ---------------------------------------------------------------------------- the real offline copies

real = pytest.mark.skipif(not REAL_DATA, reason="set LEPTONLAB_DATA_DIR to the offline data folder")


@real
@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist])
def test_real_mnist_like(loader):
    for split, n in [("train", 60000), ("test", 10000)]:
        images, labels = loader(split)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.int32
        assert labels.min() == 0 and labels.max() == 9
        assert np.bincount(labels).min() > n // 20  # every class present
        assert images.max() == 255


@real
def test_real_sst2():
    for split, n in [("train", 67349), ("dev", 872), ("test", 1821)]:
        sentences, labels = data.load_sst2(split)
        assert len(sentences) == n
        assert (labels is None) == (split == "test")
        if labels is not None:
            assert labels.shape == (n,) and set(np.unique(labels)) == {0, 1}


@real
def test_real_movielens():
    ml = data.load_movielens_100k()
    assert ml.ratings.user.shape == (100000,)
    assert len(np.unique(ml.ratings.user)) == 943 == len(ml.users.user)
    assert len(np.unique(ml.ratings.item)) == 1682 == len(ml.movies.item)
    assert ml.movies.genres.shape == (1682, 19) and len(ml.genre_names) == 19
    assert ml.movies.title[0] == "Toy Story (1995)"
    for fold in data.MOVIELENS_FOLDS:
        train, test = data.load_movielens_fold(fold)
        assert len(train.user) + len(test.user) == 100000
        if fold.startswith("u") and fold[1].isdigit():
            assert len(test.user) == 20000


@real
def test_real_tinyshakespeare():
    text = data.load_tinyshakespeare()
    assert len(text) == 1115394 and text.startswith("First Citizen:")


@real
def test_real_status_all_ok_but_cifar_archive():
    rows = data.status()
    not_ok = {(r["dataset"], r["file"]) for r in rows if r["state"] != "ok"}
    assert not_ok <= {("cifar-10", "cifar-10-python.tar.gz")}
    assert {r["source"] for r in rows} == {"offline dir"}
