"""leptonlab.recsys: re-indexing and the implicit view on a tiny ml-100k-format fixture, metrics against
hand-computed values, neighbourhood CF by hand, MF recovering a planted low-rank matrix, recommend()."""

import hashlib

import jax
import numpy as np
import pytest

from leptonlab import data, recsys
from leptonlab.data import DataFile, Dataset, _registry

GENRES = b"".join(f"g{i}|{i}\n".encode() for i in range(19))


def _flags(*on):
    return "|".join("1" if i in on else "0" for i in range(19))


# 4 users x 5 movies; user 3 rated one movie only; movie 5 is rated by nobody in u1.base.
U_DATA = [
    (1, 1, 5, 100),
    (1, 2, 3, 200),
    (1, 3, 4, 300),
    (2, 1, 4, 150),
    (2, 3, 2, 120),
    (2, 4, 5, 160),
    (3, 2, 1, 500),
    (4, 1, 2, 50),
    (4, 2, 5, 60),
    (4, 4, 4, 60),
    (4, 5, 3, 10),
]


def _lines(rows):
    return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows).encode()


@pytest.fixture
def ml(monkeypatch, tmp_path):
    """The tiny MovieLens fixture loaded through leptonlab.data (offline folder + patched registry)."""
    files = {
        "u.data": _lines(U_DATA),
        "u.item": "".join(
            f"{i}|M{i} (199{i})|01-Jan-199{i}||u|{_flags(i % 3, 18)}\n" for i in range(1, 6)
        ).encode(),
        "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n4|24|M|other|43537\n",
        "u.genre": GENRES,
        "u1.base": _lines(U_DATA[:-1]),
        "u1.test": _lines(U_DATA[-1:]),
    }
    folder = tmp_path / "offline"
    monkeypatch.setenv("LEPTONLAB_DATA_DIR", str(folder))
    (folder / "ml-100k").mkdir(parents=True)
    entries = []
    for name, content in files.items():
        (folder / "ml-100k" / name).write_bytes(content)
        entries.append(
            DataFile(
                "ml-100k",
                name,
                len(content),
                hashlib.sha256(content).hexdigest(),
                urls=("http://x/",),
            )
        )
    monkeypatch.setattr(
        _registry,
        "DATASETS",
        {"ml-100k": Dataset("ml-100k", "ml", "http://x/", "l", "c", tuple(entries))},
    )
    return data.load_movielens_100k()


# ---------------------------------------------------------------------------- ids and views


def test_index_ratings_maps_raw_ids_to_rows_and_back(ml):
    users, items = recsys.build_index(ml.users.user), recsys.build_index(ml.movies.item)
    train, test = data.load_movielens_fold("u1")
    tr = recsys.index_ratings(train, users=users, items=items)
    te = recsys.index_ratings(test, users=users, items=items)
    assert (tr.n_users, tr.n_items, tr.n_ratings, te.n_ratings) == (4, 5, 10, 1)
    assert tr.user.tolist() == [0, 0, 0, 1, 1, 1, 2, 3, 3, 3] and te.item.tolist() == [4]
    assert items.to_raw(te.item).tolist() == [5] and tr.rating.dtype == np.float32
    sparse = recsys.index_ratings(train)  # without a catalogue index: only the ids present
    assert sparse.n_items == 4 and sparse.items.ids.tolist() == [1, 2, 3, 4]


def test_index_refuses_unknown_ids():
    index = recsys.build_index(np.array([10, 3, 7, 3]))
    assert index.ids.tolist() == [3, 7, 10] and index.to_index(np.array([10, 3])).tolist() == [2, 0]
    with pytest.raises(ValueError, match="user 8 is unknown"):
        index.to_index(np.array([3, 8]), what="user")
    with pytest.raises(TypeError, match="integers"):
        index.to_index(np.array([3.0]))
    with pytest.raises(ValueError, match="empty"):
        recsys.build_index(np.array([], np.int64))
    with pytest.raises(TypeError, match="Ratings"):
        recsys.index_ratings({"user": [1]})


def test_leave_one_out_holds_out_the_latest_interaction(ml):
    full = recsys.index_ratings(ml.ratings)
    split = recsys.leave_one_out(full)
    # user 1 latest = movie 3 (t=300); user 2 = movie 4 (160); user 3 has one rating: not held out;
    # user 4: movies 2 and 4 tie at t=60 -> the larger item row (movie 4).
    assert split.test_user.tolist() == [0, 1, 3]
    assert full.items.to_raw(split.test_item).tolist() == [3, 4, 4]
    assert split.train.n_ratings == full.n_ratings - 3
    assert not split.seen[split.test_user, split.test_item].any()
    assert split.seen[2, 1]  # user 3 keeps their only interaction in train


