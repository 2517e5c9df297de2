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
    make_data: Callable[
        [np.random.Generator, int], tuple[np.ndarray, np.ndarray]
    ]  # (rng, n) -> (x, y)
    make_model: Callable[..., Any]  # (**Target.model_options, e.g. dropout=) -> nnx.Module
    loss_fn: Callable[..., Any]  # leptonlab loss_fn(model, batch, key)
    make_torch: (
        Callable[..., tuple[Any, Callable[[Any, Any, Any], Any]]] | None
    )  # -> (module, loss(model, xb, yb))
    torch_layout: Callable[[np.ndarray], np.ndarray] = lambda x: x  # e.g. NHWC -> NCHW
    steps_per_call: int = (
        0  # leptonlab's loop strategy: TrainConfig.steps_per_call (0 = by backend)
    )
    compute_dtype: str = (
        "float32"  # TrainConfig.compute_dtype ("bfloat16": bf16 compute, f32 master weights)
    )
    trainer: str = (
        "fit"  # which course loop is timed: "fit" (leptonlab.train.fit) or "fit_mf" (recsys.fit_mf)
    )


def _images(side: int, channels: int, classes: int):
    def make(rng: np.random.Generator, n: int):
        x = rng.normal(size=(n, side, side, channels)).astype(np.float32)  # [N, H, W, C]
        y = rng.integers(0, classes, size=n).astype(np.int32)  # [N]
        return x, y

    return make


def _nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # [N, H, W, C] -> [N, C, H, W]


def channels_last(model, *images):
    """``model`` and its 4-D inputs in PyTorch's channels-last layout ([N, H, W, C] in memory), the layout in
    which PyTorch's CPU convolutions take oneDNN's fast path; other tensors are returned as they are."""
    import torch

    return (
        model.to(memory_format=torch.channels_last),
        *(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in images),
    )


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

    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    return model, _torch_cross_entropy


# --- MNIST CNN (notebook 08): conv32-pool-conv64-pool-dense256-10 ---------------


def _cnn():
    from flax import nnx

    from leptonlab.models import CNN

    return CNN(1, 10, image_size=28, rngs=nnx.Rngs(0))


def _torch_cnn():
    import torch.nn as nn

    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    return model, _torch_cross_entropy


# --- character GRU (notebook 11, full configuration): embed 64, GRU 512, 65 characters ---

CHARS, SEQ_LEN, CHAR_EMBED, CHAR_HIDDEN = 65, 128, 64, 512


def _windows(rng: np.random.Generator, n: int, length: int):
    ids = rng.integers(0, CHARS, size=(n, length + 1)).astype(np.int32)  # [N, T + 1]
    return ids[:, :-1], ids[:, 1:]  # inputs and next characters, each [N, T]


def _char_windows(rng: np.random.Generator, n: int):
    return _windows(rng, n, SEQ_LEN)


def _char_gru(dropout: float = 0.0):
    from flax import nnx

    from leptonlab.recurrent import CharRNN

    return CharRNN(
        CHARS, CHAR_HIDDEN, cell="gru", embed=CHAR_EMBED, dropout=dropout, rngs=nnx.Rngs(0)
    )


def _torch_char_gru(dropout: float = 0.0):
    import torch.nn as nn
    import torch.nn.functional as F

    # dropout where CharRNN has it: on the embeddings and on the GRU's outputs
    class CharGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(CHARS, CHAR_EMBED)
            self.gru = nn.GRU(CHAR_EMBED, CHAR_HIDDEN, batch_first=True)
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(CHAR_HIDDEN, CHARS)

        def forward(self, x):
            h, _ = self.gru(self.dropout(self.embedding(x.long())))  # [B, T, H]
            return self.head(self.dropout(h))  # [B, T, V]

    def loss(model, xb, yb):
        return F.cross_entropy(model(xb).reshape(-1, CHARS), yb.reshape(-1).long())

    return CharGRU(), loss


def _lm_loss():
    from leptonlab.recurrent import lm_loss

    return lm_loss


# --- character GPT (notebook 12, nanoGPT's CPU configuration): 4 blocks, 4 heads, width 128, context 64 ---

GPT_CONTEXT, GPT_WIDTH, GPT_HEADS, GPT_LAYERS = 64, 128, 4, 4


def _gpt_windows(rng: np.random.Generator, n: int):
    return _windows(rng, n, GPT_CONTEXT)


def _gpt(dropout: float = 0.0):
    from flax import nnx

    from leptonlab.attention import GPT, GPTConfig

    return GPT(
        GPTConfig(
            CHARS,
            context=GPT_CONTEXT,
            width=GPT_WIDTH,
            heads=GPT_HEADS,
            layers=GPT_LAYERS,
            dropout=dropout,
        ),
        rngs=nnx.Rngs(0),
    )


