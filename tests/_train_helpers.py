"""Small pieces the tests of losses, metrics, prediction and plots share: a model that is not
invariant to mirroring, its TrainState, and a History written row by row."""

import jax
import numpy as np
import optax
from flax import nnx

from leptonlab import train


class Linear(nnx.Module):
    """[B, H, W, C] -> flatten -> dense: not invariant to mirroring."""

    def __init__(self, n_in, n_out, *, rngs):
        self.dense = nnx.Linear(n_in, n_out, rngs=rngs)

    def __call__(self, x, *, rngs=None):
        return self.dense(x.reshape(x.shape[0], -1))


def linear_state(shape=(3, 4, 2), classes=5):
    model = Linear(int(np.prod(shape)), classes, rngs=nnx.Rngs(0))
    return train.TrainState.create(model, optax.sgd(0.1), key=jax.random.key(0))


def history_of(rows):
    history = train.History()
    for row in rows:
        history.append(row)
    return history
