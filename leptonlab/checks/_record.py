"""What a check saw of the learner's code, as plain data the grader can replay.

A check touches the learner's function only through :func:`leptonlab.checks._core.call`
(or ``attempt``). Each such call is one *exchange*: the arguments the check passed and the
outcome (the value returned, or the exception raised), both encoded here as plain JSON
data. Every check returns what this encoding gives back, in the notebook and in the
grader alike, so a check reads the same values in both places.

When the grader runs a notebook it asks the kernel (``LEPTONLAB_CHECK_RECORD=1``) to
show each finished check's exchanges as one output of the mimetype :data:`MIMETYPE`.
The grader then runs the same check again in its own process, where the student's code
never ran, feeding it the recorded outcomes instead of calling anything
(:func:`replay`): the expected values, the comparisons and the verdict are all the
grader's. Whatever a student's notebook did to ``leptonlab.checks``, ``jax.numpy`` or
the builtins changes nothing there. The recorded outcomes are the student's claim of
what their function returned; a notebook that forges them can claim no more than a
function that returns those values would have earned.

The decoder is deliberately small (:func:`decode`): JSON with tagged tuples, lists,
dicts, floats and NumPy arrays of numeric dtypes (raw bytes, no pickle), with limits on
size and depth. Nothing in a record can name code to run.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

MIMETYPE = "application/vnd.leptonlab.check-record+json"
RECORD_ENV = (
    "LEPTONLAB_CHECK_RECORD"  # "1" in a kernel the grader runs: finished checks show their record
)
FORMAT = 1

MAX_ARRAY_BYTES = 64 * 2**20  # one array in a record
MAX_RECORD_BYTES = 256 * 2**20  # all arrays of one record, decoded
MAX_DEPTH = 32

_DTYPES = {
    name: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
}
try:  # JAX's bfloat16 lives in ml_dtypes, which JAX depends on
    import ml_dtypes

    _DTYPES["bfloat16"] = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - JAX always brings ml_dtypes
    pass


class RecordError(ValueError):
    """A record is not one this decoder accepts (wrong shape, too large, unknown tag)."""


@dataclasses.dataclass(frozen=True)
class Opaque:
    """Something the learner returned that is not plain data (a function, a model, a generator ...).

    Kept as its type's name, so a check can say what it got instead of numbers.
    """

    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


@dataclasses.dataclass(frozen=True)
class Raised:
    """An exception the learner's code raised, as plain data: its type, the names of its bases, its message."""

    type_name: str
    bases: tuple[str, ...]  # the class names of its method resolution order, itself first
    message: str

    def isa(self, name: str) -> bool:
        """Whether the exception was a ``name`` (by class name, e.g. ``"ValueError"``)."""
        return name in self.bases

    @classmethod
    def of(cls, err: BaseException) -> Raised:
        return cls(
            type(err).__name__, tuple(k.__name__ for k in type(err).__mro__), str(err)[:2000]
        )


def type_name(value: Any) -> str:
    """The type name a message should show for ``value`` (an :class:`Opaque` shows the original's)."""
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


# ----------------------------------------------------------------------------------- encoding


