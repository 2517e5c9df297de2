"""Checks for notebook 14: biased matrix factorisation from scratch, its loss and its training loop.

The learner writes the loss ``L`` of ``recsys.fit_mf`` (mean over the ratings of the squared error plus
per-rating L2 penalties, plus the uniform penalty over the rating count) and the full-batch Adam loop
that minimises it with ``mu`` held fixed. The checks compare with a float64 NumPy reference (the
gradient written out, Adam as ``optax.adam`` computes it), which ``tests/test_checks_mf_loop.py`` proves
equal to the package's own ``recsys`` engine; each usual slip is recognised by rerunning the reference
with that slip and named, without printing the solution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, passed

_FIELDS = ("mu", "user_bias", "item_bias", "user_factors", "item_factors")


# --------------------------------------------------------------------------- the problems checked


def mf_problem(
    seed: int, n_users: int = 6, n_items: int = 5, rank: int = 3, n_ratings: int = 24
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A small rating table and a starting point as ``init_mf`` makes it: ``(params, (users, items, ratings))``.

    ``params`` = (mu [], user_bias [U], item_bias [I], user_factors [U, r], item_factors [I, r]) float32,
    biases nonzero (so a missing bias penalty shows); every user and item has ratings.
    """
    rng = np.random.default_rng(seed)
    users = np.concatenate([np.arange(n_users), rng.integers(0, n_users, n_ratings - n_users)])
    items = np.concatenate([np.arange(n_items), rng.integers(0, n_items, n_ratings - n_items)])
    users = users.astype(np.int32)  # [N]
    items = rng.permutation(items).astype(np.int32)  # [N]
    ratings = rng.integers(1, 6, n_ratings).astype(np.float32)  # [N], 1..5 stars
    params = (
        np.float32(ratings.mean()),  # mu: the training mean
        (0.3 * rng.normal(size=n_users)).astype(np.float32),  # [U]
        (0.3 * rng.normal(size=n_items)).astype(np.float32),  # [I]
        (0.3 * rng.normal(size=(n_users, rank))).astype(np.float32),  # [U, r]
        (0.3 * rng.normal(size=(n_items, rank))).astype(np.float32),  # [I, r]
    )
    return params, (users, items, ratings)


# Hyperparameters of the cases: every term of L has its own weight, so each slip changes the numbers.
LOSS_CASES = ((0, 0.07, 0.02, 3.0), (1, 0.5, 0.3, 0.25))  # (seed, l2, l2_bias, l2_uniform)
TRAIN_CASES = (
    (2, 20, 0.05, 0.07, 0.02, 3.0),
    (3, 7, 0.1, 0.3, 0.1, 0.5),
)  # (seed, steps, learning_rate, l2, l2_bias, l2_uniform)


# ------------------------------------------------------------------------------- the reference


def loss_reference(params, users, items, ratings, l2, l2_bias, l2_uniform, *, slip: str = ""):
    """``L`` of notebook 14 in float64 (a float); ``slip`` names a usual mistake."""
    mu, bu, bi, p, q = (np.asarray(a, np.float64) for a in params)
    r = np.asarray(ratings, np.float64)
    n = len(r)
    pu, qi, bu_, bi_ = p[users], q[items], bu[users], bi[items]  # [N, r], [N, r], [N], [N]
    err = (0.0 if slip == "no_mu" else mu) + bu_ + bi_ + np.sum(pu * qi, axis=1) - r  # [N]
    factors = np.sum(pu**2, 1) + np.sum(qi**2, 1)  # [N]
    biases = bu_**2 + bi_**2  # [N]
    every = np.sum(p**2) + np.sum(q**2)
    per_rating = (np.abs(err) if slip == "abs" else err**2) + (
        0.0 if slip == "factors_once" else l2 * factors
    )
    per_rating = per_rating + (0.0 if slip == "no_bias_penalty" else l2_bias * biases)
    uniform = {
        "no_uniform": 0.0,
        "uniform_whole": l2_uniform * every,
        "uniform_mean": l2_uniform * every / (p.size + q.size),
    }.get(slip, l2_uniform * every / n)
    total = (np.sum if slip == "sum" else np.mean)(per_rating) + uniform
    if slip == "factors_once":
        total += l2 * every
    if slip == "rmse":
        total = np.sqrt(np.mean(err**2)) + np.mean(l2 * factors + l2_bias * biases) + uniform
    return float(total)


