"""``python -m benchmarks.cifar10 [--epochs 40] [--json out.json]``: notebook 16's CIFAR-10 recipe, timed.

Trains notebook 16's full recipe (a ResNet with batch norm, pad-crop and mirror augmentation,
label smoothing 0.1, SGD with momentum, weight decay, a one-cycle schedule, bf16 compute) on
the CIFAR-10 data leptonlab finds (the official archive, or offline the PNG subset: it says
which) and reports what fast-training benchmarks report:

- the test accuracy after every epoch, with and without mirror test-time augmentation at the end;
- time to accuracy (wall-clock seconds from the start of ``fit``, compilation and the
  per-epoch evaluation included, as ``leptonlab.train.time_to_accuracy`` counts them);
- steady training throughput (an epoch's seconds without its evaluation), compile time;
- FLOP utilisation: XLA's count of one training step's floating-point operations times the
  steps per second, against the chip's dense bf16 peak where the chip is known.

With ``--pytorch`` the same recipe also trains in PyTorch eager (the same network, augmentation,
loss, optimizer and schedule; bf16 autocast on CUDA), each side in its own process, and the
report adds PyTorch's accuracy, time to accuracy and the throughput ratio.

The defaults are notebook 16's GPU settings; its CPU settings are
``--width 32 --stages 2,2,2 --stem-stride 2 --batch-size 128 --learning-rate 0.2 --epochs 20
--compute-dtype float32``.

A machine without the dataset (a borrowed GPU with no internet) can be given the decoded arrays:
``--pack-arrays cifar.npz.xz [--train-images 10000]`` writes the training images (or a balanced
subset of them) and the test split into one xz-compressed file (the 10,000 + 10,000 images
take about 46 MB), and ``--arrays cifar.npz.xz`` trains on them there; the report names the
file and the SHA-256 of its arrays, so the two machines' data can be compared.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import lzma
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# Dense (no sparsity) bf16 matrix peak, FLOP/s, from the vendors' datasheets; the first
# substring found in JAX's ``device_kind`` wins, so the PCIe H100 comes before the SXM one.
PEAK_BF16_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10G", 70e12),
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Notebook 16's full GPU recipe; every field is a command-line option."""

    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 0.4  # one-cycle peak
    width: int = 64  # channels of the first stage (ResNet-18 style: 64, 128, 256, 512)
    stages: tuple[int, ...] = (2, 2, 2, 2)  # residual blocks per stage
    stem_stride: int = 1
    smoothing: float = 0.1
    weight_decay: float = 5e-4
    compute_dtype: str = "bfloat16"
    steps_per_call: int = 0  # TrainConfig.steps_per_call (0: by backend)
    seed: int = 0


def peak_flops(device_kind: str, compute_dtype: str) -> float | None:
    """The chip's dense bf16 peak in FLOP/s, or None (unknown chip, or not bf16 compute)."""
    if compute_dtype != "bfloat16":
        return None
    return next((peak for name, peak in PEAK_BF16_FLOPS if name in device_kind), None)


def _sub_jaxprs(value):
    """The jaxprs inside an equation's parameter (pjit, custom_vjp_call, remat, ...)."""
    for item in value if isinstance(value, (list, tuple)) else (value,):
        if hasattr(item, "eqns"):
            yield item
        elif hasattr(getattr(item, "jaxpr", None), "eqns"):
            yield item.jaxpr


def jaxpr_flops(jaxpr) -> float:
    """Floating-point operations of the matrix products and convolutions in ``jaxpr`` (2 per multiply-add).

    Only one branch of a ``cond`` runs (the largest is counted: ``lax.platform_dependent``
    compiles to one); a ``scan`` body counts ``length`` times.
    """
    total = 0.0
    for eqn in jaxpr.eqns:
        name, params = eqn.primitive.name, eqn.params
        if name == "conv_general_dilated":
            kernel = eqn.invars[
                1
            ].aval.shape  # [O, I, kh, kw] in some order; out channels at rhs_spec[0]
            per_output = np.prod(kernel) / kernel[params["dimension_numbers"].rhs_spec[0]]
            total += 2.0 * np.prod(eqn.outvars[0].aval.shape) * per_output
        elif name == "dot_general":
            (contracting, _), _ = params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += (
                2.0 * np.prod(eqn.outvars[0].aval.shape) * np.prod([lhs[d] for d in contracting])
            )
        elif name == "cond":
            total += max(jaxpr_flops(branch.jaxpr) for branch in params["branches"])
        elif name == "scan":
            total += params["length"] * jaxpr_flops(params["jaxpr"].jaxpr)
        else:
            total += sum(
                jaxpr_flops(sub) for value in params.values() for sub in _sub_jaxprs(value)
            )
    return float(total)


