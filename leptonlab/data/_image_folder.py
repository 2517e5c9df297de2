"""Image classification data stored as folders of image files, one sub-folder per class.

``root/<class name>/<any name>.png``: the layout of many real image datasets (the one the
classifier in source 002 means to read, though its glob never finds such files: notebook 16,
ERRATA.md). :func:`image_folder` decodes it with Pillow into one
uint8 array, checking every file, so that a corrupt or wrongly-sized image is reported by
name instead of surfacing later as a shape error in the model. Introduced in notebook 16.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from leptonlab.data._errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
"""File endings :func:`image_folder` reads by default (compared in lower case)."""

_MODES = {"RGB": 3, "L": 1}  # Pillow mode -> channels


class ImageFolder(NamedTuple):
    """The images of a class-per-folder dataset, their labels and where they came from."""

    images: np.ndarray  # [N, H, W, C] uint8 (C = 3 for mode "RGB", 1 for "L")
    labels: np.ndarray  # [N] int32, index into classes
    classes: tuple[str, ...]  # class names = folder names; label i is classes[i]
    files: tuple[str, ...]  # [N] paths relative to the root ("cat/0001.png"), same order as images


def _check_size(size: object) -> tuple[int, int] | None:
    if size is None:
        return None
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise ValueError(f"size must be (height, width) with two positive ints, got {size!r}.")
    return int(size[0]), int(size[1])


def _class_folders(root: Path, classes: Sequence[str] | None) -> tuple[str, ...]:
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is None:
        if not found:
            raise DataError(
                f"{root} holds no class folders: expected <root>/<class name>/<image files>."
            )
        return tuple(found)
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise TypeError(f"classes must be a sequence of folder names (str), got {classes!r}.")
    classes = tuple(classes)
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be non-empty and without repeats, got {classes!r}.")
    missing = [c for c in classes if c not in found]
    if missing:
        raise DataError(
            f"{root}: no folder for class(es) {missing}; the folders there are {found}."
        )
    return classes


def _wrong_size(name: str, height: int, width: int, size: tuple[int, int]) -> DataError:
    return DataError(
        f"{name} is {height}x{width} (height x width), but the images must be {size[0]}x{size[1]}: "
        "replace the file, or pass resize=True (with size=...) to resize mismatched images."
    )


def _to_mode(img, name: str, mode: str) -> tuple[np.ndarray, bool]:
    """The decoded ``img`` as ``[H, W]`` (``"L"``) or ``[H, W, 3]`` (``"RGB"``) uint8, and whether it had
    transparent pixels.

    16-bit grey (Pillow modes ``"I;16*"``, and ``"I"`` holding 0..65535) is scaled to 0..255 by
    ``round(v * 255 / 65535)`` (so ``257 * k`` becomes ``k``) instead of being clipped at 255.
    Images with an alpha channel (or a transparent colour) are composited onto black:
    ``round(colour * alpha / 255)``, so a fully transparent pixel reads 0 whatever colour it stores.
    """
    from PIL import Image

    if img.mode.startswith("I;16") or img.mode == "I":
        raw = np.asarray(img).astype(np.int64)  # [H, W]
        low, high = (int(raw.min()), int(raw.max())) if raw.size else (0, 0)
        if low < 0 or high > 65535:
            raise DataError(
                f"{name} holds 32-bit integer pixels from {low} to {high}; image_folder reads 8-bit "
                "and 16-bit (0..65535) images: convert the file to an 8-bit or 16-bit PNG."
            )
        img = Image.fromarray(((raw * 255 + 32767) // 65535).astype(np.uint8))  # mode "L"
    elif img.mode == "F":
        raise DataError(
            f"{name} holds 32-bit floating-point pixels, whose range image_folder cannot know: "
            "convert the file to an 8-bit (or 16-bit) image first, scaling its values as you intend."
        )
    transparent = False
    if any(band in ("A", "a") for band in img.getbands()) or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA")).astype(np.uint32)  # [H, W, 4]
        alpha = rgba[..., 3:]
        transparent = bool(np.any(alpha < 255))
        img = Image.fromarray(((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8))  # mode "RGB"
    return np.asarray(img.convert(mode), dtype=np.uint8), transparent


def _decode(
    data: bytes, name: str, mode: str, size: tuple[int, int] | None, resize: bool
) -> tuple[np.ndarray, bool]:
    """``data`` (the bytes of an image file) as ``[H, W, C]`` uint8 in ``mode``, and whether it was transparent.

    The size in the file's header is checked against ``size`` (unless ``resize``) before any pixel is
    decoded, so a huge image costs nothing to refuse; Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``) is an error naming the file, not a warning.
    """
    from PIL import Image  # imported here: importing leptonlab.data stays light

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(
            f"{name} is too large to decode safely ({err}): it is a corrupt or malicious file, or a "
            "huge photo. Replace it with a smaller image (or, if you trust it, raise "
            "PIL.Image.MAX_IMAGE_PIXELS)."
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"{name} cannot be decoded as an image ({type(err).__name__}: {err}). "
            "The file is corrupt or not an image: replace or delete it."
        ) from None
    with img:
        width, height = img.size
        if size is not None and not resize and (height, width) != size:
            raise _wrong_size(name, height, width, size)
        try:
            img.load()
            pixels, transparent = _to_mode(img, name, mode)
        except (OSError, SyntaxError, ValueError) as err:
            raise DataError(
                f"{name} cannot be decoded as an image ({type(err).__name__}: {err}). "
                "The file is corrupt or not an image: replace or delete it."
            ) from None
    return pixels.reshape(pixels.shape[0], pixels.shape[1], _MODES[mode]), transparent


def _resize(pixels: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode=mode)
    out = np.asarray(img.resize((size[1], size[0]), Image.Resampling.BILINEAR), dtype=np.uint8)
    return out.reshape(size[0], size[1], _MODES[mode])


def image_folder(
    path: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
    resize: bool = False,
    mode: str = "RGB",
    classes: Sequence[str] | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    checksums: Mapping[str, str] | None = None,
) -> ImageFolder:
    """Read ``path/<class>/<image>`` files into ``[N, H, W, C]`` uint8 images and ``[N]`` labels.

    The label of an image is the name of its folder; classes are the sorted folder names
    (or ``classes``, in the order given), so ``labels == i`` means ``classes[i]``. Files are
    read in sorted order within each class, so the result is the same on every machine.
    Hidden files and files whose ending is not in ``extensions`` are skipped.

    Args:
        path: the root folder, holding one sub-folder per class.
        size: ``(height, width)`` every image must have. None: the size of the first image.
            Each file's size is read from its header and checked before its pixels are decoded.
        resize: resize (bilinear) images of another size to ``size`` instead of refusing
            them; needs ``size``. Use it for photos of mixed sizes, not to hide broken files.
        mode: ``"RGB"`` (``C = 3``) or ``"L"`` (grey, ``C = 1``); images are converted to it.
            16-bit grey images are scaled to 8 bits, ``round(v * 255 / 65535)``. Images with an
            alpha channel (or a transparent colour) are composited onto black,
            ``round(colour * alpha / 255)``, with one warning per call naming the first such file.
        classes: read only these class folders, labelled in this order.
        extensions: file endings that count as images.
        checksums: ``{path relative to root: sha256 hex}``; when given, every file must be
            listed with the right digest, and every listed file must exist.

    Returns:
        :class:`ImageFolder` ``(images [N, H, W, C] uint8, labels [N] int32, classes, files)``.

    Raises:
        DataError: naming the file, for one that cannot be decoded, has the wrong size or
            checksum, holds floating-point or over-16-bit pixels, or exceeds Pillow's
            decompression-bomb limit; also for a missing or empty folder.
        ValueError, TypeError: for bad arguments.

    Introduced in notebook 16.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path (str or Path), got {type(path).__name__}.")
    root = Path(path)
    if not root.is_dir():
        raise DataError(
            f"{root} is not a folder: image_folder expects <root>/<class name>/<image files>."
        )
    size = _check_size(size)
    if mode not in _MODES:
        raise ValueError(
            f"mode={mode!r} is not supported; choose 'RGB' (3 channels) or 'L' (grey, 1 channel)."
        )
    if resize and size is None:
        raise ValueError("resize=True needs a target size=(height, width).")
    if isinstance(extensions, str):
        raise TypeError(
            "extensions must be a sequence of endings such as ('.png',), not one string."
        )
    endings = tuple(e.lower() for e in extensions)
    if checksums is not None and not isinstance(checksums, Mapping):
        raise TypeError(
            f"checksums must map relative paths to sha256 hex digests, got {type(checksums).__name__}."
        )

    names = _class_folders(root, classes)
    images, labels, files = [], [], []
    see_through = []  # files with transparent pixels
    for label, name in enumerate(names):
        entries = sorted(
            p
            for p in (root / name).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in endings
        )
        if not entries:
            raise DataError(f"{root / name} holds no image files (endings {', '.join(endings)}).")
        for file in entries:
            rel = f"{name}/{file.name}"
            data = file.read_bytes()
            if checksums is not None:
                want = checksums.get(rel)
                if want is None:
                    raise DataError(
                        f"{file} is not listed in the checksums; it does not belong to the "
                        "dataset: remove it, or use the folder's original copy."
                    )
                got = hashlib.sha256(data).hexdigest()
                if got != want:
                    raise DataError(
                        f"{file} is corrupt or changed: sha256 {got}, expected {want}. "
                        "Replace it with the original file."
                    )
            pixels, transparent = _decode(data, str(file), mode, size, resize)  # [H, W, C]
            if transparent:
                see_through.append(rel)
            if size is None:
                size = pixels.shape[:2]
            if pixels.shape[:2] != size:
                if not resize:
                    raise _wrong_size(str(file), pixels.shape[0], pixels.shape[1], size)
                pixels = _resize(pixels, size, mode)
            images.append(pixels)
            labels.append(label)
            files.append(rel)
    if checksums is not None:
        missing = sorted(set(checksums) - set(files))
        if missing:
            raise DataError(
                f"{root}: {len(missing)} listed file(s) are missing, e.g. {missing[:3]}; "
                "the folder is incomplete: restore it from the original copy."
            )
    if see_through:
        warnings.warn(
            f"{len(see_through)} image(s) under {root} have transparent pixels (e.g. {see_through[0]}): "
            "they were composited onto black, so a fully transparent pixel reads 0. To use another "
            "background, composite the files yourself first (PIL.Image.alpha_composite).",
            stacklevel=2,
        )
    return ImageFolder(np.stack(images), np.asarray(labels, np.int32), names, tuple(files))
