"""Saving and restoring training runs with Orbax (notebook 09).

A checkpoint holds the whole :class:`leptonlab.train.TrainState` (parameters,
optimizer state, PRNG key, step) and a small JSON record (the epoch, the history
so far). Orbax writes each checkpoint to a temporary folder and renames it when
complete, so an interrupted save never leaves a half-written checkpoint behind.
Because the data order and every random number derive from the seed, the epoch
and the state's key, a run resumed from a checkpoint continues exactly as the
uninterrupted run would have.

Restoring tells two failures apart: a checkpoint written by another model or
optimizer (its arrays' names or shapes, read from Orbax's metadata before any
array, differ from the template's) and a damaged one (a file truncated,
overwritten or removed after saving), whose message names the step folder to
delete to resume from the previous checkpoint.
"""

from __future__ import annotations

import sys
from os import PathLike
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
    return {
        f"{i:05d}": jax.random.key_data(leaf) if _is_key(leaf) else leaf
        for i, leaf in enumerate(jax.tree.leaves(state))
    }


def _from_arrays(arrays: dict[str, Any], template):
    leaves = jax.tree.leaves(template)
    restored = [
        jax.random.wrap_key_data(arrays[f"{i:05d}"], impl=jax.random.key_impl(leaf))
        if _is_key(leaf)
        else arrays[f"{i:05d}"]
        for i, leaf in enumerate(leaves)
    ]
    return jax.tree.unflatten(jax.tree.structure(template), restored)


def save_checkpoint(directory: str | Path, epoch: int, state, record: dict[str, Any]) -> Path:
    """Save ``state`` and the JSON-able ``record`` as the checkpoint of ``epoch`` in ``directory``.

    Keeps the two most recent checkpoints; returns the folder written.
    """
    _check_directory(directory)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0, got {epoch!r}.")
    if not isinstance(record, dict):
        raise TypeError(f"record must be a dict of JSON-able values, got {type(record).__name__}.")
    ocp, manager = _manager(directory, create=True)
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(_to_arrays(state)),
        record=ocp.args.JsonSave({"epoch": epoch, **record}),
    )
    manager.save(epoch, args=args, force=True)
    manager.wait_until_finished()
    manager.close()
    return Path(directory) / str(epoch)


def _check_directory(directory: Any) -> Path:
    if not isinstance(directory, (str, PathLike)):
        raise TypeError(
            f"directory must be a folder path (str or Path), got {type(directory).__name__}."
        )
    return Path(directory)


def latest_epoch(directory: str | Path) -> int | None:
    """The epoch of the newest complete checkpoint in ``directory``, or None if there is none."""
    if not _check_directory(directory).is_dir():
        return None
    _, manager = _manager(directory, create=False)
    epoch = manager.latest_step()
    manager.close()
    return epoch


def _saved_epochs(directory: Path) -> list[int]:
    _, manager = _manager(directory, create=False)
    steps = sorted(manager.all_steps())
    manager.close()
    return steps


def _is_closed_loop_report(unraisable: Any) -> bool:
    """Whether ``unraisable`` is a late tensorstore callback waking an asyncio loop that is closed."""
    if (
        unraisable.exc_type is not RuntimeError
        or str(unraisable.exc_value) != "Event loop is closed"
    ):
        return False
    tb = unraisable.exc_traceback
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_name == "_check_closed"


def _quiet_closed_loop_reports() -> None:
    """Drop the "Event loop is closed" reports that follow a failed restore (installed once, at a restore).

    When one array of a checkpoint cannot be read, Orbax's restore fails and closes its asyncio
    event loop while tensorstore is still reading the other arrays. As each of those reads
    finishes, tensorstore's callback tries to wake the closed loop, and Python prints
    "Exception ignored in: None ... RuntimeError: Event loop is closed" on stderr for each one
    (dozens of tracebacks), possibly after the restore has returned. Nobody awaits those results
    any more, so this wraps ``sys.unraisablehook`` to drop exactly that report; every other report
    goes on to the hook that was there before.
    """
    previous = sys.unraisablehook
    if getattr(previous, "_leptonlab_quiet_closed_loop", False):
        return

    def hook(unraisable):
        if not _is_closed_loop_report(unraisable):
            previous(unraisable)

    hook._leptonlab_quiet_closed_loop = True
    sys.unraisablehook = hook


