"""Input validation for a deployed model (notebook 21).

A served model must refuse what it was not trained for, with a message that says what
is wrong and what to do, instead of returning a confident answer on garbage. Every
check raises :class:`InputError` (a ValueError) whose message is one line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")


class InputError(ValueError):
    """An input the model cannot take; the message (one line) says why and what to do."""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What the model takes: one example of ``shape`` float32 values within ``value_range``.

    Images are read as 8-bit grayscale (PIL mode ``"L"``) and divided by ``pixel_scale``
    (255) into ``value_range`` (0, 1).
    """

    shape: tuple[int, ...] = (28, 28)  # one example, e.g. (H, W)
    value_range: tuple[float, float] = (0.0, 1.0)  # smallest and largest allowed value
    pixel_scale: float = 255.0  # uint8 pixels are divided by this

    def __post_init__(self):
        if not self.shape or any(not isinstance(s, int) or s < 1 for s in self.shape):
            raise ValueError(f"InputSpec.shape must be positive ints, got {self.shape!r}.")
        lo, hi = self.value_range
        if not lo < hi:
            raise ValueError(
                f"InputSpec.value_range must be (low, high) with low < high, got {self.value_range!r}."
            )


def check_batch(x, spec: InputSpec, *, source: str = "input") -> np.ndarray:
    """``x: [B, *spec.shape]`` as float32 after checking its type, shape, finiteness and range.

    uint8 arrays are scaled by ``1 / spec.pixel_scale`` first. Raises :class:`InputError`.
    """
    if not isinstance(spec, InputSpec):
        raise TypeError(f"spec must be an InputSpec, got {type(spec).__name__}.")
    try:
        arr = np.asarray(x)
    except Exception as err:  # e.g. ragged lists
        raise InputError(f"{source}: cannot be read as an array ({err}).") from None
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / spec.pixel_scale
    elif arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InputError(
            f"{source}: dtype {arr.dtype} is not numeric; the model takes float32 values "
            f"in [{spec.value_range[0]:g}, {spec.value_range[1]:g}] or uint8 pixels."
        )
    elif np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"{source}: dtype {arr.dtype}; only uint8 pixels (0..255) or floats in "
            f"[{spec.value_range[0]:g}, {spec.value_range[1]:g}] are accepted."
        )
    want = tuple(spec.shape)
    if arr.ndim == len(want) + 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]  # [B, H, W, 1] -> [B, H, W]
    if arr.ndim != len(want) + 1 or arr.shape[1:] != want:
        shape_text = "x".join(map(str, want))
        raise InputError(
            f"{source}: shape {arr.shape}; the model takes a batch [B, {', '.join(map(str, want))}] "
            f"of {shape_text} examples."
        )
    if arr.shape[0] == 0:
        raise InputError(f"{source}: the batch is empty.")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{source}: contains NaN or infinity.")
    lo, hi = spec.value_range
    if arr.min() < lo or arr.max() > hi:
        hint = " (pixels 0..255? divide by 255)" if arr.max() > hi and arr.max() <= 255 else ""
        raise InputError(
            f"{source}: values in [{arr.min():g}, {arr.max():g}] lie outside the model's "
            f"range [{lo:g}, {hi:g}]{hint}."
        )
    return arr


def read_image(path, spec: InputSpec) -> np.ndarray:
    """One example from an image file (8-bit grayscale) or a ``.npy`` array, checked: ``spec.shape`` float32.

    Raises :class:`InputError` naming the file and the problem: missing, not a decodable
    image, wrong mode (colour, 16-bit), wrong size, values out of range.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    if not path.is_file():
        raise InputError(f"{path}: not a file (a directory?); pass image files.")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as err:
            raise InputError(f"{path}: not a readable .npy array ({type(err).__name__}).") from None
        if arr.ndim == len(spec.shape) + 1 and arr.shape[-1] == 1:
            arr = arr[..., 0]  # [H, W, 1] -> [H, W]
        if arr.shape != tuple(spec.shape):
            raise InputError(
                f"{path}: array of shape {arr.shape}; the model takes one example of shape "
                f"{tuple(spec.shape)}."
            )
        return check_batch(arr[None], spec, source=str(path))[0]
    from PIL import Image, UnidentifiedImageError

    import warnings

    h, w = spec.shape[:2]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(
                path
            ) as img:  # reads the header only: the size is known before any pixel
                if img.size != (w, h):
                    raise InputError(
                        f"{path}: image is {img.size[0]}x{img.size[1]} pixels; the model takes "
                        f"{w}x{h}: resize it first."
                    )
                img.load()
                image = img.copy()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{path}: the image header claims more pixels than Pillow will decode safely; "
            f"the model takes {w}x{h} images."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InputError(
            f"{path}: not a decodable image file (expected a grayscale image such as PNG, "
            f"or a .npy array)."
        ) from None
    if image.mode != "L":
        why = {
            "RGB": "colour (3 channels)",
            "RGBA": "colour with alpha (4 channels)",
            "I;16": "16-bit grayscale",
            "I": "32-bit integer",
            "F": "32-bit float",
            "1": "1-bit black and white",
            "P": "palette colour",
            "LA": "grayscale with alpha",
        }.get(image.mode, "")
        raise InputError(
            f"{path}: image mode {image.mode}{f' ({why})' if why else ''}; the model takes 8-bit "
            f"grayscale (mode L): convert it, e.g. Image.open(path).convert('L')."
        )
    if len(spec.shape) != 2:
        raise InputError(
            f"{path}: image is {image.size[0]}x{image.size[1]} pixels; the model takes "
            f"{w}x{h}: resize it first."
        )
    return check_batch(np.asarray(image, np.uint8)[None], spec, source=str(path))[0]
