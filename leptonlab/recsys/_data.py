"""Ratings as 0-based index arrays, and the implicit-feedback view (notebooks 14-15).

MovieLens ids are 1-based and a split need not contain every user or movie; a
model's embedding tables want contiguous 0-based rows. :class:`IdIndex` maps
raw ids to rows and back, and refuses ids it has never seen with a message.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np


class IdIndex(NamedTuple):
    """A bijection between raw ids and rows ``0..n-1``: row ``i`` is raw id ``ids[i]``."""

    ids: np.ndarray  # [n] int64, sorted, unique raw ids

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def contains(self, raw: Any) -> np.ndarray:
        """``[N] bool``: which raw ids have a row."""
        raw = np.asarray(raw).reshape(-1)
        pos = np.clip(np.searchsorted(self.ids, raw), 0, max(self.size - 1, 0))
        return (self.size > 0) & (self.ids[pos] == raw) if self.size else np.zeros(raw.shape, bool)

    def to_index(self, raw: Any, *, what: str = "id") -> np.ndarray:
        """Rows of the raw ids ``raw: [N]`` as ``[N] int32``; ValueError naming the first unknown id."""
        arr = np.asarray(raw)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{what}s must be integers, got dtype {arr.dtype}.")
        flat = arr.reshape(-1)
        known = self.contains(flat)
        if not known.all():
            bad = flat[~known]
            raise ValueError(
                f"{what} {int(bad[0])} is unknown ({bad.size} unknown in all); the index knows "
                f"{self.size} {what}s from {int(self.ids[0]) if self.size else '-'} to "
                f"{int(self.ids[-1]) if self.size else '-'}."
            )
        return np.searchsorted(self.ids, flat).astype(np.int32).reshape(arr.shape)

    def to_raw(self, index: Any) -> np.ndarray:
        """Raw ids of the rows ``index: [N]``."""
        index = np.asarray(index)
        if index.size and (index.min() < 0 or index.max() >= self.size):
            raise ValueError(
                f"row indices must be in 0..{self.size - 1}, got {int(index.min())}..{int(index.max())}."
            )
        return self.ids[index]


def build_index(raw_ids: Any) -> IdIndex:
    """An :class:`IdIndex` over the distinct values of ``raw_ids: [N] int``. Introduced in notebook 14."""
    arr = np.asarray(raw_ids)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(
            f"raw_ids must be a 1-D integer array, got shape {arr.shape} and dtype {arr.dtype}."
        )
    if arr.size == 0:
        raise ValueError("raw_ids is empty: an index needs at least one id.")
    return IdIndex(np.unique(arr).astype(np.int64))


class Interactions(NamedTuple):
    """Ratings with 0-based rows: ``user[k]`` rated ``item[k]`` with ``rating[k]`` at ``timestamp[k]``."""

    user: np.ndarray  # [N] int32, row in users (0..n_users-1)
    item: np.ndarray  # [N] int32, row in items (0..n_items-1)
    rating: np.ndarray  # [N] float32, stars
    timestamp: np.ndarray  # [N] int64, seconds
    users: IdIndex  # raw user id of each row
    items: IdIndex  # raw item id of each row

    @property
    def n_users(self) -> int:
        return self.users.size

    @property
    def n_items(self) -> int:
        return self.items.size

    @property
    def n_ratings(self) -> int:
        return int(self.user.shape[0])


def index_ratings(
    ratings: Any, *, users: IdIndex | None = None, items: IdIndex | None = None
) -> Interactions:
    """Re-index MovieLens :class:`~leptonlab.data.Ratings` (1-based raw ids) to 0-based rows.

    Pass the ``users``/``items`` index of the whole catalogue (e.g.
    ``build_index(ml.movies.item)``) so that a train and a test fold share rows;
    without them the index is built from the ids present in ``ratings``.

    Introduced in notebook 14.
    """
    for field in ("user", "item", "rating", "timestamp"):
        if not hasattr(ratings, field):
            raise TypeError(
                f"ratings must have fields user, item, rating, timestamp (a leptonlab.data.Ratings), "
                f"got {type(ratings).__name__} without {field!r}."
            )
    n = np.asarray(ratings.user).shape[0]
    if any(np.asarray(getattr(ratings, f)).shape != (n,) for f in ("item", "rating", "timestamp")):
        raise ValueError("user, item, rating and timestamp must be 1-D arrays of the same length.")
    users = build_index(ratings.user) if users is None else users
    items = build_index(ratings.item) if items is None else items
    return Interactions(
        user=users.to_index(ratings.user, what="user"),
        item=items.to_index(ratings.item, what="item"),
        rating=np.asarray(ratings.rating, np.float32),
        timestamp=np.asarray(ratings.timestamp, np.int64),
        users=users,
        items=items,
    )


def check_interactions(data: Any, name: str = "data") -> Interactions:
    if not isinstance(data, Interactions):
        raise TypeError(
            f"{name} must be Interactions (from recsys.index_ratings), got {type(data).__name__}."
        )
    if data.n_ratings == 0:
        raise ValueError(f"{name} holds no ratings.")
    return data


def check_train_val(train: Any, val: Any) -> tuple[Interactions, Interactions | None]:
    """``train`` and the optional ``val`` checked, and indexed alike (same users and items)."""
    train = check_interactions(train, "train")
    if val is not None:
        val = check_interactions(val, "val")
        if val.n_users != train.n_users or val.n_items != train.n_items:
            raise ValueError(
                "val must be indexed with the same users and items as train: pass users= and items= "
                "to index_ratings for both."
            )
    return train, val


def seen_matrix(data: Interactions) -> np.ndarray:
    """``[n_users, n_items] bool``: which items each user has rated in ``data``. Introduced in notebook 14."""
    data = check_interactions(data)
    seen = np.zeros((data.n_users, data.n_items), bool)
    seen[data.user, data.item] = True
    return seen


def rating_matrix(data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``(R, mask)``: ``R: [n_users, n_items] float32`` ratings (0 where unrated), ``mask`` bool."""
    data = check_interactions(data)
    R = np.zeros((data.n_users, data.n_items), np.float32)
    R[data.user, data.item] = data.rating
    return R, seen_matrix(data)