def _short(err: BaseException) -> str:
    """``err`` in one line, without tensorstore's long spec dump."""
    text = " ".join(str(err).split("[tensorstore_spec")[0].split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _layout_difference(saved: dict[str, Any], target: dict[str, Any]) -> str | None:
    """How the saved arrays' names and shapes differ from the template's, or None if they agree."""
    if set(saved) != set(target):
        return f"it holds {len(saved)} arrays, this model and optimizer have {len(target)}"
    for name in sorted(target):
        there, here = tuple(getattr(saved[name], "shape", ()) or ()), tuple(np.shape(target[name]))
        if there != here:
            return f"state array {name} has shape {list(there)} there, {list(here)} here"
    return None


def restore_checkpoint(
    directory: str | Path, template, epoch: int | None = None
) -> tuple[Any, dict[str, Any]]:
    """Restore the checkpoint of ``epoch`` (default: the newest) into the structure of ``template``.

    ``template`` is a state of the same model and optimizer (e.g. a freshly created
    one); returns ``(state, record)``. The saved arrays' names and shapes are compared
    with the template's before any array is read.

    Raises:
        CheckpointError: when there is no checkpoint (of ``epoch``); when it was written by
            a different model or optimizer (its layout differs from ``template``'s); when it
            is damaged (its files are truncated, overwritten or missing), naming the step
            folder and what to delete to resume from the previous checkpoint or start afresh.
        TypeError, ValueError: for a bad ``directory`` or ``epoch``.
    """
    directory = _check_directory(directory)
    if epoch is not None and (not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0):
        raise ValueError(f"epoch must be None (the newest) or an int >= 0, got {epoch!r}.")
    epochs = _saved_epochs(directory) if directory.is_dir() else []
    if not epochs:
        raise CheckpointError(
            f"no checkpoint in {directory}: train with checkpoint_dir set to write one."
        )
    if epoch is None:
        epoch = epochs[-1]
    elif epoch not in epochs:
        raise CheckpointError(
            f"no checkpoint of epoch {epoch} in {directory}; it holds epochs {epochs}."
        )
    step_dir = directory / str(epoch)
    earlier = [e for e in epochs if e < epoch]
    resume = (
        f"delete the folder {step_dir} to resume from the checkpoint of epoch {earlier[-1]}, or "
        if earlier
        else ""
    )

    def damaged(what: str, err: BaseException) -> CheckpointError:
        return CheckpointError(
            f"the checkpoint of epoch {epoch} in {directory} is damaged: {what} ({_short(err)}). Its files have been "
            f"truncated, overwritten or removed since it was saved (it is not from another configuration): {resume}"
            f"delete {directory} to start afresh."
        )

    ocp, manager = _manager(directory, create=False)
    _quiet_closed_loop_reports()
    target = jax.tree.map(np.asarray, _to_arrays(template))
    try:
        handler = ocp.StandardCheckpointHandler()
        try:
            layout = dict(
                handler.metadata(step_dir.absolute() / "state").items()
            )  # {name: ArrayMetadata}
        except Exception as err:  # noqa: BLE001 - the step is complete (Orbax renamed it), so this is damage
            raise damaged(
                "its metadata (the arrays' names and shapes) cannot be read", err
            ) from None
        finally:
            handler.close()
        difference = _layout_difference(layout, target)
        if difference is not None:
            raise CheckpointError(
                f"the checkpoint of epoch {epoch} in {directory} was written by another model or optimizer "
                f"({difference}): use another checkpoint_dir, or delete this one to start afresh."
            )
        try:
            record = manager.restore(
                epoch, args=ocp.args.Composite(record=ocp.args.JsonRestore())
            ).record
        except Exception as err:  # noqa: BLE001
            raise damaged("its record (epoch and history) cannot be read", err) from None
        if not isinstance(record, dict) or record.get("epoch") != epoch:
            raise damaged(
                "its record (epoch and history) does not hold this epoch",
                ValueError(f"record {str(record)[:80]}"),
            )
        try:
            saved = manager.restore(
                epoch, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))
            ).state
        except Exception as err:  # noqa: BLE001
            raise damaged("its arrays cannot be read", err) from None
    finally:
        manager.close()
    return _from_arrays(saved, template), dict(record)


__all__ = [  # the public names (explicit re-exports and definitions)
    "CheckpointError",
    "latest_epoch",
    "restore_checkpoint",
    "save_checkpoint",
]
