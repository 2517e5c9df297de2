"""Course tooling: recording notebook metrics, running the course in batch, reports."""

from leptonlab.course._record import METRICS_MIME as METRICS_MIME
from leptonlab.course._record import record as record
from leptonlab.course._notebook_files import check_notebook as check_notebook
from leptonlab.course._notebook_files import course_notebooks as course_notebooks
from leptonlab.course._notebook_files import find_notebooks_dir as find_notebooks_dir
from leptonlab.course._notebook_files import recorded_metrics as recorded_metrics
from leptonlab.course._notebook_files import strip_outputs as strip_outputs
from leptonlab.course._report import NotebookRow as NotebookRow
from leptonlab.course._report import Report as Report
from leptonlab.course._report import RunInfo as RunInfo
from leptonlab.course._report import report_csv as report_csv
from leptonlab.course._report import report_markdown as report_markdown
from leptonlab.course._report import write_report as write_report
from leptonlab.course._runner import run_course as run_course
from leptonlab.course._runner import run_info as run_info
from leptonlab.course._grading import GradeRow as GradeRow
from leptonlab.course._grading import grade as grade
from leptonlab.course._grading import grades_csv as grades_csv
from leptonlab.course._release import MarkerError as MarkerError
from leptonlab.course._release import Released as Released
from leptonlab.course._release import release as release
from leptonlab.course._release import release_notebook as release_notebook