_LOSS_SLIPS = {
    "sum": "your loss is the *sum* over the ratings of the bracket; L averages it (so that the step size "
    "does not depend on how many ratings there are).",
    "no_uniform": "the uniform penalty on all the factors (the lambda_0 term) is missing.",
    "uniform_whole": "the uniform penalty is not divided by the number of ratings |R|.",
    "uniform_mean": "the uniform penalty is divided by the number of factor entries; L divides it by the "
    "number of ratings |R|.",
    "no_bias_penalty": "the penalty on the biases (the lambda_b term) is missing.",
    "factors_once": "the factor penalty is applied once to every factor; in L each rating pays for the two "
    "factor vectors it uses (so it sits inside the average over ratings).",
    "no_mu": "the global mean mu is missing from the prediction inside the loss.",
    "abs": "the error is not squared: L uses the squared error (the absolute value gives the MAE).",
    "rmse": "that is the root of the mean squared error; L uses the mean squared error itself.",
}


def _name_loss_slip(got: float, args: tuple) -> str | None:
    """The hint for the slip ``got`` matches, if any."""
    for slip, hint in _LOSS_SLIPS.items():
        if np.isclose(got, loss_reference(*args, slip=slip), rtol=1e-4, atol=1e-6):
            return hint
    return None


def _grads(params, users, items, ratings, l2, l2_bias, l2_uniform):
    """dL/d(mu, b_u, b_i, P, Q) of :func:`loss_reference`, written out (float64)."""
    mu, bu, bi, p, q = params
    n = len(ratings)
    pu, qi = p[users], q[items]  # [N, r]
    err = mu + bu[users] + bi[items] + np.sum(pu * qi, axis=1) - ratings  # [N]
    g_mu = 2.0 * np.mean(err)
    g_bu = np.bincount(users, 2.0 * (err + l2_bias * bu[users]), minlength=len(bu)) / n
    g_bi = np.bincount(items, 2.0 * (err + l2_bias * bi[items]), minlength=len(bi)) / n
    g_p = np.zeros_like(p)
    g_q = np.zeros_like(q)
    np.add.at(g_p, users, 2.0 * (err[:, None] * qi + l2 * pu) / n)
    np.add.at(g_q, items, 2.0 * (err[:, None] * pu + l2 * qi) / n)
    g_p += 2.0 * l2_uniform * p / n
    g_q += 2.0 * l2_uniform * q / n
    return [g_mu, g_bu, g_bi, g_p, g_q]


