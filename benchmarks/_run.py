"""Run one case in this process: leptonlab's training loop, then its references."""

from __future__ import annotations

import importlib.util
import statistics
from collections.abc import Callable

import numpy as np

from benchmarks._cases import Case, channels_last
from benchmarks._timing import peak_rss_mib, throughput


def _config(case: Case):
    from leptonlab.train import TrainConfig

    return TrainConfig(
        epochs=1,
        batch_size=case.batch_size,
        learning_rate=1e-3,
        optimizer="adam",
        progress=False,
        steps_per_call=case.steps_per_call,
        compute_dtype=case.compute_dtype,
    )


def _interactions(pairs: np.ndarray, ratings: np.ndarray):
    """Synthetic ``(user, item)`` rows ``[N, 2]`` and stars ``[N]`` as ``recsys.Interactions``."""
    from benchmarks._cases import MF_ITEMS, MF_USERS
    from leptonlab import recsys

    return recsys.Interactions(
        user=pairs[:, 0],
        item=pairs[:, 1],
        rating=ratings,
        timestamp=np.zeros(len(ratings), np.int64),
        users=recsys.build_index(np.arange(MF_USERS)),
        items=recsys.build_index(np.arange(MF_ITEMS)),
    )


def run_leptonlab_mf(case: Case, x: np.ndarray, y: np.ndarray, repeats: int) -> dict:
    """``leptonlab.recsys.fit_mf``: ``case.steps`` full-batch epochs, one compiled scan per run."""
    import jax

    from benchmarks._cases import MF_RANK
    from leptonlab import recsys

    train = _interactions(
        x[: case.batch_size], y[: case.batch_size]
    )  # one full batch, trained `steps` epochs
    config = recsys.MFConfig(rank=MF_RANK, epochs=case.steps, batch_size=None, learning_rate=1e-3)

    def run() -> int:
        params, _ = recsys.fit_mf(train, config, key=jax.random.key(0))
        jax.block_until_ready(params)
        return case.steps * case.batch_size

    return throughput(run, repeats=repeats)


def run_naive_jax_mf(case: Case, x: np.ndarray, y: np.ndarray, repeats: int) -> dict:
    """Full-batch MF, the first-program way: jitted gradient, optimizer op by op, a host sync per step."""
    import jax
    import jax.numpy as jnp
    import optax

    from benchmarks._cases import MF_ITEMS, MF_RANK, MF_USERS
    from leptonlab import recsys

    params = recsys.init_mf(MF_USERS, MF_ITEMS, MF_RANK, key=jax.random.key(0), mu=float(y.mean()))
    tx = optax.adam(1e-3)
    holder = {"params": params, "opt_state": tx.init(params)}
    rows = slice(0, case.batch_size)  # one full batch, as fit_mf trains
    users, items, ratings = jnp.asarray(x[rows, 0]), jnp.asarray(x[rows, 1]), jnp.asarray(y[rows])
    loss_and_grad = jax.jit(
        jax.value_and_grad(lambda p, u, i, r: recsys.mf_loss(p, u, i, r, 0.05, 0.005))
    )

    def run() -> int:
        for _ in range(case.steps):
            loss, grads = loss_and_grad(
                holder["params"], users, items, ratings
            )  # data as arguments, not constants
            updates, holder["opt_state"] = tx.update(grads, holder["opt_state"], holder["params"])
            holder["params"] = optax.apply_updates(holder["params"], updates)
            float(loss)  # per-step host sync
        return case.steps * case.batch_size

    return throughput(run, repeats=repeats)


def leptonlab_fit_call(case: Case, x: np.ndarray, y: np.ndarray) -> Callable[[], int]:
    """A function that runs ``leptonlab.train.fit`` for one epoch of ``case.steps`` steps and
    returns the samples it trained on; each call continues the state of the one before."""
    import jax

    from leptonlab.train import fit

    data = (jax.device_put(x), jax.device_put(y))  # resident on the device, as in the notebooks
    config = _config(case)
    holder = {"state": None}

    def run() -> int:
        model = case.make_model() if holder["state"] is None else None
        state, _ = fit(model, data, config, loss_fn=case.loss_fn, state=holder["state"])
        jax.block_until_ready(state.params)
        holder["state"] = state
        return case.steps * case.batch_size

    return run


