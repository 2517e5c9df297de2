"""Transfer learning (frozen backbone + new head, fine-tuning) and embedding verification."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from leptonlab import transfer
from leptonlab.models import CNN
from leptonlab.train import TrainConfig, fit

CONFIG = TrainConfig(epochs=2, batch_size=8, learning_rate=1e-2, progress=False)


def toy_data(n=32):
    x = jax.random.uniform(jax.random.key(0), (n, 8, 8, 3))
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 1].mean(axis=(1, 2))).astype(
        jnp.int32
    )  # red vs green
    return x, y


def make_net(batch_norm=False):
    cnn = CNN(3, 3, image_size=8, channels=(4,), dense=8, batch_norm=batch_norm, rngs=nnx.Rngs(0))
    return transfer.TransferNet(cnn, 2, feature_dim=4, key=jax.random.key(1))


def flat(state):
    return {
        path: np.array(v.get_value() if isinstance(v, nnx.Variable) else v)
        for path, v in nnx.to_flat_state(state)
    }


@pytest.mark.parametrize("batch_norm", [False, True])
def test_head_training_leaves_the_backbone_unchanged(batch_norm):
    state = transfer.head_state(make_net(batch_norm), CONFIG, 32)
    before_params, before_rest = (
        flat(state.params),
        flat(state.rest),
    )  # copies: fit donates the state
    state, history = fit(None, toy_data(), CONFIG, state=state)
    after_params, after_rest = flat(state.params), flat(state.rest)
    changed = {
        path
        for path in before_params
        if not np.array_equal(before_params[path], after_params[path])
    }
    assert changed == {("head", "kernel"), ("head", "bias")}
    for path in before_rest:  # batch statistics of a frozen backbone are not updated either
        assert np.array_equal(before_rest[path], after_rest[path]), path
    assert np.isfinite(history["train_loss"]).all()


def test_finetuning_trains_the_backbone_too():
    state = transfer.head_state(make_net(), CONFIG, 32)
    state, _ = fit(None, toy_data(), CONFIG, state=state)
    net = state.model()
    state = transfer.finetune_state(net, CONFIG, 32)
    assert not state.model().frozen
    before = flat(state.params)
    state, _ = fit(None, toy_data(), CONFIG, state=state)
    after = flat(state.params)
    assert not np.array_equal(
        before[("backbone", "convs", 0, "kernel")], after[("backbone", "convs", 0, "kernel")]
    )
    assert not np.array_equal(before[("head", "kernel")], after[("head", "kernel")])


def test_embed_and_count_params():
    net = make_net()
    x, _ = toy_data(10)
    e = transfer.embed(net, x, batch_size=4)
    assert e.shape == (10, 4) and e.dtype == jnp.float32
    want = net.backbone.features(x).mean(axis=(1, 2))  # global average pooling of the conv maps
    np.testing.assert_allclose(e, want, rtol=1e-5, atol=1e-6)
    _, params, _ = nnx.split(net, nnx.Param, ...)
    assert transfer.count_params(params, lambda path: path[0] == "head") == 4 * 2 + 2


def test_transfer_bad_input():
    with pytest.raises(TypeError, match="features"):
        transfer.TransferNet(
            nnx.Linear(2, 2, rngs=nnx.Rngs(0)), 2, feature_dim=2, key=jax.random.key(0)
        )
    cnn = CNN(3, 3, image_size=8, channels=(4,), dense=8, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="num_classes"):
        transfer.TransferNet(cnn, 1, feature_dim=4, key=jax.random.key(0))
    with pytest.raises(ValueError, match="n_train"):
        transfer.head_state(make_net(), CONFIG, 0)
    with pytest.raises(TypeError, match="TransferNet"):
        transfer.head_state(cnn, CONFIG, 10)
    with pytest.raises(TypeError, match="embed"):
        transfer.embed(cnn, jnp.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="not in classes"):
        transfer.remap_labels(np.array([5, 6, 7]), [5, 6])
    with pytest.raises(TypeError, match="TransferNet"):
        transfer.freeze(cnn)
    with pytest.raises(TypeError, match="trainable"):
        transfer.masked_optimizer(optax.sgd(0.1), nnx.state(cnn, nnx.Param), "head")
    with pytest.raises(ValueError, match="labels"):
        transfer.enroll(jnp.ones((3, 2)), np.array([0, 1]))
    gallery = transfer.enroll(jnp.ones((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="probe_labels"):
        transfer.verification_pairs(jnp.ones((3, 2)), np.array([0, 1]), gallery)
    with pytest.raises(ValueError, match="same embedding size"):
        transfer.identify(jnp.ones((3, 5)), gallery, 0.5)


def test_cosine_similarity_by_hand():
    a = jnp.array([[1.0, 0.0], [1.0, 1.0]])
    b = jnp.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(
        transfer.cosine_similarity(a, b), [[1, 0, -1], [s, s, -s]], atol=1e-6
    )
    with pytest.raises(ValueError, match="same embedding size"):
        transfer.cosine_similarity(a, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="float matrix"):
        transfer.cosine_similarity(jnp.ones(3), b)


def test_gallery_verification_and_identification():
    # two enrolled classes along the axes; probes near them, one probe of an unknown class
    enrol = jnp.array([[1.0, 0.1], [1.0, -0.1], [0.0, 2.0]])
    gallery = transfer.enroll(enrol, np.array([3, 3, 7]))
    np.testing.assert_array_equal(gallery.labels, [3, 7])
    np.testing.assert_allclose(gallery.templates, [[1, 0], [0, 1]], atol=1e-6)
    probes = jnp.array([[0.9, 0.2], [0.1, 1.0], [-1.0, -1.0]])
    pairs = transfer.verification_pairs(probes, np.array([3, 7, 9]), gallery)
    assert pairs.scores.shape == (6,) and pairs.same.tolist() == [
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    threshold = transfer.best_threshold(pairs.scores, pairs.same)
    # the genuine scores are the two highest: the best threshold accepts exactly them
    assert transfer.verification_accuracy(pairs.scores, pairs.same, threshold) == 1.0
    assert (
        transfer.verification_accuracy(pairs.scores, pairs.same, 2.0) == 0.5
    )  # reject all: chance
    np.testing.assert_array_equal(transfer.identify(probes, gallery, threshold), [3, 7, -1])
    with pytest.raises(ValueError, match="genuine"):
        transfer.verification_accuracy(pairs.scores, np.zeros(6, bool), 0.5)


def test_pca_finds_the_direction_of_largest_variance():
    t = np.linspace(-1, 1, 50)
    x = np.stack([t, 2 * t, np.zeros_like(t)], axis=1)  # all variance along (1, 2, 0)
    z = transfer.pca(x, 2)
    assert z.shape == (50, 2)
    np.testing.assert_allclose(np.abs(z[:, 0]), np.abs(t) * np.sqrt(5), rtol=1e-6)
    np.testing.assert_allclose(z[:, 1], 0, atol=1e-9)
    with pytest.raises(ValueError, match="k must be"):
        transfer.pca(x, 4)


def test_remap_labels():
    np.testing.assert_array_equal(
        transfer.remap_labels(np.array([7, 5, 9, 5]), [5, 7, 9]), [1, 0, 2, 0]
    )


def test_check_cosine_similarity(capsys):
    from leptonlab import checks

    def reference(a, b):
        return transfer.cosine_similarity(jnp.asarray(a), jnp.asarray(b))

    checks.cosine_similarity(reference)
    assert "✓ cosine_similarity" in capsys.readouterr().out

    def stub(a, b):
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed, match="not written yet"):
        checks.cosine_similarity(stub)
    with pytest.raises(checks.CheckFailed, match="plain dot products"):
        checks.cosine_similarity(lambda a, b: a @ b.T)
    with pytest.raises(checks.CheckFailed, match="only one"):
        checks.cosine_similarity(lambda a, b: a @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T)
    with pytest.raises(checks.CheckFailed, match=r"\[M, N\]"):
        checks.cosine_similarity(lambda a, b: reference(b, a))


def test_check_threshold_from_roc(capsys):
    from leptonlab import checks

    checks.threshold_from_roc(lambda fpr, tpr, thr: thr[np.argmax(tpr - fpr)])
    assert "✓ threshold_from_roc" in capsys.readouterr().out

    def stub(fpr, tpr, thr):
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed, match="not written yet"):
        checks.threshold_from_roc(stub)
    with pytest.raises(checks.CheckFailed, match="index"):
        checks.threshold_from_roc(lambda fpr, tpr, thr: np.argmax(tpr - fpr))
    with pytest.raises(checks.CheckFailed, match="accepts everything"):
        checks.threshold_from_roc(lambda fpr, tpr, thr: thr[np.argmax(tpr + fpr)])


def test_class_subset():
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    idx = transfer.class_subset(labels, [0, 2], 2, key=jax.random.key(0))
    assert sorted(labels[idx].tolist()) == [0, 0, 2, 2] and len(set(idx.tolist())) == 4
    same = transfer.class_subset(labels, [0, 2], 2, key=jax.random.key(0))
    np.testing.assert_array_equal(idx, same)
    with pytest.raises(ValueError, match="fewer than"):
        transfer.class_subset(labels, [1], 4, key=jax.random.key(0))


def test_masking_the_optimizer_alone_lets_batch_norm_drift():
    # the half-freeze of notebook 17: parameters masked, but the backbone left in training mode
    net = transfer.freeze(make_net(batch_norm=True), False)
    state = transfer.train_state(net, CONFIG, 32, trainable=lambda path: path[0] == "head")
    before_params, before_rest = flat(state.params), flat(state.rest)
    state, _ = fit(None, toy_data(), CONFIG, state=state)
    after_params, after_rest = flat(state.params), flat(state.rest)
    assert all(
        np.array_equal(before_params[p], after_params[p])
        for p in before_params
        if p[0] == "backbone"
    )
    assert any(not np.array_equal(before_rest[p], after_rest[p]) for p in before_rest)
    with pytest.raises(TypeError, match="trainable"):
        transfer.train_state(net, CONFIG, 32, trainable="head")
