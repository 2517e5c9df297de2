"""Data-parallel training with ``jax.sharding``, on one device, many, or many hosts (notebook 20).

Data parallelism keeps a full copy of the parameters on every device and splits
each global batch of ``B`` examples into ``D`` shards of ``B / D`` rows. Every
device computes the gradient of its shard; the mean over shards is the gradient
of the whole batch, so one data-parallel step is *the same step* as on one device
with the same global batch (up to the order of floating-point additions).

In JAX this is a matter of placement, not of new code: a :class:`~jax.sharding.Mesh`
names the devices (one axis, ``"data"``); a :class:`~jax.sharding.NamedSharding`
with ``PartitionSpec("data")`` splits an array's rows over that axis, and
``PartitionSpec()`` replicates it. ``jax.jit`` of the ordinary
:func:`leptonlab.train.train_step` with the batch sharded and the state
replicated compiles one SPMD program in which XLA inserts the all-reduce of the
gradients. :func:`data_parallel_fit` is :func:`leptonlab.train.fit` with a mesh: the
same epoch runner, checkpointing and early stopping; the data stay on the devices.
The same code runs on

- one device (a mesh of size 1),
- N simulated CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
  set before jax is imported),
- several GPUs of one machine,
- several processes or hosts: each calls :func:`jax.distributed.initialize` first
  (on CPU the collectives go through gloo), then ``jax.devices()`` lists the devices
  of every process and each process feeds only its own rows of the batch
  (:func:`shard_batch`). :func:`launch_local` runs that for real on 127.0.0.1.

    mesh = scale.make_mesh()                       # all devices, axis "data"
    state, history = scale.data_parallel_fit(model, (x, y), TrainConfig(epochs=2), mesh=mesh)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from leptonlab import speedups
from leptonlab.speedups import tuned_jit
from leptonlab.train import (
    Batch,
    History,
    LossFn,
    TrainConfig,
    TrainState,
    check_data,
    classification_loss,
    epoch_order,
    fit,
    make_optimizer,
    seed_keys,
    train_step,
)
from leptonlab.train.placement import AXIS as AXIS
from leptonlab.train.placement import batch_sharding as batch_sharding
from leptonlab.train.placement import check_mesh
from leptonlab.train.placement import local_copy as local_copy
from leptonlab.train.placement import replicate as replicate
from leptonlab.train.placement import replicated as replicated

__all__ = [
    "AXIS",
    "DemoTask",
    "ProcessResult",
    "ScalePoint",
    "batch_sharding",
    "data_parallel_fit",
    "demo_config",
    "demo_data",
    "demo_model",
    "epoch_indices",
    "flat_params",
    "init_state",
    "launch_local",
    "local_copy",
    "local_rows",
    "make_mesh",
    "make_train_step",
    "replicate",
    "replicated",
    "run_demo",
    "scaling_curve",
    "shard_batch",
    "shard_table",
]


# --------------------------------------------------------------------------- meshes and shardings


def make_mesh(
    num_devices: int | None = None, *, devices: Sequence[jax.Device] | None = None
) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``num_devices`` devices (default: all of them).

    ``devices`` defaults to ``jax.devices()``, which in a multi-process run lists
    the devices of *every* process. Introduced in notebook 20.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError("devices must be a non-empty list of jax.Device (from jax.devices()).")
    if num_devices is None:
        num_devices = len(devices)
    if (
        isinstance(num_devices, bool)
        or not isinstance(num_devices, int)
        or not 1 <= num_devices <= len(devices)
    ):
        raise ValueError(
            f"num_devices must be an int in [1, {len(devices)}] (the devices JAX sees), "
            f"got {num_devices!r}. Simulate more CPU devices with "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N, set before importing jax."
        )
    return Mesh(np.array(devices[:num_devices]), (AXIS,))


def local_rows(global_batch: int, mesh: Mesh) -> slice:
    """The rows of a ``[global_batch, ...]`` batch that this process's devices hold.

    With P processes of equally many devices, process p holds rows
    ``[p * B / P, (p + 1) * B / P)``; on one process, all of them.
    """
    sharding = batch_sharding(mesh)
    if (
        isinstance(global_batch, bool)
        or not isinstance(global_batch, int)
        or global_batch % mesh.size
    ):
        raise ValueError(
            f"the global batch ({global_batch!r}) must be a multiple of the {mesh.size} devices "
            "of the mesh, so that every device gets the same number of rows."
        )
    starts = sorted(
        (idx[0].start or 0, idx[0].stop or global_batch)
        for idx in sharding.addressable_devices_indices_map((global_batch,)).values()
    )
    for (_, stop), (start, _) in zip(starts[:-1], starts[1:]):
        if stop != start:
            raise ValueError(
                "this process's devices do not hold one contiguous block of rows; "
                "order the mesh's devices by process."
            )
    return slice(starts[0][0], starts[-1][1])


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Global arrays split over the mesh from this process's rows of a batch.

    ``batch`` is a pytree of arrays ``[b, ...]`` holding the rows of
    :func:`local_rows` (on one process: the whole batch). Returns arrays of the
    global shape ``[B, ...]``, ``B = b * processes``, sharded with
    :func:`batch_sharding`. Introduced in notebook 20.
    """
    sharding = batch_sharding(mesh)
    procs = len({d.process_index for d in mesh.devices.flat})

    def put(a):
        a = np.asarray(a)
        if a.ndim == 0 or (a.shape[0] * procs) % mesh.size:
            raise ValueError(
                f"a batch array of shape {a.shape} on {procs} process(es) cannot be split over "
                f"{mesh.size} devices: the global batch must be a multiple of {mesh.size}."
            )
        return jax.make_array_from_process_local_data(
            sharding, a, (a.shape[0] * procs, *a.shape[1:])
        )

    return jax.tree.map(put, batch)


