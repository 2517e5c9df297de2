"""Saving and restoring training runs with Orbax (notebook 09).

A checkpoint holds the whole :class:`leptonlab.train.TrainState` (parameters,
optimizer state, PRNG key, step) and a small JSON record (the epoch, the history
so far). Orbax writes each checkpoint to a temporary folder and renames it when
complete, so an interrupted save never leaves a half-written checkpoint behind.
Because the data order and every random number derive from the seed, the epoch
and the state's key, a run resumed from a checkpoint continues exactly as the
uninterrupted run would have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np


class CheckpointError(RuntimeError):
    """A checkpoint could not be restored; the message says why and what to do."""


def _manager(directory: str | Path, *, create: bool):
    import orbax.checkpoint as ocp  # imported here: Orbax is slow to import and not needed elsewhere

    options = ocp.CheckpointManagerOptions(max_to_keep=2, create=create)
    return ocp, ocp.CheckpointManager(Path(directory).absolute(), options=options)


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _to_arrays(state) -> dict[str, Any]:
    """The state's leaves by position; PRNG keys as their raw uint32 data."""
    return {f"{i:05d}": jax.random.key_data(leaf) if _is_key(leaf) else leaf
            for i, leaf in enumerate(jax.tree.leaves(state))}


def _from_arrays(arrays: dict[str, Any], template):
    leaves = jax.tree.leaves(template)
    restored = [jax.random.wrap_key_data(arrays[f"{i:05d}"], impl=jax.random.key_impl(leaf)) if _is_key(leaf)
                else arrays[f"{i:05d}"] for i, leaf in enumerate(leaves)]
    return jax.tree.unflatten(jax.tree.structure(template), restored)


def save_checkpoint(directory: str | Path, epoch: int, state, record: dict[str, Any]) -> Path:
    """Save ``state`` and the JSON-able ``record`` as the checkpoint of ``epoch`` in ``directory``.

    Keeps the two most recent checkpoints; returns the folder written.
    """
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0, got {epoch!r}.")
    ocp, manager = _manager(directory, create=True)
    args = ocp.args.Composite(state=ocp.args.StandardSave(_to_arrays(state)),
                              record=ocp.args.JsonSave({"epoch": epoch, **record}))
    manager.save(epoch, args=args, force=True)
    manager.wait_until_finished()
    manager.close()
    return Path(directory) / str(epoch)


def latest_epoch(directory: str | Path) -> int | None:
    """The epoch of the newest complete checkpoint in ``directory``, or None if there is none."""
    if not Path(directory).is_dir():
        return None
    _, manager = _manager(directory, create=False)
    epoch = manager.latest_step()
    manager.close()
    return epoch


def restore_checkpoint(directory: str | Path, template, epoch: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Restore the checkpoint of ``epoch`` (default: the newest) into the structure of ``template``.

    ``template`` is a state of the same model and optimizer (e.g. a freshly created
    one); returns ``(state, record)``. Raises :class:`CheckpointError` when there is
    no checkpoint or it was written by a different model or optimizer.
    """
    epoch = latest_epoch(directory) if epoch is None else epoch
    if epoch is None:
        raise CheckpointError(f"no checkpoint in {directory}: train with checkpoint_dir set to write one.")
    ocp, manager = _manager(directory, create=False)
    target = jax.tree.map(np.asarray, _to_arrays(template))
    args = ocp.args.Composite(state=ocp.args.StandardRestore(target), record=ocp.args.JsonRestore())
    try:
        restored = manager.restore(epoch, args=args)
    except (ValueError, KeyError, FileNotFoundError) as err:
        raise CheckpointError(
            f"the checkpoint of epoch {epoch} in {directory} does not fit this model and optimizer ({err}). "
            "It was written by a different configuration: use another checkpoint_dir or delete this one."
        ) from None
    finally:
        manager.close()
    saved = restored.state
    for name, want in target.items():
        if name not in saved or np.shape(saved[name]) != np.shape(want):
            raise CheckpointError(
                f"the checkpoint in {directory} has a different parameter layout ({name}): it was written by "
                "another model or optimizer. Use another checkpoint_dir or delete this one.")
    return _from_arrays(saved, template), dict(restored.record)
