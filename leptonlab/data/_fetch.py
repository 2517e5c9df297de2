"""Getting a registered file onto the disk, verified: the offline folder or the download cache.

* Offline mode (``LEPTONLAB_DATA_DIR`` set): files are read from
  ``<data dir>/<dataset>/<file>``, verified, and never downloaded or repaired.
* Online mode: files are downloaded with pooch into
  ``<cache dir>/<dataset>/<file>``, trying each mirror in order. A cached file
  that fails its checksum is deleted and downloaded again, never used. Files
  that come in an archive are extracted next to it and checked one by one.

Checksums of unchanged files are remembered for the life of the process, so
loading MNIST twice hashes its 10 MB once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from leptonlab import _env
from leptonlab.data import _registry
from leptonlab.data._errors import DataError
from leptonlab.data._formats import read_archive_members
from leptonlab.data._registry import Archive, DataFile

DOWNLOAD_TIMEOUT_S = 60.0  # seconds without data from a server before a mirror counts as failed

OFFLINE_SOURCE = "offline dir"
CACHE_SOURCE = "cache"

# (resolved path, algorithm, size, mtime_ns, ctime_ns, inode) -> hex digest. Any change to
# the file changes the key, so a stale entry is never consulted; it only saves re-hashing.
_DIGESTS: dict[tuple[str, str, int, int, int, int], str] = {}


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path``, remembered while the file is unchanged.

    The memo is keyed by the file's path, size, modification and change times and
    inode, so an edited or replaced file is hashed afresh.
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), algorithm, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if key not in _DIGESTS:
        with path.open("rb") as handle:
            _DIGESTS[key] = hashlib.file_digest(handle, algorithm).hexdigest()
    return _DIGESTS[key]


def _mismatch(entry: DataFile, size: int, got: str) -> str | None:
    """None when ``size`` and digest ``got`` are the registered ones, else what differs."""
    algorithm, want = entry.digest
    if size == entry.size and got == want:
        return None
    return (
        f"expected {entry.size} bytes with {algorithm} {want}, "
        f"found {size} bytes with {algorithm} {got}"
    )


def _file_problem(path: Path, entry: DataFile) -> str | None:
    """None when the file at ``path`` is the registered one, else what differs."""
    size = path.stat().st_size
    return _mismatch(entry, size, file_digest(path, entry.digest[0]))


def _check_offline(entry: DataFile, folder: Path) -> Path:
    path = folder / entry.dataset / entry.name
    if not path.is_file():
        raise DataError(
            f"{entry.dataset}/{entry.name} is not in the offline data folder: looked for {path} "
            f"because {_env.DATA_DIR_ENV}={folder} is set. Either copy the file there (on a machine "
            f"with internet, `leptonlab fetch {entry.dataset}` downloads it to "
            f"<cache>/{entry.dataset}/{entry.name}), or unset {_env.DATA_DIR_ENV} to download it "
            "into the cache."
        )
    problem = _file_problem(path, entry)
    if problem:
        raise DataError(
            f"{path} is corrupt or not the official file: {problem}. The offline folder is used as "
            "it is and never repaired here (it may be read-only): replace the file with a good copy "
            f"(ask whoever maintains {folder}), or unset {_env.DATA_DIR_ENV} to download a fresh "
            "copy into the cache."
        )
    return path


def _progressbar() -> bool:
    try:
        import tqdm  # noqa: F401  (pooch draws its progress bar with tqdm)
    except ImportError:
        return False
    return True


def _download(urls: Iterable[str], known_hash: str | None, folder: Path, fname: str) -> Path:
    """Download ``fname`` into ``folder`` from the first mirror that works; pooch checks the hash."""
    import pooch  # imported here: importing leptonlab.data stays light and offline-safe

    failures = []
    for url in urls:
        try:
            downloader = pooch.HTTPDownloader(
                progressbar=_progressbar(), timeout=DOWNLOAD_TIMEOUT_S
            )
            return Path(
                pooch.retrieve(
                    url, known_hash=known_hash, fname=fname, path=folder, downloader=downloader
                )
            )
        except (
            Exception
        ) as err:  # unreachable host, HTTP error, wrong checksum: try the next mirror
            reason = " ".join(str(err).split())[:300]
            failures.append(f"  {url}\n    {type(err).__name__}: {reason}")
    tried = "\n".join(failures)
    raise DataError(
        f"could not download {fname}; every mirror failed:\n{tried}\n"
        "Check the internet connection (and proxy settings), then try again. On a machine "
        f"without internet, set {_env.DATA_DIR_ENV} to a folder holding <dataset>/<file> copies "
        "(made with `leptonlab fetch` on a connected machine)."
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, so no half-written file is ever seen."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _extract(entry: DataFile, archive: Archive, folder: Path) -> None:
    """Extract ``entry`` from its (downloaded) archive into ``folder``, checking its sha256."""
    problem = ""
    for _attempt in range(2):  # a stale or damaged cached archive gets one fresh download
        archive_path = _download(archive.urls, archive.known_hash, folder, archive.name)
        try:
            data = read_archive_members(archive_path, [entry.member])[entry.member]  # type: ignore[list-item]
        except DataError as err:
            problem = str(err)
        else:
            algorithm, _ = entry.digest
            problem = _mismatch(entry, len(data), hashlib.new(algorithm, data).hexdigest()) or ""
            if not problem:
                _write_atomically(folder / entry.name, data)
                return
        archive_path.unlink(missing_ok=True)
    raise DataError(
        f"{archive.name} does not hold the expected {entry.member}: {problem}. It was downloaded "
        f"twice from {', '.join(archive.urls)} with the same result: the server may serve a changed "
        f"archive. Please report this; meanwhile set {_env.DATA_DIR_ENV} to a folder with verified copies."
    )


def _fetch_into_cache(entry: DataFile, cache: Path) -> Path:
    folder = cache / entry.dataset
    path = folder / entry.name
    if path.is_file():
        if _file_problem(path, entry) is None:
            return path
        path.unlink()  # corrupt or outdated: never used, replaced below
    if entry.archive is not None:
        _extract(entry, entry.archive, folder)
    else:
        _download(entry.urls, entry.known_hash, folder, entry.name)
    problem = _file_problem(path, entry)  # pooch checked the hash; this also checks the size
    if problem:
        path.unlink(missing_ok=True)
        raise DataError(
            f"the download of {entry.dataset}/{entry.name} is not the official file: "
            f"{problem}. Try again; if it persists, report it."
        )
    return path


def fetch(dataset: str, filename: str) -> Path:
    """The local path of a registered file, verified by size and checksum.

    With ``LEPTONLAB_DATA_DIR`` set, the file is read from
    ``<data dir>/<dataset>/<filename>`` and the network is never used. Otherwise
    it is downloaded (once) into ``<cache dir>/<dataset>/<filename>``.

    Example: ``fetch("mnist", "train-labels-idx1-ubyte.gz")``.

    Raises:
        ValueError: for a dataset or file name that is not registered (the
            message lists the valid ones).
        DataError: when the file is missing from the offline folder, fails its
            checksum there, or cannot be downloaded from any mirror.

    Introduced in notebook 06.
    """
    entry = _registry.get_file(dataset, filename)
    offline = _env.data_dir()
    if offline is not None:
        return _check_offline(entry, offline)
    return _fetch_into_cache(entry, _env.cache_dir())


def _location() -> tuple[Path, str]:
    offline = _env.data_dir()
    return (offline, OFFLINE_SOURCE) if offline is not None else (_env.cache_dir(), CACHE_SOURCE)


def status() -> list[dict[str, str]]:
    """One row per registered file saying whether it is ready, without downloading anything.

    Each row is ``{"dataset", "file", "state", "path", "source"}`` with ``state``
    one of ``"ok"``, ``"missing"``, ``"corrupt"`` and ``source`` ``"offline dir"``
    (``LEPTONLAB_DATA_DIR`` set) or ``"cache"``. Present files are hashed (once
    per process while unchanged). Used by ``leptonlab doctor``; introduced in notebook 00.
    """
    root, source = _location()
    rows = []
    for ds in _registry.DATASETS.values():
        for entry in ds.files:
            path = root / ds.name / entry.name
            if not path.is_file():
                state = "missing"
            else:
                state = "ok" if _file_problem(path, entry) is None else "corrupt"
            rows.append(
                {
                    "dataset": ds.name,
                    "file": entry.name,
                    "state": state,
                    "path": str(path),
                    "source": source,
                }
            )
    return rows


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def _dataset_names(datasets: str | Iterable[str] | None) -> list[str]:
    if datasets is None:
        return list(_registry.DATASETS)
    names = [datasets] if isinstance(datasets, str) else list(datasets)
    for name in names:
        _registry.get_dataset(name)  # ValueError listing the valid names
    return names


def prefetch(
    datasets: str | Iterable[str] | None = None, *, progress: Callable[[str], object] | None = print
) -> list[dict[str, str]]:
    """Download (or, offline, verify) every file of ``datasets`` (default: all registered).

    A failing file does not stop the others. ``progress`` receives one line per
    file (``print`` by default; None for silence).

    Returns:
        One row per file: ``{"dataset", "file", "state", "path", "source",
        "message"}`` with ``state`` ``"ok"`` or ``"failed"``; ``message`` is the
        error for a failed file, else "". Used by ``leptonlab fetch``;
        introduced in notebook 06.

    Raises:
        ValueError: for an unknown dataset name.
        TypeError: if ``progress`` is neither callable nor None.
    """
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress must be a function taking one line (e.g. print) or None, "
            f"got {type(progress).__name__}."
        )
    names = _dataset_names(datasets)
    root, source = _location()
    rows = []
    for name in names:
        for entry in _registry.DATASETS[name].files:
            path, state, message = root / name / entry.name, "ok", ""
            try:
                path = fetch(name, entry.name)
            except DataError as err:
                state, message = "failed", str(err)
            rows.append(
                {
                    "dataset": name,
                    "file": entry.name,
                    "state": state,
                    "path": str(path),
                    "source": source,
                    "message": message,
                }
            )
            if progress is not None:
                line = (
                    f"✓ {name}/{entry.name} ({_size_text(entry.size)}, {source})"
                    if state == "ok"
                    else f"✗ {name}/{entry.name}: {message}"
                )
                progress(line)
    return rows