def shard_table(x: jax.Array) -> list[dict[str, Any]]:
    """Where each block of ``x`` lives: one row per addressable shard.

    Rows hold ``device`` (e.g. "cpu:3"), ``index`` (a tuple of (start, stop) per
    axis) and ``shape`` (the shard's shape). Introduced in notebook 20.
    """
    if not isinstance(x, jax.Array):
        raise TypeError(f"shard_table() needs a jax.Array, got {type(x).__name__}.")
    rows = []
    for shard in x.addressable_shards:
        index = tuple(
            (s.start or 0, s.stop if s.stop is not None else n)
            for s, n in zip(shard.index, x.shape)
        )
        rows.append(
            {
                "device": f"{shard.device.platform}:{shard.device.id}",
                "index": index,
                "shape": tuple(shard.data.shape),
            }
        )
    return sorted(rows, key=lambda r: r["index"])


# --------------------------------------------------------------------------- training


def _dp_step_impl(state: TrainState, totals: dict, batch: Batch, loss_fn: LossFn):
    state, metrics = train_step(
        state, batch, loss_fn
    )  # metrics: {name: [B]}, sharded like the batch
    return state, {k: totals[k] + jnp.sum(v) for k, v in metrics.items()}  # the sum all-reduces


@functools.lru_cache(maxsize=32)
def make_train_step(
    mesh: Mesh, loss_fn: LossFn = classification_loss, *, donate: bool = True
) -> Callable:
    """``step(state, totals, batch) -> (state, totals)`` compiled for ``mesh``.

    :func:`leptonlab.train.train_step` under ``jax.jit`` (with the course's compiler options,
    :func:`leptonlab.speedups.tuned_jit`) with the state replicated
    and the batch sharded over the mesh: XLA partitions the forward and backward
    pass by rows and all-reduces the gradients. ``totals`` sums the per-example
    metrics. Introduced in notebook 20.
    """
    rep, rows = replicated(mesh), batch_sharding(mesh)
    return tuned_jit(
        functools.partial(_dp_step_impl, loss_fn=loss_fn),
        in_shardings=(rep, rep, rows),
        out_shardings=(rep, rep),
        donate_argnums=(0, 1) if donate else (),
    )


def epoch_indices(config: TrainConfig, n: int, epoch: int) -> np.ndarray:
    """``[steps, B]`` example indices of one epoch: the order :func:`leptonlab.train.fit` uses."""
    return np.asarray(epoch_order(config.seed, n, min(config.batch_size, n), epoch))


def init_state(
    model: nnx.Module, config: TrainConfig, steps_per_epoch: int, mesh: Mesh
) -> TrainState:
    """The TrainState :func:`leptonlab.train.fit` would start from, replicated over ``mesh``."""
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be a flax.nnx.Module, got {type(model).__name__}.")
    state = TrainState.create(
        speedups.apply(model),
        make_optimizer(config, steps_per_epoch),
        key=seed_keys(config.seed)[1],
        compute_dtype=config.compute_dtype,
    )
    return replicate(state, mesh)


def data_parallel_fit(
    model: nnx.Module,
    train_data: Batch,
    config: TrainConfig = TrainConfig(),
    *,
    mesh: Mesh,
    loss_fn: LossFn = classification_loss,
    **fit_kwargs: Any,
) -> tuple[TrainState, History]:
    """:func:`leptonlab.train.fit` over ``mesh``: ``fit(model, train_data, config, mesh=mesh, ...)``.

    ``train_data = (x: [N, ...], y: [N])`` (every process holds the same copy). The state,
    the data and each epoch's indices are copied to every device of the mesh; each step
    splits its global batch (``config.batch_size``, a multiple of ``mesh.size``) over the
    devices, which all-reduce the gradients. Data order, initial state, optimizer,
    checkpointing and early stopping are fit's, so the trained parameters equal fit's to
    float tolerance, on any number of devices or processes. ``fit_kwargs`` (``val_data``,
    ``augment``, ``state``) go to fit. The returned state is replicated over the mesh
    (:func:`local_copy` gives single-device arrays). Introduced in notebook 20.
    """
    check_mesh(mesh)
    return fit(model, train_data, config, loss_fn=loss_fn, mesh=mesh, **fit_kwargs)


