"""The training loop: one-step smoke test, learning, determinism, exact evaluation, bad input."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _train_helpers import linear_state
from flax import nnx

from leptonlab import train
from leptonlab.models import MLP

QUIET = dict(progress=False)


def _blobs(n=256, seed=0):
    """Two separable Gaussian blobs: x [n, 2], y [n] int32."""
    k1, k2 = jax.random.split(jax.random.key(seed))
    y = jax.random.bernoulli(k1, 0.5, (n,)).astype(jnp.int32)
    x = jax.random.normal(k2, (n, 2)) + 3.0 * (2 * y[:, None] - 1)
    return x, y


def _model(seed=0):
    return MLP(2, [16], 2, rngs=nnx.Rngs(seed))


def test_one_step_smoke():
    x, y = _blobs(32)
    state = train.TrainState.create(_model(), optax.sgd(0.1), key=jax.random.key(0))
    new_state, metrics = train.train_step(state, (x, y), train.classification_loss)
    assert int(new_state.step) == 1
    assert metrics["loss"].shape == (32,) and metrics["accuracy"].shape == (32,)
    changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params, new_state.params)
    assert all(jax.tree.leaves(changed))


def test_train_step_equals_manual_sgd():
    """One SGD step is params - lr * grad of the mean loss (reference: jax.grad by hand)."""
    x, y = _blobs(16)
    model = _model()
    state = train.TrainState.create(model, optax.sgd(0.5), key=jax.random.key(0))

    def loss(params):
        m = nnx.merge(state.graphdef, params, state.rest)
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()

    grads = jax.grad(loss)(state.params)
    want = jax.tree.map(lambda p, g: p - 0.5 * g, state.params, grads)
    got, _ = train.train_step(state, (x, y), train.classification_loss)
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_fit_learns_classification():
    x, y = _blobs(512)
    config = train.TrainConfig(epochs=5, batch_size=32, learning_rate=1e-2, **QUIET)
    state, history = train.fit(_model(), (x[:400], y[:400]), config, val_data=(x[400:], y[400:]))
    assert len(history) == 5
    assert history["val_accuracy"][-1] >= 0.95
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert int(state.step) == 5 * (400 // 32)


def test_fit_learns_regression():
    x = jnp.linspace(-2, 2, 128)[:, None]  # [128, 1]
    y = 0.5 * x + 1.0
    config = train.TrainConfig(epochs=60, batch_size=32, learning_rate=3e-2, **QUIET)
    state, history = train.fit(
        MLP(1, [10], 1, rngs=nnx.Rngs(0)), (x, y), config, loss_fn=train.regression_loss
    )
    assert history["train_loss"][-1] < 0.01 * history["train_loss"][0]
    assert train.evaluate(state, (x, y), loss_fn=train.regression_loss)["loss"] < 1e-2


@pytest.mark.parametrize("optimizer", train.OPTIMIZERS)
def test_every_optimizer_reduces_loss(optimizer):
    x, y = _blobs(256)
    config = train.TrainConfig(
        epochs=3, batch_size=32, learning_rate=3e-2, optimizer=optimizer, weight_decay=1e-4, **QUIET
    )
    _, history = train.fit(_model(), (x, y), config)
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_same_seed_same_run_different_seed_different_run():
    x, y = _blobs(256)
    config = train.TrainConfig(epochs=2, batch_size=32, **QUIET)
    runs = [train.fit(_model(), (x, y), config)[0] for _ in range(2)]
    other = train.fit(_model(), (x, y), dataclasses.replace(config, seed=1))[0]
    leaves = [jax.tree.leaves(s.params) for s in (*runs, other)]
    assert all(jnp.array_equal(a, b) for a, b in zip(leaves[0], leaves[1]))
    assert not all(jnp.array_equal(a, b) for a, b in zip(leaves[0], leaves[2]))


def test_continuing_from_state_keeps_training():
    x, y = _blobs(128)
    config = train.TrainConfig(epochs=1, batch_size=32, **QUIET)
    state, _ = train.fit(_model(), (x, y), config)
    state, _ = train.fit(None, (x, y), config, state=state)
    assert int(state.step) == 2 * 4


def test_continuing_a_run_does_not_trace_the_model_again():
    """fit looks up the metric names on every call; the lookup's trace is cached, the train step's too."""
    traces = []

    def counting_loss(model, batch, key):
        traces.append(1)  # runs only while JAX traces
        return train.classification_loss(model, batch, key)

    x, y = _blobs(128)
    config = train.TrainConfig(epochs=1, batch_size=32, **QUIET)
    state, _ = train.fit(_model(), (x, y), config, loss_fn=counting_loss)
    first = len(traces)
    assert first >= 2  # the metric names and the train step
    for _ in range(2):
        state, history = train.fit(None, (x, y), config, loss_fn=counting_loss, state=state)
    assert len(traces) == first
    assert set(history.rows[0]) >= {"train_loss", "train_accuracy"}


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
def test_evaluate_is_exact_for_any_batch_size(batch_size):
    x, y = _blobs(100)
    state = train.TrainState.create(_model(), optax.sgd(0.1), key=jax.random.key(0))
    logits = state.model()(x)
    want_loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())
    want_acc = float((logits.argmax(-1) == y).mean())
    got = train.evaluate(state, (x, y), batch_size=batch_size)
    assert got["loss"] == pytest.approx(want_loss, rel=1e-5)
    assert got["accuracy"] == pytest.approx(want_acc)


def test_predict_matches_model():
    x, _ = _blobs(50)
    state = train.TrainState.create(_model(), optax.sgd(0.1), key=jax.random.key(0))
    np.testing.assert_allclose(train.predict(state, x, batch_size=16), state.model()(x), atol=1e-6)


def test_history_access_and_errors():
    history = train.History()
    with pytest.raises(ValueError, match="empty"):
        history.last()
    history.append({"epoch": 1, "train_loss": 2.0})
    history.append({"epoch": 2, "train_loss": 1.0})
    np.testing.assert_array_equal(history["train_loss"], [2.0, 1.0])
    with pytest.raises(KeyError, match="no metric 'val_loss'"):
        history["val_loss"]


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("epochs", 0, "epochs"),
        ("batch_size", -1, "batch_size"),
        ("learning_rate", 0.0, "learning_rate"),
        ("learning_rate", float("nan"), "learning_rate"),
        ("optimizer", "adagrad!", "unknown optimizer"),
        ("momentum", 1.0, "momentum"),
        ("weight_decay", -0.1, "weight_decay"),
        ("steps_per_call", -1, "steps_per_call"),
    ],
)
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(**{field: value})


def test_fit_rejects_bad_input():
    x, y = _blobs(16)
    with pytest.raises(ValueError, match="same number of examples"):
        train.fit(_model(), (x, y[:8]), train.TrainConfig(**QUIET))
    with pytest.raises(TypeError, match="pair"):
        train.fit(_model(), x, train.TrainConfig(**QUIET))
    with pytest.raises(TypeError, match="TrainConfig"):
        train.fit(_model(), (x, y), {"epochs": 1})
    with pytest.raises(ValueError, match="empty"):
        train.fit(_model(), (x[:0], y[:0]), train.TrainConfig(**QUIET))
    with pytest.raises(TypeError, match="nnx.Module"):
        train.TrainState.create("not a model", optax.sgd(0.1), key=jax.random.key(0))
    with pytest.raises(ValueError, match="at least one example"):
        train.predict(
            train.TrainState.create(_model(), optax.sgd(0.1), key=jax.random.key(0)), x[:0]
        )


@pytest.mark.parametrize("chunk", [3, 8])
def test_scanned_steps_equal_the_per_step_loop(chunk):
    """steps_per_call > 1 (lax.scan over chunks; 10 steps = chunks + single-step remainder) is the same run."""
    x, y = _blobs(320)
    config = train.TrainConfig(epochs=2, batch_size=32, steps_per_call=1, **QUIET)
    one, h1 = train.fit(_model(), (x, y), config)
    many, h2 = train.fit(_model(), (x, y), dataclasses.replace(config, steps_per_call=chunk))
    assert int(one.step) == int(many.step) == 20
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(many.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1["train_loss"], h2["train_loss"], rtol=1e-5)


def test_steps_per_call_is_chosen_by_backend_and_capped_by_the_epoch():
    cpu = 1 if jax.default_backend() == "cpu" else 32
    assert train.steps_per_call(train.TrainConfig(), 1000) == cpu
    assert train.steps_per_call(train.TrainConfig(steps_per_call=50), 7) == 7


def test_progress_bar_says_it_is_compiling_then_training(capsys):
    x, y = _blobs(64)
    _, history = train.fit(
        _model(), (x, y), train.TrainConfig(epochs=1, batch_size=32, progress=True)
    )
    shown = capsys.readouterr().err
    assert "compiling the training step" in shown, "the first, silent seconds are explained"
    assert repr(history).startswith("History(1 epoch, "), "one epoch, not '1 epochs'"


# ---------------------------------------------------------------------------- test-time augmentation


def test_predict_tta_averages_image_and_mirror():
    state = linear_state()
    x = jax.random.normal(jax.random.key(2), (7, 3, 4, 2))
    probs = train.predict_tta(state, x, batch_size=3)
    p = jax.nn.softmax(train.predict(state, x), axis=-1)
    p_mirror = jax.nn.softmax(train.predict(state, x[:, :, ::-1]), axis=-1)
    np.testing.assert_allclose(probs, (p + p_mirror) / 2, rtol=1e-5, atol=1e-7)
    assert probs.shape == (7, 5)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    # invariant to mirroring the input, unlike the plain prediction
    np.testing.assert_allclose(train.predict_tta(state, x[:, :, ::-1]), probs, rtol=1e-5, atol=1e-7)
    assert not np.allclose(p_mirror, p, atol=1e-3)
    np.testing.assert_allclose(train.predict_tta(state, x, flip=False), p, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, x, error, message",
    [
        ({}, jnp.ones((2, 12)), ValueError, r"images \[N, H, W, C\] or \[N, H, W\]"),
        ({}, jnp.ones((0, 3, 4, 2)), ValueError, "N >= 1"),
        ({"batch_size": 0}, jnp.ones((2, 3, 4, 2)), ValueError, "batch_size must be an int >= 1"),
    ],
)
def test_predict_tta_bad_input(kwargs, x, error, message):
    with pytest.raises(error, match=message):
        train.predict_tta(linear_state(), x, **kwargs)
    with pytest.raises(TypeError, match="state must be a TrainState"):
        train.predict_tta(MLP(2, [2], 2, rngs=nnx.Rngs(0)), jnp.ones((2, 3, 4, 2)))


# ---------------------------------------------------------------------------- the scanned epoch body


def test_train_on_batches_is_k_steps_and_maps_over_models():
    """The core's one scan over steps: K train_steps in turn, and under vmap each model's own run
    (what leptonlab.search.train_epoch does with it)."""
    x, y = _blobs(64)
    batches = train.epoch_order(0, 64, 16, 0)  # [4, 16]

    def state_of(seed):
        return train.TrainState.create(_model(seed), optax.sgd(0.1), key=jax.random.key(seed))

    def zeros(shape=()):
        return {"loss": jnp.zeros(shape), "accuracy": jnp.zeros(shape)}

    run = jax.jit(train.core.train_on_batches, static_argnames="loss_fn")
    loss_fn = train.classification_loss
    scanned, sums = run(state_of(0), zeros(), (x, y), batches, loss_fn=loss_fn)
    stepped, total = state_of(0), 0.0
    for idx in batches:
        stepped, metrics = train.train_step(stepped, (x[idx], y[idx]), loss_fn)
        total += float(metrics["loss"].sum())
    assert int(scanned.step) == 4
    for a, b in zip(jax.tree.leaves(scanned.params), jax.tree.leaves(stepped.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(sums["loss"]), total, rtol=1e-5)

    one, two = state_of(0), state_of(1)
    two = two.replace(graphdef=one.graphdef, tx=one.tx)  # one static part for the stack
    stack = jax.tree.map(lambda a, b: jnp.stack([a, b]), one, two)  # each leaf [2, ...]
    both, both_sums = jax.vmap(
        lambda s, t: train.core.train_on_batches(s, t, (x, y), batches, loss_fn)
    )(stack, zeros((2,)))
    alone, alone_sums = run(two, zeros(), (x, y), batches, loss_fn=loss_fn)
    for a, b in zip(jax.tree.leaves(both.params), jax.tree.leaves(alone.params)):
        np.testing.assert_allclose(a[1], b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both_sums["accuracy"][1], alone_sums["accuracy"], rtol=1e-6)
    np.testing.assert_allclose(both_sums["loss"][0], sums["loss"], rtol=1e-5)
