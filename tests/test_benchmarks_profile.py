"""``python -m benchmarks.profile`` reads operation times out of a real trace and prints them with their shapes."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.profile import op_kind, op_times, output_shapes  # noqa: E402

HLO = """HloModule jit_f

ENTRY %main.4 (p: f32[8,4]) -> f32[8,8] {
  %p = f32[8,4]{1,0} parameter(0)
  %transpose_copy_fusion.12 = f32[4,8]{1,0} fusion(%p), kind=kLoop, calls=%fused
  ROOT %dot.3 = f32[8,8]{1,0} dot(%p, %transpose_copy_fusion.12), lhs_contracting_dims={1}
}
"""


def test_kind_drops_the_number_xla_appends():
    assert op_kind("ynn_fusion.96") == "ynn_fusion"
    assert op_kind("transpose_copy_fusion") == "transpose_copy_fusion"
    assert op_kind("conv_general_dilated_3") == "conv_general_dilated"


def test_output_shapes_are_read_from_hlo_text():
    assert output_shapes(HLO) == {
        "p": "f32[8,4]{1,0}",
        "transpose_copy_fusion.12": "f32[4,8]{1,0}",
        "dot.3": "f32[8,8]{1,0}",
    }


def test_op_times_come_from_a_real_trace_of_a_jitted_function(tmp_path):
    f = jax.jit(lambda x: jnp.tanh(x @ x.T) * 2.0)
    x = jnp.ones((256, 256))
    jax.block_until_ready(f(x))
    with jax.profiler.trace(str(tmp_path)):
        for _ in range(3):
            out = f(x)
        jax.block_until_ready(out)
    (xspace,) = tmp_path.rglob("*.xplane.pb")
    times = op_times(xspace)
    assert times, "no XLA operation found in the trace"
    assert max(times.values()) > 0 and min(times.values()) >= 0
    assert not any("::" in name or name.startswith("end: ") for name in times)
    shapes = output_shapes(f.lower(x).compile().as_text())
    named = [name for name in times if name in shapes]
    assert named, f"no traced operation {sorted(times)} is an instruction of the compiled HLO"


def _profile_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m benchmarks.profile ARGS`` in a clean environment (no allocator or XLA flags)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "XLA_FLAGS")}
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.profile", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_prints_operations_with_shapes_and_kinds():
    done = _profile_cli("--case", "mlp", "--quick", "--top", "5")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| ms/step | operation | output shape |" in done.stdout
    assert "| ms/step | kind | share |" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "f32[" in line]
    assert rows, done.stdout


def test_cli_names_the_cases_when_one_is_unknown():
    done = _profile_cli("--case", "nope")
    assert done.returncode == 2  # a usage error, as in python -m benchmarks
    assert "unknown case 'nope'" in done.stderr and "resnet" in done.stderr
