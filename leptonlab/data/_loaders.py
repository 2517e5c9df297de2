"""The datasets of the course as plain NumPy arrays, read from their original files.

Each loader fetches (or, offline, finds) the verified files, parses them and
checks the result's shapes, so a notebook can rely on what the docstring says.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from leptonlab import _env
from leptonlab.data._errors import DataError
from leptonlab.data._fetch import fetch
from leptonlab.data._formats import (
    Movies,
    Ratings,
    Users,
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
from leptonlab.data._image_folder import image_folder
from leptonlab.data._registry import CIFAR10_ARCHIVE_NAME

MNIST_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
"""MNIST class names: label i is the digit i. Introduced in notebook 06."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST class names, label 0-9 in this order (Zalando's README). Introduced in notebook 08."""

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
"""CIFAR-10 class names, label 0-9 in this order (``batches.meta``). Introduced in notebook 16."""

MOVIELENS_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
"""MovieLens-100K's own splits: u1-u5 are the 5 cross-validation folds, ua/ub hold out 10 ratings per user."""

_IDX_FILES = {  # split -> (images file, labels file), the same names for MNIST and Fashion-MNIST
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_SST2_SPLITS = ("train", "dev", "test")
_CIFAR10_BATCHES = {  # split -> members of the official archive
    "train": tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)),
    "test": ("cifar-10-batches-py/test_batch",),
}