def run_leptonlab(case: Case, x: np.ndarray, y: np.ndarray, repeats: int) -> dict:
    """``leptonlab.train.fit`` for one epoch of ``case.steps`` steps, continuing the same state each run."""
    if case.trainer == "fit_mf":
        return run_leptonlab_mf(case, x, y, repeats)
    return throughput(leptonlab_fit_call(case, x, y), repeats=repeats)


def run_naive_jax(case: Case, x: np.ndarray, y: np.ndarray, repeats: int) -> dict:
    """The loop a first JAX program often is: jitted gradient only, optimizer update op by op,
    batches gathered on the host, and the loss read back (a host sync) every step."""
    import jax
    import optax
    from flax import nnx

    if case.trainer == "fit_mf":
        return run_naive_jax_mf(case, x, y, repeats)
    model = case.make_model()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)
    key = jax.random.key(0)

    @jax.jit
    def loss_and_grad(params, rest, xb, yb, key):
        def loss(p):
            m = nnx.merge(graphdef, p, rest, copy=True)  # a fresh module inside the trace
            m.train()
            value = case.loss_fn(m, (xb, yb), key)[0]
            return value, nnx.split(m, nnx.Param, ...)[
                2
            ]  # batch-norm statistics updated by the pass

        (value, rest), grads = jax.value_and_grad(loss, has_aux=True)(params)
        return value, rest, grads

    rng = np.random.default_rng(0)
    holder = {"params": params, "opt_state": opt_state, "rest": rest}

    def run() -> int:
        order = rng.permutation(case.steps * case.batch_size)
        for i in range(case.steps):
            idx = order[i * case.batch_size : (i + 1) * case.batch_size]
            loss, holder["rest"], grads = loss_and_grad(
                holder["params"], holder["rest"], x[idx], y[idx], key
            )
            updates, holder["opt_state"] = tx.update(grads, holder["opt_state"], holder["params"])
            holder["params"] = optax.apply_updates(holder["params"], updates)
            float(loss)  # per-step host sync
        jax.block_until_ready(holder["params"])
        return case.steps * case.batch_size

    return throughput(run, repeats=repeats)


