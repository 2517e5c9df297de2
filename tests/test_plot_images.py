"""Smoke and bad-input tests of leptonlab.plot's image figures (notebooks 06 and 07)."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from leptonlab import conv, plot

IMG = np.random.default_rng(0).random((8, 8)).astype(np.float32)  # [8, 8]


def test_smoke():
    figs = [
        plot.augmentation_preview(
            IMG, {"shift": np.stack([IMG] * 3), "rotate": np.stack([IMG] * 2)}, title="t"
        ),
        plot.augmentation_preview(IMG[..., None], {"shift": np.stack([IMG[..., None]] * 2)}),
        plot.class_balance(
            {"train": np.array([0, 1, 1, 2]), "val": np.array([0, 2])}, ["a", "b", "c"]
        ),
        plot.class_balance(np.array([0, 1, 1, 3])),
        plot.pixel_histogram({"a": IMG, "b": IMG * 2}, bins=10),
        plot.pixel_histogram(np.zeros((3, 3), np.uint8), log=False),
        plot.filter_grid(conv.classic_filters()),
        plot.filter_grid(conv.filter_bank(conv.classic_filters())),
        plot.feature_maps(IMG, np.zeros((6, 6, 2)), ["x", "y"]),
        plot.feature_maps(IMG, np.ones((1, 8, 8, 3))),
        plot.receptive_field_maps({"one conv": conv.receptive_field_mask([(3, 1)], 8)}, IMG),
        plot.receptive_field_maps({"a": np.zeros((8, 8), bool), "b": np.ones((8, 8), bool)}),
    ]
    assert all(isinstance(f, Figure) for f in figs)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: plot.augmentation_preview(np.zeros((2, 3, 8, 8)), {"a": np.zeros((1, 8, 8))}),
            ValueError,
            "one image",
        ),
        (lambda: plot.augmentation_preview(IMG, np.zeros((2, 8, 8))), TypeError, "dict"),
        (
            lambda: plot.augmentation_preview(IMG, {"a": np.zeros((2, 7, 8))}),
            ValueError,
            "like the original",
        ),
        (lambda: plot.class_balance(np.array([0.5, 1.0])), ValueError, "non-negative ints"),
        (lambda: plot.class_balance(np.array([0, 3]), ["a", "b"]), ValueError, "class names"),
        (lambda: plot.class_balance({}), ValueError, "empty"),
        (lambda: plot.pixel_histogram(np.zeros(0)), ValueError, "non-empty"),
        (lambda: plot.pixel_histogram(IMG, bins=1), ValueError, "bins"),
        (lambda: plot.filter_grid(np.zeros((3, 3, 2, 2))), ValueError, "filters must be"),
        (lambda: plot.feature_maps(IMG, np.zeros((2, 6, 6, 2))), ValueError, "maps must be"),
        (lambda: plot.feature_maps(IMG, np.zeros((6, 6, 2)), ["only one"]), ValueError, "titles"),
        (lambda: plot.receptive_field_maps([]), TypeError, "dict"),
        (
            lambda: plot.receptive_field_maps({"a": np.zeros((4, 4))}, IMG),
            ValueError,
            "differ in size",
        ),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
