"""The environment record and the Markdown table of a benchmark run."""

from __future__ import annotations

import importlib.metadata
import os
import platform


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    """What the figures were measured on (the parent process; JAX is not imported here)."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "flax": _version("flax"),
        "optax": _version("optax"),
        "torch": _version("torch"),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax_platforms": os.environ.get("JAX_PLATFORMS", ""),
    }


def _rate(measure: dict | None) -> str:
    return "-" if measure is None else f"{measure['samples_per_s']:,.0f}"


def _ratio(row: dict, ref: str) -> str:
    value = row.get(f"ratio_vs_{ref}")
    return "-" if value is None else f"{value:.2f}x"


def _allocator_lines(env: dict) -> list[str]:
    """Which glibc malloc settings (GLIBC_TUNABLES) each side ran with."""
    sides = env.get("allocator")
    if not sides:
        return []
    return [
        f"GLIBC_TUNABLES: leptonlab {sides['leptonlab'] or '(default)'} | "
        f"PyTorch {sides['pytorch'] or '(default)'}"
    ]


def _dtype_lines(env: dict) -> list[str]:
    """How the sides computed, when not all in float32 (``--compute-dtype bfloat16``)."""
    if env.get("compute_dtype", "float32") == "float32":
        return []
    return [
        f"compute: leptonlab {env['compute_dtype']} (float32 master weights) | PyTorch "
        f"{env['compute_dtype']} autocast | naive JAX float32 | mf float32 on every side"
    ]


def _pytorch_column(env: dict) -> str:
    return "PyTorch eager" + (
        ", channels-last" if env.get("torch_layout") == "channels-last" else ""
    )


def format_table(result: dict) -> str:
    """A Markdown table: samples/s (median) of leptonlab and the references, ratios, compile time, memory."""
    env = result["environment"]
    lines = [
        f"jax {env['jax']} | torch {env['torch'] or 'not installed'} | {env['cpu_count']} CPUs | "
        f"{'quick' if result['quick'] else 'full'} run, median of {result['repeats']}"
        + (
            f" runs x {result['rounds']} rounds (ratios: median of each round's)"
            if result.get("rounds", 1) > 1
            else ""
        ),
        *_allocator_lines(env),
        *_dtype_lines(env),
        "",
        f"| case | batch | leptonlab samples/s | naive JAX | {_pytorch_column(env)} | vs naive JAX | vs PyTorch "
        "| compile s | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [format_row(row) for row in result["rows"]]
    if not result.get("complete", True):
        lines.append("(incomplete: the run was cut short after these cases)")
    return "\n".join(lines)


def _not_measured(row: dict, columns: int) -> str | None:
    """The row of a case that failed or was not started, or None."""
    for key in ("error", "skipped"):
        if key in row:
            return f"| {row['case']} | {key}: {row[key]} |" + "|" * (columns - 2)
    return None


def format_row(row: dict) -> str:
    """One case's line of :func:`format_table`."""
    missing = _not_measured(row, 9)
    if missing is not None:
        return missing
    ours = row["leptonlab"]
    return (
        f"| {row['case']} | {row['batch_size']} | {_rate(ours)} | {_rate(row['naive_jax'])} | "
        f"{_rate(row['pytorch'])} | {_ratio(row, 'naive_jax')} | {_ratio(row, 'pytorch')} | "
        f"{ours['compile_s']:.1f} | {ours['peak_rss_mib']:.0f} |"
    )


def _metric(value: float, metric: str) -> str:
    return {"rmse": f"RMSE {value:.4f}", "loss": f"{value:.3f} nats"}.get(metric, f"{value:.2%}")


def _seconds(result: dict | None) -> str:
    if result is None:
        return "-"
    if not result["reached"]:
        return f"not reached (best {_metric(result['best'], result['metric'])})"
    steps = "steps" if result["metric"] == "rmse" else "epochs"  # MF: one full-batch step per epoch
    digits = 0 if result["seconds"] >= 10 else 1  # "197 s", "2.2 s"
    return f"{result['seconds']:.{digits}f} s ({result['epochs']} {steps})"


def format_target_table(rows: list[dict], env: dict | None = None) -> str:
    """A Markdown table of time to the target test metric: leptonlab, PyTorch eager, speed-up."""
    return "\n".join(
        [
            f"| case | target | leptonlab | {_pytorch_column(env or {})} | speed-up |",
            "|---|---|---|---|---|",
            *map(format_target_row, rows),
        ]
    )


def format_target_row(row: dict) -> str:
    """One case's line of :func:`format_target_table`."""
    missing = _not_measured(row, 5)
    if missing is not None:
        return missing
    speedup = row.get("speedup_vs_pytorch")
    target = row["jax"]["target"]
    goal = {"rmse": f"RMSE <= {target:.3f}", "loss": f"loss <= {target:.2f} nats"}.get(
        row["jax"]["metric"], f"{target:.1%}"
    )
    return (
        f"| {row['case']} | {goal} | {_seconds(row['jax'])} | "
        f"{_seconds(row['torch'])} | {'-' if speedup is None else f'{speedup:.2f}x'} |"
    )