@dataclasses.dataclass(frozen=True)
class ScalePoint:
    """Speed of one data-parallel step on ``devices`` devices (notebook 20)."""

    devices: int  # devices in the mesh
    seconds: float  # median wall time of one step on the global batch, seconds
    examples_per_second: float  # global batch / seconds


def scaling_curve(
    model_fn: Callable[[], nnx.Module],
    batch: Batch,
    device_counts: Sequence[int],
    *,
    config: TrainConfig = TrainConfig(),
    loss_fn: LossFn = classification_loss,
    repeats: int = 5,
    devices: Sequence[jax.Device] | None = None,
) -> list[ScalePoint]:
    """Time one training step on the same global ``batch`` over meshes of each size in ``device_counts``.

    ``model_fn()`` builds a fresh model; the batch is ``(x: [B, ...], y: [B])`` with
    ``B`` a multiple of every count. Ideal scaling halves the time when the devices
    double; simulated CPU devices share the machine's cores, so they cannot.
    ``devices`` (default ``jax.devices()``) are the devices to take the meshes from,
    e.g. ``jax.devices("cpu")`` for the simulated ones on a machine with a GPU.
    """
    from leptonlab.timing import time_fn

    x, y = (np.asarray(a) for a in check_data(batch, "batch"))
    counts = list(device_counts)
    if not counts or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts):
        raise ValueError(
            f"device_counts must be a non-empty list of ints >= 1, got {device_counts!r}."
        )
    points = []
    for count in counts:
        mesh = make_mesh(count, devices=devices)
        if x.shape[0] % count:
            raise ValueError(
                f"the batch of {x.shape[0]} rows cannot be split over {count} devices."
            )
        state = init_state(model_fn(), config, 1, mesh)
        names = jax.eval_shape(
            lambda s, b: train_step(s, b, loss_fn)[1], local_copy(state), (x[:1], y[:1])
        )
        totals = replicate({k: np.zeros((), np.float32) for k in names}, mesh)
        rows = local_rows(x.shape[0], mesh)
        sharded = shard_batch((x[rows], y[rows]), mesh)
        timing = time_fn(
            make_train_step(mesh, loss_fn, donate=False), state, totals, sharded, repeats=repeats
        )
        points.append(
            ScalePoint(
                devices=count,
                seconds=timing.median_s,
                examples_per_second=x.shape[0] / timing.median_s,
            )
        )
    return points


# --------------------------------------------------------------------------- several processes


