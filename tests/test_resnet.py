"""The ResNet of notebook 16: shapes, residual structure, batch-norm modes, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from leptonlab import models, train


def small(**kwargs):
    args = {"width": 4, "stages": (1, 1), "rngs": nnx.Rngs(0)} | kwargs
    return models.ResNet(10, **args)


# Few distinct layer shapes: on a CPU, initialising a new shape compiles its initialiser.
@pytest.mark.parametrize(
    "kwargs, side, dim",
    [
        ({}, 8, 8),
        ({"stages": (2, 1, 3)}, 8, 16),
        ({"stem_stride": 2}, 10, 8),
    ],
)
def test_resnet_shapes(kwargs, side, dim):
    model = small(**kwargs)
    x = jax.random.normal(jax.random.key(1), (3, side, side, 3))
    assert model.feature_dim == dim
    assert model.features(x).shape == (3, dim)
    assert model(x).shape == (3, 10)
    assert model(x, rngs=jax.random.key(0)).dtype == jnp.float32


def test_resnet_stage_resolutions_and_block_count():
    model = small(stages=(2, 1, 3))
    assert len(model.blocks) == 6
    x = jnp.ones((2, 16, 16, 3))
    h = model.stem(x)
    sides = []
    for block in model.blocks:
        h = block(h)
        sides.append((h.shape[1], h.shape[-1]))
    assert sides == [
        (16, 4),
        (16, 4),
        (8, 8),
        (4, 16),
        (4, 16),
        (4, 16),
    ]  # stride 2 at each new stage


def test_residual_block_starts_as_identity_with_zero_init():
    block = models.ResidualBlock(4, 4, rngs=nnx.Rngs(0))
    x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 4))  # >= 0, so relu(x) == x
    np.testing.assert_allclose(block(x), x, atol=1e-6)
    other = models.ResidualBlock(4, 4, zero_init=False, rngs=nnx.Rngs(0))
    assert not np.allclose(other(x), x, atol=1e-3)
    down = models.ResidualBlock(4, 8, stride=2, rngs=nnx.Rngs(0))
    assert down(x).shape == (2, 4, 4, 8) and down.shortcut is not None


def test_resnet_batch_norm_train_and_eval_modes():
    model = small()
    x = 3.0 + 2.0 * jax.random.normal(jax.random.key(2), (8, 16, 16, 3))
    model.train()
    y_train = model(x)
    assert float(jnp.abs(model.stem_bn.mean[...]).sum()) > 0  # running mean updated in train mode
    model.eval()
    before = jnp.copy(model.stem_bn.mean[...])
    y_eval = model(x)
    np.testing.assert_array_equal(model.stem_bn.mean[...], before)  # not updated in eval mode
    assert not np.allclose(y_train, y_eval)


def test_resnet_trains_with_bf16_compute():
    x = jax.random.normal(jax.random.key(0), (16, 8, 8, 3))
    y = jnp.arange(16) % 2
    state, history = train.fit(
        models.ResNet(2, width=4, stages=(1,), rngs=nnx.Rngs(0)),
        (x, y),
        train.TrainConfig(
            epochs=3, batch_size=8, learning_rate=1e-2, progress=False, compute_dtype="bfloat16"
        ),
    )
    assert np.all(np.isfinite(history["train_loss"]))
    params = jax.tree.leaves(state.params)
    assert all(p.dtype == jnp.float32 for p in params)  # master weights stay float32


def _product_operand_dtypes(jaxpr) -> set[str]:
    """dtypes of the operands of every convolution and matrix product in ``jaxpr`` (sub-jaxprs too)."""
    found = set()
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in ("conv_general_dilated", "dot_general"):
            found |= {str(v.aval.dtype) for v in eqn.invars}
        for value in eqn.params.values():
            for item in value if isinstance(value, (list, tuple)) else (value,):
                sub = item if hasattr(item, "eqns") else getattr(item, "jaxpr", None)
                if hasattr(sub, "eqns"):
                    found |= _product_operand_dtypes(sub)
    return found


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: small(), (4, 8, 8, 3)),
        (
            lambda: models.CNN(
                1, 10, image_size=8, channels=(4, 8), dense=8, batch_norm=True, rngs=nnx.Rngs(0)
            ),
            (4, 8, 8, 1),
        ),
    ],
)
def test_bf16_compute_reaches_every_layer(make, shape):
    """Batch norm must hand bf16 on: Flax's returns float32 (its running statistics are float32), which
    silently ran every layer after the first in float32 (on an H200: 12.5 ms per ResNet-18 step, as float32)."""
    state = train.TrainState.create(
        make(),
        train.make_optimizer(train.TrainConfig()),
        key=jax.random.key(0),
        compute_dtype="bfloat16",
    )
    batch = (jnp.zeros(shape), jnp.zeros(shape[0], jnp.int32))
    jaxpr = jax.make_jaxpr(lambda s, b: train.train_step(s, b, train.classification_loss))(
        state, batch
    )
    assert _product_operand_dtypes(jaxpr.jaxpr) == {"bfloat16"}
    new_state, _ = jax.jit(train.train_step, static_argnums=2)(
        state, batch, train.classification_loss
    )
    assert all(
        a.dtype == jnp.float32 for a in jax.tree.leaves(new_state.rest)
    )  # running statistics stay float32


def test_count_params():
    model = models.ResNet(10, width=4, stages=(1,), rngs=nnx.Rngs(0))
    # stem 3*3*3*4 + bn 2*4; block: 2 convs 3*3*4*4 + 2 bns 2*4; head 4*10 + 10
    assert models.count_params(model) == 108 + 8 + 2 * 144 + 2 * 8 + 50
    with pytest.raises(TypeError, match="expected a flax.nnx.Module"):
        models.count_params("model")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 0}, "width must be a positive int"),
        ({"stages": ()}, "stages must be a non-empty sequence"),
        ({"stages": (2, 0)}, "every entry of stages must be a positive int"),
        ({"stages": "22"}, "stages must be a non-empty sequence"),
        ({"stem_stride": 3}, "stem_stride must be 1 or 2"),
    ],
)
def test_resnet_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small(**kwargs)
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        models.ResidualBlock(4, 4, stride=4, rngs=nnx.Rngs(0))


def test_resnet_bad_inputs():
    model = small()
    with pytest.raises(ValueError, match=r"expects images \[B, H, W, 3\]"):
        model(jnp.ones((2, 32, 32)))
    with pytest.raises(ValueError, match=r"got shape \(2, 32, 32, 1\)"):
        model(jnp.ones((2, 32, 32, 1)))
    with pytest.raises(TypeError, match="expects float images"):
        model(jnp.ones((2, 32, 32, 3), jnp.uint8))
