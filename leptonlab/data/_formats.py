"""Parsers for the datasets' original distribution formats.

Pure functions over bytes (or an archive path): no network, no cache. Each
raises :class:`DataError` naming ``source`` (a file name for the message) and
what is wrong when the bytes are not what the format promises: a truncated
IDX file, a MovieLens line with the wrong number of fields, a pickle that asks
for anything a CIFAR batch does not need.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from leptonlab.data._errors import DataError

# ---------------------------------------------------------------------------- IDX (MNIST)

# IDX type codes (http://yann.lecun.com/exdb/mnist/): the data are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(data: bytes, source: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError; EOFError: cut short
        raise DataError(
            f"{source}: the gzip stream is truncated or corrupt ({err}). "
            "Delete the file and fetch it again."
        ) from None


def parse_idx(data: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code (0x08 = uint8 ...), the number of
    dimensions and each dimension as a big-endian uint32; the values follow.

    Returns:
        The array with the file's shape, in native byte order: images
        ``[N, 28, 28] uint8`` and labels ``[N] uint8`` for MNIST.

    Raises:
        DataError: on a bad magic number or type code, or when the byte count
            does not match the dimensions (a truncated or padded file).

    Introduced in notebook 06.
    """
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(data, source)
    if len(data) < 4:
        raise DataError(
            f"{source}: only {len(data)} bytes, too short for an IDX header; "
            "the file is truncated: fetch it again."
        )
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{source}: bad IDX magic number {data[:4].hex()} (an IDX file starts with "
            "two zero bytes); this is not an IDX file, or it is corrupt."
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise DataError(
            f"{source}: unknown IDX type code 0x{code:02X} (known: {known}); the file is corrupt."
        )
    if ndim == 0:
        raise DataError(f"{source}: the IDX header declares 0 dimensions; the file is corrupt.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: the IDX header needs {header} bytes for {ndim} dimensions, "
            f"the file has {len(data)}; it is truncated: fetch it again."
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{source}: the IDX header says shape {shape} of {dtype.name} ({expected} bytes), "
            f"but {len(data) - header} bytes follow; the file is truncated or corrupt: "
            "fetch it again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


# ---------------------------------------------------------------------------- plain text and tsv


def _decode(data: bytes, source: str, encoding: str = "utf-8") -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise DataError(
            f"{source}: not valid {encoding} text ({err}); the file is corrupt "
            "or not the one expected."
        ) from None


def parse_text(data: bytes, *, source: str = "<bytes>") -> str:
    """Decode a UTF-8 text file (tiny Shakespeare's ``input.txt``) into one string.

    Introduced in notebook 11.
    """
    return _decode(data, source)


def _lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only (``str.splitlines`` would also split on rarer separators)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def parse_sst2(data: bytes, *, source: str = "<bytes>") -> tuple[list[str], np.ndarray | None]:
    """Parse a GLUE SST-2 ``.tsv`` file.

    ``train.tsv`` and ``dev.tsv`` have the header ``sentence<TAB>label`` (label 0
    = negative, 1 = positive); ``test.tsv`` has ``index<TAB>sentence`` and no
    labels. Sentences are kept exactly as in the file (GLUE's are lower-cased,
    tokenised and often end with a space).

    Returns:
        ``(sentences, labels)``: ``list[str]`` of length N and ``[N] int32``,
        or None for the unlabelled test file.

    Introduced in notebook 13.
    """
    lines = _lines(_decode(data, source))
    if not lines:
        raise DataError(f"{source}: the file is empty; fetch it again.")
    header = lines[0].split("\t")
    if header == ["sentence", "label"]:
        text_col, other_col, labelled = 0, 1, True
    elif header == ["index", "sentence"]:
        text_col, other_col, labelled = 1, 0, False
    else:
        raise DataError(
            f"{source}: unexpected header {lines[0]!r}; an SST-2 file starts with "
            "'sentence<TAB>label' (train, dev) or 'index<TAB>sentence' (test)."
        )
    sentences: list[str] = []
    others: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(
                f"{source}, line {number}: expected 2 tab-separated fields, got {len(fields)}."
            )
        sentences.append(fields[text_col])
        others.append(fields[other_col])
    if not labelled:
        return sentences, None
    bad = next((i for i, label in enumerate(others) if label not in ("0", "1")), None)
    if bad is not None:
        raise DataError(f"{source}, line {bad + 2}: label {others[bad]!r} is not 0 or 1.")
    return sentences, np.array(others, dtype=np.int32)


# ---------------------------------------------------------------------------- MovieLens 100K


class Ratings(NamedTuple):
    """MovieLens ratings, one entry per rating, ids as in the files (1-based)."""

    user: np.ndarray  # [N] int32, user id 1..943
    item: np.ndarray  # [N] int32, movie id 1..1682 (row item-1 of Movies)
    rating: np.ndarray  # [N] int32, stars 1..5
    timestamp: np.ndarray  # [N] int64, seconds since 1970-01-01 UTC


class Movies(NamedTuple):
    """The movies of ``u.item``; row i describes movie id i+1."""

    item: np.ndarray  # [M] int32, movie id 1..M
    title: np.ndarray  # [M] str, e.g. "Toy Story (1995)"
    release_date: np.ndarray  # [M] str, e.g. "01-Jan-1995", "" when unknown
    imdb_url: np.ndarray  # [M] str, "" when unknown
    genres: np.ndarray  # [M, G] bool, G = 19 genre flags in the order of u.genre


class Users(NamedTuple):
    """The users of ``u.user``; row i describes user id i+1."""

    user: np.ndarray  # [U] int32, user id 1..U
    age: np.ndarray  # [U] int32, years
    gender: np.ndarray  # [U] str, "M" or "F"
    occupation: np.ndarray  # [U] str, one of u.occupation
    zip_code: np.ndarray  # [U] str (some are not numeric)


def _int_table(data: bytes, source: str, sep: bytes, n_fields: int) -> np.ndarray:
    """``[N, n_fields] int64`` from lines of ``n_fields`` integers separated by ``sep``."""
    if not data.strip():
        return np.zeros((0, n_fields), dtype=np.int64)
    try:  # numpy's C parser: 100,000 lines in a few tens of milliseconds
        table = np.loadtxt(io.BytesIO(data), dtype=np.int64, delimiter=sep.decode(), ndmin=2)
    except ValueError as err:
        raise DataError(
            f"{source}: {err}; expected {n_fields} integers per line separated by "
            f"{sep.decode()!r}: the file is corrupt."
        ) from None
    if table.shape[1] != n_fields:
        raise DataError(
            f"{source}: expected {n_fields} fields per line separated by {sep.decode()!r}, "
            f"got {table.shape[1]}; the file is corrupt."
        )
    return table


def parse_ml_ratings(data: bytes, *, source: str = "<bytes>") -> Ratings:
    """Parse MovieLens-100K ratings (``u.data``, ``u1.base`` ... ``ub.test``).

    Each line is ``user<TAB>item<TAB>rating<TAB>timestamp``. Ids stay 1-based as
    in the files: subtract 1 to index an embedding table.

    Introduced in notebook 14.
    """
    table = _int_table(data, source, b"\t", 4)  # [N, 4]
    if table.size and not np.isin(table[:, 2], np.arange(1, 6)).all():
        raise DataError(f"{source}: a rating is outside 1..5; the file is corrupt.")
    if table.size and (table[:, :2] < 1).any():
        raise DataError(f"{source}: user and item ids start at 1; found one below 1.")
    return Ratings(
        user=table[:, 0].astype(np.int32),
        item=table[:, 1].astype(np.int32),
        rating=table[:, 2].astype(np.int32),
        timestamp=table[:, 3].copy(),
    )


def _pipe_rows(data: bytes, source: str, n_fields: int) -> list[list[str]]:
    """Lines of ``|``-separated fields; u.item and u.user are latin-1."""
    rows = [line.split("|") for line in _lines(_decode(data, source, "latin-1")) if line.strip()]
    bad = next((i for i, row in enumerate(rows) if len(row) != n_fields), None)
    if bad is not None:
        raise DataError(
            f"{source}, line {bad + 1}: expected {n_fields} '|'-separated fields, "
            f"got {len(rows[bad])}; the file is corrupt."
        )
    return rows


def _ids(values: Iterable[str], source: str) -> np.ndarray:
    """``[M] int32`` ids that must be exactly 1..M in order (row i is id i+1)."""
    try:
        ids = np.array([int(v) for v in values], dtype=np.int32)
    except ValueError as err:
        raise DataError(
            f"{source}: an id is not an integer ({err}); the file is corrupt."
        ) from None
    if not np.array_equal(ids, np.arange(1, len(ids) + 1)):
        raise DataError(
            f"{source}: ids are not 1, 2, ..., {len(ids)} in order; the file is corrupt."
        )
    return ids


def parse_ml_genres(data: bytes, *, source: str = "<bytes>") -> tuple[str, ...]:
    """Parse ``u.genre`` (``name|index`` lines) into the genre names ordered by index (19)."""
    rows = _pipe_rows(data, source, 2)
    try:
        by_index = {int(index): name for name, index in rows}
    except ValueError as err:
        raise DataError(f"{source}: a genre index is not an integer ({err}).") from None
    if sorted(by_index) != list(range(len(rows))):
        raise DataError(f"{source}: genre indices must be 0..{len(rows) - 1}, each once.")
    return tuple(by_index[i] for i in range(len(rows)))


def parse_ml_items(data: bytes, *, n_genres: int = 19, source: str = "<bytes>") -> Movies:
    """Parse ``u.item``: ``id|title|release date|video release date|IMDb URL|`` + genre flags.

    The file is latin-1. The video release date is empty for every movie and
    is dropped.

    Returns:
        :class:`Movies`, with ``genres`` ``[M, n_genres] bool``.

    Introduced in notebook 14.
    """
    rows = _pipe_rows(data, source, 5 + n_genres)
    flags = [row[5:] for row in rows]
    if any(flag not in ("0", "1") for row in flags for flag in row):
        raise DataError(f"{source}: a genre flag is not 0 or 1; the file is corrupt.")
    return Movies(
        item=_ids((row[0] for row in rows), source),
        title=np.array([row[1] for row in rows], dtype=str),
        release_date=np.array([row[2] for row in rows], dtype=str),
        imdb_url=np.array([row[4] for row in rows], dtype=str),
        genres=np.array(flags, dtype=np.int8).reshape(len(rows), n_genres).astype(bool),
    )


def parse_ml_users(data: bytes, *, source: str = "<bytes>") -> Users:
    """Parse ``u.user``: ``id|age|gender|occupation|zip code``. Introduced in notebook 15."""
    rows = _pipe_rows(data, source, 5)
    try:
        age = np.array([int(row[1]) for row in rows], dtype=np.int32)
    except ValueError as err:
        raise DataError(f"{source}: an age is not an integer ({err}).") from None
    return Users(
        user=_ids((row[0] for row in rows), source),
        age=age,
        gender=np.array([row[2] for row in rows], dtype=str),
        occupation=np.array([row[3] for row in rows], dtype=str),
        zip_code=np.array([row[4] for row in rows], dtype=str),
    )


# ---------------------------------------------------------------------------- CIFAR-10 pickles

# What the official CIFAR python batches (cPickle of a dict of bytes keys) need
# to rebuild their numpy arrays; the numpy._core names are what NumPy 2 writes.
try:
    from numpy._core.multiarray import _reconstruct as _RECONSTRUCT  # NumPy >= 2
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct as _RECONSTRUCT
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and plain containers, and nothing else.

    A pickle may name any importable function (``os.system``) and call it while
    loading; ``find_class`` is where it asks, so everything not in
    ``_SAFE_GLOBALS`` is refused before it is imported, let alone called.
    """

    def __init__(self, file: io.BytesIO, source: str):
        super().__init__(file, encoding="bytes")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"{self._source}: the pickle asks for {module}.{name}, which a CIFAR batch "
                "never needs; refusing to load it (unpickling can run arbitrary code). "
                "Use the official cifar-10-python.tar.gz."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(
            f"{self._source}: the pickle uses persistent ids, which a CIFAR batch never does."
        )


def load_safe_pickle(data: bytes, *, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` allowing only what CIFAR batches need (numpy arrays, dicts, lists, bytes).

    Raises:
        DataError: if the pickle names any other class or function, or is not a valid pickle.
    """
    try:
        return _CifarUnpickler(io.BytesIO(data), source).load()
    except DataError:
        raise
    except Exception as err:  # UnpicklingError, EOFError, ValueError ...: all mean corrupt
        raise DataError(
            f"{source}: not a valid pickle ({type(err).__name__}: {err}); "
            "the file is truncated or corrupt."
        ) from None


def parse_cifar_batch(data: bytes, *, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR python batch (``data_batch_1`` ... ``test_batch``) safely.

    A batch is a pickled dict whose ``data`` is ``[N, 3072] uint8`` (per image
    1024 red, 1024 green, then 1024 blue values, rows top to bottom) and whose
    ``labels`` is a list of N class indices.

    Returns:
        ``(images, labels)``: ``[N, 32, 32, 3] uint8`` (height, width, RGB) and ``[N] int32``.

    Introduced in notebook 16.
    """
    batch = load_safe_pickle(data, source=source)
    if not isinstance(batch, dict):
        raise DataError(f"{source}: a CIFAR batch is a dict, got {type(batch).__name__}.")
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = {"data", "labels"} - set(batch)
    if missing:
        raise DataError(
            f"{source}: the batch has no {sorted(missing)} entry; "
            f"keys are {sorted(map(str, batch))}."
        )
    pixels, labels = batch["data"], batch["labels"]
    if not (
        isinstance(pixels, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 2
        and pixels.shape[1] == 3 * 32 * 32
    ):
        got = (
            f"{pixels.dtype} {pixels.shape}"
            if isinstance(pixels, np.ndarray)
            else type(pixels).__name__
        )
        raise DataError(f"{source}: 'data' should be a [N, 3072] uint8 array, got {got}.")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise DataError(f"{source}: 'labels' should be a list of integers.") from None
    if labels.shape != (pixels.shape[0],) or (labels < 0).any():
        raise DataError(
            f"{source}: 'labels' should hold {pixels.shape[0]} non-negative integers, "
            f"got shape {labels.shape}."
        )
    images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # [N, 3, H, W] -> [N, H, W, 3]
    return np.ascontiguousarray(images), labels.astype(np.int32)


# ---------------------------------------------------------------------------- archives


def read_archive_members(path: Path, members: Iterable[str]) -> dict[str, bytes]:
    """Read ``members`` of a ``.zip`` or ``.tar.gz`` archive into memory, in one pass.

    Nothing is written to disk, so a hostile member name cannot escape a folder.

    Raises:
        DataError: if the archive is corrupt or lacks one of ``members``.
    """
    path = Path(path)
    wanted = set(members)
    found: dict[str, bytes] = {}
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                found = {m: archive.read(m) for m in wanted & names}
        else:
            with tarfile.open(path, "r:*") as archive:
                for info in archive:  # streams through a .tar.gz once
                    if info.name in wanted and info.isfile():
                        found[info.name] = archive.extractfile(info).read()  # type: ignore[union-attr]
                        if len(found) == len(wanted):
                            break
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path}: the archive is truncated or corrupt ({type(err).__name__}: {err}). "
            "Delete it and fetch it again."
        ) from None
    missing = sorted(wanted - set(found))
    if missing:
        raise DataError(
            f"{path}: the archive has no member {', '.join(missing)}; "
            "it is not the official archive: delete it and fetch it again."
        )
    return found
