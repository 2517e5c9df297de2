"""Transfer learning and embeddings (notebook 17).

The careful transfer recipe (a pretrained backbone, a new pooling + dense head trained with
the backbone frozen, then fine-tuning everything with a small learning rate; the source's
MobileNetV2 recipe trains everything at once, see notebook 17), done with networks the
course trains itself:

    backbone = fit(CNN(3, 5, ...), classes_A)            # "pretraining"
    net = TransferNet(backbone_model, num_classes=5, key=...)
    state = head_state(net, config, n_train)               # only the head is trainable
    state, _ = fit(None, classes_B, config, state=state)   # backbone parameters unchanged
    state = finetune_state(state.model(), small_lr_config, n_train)   # then everything

and the face-recognition recipe made real: the pooled features are an **embedding**;
compare a probe's embedding with a gallery of enrolled ones by cosine similarity, accept
the best match when the similarity passes a threshold chosen from the ROC, and measure
verification accuracy on classes the network never saw in training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from leptonlab._curves import roc_curve
from leptonlab.models import count_params as count_params  # notebook 17: transfer.count_params
from leptonlab.train import TrainConfig, TrainState, make_optimizer


class TransferNet(nnx.Module):
    """A pretrained backbone with a new head: global average pooling -> dropout -> dense.

    ``backbone`` is any NNX module with a ``features(x)`` method returning feature maps
    ``[B, h, w, D]`` (like :class:`leptonlab.models.CNN`) or vectors ``[B, D]``; its old
    classification head is ignored. ``feature_dim`` is ``D``, the channels of those
    features (default: ``backbone.feature_dim``, which :class:`leptonlab.resnet.ResNet` has).
    ``x: [B, H, W, C] -> logits [B, num_classes]``; :meth:`embed` gives the pooled features ``[B, D]``.

    With ``frozen=True`` (:func:`freeze`) the backbone runs in evaluation mode (its batch
    statistics are used, not updated: what Keras gets from calling a frozen base with
    ``training=False``) and no gradient flows into it.
    """

    def __init__(
        self,
        backbone: nnx.Module,
        num_classes: int,
        *,
        feature_dim: int | None = None,
        dropout: float = 0.0,
        frozen: bool = True,
        key: jax.Array,
    ):
        if not callable(getattr(backbone, "features", None)):
            raise TypeError(
                f"the backbone needs a features(x) method (e.g. models.CNN), "
                f"got {type(backbone).__name__}."
            )
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}.")
        if feature_dim is None:
            feature_dim = getattr(backbone, "feature_dim", None)
        if not isinstance(feature_dim, int) or feature_dim < 1:
            raise ValueError(
                f"feature_dim must be the backbone's channel count (an int >= 1), got {feature_dim!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}.")
        self.backbone = backbone
        self.frozen = bool(frozen)
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(feature_dim, num_classes, rngs=nnx.Rngs(params=key))

    def embed(self, x: jax.Array) -> jax.Array:
        """Pooled backbone features ``[B, D]``: the embedding (no head, no dropout)."""
        if self.frozen:
            self.backbone.eval()  # batch norm uses its running statistics; nothing updates
        h = self.backbone.features(x)  # [B, h, w, D] or [B, D]
        if h.ndim == 4:
            h = h.mean(axis=(1, 2))  # global average pooling: [B, D]
        if h.ndim != 2:
            raise ValueError(
                f"backbone.features returned shape {h.shape}; expected [B, h, w, D] or [B, D]."
            )
        return jax.lax.stop_gradient(h) if self.frozen else h

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        h = self.dropout(self.embed(x), rngs=rngs)  # [B, D]
        return self.head(h)  # [B, num_classes]


def freeze(net: TransferNet, frozen: bool = True) -> TransferNet:
    """Mark the backbone of ``net`` frozen (or, ``frozen=False``, trainable); returns ``net``."""
    if not isinstance(net, TransferNet):
        raise TypeError(f"freeze expects a TransferNet, got {type(net).__name__}.")
    net.frozen = bool(frozen)
    return net


def _is_head(path: tuple) -> bool:
    return len(path) > 0 and path[0] == "head"


def masked_optimizer(
    tx: optax.GradientTransformation, params: nnx.State, trainable: Callable[[tuple], bool]
) -> optax.GradientTransformation:
    """``tx`` for the parameters whose path satisfies ``trainable``; zero updates for the rest.

    ``trainable(path)`` gets the parameter's path, e.g. ``("head", "kernel")``. Frozen
    parameters get no optimizer state and stay bit-for-bit unchanged (no weight decay
    either).
    """
    if not callable(trainable):
        raise TypeError(
            "trainable must be a function path -> bool, e.g. lambda path: path[0] == 'head'."
        )
    labels = nnx.from_flat_state(
        [(path, "train" if trainable(path) else "freeze") for path, _ in nnx.to_flat_state(params)]
    )
    return optax.multi_transform({"train": tx, "freeze": optax.set_to_zero()}, labels)


def train_state(
    model: nnx.Module,
    config: TrainConfig,
    n_train: int,
    *,
    trainable: Callable[[tuple], bool] | None = None,
) -> TrainState:
    """A fresh training state for ``fit(None, data, config, state=...)`` that updates only the
    parameters whose path passes ``trainable`` (all of them when None).

    The model's arrays are copied (``fit`` donates its state, which would otherwise delete
    the arrays of the model you passed). Only parameters are masked: batch-norm statistics
    still update in training mode, which is why :func:`head_state` also freezes the backbone.
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"train_state expects a flax.nnx.Module, got {type(model).__name__}.")
    if trainable is not None and not callable(trainable):
        raise TypeError("trainable must be a function path -> bool, or None.")
    return _state(model, config, n_train, trainable)