def test_sample_negatives_avoids_seen_and_excluded_items(key):
    seen = np.zeros((3, 8), bool)
    seen[0, :4] = True
    seen[1, ::2] = True
    users = np.array([0, 1, 2, 0])
    neg = recsys.sample_negatives(seen, users, 3, key=key, exclude=np.array([4, 1, 0, 5]))
    assert neg.shape == (4, 3)
    for row, (u, ex) in enumerate(zip(users, [4, 1, 0, 5])):
        assert len(set(neg[row])) == 3 and not seen[u, neg[row]].any() and ex not in neg[row]
    again = recsys.sample_negatives(seen, users, 3, key=key, exclude=np.array([4, 1, 0, 5]))
    assert np.array_equal(neg, again)
    with pytest.raises(ValueError, match="only 3 unseen items"):
        recsys.sample_negatives(seen, np.array([0]), 4, key=key, exclude=np.array([4]))
    with pytest.raises(ValueError, match="positive int"):
        recsys.sample_negatives(seen, users, 0, key=key)


# ---------------------------------------------------------------------------- metrics by hand


def test_rating_metrics_by_hand():
    pred, target = np.array([3.0, 4.0, 5.0, 1.0]), np.array([4.0, 4.0, 3.0, 2.0])
    assert recsys.rmse(pred, target) == pytest.approx(np.sqrt((1 + 0 + 4 + 1) / 4))
    assert recsys.mae(pred, target) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same length"):
        recsys.rmse(pred, target[:3])
    with pytest.raises(ValueError, match="empty"):
        recsys.mae(np.array([]), np.array([]))


def test_ranking_metrics_by_hand():
    scores = np.array(
        [
            [0.9, 0.1, 0.5, 0.3],  # relevant item 2 ranked 2nd (0-based 1)
            [0.2, 0.8, 0.7, 0.1],  # relevant item 0 ranked 3rd (0-based 2)
            [0.4, 0.4, 0.4, 0.4],
        ]
    )  # all tied: pessimistic rank 3 for the relevant item
    relevant = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]], bool)
    assert recsys.candidate_ranks(scores)[0].tolist() == [0, 3, 1, 2]
    assert recsys.hit_rate_at_k(scores, relevant, 2) == pytest.approx(1 / 3)
    assert recsys.hit_rate_at_k(scores, relevant, 3) == pytest.approx(2 / 3)
    assert recsys.ndcg_at_k(scores, relevant, 3) == pytest.approx(
        (1 / np.log2(3) + 1 / np.log2(4)) / 3
    )
    assert recsys.precision_at_k(scores, relevant, 2) == pytest.approx((1 / 2) / 3)
    two = np.array([[0.9, 0.8, 0.1, 0.5]])  # two relevant items at ranks 0 and 2
    rel2 = np.array([[1, 0, 0, 1]], bool)
    assert recsys.ndcg_at_k(two, rel2, 3) == pytest.approx(
        (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    )
    assert recsys.precision_at_k(two, rel2, 3) == pytest.approx(2 / 3)


@pytest.mark.parametrize("fn", [recsys.hit_rate_at_k, recsys.ndcg_at_k, recsys.precision_at_k])
def test_ranking_metrics_refuse_bad_input(fn):
    scores, relevant = np.zeros((2, 3)), np.zeros((2, 3), bool)
    relevant[:, 0] = True
    with pytest.raises(ValueError, match="k must be a positive int"):
        fn(scores, relevant, 0)
    with pytest.raises(ValueError, match=r"\[U, C\]"):
        fn(scores, relevant[:, :2], 1)
    with pytest.raises(TypeError, match="bool"):
        fn(scores, relevant.astype(int), 1)
    with pytest.raises(ValueError, match="NaN"):
        fn(np.full((2, 3), np.nan), relevant, 1)


# ---------------------------------------------------------------------------- neighbourhood CF


def test_similarities_by_hand():
    R = np.array([[5, 3, 0], [4, 0, 2], [1, 1, 5]], np.float32)
    M = R > 0
    cos = np.asarray(recsys.similarity_matrix(R, M, kind="cosine"))
    assert cos[0, 1] == pytest.approx(20 / (np.sqrt(34) * np.sqrt(20)), rel=1e-5)
    assert np.allclose(np.diag(cos), 0) and np.allclose(cos, cos.T)
    pear = np.asarray(recsys.similarity_matrix(R, M, kind="pearson"))
    # user 0 mean 4 -> (1, -1); user 2 mean 7/3 -> (-4/3, -4/3, 8/3); co-rated items 0 and 1
    a, b = np.array([1.0, -1.0]), np.array([-4 / 3, -4 / 3])
    assert pear[0, 2] == pytest.approx(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), abs=1e-6)
    with pytest.raises(ValueError, match="unknown similarity"):
        recsys.similarity_matrix(R, M, kind="jaccard")


