"""The per-epoch record of a run that :func:`leptonlab.train.fit` returns."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["History"]


class History:
    """Per-epoch metrics of a run: ``history["val_accuracy"]`` is a NumPy array over epochs."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def append(self, row: Mapping[str, float]) -> None:
        self.rows.append(dict(row))

    def __getitem__(self, name: str) -> np.ndarray:
        if not self.rows or name not in self.rows[-1]:
            known = sorted(self.rows[-1]) if self.rows else []
            raise KeyError(f"no metric {name!r} in this history; it has {known}.")
        return np.array([row.get(name, np.nan) for row in self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        """The metric names recorded in the last epoch."""
        return list(self.rows[-1]) if self.rows else []

    def last(self) -> dict[str, float]:
        """The metrics of the last epoch."""
        if not self.rows:
            raise ValueError("the history is empty: no epoch has finished.")
        return dict(self.rows[-1])

    def __repr__(self) -> str:
        return f"History({len(self)} epoch{'' if len(self) == 1 else 's'}, metrics={self.names})"
