"""Tests for leptonlab.timing: a smoke test, what it measures, and bad input."""

import dataclasses
import time

import jax
import jax.numpy as jnp
import pytest

from leptonlab import timing


def test_time_fn_smoke_and_fields():
    f = jax.jit(lambda x: x @ x)
    t = timing.time_fn(f, jnp.ones((64, 64)), repeats=5)
    assert isinstance(t, timing.Timing)
    assert t.repeats == 5
    assert 0.0 < t.min_s <= t.median_s
    assert t.first_call_s > 0.0 and t.compile_s >= 0.0
    assert t.device == "cpu:0"
    assert "per call" in str(t) and "compile" in str(t)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.median_s = 1.0


def test_first_call_includes_compilation():
    f = jax.jit(lambda x: jnp.sin(x) * 2.0 + jnp.cos(x) ** 2)  # a fresh function: not compiled yet
    t = timing.time_fn(f, jnp.ones(1000), repeats=5)
    assert t.first_call_s > t.median_s


def test_waits_for_the_result_and_takes_the_median():
    def slow(x):
        time.sleep(0.01)
        return x + 1

    t = timing.time_fn(slow, jnp.ones(3), repeats=3, warmup=0)
    assert 0.009 < t.median_s < 0.5


def test_kwargs_and_pytree_outputs():
    t = timing.time_fn(
        lambda x, *, scale: {"a": x * scale, "b": (x,)}, jnp.ones(3), scale=2.0, repeats=2
    )
    assert t.device == "cpu:0"


def test_compare_devices_on_cpu():
    res = timing.compare_devices(jax.jit(lambda x: x * 2), jnp.ones(8), repeats=2)
    assert "cpu:0" in res and all(isinstance(v, timing.Timing) for v in res.values())
    res = timing.compare_devices(
        jax.jit(lambda x: x * 2), jnp.ones(8), devices=jax.devices("cpu"), repeats=2
    )
    assert list(res) == ["cpu:0"]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"repeats": 0}, ValueError, "repeats must be at least 1"),
        ({"repeats": 2.5}, TypeError, "repeats must be an int"),
        ({"warmup": -1}, ValueError, "warmup must be 0 or more"),
    ],
)
def test_time_fn_bad_numbers(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        timing.time_fn(lambda x: x, jnp.ones(1), **kwargs)


def test_bad_function_is_refused():
    with pytest.raises(TypeError, match=r"time_fn\(f, x\), not time_fn\(f\(x\)\)"):
        timing.time_fn(jnp.ones(3))
    with pytest.raises(TypeError, match="compare_devices"):
        timing.compare_devices(3, jnp.ones(1))


def test_compare_devices_bad_devices():
    with pytest.raises(ValueError, match="devices is empty"):
        timing.compare_devices(lambda x: x, jnp.ones(1), devices=[])
    with pytest.raises(TypeError, match="jax.Device"):
        timing.compare_devices(lambda x: x, jnp.ones(1), devices=["gpu"])


# ------------------------------------------------------------------ plot.timing_bars


def test_plot_timing_bars_smoke_and_bad_input():
    from matplotlib.figure import Figure

    from leptonlab import plot

    t = timing.Timing(first_call_s=0.05, median_s=0.001, min_s=0.0009, repeats=3, device="cpu:0")
    assert isinstance(plot.timing_bars({"cpu:0": t, "cpu:0 (no jit)": t}), Figure)
    with pytest.raises(TypeError, match="not a Timing"):
        plot.timing_bars({"cpu": 0.1})
    with pytest.raises(TypeError, match="non-empty dict"):
        plot.timing_bars({})
