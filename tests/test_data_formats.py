"""Parsers of the original formats, on tiny files written here, and every corrupt-file path."""

import gzip
import io
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest

from leptonlab.data import (
    DataError,
    load_safe_pickle,
    parse_cifar_batch,
    parse_idx,
    parse_ml_genres,
    parse_ml_items,
    parse_ml_ratings,
    parse_ml_users,
    parse_sst2,
    parse_text,
    read_archive_members,
)


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file as MNIST's authors write it: header, then big-endian values."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)  # [N=2, H=3, W=4]


# ---------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [False, True])
def test_idx_roundtrip_uint8(compress):
    raw = idx_bytes(IMAGES, 0x08)
    got = parse_idx(gzip.compress(raw) if compress else raw)
    np.testing.assert_array_equal(got, IMAGES)
    assert got.dtype == np.uint8 and got.flags.writeable


@pytest.mark.parametrize("dtype, code", [(np.int32, 0x0C), (np.float32, 0x0D), (np.int16, 0x0B)])
def test_idx_big_endian_types_come_back_native(dtype, code):
    values = np.array([[1, -2, 300], [70000 % 32000, 5, -6]], dtype=dtype)
    got = parse_idx(idx_bytes(values, code))
    np.testing.assert_array_equal(got, values)
    assert got.dtype.isnative


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b[:-1], "truncated or corrupt"),
        (lambda b: b + b"\x00", "truncated or corrupt"),
        (lambda b: b"\x01" + b[1:], "bad IDX magic"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
        (lambda b: b[:10], "header needs 16 bytes"),
        (lambda b: b[:3], "too short"),
    ],
)
def test_idx_corrupt_files_are_refused(mangle, message):
    with pytest.raises(DataError, match=message):
        parse_idx(mangle(idx_bytes(IMAGES, 0x08)), source="train-images")


def test_idx_truncated_gzip_is_refused():
    packed = gzip.compress(idx_bytes(IMAGES, 0x08))
    with pytest.raises(DataError, match="t.gz: the gzip stream is truncated or corrupt"):
        parse_idx(packed[: len(packed) // 2], source="t.gz")


# ---------------------------------------------------------------------------- text and SST-2


def test_text_and_bad_utf8():
    assert (
        parse_text(b"First Citizen:\nBefore we proceed\n") == "First Citizen:\nBefore we proceed\n"
    )
    with pytest.raises(DataError, match="input.txt: not valid utf-8"):
        parse_text(b"\xff\xfe", source="input.txt")


def test_sst2_labelled_and_test_files():
    sentences, labels = parse_sst2(b"sentence\tlabel\nit 's a charming journey . \t1\nbleak \t0\n")
    assert sentences == ["it 's a charming journey . ", "bleak "]
    np.testing.assert_array_equal(labels, [1, 0])
    assert labels.dtype == np.int32
    sentences, labels = parse_sst2(
        b"index\tsentence\n0\tuneasy mishmash .\n1\ta poor imitation .\n"
    )
    assert sentences == ["uneasy mishmash .", "a poor imitation ."] and labels is None


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"text\tlabel\nx\t1\n", "unexpected header"),
        (b"sentence\tlabel\nx\t2\n", "line 2: label '2' is not 0 or 1"),
        (b"sentence\tlabel\nx\t1\ty\n", "line 2: expected 2 tab-separated fields, got 3"),
    ],
)
def test_sst2_corrupt(content, message):
    with pytest.raises(DataError, match=message):
        parse_sst2(content)


# ---------------------------------------------------------------------------- MovieLens

U_DATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
U_GENRE = "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)).encode() + b"\n"
U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|"
    "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|Café au lait (1993)|||http://x|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1\n"
).encode("latin-1")
U_USER = b"1|24|M|technician|85711\n2|53|F|other|V3N4P\n"


def test_ml_ratings_empty_file_is_empty():
    assert parse_ml_ratings(b"").user.shape == (0,)


def test_ml_ratings():
    r = parse_ml_ratings(U_DATA)
    np.testing.assert_array_equal(r.user, [196, 186, 22])
    np.testing.assert_array_equal(r.item, [242, 302, 377])
    np.testing.assert_array_equal(r.rating, [3, 3, 1])
    np.testing.assert_array_equal(r.timestamp, [881250949, 891717742, 878887116])
    assert (r.user.dtype, r.item.dtype, r.rating.dtype, r.timestamp.dtype) == (
        np.int32,
        np.int32,
        np.int32,
        np.int64,
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"1\t2\t3\n", "expected 4 fields per line"),
        (b"1\t2\t3\t4\n1\t2\t3\t4\t5\n", "number of columns changed from 4 to 5 at row 2"),
        (b"1\t2\t3\t4\n1\tx\t3\t4\n", "could not convert string 'x'"),
        (b"1\t2\t7\t4\n", "outside 1..5"),
        (b"0\t2\t3\t4\n", "start at 1"),
    ],
)
def test_ml_ratings_corrupt(content, message):
    with pytest.raises(DataError, match=message):
        parse_ml_ratings(content, source="u.data")


