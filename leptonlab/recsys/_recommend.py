"""Top-k recommendation lists: the step that turns scores into a product (notebooks 14-15)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from leptonlab.recsys._data import (
    IdIndex,
    Interactions,
    check_interactions,
    item_popularity,
    seen_matrix,
)
from leptonlab.recsys._mf import MFParams


class TopK(NamedTuple):
    """A recommendation list, best first."""

    items: np.ndarray  # [k] int64 raw item ids (MovieLens movie ids)
    scores: np.ndarray  # [k] float32 the model's scores
    titles: np.ndarray  # [k] str titles ("" when the recommender has none)


def mf_scores(params: MFParams) -> np.ndarray:
    """``[U, I] float32`` predicted rating of every user for every item under biased MF. Notebook 14."""
    if not isinstance(params, MFParams):
        raise TypeError(f"params must be MFParams, got {type(params).__name__}.")
    full = (
        params.mu
        + params.user_bias[:, None]
        + params.item_bias[None, :]
        + params.user_factors @ params.item_factors.T
    )  # [U, I]
    return np.asarray(full, np.float32)


def _check_k(k) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"k must be an int (how many items to recommend), got {type(k).__name__}.")
    if k <= 0:
        raise ValueError(f"k must be >= 1 (how many items to recommend), got {k}.")
    return int(k)


class Recommender:
    """Top-k lists for known users from a score matrix, and cold start for new users.

    Args:
        scores: ``[U, I]`` any model's scores (higher = better) for every user row and item row.
        train: the interactions the model learnt from; their items count as seen and
            are never recommended again, and they give the popularity for cold start.
        titles: ``[I]`` item titles (optional), row-aligned with ``train.items``.
        item_genres: ``[I, G]`` bool genre flags (optional) for cold start by genre.
        genre_names: ``G`` genre names, so a new user can say ``genres=["Comedy"]``.
        new_user_scores: optional ``profile [G] -> [I]`` scores for a new user
            (e.g. :meth:`TwoTower.new_user_scores`); without it cold start ranks
            the items of the chosen genres by popularity.
        min_interactions: items with fewer training interactions are never
            recommended to known users (their scores rest on too little data).

    Introduced in notebook 14; cold start in notebook 15.
    """

    def __init__(
        self,
        scores,
        train: Interactions,
        *,
        titles=None,
        item_genres=None,
        genre_names: Sequence[str] | None = None,
        new_user_scores: Callable[[np.ndarray], np.ndarray] | None = None,
        min_interactions: int = 0,
    ):
        train = check_interactions(train, "train")
        if not isinstance(min_interactions, (int, np.integer)) or min_interactions < 0:
            raise ValueError(f"min_interactions must be an int >= 0, got {min_interactions!r}.")
        scores = np.asarray(scores, np.float32)
        if scores.shape != (train.n_users, train.n_items):
            raise ValueError(
                f"scores must be [n_users={train.n_users}, n_items={train.n_items}], got {scores.shape}."
            )
        if np.isnan(scores).any():
            raise ValueError("scores contain NaN: the model diverged.")
        self.scores = scores
        self.users: IdIndex = train.users
        self.items: IdIndex = train.items
        self.seen = seen_matrix(train)  # [U, I]
        self.active = self.seen.any(axis=1)  # [U] users with at least one training interaction
        self.popularity = item_popularity(train)  # [I]
        self.titles = None if titles is None else np.asarray(titles, dtype=str)
        if self.titles is not None and self.titles.shape != (train.n_items,):
            raise ValueError(f"titles must be [n_items={train.n_items}], got {self.titles.shape}.")
        self.item_genres = None if item_genres is None else np.asarray(item_genres, bool)
        if self.item_genres is not None and (
            self.item_genres.ndim != 2 or self.item_genres.shape[0] != train.n_items
        ):
            raise ValueError(
                f"item_genres must be [n_items={train.n_items}, G], got {self.item_genres.shape}."
            )
        self.genre_names = None if genre_names is None else tuple(genre_names)
        if self.genre_names is not None and (
            self.item_genres is None or len(self.genre_names) != self.item_genres.shape[1]
        ):
            raise ValueError("genre_names needs item_genres with one column per name.")
        self.new_user_scores = new_user_scores
        self.rare = (
            self.popularity < min_interactions
        )  # [I] items too rarely seen to be recommended

    def _top(self, scores: np.ndarray, blocked: np.ndarray, k: int) -> TopK:
        scores = np.where(blocked, -np.inf, scores)
        k = min(k, int((~blocked).sum()))
        order = np.argsort(-scores, kind="stable")[:k]  # ties: the lower item row first
        titles = self.titles[order] if self.titles is not None else np.full(k, "", dtype=str)
        return TopK(
            items=self.items.to_raw(order), scores=scores[order].astype(np.float32), titles=titles
        )

    def recommend(self, user, k: int = 10) -> TopK:
        """The ``k`` best-scored items that raw user id ``user`` has not rated yet.

        Fewer than ``k`` come back only when the user has seen almost everything.
        An id without training interactions is refused with a message that points
        to :meth:`recommend_new_user`.
        """
        k = _check_k(k)
        if not isinstance(user, (int, np.integer)) or isinstance(user, bool):
            raise TypeError(
                f"user must be a raw user id (an int, e.g. 42), got {type(user).__name__}."
            )
        known = bool(self.users.contains([user])[0])
        if not known or not self.active[self.users.to_index([user])[0]]:
            raise ValueError(
                f"user {user} has no interactions in the training data, so the model knows nothing "
                f"about them (known ids run from {int(self.users.ids[0])} to {int(self.users.ids[-1])}). "
                "For a new user call recommend_new_user(k, genres=[...]): cold start from the genres "
                "they like, or from popularity when none are given."
            )
        row = int(self.users.to_index([user])[0])
        return self._top(self.scores[row], self.seen[row] | self.rare, k)

    def genre_profile(self, genres: Sequence[str] | None) -> np.ndarray:
        """``[G] float32`` profile with equal weight on the named genres (all zero when ``genres`` is empty)."""
        if self.item_genres is None or self.genre_names is None:
            raise ValueError(
                "this Recommender has no item_genres/genre_names: pass them to use genres."
            )
        if isinstance(genres, str):
            raise TypeError(f"genres must be a list of names, e.g. [{genres!r}], not one string.")
        unknown = [g for g in (genres or []) if g not in self.genre_names]
        if unknown:
            raise ValueError(f"unknown genre(s) {unknown}; choose from {list(self.genre_names)}.")
        profile = np.array([g in (genres or []) for g in self.genre_names], np.float32)
        return profile / max(profile.sum(), 1.0)

    def recommend_new_user(self, k: int = 10, genres: Sequence[str] | None = None) -> TopK:
        """Cold start: ``k`` items for someone with no history, from the ``genres`` they name.

        With ``new_user_scores`` (a model with a genre path) the profile is scored
        by the model; otherwise the most popular items having at least one of the
        genres come first. Without genres: the most popular items overall.
        """
        k = _check_k(k)
        nothing = np.zeros(self.items.size, bool)
        if not genres:
            return self._top(self.popularity.astype(np.float32), nothing, k)
        profile = self.genre_profile(genres)
        if self.new_user_scores is not None:
            scores = np.asarray(self.new_user_scores(profile), np.float32)
            if scores.shape != (self.items.size,):
                raise ValueError(
                    f"new_user_scores returned shape {scores.shape}, expected [{self.items.size}]."
                )
            return self._top(scores, nothing, k)
        match = (self.item_genres.astype(np.float32) @ profile) > 0  # [I] has a chosen genre
        popularity = self.popularity.astype(np.float32)
        if (
            match.sum() >= k
        ):  # the most popular items of those genres; scores are interaction counts
            return self._top(popularity, ~match, k)
        return self._top(
            popularity + match * (popularity.max() + 1.0), nothing, k
        )  # too few: fill with others