def _state(model: nnx.Module, config: TrainConfig, n_train: int, trainable) -> TrainState:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    if not isinstance(n_train, int) or n_train < 1:
        raise ValueError(
            f"n_train must be the number of training examples (an int >= 1), got {n_train!r}."
        )
    steps = n_train // min(config.batch_size, n_train)  # as fit counts them, for the schedule
    graphdef, arrays = nnx.split(model)
    model = nnx.merge(
        graphdef, jax.tree.map(jnp.copy, arrays)
    )  # fit donates the state: never alias the caller's arrays
    _, params, _ = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(config, steps)
    if trainable is not None:
        tx = masked_optimizer(tx, params, trainable)
    _, key = jax.random.split(jax.random.key(config.seed))  # the state key fit would draw
    return TrainState.create(model, tx, key=key, compute_dtype=config.compute_dtype)


def head_state(net: TransferNet, config: TrainConfig, n_train: int) -> TrainState:
    """A training state that trains only ``net.head`` (the backbone frozen): pass it to ``fit(None, ..., state=)``.

    ``n_train`` is the number of training examples (for the learning-rate schedule).
    """
    if not isinstance(net, TransferNet):
        raise TypeError(f"head_state expects a TransferNet, got {type(net).__name__}.")
    return _state(freeze(net, True), config, n_train, _is_head)


def finetune_state(net: TransferNet, config: TrainConfig, n_train: int) -> TrainState:
    """A training state that trains every parameter of ``net`` (backbone unfrozen).

    Use a learning rate well below the pretraining one: large steps destroy what the
    backbone learned before the new head has settled.
    """
    if not isinstance(net, TransferNet):
        raise TypeError(f"finetune_state expects a TransferNet, got {type(net).__name__}.")
    return _state(freeze(net, False), config, n_train, None)