class ImplicitSplit(NamedTuple):
    """Leave-one-out implicit feedback: every rating is a positive interaction.

    Each user's latest interaction (by timestamp; ties broken by the larger
    item row) is held out as ``test_item``; the rest are ``train``.
    """

    train: Interactions  # all other interactions (rating kept, but models read only user/item)
    test_user: np.ndarray  # [U'] int32, users with >= 2 interactions
    test_item: np.ndarray  # [U'] int32, each one's held-out latest item
    seen: np.ndarray  # [n_users, n_items] bool, train interactions


def leave_one_out(data: Interactions) -> ImplicitSplit:
    """Hold out each user's latest interaction (users with at least 2). Introduced in notebook 15."""
    data = check_interactions(data)
    order = np.lexsort((data.item, data.timestamp, data.user))  # by user, then time, then item
    user_sorted = data.user[order]
    last = np.ones(data.n_ratings, bool)
    last[:-1] = user_sorted[1:] != user_sorted[:-1]  # last row of each user's block
    counts = np.bincount(data.user, minlength=data.n_users)
    held = order[last & (counts[user_sorted] >= 2)]  # [U'] positions in data
    keep = np.ones(data.n_ratings, bool)
    keep[held] = False
    train = data._replace(
        user=data.user[keep],
        item=data.item[keep],
        rating=data.rating[keep],
        timestamp=data.timestamp[keep],
    )
    by_user = np.argsort(data.user[held], kind="stable")
    held = held[by_user]
    return ImplicitSplit(
        train=train, test_user=data.user[held], test_item=data.item[held], seen=seen_matrix(train)
    )