@dataclasses.dataclass(frozen=True)
class DemoTask:
    """A small classification problem every process can rebuild from the seed alone (notebook 20)."""

    examples: int = 1024  # training examples
    features: int = 16  # inputs per example
    classes: int = 4  # Gaussian blobs, one per class
    hidden: int = 32  # width of the MLP's hidden layer
    epochs: int = 2  # passes over the data
    batch_size: int = 64  # global batch, a multiple of the devices
    learning_rate: float = 3e-3  # Adam's step size
    seed: int = 0  # data, initialisation and data order

    def __post_init__(self):
        for name in ("examples", "features", "classes", "hidden", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DemoTask.{name} must be an int >= 1, got {value!r}.")


def demo_data(task: DemoTask) -> tuple[np.ndarray, np.ndarray]:
    """``x: [examples, features]`` float32, ``y: [examples]`` int32: noisy blobs around random centres."""
    rng = np.random.default_rng(task.seed)
    centres = rng.normal(size=(task.classes, task.features)) * 2.0  # [C, F]
    y = rng.integers(0, task.classes, task.examples).astype(np.int32)  # [N]
    x = (centres[y] + rng.normal(size=(task.examples, task.features))).astype(np.float32)  # [N, F]
    return x, y


def demo_model(task: DemoTask) -> nnx.Module:
    """The MLP ``features -> hidden -> classes`` of the demo, initialised from ``task.seed``."""
    from leptonlab.models import MLP

    return MLP(task.features, [task.hidden], task.classes, rngs=nnx.Rngs(task.seed))


def demo_config(task: DemoTask) -> TrainConfig:
    """The TrainConfig of the demo (Adam, constant learning rate, no progress bar)."""
    return TrainConfig(
        epochs=task.epochs,
        batch_size=task.batch_size,
        learning_rate=task.learning_rate,
        seed=task.seed,
        progress=False,
    )


def run_demo(task: DemoTask, mesh: Mesh) -> tuple[TrainState, History]:
    """Train the demo data-parallel over ``mesh`` (in one process or in each of several)."""
    if not isinstance(task, DemoTask):
        raise TypeError(f"task must be a DemoTask, got {type(task).__name__}.")
    return data_parallel_fit(demo_model(task), demo_data(task), demo_config(task), mesh=mesh)


def flat_params(state: TrainState) -> dict[str, np.ndarray]:
    """The parameters as ``{"layers/0/kernel": array, ...}`` NumPy arrays (this process's copy)."""
    flat = nnx.to_flat_state(state.params)
    return {
        "/".join(str(k) for k in path): np.asarray(
            local_copy(var.get_value() if hasattr(var, "get_value") else var.value)
        )
        for path, var in flat
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class ProcessResult:
    """What one process of :func:`launch_local` reports."""

    process_id: int  # jax.process_index() in that process
    process_count: int  # jax.process_count(): processes in the run
    global_devices: int  # len(jax.devices()): devices of all processes
    local_devices: int  # len(jax.local_devices()): this process's devices
    params: dict[str, np.ndarray]  # the trained parameters (flat_params)
    history: list[dict[str, float]]  # per-epoch training metrics
    seconds: float  # wall time of the process, start to finish


def launch_local(
    num_processes: int = 2,
    task: DemoTask = DemoTask(),
    *,
    devices_per_process: int = 1,
    timeout: float = 120.0,
) -> list[ProcessResult]:
    """Run the demo as ``num_processes`` JAX processes on 127.0.0.1, each calling ``jax.distributed.initialize``.

    Process 0 hosts the coordinator on a free port; every process joins it, sees
    ``num_processes * devices_per_process`` CPU devices in ``jax.devices()``,
    builds one mesh over all of them and runs :func:`run_demo`; gradients are
    all-reduced across processes through gloo. Each process writes its trained
    parameters; the results come back in process order. Raises RuntimeError (with
    the processes' last output) if one fails or the run exceeds ``timeout`` seconds.
    Introduced in notebook 20.
    """
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"num_processes must be an int >= 1, got {num_processes!r}.")
    if (
        isinstance(devices_per_process, bool)
        or not isinstance(devices_per_process, int)
        or devices_per_process < 1
    ):
        raise ValueError(f"devices_per_process must be an int >= 1, got {devices_per_process!r}.")
    if not isinstance(task, DemoTask):
        raise TypeError(f"task must be a DemoTask, got {type(task).__name__}.")
    if task.batch_size % (num_processes * devices_per_process):
        raise ValueError(
            f"the global batch ({task.batch_size}) must be a multiple of the "
            f"{num_processes * devices_per_process} devices."
        )
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    address = f"127.0.0.1:{_free_port()}"
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    flags = [
        f
        for f in env.get("XLA_FLAGS", "").split()
        if not f.startswith("--xla_force_host_platform_device_count")
    ]
    env["XLA_FLAGS"] = " ".join(
        flags + [f"--xla_force_host_platform_device_count={devices_per_process}"]
    )
    with tempfile.TemporaryDirectory(prefix="leptonlab-dist-") as tmp:
        procs, logs = [], []
        for pid in range(num_processes):
            log = open(Path(tmp) / f"log{pid}.txt", "w+")
            # Run by path, not with -m: importing the leptonlab package first could start the XLA
            # backend, and jax.distributed.initialize must come before that.
            cmd = [
                sys.executable,
                str(Path(__file__).with_name("_scale_worker.py")),
                "--coordinator",
                address,
                "--num-processes",
                str(num_processes),
                "--process-id",
                str(pid),
                "--timeout",
                str(int(timeout)),
                "--task",
                json.dumps(dataclasses.asdict(task)),
                "--out",
                str(Path(tmp) / f"result{pid}.npz"),
            ]
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            logs.append(log)
        deadline = time.monotonic() + timeout
        try:
            for p in procs:
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        failed = [i for i, p in enumerate(procs) if p.returncode != 0]
        outputs = []
        for log in logs:
            log.seek(0)
            outputs.append(log.read())
            log.close()
        if failed:
            tails = "\n".join(
                f"--- process {i} (exit {procs[i].returncode}):\n{outputs[i][-2000:]}"
                for i in failed
            )
            raise RuntimeError(
                f"{len(failed)} of {num_processes} processes failed or ran past {timeout:g} s "
                f"(a negative exit code is a kill):\n{tails}"
            )
        results = []
        for pid in range(num_processes):
            with np.load(Path(tmp) / f"result{pid}.npz") as f:
                meta = json.loads(str(f["__meta__"]))
                params = {k: f[k] for k in f.files if k != "__meta__"}
            results.append(ProcessResult(params=params, **meta))
    return results
