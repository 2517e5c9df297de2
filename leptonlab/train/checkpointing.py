"""Saving a run after each epoch, resuming it, and keeping the best epoch's state for early stopping.

With ``TrainConfig(checkpoint_dir=...)`` :func:`leptonlab.train.fit` saves the state and the
history after every epoch and resumes from the newest checkpoint; early stopping keeps the
state of the epoch with the lowest ``val_loss`` (in memory, and in ``<checkpoint_dir>/best``
so that a resumed run still returns it).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab import checkpoint
from leptonlab.train.core import TrainConfig, TrainState
from leptonlab.train.history import History

__all__ = ["BestState", "resume", "save_epoch"]


def _best_dir(config: TrainConfig) -> Path:
    """Where early stopping keeps the best epoch's state, beside the run's checkpoints."""
    return Path(config.checkpoint_dir) / "best"


class BestState:
    """The state of the epoch with the lowest ``val_loss`` so far, and when to stop (patience epochs later)."""

    def __init__(
        self, config: TrainConfig, loss: float = math.inf, state: TrainState | None = None
    ):
        self.config, self.loss, self.state = config, loss, state

    def update(self, history: History, state: TrainState) -> None:
        """Keep ``state`` if the last epoch of ``history`` has the lowest ``val_loss`` yet."""
        row = history.rows[-1]
        if not self.config.early_stopping or row["val_loss"] >= self.loss:
            return
        self.loss, self.state = row["val_loss"], jax.tree.map(jnp.copy, state)
        if self.config.checkpoint_dir is not None:
            checkpoint.save_checkpoint(_best_dir(self.config), int(row["epoch"]), state, {})

    def should_stop(self, history: History) -> bool:
        """Whether ``config.early_stopping`` epochs have passed without a lower ``val_loss``."""
        if not self.config.early_stopping:
            return False
        best_epoch = int(history["epoch"][int(np.argmin(history["val_loss"]))])
        return int(history.rows[-1]["epoch"]) - best_epoch >= self.config.early_stopping

    def result(self, state: TrainState) -> TrainState:
        """The state to return: the best epoch's with early stopping, else ``state``."""
        return self.state if self.config.early_stopping and self.state is not None else state


def resume(
    config: TrainConfig, state: TrainState, history: History
) -> tuple[TrainState, int, BestState]:
    """Restore the newest checkpoint of ``config.checkpoint_dir`` if there is one.

    Appends the saved epochs to ``history``; returns the state, the number of finished
    epochs and, for early stopping, the best state so far.
    """
    if config.checkpoint_dir is None or checkpoint.latest_epoch(config.checkpoint_dir) is None:
        return state, 0, BestState(config)
    template = state
    state, record = checkpoint.restore_checkpoint(config.checkpoint_dir, template)
    for row in record.get("history", []):
        history.append(row)
    best = BestState(config)
    if config.early_stopping and checkpoint.latest_epoch(_best_dir(config)) is not None:
        best_state, _ = checkpoint.restore_checkpoint(_best_dir(config), template)
        best = BestState(config, float(np.min(history["val_loss"])), best_state)
    return state, int(record["epoch"]), best


def save_epoch(config: TrainConfig, state: TrainState, history: History) -> None:
    """Save the run after its last epoch (after the best state: a resumed run never misses it)."""
    if config.checkpoint_dir is not None:
        checkpoint.save_checkpoint(
            config.checkpoint_dir, int(history.rows[-1]["epoch"]), state, {"history": history.rows}
        )
