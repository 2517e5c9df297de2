"""Notebook 14's recommenders on MovieLens-100K's canonical folds u1..u5: RMSE and wall time.

    LEPTONLAB_DATA_DIR=/path/to/data python benchmarks/movielens_mf.py [--folds u1,u2] [--tune]

Protocol (the same as notebook 14): for each fold, carve a validation split
(``VAL_FRACTION`` of ``uK.base``, seeded) from the TRAINING ratings; train
every model on the rest, pick each iterative model's step count where its
validation RMSE is lowest, and fit the blend weights by least squares on the
validation predictions. Then refit every model on all of ``uK.base`` with those
step counts and evaluate ``uK.test`` once (predictions clipped to 1..5). The
test folds are never used to choose anything.

The fixed hyperparameters below were chosen with ``--tune``, which trains on
u1.base minus its validation split and prints validation RMSEs only.
Where scikit-surprise is importable, its SVD (default settings) runs on the same
folds for comparison (Surprise's published 5-fold figures on ml-100k: SVD ~0.934,
SVD++ ~0.919).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import numpy as np

from leptonlab import data, recsys

MF_CONFIG = recsys.MFConfig(
    rank=128, epochs=200, learning_rate=0.02, l2=0.07, l2_bias=0.02, l2_uniform=3.0
)
SVDPP_CONFIG = recsys.MFConfig(
    rank=128, epochs=250, learning_rate=0.02, l2=0.07, l2_bias=0.02, l2_uniform=3.0
)
L2_IMPLICIT = 0.7  # per-rating penalty on SVD++'s implicit vectors y_j
NEIGHBOURS = 40  # k of the neighbourhood models
SHRINKAGE = 100.0  # similarity shrinkage n / (n + SHRINKAGE) over n co-rated users/items
KNN_SIMILARITY = {"item": "cosine", "user": "pearson"}  # for the neighbours with baselines
VAL_FRACTION = 0.1  # of each training fold, held out to choose step counts and blend weights


def indexed_fold(
    fold: str, ml: data.MovieLens100K | None = None
) -> tuple[recsys.Interactions, recsys.Interactions]:
    """``(train, test)`` of a canonical fold (``"u1"`` .. ``"u5"``), indexed over the whole catalogue."""
    ml = data.load_movielens_100k() if ml is None else ml
    users, items = recsys.build_index(ml.users.user), recsys.build_index(ml.movies.item)
    train, test = data.load_movielens_fold(fold)
    return (
        recsys.index_ratings(train, users=users, items=items),
        recsys.index_ratings(test, users=users, items=items),
    )


def _clipped(params, d):
    return np.clip(np.asarray(recsys.mf_predict(params, d.user, d.item)), 1.0, 5.0)


def fit_models(train, steps, key, *, mf_config=MF_CONFIG, svdpp_config=SVDPP_CONFIG, val=None):
    """Train the four blend components on ``train``; returns ``{name: predict(data) -> [N]}`` and histories.

    ``steps``: ``{"MF": n, "SVD++": n}`` full-batch steps (None = the config's epochs).
    """
    biases = recsys.fit_biases(train)
    cfg = lambda c, n: c if n is None else dataclasses.replace(c, epochs=int(n))  # noqa: E731
    mf, h_mf = recsys.fit_mf(
        train, cfg(mf_config, steps.get("MF")), key=jax.random.fold_in(key, 1), val=val
    )
    pp, h_pp = recsys.fit_svdpp(
        train,
        cfg(svdpp_config, steps.get("SVD++")),
        key=jax.random.fold_in(key, 2),
        l2_implicit=L2_IMPLICIT,
        val=val,
    )
    knn = {
        kind: recsys.fit_neighbours(
            train,
            kind=kind,
            similarity=KNN_SIMILARITY[kind],
            k=NEIGHBOURS,
            shrinkage=SHRINKAGE,
            baseline=biases,
        )
        for kind in ("item", "user")
    }
    models = {
        "MF": lambda d: _clipped(mf, d),
        "SVD++": lambda d: _clipped(pp, d),
        "item KNN": lambda d: np.asarray(recsys.predict_neighbours(knn["item"], d.user, d.item)),
        "user KNN": lambda d: np.asarray(recsys.predict_neighbours(knn["user"], d.user, d.item)),
    }
    return models, {"MF": h_mf, "SVD++": h_pp}


def run_fold(train, test, key, **configs) -> dict[str, float]:
    """The honest protocol on one fold: choices on a validation split of ``train``; ``test`` used once."""
    fit_part, val = recsys.validation_split(train, VAL_FRACTION, key=jax.random.fold_in(key, 0))
    models, hist = fit_models(fit_part, {}, key, val=val, **configs)
    steps = {
        name: int(np.argmin(h.val_rmse)) + 1 for name, h in hist.items()
    }  # early stopping on val
    val_preds = np.stack([f(val) for f in models.values()], axis=1)  # [N_val, 4]
    weights = recsys.fit_blend(val_preds, val.rating)
    models, _ = fit_models(train, steps, key, **configs)  # refit on the whole training fold
    test_preds = np.stack([f(test) for f in models.values()], axis=1)  # [N_test, 4]
    out = {name: recsys.rmse(test_preds[:, j], test.rating) for j, name in enumerate(models)}
    out["blend"] = recsys.rmse(recsys.blend_predict(weights, test_preds), test.rating)
    return out


def run(folds) -> None:
    ml = data.load_movielens_100k()
    start = time.perf_counter()
    rows = []
    for fold in folds:
        train, test = indexed_fold(fold, ml)
        rows.append(run_fold(train, test, jax.random.key(0)))
        print(f"{fold}: " + "   ".join(f"{k} {v:.4f}" for k, v in rows[-1].items()), flush=True)
    print("mean: " + "   ".join(f"{k} {np.mean([r[k] for r in rows]):.4f}" for k in rows[0]))
    print(
        f"wall time {time.perf_counter() - start:.1f} s for {len(folds)} folds ({jax.devices()[0].platform})"
    )


def tune() -> None:
    """Validation RMSE on u1.base minus its validation split, for the grids the constants were chosen from."""
    train, _ = indexed_fold("u1")  # the test fold is not even loaded into a variable
    fit_part, val = recsys.validation_split(
        train, VAL_FRACTION, key=jax.random.fold_in(jax.random.key(0), 0)
    )
    key = jax.random.key(0)
    print(f"u1.base: {fit_part.n_ratings} ratings to fit, {val.n_ratings} to validate")
    for l2, l2_uniform in ((0.05, 3.0), (0.07, 3.0), (0.1, 3.0), (0.07, 1.0), (0.07, 6.0)):
        c = dataclasses.replace(MF_CONFIG, epochs=300, l2=l2, l2_uniform=l2_uniform)
        _, h = recsys.fit_mf(fit_part, c, key=key, val=val)
        print(
            f"MF l2={l2} l2_uniform={l2_uniform}: best val RMSE {h.val_rmse.min():.4f} "
            f"at step {h.val_rmse.argmin() + 1}",
            flush=True,
        )
    for rank, l2_implicit in ((128, 0.3), (128, 0.7), (128, 1.5)):
        c = dataclasses.replace(SVDPP_CONFIG, rank=rank, epochs=300)
        _, h = recsys.fit_svdpp(fit_part, c, key=key, l2_implicit=l2_implicit, val=val)
        print(
            f"SVD++ rank={rank} l2_implicit={l2_implicit}: best val RMSE {h.val_rmse.min():.4f} "
            f"at step {h.val_rmse.argmin() + 1} ({h.seconds:.0f} s)",
            flush=True,
        )
    biases = recsys.fit_biases(fit_part)
    for kind in ("item", "user"):
        for similarity in ("cosine", "pearson"):
            for shrinkage in (0.0, 25.0, 100.0):
                m = recsys.fit_neighbours(
                    fit_part,
                    kind=kind,
                    similarity=similarity,
                    k=NEIGHBOURS,
                    shrinkage=shrinkage,
                    baseline=biases,
                )
                print(
                    f"{kind} KNN with baselines, {similarity}, shrinkage {shrinkage:g}: val RMSE "
                    f"{recsys.rmse(recsys.predict_neighbours(m, val.user, val.item), val.rating):.4f}",
                    flush=True,
                )


def run_surprise(folds) -> None:
    try:
        import surprise
    except ImportError:
        print("scikit-surprise is not installed: no SVD comparison (pip install scikit-surprise).")
        return
    reader = surprise.Reader("ml-100k")
    pairs = [
        (str(data.fetch("ml-100k", f"{f}.base")), str(data.fetch("ml-100k", f"{f}.test")))
        for f in folds
    ]
    dataset = surprise.Dataset.load_from_folds(pairs, reader=reader)
    start = time.perf_counter()
    scores = []
    for (train, test), fold in zip(
        surprise.model_selection.PredefinedKFold().split(dataset), folds
    ):
        algo = surprise.SVD(random_state=0)
        algo.fit(train)
        scores.append(surprise.accuracy.rmse(algo.test(test), verbose=False))
        print(f"{fold}: surprise SVD RMSE {scores[-1]:.4f}", flush=True)
    print(
        f"surprise SVD: mean RMSE {np.mean(scores):.4f}, wall time {time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--folds", default="u1,u2,u3,u4,u5", help="comma-separated folds (default u1..u5)"
    )
    parser.add_argument(
        "--tune", action="store_true", help="print the validation grids on u1.base and stop"
    )
    args = parser.parse_args()
    if args.tune:
        tune()
        return
    folds = [f.strip() for f in args.folds.split(",")]
    run(folds)
    run_surprise(folds)


if __name__ == "__main__":
    main()