def test_user_based_prediction_by_hand(ml):
    train = recsys.index_ratings(ml.ratings)
    model = recsys.fit_neighbours(train, kind="user", similarity="cosine", k=2)
    R, M = recsys.rating_matrix(train)
    sim = np.asarray(model.sim)
    means = R.sum(1) / M.sum(1)
    u, i = 2, 0  # user 3 on movie 1, rated by users 1, 2, 4
    raters = np.flatnonzero(M[:, i])
    top = raters[np.argsort(-sim[u, raters])][:2]
    top = top[sim[u, top] > 0]
    want = means[u] + (sim[u, top] * (R[top, i] - means[top])).sum() / np.abs(sim[u, top]).sum()
    got = float(recsys.predict_neighbours(model, np.array([u]), np.array([i]))[0])
    assert got == pytest.approx(np.clip(want, 1, 5), rel=1e-5)
    item_model = recsys.fit_neighbours(train, kind="item", similarity="pearson", k=3)
    assert recsys.predict_neighbours(item_model, train.user, train.item).shape == (train.n_ratings,)
    with pytest.raises(ValueError, match="unknown kind"):
        recsys.fit_neighbours(train, kind="movie")
    with pytest.raises(ValueError, match="out of range"):
        recsys.predict_neighbours(model, np.array([9]), np.array([0]))


# ---------------------------------------------------------------------------- matrix factorisation


def _planted(key, n_users=60, n_items=50, rank=3, density=0.5):
    """A planted rank-3 + biases rating matrix, half observed: (train Interactions, held-out, full matrix)."""
    k1, k2, k3 = jax.random.split(key, 3)
    P = np.asarray(jax.random.normal(k1, (n_users, rank))) * 0.6
    Q = np.asarray(jax.random.normal(k2, (n_items, rank))) * 0.6
    full = 3.0 + P @ Q.T + np.linspace(-0.5, 0.5, n_users)[:, None]  # [U, I]
    mask = np.asarray(jax.random.uniform(k3, full.shape)) < density
    u, i = np.nonzero(mask)
    uh, ih = np.nonzero(~mask)

    def inter(uu, ii):
        return recsys.Interactions(
            user=uu.astype(np.int32),
            item=ii.astype(np.int32),
            rating=full[uu, ii].astype(np.float32),
            timestamp=np.zeros(uu.size, np.int64),
            users=recsys.build_index(np.arange(n_users)),
            items=recsys.build_index(np.arange(n_items)),
        )

    return inter(u, i), inter(uh, ih), full


@pytest.mark.parametrize("batch_size", [None, 128])
def test_mf_recovers_a_planted_low_rank_matrix(key, batch_size):
    train, held_out, full = _planted(key)
    epochs, lr = (400, 0.05) if batch_size is None else (80, 0.01)
    config = recsys.MFConfig(
        rank=3,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        l2=1e-4,
        l2_bias=1e-4,
        clip=None,
    )
    params, history = recsys.fit_mf(train, config, key=key, val=held_out)
    spread = float(np.std(full[held_out.user, held_out.item]))
    err = recsys.evaluate_mf(params, held_out, clip=None)["rmse"]
    assert err < 0.1 * spread, f"held-out RMSE {err:.3f} vs spread {spread:.3f}"
    assert history.val_rmse.shape == (epochs,) and history.val_rmse[-1] < history.val_rmse[0]
    base = recsys.evaluate_mf(recsys.global_mean_baseline(train), held_out, clip=None)["rmse"]
    assert err < 0.2 * base
    again, _ = recsys.fit_mf(train, config, key=key)
    assert np.array_equal(np.asarray(again.user_factors), np.asarray(params.user_factors))