def _choice(what: str, value: object, valid: Sequence[str]) -> str:
    """``value`` if it is one of ``valid``; ValueError listing them otherwise."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(
            f"{what}={value!r} is not valid; choose one of: {', '.join(map(repr, valid))}."
        )
    return value


def _read(dataset: str, filename: str) -> tuple[bytes, str]:
    """The verified bytes of a registered file and its path (for messages)."""
    path = fetch(dataset, filename)
    return path.read_bytes(), str(path)


def _check_labels(source: str, labels: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    if labels.shape != (n,):
        raise DataError(f"{source}: expected {n} labels, one per image, got shape {labels.shape}.")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(
            f"{source}: labels must lie in 0..{n_classes - 1}, "
            f"found {labels.min()}..{labels.max()}."
        )
    return labels.astype(np.int32)


def _load_idx_images(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = _IDX_FILES[_choice("split", split, tuple(_IDX_FILES))]
    data, images_source = _read(dataset, images_file)
    images = parse_idx(data, source=images_source)  # [N, 28, 28] uint8
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{images_source}: expected [N, 28, 28] uint8 images, "
            f"got {images.dtype} {images.shape}."
        )
    data, labels_source = _read(dataset, labels_file)
    labels = _check_labels(
        labels_source, parse_idx(data, source=labels_source), images.shape[0], 10
    )
    return images, labels


def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits from the original IDX files.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).

    Returns:
        ``(images, labels)``: ``[N, 28, 28] uint8`` (0 = background, 255 = ink)
        and ``[N] int32`` digits 0-9 (names in :data:`MNIST_CLASSES`).

    Introduced in notebook 06 (data pipeline); trained on in notebook 08.
    """
    return _load_idx_images("mnist", split)


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST clothing images, in MNIST's format and shapes.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).

    Returns:
        ``(images, labels)``: ``[N, 28, 28] uint8`` and ``[N] int32`` classes 0-9
        (names in :data:`FASHION_MNIST_CLASSES`).

    Introduced in notebook 08.
    """
    return _load_idx_images("fashion-mnist", split)


def load_tinyshakespeare() -> str:
    """Tiny Shakespeare, the character-level language-modelling text (1,115,394 ASCII characters).

    Introduced in notebook 11.
    """
    data, source = _read("tinyshakespeare", "input.txt")
    return parse_text(data, source=source)


def load_sst2(split: str = "train") -> tuple[list[str], np.ndarray | None]:
    """The GLUE SST-2 binary sentiment sentences.

    Args:
        split: ``"train"`` (67,349 sentences), ``"dev"`` (872; use it as the
            test set) or ``"test"`` (1,821, unlabelled in GLUE).

    Returns:
        ``(sentences, labels)``: ``list[str]`` of N lower-cased, tokenised
        sentences as in the file, and ``[N] int32`` (0 = negative,
        1 = positive), or None for ``"test"``.

    Introduced in notebook 13.
    """
    split = _choice("split", split, _SST2_SPLITS)
    data, source = _read("sst-2", f"{split}.tsv")
    return parse_sst2(data, source=source)


class MovieLens100K(NamedTuple):
    """MovieLens 100K: all ratings, the movies, the users and the genre names.

    Ids are 1-based as in the files: row ``i`` of ``movies`` is movie id ``i+1``
    and row ``i`` of ``users`` is user id ``i+1``, so ``movies.title[ratings.item - 1]``
    names the movie of every rating.
    """

    ratings: Ratings  # 100,000 ratings: user, item, rating, timestamp, each [N]
    movies: Movies  # 1,682 movies: item, title, release_date, imdb_url [M], genres [M, 19] bool
    users: Users  # 943 users: user, age, gender, occupation, zip_code, each [U]
    genre_names: tuple[
        str, ...
    ]  # 19 names, the columns of movies.genres ("unknown", "Action", ...)


def _ratings(filename: str) -> Ratings:
    data, source = _read("ml-100k", filename)
    return parse_ml_ratings(data, source=source)


def load_movielens_100k() -> MovieLens100K:
    """MovieLens 100K (``u.data``, ``u.item``, ``u.user``, ``u.genre``) as arrays.

    Returns:
        :class:`MovieLens100K` with ids kept 1-based as in the files (subtract 1
        to index an embedding table of 943 users or 1,682 movies).

    Introduced in notebook 14.
    """
    genre_data, genre_source = _read("ml-100k", "u.genre")
    genre_names = parse_ml_genres(genre_data, source=genre_source)
    item_data, item_source = _read("ml-100k", "u.item")
    movies = parse_ml_items(item_data, n_genres=len(genre_names), source=item_source)
    user_data, user_source = _read("ml-100k", "u.user")
    users = parse_ml_users(user_data, source=user_source)
    ratings = _ratings("u.data")
    if ratings.item.size and (
        ratings.item.max() > len(movies.item) or ratings.user.max() > len(users.user)
    ):
        raise DataError(
            "u.data names a movie or user id beyond u.item/u.user; "
            "the files do not belong together."
        )
    return MovieLens100K(ratings=ratings, movies=movies, users=users, genre_names=genre_names)


def load_movielens_fold(name: str) -> tuple[Ratings, Ratings]:
    """One of MovieLens-100K's own train/test splits, ``<name>.base`` and ``<name>.test``.

    Args:
        name: ``"u1"`` ... ``"u5"`` (the 5-fold cross-validation: 80,000 / 20,000
            ratings, disjoint test sets) or ``"ua"``/``"ub"`` (exactly 10 test
            ratings per user).

    Returns:
        ``(train, test)`` :class:`Ratings` with 1-based ids, as in :func:`load_movielens_100k`.

    Introduced in notebook 14.
    """
    name = _choice("fold", name, MOVIELENS_FOLDS)
    return _ratings(f"{name}.base"), _ratings(f"{name}.test")


def _load_cifar10_archive(split: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """``split`` read from the official, md5-verified ``cifar-10-python.tar.gz``."""
    members = _CIFAR10_BATCHES[split]
    archive = fetch("cifar-10", CIFAR10_ARCHIVE_NAME)
    raw = read_archive_members(archive, members)
    parts = [parse_cifar_batch(raw[m], source=f"{archive}:{m}") for m in members]
    images = np.concatenate([p[0] for p in parts])  # [N, 32, 32, 3]
    labels = np.concatenate([p[1] for p in parts])  # [N]
    return (
        images,
        _check_labels(str(archive), labels, images.shape[0], len(CIFAR10_CLASSES)),
        archive,
    )


CIFAR10_PNG_DIR = "cifar-10-png"
"""Folder (inside ``LEPTONLAB_DATA_DIR``) of the offline CIFAR-10 PNG subset: ``{train,test}/<class>/*.png``."""

CIFAR10_PNG_SUMS_SHA256 = "59d49b9758920879e9e9adeda24a1c0ce74575ef53cf9f113c05a15c6ae9fb4e"
"""sha256 of the subset's ``SHA256SUMS`` (as in the offline folder's MANIFEST.tsv); it pins every PNG."""

CIFAR10_SOURCES = ("auto", "archive", "png")
_PNG_CACHE_VERSION = 1  # bump when the decoded format changes


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Which files a loader read: print it in a notebook so readers know what was measured on.

    Returned by ``load_cifar10(..., return_info=True)``. Introduced in notebook 16.
    """

    dataset: str  # "cifar-10"
    split: str  # "train" or "test"
    kind: str  # "official archive" or "offline PNG subset"
    path: str  # the archive file or the split's folder
    n_images: int
    cached: bool = (
        False  # decoded arrays came from the cache (the files' checksums were verified before)
    )

    @property
    def official(self) -> bool:
        """True for the full official split, False for the offline subset."""
        return self.kind == "official archive"

    def __str__(self) -> str:
        what = (
            "the official archive (full split)"
            if self.official
            else "the offline PNG subset (the full test split, 2,000 training images per class)"
        )
        cached = ", decoded copy from the cache" if self.cached else ""
        return f"{self.dataset} {self.split}: {self.n_images:,} images from {what}: {self.path}{cached}"


def _png_sums(folder: Path, split: str) -> tuple[dict[str, str], str]:
    """``{path relative to the split folder: sha256}`` for ``split`` and a digest of those lines."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(
            f"{sums} is missing: the PNG subset cannot be verified without it. "
            "Restore the folder from the original offline copy."
        )
    raw = sums.read_bytes()
    got = hashlib.sha256(raw).hexdigest()
    if got != CIFAR10_PNG_SUMS_SHA256:
        raise DataError(
            f"{sums} is not the registered list (sha256 {got}, expected "
            f"{CIFAR10_PNG_SUMS_SHA256}): the PNG subset was changed. Restore the original copy."
        )
    table, lines = {}, []
    for number, line in enumerate(raw.decode("ascii").splitlines(), 1):
        parts = line.split()
        if len(parts) != 2:
            raise DataError(
                f"{sums}, line {number}: expected '<relative path> <sha256>', got {line!r}."
            )
        if parts[0].startswith(split + "/"):
            table[parts[0][len(split) + 1 :]] = parts[1]
            lines.append(line)
    if not table:
        raise DataError(f"{sums} lists no files of the {split!r} split.")
    return table, hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _stat_fingerprint(folder: Path, names) -> str:
    """A digest of the files' sizes and modification times: changes when a file is touched."""
    h = hashlib.sha256()
    for name in sorted(names):
        try:
            st = (folder / name).stat()
        except OSError:
            return "missing"
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _load_cifar10_png(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, Path, bool]:
    """``split`` of the PNG subset at ``root``, verified against its pinned SHA256SUMS.

    The decoded arrays are cached in ``<cache dir>/cifar-10-png/<split>-<content digest>.npz``;
    the cache is used only while the files' sizes and modification times are unchanged.
    """
    folder = root / split
    sums, digest = _png_sums(root, split)
    fingerprint = _stat_fingerprint(folder, sums)
    cache = _env.cache_dir() / CIFAR10_PNG_DIR / f"{split}-v{_PNG_CACHE_VERSION}-{digest[:16]}.npz"
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) == fingerprint:
                    return saved["images"], saved["labels"], folder, True
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # a damaged cache entry is rebuilt below
    found = image_folder(
        folder,
        size=(32, 32),
        mode="RGB",
        classes=CIFAR10_CLASSES,
        extensions=(".png",),
        checksums=sums,
    )
    labels = _check_labels(str(folder), found.labels, found.images.shape[0], len(CIFAR10_CLASSES))
    tmp = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            np.savez(out, images=found.images, labels=labels, fingerprint=np.asarray(fingerprint))
        os.replace(tmp, cache)
    except OSError as err:  # a read-only cache only costs time
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        warnings.warn(f"could not cache the decoded CIFAR-10 PNGs in {cache}: {err}", stacklevel=3)
    return found.images, labels, folder, False


def load_cifar10(split: str = "train", *, source: str = "auto", return_info: bool = False):
    """CIFAR-10 from the official python archive (unpickled safely), or offline from the PNG subset.

    With ``source="auto"`` the official ``cifar-10-python.tar.gz`` is used (downloaded once
    into the cache, md5-checked). Offline (``LEPTONLAB_DATA_DIR`` set) when the folder has no
    ``cifar-10/cifar-10-python.tar.gz`` but has ``cifar-10-png/``, that subset is read instead:
    the whole test split but only 2,000 of the 5,000 training images per class. Every PNG is
    checked against the pinned ``SHA256SUMS``; the decoded arrays are cached, so the second
    load takes a fraction of a second. The choice is logged (logger ``leptonlab.data``) and
    returned with ``return_info=True``: report it with the accuracy.

    Args:
        split: ``"train"`` (50,000 images, ``data_batch_1``-``5`` in order; 20,000 in the
            subset, sorted by class) or ``"test"`` (10,000, ``test_batch``; the same images
            in the subset, sorted by class).
        source: ``"auto"``, ``"archive"`` (only the official archive) or ``"png"`` (only the
            offline subset; needs ``LEPTONLAB_DATA_DIR``).
        return_info: also return a :class:`DataSource` saying which data was read.

    Returns:
        ``(images, labels)``, or ``(images, labels, info)`` with ``return_info``:
        ``[N, 32, 32, 3] uint8`` RGB (height, width, channel) and ``[N] int32`` classes 0-9
        (names in :data:`CIFAR10_CLASSES`).

    Raises:
        DataError: when no source is available (the message says what was looked for), or a
            file is corrupt. A corrupt or unsafe archive is an error, never a reason to fall back.

    Introduced in notebook 16.
    """
    split = _choice("split", split, tuple(_CIFAR10_BATCHES))
    source = _choice("source", source, CIFAR10_SOURCES)
    if not isinstance(return_info, bool):
        raise TypeError(f"return_info must be True or False, got {return_info!r}.")
    offline = _env.data_dir()
    png_root = offline / CIFAR10_PNG_DIR if offline is not None else None
    archive_missing = (
        offline is not None and not (offline / "cifar-10" / CIFAR10_ARCHIVE_NAME).is_file()
    )
    use_png = source == "png" or (
        source == "auto" and archive_missing and png_root is not None and png_root.is_dir()
    )
    if use_png:
        if png_root is None or not png_root.is_dir():
            raise DataError(
                f"source='png' reads the offline CIFAR-10 PNG subset from "
                f"<{_env.DATA_DIR_ENV}>/{CIFAR10_PNG_DIR}/, but "
                + (
                    f"{_env.DATA_DIR_ENV} is not set."
                    if png_root is None
                    else f"{png_root} does not exist."
                )
                + " Use source='auto' for the official archive."
            )
        images, labels, path, cached = _load_cifar10_png(png_root, split)
        info = DataSource(
            "cifar-10", split, "offline PNG subset", str(path), int(images.shape[0]), cached
        )
    else:
        try:
            images, labels, path = _load_cifar10_archive(split)
        except DataError as err:
            if source == "auto" and archive_missing:
                raise DataError(
                    f"{err}\nNo fallback either: the offline PNG subset {png_root} does not exist."
                ) from None
            raise
        info = DataSource("cifar-10", split, "official archive", str(path), int(images.shape[0]))
    logging.getLogger("leptonlab.data").info("%s", info)
    return (images, labels, info) if return_info else (images, labels)
