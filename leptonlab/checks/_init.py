"""Checks for notebook 09, section 1: the standard deviation of Xavier and He initialisation, and the
fraction of dead ReLU units in a layer's output."""

from __future__ import annotations

import math

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, passed

# (init, n_in, n_out): square and rectangular layers, so that fan-in, fan-out and their sum all differ.
_STD_CASES = (
    ("he", 784, 256),
    ("he", 256, 10),
    ("xavier", 784, 256),
    ("xavier", 256, 10),
    ("he", 256, 256),
    ("xavier", 100, 100),
)


def _reference_std(init: str, n_in: int, n_out: int) -> float:
    variance = 2.0 / n_in if init == "he" else 2.0 / (n_in + n_out)
    return math.sqrt(variance)


def _std_diagnosis(
    init: str, n_in: int, n_out: int, got: float
) -> tuple[str, tuple[str, str]] | None:
    """What a wrong standard deviation ``got`` most likely is, as (problem, hints); None if unknown."""
    want = _reference_std(init, n_in, n_out)
    close = lambda value: math.isclose(got, value, rel_tol=1e-4)  # noqa: E731
    case = f"{init!r} with n_in={n_in}, n_out={n_out}"
    if close(want**2):
        return (
            f"for {case} you returned {got:.6g}, the variance; the function returns the standard "
            f"deviation ({want:.6g}).",
            (
                "jax.random.normal draws with standard deviation 1, so the weights are the draws "
                "times a standard deviation, not a variance.",
                "take the square root of the variance you computed.",
            ),
        )
    if init == "he" and n_in != n_out and close(math.sqrt(2.0 / n_out)):
        return (
            f"for {case} you returned {got:.6g}, which uses n_out; expected {want:.6g}.",
            (
                "He initialisation keeps the forward signal: which width multiplies Var[w] in "
                "Var[z] = n * Var[w] * E[x^2]?",
                "the sum in z = x @ W runs over the inputs of the layer.",
            ),
        )
    if close(math.sqrt(1.0 / n_in)):
        return (
            f"for {case} you returned {got:.6g}, which is LeCun's 1/n_in variance; expected {want:.6g}.",
            (
                "He's variance puts back the half of the signal a ReLU removes; Xavier's averages "
                "the fan-in and the fan-out.",
                "reread the derivation above the exercise: the factor in front of the variance is not 1.",
            ),
        )
    if init == "xavier" and close(math.sqrt(2.0 / n_in)):
        return (
            f"for {case} you returned He's value {got:.6g}; Xavier's is {want:.6g}.",
            (
                "Xavier initialisation uses the fan-out as well as the fan-in.",
                "Xavier's variance is the compromise between the forward and the backward pass.",
            ),
        )
    if init == "xavier" and close(math.sqrt(1.0 / (n_in + n_out))):
        return (
            f"for {case} you returned {got:.6g}, half of Xavier's variance; expected {want:.6g}.",
            (
                "Xavier's variance is one over the *average* of fan-in and fan-out.",
                "the average of two widths is their sum divided by 2.",
            ),
        )
    return None


@exercise
def init_std(fn) -> None:
    """Check ``fn(init, n_in, n_out) -> float``: the standard deviation of "xavier" and "he" weights."""
    name = "init_std"
    for init, n_in, n_out in _STD_CASES:
        got = as_array(name, call(name, fn, init, n_in, n_out), f"the value for {init!r}")
        if got.shape != ():
            raise CheckFailed(
                name,
                f"for {init!r} with n_in={n_in}, n_out={n_out} you returned shape {got.shape}; "
                "expected one number.",
                "return a single float (the standard deviation), not the weights themselves.",
            )
        value, want = float(got), _reference_std(init, n_in, n_out)
        if not np.isfinite(value):
            raise CheckFailed(
                name,
                f"for {init!r} with n_in={n_in}, n_out={n_out} you returned {value}; expected "
                f"{want:.6g}.",
                "the widths are positive integers: nothing here should overflow or divide by zero.",
            )
        if math.isclose(value, want, rel_tol=1e-5):
            continue
        found = _std_diagnosis(init, n_in, n_out, value)
        if found is not None:
            raise CheckFailed(name, *found)
        raise CheckFailed(
            name,
            f"for {init!r} with n_in={n_in}, n_out={n_out} you returned {value:.6g}; expected {want:.6g}.",
            (
                "compare your function with the two variances derived above the exercise, one "
                "initialisation at a time.",
                "compute the variance first, then return its square root.",
            ),
        )
    return passed(name)


