"""image_folder on tiny generated folders, and load_cifar10's fallback to the offline PNG subset."""

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from leptonlab import data
from leptonlab.data import DataError, _loaders

REAL_DATA = os.environ.get("LEPTONLAB_DATA_DIR")


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def image(value: int, h: int = 4, w: int = 5) -> np.ndarray:
    """[h, w, 3] with red = value, green = row, blue = column: every pixel identifiable."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([np.full((h, w), value), rows, cols], axis=-1).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    """root/{dog,cat}/*.png: 2 cats, 1 dog (4x5 RGB), plus files image_folder must skip."""
    root = tmp_path / "pets"
    for name, values in {"dog": [30], "cat": [10, 20]}.items():
        (root / name).mkdir(parents=True)
        for i, v in enumerate(values):
            (root / name / f"{i:03d}.png").write_bytes(png(image(v)))
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"junk")
    (root / ".git").mkdir()
    return root


def test_image_folder_labels_are_sorted_folder_names(folder):
    found = data.image_folder(folder)
    assert found.classes == ("cat", "dog")
    assert found.images.shape == (3, 4, 5, 3) and found.images.dtype == np.uint8
    assert found.labels.tolist() == [0, 0, 1] and found.labels.dtype == np.int32
    assert found.files == ("cat/000.png", "cat/001.png", "dog/000.png")
    np.testing.assert_array_equal(found.images[2], image(30))
    assert found.images[:, 0, 0, 0].tolist() == [10, 20, 30]


def test_image_folder_classes_order_mode_and_size(folder):
    found = data.image_folder(folder, classes=["dog", "cat"], mode="L", size=(4, 5))
    assert found.classes == ("dog", "cat") and found.labels.tolist() == [0, 1, 1]
    assert found.images.shape == (3, 4, 5, 1)


def test_image_folder_names_a_corrupt_png(folder):
    (folder / "dog" / "broken.png").write_bytes(png(image(1))[:40])  # truncated
    with pytest.raises(DataError, match=r"dog/broken\.png cannot be decoded as an image"):
        data.image_folder(folder)
    (folder / "dog" / "broken.png").write_bytes(b"this is not a png at all")
    with pytest.raises(DataError, match=r"broken\.png cannot be decoded"):
        data.image_folder(folder)


def test_image_folder_names_a_wrong_size_image(folder):
    (folder / "dog" / "big.png").write_bytes(png(image(5, h=8, w=8)))
    with pytest.raises(
        DataError, match=r"dog/big\.png is 8x8 \(height x width\), but the images must be 4x5"
    ):
        data.image_folder(folder)
    with pytest.raises(DataError, match=r"cat/000\.png is 4x5 .*must be 8x8"):
        data.image_folder(folder, size=(8, 8))
    resized = data.image_folder(folder, size=(4, 5), resize=True)
    assert resized.images.shape == (4, 4, 5, 3)
    assert resized.files[2] == "dog/000.png" and resized.files[3] == "dog/big.png"
    assert np.all(resized.images[3, ..., 0] == 5)  # a constant channel stays constant


def test_image_folder_checksums(folder):
    sums = {
        f"{c}/{f.name}": hashlib.sha256(f.read_bytes()).hexdigest()
        for c in ("cat", "dog")
        for f in (folder / c).glob("[0-9]*.png")
    }
    assert data.image_folder(folder, checksums=sums).images.shape[0] == 3
    with pytest.raises(DataError, match=r"cat/001\.png is corrupt or changed"):
        data.image_folder(folder, checksums=sums | {"cat/001.png": "0" * 64})
    with pytest.raises(DataError, match=r"1 listed file\(s\) are missing"):
        data.image_folder(folder, checksums=sums | {"dog/999.png": "0" * 64})
    with pytest.raises(DataError, match=r"dog/000\.png is not listed"):
        data.image_folder(folder, checksums={k: v for k, v in sums.items() if k != "dog/000.png"})


def test_image_folder_missing_and_empty_folders(tmp_path, folder):
    with pytest.raises(DataError, match="is not a folder"):
        data.image_folder(tmp_path / "nowhere")
    with pytest.raises(DataError, match="holds no class folders"):
        data.image_folder(folder / "dog")
    (folder / "bird").mkdir()
    with pytest.raises(DataError, match="bird holds no image files"):
        data.image_folder(folder)
    with pytest.raises(DataError, match=r"no folder for class\(es\) \['fish'\]"):
        data.image_folder(folder, classes=["cat", "fish"])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"size": 32}, ValueError, "size must be \\(height, width\\)"),
        ({"size": (0, 4)}, ValueError, "two positive ints"),
        ({"mode": "RGBA"}, ValueError, "mode='RGBA' is not supported"),
        ({"resize": True}, ValueError, "resize=True needs a target size"),
        ({"classes": "cat"}, TypeError, "classes must be a sequence"),
        ({"classes": ["cat", "cat"]}, ValueError, "without repeats"),
        ({"extensions": ".png"}, TypeError, "not one string"),
        ({"checksums": ["a"]}, TypeError, "checksums must map"),
    ],
)
def test_image_folder_bad_arguments(folder, kwargs, error, message):
    with pytest.raises(error, match=message):
        data.image_folder(folder, **kwargs)


def test_image_folder_bad_path_type():
    with pytest.raises(TypeError, match="path must be a folder path"):
        data.image_folder(3)


# ---------------------------------------------------------------------------- CIFAR-10 PNG fallback


def make_png_subset(root, monkeypatch):
    """<root>/cifar-10-png/{train,test}/<class>/*.png for the 10 classes + a pinned SHA256SUMS."""
    lines = []
    for split, per_class in (("train", 2), ("test", 1)):
        for label, name in enumerate(data.CIFAR10_CLASSES):
            (root / "cifar-10-png" / split / name).mkdir(parents=True)
            for i in range(per_class):
                content = png(image(label * 10 + i, 32, 32))
                rel = f"{split}/{name}/img_{i}.png"
                (root / "cifar-10-png" / rel).write_bytes(content)
                lines.append(f"{rel} {hashlib.sha256(content).hexdigest()}")
    sums = "\n".join(sorted(lines)).encode() + b"\n"
    (root / "cifar-10-png" / "SHA256SUMS").write_bytes(sums)
    monkeypatch.setattr(_loaders, "CIFAR10_PNG_SUMS_SHA256", hashlib.sha256(sums).hexdigest())
    return root / "cifar-10-png"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    root = tmp_path / "offline"
    root.mkdir()
    monkeypatch.setenv("LEPTONLAB_DATA_DIR", str(root))
    monkeypatch.setenv("LEPTONLAB_CACHE_DIR", str(tmp_path / "cache"))
    return root


def test_cifar10_falls_back_to_the_png_subset_and_caches(offline, monkeypatch):
    subset = make_png_subset(offline, monkeypatch)
    images, labels, info = data.load_cifar10("train", return_info=True)
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [c for c in range(10) for _ in range(2)] and labels.dtype == np.int32
    assert images[:, 0, 0, 0].tolist() == [10 * c + i for c in range(10) for i in range(2)]
    assert info.kind == "offline PNG subset" and not info.official and not info.cached
    assert info.n_images == 20 and "offline PNG subset" in str(info)
    again, labels2, info2 = data.load_cifar10("train", return_info=True)
    assert info2.cached
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(labels2, labels)
    images, labels = data.load_cifar10("test")
    assert images.shape == (10, 32, 32, 3) and labels.tolist() == list(range(10))
    # A file changed after caching: the cache is not trusted, the checksum catches it.
    target = subset / "train" / "cat" / "img_1.png"
    target.write_bytes(png(image(99, 32, 32)))
    os.utime(target, ns=(1, 1))
    with pytest.raises(DataError, match=r"cat/img_1\.png is corrupt or changed"):
        data.load_cifar10("train")


def test_cifar10_png_subset_refuses_a_changed_sums_file(offline, monkeypatch):
    subset = make_png_subset(offline, monkeypatch)
    (subset / "SHA256SUMS").write_bytes(b"train/cat/x.png " + b"0" * 64 + b"\n")
    with pytest.raises(DataError, match="SHA256SUMS is not the registered list"):
        data.load_cifar10("train", source="png")


def test_cifar10_png_subset_names_a_wrong_size_image(offline, monkeypatch):
    subset = make_png_subset(offline, monkeypatch)
    bad = png(image(0, 16, 16))
    (subset / "test" / "dog" / "img_0.png").write_bytes(bad)
    lines = [
        (
            f"test/dog/img_0.png {hashlib.sha256(bad).hexdigest()}"
            if line.startswith("test/dog/img_0.png")
            else line
        )
        for line in (subset / "SHA256SUMS").read_text().splitlines()
    ]
    sums = ("\n".join(lines) + "\n").encode()
    (subset / "SHA256SUMS").write_bytes(sums)
    monkeypatch.setattr(_loaders, "CIFAR10_PNG_SUMS_SHA256", hashlib.sha256(sums).hexdigest())
    with pytest.raises(DataError, match=r"dog/img_0\.png is 16x16 .* must be 32x32"):
        data.load_cifar10("test")


def test_cifar10_a_corrupt_archive_is_an_error_not_a_fallback(offline, monkeypatch):
    make_png_subset(offline, monkeypatch)
    (offline / "cifar-10").mkdir()
    (offline / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(DataError, match="corrupt or not the official file"):
        data.load_cifar10("test")
    images, _, info = data.load_cifar10(
        "test", source="png", return_info=True
    )  # explicit choice works
    assert info.kind == "offline PNG subset" and images.shape[0] == 10


def test_cifar10_restricted_unpickler_refuses_code(tmp_path):
    """A batch whose pickle would run os.system is refused before anything runs."""

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    with pytest.raises(DataError, match="refusing"):
        data.parse_cifar_batch(pickle.dumps({b"data": Evil(), b"labels": [0]}), source="evil_batch")
    assert not (tmp_path / "pwned").exists()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        content = pickle.dumps({b"data": Evil(), b"labels": [0]})
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    members = data.read_archive_members  # the loader's path: archive member -> parse_cifar_batch
    path = tmp_path / "c.tar.gz"
    path.write_bytes(buffer.getvalue())
    raw = members(path, ["cifar-10-batches-py/test_batch"])
    with pytest.raises(DataError, match="refusing"):
        data.parse_cifar_batch(raw["cifar-10-batches-py/test_batch"])
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"source": "web"},
            ValueError,
            "source='web' is not valid; choose one of: 'auto', 'archive', 'png'",
        ),
        ({"return_info": "yes"}, TypeError, "return_info must be True or False"),
    ],
)
def test_cifar10_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        data.load_cifar10("test", **kwargs)


def test_cifar10_png_needs_the_offline_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("LEPTONLAB_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="LEPTONLAB_DATA_DIR is not set"):
        data.load_cifar10("test", source="png")
    monkeypatch.setenv("LEPTONLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="cifar-10-png does not exist"):
        data.load_cifar10("test", source="png")


@pytest.mark.skipif(not REAL_DATA, reason="set LEPTONLAB_DATA_DIR to the offline data folder")
def test_real_cifar10_png_subset_test_split():
    if not os.path.isdir(os.path.join(REAL_DATA, "cifar-10-png")):
        pytest.skip("the offline folder has no cifar-10-png/")
    images, labels, info = data.load_cifar10("test", source="png", return_info=True)
    assert images.shape == (10000, 32, 32, 3) and np.bincount(labels).tolist() == [1000] * 10
    assert info.n_images == 10000


# ---------------------------------------------------------------------------- 16-bit, alpha, huge headers


def encoded(img: Image.Image, format: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=format, **params)
    return buffer.getvalue()


def test_image_folder_scales_16_bit_grey_instead_of_clipping(tmp_path):
    """A 16-bit gradient maps to round(v * 255 / 65535), not min(v, 255) (which made 99.6% of it 255)."""
    values = np.arange(0, 65536, 64, dtype=np.uint16).reshape(
        32, 32
    )  # 0 .. 65472, every step of 64
    values[-1, -1] = 65535
    (tmp_path / "grey").mkdir()
    (tmp_path / "grey" / "ramp.png").write_bytes(encoded(Image.fromarray(values)))
    assert Image.open(tmp_path / "grey" / "ramp.png").mode.startswith(
        "I;16"
    )  # really a 16-bit file
    expected = np.round(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    found = data.image_folder(tmp_path, mode="L")
    np.testing.assert_array_equal(found.images[0, ..., 0], expected)
    assert found.images.min() == 0 and found.images.max() == 255
    assert np.mean(found.images == 255) < 0.01
    # The 8-bit values written as 16-bit (k * 257) come back exactly; RGB repeats the grey level.
    exact = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16)
    (tmp_path / "grey" / "ramp.png").write_bytes(encoded(Image.fromarray(exact)))
    rgb = data.image_folder(tmp_path)
    assert rgb.images.shape == (1, 16, 16, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb.images[0, ..., c], np.arange(256).reshape(16, 16))


def test_image_folder_refuses_float_and_32_bit_pixels(tmp_path):
    (tmp_path / "x").mkdir()
    floats = Image.fromarray(np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4))  # mode "F"
    (tmp_path / "x" / "f.tif").write_bytes(encoded(floats, "TIFF"))
    with pytest.raises(DataError, match=r"x/f\.tif holds 32-bit floating-point pixels"):
        data.image_folder(tmp_path)
    wide = Image.fromarray(
        np.array([[0, 70000], [1, 2]], dtype=np.int32)
    )  # mode "I", beyond 16 bits
    (tmp_path / "x" / "f.tif").write_bytes(encoded(wide, "TIFF"))
    with pytest.raises(DataError, match=r"f\.tif holds 32-bit integer pixels from 0 to 70000"):
        data.image_folder(tmp_path)
    narrow = Image.fromarray(
        np.array([[0, 65535], [257, 514]], dtype=np.int32)
    )  # mode "I" within 16 bits
    (tmp_path / "x" / "f.tif").write_bytes(encoded(narrow, "TIFF"))
    assert data.image_folder(tmp_path, mode="L").images[0, ..., 0].tolist() == [[0, 255], [1, 2]]


def test_image_folder_composites_transparent_images_onto_black(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = [200, 100, 50]
    rgba[..., 3] = [[255, 0, 128], [255, 255, 255]]  # opaque, fully transparent, half
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(encoded(Image.fromarray(rgba)))  # mode "RGBA"
    (tmp_path / "a" / "1.png").write_bytes(
        encoded(Image.fromarray(rgba[..., :3]))
    )  # same colours, no alpha
    with pytest.warns(
        UserWarning,
        match=r"1 image\(s\) .* have transparent pixels \(e\.g\. a/0\.png\): "
        r"they were composited onto black",
    ):
        found = data.image_folder(tmp_path)
    expected = (rgba[..., :3].astype(np.uint32) * rgba[..., 3:] + 127) // 255
    np.testing.assert_array_equal(found.images[0], expected)
    assert found.images[0, 0, 1].tolist() == [0, 0, 0] and found.images[0, 0, 2].tolist() == [
        100,
        50,
        25,
    ]
    np.testing.assert_array_equal(found.images[1], rgba[..., :3])  # no alpha: unchanged
    with pytest.warns(UserWarning, match="composited onto black"):
        grey = data.image_folder(tmp_path, mode="L")
    assert grey.images[0, 0, 1, 0] == 0  # transparent is black in grey too
    # Grey + alpha, and a palette GIF with a transparent colour: the same rule.
    la = Image.fromarray(np.array([[[90, 255], [90, 0]]], np.uint8), mode="LA")
    (tmp_path / "a" / "0.png").write_bytes(encoded(la))
    (tmp_path / "a" / "1.png").unlink()
    with pytest.warns(UserWarning, match="transparent"):
        assert data.image_folder(tmp_path, mode="L").images[0, ..., 0].tolist() == [[90, 0]]
    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((1, 0), 1)
    (tmp_path / "a" / "0.png").unlink()
    (tmp_path / "a" / "p.gif").write_bytes(encoded(palette, "GIF", transparency=1))
    with pytest.warns(UserWarning, match=r"a/p\.gif"):
        assert data.image_folder(tmp_path).images[0].tolist() == [[[255, 0, 0], [0, 0, 0]]]


def test_image_folder_an_opaque_rgba_image_is_read_without_warning(tmp_path, recwarn):
    rgba = np.concatenate([image(7), np.full((4, 5, 1), 255, np.uint8)], axis=-1)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(encoded(Image.fromarray(rgba)))
    np.testing.assert_array_equal(data.image_folder(tmp_path).images[0], image(7))
    assert not [w for w in recwarn if "transparent" in str(w.message)]


def claims_size(content: bytes, width: int, height: int) -> bytes:
    """The PNG ``content`` with its IHDR patched to claim width x height (CRC fixed; the pixels stay small)."""
    import struct
    import zlib

    assert content[12:16] == b"IHDR"
    ihdr = bytearray(content[12:29])  # type + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    return content[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + content[33:]


@pytest.fixture
def no_decoding_of_huge_images(monkeypatch):
    """Any attempt to decode an image of over a million pixels fails the test."""
    from PIL import ImageFile

    real_load = ImageFile.ImageFile.load

    def load(self):
        assert self.size[0] * self.size[1] <= 1_000_000, (
            f"decoded a {self.size} image before refusing it"
        )
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_image_folder_refuses_a_huge_image_from_its_header(folder, no_decoding_of_huge_images):
    huge = claims_size(png(image(1)), 9000, 9000)
    assert Image.open(io.BytesIO(huge)).size == (9000, 9000)
    (folder / "dog" / "huge.png").write_bytes(huge)
    with pytest.raises(
        DataError,
        match=r"dog/huge\.png is 9000x9000 \(height x width\), but the images must be 4x5",
    ):
        data.image_folder(folder)
    with pytest.raises(DataError, match=r"dog/huge\.png is 9000x9000"):
        data.image_folder(folder, size=(4, 5), classes=["dog"])
    # A real 9000x9000 1-bit PNG (a few KB on disk) is refused the same way, undecoded.
    real = encoded(Image.new("1", (9000, 9000)))
    assert len(real) < 100_000
    (folder / "dog" / "huge.png").write_bytes(real)
    with pytest.raises(DataError, match=r"dog/huge\.png is 9000x9000"):
        data.image_folder(folder)


@pytest.mark.parametrize(
    "side", [10_000, 20_000]
)  # Pillow's warning (> 89M pixels) and its error (> 179M)
def test_image_folder_decompression_bomb_is_an_error_naming_the_file(
    tmp_path, no_decoding_of_huge_images, side
):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "bomb.png").write_bytes(claims_size(png(image(1)), side, side))
    with pytest.raises(
        DataError, match=r"x/bomb\.png is too large to decode safely .*MAX_IMAGE_PIXELS"
    ):
        data.image_folder(tmp_path, size=(side, side), resize=True)
    with pytest.raises(DataError, match=r"x/bomb\.png is too large to decode safely"):
        data.image_folder(tmp_path)
