"""Checks for notebook 10 (a recurrent network written by hand)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _case(seed: int, batch: int = 3, d: int = 4, h: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, d)).astype(np.float32)
    h_prev = rng.normal(size=(batch, h)).astype(np.float32)
    w_x = (rng.normal(size=(d, h)) / np.sqrt(d)).astype(np.float32)
    w_h = (rng.normal(size=(h, h)) / np.sqrt(h)).astype(np.float32)
    b = rng.normal(size=(h,)).astype(np.float32)
    return x, h_prev, w_x, w_h, b


@exercise
def rnn_step(fn) -> None:
    """Check ``fn(x: [B, D], h: [B, H], w_x: [D, H], w_h: [H, H], b: [H]) -> [B, H]``: tanh(x w_x + h w_h + b)."""
    name = "rnn_step"
    for seed in (0, 1):
        x, h, w_x, w_h, b = _case(seed)
        want = np.tanh(x @ w_x + h @ w_h + b)
        got = as_array(name, call(name, fn, x, h, w_x, w_h, b), "the new state")
        if got.shape == want.shape:
            mistakes = [
                (x @ w_x + h @ w_h + b, "apply the nonlinearity (tanh) to the sum."),
                (
                    np.tanh(x @ w_x + b),
                    "the new state depends on the old one: the previous state enters through its own weights.",
                ),
                (
                    np.tanh(x @ w_x + h @ w_h.T + b),
                    "use w_h as it is, not its transpose: let the shapes [B, H] and [H, H] guide you.",
                ),
                (np.tanh(x @ w_x + h @ w_h), "add the bias b."),
            ]
            for wrong, hint in mistakes:
                if np.allclose(got, wrong, atol=1e-5) and not np.allclose(got, want, atol=1e-5):
                    raise CheckFailed(name, "the new state differs from the reference.", hint)
        expect_close(
            name,
            got,
            want,
            what="the new state h'",
            rtol=1e-4,
            atol=1e-5,
            hint=(
                "compare each term of your update with the equation above the exercise.",
                "the input and the previous state each have their own weight matrix; with shapes "
                "[B, D] and [B, H], let the matrix shapes tell you the order of the products.",
            ),
        )
    return passed(name)


@exercise
def rnn_forward(fn) -> None:
    """Check ``fn(step, h0: [B, H], xs: [T, B, D]) -> [T, B, H]``: the states after each input, h0 excluded."""
    name = "rnn_forward"
    x, h0, w_x, w_h, b = _case(2)
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(6, 3, 4)).astype(np.float32)  # [T, B, D]

    def step(h, x_t):
        return np.tanh(x_t @ w_x + h @ w_h + b)

    states, h = [], h0
    for x_t in xs:
        h = step(h, x_t)
        states.append(h)
    want = np.stack(states)  # [T, B, H]
    got = as_array(name, call(name, fn, step, h0, xs), "the stacked states")
    if got.shape == (len(xs) + 1, *h0.shape):
        raise CheckFailed(
            name,
            f"you returned {len(xs) + 1} states for {len(xs)} inputs.",
            "return the state after each input; h0 is where you start, not an output.",
        )
    if got.shape == want.shape:
        zero_start = []
        h = np.zeros_like(h0)
        for x_t in xs:
            h = step(h, x_t)
            zero_start.append(h)
        if np.allclose(got, np.stack(zero_start), atol=1e-5) and not np.allclose(
            got, want, atol=1e-5
        ):
            raise CheckFailed(
                name,
                "your states start from zeros instead of the h0 you were given.",
                "initialise the state with h = h0 before the loop.",
            )
        shifted = np.concatenate([h0[None], want[:-1]])
        if np.allclose(got, shifted, atol=1e-5):
            raise CheckFailed(
                name,
                "your states are shifted by one step: the first one is h0.",
                "append the state after updating it with x_t, not before.",
            )
        if np.allclose(got, np.broadcast_to(want[-1], want.shape), atol=1e-5):
            raise CheckFailed(
                name,
                "every entry is the last state.",
                "append the current state inside the loop (a new array each step).",
            )
    expect_close(
        name,
        got,
        want,
        what="the states [T, B, H]",
        rtol=1e-4,
        atol=1e-5,
        hint=(
            "start from h0, apply the step once per input in order, and keep every new state.",
            "return one state per input, stacked along a new first axis; h0 itself is not one of them.",
        ),
    )
    return passed(name)
