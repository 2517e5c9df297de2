"""Course tooling: recording notebook metrics, running the course in batch, reports."""

from leptonlab.course._record import METRICS_MIME as METRICS_MIME
from leptonlab.course._record import record as record
