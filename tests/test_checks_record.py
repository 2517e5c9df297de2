"""Records of checks and their replay (leptonlab.checks._record): plain data in, the grader's verdict out."""

import base64
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import checks
from leptonlab import losses as L
from leptonlab.checks import _core, _record


def _record_of(check, fn):
    """The record ``check(fn)`` shows in a grading kernel."""
    shown = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(_record.RECORD_ENV, "1")
        mp.setattr(_core, "_show_record", shown.append)
        check(fn)
    (record,) = shown
    return json.loads(json.dumps(record))  # as it travels: JSON text in the notebook


def test_encode_decode_round_trip_keeps_types_dtypes_and_nan():
    value = {
        "a": (1, 2.5, float("nan"), None, True, "s"),
        "b": [np.int8(3), jnp.arange(4, dtype=jnp.bfloat16)],
        "c": np.array([[np.inf, -0.0]], np.float32),
        7: jax.random.key(3),
    }
    back = _record.decode(json.loads(json.dumps(_record.encode(value))))
    assert (
        list(back) == ["a", "b", "c", 7]
        and isinstance(back["a"], tuple)
        and isinstance(back["b"], list)
    )
    assert (
        back["a"][:2] == (1, 2.5) and np.isnan(back["a"][2]) and back["a"][3:] == (None, True, "s")
    )
    assert back["b"][0].dtype == np.int8 and back["b"][1].dtype.name == "bfloat16"
    np.testing.assert_array_equal(back["c"], value["c"])
    assert np.array_equal(jax.random.key_data(back[7]), jax.random.key_data(value[7]))


def test_what_is_not_plain_data_becomes_its_type_name():
    back = _record.normalise((lambda x: x, object()))
    assert back == (_record.Opaque("function"), _record.Opaque("object"))
    assert _record.type_name(back[0]) == "function"


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"pickle": "gASV"}, "unknown tag"),
        ({"array": {"dtype": "object", "shape": [1], "data": ""}}, "not allowed"),
        (
            {
                "array": {
                    "dtype": "float32",
                    "shape": [2],
                    "data": base64.b64encode(b"1234").decode(),
                }
            },
            "need 8",
        ),
        (
            {"array": {"dtype": "float32", "shape": [10**9, 10**9], "data": ""}},
            "larger than a record allows",
        ),
        ({"array": {"dtype": "uint8", "shape": [3], "data": "!!not base64!!"}}, "base64"),
        ({"dict": [["k"]]}, "[key, value] pair"),
        ([1, 2], "unexpected list"),
        ({"tuple": [{"list": [{"tuple": []}]}], "x": 1}, "unexpected dict"),
    ],
)
def test_the_decoder_refuses_anything_else(bad, words):
    with pytest.raises(_record.RecordError, match=words.replace("[", r"\[").replace("]", r"\]")):
        _record.decode(bad)


def test_the_decoder_refuses_deep_nesting():
    deep = 1
    for _ in range(100):
        deep = {"list": [deep]}
    with pytest.raises(_record.RecordError, match="nested too deeply"):
        _record.decode(deep)


def test_a_right_answer_replays_as_a_pass():
    record = _record_of(checks.mse, L.mse)
    assert record["check"] == "mse" and len(record["exchanges"]) == 3
    assert _core.replay(record) is None


def test_a_wrong_value_in_a_record_fails_on_replay_with_the_checks_message():
    record = _record_of(checks.mse, L.mse)
    record["exchanges"][1]["value"] = _record.encode(np.float32(0.055))  # half the MSE
    assert "0.5 * MSE" in _core.replay(record)


def test_a_record_that_does_not_fit_its_check_fails():
    record = _record_of(checks.mse, L.mse)
    assert "holds only 2" in _core.replay({**record, "exchanges": record["exchanges"][:2]})
    assert "the check made 3" in _core.replay(
        {**record, "exchanges": record["exchanges"] + record["exchanges"][:1]}
    )
    other_inputs = json.loads(json.dumps(record))
    other_inputs["exchanges"][0]["args"] = _record.encode(((np.ones(1), np.ones(1)), {}))
    assert "other inputs" in _core.replay(other_inputs)
    assert "names no check" in _core.replay({**record, "check": "__import__"})
    assert "missing or malformed" in _core.replay({"check": "mse"})
    bad_array = json.loads(json.dumps(record))
    bad_array["exchanges"][1]["value"] = {"array": {"dtype": "float32", "shape": [2], "data": ""}}
    assert "need 8" in _core.replay(bad_array)


def test_a_recorded_exception_replays_as_the_same_failure():
    def raises(p, t):
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed) as live:
        checks.mse(raises)
    record = _record_of(checks.mse, L.mse)
    record["exchanges"][0] = {
        "via": "call",
        "args": record["exchanges"][0]["args"],
        "raised": {"type": "NotImplementedError", "bases": ["NotImplementedError"], "message": ""},
    }
    assert _core.replay(record) == " ".join(str(live.value).split())


def test_a_probe_is_replayed_without_running_anything():
    record = _record_of(checks.sigmoid, jax.nn.sigmoid)
    assert any(e["via"].startswith("probe ") for e in record["exchanges"])
    assert _core.replay(record) is None


def test_checks_see_the_same_plain_values_with_and_without_a_record():
    seen = []

    def spy(p, t):
        seen.append(type(p))
        return L.mse(p, t)

    checks.mse(spy)
    assert _core.call("x", lambda: jnp.ones(2)).__class__ is np.ndarray, (
        "results are normalised to NumPy"
    )
    assert seen and all(t is not np.ndarray for t in seen), (
        "the learner's function gets the check's own inputs"
    )


def test_every_public_check_can_be_replayed():
    for name in checks.__all__:
        if name != "CheckFailed":
            assert callable(getattr(getattr(checks, name), "replay", None)), (
                f"checks.{name} lacks @exercise"
            )


def test_the_hidden_sigmoid_cases_pass_the_reference_and_catch_a_shape_bug():
    import leptonlab.activations as A

    checks.sigmoid_more_cases(A.sigmoid)
    with pytest.raises(checks.CheckFailed, match="scalar in gives a scalar out"):
        checks.sigmoid_more_cases(lambda x: A.sigmoid(jnp.atleast_1d(x)))
