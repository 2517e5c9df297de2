"""Time to a target on the real data: leptonlab against PyTorch eager.

Throughput says how fast a step is; time-to-target says how fast a learner gets a
good model, which is what they wait for. Both sides train the same model on the
same data, in the same order of work, until the test metric reaches the target or
``max_epochs`` pass. The clock includes compilation (leptonlab) and the evaluations
(both): a learner waits for those too.

* MLP and CNN on MNIST: ``fit`` one epoch at a time, Adam at lr 1e-3, the case's batch
  size, test accuracy after each epoch.
* Character GRU on tiny Shakespeare (notebook 11's data: windows of 128 characters at
  stride 64 from the first 90% of the text): ``fit`` one epoch at a time, Adam at
  notebook 11's lr 2e-3 (constant) and its dropout 0.2 (without it both frameworks' GRUs
  overfit from the 5th epoch and stopped at 1.51-1.53 nats), the validation loss in nats
  per character after each epoch, over every window of the last 10%.
* ResNet on CIFAR-10 (notebook 16's CPU network; pixels scaled per channel with the
  training set's mean and std): ``fit`` one epoch at a time, Adam at lr 1e-3, no
  augmentation, test accuracy after each epoch. Offline this is the PNG subset (20,000
  training images); each result records how many examples it trained on.
* Biased MF on MovieLens-100K's fold u1 (notebook 14's configuration,
  ``benchmarks/movielens_mf.py``): full-batch Adam, test RMSE after each step. ``fit_mf``
  runs all its steps as one compiled scan, so leptonlab's side first finds the step where
  the target is met (recorded with ``val=``), then times a fresh run of exactly that many
  steps, compilation included, and checks that it lands on the same RMSE.

Needs the dataset (``LEPTONLAB_DATA_DIR`` offline); PyTorch is optional.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time

import numpy as np

from benchmarks._cases import Case, channels_last


@dataclasses.dataclass(frozen=True)
class Target:
    """Train on ``dataset`` until the test ``metric`` reaches ``value``."""

    dataset: str  # "mnist", "cifar10", "tinyshakespeare" or "ml-100k-u1"
    value: float  # test accuracy to reach (at least), or test RMSE / loss (at most)
    max_epochs: int  # give up after this many epochs (reported as not reached)
    note: str  # where the target comes from
    metric: str = "accuracy"  # "accuracy" (higher is better), "rmse" or "loss" (lower is better)
    learning_rate: float = 1e-3  # Adam's (MF: set by benchmarks.movielens_mf.MF_CONFIG)
    dropout: float = 0.0  # for the models that have it (the char-GRU), on both sides

    @property
    def model_options(self) -> dict:
        """Keyword arguments for the case's ``make_model`` and ``make_torch``."""
        return {"dropout": self.dropout} if self.dropout else {}

    @property
    def lower_is_better(self) -> bool:
        return self.metric in ("rmse", "loss")

    def met(self, value: float) -> bool:
        return value <= self.value if self.lower_is_better else value >= self.value

    def best(self, values) -> float:
        return min(values) if self.lower_is_better else max(values)


TARGETS = {
    "mlp": Target("mnist", 0.98, 10, "MLP on MNIST (notebook 05's classifier)"),
    "cnn": Target(
        "mnist",
        0.99,
        10,
        "CNN on MNIST (notebook 08 reaches 99.3% with augmentation and 15 epochs)",
    ),
    "char-gru": Target(
        "tinyshakespeare",
        1.50,
        15,
        "character GRU 512 on tiny Shakespeare (notebook 11's full run "
        "reaches <= 1.50 nats/char on validation)",
        metric="loss",
        learning_rate=2e-3,
        dropout=0.2,
    ),
    "resnet": Target(
        "cifar10",
        0.70,
        12,
        "ResNet width 32 on CIFAR-10 (notebook 16's target for a CPU: 70% test accuracy)",
    ),
    "mf": Target(
        "ml-100k-u1",
        0.93,
        300,
        "biased MF rank 128 on MovieLens-100K u1, full-batch Adam (notebook 14; "
        "item CF scores 0.9345 there)",
        metric="rmse",
    ),
}


