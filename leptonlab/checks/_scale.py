"""Checks for notebook 20 (scaling out)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab.checks._core import (
    CheckFailed,
    Raised,
    as_array,
    attempt,
    call,
    exercise,
    expect_close,
    failure_from,
    passed,
)


def _mse(params, x, y):
    pred = x @ params["w"] + params["b"]  # [b]
    return jnp.mean(jnp.square(pred - y))


@exercise
def data_parallel_grad(fn) -> None:
    """Check ``fn(loss_fn, params, x, y, n_devices) -> grads``: the mean of the shards' gradients.

    ``loss_fn(params, x, y)`` is a mean over the rows it gets; the batch splits into
    ``n_devices`` equal, contiguous shards, one per (pretend) device.
    """
    name = "data_parallel_grad"
    key_x, key_y, key_w = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(key_x, (12, 3))  # [B, F]
    y = jax.random.normal(key_y, (12,))  # [B]
    params = {"w": jax.random.normal(key_w, (3,)), "b": jnp.array(0.5)}
    want = jax.grad(_mse)(params, x, y)
    for n_devices in (4, 3, 1):
        sizes: list[int] = []

        def loss_fn(p, xs, ys, sizes=sizes):
            sizes.append(int(xs.shape[0]))  # shapes are known while jax.grad traces
            return _mse(p, xs, ys)

        got = call(name, fn, loss_fn, params, x, y, n_devices)
        if not isinstance(got, dict) or set(got) != {"w", "b"}:
            raise CheckFailed(
                name,
                f"expected gradients shaped like params ({{'w', 'b'}}), got {type(got).__name__}"
                f"{' with keys ' + str(sorted(got)) if isinstance(got, dict) else ''}.",
                (
                    "return one gradient per parameter, in a dict shaped like params.",
                    "the gradient of loss_fn with respect to params is already shaped like params; "
                    "average such dicts leaf by leaf.",
                ),
            )
        shard = 12 // n_devices
        if n_devices > 1 and sizes and set(sizes) != {shard}:
            raise CheckFailed(
                name,
                f"with {n_devices} devices loss_fn saw batches of {sorted(set(sizes))} rows; "
                f"each device holds {shard} of the 12.",
                (
                    "split x and y into n_devices equal, contiguous shards and take the gradient on each.",
                    "each shard holds batch / n_devices consecutive rows of x and the matching rows of y.",
                ),
            )
        got_b = as_array(name, got["b"], "the gradient for 'b'")
        ratio = float(np.mean(got_b) / want["b"]) if float(want["b"]) != 0 else 1.0
        if n_devices > 1 and abs(ratio - n_devices) < 1e-3:
            raise CheckFailed(
                name,
                f"with {n_devices} devices your gradient is {n_devices} times too large.",
                "each shard's loss is already a mean: average the shard gradients "
                "(divide their sum by n_devices), do not just add them.",
            )
        for k in ("w", "b"):
            expect_close(
                name,
                got[k],
                want[k],
                what=f"the gradient for {k!r} with {n_devices} devices",
                hint=(
                    "the mean of the equal shards' mean-loss gradients is the full batch's gradient.",
                    "one gradient per shard, then their average, leaf by leaf.",
                ),
                rtol=1e-4,
                atol=1e-6,
            )
    return passed(name, "the mean of the shards' gradients is the full-batch gradient.")


@exercise
def local_batch_rows(fn) -> None:
    """Check ``fn(global_batch, process_index, process_count) -> (start, stop)``.

    Process p of P feeds the contiguous rows ``[p * B / P, (p + 1) * B / P)`` of the
    global batch; a batch that does not split evenly raises ValueError.
    """
    name = "local_batch_rows"
    for batch, count in ((64, 2), (96, 4), (10, 1), (12, 3)):
        per = batch // count
        for p in range(count):
            want = (p * per, (p + 1) * per)
            got = call(name, fn, batch, p, count)
            try:
                got_t = tuple(int(v) for v in got)
            except (TypeError, ValueError):
                raise CheckFailed(
                    name,
                    f"expected a pair (start, stop), got {got!r}.",
                    "return a tuple of two ints.",
                ) from None
            if got_t == want:
                continue
            case = f"global_batch={batch}, process_index={p}, process_count={count}"
            hint = (
                "each process feeds B / P consecutive rows, process 0 first.",
                "work out process 1's rows by hand for B = 8, P = 2.",
            )
            if got_t == (p * batch, (p + 1) * batch):
                hint = (
                    "that is a whole global batch per process: each process feeds only B / P rows."
                )
            elif got_t == (want[0], want[1] - 1):
                hint = (
                    "stop is exclusive (like Python slices): it is where the next process starts."
                )
            raise CheckFailed(name, f"for {case} you returned {got_t}; expected {want}.", hint)
    got = attempt(name, fn, 10, 0, 4)
    if isinstance(got, Raised) and got.isa("ValueError"):
        return passed(name)
    if isinstance(got, Raised) and got.isa("NotImplementedError"):
        raise failure_from(name, got)
    if isinstance(got, Raised):
        raise CheckFailed(
            name,
            f"for 10 rows over 4 processes you raised {got.type_name}, not ValueError.",
            "when the batch does not split evenly, raise a ValueError with a message.",
        )
    raise CheckFailed(
        name,
        f"10 rows do not split over 4 processes, but you returned {got!r}.",
        (
            "every device must get as many rows: raise ValueError for a batch that does not split "
            "evenly.",
            "test whether the division leaves a remainder, and raise ValueError if it does.",
        ),
    )
