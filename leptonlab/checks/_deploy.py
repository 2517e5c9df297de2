"""Checks for notebook 21 (compression and deployment)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _reference_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    amax = np.abs(w).max(axis=0, keepdims=True)  # [1, C]
    scale = np.where(amax > 0, amax / 127, 1.0)
    return np.clip(np.round(w / scale), -127, 127), scale


@exercise
def quantize_int8(fn) -> None:
    """Check ``fn(w: [K, C]) -> (q: [K, C] int8, scale: [C] or [1, C])`` with ``w ≈ q * scale``.

    Symmetric per-output-channel quantisation: ``scale = max |w[:, c]| / 127`` (1 for an
    all-zero channel), ``q = round(w / scale)``.
    """
    name = "quantize_int8"
    rng = np.random.default_rng(20)
    w = (rng.normal(size=(16, 4)) * np.array([0.01, 0.5, 2.0, 0.1])).astype(
        np.float32
    )  # channels of different size
    w[3, 1] = -3.0  # the largest magnitude of channel 1 is negative
    w[:, 3] = 0.0  # a channel of zeros (a pruned unit)
    want_q, want_scale = _reference_int8(w.astype(np.float64))
    out = call(name, fn, w.copy())
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise CheckFailed(
            name, f"expected a pair (q, scale), got {type(out).__name__}.", "return q, scale"
        )
    q_raw, scale_raw = out
    if getattr(q_raw, "dtype", None) is None or str(q_raw.dtype) != "int8":
        raise CheckFailed(
            name,
            f"q has dtype {getattr(q_raw, 'dtype', type(q_raw).__name__)}; it must be int8 "
            "(1 byte per weight).",
            (
                "round and clip in floating point, then convert the result to int8.",
                "an array's dtype changes with .astype.",
            ),
        )
    q = as_array(name, q_raw, "q")
    scale = as_array(name, scale_raw, "scale").reshape(-1)
    if scale.shape != (4,):
        hint = (
            "one scale per output channel: reduce over axis 0 only (keepdims=True)."
            if scale.size == 1
            else "scale has one entry per output channel (the last axis)."
        )
        raise CheckFailed(
            name, f"scale has {scale.size} entries for a [16, 4] kernel; expected 4.", hint
        )
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise CheckFailed(
            name,
            f"scale is {scale}: every scale must be a positive number.",
            (
                "an all-zero channel gives max |w| = 0, and dividing by a zero scale gives NaN.",
                "give such a channel any positive scale (1 will do): its weights quantise to 0 anyway.",
            ),
        )
    if np.allclose(scale[:3], np.abs(w).max() / 127):
        raise CheckFailed(
            name,
            "all channels share one scale.",
            "per-channel: one scale per output column, not one for the whole array.",
        )
    if np.allclose(scale[:3], want_scale.ravel()[:3] * 127 / 128, rtol=1e-4):
        raise CheckFailed(
            name, "scale is max|w| / 128.", "int8 goes to 127 on the positive side, not 128."
        )
    if np.allclose(scale[:3], (w.max(axis=0) / 127)[:3], rtol=1e-4) and not np.allclose(
        scale[:3], want_scale.ravel()[:3]
    ):
        raise CheckFailed(
            name, "scale misses the negative weights.", "use the largest magnitude: max of |w|."
        )
    expect_close(
        name,
        scale[:3],
        want_scale.ravel()[:3],
        what="scale of the non-zero channels",
        rtol=1e-4,
        atol=0,
        hint=(
            "each channel's scale maps its largest magnitude to the largest int8 value.",
            "look at one column: its largest |w| should quantise to exactly 127.",
        ),
    )
    if np.abs(q).max() > 127:
        raise CheckFailed(
            name,
            f"q reaches {np.abs(q).max():g}; int8 values must stay in [-127, 127].",
            "clip before converting to int8.",
        )
    error = np.abs(w - q * scale[None, :])
    if np.any(error > scale[None, :] / 2 + 1e-6):
        ratio = w / scale[None, :]
        truncated = max(np.mean(q == np.floor(ratio)), np.mean(q == np.trunc(ratio)))
        hint = (
            "floor or truncation makes the error up to a whole step: round to the nearest integer."
            if truncated > 0.95
            else "q = round(w / scale); each weight then differs from q * scale by at most scale / 2."
        )
        raise CheckFailed(
            name,
            f"q * scale differs from w by up to {error.max():.3g}, more than half a step.",
            hint,
        )
    return passed(
        name, "int8 values and per-channel scales agree; every error is within scale / 2."
    )


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _kd(s, t, T, *, square=True, teacher_t=True, reverse=False):
    log_pt = _log_softmax(t / (T if teacher_t else 1.0))
    log_ps = _log_softmax(s / T)
    if reverse:
        log_pt, log_ps = log_ps, log_pt
    kl = np.sum(np.exp(log_pt) * (log_pt - log_ps), axis=-1)
    return kl * (T**2 if square else 1.0)


@exercise
def soft_target_loss(fn) -> None:
    """Check ``fn(student_logits: [B, C], teacher_logits: [B, C], temperature) -> [B]``.

    The soft-target term of distillation: ``T**2 * KL(softmax(t / T) || softmax(s / T))`` per example.
    """
    name = "soft_target_loss"
    rng = np.random.default_rng(20)
    s = rng.normal(size=(5, 4)) * 3
    t = rng.normal(size=(5, 4)) * 3
    for temperature in (1.0, 4.0):
        want = _kd(s, t, temperature)
        got = as_array(name, call(name, fn, s.copy(), t.copy(), temperature), "the loss")
        if got.shape == ():
            raise CheckFailed(
                name,
                "you returned one number; the loss is per example, shape [B].",
                "sum over the classes (axis=-1) only; do not average over the batch.",
            )
        if got.shape == want.shape and not np.allclose(got, want, rtol=1e-4, atol=1e-6):
            for wrong, hint in [
                (
                    _kd(s, t, temperature, square=False),
                    "multiply by T**2: without it the soft term's gradients shrink as 1/T**2.",
                ),
                (
                    _kd(s, t, temperature, teacher_t=False),
                    "soften the teacher too: softmax(teacher_logits / T).",
                ),
                (
                    _kd(s, t, temperature, reverse=True),
                    "KL(teacher || student): weight by the *teacher's* probabilities.",
                ),
            ]:
                if np.allclose(got, wrong, rtol=1e-4, atol=1e-6):
                    raise CheckFailed(
                        name,
                        f"at T = {temperature:g} your loss is {got.round(4)}; expected "
                        f"{want.round(4)}.",
                        hint,
                    )
        expect_close(
            name,
            got,
            want,
            what=f"the loss at T = {temperature:g}",
            rtol=1e-4,
            atol=1e-6,
            hint=(
                "compare with the notebook's soft-target loss: the KL divergence of softened "
                "distributions, scaled by the temperature squared.",
                "soften both teacher and student logits with the same temperature; compute in log "
                "space, per example, summed over classes.",
            ),
        )
    same = as_array(name, call(name, fn, t.copy(), t.copy(), 4.0), "the loss")
    expect_close(
        name,
        same,
        np.zeros(5),
        what="the loss when student = teacher",
        atol=1e-5,
        hint="KL of a distribution with itself is 0.",
    )
    return passed(name)
