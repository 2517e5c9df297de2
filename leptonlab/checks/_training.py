"""Checks for notebook 05 (a neural network training loop)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from leptonlab.checks._core import CheckFailed, call, exercise, expect_close, passed


@exercise
def accuracy(fn) -> bool:
    """Check ``fn(logits: [B, C], labels: [B]) -> fraction of rows whose argmax equals the label``."""
    name = "accuracy"
    logits = jnp.array(
        [[2.0, 1.0, 0.1], [0.0, 3.0, 1.0], [0.2, 0.1, 5.0], [1.0, 0.0, 0.5]]
    )  # [4, 3]
    labels = jnp.array([0, 1, 0, 2])
    got = call(name, fn, logits, labels)
    if np.ndim(got) != 0:
        raise CheckFailed(
            name,
            f"the result has shape {np.shape(got)}; accuracy is one number.",
            (
                "accuracy is a fraction over the whole batch: one number, not one per example.",
                "compare each row's predicted class with its label, then average those true/false values.",
            ),
        )
    if np.isclose(float(got), 2.0):
        raise CheckFailed(
            name,
            "you returned the number of correct predictions (2), not the fraction.",
            (
                "a fraction of the batch is between 0 and 1.",
                "turn the count into a fraction by averaging over the batch instead of summing.",
            ),
        )
    expect_close(
        name,
        got,
        0.5,
        what="accuracy on a batch with 2 of 4 right",
        hint=(
            "the predicted class of a row is the position of its largest logit.",
            "take that position along the class axis (the last one), not over the batch.",
        ),
    )
    expect_close(
        name, call(name, fn, logits[:2], labels[:2]), 1.0, what="accuracy on a batch all right"
    )
    return passed(name)


def first_kernel_grad(fn, model, batch, key):
    """Probe: d loss / d (the first layer's kernel) for the learner's ``fn(model, batch, key) -> (loss, metrics)``."""
    return jax.grad(lambda m: fn(m, batch, key)[0])(model).layers[0].kernel[...]


@exercise
def mse_loss_fn(fn) -> bool:
    """Check a regression loss ``fn(model, batch, key) -> (loss, {"loss": per-example [B]})``."""
    name = "mse_loss_fn"
    from leptonlab.models import MLP

    model = MLP(1, [], 1, rngs=nnx.Rngs(0))  # a linear model that also accepts rngs=
    x = jnp.linspace(-1.0, 1.0, 6)[:, None]  # [6, 1]
    y = 2.0 * x + 0.5  # [6, 1]
    out = call(name, fn, model, (x, y), jax.random.key(0))
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise CheckFailed(
            name,
            f"expected a pair (loss, metrics_dict), got {type(out).__name__}.",
            "the exercise asks for two things back: the batch's loss and a dict of metrics.",
        )
    loss, metrics = out
    errors = jnp.square(model(x) - y)[:, 0]  # [6]
    if "loss" not in metrics:
        raise CheckFailed(
            name,
            f"the metrics dict has keys {sorted(metrics)}, but no 'loss'.",
            (
                'the metrics dict needs the key "loss".',
                'its value under "loss" is one error per example, shape [B].',
            ),
        )
    if np.isclose(float(loss), 0.5 * float(errors.mean())):
        raise CheckFailed(
            name,
            "your loss is half the mean squared error.",
            (
                "the 1/2 factor is a convention for derivatives; the MSE itself has no such factor.",
                "drop the 1/2: the loss is the plain average of the squared errors.",
            ),
        )
    expect_close(
        name,
        loss,
        errors.mean(),
        what="the loss",
        hint=(
            "look at how you reduce the squared errors to one number.",
            "square each prediction's error, then average over the batch.",
        ),
    )
    expect_close(
        name,
        metrics["loss"],
        errors,
        what="the per-example errors",
        hint=(
            "the metric is one squared error per example: shape [B], before any averaging.",
            "the model's output is [B, 1]: drop the trailing axis so each example has one number.",
        ),
    )
    got_grad = call(name, fn, model, (x, y), jax.random.key(0), probe=first_kernel_grad)
    want = jax.grad(lambda m: jnp.mean(jnp.square(m(x) - y)))(model)
    expect_close(
        name,
        got_grad,
        want.layers[0].kernel[...],
        what="the gradient of your loss",
        hint=(
            "use jax.numpy operations only, so that jax.grad can differentiate the loss.",
            "the loss must be computed from the model's output inside your function, as an array.",
        ),
    )
    return passed(name)


@exercise
def sgd_update(fn) -> bool:
    """Check ``fn(params, grads, learning_rate) -> new params`` (any pytree) against optax.sgd."""
    name = "sgd_update"
    params = {"w": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.array([0.1, -0.1])}
    grads = {"w": jnp.array([[0.2, -0.4], [1.0, 0.0]]), "b": jnp.array([-1.0, 2.0])}
    got = call(name, fn, params, grads, 0.1)
    if not isinstance(got, dict) or set(got) != set(params):
        raise CheckFailed(
            name,
            "the result should have the same structure as params.",
            (
                "return a new dict with the same keys as params, one updated array per key.",
                "jax.tree.map applies one function to matching leaves of several trees at once.",
            ),
        )
    updates, _ = optax.sgd(0.1).update(grads, optax.sgd(0.1).init(params))
    want = optax.apply_updates(params, updates)
    for key in params:
        if np.allclose(got[key], params[key] + 0.1 * grads[key]):
            raise CheckFailed(
                name,
                f"params[{key!r}] moved up the gradient: the loss would grow.",
                (
                    "gradient descent steps against the gradient.",
                    "check the sign of your step: the loss should go down.",
                ),
            )
        expect_close(
            name,
            got[key],
            want[key],
            what=f"params[{key!r}]",
            hint=(
                "each parameter takes one plain SGD step, scaled by the learning rate.",
                "no momentum, no averaging: the step for one parameter uses only its own gradient.",
            ),
        )
    return passed(name)
