"""Time to a target accuracy on the real data: leptonlab's ``fit`` against PyTorch eager.

Throughput says how fast a step is; time-to-target says how fast a learner gets a
good model, which is what they wait for. Both sides train the same architecture on
the same data, in the same order of work (one epoch, then the test accuracy) with
Adam at lr 1e-3 and the case's batch size, until the test accuracy reaches the
target or ``max_epochs`` pass. The clock includes compilation (leptonlab) and the
evaluations (both): a learner waits for those too.

Needs the dataset (``LEPTONLAB_DATA_DIR`` offline); PyTorch is optional.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time

import numpy as np

from benchmarks._cases import Case


@dataclasses.dataclass(frozen=True)
class Target:
    """Train on ``dataset`` until the test accuracy is at least ``accuracy``."""

    dataset: str  # "mnist"
    accuracy: float  # test accuracy to reach, in (0, 1]
    max_epochs: int  # give up after this many epochs (reported as not reached)
    note: str  # where the target comes from


TARGETS = {
    "mlp": Target("mnist", 0.98, 10, "MLP on MNIST (notebook 05's classifier)"),
    "cnn": Target("mnist", 0.99, 10, "CNN on MNIST (notebook 08 reaches 99.3% with augmentation and 15 epochs)"),
}


def load(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: float32 images ``[N, 28, 28, 1]`` in [0, 1], int32 labels."""
    from leptonlab import data

    if dataset != "mnist":
        raise ValueError(f"no time-to-target data for {dataset!r}")
    (xtr, ytr), (xte, yte) = data.load_mnist("train"), data.load_mnist("test")
    scale = lambda x: (x.astype(np.float32) / 255.0)[..., None]  # noqa: E731  [N, 28, 28] uint8 -> [N, 28, 28, 1]
    return scale(xtr), ytr.astype(np.int32), scale(xte), yte.astype(np.int32)


def _result(curve: list[tuple[float, float]], target: Target) -> dict:
    """``curve``: (seconds since start, test accuracy) after each epoch."""
    reached = [(s, a) for s, a in curve if a >= target.accuracy]
    return {"target": target.accuracy, "reached": bool(reached),
            "seconds": reached[0][0] if reached else None,
            "epochs": curve.index(reached[0]) + 1 if reached else None,
            "best_accuracy": max(a for _, a in curve), "curve": curve}


def leptonlab_time_to_target(case: Case, target: Target) -> dict:
    """``leptonlab.train.fit`` one epoch at a time (continuing its state) until the target is reached."""
    import jax

    from leptonlab.train import TrainConfig, evaluate, fit

    xtr, ytr, xte, yte = load(target.dataset)
    train, test = (jax.device_put(xtr), jax.device_put(ytr)), (jax.device_put(xte), jax.device_put(yte))
    curve, state, start = [], None, time.perf_counter()
    for epoch in range(target.max_epochs):
        config = TrainConfig(epochs=1, batch_size=case.batch_size, learning_rate=1e-3, seed=epoch, progress=False)
        state, _ = fit(case.make_model() if state is None else None, train, config, loss_fn=case.loss_fn,
                       state=state)
        accuracy = float(evaluate(state, test, loss_fn=case.loss_fn)["accuracy"])
        curve.append((time.perf_counter() - start, accuracy))
        if accuracy >= target.accuracy:
            break
    return _result(curve, target)


def torch_time_to_target(case: Case, target: Target) -> dict | None:
    """The same in PyTorch eager (None when PyTorch is not installed)."""
    if case.make_torch is None or importlib.util.find_spec("torch") is None:
        return None
    import torch

    torch.manual_seed(0)
    xtr, ytr, xte, yte = load(target.dataset)
    xtr, xte = torch.from_numpy(case.torch_layout(xtr)), torch.from_numpy(case.torch_layout(xte))
    ytr, yte = torch.from_numpy(ytr).long(), torch.from_numpy(yte).long()
    model, loss_fn = case.make_torch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    curve, start, n = [], time.perf_counter(), len(ytr) // case.batch_size * case.batch_size
    for _ in range(target.max_epochs):
        model.train()
        order = torch.randperm(len(ytr))[:n]
        for i in range(0, n, case.batch_size):
            idx = order[i:i + case.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model, xtr[idx], ytr[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(xte[i:i + 1000]).argmax(-1) == yte[i:i + 1000]).sum())
                          for i in range(0, len(yte), 1000))
        curve.append((time.perf_counter() - start, correct / len(yte)))
        if curve[-1][1] >= target.accuracy:
            break
    result = _result(curve, target)
    result["threads"] = torch.get_num_threads()
    return result
