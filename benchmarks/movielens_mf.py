"""Biased matrix factorisation on MovieLens-100K's canonical folds u1..u5: RMSE and wall time.

    LEPTONLAB_DATA_DIR=/path/to/data python benchmarks/movielens_mf.py [--seeds 4] [--folds u1,u2]

Protocol: train on ``uK.base``, report RMSE on ``uK.test`` (predictions clipped
to 1..5), K = 1..5, and the mean over the folds. The same configuration as
notebook 13 (``MF_CONFIG``), and notebook 13's blend of MF with item-based
CF (``BLEND`` on MF). ``--seeds N`` also reports the average of N models
trained from different seeds (full-batch training lands on nearly the same
optimum from any seed, so expect little change). Where scikit-surprise is importable, its
SVD (default settings) runs on the same folds in the same process for
comparison (Surprise's published 5-fold figure for SVD on ml-100k is ~0.934).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab import data, recsys

MF_CONFIG = recsys.MFConfig(rank=128, epochs=160, learning_rate=0.02, l2=0.07, l2_bias=0.02, l2_uniform=3.0)
BLEND = 0.7  # weight of MF in the MF + item-CF blend
NEIGHBOURS = 40  # k of the item-based CF


def indexed_fold(fold: str, ml: data.MovieLens100K | None = None) -> tuple[recsys.Interactions, recsys.Interactions]:
    """``(train, test)`` of a canonical fold (``"u1"`` .. ``"u5"``), indexed over the whole catalogue."""
    ml = data.load_movielens_100k() if ml is None else ml
    users, items = recsys.build_index(ml.users.user), recsys.build_index(ml.movies.item)
    train, test = data.load_movielens_fold(fold)
    return (recsys.index_ratings(train, users=users, items=items),
            recsys.index_ratings(test, users=users, items=items))


def run_mf(folds, seeds: int) -> None:
    ml = data.load_movielens_100k()
    single, averaged, blended = [], [], []
    start = time.perf_counter()
    for fold in folds:
        train, test = indexed_fold(fold, ml)
        preds = []
        for seed in range(seeds):
            params, _ = recsys.fit_mf(train, MF_CONFIG, key=jax.random.key(seed))
            preds.append(jnp.clip(recsys.mf_predict(params, test.user, test.item), 1.0, 5.0))
        single.append(recsys.rmse(preds[0], test.rating))
        averaged.append(recsys.rmse(jnp.mean(jnp.stack(preds), axis=0), test.rating))
        cf = recsys.fit_neighbours(train, kind="item", similarity="cosine", k=NEIGHBOURS)
        cf_pred = recsys.predict_neighbours(cf, test.user, test.item)
        blended.append(recsys.rmse(BLEND * preds[0] + (1 - BLEND) * cf_pred, test.rating))
        line = f"{fold}: MF RMSE {single[-1]:.4f}   MF + item CF {blended[-1]:.4f}"
        if seeds > 1:
            line += f"   average of {seeds} seeds {averaged[-1]:.4f}"
        print(line, flush=True)
    seconds = time.perf_counter() - start
    print(f"MF (rank {MF_CONFIG.rank}, {MF_CONFIG.epochs} full-batch Adam steps): mean RMSE {np.mean(single):.4f}")
    print(f"MF + item CF ({BLEND:g}/{1 - BLEND:g}): mean RMSE {np.mean(blended):.4f}")
    if seeds > 1:
        print(f"MF, average of {seeds} seeds: mean RMSE {np.mean(averaged):.4f}")
    print(f"wall time {seconds:.1f} s for {len(folds)} folds x {seeds} MF model(s) + item CF, compilation included "
          f"({jax.devices()[0].platform})")


def run_surprise(folds) -> None:
    try:
        import surprise
    except ImportError:
        print("scikit-surprise is not installed: no SVD comparison (pip install scikit-surprise).")
        return
    reader = surprise.Reader("ml-100k")
    pairs = [(str(data.fetch("ml-100k", f"{f}.base")), str(data.fetch("ml-100k", f"{f}.test"))) for f in folds]
    dataset = surprise.Dataset.load_from_folds(pairs, reader=reader)
    start = time.perf_counter()
    scores = []
    for (train, test), fold in zip(surprise.model_selection.PredefinedKFold().split(dataset), folds):
        algo = surprise.SVD(random_state=0)
        algo.fit(train)
        scores.append(surprise.accuracy.rmse(algo.test(test), verbose=False))
        print(f"{fold}: surprise SVD RMSE {scores[-1]:.4f}", flush=True)
    print(f"surprise SVD: mean RMSE {np.mean(scores):.4f}, wall time {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", default="u1,u2,u3,u4,u5", help="comma-separated folds (default u1..u5)")
    parser.add_argument("--seeds", type=int, default=1, help="models per fold to average (default 1)")
    args = parser.parse_args()
    folds = [f.strip() for f in args.folds.split(",")]
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    run_mf(folds, args.seeds)
    run_surprise(folds)


if __name__ == "__main__":
    main()