def train_reference(
    params,
    users,
    items,
    ratings,
    steps: int,
    learning_rate: float,
    l2: float,
    l2_bias: float,
    l2_uniform: float,
    *,
    slip: str = "",
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Full-batch Adam on L with mu fixed, as ``recsys.fit_mf`` runs it, in float64.

    Returns ``(params after `steps` steps, losses [steps])``, ``losses[t]`` the loss at the parameters step
    ``t`` started from. ``slip`` names a usual mistake of the loop.
    """
    theta = [np.asarray(a, np.float64).copy() for a in params]
    r = np.asarray(ratings, np.float64)
    m = [np.zeros_like(a) for a in theta]
    v = [np.zeros_like(a) for a in theta]
    losses = []
    for t in range(1, steps + 1):
        losses.append(loss_reference(theta, users, items, r, l2, l2_bias, l2_uniform))
        g = _grads(theta, users, items, r, l2, l2_bias, l2_uniform)
        if slip != "mu_trained":
            g[0] = 0.0 * g[0]
        if slip == "fresh_adam":
            m = [np.zeros_like(a) for a in theta]
            v = [np.zeros_like(a) for a in theta]
        tc = 1 if slip == "fresh_adam" else t
        for k in range(len(theta)):
            if slip == "sgd":
                step = g[k]
            else:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
                step = (m[k] / (1 - b1**tc)) / (np.sqrt(v[k] / (1 - b2**tc)) + eps)
            theta[k] = (
                theta[k] + learning_rate * step
                if slip == "ascent"
                else theta[k] - learning_rate * step
            )
    return theta, np.asarray(losses)


_TRAIN_SLIPS = {
    "mu_trained": "mu moved: it is the training mean and stays fixed, so its gradient must not reach the "
    "update (set that part of the gradient to zero before the optimiser sees it).",
    "fresh_adam": "every step behaves like Adam's first step: the optimiser's state (its running averages "
    "and step count) must be carried from one step to the next, not made afresh.",
    "sgd": "these are plain gradient-descent steps; recsys.fit_mf runs Adam (optax.adam with the learning "
    "rate given).",
    "ascent": "the loss goes up: the update must move the parameters against the gradient.",
}


# ------------------------------------------------------------------------------------- probes


def loss_under_grad(fn: Callable, params: tuple, users, items, ratings, l2, l2_bias, l2_uniform):
    """Probe: the learner's ``fn(MFParams, users, items, ratings, l2, l2_bias, l2_uniform)`` and its gradient.

    Returns ``{"loss": float, "grads": [5 arrays]}`` (``jax.value_and_grad`` over the parameters, as the
    training loop needs it), or None if ``fn`` returned None.
    """
    import jax
    import jax.numpy as jnp

    from leptonlab.recsys import MFParams

    start = MFParams(*(jnp.asarray(a, jnp.float32) for a in params))
    box = {}

    def scalar(p):
        out = fn(
            p, jnp.asarray(users), jnp.asarray(items), jnp.asarray(ratings), l2, l2_bias, l2_uniform
        )
        box["none"] = out is None
        return jnp.zeros(()) if out is None else jnp.asarray(out, jnp.float32).reshape(())

    loss, grads = jax.value_and_grad(scalar)(start)
    if box["none"]:
        return None
    return {"loss": loss, "grads": list(grads)}


def run_training(
    fn: Callable,
    params: tuple,
    users,
    items,
    ratings,
    steps,
    learning_rate,
    l2,
    l2_bias,
    l2_uniform,
):
    """Probe: the learner's ``fn(MFParams, users, items, ratings, steps, learning_rate, l2, l2_bias, l2_uniform)``.

    Returns ``{"params": [5 arrays], "losses": array}``, ``{"bad": what came back}`` when that is not
    ``(params, losses)``, or None if ``fn`` returned None.
    """
    import jax.numpy as jnp

    from leptonlab.recsys import MFParams

    start = MFParams(*(jnp.asarray(a, jnp.float32) for a in params))
    out = fn(
        start,
        jnp.asarray(users),
        jnp.asarray(items),
        jnp.asarray(ratings),
        steps,
        learning_rate,
        l2,
        l2_bias,
        l2_uniform,
    )
    if out is None:
        return None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return {"bad": type(out).__name__}
    new, losses = out
    if new is None or losses is None:
        return {"bad": "None inside the pair"}
    if not isinstance(new, (tuple, list)) or len(new) != len(_FIELDS):
        return {"bad": f"params of type {type(new).__name__}"}
    return {"params": [new[k] for k in range(len(_FIELDS))], "losses": losses}


# -------------------------------------------------------------------------------------- checks


def _returned_nothing(name: str, out: Any) -> None:
    if out is None:
        raise CheckFailed(
            name,
            "your function returned nothing (None): did you forget `return`?",
            "a Python function without a `return` statement returns None; end yours with "
            "`return <your result>`.",
        )


@exercise
def mf_loss(fn: Callable) -> None:
    """Check ``fn(params: MFParams, users: [N], items: [N], ratings: [N], l2, l2_bias, l2_uniform) -> []``.

    The loss ``L`` of biased MF that ``recsys.fit_mf`` minimises (notebook 14, section 5), on two small
    rating tables, evaluated under ``jax.value_and_grad`` (the training loop differentiates it): its
    value and its gradient are compared with the written-out reference.
    """
    name = "mf_loss"
    for seed, l2, l2_bias, l2_uniform in LOSS_CASES:
        params, (users, items, ratings) = mf_problem(seed)
        args = (params, users, items, ratings, l2, l2_bias, l2_uniform)
        out = call(name, fn, *args, probe=loss_under_grad)
        _returned_nothing(name, out)
        got = as_array(name, out["loss"], "the loss")
        want = loss_reference(*args)
        where = (
            f"for {len(ratings)} ratings with l2={l2}, l2_bias={l2_bias}, l2_uniform={l2_uniform}"
        )
        if not np.isfinite(got).all():
            raise CheckFailed(
                name,
                f"the loss is {float(got)} {where}; expected {want:.6g}.",
                "every term of L is a finite sum of squares here: print the pieces of yours one by one.",
            )
        value = float(got)
        if not np.isclose(value, want, rtol=1e-4, atol=1e-6):
            hint = _name_loss_slip(value, args) or (
                "L has three parts: the squared errors and the two per-rating penalties, averaged over "
                "the ratings, then the uniform penalty. Compute each part alone and compare it with the "
                "formula.",
                "index the factor and bias tables with users and items so that each rating sees its own "
                "user's and item's parameters; the uniform part uses the whole tables.",
            )
            raise CheckFailed(name, f"your loss is {value:.6g} {where}; expected {want:.6g}.", hint)
        grads = [as_array(name, g, "a gradient") for g in out["grads"]]
        want_grads = _grads(
            [np.asarray(a, np.float64) for a in params],
            users,
            items,
            ratings.astype(np.float64),
            l2,
            l2_bias,
            l2_uniform,
        )
        for field, g, w in zip(_FIELDS, grads, want_grads):
            if g.shape != np.shape(w) or not np.allclose(g, w, rtol=1e-3, atol=1e-5):
                raise CheckFailed(
                    name,
                    f"the value is right, but jax.grad of your loss with respect to {field} is not the "
                    f"gradient of L {where}.",
                    "compute the loss from params' fields with jax.numpy operations only, so that JAX "
                    "can follow every one of them (no conversion to NumPy or Python floats inside).",
                )
    passed(name, "L and its gradient equal the reference on two rating tables.")


@exercise
def mf_training(fn: Callable) -> None:
    """Check ``fn(params, users, items, ratings, steps, learning_rate, l2, l2_bias, l2_uniform) -> (params, losses)``.

    Full-batch Adam (``optax.adam(learning_rate)``) on the loss ``L``, every step on every rating, with
    ``mu`` held fixed: the loop ``recsys.fit_mf`` runs. ``losses: [steps]`` holds the loss at the
    parameters each step starts from. Two small problems (20 and 7 steps) are compared step by step with
    the reference. Notebook 14.
    """
    name = "mf_training"
    for seed, steps, lr, l2, l2_bias, l2_uniform in TRAIN_CASES:
        params, (users, items, ratings) = mf_problem(seed)
        args = (params, users, items, ratings, steps, lr, l2, l2_bias, l2_uniform)
        out = call(name, fn, *args, probe=run_training)
        _returned_nothing(name, out)
        if "bad" in out:
            raise CheckFailed(
                name,
                f"your function returned {out['bad']}, not (params, losses).",
                "return the trained parameters (an MFParams, as you were given) and the losses of the "
                "steps, as a pair.",
            )
        where = f"in the run of {steps} steps with learning_rate={lr}"
        new = [as_array(name, a, f"params.{f}") for a, f in zip(out["params"], _FIELDS)]
        losses = as_array(name, out["losses"], "the losses").reshape(-1)
        want_params, want_losses = train_reference(*args)
        if losses.shape != want_losses.shape:
            raise CheckFailed(
                name,
                f"{losses.shape[0]} losses came back {where}; expected one per step, {steps}.",
                "take exactly `steps` steps, and keep the loss each one computes.",
            )
        for field, got, want in zip(_FIELDS, new, want_params):
            if got.shape != np.shape(want):
                raise CheckFailed(
                    name,
                    f"params.{field} came back with shape {got.shape}, expected {np.shape(want)}.",
                    "update every field of params in place of the old one; the shapes never change.",
                )
        if np.allclose(losses[:-1], want_losses[1:], rtol=1e-3, atol=1e-5) and all(
            np.allclose(g, w, rtol=1e-3, atol=1e-4) for g, w in zip(new, want_params)
        ):
            raise CheckFailed(
                name,
                f"each of your losses is the next step's {where}: losses[t] should be the loss at the "
                "parameters step t starts from (the value returned with the gradient), not after it.",
                "keep the loss that is computed together with the gradient of the same step.",
            )
        if not np.isclose(losses[0], want_losses[0], rtol=1e-4, atol=1e-6):
            slip = _name_loss_slip(
                float(losses[0]), (params, users, items, ratings, l2, l2_bias, l2_uniform)
            )
            raise CheckFailed(
                name,
                f"the first loss is {float(losses[0]):.6g} {where}; L at the starting parameters is "
                f"{want_losses[0]:.6g}.",
                slip
                or "the loss at the start is wrong before any step is taken: make your my_mf_loss pass "
                "checks.mf_loss first, and train on that loss.",
            )
        ok_losses = np.allclose(losses, want_losses, rtol=1e-3, atol=1e-5)
        ok_params = all(np.allclose(g, w, rtol=1e-3, atol=1e-4) for g, w in zip(new, want_params))
        if ok_losses and ok_params:
            continue
        if not all(np.isfinite(a).all() for a in (*new, losses)):
            raise CheckFailed(
                name,
                f"the parameters or losses hold NaN or infinity {where}.",
                "print the loss after each step: does it blow up from the first steps? Check the "
                "learning rate you pass to the optimiser and the sign of the update.",
            )
        for slip, hint in _TRAIN_SLIPS.items():
            alt_params, alt_losses = train_reference(*args, slip=slip)
            if np.allclose(losses, alt_losses, rtol=1e-3, atol=1e-5) and all(
                np.allclose(g, w, rtol=1e-3, atol=1e-4) for g, w in zip(new, alt_params)
            ):
                raise CheckFailed(name, f"your run leaves the reference's {where}.", hint)
        bad_step = (
            int(np.argmax(~np.isclose(losses, want_losses, rtol=1e-3, atol=1e-5)))
            if not ok_losses
            else None
        )
        wrong = [
            f
            for f, g, w in zip(_FIELDS, new, want_params)
            if not np.allclose(g, w, rtol=1e-3, atol=1e-4)
        ]
        problem = (
            f"the loss of step {bad_step} is {float(losses[bad_step]):.6g}; the reference's is "
            f"{want_losses[bad_step]:.6g} {where}."
            if bad_step is not None
            else f"the losses agree, but the final {', '.join(wrong)} differ from the reference's {where}."
        )
        raise CheckFailed(
            name,
            problem,
            (
                "one step: the loss and its gradient at the current parameters, mu's gradient set to "
                "zero, then Adam's update from the state the previous step left. Check each part.",
                "make one Adam optimiser before the loop, initialise its state from the starting "
                "parameters once, and pass the state from each step to the next.",
            ),
        )
    passed(name, "20 and 7 full-batch Adam steps equal the reference step by step, mu fixed.")