def _layer_outputs() -> tuple[np.ndarray, float, dict[str, float]]:
    """ReLU outputs ``h: [6, 8]`` with 3 dead units of 8, and the value each usual mistake gives."""
    rng = np.random.default_rng(9)
    h = np.maximum(rng.normal(size=(6, 8)), 0.0).astype(np.float32)  # [B=6, units=8]
    h[:, [1, 4, 6]] = 0.0  # units 1, 4, 6: zero on every example (dead)
    h[0, [0, 2, 3, 5, 7]] += 0.5  # the other five fire on example 0 at least: alive
    h[2, :] = 0.0  # example 2: every unit zero (an example, not a unit: no unit dies of it)
    zero = h == 0  # [6, 8]
    mistakes = {
        "entries": float(zero.mean()),  # the fraction of zero entries
        "count": float(zero.all(axis=0).sum()),  # the number of dead units, not the fraction
        "any": float(zero.any(axis=0).mean()),  # units zero on *some* example
        "rows": float(zero.all(axis=1).mean()),  # examples zero in every unit
    }
    return h, float(zero.all(axis=0).mean()), mistakes


@exercise
def dead_fraction(fn) -> None:
    """Check ``fn(h: [B, units]) -> float``: the fraction of units that are 0 on every example."""
    name = "dead_fraction"
    h, want, mistakes = _layer_outputs()
    got = as_array(name, call(name, fn, h), "your fraction")
    if got.shape != ():
        raise CheckFailed(
            name,
            f"you returned an array of shape {got.shape}; expected one number, the fraction of "
            f"the {h.shape[1]} units that are dead.",
            (
                "first decide for each unit whether it is dead, then turn those decisions into one "
                "fraction.",
                "a mean of booleans is the fraction of True values.",
            ),
        )
    value = float(got)
    if not math.isclose(value, want, rel_tol=1e-6):
        problems = {
            "entries": "that is the fraction of zero *entries*; a unit is dead only when it is "
            "zero on every example",
            "count": "that is the number of dead units; the exercise asks for the fraction",
            "any": "you counted units that are zero on *some* example; a dead unit is zero on "
            "*every* example",
            "rows": "you counted examples whose every unit is zero; the units are the columns",
        }
        hints = {
            "entries": (
                "decide per unit (per column) first: is it zero on all examples?",
                "reduce over the batch axis (axis 0) with a test that needs every row to be zero.",
            ),
            "count": ("divide by the number of units.", "a mean of booleans gives a fraction."),
            "any": (
                "half of a healthy ReLU layer's entries are zero; what matters is a unit that never fires.",
                "use the reduction that is True only when all entries are True.",
            ),
            "rows": (
                "h is [B, units]: axis 0 is the batch, axis 1 the units.",
                "reduce over the batch axis, so that one decision per unit is left.",
            ),
        }
        for kind, value_if in mistakes.items():
            if math.isclose(value, value_if, rel_tol=1e-6):
                raise CheckFailed(
                    name,
                    f"your fraction is {value:.6g}: {problems[kind]}. Expected {want:.6g}.",
                    hints[kind],
                )
        raise CheckFailed(
            name,
            f"your fraction is {value:.6g}; expected {want:.6g} (3 of 8 units are zero on every "
            "example).",
            (
                "a unit is dead when its column is zero on every row; count those columns, as a "
                "fraction of all columns.",
                "print which units your code finds dead, in a new cell.",
            ),
        )
    alive = np.maximum(h, 0.0) + 1.0  # every unit positive on every example
    expect = as_array(name, call(name, fn, alive), "your fraction for a layer without dead units")
    if expect.shape != () or float(expect) != 0.0:
        raise CheckFailed(
            name,
            f"for a layer whose units are all positive you returned {expect}; expected 0.",
            "a unit that fires on any example is alive.",
        )
    return passed(name)
