"""Fetching: the offline folder, pooch downloads from a local HTTP server, the cache, status, prefetch.

No test here reaches the internet: downloads come from ``http.server`` on 127.0.0.1.
"""

import hashlib
import http.server
import io
import os
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from leptonlab import data
from leptonlab.data import Archive, DataError, DataFile, Dataset, _fetch, _registry

PAYLOAD = b"tiny dataset file\n" * 50


def entry(name, content, **where):
    """A registry entry of dataset 'tiny' pinned to ``content``."""
    return DataFile("tiny", name, len(content), hashlib.sha256(content).hexdigest(), **where)


def use_registry(monkeypatch, *files):
    """Replace the registry with one dataset 'tiny' holding ``files``."""
    tiny = Dataset("tiny", "Tiny", "http://127.0.0.1/", "public domain", "nobody", tuple(files))
    monkeypatch.setattr(_registry, "DATASETS", {"tiny": tiny})


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over ``root``; ``hits`` lists the paths requested."""
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(root=root, url=f"http://127.0.0.1:{httpd.server_port}/", hits=hits)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """Online mode with the cache in tmp_path; the local server bypasses any proxy."""
    monkeypatch.delenv("LEPTONLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("LEPTONLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return tmp_path / "cache"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Offline mode with an empty data folder; any download attempt fails the test."""
    folder = tmp_path / "offline"
    (folder / "tiny").mkdir(parents=True)
    monkeypatch.setenv("LEPTONLAB_DATA_DIR", str(folder))

    def no_network(*args, **kwargs):
        raise AssertionError("offline mode must never download")

    monkeypatch.setattr("pooch.retrieve", no_network)
    return folder


# ---------------------------------------------------------------------------- offline folder


def test_offline_file_is_verified_and_returned(offline, monkeypatch):
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=("http://unused/a.bin",)))
    (offline / "tiny" / "a.bin").write_bytes(PAYLOAD)
    assert data.fetch("tiny", "a.bin") == offline / "tiny" / "a.bin"


def test_offline_missing_file_says_where_and_what_to_do(offline, monkeypatch):
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=("http://unused/a.bin",)))
    with pytest.raises(DataError) as err:
        data.fetch("tiny", "a.bin")
    message = str(err.value)
    assert "tiny/a.bin" in message and str(offline / "tiny" / "a.bin") in message
    assert "LEPTONLAB_DATA_DIR" in message and "unset" in message and "leptonlab fetch" in message


def test_offline_corrupt_file_names_both_checksums_and_is_left_alone(offline, monkeypatch):
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=("http://unused/a.bin",)))
    bad = PAYLOAD[:-1] + b"X"
    path = offline / "tiny" / "a.bin"
    path.write_bytes(bad)
    with pytest.raises(DataError) as err:
        data.fetch("tiny", "a.bin")
    message = str(err.value)
    assert hashlib.sha256(PAYLOAD).hexdigest() in message
    assert hashlib.sha256(bad).hexdigest() in message
    assert str(path) in message and "replace the file" in message and "never repaired" in message
    assert path.read_bytes() == bad


def test_offline_archive_members_are_read_as_extracted_files(offline, monkeypatch):
    archive = Archive("tiny.zip", ("http://unused/tiny.zip",))
    use_registry(monkeypatch, entry("u.data", PAYLOAD, archive=archive, member="tiny/u.data"))
    (offline / "tiny" / "u.data").write_bytes(PAYLOAD)
    assert data.fetch("tiny", "u.data").read_bytes() == PAYLOAD


def test_bad_names_list_the_valid_ones(offline, monkeypatch):
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=("http://unused/a.bin",)))
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*tiny"):
        data.fetch("mnist", "a.bin")
    with pytest.raises(ValueError, match="no file 'b.bin'.*a.bin"):
        data.fetch("tiny", "b.bin")


# ---------------------------------------------------------------------------- downloads


def test_download_then_cache_then_corrupt_cache_is_replaced(cache, server, monkeypatch):
    (server.root / "a.bin").write_bytes(PAYLOAD)
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=(server.url + "a.bin",)))

    path = data.fetch("tiny", "a.bin")  # first call downloads
    assert path == cache / "tiny" / "a.bin" and path.read_bytes() == PAYLOAD
    assert server.hits == ["/a.bin"]

    assert data.fetch("tiny", "a.bin") == path  # second call uses the cache
    assert server.hits == ["/a.bin"]

    path.write_bytes(PAYLOAD[:-1] + b"X")  # same size, different bytes
    os.utime(path, ns=(1, 1))
    assert data.fetch("tiny", "a.bin").read_bytes() == PAYLOAD  # detected and downloaded again
    assert server.hits == ["/a.bin", "/a.bin"]

    path.write_bytes(b"short")  # truncated
    assert data.fetch("tiny", "a.bin").read_bytes() == PAYLOAD
    assert len(server.hits) == 3


def test_mirrors_are_tried_in_order(cache, server, monkeypatch):
    (server.root / "a.bin").write_bytes(PAYLOAD)
    urls = (server.url + "missing/a.bin", server.url + "a.bin")
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=urls))
    assert data.fetch("tiny", "a.bin").read_bytes() == PAYLOAD
    assert server.hits == ["/missing/a.bin", "/a.bin"]


