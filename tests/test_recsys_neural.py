"""leptonlab.recsys neural models: shapes, a one-epoch smoke test that learns a planted preference,
negative sampling inside the loss, candidate lists, cold start through the genre path, plots."""

import matplotlib
import numpy as np
import pytest
from flax import nnx

from leptonlab import plot, recsys
from leptonlab.train import TrainConfig, fit

N_USERS, N_ITEMS, G = 12, 20, 3


def _planted():
    """Users 0-5 interact with items 0-9 only, users 6-11 with items 10-19 only; genre 0 flags items 0-9."""
    users, items = [], []
    for u in range(N_USERS):
        block = range(0, 10) if u < 6 else range(10, 20)
        for i in block:
            if (u + i) % 3:  # leave some out
                users.append(u)
                items.append(i)
    genres = np.zeros((N_ITEMS, G), bool)
    genres[:10, 0] = True
    genres[10:, 1] = True
    x = np.stack([users, items], 1).astype(np.int32)
    return x, genres


def test_models_map_pairs_to_logits():
    x, genres = _planted()
    ncf = recsys.NCF(N_USERS, N_ITEMS, 8, (16, 8), rngs=nnx.Rngs(0))
    assert ncf(x[:5]).shape == (5,)
    seen = np.zeros((N_USERS, N_ITEMS), bool)
    seen[x[:, 0], x[:, 1]] = True
    tt = recsys.TwoTower(
        N_USERS, N_ITEMS, genres, recsys.user_genre_profiles(seen, genres), 8, rngs=nnx.Rngs(0)
    )
    assert tt(x[:5]).shape == (5,) and tt.new_user_scores(np.array([1.0, 0.0, 0.0])).shape == (
        N_ITEMS,
    )
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        ncf(x[:, 0])
    with pytest.raises(ValueError, match="positive int"):
        recsys.NCF(0, N_ITEMS, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="item_genres"):
        recsys.TwoTower(N_USERS, N_ITEMS, genres[:5], np.zeros((N_USERS, G)), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="profile"):
        tt.new_user_scores(np.ones(5))
    with pytest.raises(ValueError, match="n_negatives"):
        recsys.negative_sampling_loss(0)


@pytest.mark.parametrize("kind", ["ncf", "two_tower"])
def test_training_with_negative_sampling_learns_the_planted_blocks(kind, key):
    x, genres = _planted()
    seen = np.zeros((N_USERS, N_ITEMS), bool)
    seen[x[:, 0], x[:, 1]] = True
    if kind == "ncf":
        model = recsys.NCF(N_USERS, N_ITEMS, 8, (16,), rngs=nnx.Rngs(0))
    else:
        model = recsys.TwoTower(
            N_USERS, N_ITEMS, genres, recsys.user_genre_profiles(seen, genres), 8, rngs=nnx.Rngs(0)
        )
    loss_fn = recsys.negative_sampling_loss(4)
    assert recsys.negative_sampling_loss(4) is loss_fn  # one function object: fit compiles once
    state, history = fit(
        model,
        (x, np.ones(len(x), np.float32)),
        TrainConfig(epochs=40, batch_size=16, learning_rate=0.02, progress=False),
        loss_fn=loss_fn,
    )
    assert history["train_loss"][-1] < history["train_loss"][0]
    users = np.arange(N_USERS)
    scores = recsys.score_pairs(
        state.model(), users, np.tile(np.arange(N_ITEMS), (N_USERS, 1))
    )  # [U, I]
    own_block = np.where(
        users[:, None] < 6, np.arange(N_ITEMS)[None] < 10, np.arange(N_ITEMS)[None] >= 10
    )
    # the unseen items of the user's own block should outrank the other block
    unseen = own_block & ~seen
    relevant = unseen
    assert recsys.hit_rate_at_k(np.where(seen, -np.inf, scores), relevant, 3) == 1.0


def test_candidate_lists_and_ranking_report(key):
    x, _ = _planted()
    inter = recsys.Interactions(
        user=x[:, 0],
        item=x[:, 1],
        rating=np.ones(len(x), np.float32),
        timestamp=np.arange(len(x), dtype=np.int64),
        users=recsys.build_index(np.arange(N_USERS)),
        items=recsys.build_index(np.arange(N_ITEMS)),
    )
    split = recsys.leave_one_out(inter)
    cand = recsys.candidate_lists(split, 5, key=key)
    assert (
        cand.items.shape == (N_USERS, 6)
        and cand.relevant[:, 0].all()
        and cand.relevant.sum() == N_USERS
    )
    assert np.array_equal(cand.items[:, 0], split.test_item)
    assert not split.seen[cand.users[:, None], cand.items].any()
    perfect = recsys.ranking_report(cand.relevant.astype(float), cand.relevant, 1)
    assert perfect == {"hr": 1.0, "ndcg": 1.0, "precision": 1.0}
    with pytest.raises(TypeError, match="ImplicitSplit"):
        recsys.candidate_lists(inter, 5, key=key)


def test_recommend_new_user_through_the_genre_path():
    x, genres = _planted()
    inter = recsys.Interactions(
        user=x[:, 0],
        item=x[:, 1],
        rating=np.ones(len(x), np.float32),
        timestamp=np.zeros(len(x), np.int64),
        users=recsys.build_index(np.arange(N_USERS)),
        items=recsys.build_index(np.arange(N_ITEMS)),
    )
    rec = recsys.Recommender(
        np.zeros((N_USERS, N_ITEMS)),
        inter,
        item_genres=genres,
        genre_names=["a", "b", "c"],
        new_user_scores=lambda profile: genres.astype(float) @ profile,
    )
    top = rec.recommend_new_user(5, genres=["b"])
    assert set(top.items.tolist()) <= set(range(10, 20))
    with pytest.raises(TypeError, match="list of names"):
        rec.recommend_new_user(5, genres="b")


def test_recsys_plots_return_closed_figures():
    matplotlib.use("Agg")
    figs = [
        plot.rating_overview(np.array([1, 4, 4, 5]), np.array([3, 1, 0]), np.array([2, 2])),
        plot.regularisation_sweep([0.01, 0.1], [0.7, 0.8], [0.95, 0.92], target=0.91),
        plot.latent_factors(
            np.random.default_rng(0).normal(size=(5, 2)), list("abcde"), highlight=[0, 3]
        ),
        plot.model_comparison({"a": 0.95, "b": 0.91}, target=0.91),
        plot.hit_rate_curves({"m": [0.1, 0.3]}, [1, 5]),
    ]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    with pytest.raises(ValueError, match="log axis"):
        plot.regularisation_sweep([0.0, 0.1], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="empty"):
        plot.model_comparison({})


def test_cold_start_scores_ignore_the_user_id():
    x, genres = _planted()
    seen = np.zeros((N_USERS, N_ITEMS), bool)
    seen[x[:, 0], x[:, 1]] = True
    profiles = recsys.user_genre_profiles(seen, genres)
    tt = recsys.TwoTower(N_USERS, N_ITEMS, genres, profiles, 4, rngs=nnx.Rngs(0))
    items = np.tile(np.arange(N_ITEMS), (2, 1))
    cold = np.asarray(
        tt.cold_start_scores(profiles[[0, 1]], items)
    )  # users 0 and 1 share a profile block
    assert cold.shape == (2, N_ITEMS)
    assert np.allclose(cold[0], np.asarray(tt.new_user_scores(profiles[0])), atol=1e-5)
    with pytest.raises(ValueError, match="profiles"):
        tt.cold_start_scores(np.ones((2, 5)), items)