def load(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: for MNIST float32 images ``[N, 28, 28, 1]`` in [0, 1] and
    int32 labels ``[N]``; for CIFAR-10 float32 images ``[N, 32, 32, 3]`` standardised per channel; for tiny
    Shakespeare int32 character windows and their next characters ``[W, 128]``."""
    from leptonlab import data

    if dataset == "cifar10":
        (xtr, ytr), (xte, yte) = data.load_cifar10("train"), data.load_cifar10("test")
        xtr, xte = xtr.astype(np.float32) / 255.0, xte.astype(np.float32) / 255.0  # uint8 -> [0, 1]
        mean, std = (
            xtr.mean(axis=(0, 1, 2)),
            xtr.std(axis=(0, 1, 2)),
        )  # [3] each: the training set's
        return (xtr - mean) / std, ytr.astype(np.int32), (xte - mean) / std, yte.astype(np.int32)

    if dataset == "tinyshakespeare":
        from benchmarks._cases import SEQ_LEN
        from leptonlab.text import CharVocab, lm_windows, split_text

        text = data.load_tinyshakespeare()
        vocab = CharVocab.from_text(text)
        train_text, val_text = split_text(text, val_fraction=0.1)  # notebook 11's split and windows
        x, y = lm_windows(vocab.encode(train_text), SEQ_LEN, stride=SEQ_LEN // 2)  # [W, T] each
        x_val, y_val = lm_windows(vocab.encode(val_text), SEQ_LEN)  # [Wv, T] each
        return x, y, x_val, y_val
    if dataset != "mnist":
        raise ValueError(f"no time-to-target data for {dataset!r}")
    (xtr, ytr), (xte, yte) = data.load_mnist("train"), data.load_mnist("test")
    scale = lambda x: (x.astype(np.float32) / 255.0)[..., None]  # noqa: E731  [N, 28, 28] uint8 -> [N, 28, 28, 1]
    return scale(xtr), ytr.astype(np.int32), scale(xte), yte.astype(np.int32)


def _result(curve: list[tuple[float, float]], target: Target) -> dict:
    """``curve``: (seconds since start, test metric) after each epoch."""
    reached = [(s, a) for s, a in curve if target.met(a)]
    return {
        "target": target.value,
        "metric": target.metric,
        "reached": bool(reached),
        "seconds": reached[0][0] if reached else None,
        "epochs": curve.index(reached[0]) + 1 if reached else None,
        "best": target.best(a for _, a in curve),
        "curve": curve,
    }


def leptonlab_mf_time_to_target(target: Target) -> dict:
    """``recsys.fit_mf`` with notebook 14's configuration: the step where the test RMSE first meets
    the target, then a fresh, timed run of that many steps (compilation included)."""
    import jax

    from benchmarks.movielens_mf import MF_CONFIG, indexed_fold
    from leptonlab import recsys

    train, test = indexed_fold("u1")
    _, history = recsys.fit_mf(
        train,
        dataclasses.replace(MF_CONFIG, epochs=target.max_epochs),
        key=jax.random.key(0),
        val=test,
    )
    values = [float(v) for v in history.val_rmse]
    hit = next((epoch for epoch, v in enumerate(values, 1) if target.met(v)), None)
    result = {
        "target": target.value,
        "metric": target.metric,
        "reached": hit is not None,
        "seconds": None,
        "epochs": hit,
        "best": target.best(values),
        "curve": values,
    }
    if hit is not None:
        start = time.perf_counter()
        params, _ = recsys.fit_mf(
            train, dataclasses.replace(MF_CONFIG, epochs=hit), key=jax.random.key(0)
        )
        jax.block_until_ready(params)
        result["seconds"] = time.perf_counter() - start
        result["rmse_at_stop"] = float(recsys.evaluate_mf(params, test)["rmse"])
        if (
            abs(result["rmse_at_stop"] - values[hit - 1]) > 1e-4
        ):  # the timed run must be the run measured
            raise RuntimeError(
                f"the timed {hit}-step run ended at RMSE {result['rmse_at_stop']:.5f}, the recorded "
                f"curve at {values[hit - 1]:.5f}: fit_mf is not deterministic here."
            )
    return result


def torch_mf_time_to_target(target: Target) -> dict:
    """The same biased MF, objective and optimizer in PyTorch eager, the test RMSE after every step."""
    import torch

    from benchmarks.movielens_mf import MF_CONFIG, indexed_fold

    torch.manual_seed(0)
    train, test = indexed_fold("u1")
    c = MF_CONFIG
    u, i = torch.from_numpy(train.user).long(), torch.from_numpy(train.item).long()
    r = torch.from_numpy(train.rating.astype(np.float32))
    tu, ti = torch.from_numpy(test.user).long(), torch.from_numpy(test.item).long()
    tr = torch.from_numpy(test.rating.astype(np.float32))
    mu = float(r.mean())  # fixed, as in fit_mf
    p = (c.init_scale * torch.randn(train.n_users, c.rank)).requires_grad_()
    q = (c.init_scale * torch.randn(train.n_items, c.rank)).requires_grad_()
    bu, bi = (
        torch.zeros(train.n_users, requires_grad=True),
        torch.zeros(train.n_items, requires_grad=True),
    )
    opt = torch.optim.Adam([p, q, bu, bi], lr=c.learning_rate)
    n_train = len(r)
    curve, start = [], time.perf_counter()
    for _ in range(target.max_epochs):
        opt.zero_grad(set_to_none=True)
        pu, qi, b_u, b_i = p[u], q[i], bu[u], bi[i]
        err = mu + b_u + b_i + (pu * qi).sum(-1) - r
        penalty = c.l2 * ((pu * pu).sum(-1) + (qi * qi).sum(-1)) + c.l2_bias * (
            b_u * b_u + b_i * b_i
        )
        loss = (err * err + penalty).mean() + c.l2_uniform * (
            (p * p).sum() + (q * q).sum()
        ) / n_train
        loss.backward()
        opt.step()
        with torch.no_grad():
            pred = (mu + bu[tu] + bi[ti] + (p[tu] * q[ti]).sum(-1)).clamp(*c.clip)
            curve.append((time.perf_counter() - start, float(((pred - tr) ** 2).mean().sqrt())))
        if target.met(curve[-1][1]):
            break
    result = _result(curve, target)
    result["threads"] = torch.get_num_threads()
    return result


def leptonlab_time_to_target(case: Case, target: Target) -> dict:
    """``leptonlab.train.fit`` one epoch at a time (continuing its state) until the target is reached."""
    import jax

    if target.dataset == "ml-100k-u1":
        return leptonlab_mf_time_to_target(target)

    from leptonlab.train import TrainConfig, evaluate, fit

    xtr, ytr, xte, yte = load(target.dataset)
    train, test = (
        (jax.device_put(xtr), jax.device_put(ytr)),
        (jax.device_put(xte), jax.device_put(yte)),
    )
    curve, state, start = [], None, time.perf_counter()
    for epoch in range(target.max_epochs):
        config = TrainConfig(
            epochs=1,
            batch_size=case.batch_size,
            learning_rate=target.learning_rate,
            seed=epoch,
            progress=False,
        )
        model = case.make_model(**target.model_options) if state is None else None
        state, _ = fit(model, train, config, loss_fn=case.loss_fn, state=state)
        value = float(
            evaluate(state, test, loss_fn=case.loss_fn)[target.metric]
        )  # "accuracy" or "loss"
        curve.append((time.perf_counter() - start, value))
        if target.met(value):
            break
    return {**_result(curve, target), "train_examples": len(ytr)}


def _torch_evaluate(model, x, y, metric: str, batch_size: int = 1000) -> float:
    """Test accuracy, or the mean next-character loss in nats (every window has the same length)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits, labels = (
                model(x[i : i + batch_size]),
                y[i : i + batch_size],
            )  # [b, (T,) V], [b, (T)]
            if (
                metric == "loss"
            ):  # summed over the batch's windows, each the mean over its T characters
                total += (
                    float(
                        F.cross_entropy(
                            logits.reshape(-1, logits.shape[-1]),
                            labels.reshape(-1),
                            reduction="sum",
                        )
                    )
                    / labels.shape[1]
                )
            else:
                total += int((logits.argmax(-1) == labels).sum())
    return total / len(y)


def torch_time_to_target(
    case: Case, target: Target, channels_last_layout: bool = False
) -> dict | None:
    """The same in PyTorch eager (None when PyTorch is not installed); ``channels_last_layout`` as in
    :func:`benchmarks._run.run_torch`."""
    if case.make_torch is None or importlib.util.find_spec("torch") is None:
        return None
    if target.dataset == "ml-100k-u1":
        return torch_mf_time_to_target(target)
    import torch

    torch.manual_seed(0)
    xtr, ytr, xte, yte = load(target.dataset)
    xtr, xte = torch.from_numpy(case.torch_layout(xtr)), torch.from_numpy(case.torch_layout(xte))
    ytr, yte = torch.from_numpy(ytr).long(), torch.from_numpy(yte).long()
    model, loss_fn = case.make_torch(**target.model_options)
    if channels_last_layout:
        model, xtr, xte = channels_last(model, xtr, xte)
    opt = torch.optim.Adam(model.parameters(), lr=target.learning_rate)
    curve, start, n = [], time.perf_counter(), len(ytr) // case.batch_size * case.batch_size
    for _ in range(target.max_epochs):
        model.train()
        order = torch.randperm(len(ytr))[:n]
        for i in range(0, n, case.batch_size):
            idx = order[i : i + case.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model, xtr[idx], ytr[idx]).backward()
            opt.step()
        curve.append((time.perf_counter() - start, _torch_evaluate(model, xte, yte, target.metric)))
        if target.met(curve[-1][1]):
            break
    result = _result(curve, target)
    result["threads"], result["train_examples"] = torch.get_num_threads(), len(ytr)
    result["layout"] = "channels-last" if channels_last_layout else "default"
    return result