def test_wrong_bytes_on_every_mirror_is_a_clear_error(cache, server, monkeypatch):
    (server.root / "a.bin").write_bytes(b"something else entirely")
    urls = (server.url + "a.bin", "http://127.0.0.1:9/a.bin")  # port 9: nobody listens
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=urls))
    with pytest.raises(DataError) as err:
        data.fetch("tiny", "a.bin")
    message = str(err.value)
    assert "could not download a.bin" in message
    assert urls[0] in message and urls[1] in message
    assert "LEPTONLAB_DATA_DIR" in message
    assert not (cache / "tiny" / "a.bin").exists()


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def test_archive_members_are_extracted_and_verified(cache, server, monkeypatch):
    archive_data = zip_bytes({"tiny/u.data": PAYLOAD, "tiny/u.info": b"3 users\n"})
    (server.root / "tiny.zip").write_bytes(archive_data)
    archive = Archive(
        "tiny.zip", (server.url + "tiny.zip",), md5=hashlib.md5(archive_data).hexdigest()
    )
    use_registry(
        monkeypatch,
        entry("u.data", PAYLOAD, archive=archive, member="tiny/u.data"),
        entry("u.info", b"3 users\n", archive=archive, member="tiny/u.info"),
    )
    assert data.fetch("tiny", "u.data").read_bytes() == PAYLOAD
    assert data.fetch("tiny", "u.info").read_bytes() == b"3 users\n"
    assert server.hits == ["/tiny.zip"]  # the archive is downloaded once
    (cache / "tiny" / "u.data").write_bytes(b"corrupt")
    assert (
        data.fetch("tiny", "u.data").read_bytes() == PAYLOAD
    )  # re-extracted from the cached archive
    assert server.hits == ["/tiny.zip"]


def test_archive_with_a_wrong_member_is_refused(cache, server, monkeypatch):
    (server.root / "tiny.zip").write_bytes(zip_bytes({"tiny/u.data": b"not the data"}))
    archive = Archive("tiny.zip", (server.url + "tiny.zip",))  # no published checksum
    use_registry(monkeypatch, entry("u.data", PAYLOAD, archive=archive, member="tiny/u.data"))
    with pytest.raises(
        DataError, match="tiny.zip does not hold the expected tiny/u.data.*downloaded twice"
    ):
        data.fetch("tiny", "u.data")
    assert server.hits == ["/tiny.zip", "/tiny.zip"]  # a suspicious archive gets one fresh download
    assert not (cache / "tiny" / "u.data").exists()


def test_repeat_verification_is_memoised(cache, server, monkeypatch):
    (server.root / "a.bin").write_bytes(PAYLOAD)
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=(server.url + "a.bin",)))
    data.fetch("tiny", "a.bin")
    calls = []
    real = hashlib.file_digest
    monkeypatch.setattr(
        _fetch.hashlib, "file_digest", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    for _ in range(3):
        data.fetch("tiny", "a.bin")
    assert len(calls) <= 1


# ---------------------------------------------------------------------------- status and prefetch


def test_status_offline_reports_ok_missing_corrupt(offline, monkeypatch):
    use_registry(
        monkeypatch,
        *(entry(n, PAYLOAD, urls=("http://unused/" + n,)) for n in ("ok", "gone", "bad")),
    )
    (offline / "tiny" / "ok").write_bytes(PAYLOAD)
    (offline / "tiny" / "bad").write_bytes(b"bad")
    rows = data.status()
    assert [(r["file"], r["state"]) for r in rows] == [
        ("ok", "ok"),
        ("gone", "missing"),
        ("bad", "corrupt"),
    ]
    assert {r["source"] for r in rows} == {"offline dir"} and {r["dataset"] for r in rows} == {
        "tiny"
    }
    assert rows[0]["path"] == str(offline / "tiny" / "ok")


def test_status_online_never_downloads_nor_creates_folders(cache, server, monkeypatch):
    (server.root / "a.bin").write_bytes(PAYLOAD)
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=(server.url + "a.bin",)))
    rows = data.status()
    assert rows == [
        {
            "dataset": "tiny",
            "file": "a.bin",
            "state": "missing",
            "path": str(cache / "tiny" / "a.bin"),
            "source": "cache",
        }
    ]
    assert server.hits == [] and not cache.exists()


def test_status_covers_every_registered_file():
    rows = data.status()
    assert len(rows) == sum(len(ds.files) for ds in data.DATASETS.values())
    assert {r["state"] for r in rows} <= {"ok", "missing", "corrupt"}


def test_prefetch_downloads_everything_and_reports_failures(cache, server, monkeypatch):
    (server.root / "a.bin").write_bytes(PAYLOAD)
    use_registry(
        monkeypatch,
        entry("a.bin", PAYLOAD, urls=(server.url + "a.bin",)),
        entry("b.bin", PAYLOAD, urls=(server.url + "nowhere/b.bin",)),
    )
    lines = []
    rows = data.prefetch(progress=lines.append)
    assert [(r["file"], r["state"]) for r in rows] == [("a.bin", "ok"), ("b.bin", "failed")]
    assert rows[0]["message"] == "" and "could not download b.bin" in rows[1]["message"]
    assert lines[0].startswith("✓ tiny/a.bin") and lines[1].startswith("✗ tiny/b.bin")
    assert Path(rows[0]["path"]).read_bytes() == PAYLOAD
    assert data.status()[0]["state"] == "ok"
    assert data.prefetch("tiny", progress=None)[0]["state"] == "ok"


def test_prefetch_bad_input(offline, monkeypatch):
    use_registry(monkeypatch, entry("a.bin", PAYLOAD, urls=("http://unused/a.bin",)))
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*tiny"):
        data.prefetch(["nope"])
    with pytest.raises(TypeError, match="progress must be a function"):
        data.prefetch(progress="loud")