def _torch_gpt(dropout: float = 0.0):
    """leptonlab.attention.GPT in PyTorch: learned positions, pre-norm blocks (LayerNorm eps 1e-6 as Flax's),
    biased q/k/v/out projections, a tanh-GELU MLP of 4x the width, a final LayerNorm and a linear head; the
    attention is PyTorch's own fused ``scaled_dot_product_attention`` with ``is_causal=True``."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = (
                nn.LayerNorm(GPT_WIDTH, eps=1e-6),
                nn.LayerNorm(GPT_WIDTH, eps=1e-6),
            )
            self.q, self.k, self.v, self.o = (nn.Linear(GPT_WIDTH, GPT_WIDTH) for _ in range(4))
            self.fc, self.proj = (
                nn.Linear(GPT_WIDTH, 4 * GPT_WIDTH),
                nn.Linear(4 * GPT_WIDTH, GPT_WIDTH),
            )
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):  # [B, T, D]
            b, t, d = x.shape
            a = self.ln1(x)
            q, k, v = (
                f(a).view(b, t, GPT_HEADS, d // GPT_HEADS).transpose(1, 2)
                for f in (self.q, self.k, self.v)
            )
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [B, H, T, Dh]
            x = x + self.dropout(self.o(a.transpose(1, 2).reshape(b, t, d)))
            return x + self.dropout(self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh")))

    class CharGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding, self.position = (
                nn.Embedding(CHARS, GPT_WIDTH),
                nn.Embedding(GPT_CONTEXT, GPT_WIDTH),
            )
            self.blocks = nn.Sequential(*(Block() for _ in range(GPT_LAYERS)))
            self.ln_f, self.head = nn.LayerNorm(GPT_WIDTH, eps=1e-6), nn.Linear(GPT_WIDTH, CHARS)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):  # [B, T] ids -> [B, T, V]
            pos = torch.arange(x.shape[1], device=x.device)
            h = self.dropout(self.embedding(x.long()) + self.position(pos)[None])
            return self.head(self.ln_f(self.blocks(h)))

    def loss(model, xb, yb):
        return F.cross_entropy(model(xb).reshape(-1, CHARS), yb.reshape(-1).long())

    return CharGPT(), loss


# --- CIFAR ResNet (notebook 16, CPU configuration): width 32, stages (2, 2, 2), stem stride 2 ---


def _resnet():
    from flax import nnx

    from leptonlab.models import ResNet

    return ResNet(10, width=32, stages=(2, 2, 2), stem_stride=2, rngs=nnx.Rngs(0))


def _torch_resnet(
    width: int = 32,
    stages: tuple[int, ...] = (2, 2, 2),
    stem_stride: int = 2,
    zero_init: bool = True,
):
    """The twin of ``leptonlab.models.ResNet(10, width=, stages=, stem_stride=, zero_init=)`` in
    PyTorch (NCHW), initialised alike where it changes training: with ``zero_init`` (leptonlab's
    default) each block's last batch-norm scale starts at 0, so every block starts as the identity.
    """
    import torch.nn as nn

    def conv_bn(a, b, k, stride):
        return [nn.Conv2d(a, b, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(b)]

    class Block(nn.Module):
        def __init__(self, a, b, stride):
            super().__init__()
            self.body = nn.Sequential(*conv_bn(a, b, 3, stride), nn.ReLU(), *conv_bn(b, b, 3, 1))
            if zero_init:
                nn.init.zeros_(self.body[-1].weight)  # the last batch norm's scale
            self.shortcut = (
                nn.Sequential(*conv_bn(a, b, 1, stride))
                if (stride != 1 or a != b)
                else nn.Identity()
            )

        def forward(self, x):
            return (self.body(x) + self.shortcut(x)).relu()

    layers, channels = [*conv_bn(3, width, 3, stem_stride), nn.ReLU()], width
    for i, n in enumerate(stages):
        for j in range(n):
            out = width * 2**i
            layers.append(Block(channels, out, 2 if (i > 0 and j == 0) else 1))
            channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10)]
    return nn.Sequential(*layers), _torch_cross_entropy


# --- biased matrix factorisation (notebook 14): rank 128, MovieLens-100K-sized, full batch ---

MF_USERS, MF_ITEMS, MF_RANK = 943, 1682, 128


def _ratings(rng: np.random.Generator, n: int):
    pairs = np.stack([rng.integers(0, MF_USERS, n), rng.integers(0, MF_ITEMS, n)], axis=1).astype(
        np.int32
    )  # [N, 2]
    return pairs, rng.integers(1, 6, size=n).astype(np.float32)  # (user, item) rows and 1..5 stars


def _torch_mf():
    import torch
    import torch.nn as nn

    class BiasedMF(nn.Module):
        def __init__(self):
            super().__init__()
            self.p, self.q = nn.Embedding(MF_USERS, MF_RANK), nn.Embedding(MF_ITEMS, MF_RANK)
            self.bu, self.bi = nn.Embedding(MF_USERS, 1), nn.Embedding(MF_ITEMS, 1)
            for table in (self.p, self.q):
                nn.init.normal_(table.weight, std=0.1)
            for table in (self.bu, self.bi):
                nn.init.zeros_(table.weight)

        def forward(self, pairs):
            u, i = pairs[:, 0].long(), pairs[:, 1].long()
            p, q, bu, bi = self.p(u), self.q(i), self.bu(u)[:, 0], self.bi(i)[:, 0]
            return 3.0 + bu + bi + (p * q).sum(-1), p, q, bu, bi

    def loss(
        model, xb, yb
    ):  # the same objective as leptonlab.recsys.mf_loss (l2 0.05, l2_bias 0.005)
        pred, p, q, bu, bi = model(xb)
        penalty = 0.05 * ((p * p).sum(-1) + (q * q).sum(-1)) + 0.005 * (bu * bu + bi * bi)
        return torch.mean((pred - yb) ** 2 + penalty)

    return BiasedMF(), loss


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
    return Case(
        "mlp",
        "MLP 784-256-128-10, MNIST-sized input (notebook 05)",
        128,
        20 if quick else 200,
        _images(28, 1, 10),
        _mlp,
        _classification_loss(),
        _torch_mlp,
        _nchw,
    )


@case("cnn")
def cnn_case(quick: bool) -> Case:
    return Case(
        "cnn",
        "CNN conv32-conv64-dense256, 28x28x1 (notebook 08)",
        128,
        5 if quick else 60,
        _images(28, 1, 10),
        _cnn,
        _classification_loss(),
        _torch_cnn,
        _nchw,
    )


@case("cnn-scan")
def cnn_scan_case(quick: bool) -> Case:
    """The CNN with 10 steps per compiled call (lax.scan): the loop strategy fit uses on accelerators."""
    return dataclasses.replace(
        cnn_case(quick),
        name="cnn-scan",
        steps_per_call=10,
        steps=10 if quick else 60,
        description="the CNN, 10 steps per call with lax.scan (fit's GPU strategy)",
    )


@case("cnn-bf16")
def cnn_bf16_case(quick: bool) -> Case:
    """The CNN computing in bfloat16 (float32 master weights); PyTorch stays float32."""
    return dataclasses.replace(
        cnn_case(quick),
        name="cnn-bf16",
        compute_dtype="bfloat16",
        description="the CNN in bf16 compute (PyTorch reference in float32)",
    )


@case("char-gru")
def char_gru_case(quick: bool) -> Case:
    return Case(
        "char-gru",
        f"character GRU {CHAR_HIDDEN} units, {SEQ_LEN} characters per window (notebook 11)",
        64,
        2 if quick else 10,
        _char_windows,
        _char_gru,
        _lm_loss(),
        _torch_char_gru,
    )


@case("gpt")
def gpt_case(quick: bool) -> Case:
    return Case(
        "gpt",
        f"character GPT {GPT_LAYERS} blocks, {GPT_HEADS} heads, width {GPT_WIDTH}, context {GPT_CONTEXT} "
        "(notebook 12)",
        32,
        3 if quick else 20,
        _gpt_windows,
        _gpt,
        _lm_loss(),
        _torch_gpt,
    )


@case("resnet")
def resnet_case(quick: bool) -> Case:
    return Case(
        "resnet",
        "ResNet width 32, stages (2, 2, 2), 32x32x3 (notebook 16 on a CPU)",
        128,
        3 if quick else 20,
        _images(32, 3, 10),
        _resnet,
        _classification_loss(),
        _torch_resnet,
        _nchw,
    )


@case("mf")
def mf_case(quick: bool) -> Case:
    """Full-batch biased MF: one optimizer step sees every rating (80,000, MovieLens-100K's u1.base)."""
    return Case(
        "mf",
        f"biased MF rank {MF_RANK}, {MF_USERS} users x {MF_ITEMS} items, full batch (notebook 14)",
        80_000,
        3 if quick else 50,
        _ratings,
        lambda: None,
        None,
        _torch_mf,
        trainer="fit_mf",
    )