def test_bias_baselines_beat_the_global_mean(key):
    train, held_out, _ = _planted(key)
    mean = recsys.evaluate_mf(recsys.global_mean_baseline(train), held_out, clip=None)["rmse"]
    biases = recsys.evaluate_mf(recsys.fit_biases(train), held_out, clip=None)["rmse"]
    rank0, _ = recsys.fit_mf(train, recsys.MFConfig(rank=0, epochs=200, clip=None), key=key)
    assert biases < mean and recsys.evaluate_mf(rank0, held_out, clip=None)["rmse"] < mean


def test_mf_bad_input(key, ml):
    train = recsys.index_ratings(ml.ratings)
    with pytest.raises(ValueError, match="rank"):
        recsys.MFConfig(rank=-1)
    with pytest.raises(ValueError, match="batch_size"):
        recsys.MFConfig(batch_size=0)
    with pytest.raises(TypeError, match="MFConfig"):
        recsys.fit_mf(train, {"rank": 2}, key=key)
    with pytest.raises(TypeError, match="Interactions"):
        recsys.fit_mf(ml.ratings, key=key)
    other = recsys.index_ratings(ml.ratings, items=recsys.build_index(np.arange(1, 10)))
    with pytest.raises(ValueError, match="same users and items"):
        recsys.fit_mf(train, recsys.MFConfig(epochs=1), key=key, val=other)
    params, _ = recsys.fit_mf(train, recsys.MFConfig(rank=2, epochs=2), key=key)
    with pytest.raises(ValueError, match="same users= and items="):
        recsys.evaluate_mf(params, other)
    with pytest.raises(ValueError, match="same length"):
        recsys.mf_predict(params, np.array([0, 1]), np.array([0]))


# ---------------------------------------------------------------------------- recommend


@pytest.fixture
def recommender(ml, key):
    train = recsys.index_ratings(ml.ratings)
    params, _ = recsys.fit_mf(train, recsys.MFConfig(rank=2, epochs=50), key=key)
    return recsys.Recommender(
        recsys.mf_scores(params),
        train,
        titles=ml.movies.title,
        item_genres=ml.movies.genres,
        genre_names=ml.genre_names,
    ), train


def test_recommend_never_returns_seen_items(recommender):
    rec, train = recommender
    for user in train.users.ids:
        seen = set(
            train.items.to_raw(train.item[train.user == train.users.to_index([user])[0]]).tolist()
        )
        top = rec.recommend(int(user), k=10)
        assert not seen & set(top.items.tolist())
        assert len(top.items) == 5 - len(seen)  # fewer than k only because the catalogue runs out
        assert np.all(np.diff(top.scores) <= 0)
        assert top.titles.tolist() == [f"M{i} (199{i})" for i in top.items]


def test_recommend_errors_are_clear(recommender):
    rec, _ = recommender
    with pytest.raises(ValueError, match="user 99 has no interactions.*recommend_new_user"):
        rec.recommend(99, 3)
    with pytest.raises(ValueError, match="k must be >= 1"):
        rec.recommend(1, 0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        rec.recommend_new_user(-2)
    with pytest.raises(TypeError, match="raw user id"):
        rec.recommend("1", 3)
    with pytest.raises(TypeError, match="k must be an int"):
        rec.recommend(1, 2.5)
    with pytest.raises(ValueError, match="unknown genre"):
        rec.recommend_new_user(2, genres=["Westerns"])


def test_cold_start_uses_genres_then_popularity(recommender):
    rec, train = recommender
    popular = rec.recommend_new_user(2)
    assert popular.items.tolist() == [1, 2]  # 3 interactions each, more than any other movie
    # genre g0 is flagged on movies 3 (3 % 3 == 0) only; movie 3 comes first, then the most popular others
    assert rec.recommend_new_user(2, genres=["g0"]).items.tolist() == [3, 1]
    assert rec.recommend_new_user(1, genres=["g1"]).items.tolist() == [
        1
    ]  # movies 1 and 4 have g1; 1 is more popular


def test_min_interactions_hides_rarely_seen_items(ml, key):
    train = recsys.index_ratings(ml.ratings)
    params, _ = recsys.fit_mf(train, recsys.MFConfig(rank=2, epochs=5), key=key)
    rec = recsys.Recommender(recsys.mf_scores(params), train, min_interactions=2)
    assert rec.recommend(3, k=5).items.tolist() in (
        [1, 3, 4],
        [1, 4, 3],
        [3, 1, 4],
        [3, 4, 1],
        [4, 1, 3],
        [4, 3, 1],
    )
    with pytest.raises(ValueError, match="min_interactions"):
        recsys.Recommender(recsys.mf_scores(params), train, min_interactions=-1)