def embed(model: nnx.Module | TrainState, x, *, batch_size: int = 1000) -> jax.Array:
    """Embeddings ``[N, D]`` float32 of images ``x: [N, H, W, C]``: ``model.embed`` in evaluation mode.

    ``model`` is a :class:`TransferNet` (or anything with an ``embed`` method), or the
    :class:`~leptonlab.train.TrainState` of one.
    """
    if isinstance(model, TrainState):
        model = model.model()
    if not callable(getattr(model, "embed", None)):
        raise TypeError(
            f"embed needs a model with an embed(x) method (a TransferNet), got {type(model).__name__}."
        )
    x = jnp.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"embed needs a non-empty batch [N, ...], got shape {x.shape}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    graphdef, state = nnx.split(model)

    @jax.jit
    def run(state, xb):
        m = nnx.merge(graphdef, state)
        m.eval()
        return m.embed(xb).astype(jnp.float32)

    return jnp.concatenate(
        [run(state, x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    )


def _matrix(a, name: str) -> jax.Array:
    a = jnp.asarray(a)
    if a.ndim != 2 or a.shape[0] == 0 or not jnp.issubdtype(a.dtype, jnp.floating):
        raise ValueError(
            f"{name} must be a non-empty float matrix [N, D] of embeddings, got {a.shape} {a.dtype}."
        )
    return a


def normalize(a, *, eps: float = 1e-8) -> jax.Array:
    """Rows of ``a: [N, D]`` scaled to unit length (rows of zeros stay zero)."""
    a = _matrix(a, "a")
    return a / jnp.maximum(jnp.linalg.norm(a, axis=1, keepdims=True), eps)


def cosine_similarity(a, b) -> jax.Array:
    """``[N, M]`` cosine of the angle between every row of ``a: [N, D]`` and of ``b: [M, D]``.

    ``a_i . b_j / (|a_i| |b_j|)``, in ``[-1, 1]``; 1 = same direction.
    """
    a, b = _matrix(a, "a"), _matrix(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same embedding size D, got {a.shape[1]} and {b.shape[1]}."
        )
    return normalize(a) @ normalize(b).T


class Gallery(NamedTuple):
    """Enrolled identities: one unit-length template per class."""

    templates: jax.Array  # [K, D] mean embedding of each class's enrolment images, normalised
    labels: np.ndarray  # [K] int: the class of each template


def enroll(embeddings, labels) -> Gallery:
    """A gallery from enrolment embeddings ``[N, D]`` and their labels ``[N]``: one mean template per class."""
    e = normalize(embeddings)
    labels = np.asarray(labels)
    if labels.shape != (e.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be [N] ints for the N = {e.shape[0]} embeddings, got {labels.shape} "
            f"{labels.dtype}."
        )
    classes = np.unique(labels)
    templates = jnp.stack([e[labels == c].mean(axis=0) for c in classes])  # [K, D]
    return Gallery(normalize(templates), classes)


class Pairs(NamedTuple):
    """Verification trials: the similarity of each (probe, template) pair and whether they match."""

    scores: np.ndarray  # [N * K] cosine similarity
    same: np.ndarray  # [N * K] bool: probe and template are the same class


def verification_pairs(probes, probe_labels, gallery: Gallery) -> Pairs:
    """Every probe ``[N, D]`` against every template of ``gallery``: ``N * K`` trials, N of them genuine."""
    sims = np.asarray(cosine_similarity(probes, gallery.templates))  # [N, K]
    probe_labels = np.asarray(probe_labels)
    if probe_labels.shape != (sims.shape[0],):
        raise ValueError(
            f"probe_labels must be [N] for the N = {sims.shape[0]} probes, got {probe_labels.shape}."
        )
    same = probe_labels[:, None] == np.asarray(gallery.labels)[None, :]  # [N, K]
    return Pairs(sims.reshape(-1), same.reshape(-1))


def best_threshold(scores, same) -> float:
    """The similarity threshold on the ROC curve of ``(same, scores)`` that maximises ``TPR - FPR``.

    That is the point farthest above the diagonal (Youden's J), which maximises the
    **balanced** accuracy ``(TPR + TNR) / 2``: right for verification, where impostor
    trials outnumber genuine ones ``K - 1`` to 1 and plain accuracy would reward
    rejecting everybody.
    """
    fpr, tpr, thresholds = roc_curve(same, scores)
    best = int(np.argmax(tpr - fpr))
    return float(thresholds[best])


def verification_accuracy(scores, same, threshold: float) -> float:
    """Balanced accuracy ``(TPR + TNR) / 2`` of accepting ``scores >= threshold`` as a match; 0.5 is chance."""
    scores, same = np.asarray(scores), np.asarray(same, bool)
    if scores.shape != same.shape or scores.ndim != 1 or same.all() or not same.any():
        raise ValueError(
            f"need scores [T] and same [T] with both genuine and impostor trials, got {scores.shape} "
            f"and {same.shape} ({int(same.sum())} genuine)."
        )
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}.")
    accept = scores >= threshold
    return float((accept[same].mean() + (~accept[~same]).mean()) / 2)


def identify(probes, gallery: Gallery, threshold: float) -> np.ndarray:
    """The face-recognition decision: each probe's best-matching class, or -1 ("unknown").

    ``probes: [N, D]``; a probe is identified as the gallery class of highest cosine
    similarity when that similarity is ``>= threshold``.
    """
    sims = np.asarray(cosine_similarity(probes, gallery.templates))  # [N, K]
    best = sims.argmax(axis=1)
    return np.where(sims.max(axis=1) >= threshold, np.asarray(gallery.labels)[best], -1)


def pca(x, k: int = 2) -> np.ndarray:
    """Project ``x: [N, D]`` on its top-``k`` principal components: ``[N, k]`` (for plotting embeddings)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"pca needs at least two rows [N, D], got shape {x.shape}.")
    if not isinstance(k, int) or not 1 <= k <= min(x.shape):
        raise ValueError(f"k must be an int in 1..{min(x.shape)}, got {k!r}.")
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T


def remap_labels(labels, classes: Sequence[int]) -> np.ndarray:
    """Labels from ``classes`` renumbered 0..len(classes)-1 in that order (to train a 5-class head)."""
    labels = np.asarray(labels)
    classes = list(classes)
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct and non-empty, got {classes!r}.")
    lookup = {c: i for i, c in enumerate(classes)}
    missing = set(np.unique(labels).tolist()) - set(lookup)
    if missing:
        raise ValueError(
            f"labels {sorted(missing)} are not in classes {classes}: select those examples first."
        )
    return (
        np.vectorize(lookup.__getitem__, otypes=[np.int32])(labels)
        if labels.size
        else labels.astype(np.int32)
    )


def class_subset(labels, classes: Sequence[int], per_class: int, *, key: jax.Array) -> np.ndarray:
    """Indices of ``per_class`` random examples of each class in ``classes``, shuffled: ``[K * per_class]`` int.

    ``labels: [N]`` int. Raises when a class has fewer than ``per_class`` examples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be [N] ints, got shape {labels.shape} and dtype {labels.dtype}."
        )
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be an int >= 1, got {per_class!r}.")
    keys = jax.random.split(key, len(classes) + 1)
    chosen = []
    for c, k in zip(classes, keys[:-1]):
        members = np.nonzero(labels == c)[0]
        if members.size < per_class:
            raise ValueError(
                f"class {c} has {members.size} examples, fewer than per_class={per_class}."
            )
        chosen.append(members[np.asarray(jax.random.permutation(k, members.size))[:per_class]])
    picked = np.concatenate(chosen)
    return picked[np.asarray(jax.random.permutation(keys[-1], picked.size))]


__all__ = [  # the public names (explicit re-exports and definitions)
    "best_threshold",
    "class_subset",
    "cosine_similarity",
    "count_params",
    "embed",
    "enroll",
    "finetune_state",
    "freeze",
    "Gallery",
    "head_state",
    "identify",
    "masked_optimizer",
    "normalize",
    "Pairs",
    "pca",
    "remap_labels",
    "train_state",
    "TransferNet",
    "verification_accuracy",
    "verification_pairs",
]