def test_ml_items_genres_users():
    genres = parse_ml_genres(U_GENRE)
    assert genres == tuple(GENRES)
    movies = parse_ml_items(U_ITEM, n_genres=len(genres))
    np.testing.assert_array_equal(movies.item, [1, 2])
    assert list(movies.title) == ["Toy Story (1995)", "Café au lait (1993)"]  # latin-1 decoded
    assert list(movies.release_date) == ["01-Jan-1995", ""]
    assert movies.genres.shape == (2, 19) and movies.genres.dtype == bool
    assert [g for g, on in zip(genres, movies.genres[0]) if on] == [
        "Animation",
        "Children's",
        "Comedy",
    ]
    users = parse_ml_users(U_USER)
    np.testing.assert_array_equal(users.age, [24, 53])
    assert list(users.gender) == ["M", "F"] and list(users.zip_code) == ["85711", "V3N4P"]


@pytest.mark.parametrize(
    "parse, content, message",
    [
        (parse_ml_items, b"1|Toy Story|||url|0|1\n", "expected 24 '|'-separated fields, got 7"),
        (
            parse_ml_items,
            U_ITEM.replace(b"|0|0|0|1|1|1", b"|0|0|0|1|2|1"),
            "genre flag is not 0 or 1",
        ),
        (parse_ml_items, U_ITEM.split(b"\n")[1] + b"\n", r"ids are not 1, 2, \.\.\., 1"),
        (parse_ml_users, b"1|x|M|technician|85711\n", "age is not an integer"),
        (parse_ml_genres, b"unknown|0\nAction|2\n", "indices must be 0..1"),
    ],
)
def test_ml_tables_corrupt(parse, content, message):
    with pytest.raises(DataError, match=message):
        parse(content)


# ---------------------------------------------------------------------------- CIFAR pickles


def cifar_batch(labels, *, protocol=pickle.HIGHEST_PROTOCOL - 1) -> bytes:
    """A CIFAR-style batch: red plane = 10, green = 20, blue = 30 + image index."""
    n = len(labels)
    planes = np.zeros((n, 3, 32, 32), np.uint8)
    planes[:, 0], planes[:, 1] = 10, 20
    planes[:, 2] = 30 + np.arange(n, dtype=np.uint8)[:, None, None]
    planes[:, 0, 0, 1] = 99  # red of row 0, column 1
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": list(labels),
        b"data": planes.reshape(n, 3072),
        b"filenames": [b"x.png"] * n,
    }
    return pickle.dumps(batch, protocol=protocol)


def test_cifar_batch_layout():
    images, labels = parse_cifar_batch(cifar_batch([3, 8]))
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8 and images.flags.c_contiguous
    np.testing.assert_array_equal(labels, [3, 8])
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(images[1, 5, 5], [10, 20, 31])  # channels last
    assert images[0, 0, 1, 0] == 99 and images[0, 1, 0, 0] == 10  # row-major: (row 0, column 1)


class Evil:
    """What a hostile pickle does: call os.system while loading."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": Evil(marker), b"labels": [0]})
    with pytest.raises(
        DataError, match=r"data_batch_1: the pickle asks for (posix|nt|os)\.system.*refusing"
    ):
        parse_cifar_batch(payload, source="data_batch_1")
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(eval),  # builtins.eval
        pickle.dumps(np.load),  # a numpy function that is not needed
    ],
)
def test_other_globals_are_refused(payload):
    with pytest.raises(DataError, match="refusing"):
        load_safe_pickle(payload)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not a pickle", "not a valid pickle"),
        (cifar_batch([1, 2])[:-20], "not a valid pickle"),
        (pickle.dumps([1, 2]), "a CIFAR batch is a dict"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}), r"no \['labels'\]"),
        (
            pickle.dumps({b"data": np.zeros((1, 10), np.uint8), b"labels": [0]}),
            r"\[N, 3072\] uint8",
        ),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "should hold 2"),
    ],
)
def test_cifar_batch_corrupt(payload, message):
    with pytest.raises(DataError, match=message):
        parse_cifar_batch(payload)


# ---------------------------------------------------------------------------- archives


def test_read_archive_members_zip_and_tar(tmp_path):
    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("ml-100k/u.data", U_DATA)
        z.writestr("ml-100k/u.info", b"943 users\n")
    assert read_archive_members(zpath, ["ml-100k/u.data"]) == {"ml-100k/u.data": U_DATA}
    tpath = tmp_path / "b.tar.gz"
    with tarfile.open(tpath, "w:gz") as t:
        for name, content in [("d/one", b"1"), ("d/two", b"22")]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            t.addfile(info, io.BytesIO(content))
    assert read_archive_members(tpath, ["d/two", "d/one"]) == {"d/one": b"1", "d/two": b"22"}
    with pytest.raises(DataError, match="has no member d/three"):
        read_archive_members(tpath, ["d/three"])
    broken = tmp_path / "c.tar.gz"
    broken.write_bytes(tpath.read_bytes()[:30])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_archive_members(broken, ["d/one"])
    (tmp_path / "d.zip").write_bytes(b"PK nonsense")
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_archive_members(tmp_path / "d.zip", ["x"])