def sample_negatives(
    seen: Any, users: Any, n: int, *, key: jax.Array, exclude: Any = None
) -> np.ndarray:
    """``[len(users), n] int32`` items each user has not interacted with, drawn uniformly without replacement.

    ``seen: [n_users, n_items] bool`` marks interactions; ``exclude: [len(users)]``
    (optional) is one more item per user to avoid (the held-out test item).
    Deterministic given ``key``. Introduced in notebook 15.
    """
    seen = np.asarray(seen)
    users = np.asarray(users)
    if seen.ndim != 2 or seen.dtype != bool:
        raise TypeError(
            f"seen must be a [n_users, n_items] bool matrix, got shape {seen.shape} dtype {seen.dtype}."
        )
    if users.ndim != 1 or users.dtype.kind not in "iu":
        raise TypeError("users must be a 1-D integer array of user rows.")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int (negatives per user), got {n!r}.")
    if users.size and (users.min() < 0 or users.max() >= seen.shape[0]):
        raise ValueError(f"user rows must be in 0..{seen.shape[0] - 1}.")
    blocked = seen[users].copy()  # [B, I]
    if exclude is not None:
        exclude = np.asarray(exclude)
        if exclude.shape != users.shape:
            raise ValueError(
                f"exclude must have one item per user, shape {users.shape}, got {exclude.shape}."
            )
        blocked[np.arange(users.size), exclude] = True
    free = (~blocked).sum(axis=1)
    if users.size and free.min() < n:
        raise ValueError(
            f"user row {int(users[np.argmin(free)])} has only {int(free.min())} unseen items; "
            f"ask for at most that many negatives (n={n})."
        )
    # Random keys on the free items only: the n smallest are a uniform sample without replacement.
    u = np.asarray(jax.random.uniform(key, blocked.shape))
    u = np.where(blocked, 2.0, u)
    return np.argsort(u, axis=1, kind="stable")[:, :n].astype(np.int32)


def item_popularity(data: Interactions) -> np.ndarray:
    """``[n_items] int64``: how many interactions each item has in ``data``. Introduced in notebook 14."""
    data = check_interactions(data)
    return np.bincount(data.item, minlength=data.n_items).astype(np.int64)


class Candidates(NamedTuple):
    """Leave-one-out evaluation lists: each test user's held-out item among sampled negatives."""

    users: np.ndarray  # [U'] int32 user rows
    items: (
        np.ndarray
    )  # [U', 1 + n] int32: column 0 is the held-out item, the rest never interacted with
    relevant: np.ndarray  # [U', 1 + n] bool: True in column 0 only


def candidate_lists(split: ImplicitSplit, n_negatives: int = 99, *, key: jax.Array) -> Candidates:
    """The standard NCF protocol: rank each held-out item among ``n_negatives`` items the user never touched.

    Introduced in notebook 15.
    """
    if not isinstance(split, ImplicitSplit):
        raise TypeError(
            f"split must be an ImplicitSplit (from leave_one_out), got {type(split).__name__}."
        )
    neg = sample_negatives(
        split.seen, split.test_user, n_negatives, key=key, exclude=split.test_item
    )
    items = np.concatenate([split.test_item[:, None], neg], axis=1).astype(np.int32)  # [U', 1 + n]
    relevant = np.zeros(items.shape, bool)
    relevant[:, 0] = True
    return Candidates(users=split.test_user, items=items, relevant=relevant)


def validation_split(
    data: Interactions, fraction: float = 0.1, *, key: jax.Array
) -> tuple[Interactions, Interactions]:
    """``(fit_part, val_part)``: a random ``fraction`` of the ratings held out for validation.

    Carve it from a TRAINING fold, never from a test fold: the held-out part
    is for every choice (epochs, regularisation, blend weights) so that the
    test fold is evaluated once, at the end. Both parts keep the rows order of
    ``data`` and share its ``users``/``items`` index. Deterministic given ``key``.

    Introduced in notebook 14.
    """
    data = check_interactions(data)
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction < 1.0):
        raise ValueError(f"fraction must be a number strictly between 0 and 1, got {fraction!r}.")
    n_val = int(round(fraction * data.n_ratings))
    if n_val < 1 or n_val >= data.n_ratings:
        raise ValueError(
            f"fraction={fraction} of {data.n_ratings} ratings leaves an empty part; use more ratings."
        )
    held = np.zeros(data.n_ratings, bool)
    held[np.asarray(jax.random.permutation(key, data.n_ratings))[:n_val]] = True
    return _subset(data, ~held), _subset(data, held)


def _subset(data: Interactions, keep: np.ndarray) -> Interactions:
    return data._replace(
        user=data.user[keep],
        item=data.item[keep],
        rating=data.rating[keep],
        timestamp=data.timestamp[keep],
    )
