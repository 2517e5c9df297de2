"""Augmentations, scaling and splits: shapes, invariants, determinism, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import data


@pytest.fixture
def images():
    return jax.random.uniform(jax.random.key(0), (6, 8, 8, 3))  # [B, H, W, C]


def test_crop_with_zero_shift_budget_is_identity(images):
    assert jnp.array_equal(data.random_crop(images, jax.random.key(1), padding=0), images)


def test_crop_is_a_shift_of_the_original(images):
    out = data.random_crop(images, jax.random.key(1), padding=2)
    assert out.shape == images.shape
    padded = np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2), (0, 0)))
    for img, got in zip(
        padded, np.asarray(out)
    ):  # each output is some 8x8 window of the padded image
        windows = [img[r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(np.array_equal(w, got) for w in windows)


def test_flip_mirrors_or_keeps_each_image(images):
    out = np.asarray(data.random_flip(images, jax.random.key(3)))
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, np.asarray(images))]
    kept = [np.array_equal(o, i) for o, i in zip(out, np.asarray(images))]
    assert all(m or k for m, k in zip(mirrored, kept)) and any(mirrored)


def test_rotation_by_zero_is_identity_and_rotation_keeps_the_centre():
    x = jnp.zeros((1, 9, 9)).at[0, 4, 4].set(1.0)  # one bright centre pixel, no channel axis
    assert jnp.array_equal(data.random_rotation(x, jax.random.key(0), max_degrees=0), x)
    out = data.random_rotation(x, jax.random.key(0), max_degrees=30)
    assert out.shape == x.shape and float(out[0, 4, 4]) == pytest.approx(1.0, abs=1e-5)


def test_augment_pipeline_is_deterministic_hashable_and_jittable(images):
    aug = data.Augment(crop_padding=2, flip=True, max_degrees=10)
    assert hash(aug) == hash(data.Augment(crop_padding=2, flip=True, max_degrees=10))
    a = jax.jit(aug)(images, jax.random.key(5))
    b = aug(images, jax.random.key(5))
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert not jnp.array_equal(a, aug(images, jax.random.key(6)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: data.random_crop(x, jax.random.key(0), padding=-1), "padding"),
        (lambda x: data.random_flip(x[0, 0], jax.random.key(0)), "images"),
        (lambda x: data.random_rotation(x, jax.random.key(0), max_degrees=-5), "max_degrees"),
        (lambda x: data.Augment(crop_padding=-2), ">= 0"),
    ],
)
def test_augmentation_bad_input(images, call, match):
    with pytest.raises(ValueError, match=match):
        call(images)


def test_to_float_and_standardizer():
    pixels = np.array([[[0, 255], [51, 102]]], np.uint8).repeat(3, axis=0)  # [3, 2, 2]
    x = data.to_float(pixels)
    assert (
        x.dtype == jnp.float32 and float(x.max()) == 1.0 and float(x[0, 1, 0]) == pytest.approx(0.2)
    )
    std = data.fit_standardizer(x)
    z = std(x)
    assert float(z.mean()) == pytest.approx(0.0, abs=1e-6) and float(z.std()) == pytest.approx(
        1.0, abs=1e-5
    )
    with pytest.raises(TypeError, match="uint8"):
        data.to_float(x)
    with pytest.raises(ValueError, match="two examples"):
        data.fit_standardizer(x[:1])


def test_per_channel_standardizer_shape(images):
    assert data.fit_standardizer(images, per_channel=True).mean.shape == (3,)


def test_train_val_split_is_a_deterministic_partition():
    split = data.train_val_split(100, val_fraction=0.2, key=jax.random.key(0))
    assert len(split.val) == 20 and len(split.train) == 80
    assert sorted(np.concatenate(split)) == list(range(100))
    again = data.train_val_split(100, val_fraction=0.2, key=jax.random.key(0))
    assert np.array_equal(split.val, again.val)


def test_stratified_split_keeps_class_proportions():
    labels = np.array([0] * 80 + [1] * 20)
    split = data.train_val_split(100, val_fraction=0.25, key=jax.random.key(1), stratify=labels)
    assert np.sum(labels[split.val] == 0) == 20 and np.sum(labels[split.val] == 1) == 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=10, val_fraction=1.0), "val_fraction"),
        (dict(n=1, val_fraction=0.5), "at least 2"),
        (dict(n=10, val_fraction=0.5, stratify=np.zeros(3)), "one label per example"),
    ],
)
def test_split_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.train_val_split(key=jax.random.key(0), **kwargs)
