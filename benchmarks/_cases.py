"""The benchmark cases: one per course model, each with its PyTorch twin.

A case builds synthetic data of the right shapes (throughput does not depend on
the pixel values, and the benchmark then needs no download), the leptonlab model
and loss, and, where PyTorch is installed, the identical network in PyTorch.
Every case trains with Adam (lr 1e-3) on ``batch_size`` examples per step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    """One model to benchmark. ``steps`` optimizer steps make one timed run."""

    name: str
    description: str
    batch_size: int
    steps: int
    make_data: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]  # (rng, n) -> (x, y)
    make_model: Callable[[], Any]  # -> nnx.Module
    loss_fn: Callable[..., Any]  # leptonlab loss_fn(model, batch, key)
    make_torch: Callable[[], tuple[Any, Callable[[Any, Any, Any], Any]]] | None  # -> (module, loss(model, xb, yb))
    torch_layout: Callable[[np.ndarray], np.ndarray] = lambda x: x  # e.g. NHWC -> NCHW
    steps_per_call: int = 0  # leptonlab's loop strategy: TrainConfig.steps_per_call (0 = by backend)
    compute_dtype: str = "float32"  # TrainConfig.compute_dtype ("bfloat16": bf16 compute, f32 master weights)


def _images(side: int, channels: int, classes: int):
    def make(rng: np.random.Generator, n: int):
        x = rng.normal(size=(n, side, side, channels)).astype(np.float32)  # [N, H, W, C]
        y = rng.integers(0, classes, size=n).astype(np.int32)  # [N]
        return x, y
    return make


def _nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # [N, H, W, C] -> [N, C, H, W]


def _torch_cross_entropy(model, xb, yb):
    import torch.nn.functional as F

    return F.cross_entropy(model(xb), yb.long())


# --- MLP (notebook 05): 784 -> 256 -> 128 -> 10 ---------------------------------

def _mlp():
    from flax import nnx

    from leptonlab.models import MLP

    return MLP(784, [256, 128], 10, rngs=nnx.Rngs(0))


def _torch_mlp():
    import torch.nn as nn

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    return model, _torch_cross_entropy


# --- MNIST CNN (notebook 08): conv32-pool-conv64-pool-dense256-10 ---------------

def _cnn():
    from flax import nnx

    from leptonlab.models import CNN

    return CNN(1, 10, image_size=28, rngs=nnx.Rngs(0))


def _torch_cnn():
    import torch.nn as nn

    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, _torch_cross_entropy


def _classification_loss():
    from leptonlab.train import classification_loss

    return classification_loss


CASES: dict[str, Callable[[bool], Case]] = {}


def case(name: str):
    def register(build: Callable[[bool], Case]):
        CASES[name] = build
        return build
    return register


@case("mlp")
def mlp_case(quick: bool) -> Case:
    return Case("mlp", "MLP 784-256-128-10, MNIST-sized input (notebook 05)", 128, 20 if quick else 200,
                _images(28, 1, 10), _mlp, _classification_loss(), _torch_mlp, _nchw)


@case("cnn")
def cnn_case(quick: bool) -> Case:
    return Case("cnn", "CNN conv32-conv64-dense256, 28x28x1 (notebook 08)", 128, 5 if quick else 60,
                _images(28, 1, 10), _cnn, _classification_loss(), _torch_cnn, _nchw)


@case("cnn-scan")
def cnn_scan_case(quick: bool) -> Case:
    """The CNN with 10 steps per compiled call (lax.scan): the loop strategy fit uses on accelerators."""
    return dataclasses.replace(cnn_case(quick), name="cnn-scan", steps_per_call=10, steps=10 if quick else 60,
                               description="the CNN, 10 steps per call with lax.scan (fit's GPU strategy)")


@case("cnn-bf16")
def cnn_bf16_case(quick: bool) -> Case:
    """The CNN computing in bfloat16 (float32 master weights); PyTorch stays float32."""
    return dataclasses.replace(cnn_case(quick), name="cnn-bf16", compute_dtype="bfloat16",
                               description="the CNN in bf16 compute (PyTorch reference in float32)")