def _array(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array if it is an array (NumPy, JAX, or a NumPy scalar), else None."""
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    module = type(value).__module__ or ""
    if module.startswith(("jax", "jaxlib")) and hasattr(value, "shape") and hasattr(value, "dtype"):
        try:
            import jax

            if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
                return None
            return np.asarray(value)
        except Exception:  # a tracer or a deleted buffer: not plain data
            return None
    return None


def _prng_key(value: Any) -> dict | None:
    module = type(value).__module__ or ""
    if not module.startswith(("jax", "jaxlib")) or not hasattr(value, "dtype"):
        return None
    try:
        import jax

        if not jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            return None
        return {
            "key": {
                "impl": str(jax.random.key_impl(value)),
                "data": encode(np.asarray(jax.random.key_data(value))),
            }
        }
    except Exception:
        return None


def encode(value: Any, _depth: int = 0) -> Any:
    """``value`` as plain JSON data; anything that is not plain data becomes an opaque type name."""
    if _depth > MAX_DEPTH:
        return {"opaque": "too deeply nested"}
    if value is None or isinstance(value, (bool, int, str)) and type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"float": repr(value)}
    if isinstance(value, tuple):
        return {"tuple": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, list):
        return {"list": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, Mapping) and all(isinstance(k, (str, int)) for k in value):
        return {"dict": [[k, encode(v, _depth + 1)] for k, v in value.items()]}
    key = _prng_key(value)
    if key is not None:
        return key
    arr = _array(value)
    if arr is not None and arr.dtype.name in _DTYPES:
        if arr.nbytes > MAX_ARRAY_BYTES:
            return {"opaque": f"array of shape {arr.shape} (too large to record)"}
        data = base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")
        return {"array": {"dtype": arr.dtype.name, "shape": list(arr.shape), "data": data}}
    if isinstance(value, Opaque):
        return {"opaque": value.type_name}
    return {"opaque": type(value).__name__}


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_RECORD_BYTES

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise RecordError(
                f"the record holds more than {MAX_RECORD_BYTES // 2**20} MiB of arrays"
            )


def decode(data: Any, _depth: int = 0, _budget: _Budget | None = None) -> Any:
    """The value :func:`encode` made ``data`` from; :class:`RecordError` for anything else."""
    budget = _budget or _Budget()
    if _depth > MAX_DEPTH + 1:
        raise RecordError("the record is nested too deeply")
    if data is None or type(data) in (bool, int, str):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise RecordError(f"unexpected {type(data).__name__} in a record")
    ((tag, body),) = data.items()
    if tag == "float" and isinstance(body, str):
        try:
            return float(body)
        except ValueError:
            raise RecordError(f"not a float: {body[:40]!r}") from None
    if tag in ("tuple", "list") and isinstance(body, list):
        items = [decode(v, _depth + 1, budget) for v in body]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict" and isinstance(body, list):
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in (str, int)):
                raise RecordError("a dict entry in a record is not a [key, value] pair")
            out[pair[0]] = decode(pair[1], _depth + 1, budget)
        return out
    if tag == "array" and isinstance(body, dict):
        return _decode_array(body, budget)
    if tag == "key" and isinstance(body, dict):
        import jax

        impl, key_data = body.get("impl"), decode(body.get("data"), _depth + 1, budget)
        if not isinstance(impl, str) or not isinstance(key_data, np.ndarray):
            raise RecordError("a PRNG key in a record lacks its implementation or data")
        try:
            return jax.random.wrap_key_data(key_data, impl=impl)
        except Exception as err:
            raise RecordError(f"not a PRNG key: {err}") from None
    if tag == "opaque" and isinstance(body, str):
        return Opaque(body[:200])
    raise RecordError(f"unknown tag {tag!r} in a record")


def _decode_array(body: dict, budget: _Budget) -> np.ndarray:
    dtype, shape, data = body.get("dtype"), body.get("shape"), body.get("data")
    if dtype not in _DTYPES:
        raise RecordError(f"dtype {dtype!r} is not allowed in a record")
    if not (
        isinstance(shape, list)
        and all(type(n) is int and n >= 0 for n in shape)
        and len(shape) <= 16
    ):
        raise RecordError(f"bad array shape {shape!r} in a record")
    if not isinstance(data, str):
        raise RecordError("array data in a record must be base64 text")
    nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise RecordError(f"an array of {nbytes} bytes is larger than a record allows")
    budget.spend(nbytes)
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise RecordError("array data in a record is not valid base64") from None
    if len(raw) != nbytes:
        raise RecordError(
            f"array data holds {len(raw)} bytes; dtype {dtype} and shape {shape} need {nbytes}"
        )
    return np.frombuffer(raw, dtype=_DTYPES[dtype]).reshape(shape).copy()


def normalise(value: Any) -> Any:
    """``decode(encode(value))``: what a check sees of a value, in the notebook and in the grader alike."""
    return decode(encode(value))


# ------------------------------------------------------------------------- exchanges and modes


class ReplayMismatch(Exception):
    """Replaying a check did not meet the exchanges its record holds."""


def _same(a: Any, b: Any) -> bool:
    """Whether two decoded argument values agree (arrays to float32 rounding; opaque values by type)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            return bool(
                np.allclose(
                    a.astype(np.complex128),
                    b.astype(np.complex128),
                    rtol=1e-6,
                    atol=1e-9,
                    equal_nan=True,
                )
            )
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if _is_key(a) or _is_key(b):  # PRNG keys: compare their data
        import jax

        return (
            _is_key(a)
            and _is_key(b)
            and bool(np.array_equal(jax.random.key_data(a), jax.random.key_data(b)))
        )
    return type(a) is type(b) and a == b


def _is_key(value: Any) -> bool:
    return _prng_key(value) is not None


class _Live:
    """Runs the learner's code; keeps each exchange when the check's record is wanted."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.exchanges: list[dict] = []

    def exchange(self, label: str, args: Any, run: Callable[[], Any]) -> Any:
        try:
            outcome: Any = normalise(run())
            encoded = {"value": encode(outcome)}
        except Exception as err:  # the learner's code raised: the check decides what that means
            outcome = Raised.of(err)
            encoded = {
                "raised": {
                    "type": outcome.type_name,
                    "bases": list(outcome.bases),
                    "message": outcome.message,
                }
            }
        if self.keep:
            self.exchanges.append({"via": label, "args": encode(args), **encoded})
        return outcome


class _Replay:
    """Answers each exchange from a record instead of running anything."""

    def __init__(self, exchanges: list) -> None:
        if not isinstance(exchanges, list):
            raise RecordError("a record's exchanges must be a list")
        self.exchanges = exchanges
        self.used = 0

    def exchange(self, label: str, args: Any, run: Callable[[], Any]) -> Any:
        del run  # nothing of the learner's runs here
        if self.used >= len(self.exchanges):
            raise ReplayMismatch(
                f"the check asked for call {self.used + 1} ({label}), but the record holds only "
                f"{len(self.exchanges)}"
            )
        item = self.exchanges[self.used]
        self.used += 1
        if not isinstance(item, dict) or item.get("via") != label:
            raise ReplayMismatch(f"call {self.used} of the record is not {label}")
        if not _same(decode(item.get("args")), normalise(args)):
            raise ReplayMismatch(
                f"call {self.used} of the record ({label}) was made with other inputs than the "
                "check's own"
            )
        if "value" in item:
            return decode(item["value"])
        raised = item.get("raised")
        if not isinstance(raised, dict):
            raise RecordError(
                f"call {self.used} of the record has neither a value nor an exception"
            )
        bases = raised.get("bases")
        if not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
            raise RecordError("a recorded exception's bases must be a list of names")
        return Raised(
            str(raised.get("type", "Exception")), tuple(bases), str(raised.get("message", ""))
        )


_MODE: contextvars.ContextVar[_Live | _Replay | None] = contextvars.ContextVar(
    "leptonlab_check_mode", default=None
)


def exchange(label: str, args: Any, run: Callable[[], Any]) -> Any:
    """One exchange with the learner's code: its normalised value, or a :class:`Raised`.

    ``label`` names how the learner's function was used ("call", or a probe's name), ``args`` are
    the inputs the check chose (recorded, and compared on replay), ``run()`` does the work.
    """
    mode = _MODE.get()
    if mode is None:
        mode = _Live(keep=False)
    return mode.exchange(label, args, run)


def recording_wanted() -> bool:
    return os.environ.get(RECORD_ENV) == "1"


@contextlib.contextmanager
def live(keep: bool) -> Iterator[_Live]:
    mode = _Live(keep)
    token = _MODE.set(mode)
    try:
        yield mode
    finally:
        _MODE.reset(token)


@contextlib.contextmanager
def replaying(exchanges: list) -> Iterator[_Replay]:
    mode = _Replay(exchanges)
    token = _MODE.set(mode)
    try:
        yield mode
    finally:
        _MODE.reset(token)


def make_record(check: str, exchanges: list[dict]) -> dict:
    return {"format": FORMAT, "check": check, "exchanges": exchanges}


class NotTheLearnersFunction:
    """Stands in for the learner's function while the grader replays a check; calling it is a bug."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ReplayMismatch(
            "the check called the learner's function directly instead of through checks._core.call"
        )

    def __repr__(self) -> str:
        return "<the learner's function, replayed>"
