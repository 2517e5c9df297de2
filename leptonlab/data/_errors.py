"""The one exception of the data layer."""

from __future__ import annotations


class DataError(RuntimeError):
    """A dataset file is missing, corrupt, unsafe or could not be downloaded.

    ``str(err)`` says which file, what was wrong and what to do about it.
    Introduced in notebook 06.
    """
