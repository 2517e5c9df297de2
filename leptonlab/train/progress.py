"""The progress bar of :func:`leptonlab.train.fit`: steps done, then each epoch's metrics."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar over ``total`` optimizer steps, or nothing at all when ``enabled`` is False.

    The first compiled call takes seconds to a minute with nothing to count: until it
    returns the bar says "compiling the training step".
    """

    def __init__(self, total: int, enabled: bool = True):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                unit="step",
                leave=False,
                dynamic_ncols=True,
                mininterval=0.5,
                desc="compiling the training step",
            )

    def steps_done(self, k: int) -> None:
        """Count ``k`` more steps (the first call also says that compilation is over)."""
        if self._bar is None:
            return
        if self._bar.desc.startswith("compiling"):
            self._bar.set_description("training", refresh=False)
        self._bar.update(k)

    def show(self, row: Mapping[str, float]) -> None:
        """Show an epoch's losses and accuracies beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix(
                {k: f"{v:.4g}" for k, v in row.items() if k.endswith(("loss", "accuracy"))}
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