def forward_flops(model, x) -> float:
    """FLOPs of ``model(x)`` (evaluation mode) in its products and convolutions, counted from its jaxpr.

    A training step is counted as 3x the forward pass (the forward, the input gradient and
    the weight gradient), the usual convention of model FLOP utilisation. XLA's own
    ``cost_analysis()`` is no use on a GPU: it does not count the convolutions it hands to
    cuDNN (7.4 GFLOP on an H200 for the ResNet-18 step this count puts at 1,706).
    """
    import jax
    from flax import nnx

    graphdef, state = nnx.split(model)

    def forward(state, x):
        m = nnx.merge(graphdef, state)
        m.eval()
        return m(x)

    return jaxpr_flops(jax.make_jaxpr(forward)(state, x).jaxpr)


def run_recipe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    recipe: Recipe = Recipe(),
    *,
    data: str = "",
    targets: tuple[float, ...] = (0.90, 0.93, 0.94),
) -> dict:
    """Train ``recipe`` on uint8 images ``[N, 32, 32, 3]`` with int labels ``[N]``; the figures as a dict."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from leptonlab.data import Augment, fit_standardizer, to_float
    from leptonlab.models import ResNet, count_params
    from leptonlab.train import (
        SmoothedClassificationLoss,
        TrainConfig,
        evaluate,
        fit,
        predict_tta,
        time_to_accuracy,
    )

    pixels = to_float(x_train)  # float32 [N, 32, 32, 3] in [0, 1]
    standardize = fit_standardizer(pixels, per_channel=True)  # training statistics only
    train = (jax.device_put(standardize(pixels)), jax.device_put(jnp.asarray(y_train, jnp.int32)))
    test = (
        jax.device_put(standardize(to_float(x_test))),
        jax.device_put(jnp.asarray(y_test, jnp.int32)),
    )
    config = TrainConfig(
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        optimizer="momentum",
        weight_decay=recipe.weight_decay,
        schedule="onecycle",
        compute_dtype=recipe.compute_dtype,
        seed=recipe.seed,
        progress=False,
        steps_per_call=recipe.steps_per_call,
    )
    loss_fn, augment = (
        SmoothedClassificationLoss(recipe.smoothing),
        Augment(crop_padding=4, flip=True),
    )

    model = ResNet(
        10,
        width=recipe.width,
        stages=recipe.stages,
        stem_stride=recipe.stem_stride,
        rngs=nnx.Rngs(recipe.seed),
    )
    steps = len(y_train) // recipe.batch_size
    flops = 3 * forward_flops(
        model, train[0][: recipe.batch_size]
    )  # one training step (see forward_flops)
    parameters = count_params(model)

    start = time.perf_counter()
    state, history = fit(model, train, config, loss_fn=loss_fn, val_data=test, augment=augment)
    wall = time.perf_counter() - start
    eval_times = []
    for _ in range(
        3
    ):  # compiled already by fit; the median of three (one reading was 2x off on a GPU)
        tick = time.perf_counter()
        final = evaluate(state, test, loss_fn=loss_fn)
        eval_times.append(time.perf_counter() - tick)
    eval_s = statistics.median(eval_times)
    tta = float(jnp.mean(jnp.argmax(predict_tta(state, test[0]), axis=-1) == test[1]))

    seconds = [float(s) for s in history["seconds"]]
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    train_epoch_s = max(steady - eval_s, 1e-9)  # an epoch's training alone
    device = jax.devices()[0]
    peak = peak_flops(device.device_kind, recipe.compute_dtype)
    achieved = flops * steps / train_epoch_s
    memory = (device.memory_stats() or {}) if hasattr(device, "memory_stats") else {}
    return {
        "recipe": dataclasses.asdict(recipe),
        "data": data,
        "train_images": int(len(y_train)),
        "test_images": int(len(y_test)),
        "device": f"{device.platform}:{device.device_kind}",
        "jax": jax.__version__,
        "parameters": parameters,
        "steps_per_epoch": steps,
        "val_accuracy": [float(a) for a in history["val_accuracy"]],
        "epoch_seconds": seconds,
        "fit_seconds": wall,
        "test_accuracy": float(final["accuracy"]),
        "test_accuracy_tta": tta,
        "time_to_accuracy_s": {f"{t:.2f}": time_to_accuracy(history, t) for t in targets},
        "compile_s": max(seconds[0] - steady, 0.0),
        "eval_s": eval_s,
        "train_epoch_s": train_epoch_s,
        "train_samples_per_s": steps * recipe.batch_size / train_epoch_s,
        "step_flops": flops,
        "achieved_flops_per_s": achieved,
        "peak_flops_per_s": peak,
        "flop_utilisation": achieved / peak if peak else None,
        "peak_device_memory_gib": memory.get("peak_bytes_in_use", 0) / 2**30 or None,
    }


def torch_reference(
    x_train: np.ndarray,
    y_train: np.ndarray,
    recipe: Recipe = Recipe(),
    *,
    epochs: int = 5,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    targets: tuple[float, ...] = (0.90, 0.93, 0.94),
) -> dict:
    """PyTorch eager on the same network, batch, augmentation, loss, optimizer and schedule.

    On CUDA in bf16 autocast with channels-last tensors (PyTorch's fast path for convolutions),
    on a CPU in float32. Returns the training seconds of each epoch and the steady training
    images/s (median epoch after the first). With ``test = (images, labels)`` it also evaluates
    after every epoch and reports the accuracies and the time to each target, clocked like
    :func:`run_recipe`'s (from the start, evaluation included).
    """
    import torch
    import torch.nn.functional as F

    from benchmarks._cases import _torch_resnet, channels_last

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(recipe.seed)
    model, _ = _torch_resnet(recipe.width, recipe.stages, recipe.stem_stride)
    (model,) = channels_last(model.to(device))
    steps, batch = len(y_train) // recipe.batch_size, recipe.batch_size
    opt = torch.optim.SGD(
        model.parameters(), lr=recipe.learning_rate, momentum=0.9, weight_decay=recipe.weight_decay
    )
    # optax's cosine_onecycle_schedule: 30% up from lr/25, cosine down to lr/25e4; momentum stays 0.9
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, recipe.learning_rate, total_steps=epochs * steps, cycle_momentum=False
    )
    pixels = x_train.astype(np.float32) / 255.0
    mean, std = (
        pixels.mean(axis=(0, 1, 2)),
        pixels.std(axis=(0, 1, 2)),
    )  # [3] each: training statistics

    def tensor(images):  # uint8 [N, 32, 32, 3] -> standardised float32 [N, 3, 32, 32] on the device
        scaled = (images.astype(np.float32) / 255.0 - mean) / std
        return torch.from_numpy(np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))).to(device)

    x = tensor(x_train)
    y = torch.from_numpy(y_train.astype(np.int64)).to(device)
    if test is not None:
        x_test = tensor(test[0]).contiguous(
            memory_format=torch.channels_last
        )  # once; its slices keep the layout
        y_test = torch.from_numpy(test[1].astype(np.int64)).to(device)
    bf16 = recipe.compute_dtype == "bfloat16" and device == "cuda"
    rows = torch.arange(32, device=device)

    def augment(
        xb,
    ):  # pad-crop by up to 4 pixels, mirror with probability 1/2, as leptonlab's Augment
        padded = F.pad(xb, (4, 4, 4, 4))  # [B, 3, 40, 40]
        dy, dx = torch.randint(0, 9, (2, len(xb)), device=device)
        r = (dy[:, None] + rows)[:, None, :, None]  # [B, 1, 32, 1]
        c = (dx[:, None] + rows)[:, None, None, :]  # [B, 1, 1, 32]
        crops = padded[
            torch.arange(len(xb), device=device)[:, None, None, None],
            torch.arange(3, device=device)[None, :, None, None],
            r,
            c,
        ]
        flip = torch.rand(len(xb), device=device) < 0.5
        return torch.where(flip[:, None, None, None], crops.flip(3), crops)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def accuracy() -> float:
        model.eval()
        correct = 0
        with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, len(y_test), 1000):
                correct += int(
                    (model(x_test[i : i + 1000]).argmax(-1) == y_test[i : i + 1000]).sum()
                )
        model.train()
        return correct / len(y_test)

    seconds, accuracies, clock, begin = [], [], [], time.perf_counter()
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        order = torch.randperm(len(y), device=device)
        for i in range(steps):
            idx = order[i * batch : (i + 1) * batch]
            xb = augment(x[idx]).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(xb), y[idx], label_smoothing=recipe.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        sync()
        seconds.append(time.perf_counter() - start)
        if test is not None:
            accuracies.append(accuracy())
            clock.append(time.perf_counter() - begin)
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    result = {
        "torch": torch.__version__,
        "device": device,
        "bf16_autocast": bf16,
        "threads": torch.get_num_threads(),
        "epoch_seconds": seconds,
        "train_epoch_s": steady,
        "train_samples_per_s": steps * batch / steady,
        "final_loss": float(loss.detach()),
    }
    if test is not None:
        reached = {
            f"{t:.2f}": next((c for c, a in zip(clock, accuracies) if a >= t), None)
            for t in targets
        }
        result.update(
            val_accuracy=accuracies, test_accuracy=accuracies[-1], time_to_accuracy_s=reached
        )
    return result


def format_report(result: dict) -> str:
    """A few lines a person reads: the data, the accuracy, the time and the utilisation."""
    r = result["recipe"]
    reached = ", ".join(
        f"{float(t):.0%} in {s:.1f} s" if s is not None else f"{float(t):.0%} not reached"
        for t, s in result["time_to_accuracy_s"].items()
    )
    lines = [
        f"CIFAR-10, notebook 16's recipe on {result['device']} (JAX {result['jax']}): ResNet width {r['width']}, "
        f"stages {tuple(r['stages'])}, {result['parameters']:,} parameters, {r['epochs']} epochs of "
        f"{result['steps_per_epoch']} steps x {r['batch_size']}, {r['compute_dtype']}",
        f"data: {result['data']} ({result['train_images']:,} training, {result['test_images']:,} test images)",
        f"test accuracy {result['test_accuracy']:.2%}, with mirror TTA {result['test_accuracy_tta']:.2%}",
        f"time to accuracy (compile and evaluation included): {reached}",
        f"fit {result['fit_seconds']:.1f} s in all: compile ~{result['compile_s']:.1f} s, an epoch "
        f"{result['train_epoch_s']:.2f} s of training + {result['eval_s']:.2f} s of evaluation; "
        f"{result['train_samples_per_s']:,.0f} training images/s",
    ]
    util = (
        f", {result['flop_utilisation']:.1%} of the chip's dense bf16 peak "
        f"({result['peak_flops_per_s'] / 1e12:.0f} TFLOP/s)"
        if result["flop_utilisation"]
        else ""
    )
    lines.append(
        f"a training step is {result['step_flops'] / 1e9:,.1f} GFLOP (3x the forward pass's products "
        f"and convolutions): {_flop_rate(result['achieved_flops_per_s'])}{util}"
    )
    if result["peak_device_memory_gib"]:
        lines.append(f"peak device memory {result['peak_device_memory_gib']:.2f} GiB")
    return "\n".join(lines)


def _flop_rate(flops_per_s: float) -> str:
    return (
        f"{flops_per_s / 1e12:.1f} TFLOP/s"
        if flops_per_s >= 1e12
        else f"{flops_per_s / 1e9:.1f} GFLOP/s"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cifar10", description=__doc__.splitlines()[0]
    )
    for field in dataclasses.fields(Recipe):
        default = field.default
        if isinstance(default, tuple):
            parser.add_argument(
                f"--{field.name.replace('_', '-')}",
                type=lambda s: tuple(int(v) for v in s.split(",")),
                default=default,
                help=f"comma-separated (default {','.join(map(str, default))})",
            )
        else:
            parser.add_argument(
                f"--{field.name.replace('_', '-')}",
                type=type(default),
                default=default,
                help=f"(default {default})",
            )
    parser.add_argument(
        "--train-images",
        type=int,
        default=None,
        help="train on a class-balanced subset of this many images (default: all there are)",
    )
    parser.add_argument(
        "--targets",
        type=lambda s: tuple(float(v) for v in s.split(",")),
        default=(0.90, 0.93, 0.94),
        help="test accuracies to time (default 0.90,0.93,0.94)",
    )
    parser.add_argument(
        "--pytorch",
        action="store_true",
        help="also train PyTorch eager on the same recipe; each side in its own process",
    )
    parser.add_argument(
        "--arrays",
        type=Path,
        default=None,
        help="train and test on the arrays in this file (written by --pack-arrays) instead of "
        "the data leptonlab finds",
    )
    parser.add_argument(
        "--pack-arrays",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the data leptonlab finds (with --train-images: that subset) to FILE for "
        "--arrays, and stop",
    )
    parser.add_argument(
        "--part", choices=("leptonlab", "pytorch"), default=None, help=argparse.SUPPRESS
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    return parser


def balanced_subset(y: np.ndarray, n: int, classes: int = 10) -> np.ndarray:
    """Sorted indices of the first ``n // classes`` examples of each class."""
    return np.sort(np.concatenate([np.flatnonzero(y == c)[: n // classes] for c in range(classes)]))


_ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the four arrays' shapes, dtypes and bytes: the same data gives the same digest."""
    h = hashlib.sha256()
    for name in _ARRAY_NAMES:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name} {a.dtype} {a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def pack_arrays(path: Path, arrays: dict[str, np.ndarray], source: str) -> str:
    """Write ``x_train [N, 32, 32, 3] uint8``, ``y_train [N]``, ``x_test``, ``y_test`` and a note of
    where they came from to ``path`` (an xz-compressed ``.npz``); returns :func:`arrays_digest`.
    The file appears whole or not at all (written beside it, then renamed)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{n: arrays[n] for n in _ARRAY_NAMES}, source=np.asarray(source))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(lzma.compress(buffer.getvalue(), preset=6))
    tmp.replace(path)
    return arrays_digest(arrays)


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """The arrays :func:`pack_arrays` wrote and their source note; a clear error for a missing,
    damaged or foreign file."""
    if not path.is_file():
        raise FileNotFoundError(
            f"--arrays {path}: no such file. Write it where the dataset is with "
            f"`python -m benchmarks.cifar10 --pack-arrays {path.name} [--train-images N]` "
            "and copy it here."
        )
    try:
        with np.load(io.BytesIO(lzma.decompress(path.read_bytes())), allow_pickle=False) as saved:
            arrays = {n: saved[n] for n in _ARRAY_NAMES}
            source = str(saved["source"])
    except (lzma.LZMAError, OSError, ValueError, KeyError, EOFError) as err:
        raise ValueError(
            f"--arrays {path} is not a file written by --pack-arrays, or it was damaged in "
            f"transit ({type(err).__name__}: {err}). Write and copy it again."
        ) from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if (
            x.dtype != np.uint8
            or x.ndim != 4
            or x.shape[1:] != (32, 32, 3)
            or y.shape != x.shape[:1]
        ):
            raise ValueError(
                f"--arrays {path}: x_{split} must be [N, 32, 32, 3] uint8 with N labels, got "
                f"{x.shape} {x.dtype} and {y.shape}."
            )
    return arrays, source


def _recipe_argv(recipe: Recipe, args: argparse.Namespace) -> list[str]:
    """Command-line arguments that rebuild ``recipe`` and the data options in a child process."""
    argv = []
    for field in dataclasses.fields(Recipe):
        value = getattr(recipe, field.name)
        argv += [
            f"--{field.name.replace('_', '-')}",
            ",".join(map(str, value)) if isinstance(value, tuple) else str(value),
        ]
    if args.train_images is not None:
        argv += ["--train-images", str(args.train_images)]
    if args.arrays is not None:
        argv += ["--arrays", str(args.arrays.resolve())]
    return argv + ["--targets", ",".join(map(str, args.targets))]


def _run_part(part: str, argv: list[str]) -> dict:
    """One side in its own process, with the environment ``python -m benchmarks`` gives that side
    (leptonlab's with the course's malloc settings, PyTorch's as its users run it)."""
    import subprocess

    from benchmarks.__main__ import _exception_line, child_environment

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cifar10", *argv, "--part", part],
        capture_output=True,
        text=True,
        env=child_environment("jax" if part == "leptonlab" else "torch", False),
        cwd=Path(__file__).resolve().parents[1],
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("CIFAR10-RESULT ")]
    if done.returncode != 0 or not lines:
        return {"error": _exception_line(done.stderr)}
    return json.loads(lines[-1][len("CIFAR10-RESULT ") :])


def format_pytorch(result: dict, ours: dict) -> str:
    """PyTorch's side of a ``--pytorch`` run, and the ratios."""
    if "error" in result:
        return f"PyTorch: {result['error']}"
    reached = ", ".join(
        f"{float(t):.0%} in {s:.1f} s" if s is not None else f"{float(t):.0%} not reached"
        for t, s in result.get("time_to_accuracy_s", {}).items()
    )
    ratio = ours["train_samples_per_s"] / result["train_samples_per_s"]
    return "\n".join(
        [
            f"PyTorch {result['torch']} eager on {result['device']}{' in bf16 autocast' if result['bf16_autocast'] else ''}"
            f" ({result['threads']} threads): test accuracy {result['test_accuracy']:.2%}",
            f"PyTorch time to accuracy (evaluation included): {reached}",
            f"PyTorch: an epoch {result['train_epoch_s']:.2f} s of training; {result['train_samples_per_s']:,.0f} training "
            f"images/s; leptonlab's throughput {ratio:.2f}x PyTorch's",
        ]
    )


def _data(args: argparse.Namespace):
    """``(x_train, y_train, x_test, y_test, description)``: from ``--arrays``, or what leptonlab
    finds; then the ``--train-images`` subset."""
    if args.arrays is not None:
        arrays, source = load_arrays(args.arrays)
        x_train, y_train, x_test, y_test = (arrays[n] for n in _ARRAY_NAMES)
        data = f"{source}, from {args.arrays.name} (arrays sha256 {arrays_digest(arrays)[:16]})"
    else:
        from leptonlab.data import load_cifar10

        x_train, y_train, info = load_cifar10("train", return_info=True)
        x_test, y_test = load_cifar10("test")
        data = "official CIFAR-10" if info.official else "offline CIFAR-10 PNG subset"
    if args.train_images is not None:
        keep = balanced_subset(y_train, args.train_images)
        x_train, y_train = x_train[keep], y_train[keep]
    return x_train, y_train, x_test, y_test, data


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.pack_arrays is not None and (args.pytorch or args.arrays is not None):
        print(
            "--pack-arrays only writes the data: leave out --pytorch and --arrays", file=sys.stderr
        )
        return 2
    recipe = Recipe(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Recipe)})
    if args.pytorch:  # each side in its own process, then one report
        result = _run_part("leptonlab", _recipe_argv(recipe, args))
        if "error" in result:
            print(f"leptonlab's run failed: {result['error']}", file=sys.stderr)
            return 1
        result["pytorch"] = _run_part("pytorch", _recipe_argv(recipe, args))
        print(format_report(result) + "\n" + format_pytorch(result["pytorch"], result))
    else:
        x_train, y_train, x_test, y_test, data = _data(args)
        if args.pack_arrays is not None:
            arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
            digest = pack_arrays(args.pack_arrays, arrays, data)
            size = args.pack_arrays.stat().st_size
            print(
                f"wrote {args.pack_arrays} ({size / 1e6:.1f} MB): {len(y_train):,} training and "
                f"{len(y_test):,} test images from the {data}; arrays sha256 {digest}"
            )
            return 0
        if args.part == "pytorch":
            result = torch_reference(
                x_train,
                y_train,
                recipe,
                epochs=recipe.epochs,
                test=(x_test, y_test),
                targets=args.targets,
            )
        else:
            result = run_recipe(
                x_train,
                y_train,
                x_test,
                y_test,
                recipe,
                targets=args.targets,
                data=data,
            )
        if args.part is not None:  # a child: one line for the parent
            print("CIFAR10-RESULT " + json.dumps(result), flush=True)
            return 0
        print(format_report(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