def _jax_backend() -> str:
    """JAX's backend, asked in a subprocess so that this process never starts JAX's thread pool."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import jax; print(jax.default_backend())"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "cpu"


def run_torch(
    case: Case,
    x: np.ndarray,
    y: np.ndarray,
    repeats: int,
    channels_last_layout: bool = False,
    bf16: bool = False,
) -> dict | None:
    """PyTorch eager on the identical network and batches (None when PyTorch is not installed);
    ``channels_last_layout``: images and convolution weights in PyTorch's channels-last layout;
    ``bf16``: the forward pass and loss under bf16 autocast (float32 weights and optimizer)."""
    if case.make_torch is None or importlib.util.find_spec("torch") is None:
        return None
    import torch

    if _jax_backend() != "cpu":  # compare like with like: PyTorch on CUDA, or not at all
        if not torch.cuda.is_available():
            return None
        torch.set_default_device("cuda")
    torch.manual_seed(0)
    model, loss_fn = case.make_torch()
    device = "cuda" if _jax_backend() != "cpu" else "cpu"
    xs, ys = torch.from_numpy(case.torch_layout(x)).to(device), torch.from_numpy(y).to(device)
    if channels_last_layout:
        model, xs = channels_last(model, xs)  # xs[idx] keeps the layout
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = case.steps * case.batch_size

    def run() -> int:
        order = torch.randperm(n)
        for i in range(case.steps):
            idx = order[i * case.batch_size : (i + 1) * case.batch_size]
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(model, xs[idx], ys[idx])
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return n

    result = throughput(run, repeats=repeats)
    result["torch"] = torch.__version__
    result["threads"] = torch.get_num_threads()
    result["device"] = device
    result["layout"] = "channels-last" if channels_last_layout else "default"
    result["compute_dtype"] = "bfloat16 autocast" if bf16 else "float32"
    return result


def run_case(
    case: Case,
    repeats: int,
    part: str = "jax",
    channels_last_layout: bool = False,
    torch_bf16: bool = False,
) -> dict:
    """One part of a case: ``"jax"`` (leptonlab, then the naive JAX loop) or ``"torch"`` (PyTorch eager).

    The parts run in separate processes: JAX's and PyTorch's CPU thread pools in one process
    compete for the same cores and made PyTorch's figures erratic (up to 30x apart between runs).
    Peak memory is read right after leptonlab's run.
    """
    rng = np.random.default_rng(0)
    x, y = case.make_data(rng, case.steps * case.batch_size)
    row = {
        "case": case.name,
        "description": case.description,
        "batch_size": case.batch_size,
        "steps_per_run": case.steps,
    }
    if part == "torch":
        row["pytorch"] = run_torch(case, x, y, repeats, channels_last_layout, torch_bf16)
        return row
    row["leptonlab"] = run_leptonlab(case, x, y, repeats)
    row["leptonlab"]["peak_rss_mib"] = peak_rss_mib()
    row["naive_jax"] = run_naive_jax(case, x, y, repeats)
    return row


def add_ratios(row: dict) -> dict:
    """``ratio_vs_<reference>``: leptonlab's samples/s over the reference's (> 1: leptonlab is faster)."""
    for ref in ("naive_jax", "pytorch"):
        if row.get(ref) is not None and "leptonlab" in row:
            row[f"ratio_vs_{ref}"] = row["leptonlab"]["samples_per_s"] / row[ref]["samples_per_s"]
    return row


def _merge_measures(measures: list[dict]) -> dict:
    """One side's measures over rounds: medians of rates and compile times, the extremes of the spreads."""
    merged = dict(measures[len(measures) // 2])  # the rest (versions, threads) from any round
    merged.update(
        samples_per_s=statistics.median(m["samples_per_s"] for m in measures),
        min_samples_per_s=min(m["min_samples_per_s"] for m in measures),
        max_samples_per_s=max(m["max_samples_per_s"] for m in measures),
        compile_s=statistics.median(m["compile_s"] for m in measures),
        per_round_samples_per_s=[m["samples_per_s"] for m in measures],
    )
    if "peak_rss_mib" in merged:
        merged["peak_rss_mib"] = max(m["peak_rss_mib"] for m in measures)
    return merged


def merge_rounds(rounds: list[dict]) -> dict:
    """Rows of the same case from rounds run one after another (each: leptonlab, then its references).

    A machine's speed drifts over minutes (other tenants, clocks, thermals); a ratio of two
    figures taken minutes apart carries that drift. So each ratio is the median over rounds
    of the ratio *within* a round, whose two parts ran back to back; rates are medians too.
    """
    row = {k: v for k, v in rounds[0].items() if k not in ("leptonlab", "naive_jax", "pytorch")}
    row["rounds"] = len(rounds)
    for side in ("leptonlab", "naive_jax", "pytorch"):
        measures = [r.get(side) for r in rounds]
        row[side] = None if any(m is None for m in measures) else _merge_measures(measures)
    for ref in ("naive_jax", "pytorch"):
        ratios = [add_ratios(dict(r)).get(f"ratio_vs_{ref}") for r in rounds]
        row.pop(f"ratio_vs_{ref}", None)
        if row[ref] is not None and None not in ratios:
            row[f"ratio_vs_{ref}"] = statistics.median(ratios)
            row[f"per_round_ratio_vs_{ref}"] = ratios
    return row
