"""MLP: shapes, flattening, and clear errors on bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab.models import MLP


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("hidden", [[], [10], [16, 8]])
def test_mlp_shapes(activation, hidden):
    model = MLP(3, hidden, 2, activation=activation, rngs=nnx.Rngs(0))
    assert model(jnp.ones((5, 3))).shape == (5, 2)
    assert len(model.layers) == len(hidden) + 1


def test_mlp_flattens_images():
    model = MLP(28 * 28, [8], 10, rngs=nnx.Rngs(0))
    assert model(jnp.zeros((4, 28, 28))).shape == (4, 10)


def test_mlp_one_hidden_layer_matches_hand_computation():
    model = MLP(2, [10], 1, activation="tanh", rngs=nnx.Rngs(1))
    x = jax.random.normal(jax.random.key(2), (7, 2))
    l1, l2 = model.layers
    hidden = jnp.tanh(x @ l1.kernel[...] + l1.bias[...][None, :])  # [7, 10]
    want = hidden @ l2.kernel[...] + l2.bias[...][None, :]  # [7, 1]
    assert jnp.allclose(model(x), want, atol=1e-6)


def test_same_seed_same_weights():
    a, b = (MLP(4, [5], 3, rngs=nnx.Rngs(7)) for _ in range(2))
    assert jnp.array_equal(a.layers[0].kernel[...], b.layers[0].kernel[...])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(in_features=0, hidden=[4], out_features=2), "positive integers"),
        (dict(in_features=3, hidden=[4.5], out_features=2), "positive integers"),
        (
            dict(in_features=3, hidden=[4], out_features=2, activation="swish!"),
            "unknown activation",
        ),
    ],
)
def test_mlp_rejects_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs, rngs=nnx.Rngs(0))


def test_mlp_rejects_wrong_input():
    model = MLP(3, [4], 2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="built for 3 input features"):
        model(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="batch"):
        model(jnp.ones(3))


@pytest.mark.parametrize("shape", [(2, 28, 28, 3), (1, 7, 7, 2), (3, 6, 10, 1)])
def test_max_pool_2x2_equals_flax_max_pool(shape, key):
    from flax import nnx

    from leptonlab.models import max_pool_2x2

    x = jax.random.normal(key, shape)
    np.testing.assert_array_equal(
        max_pool_2x2(x), nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
    )


def test_max_pool_2x2_rejects_a_batch_without_channels():
    from leptonlab.models import max_pool_2x2

    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        max_pool_2x2(jnp.ones((4, 28, 28)))
