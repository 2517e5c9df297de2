"""Exercise checks: ``checks.sigmoid(my_sigmoid)`` tells a learner whether an answer is right.

Each check calls the learner's function on inputs chosen to catch the usual
mistakes (large |x|, empty batches, wrong axes), prints ``✓ ...`` on success and
returns True, or raises :class:`CheckFailed` with a short message and a hint
(rendered in Jupyter without a traceback). Checks are grouped by notebook.
"""

from leptonlab.checks._core import CheckFailed as CheckFailed
