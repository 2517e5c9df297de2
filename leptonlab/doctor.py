"""What the course runs on: versions, devices, memory settings, quick mode and the datasets.

``doctor()`` returns the facts as a dict; ``print_doctor()`` prints them as a
small aligned table (notebook 00 calls it, and so does ``leptonlab doctor``).
JAX is imported when ``doctor()`` is called, never at import of this module.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from leptonlab._env import QUICK_ENV, cache_dir, data_dir, quick_mode

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint")
MEMORY_ENV = (
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_PYTHON_CLIENT_ALLOCATOR",
    "XLA_FLAGS",
    "JAX_PLATFORMS",
    "GLIBC_TUNABLES",
)
DATA_UNAVAILABLE = "data layer unavailable"
DATASET_COLUMNS = ("dataset", "file", "state", "path")
KEYS = (
    "python",
    "platform",
    "packages",
    "backend",
    "devices",
    "xla_options",
    "convolutions",
    "memory_env",
    "quick",
    "data_dir",
    "cache_dir",
    "datasets",
)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _jax_facts() -> dict[str, Any]:
    """Default backend and devices grouped by kind; the error text if JAX cannot start."""
    try:
        import jax

        devices = jax.devices()
        backend = jax.default_backend()
    except Exception as err:  # a broken CUDA install must not hide the rest of the report
        return {"backend": f"error: {type(err).__name__}: {err}", "devices": []}
    kinds: dict[tuple[str, str], int] = {}
    for device in devices:
        kind = (device.platform, device.device_kind)
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "backend": backend,
        "devices": [{"platform": p, "kind": k, "count": n} for (p, k), n in kinds.items()],
    }


def _xla_options() -> dict[str, str] | str:
    """``leptonlab.speedups.probe_options()``'s options, or a line saying why there are none."""
    try:
        from leptonlab.speedups import probe_options

        options, why = probe_options()
        return options if options or not why else f"XLA's defaults: {why}"
    except Exception as err:  # reported, not raised
        return f"invalid: {err}"


def _convolutions(backend: str) -> str:
    """Which kernels the CPU training step's float32 convolutions run on (:mod:`leptonlab.onednn`)."""
    if backend.startswith("error"):
        return "unknown: JAX did not start (see backend)"
    if backend != "cpu":
        return f"XLA's own, on the {backend}"
    try:
        from leptonlab import onednn

        if onednn.available():
            return "oneDNN's (leptonlab.onednn)"
        return f"written in JAX (leptonlab.kernels): oneDNN's are not used: {onednn.unavailable_reason()}"
    except Exception as err:  # reported, not raised
        return f"written in JAX (leptonlab.kernels): oneDNN's failed: {type(err).__name__}: {err}"


def _quick() -> bool | str:
    try:
        return quick_mode()
    except ValueError as err:
        return f"invalid: {err}"


def _datasets() -> list[dict[str, Any]] | str:
    """``leptonlab.data.status()``, or a line saying why it could not be read."""
    try:
        from leptonlab import data

        status = data.status
    except (ImportError, AttributeError):
        return DATA_UNAVAILABLE
    try:
        return [dict(entry) for entry in status()]
    except Exception as err:  # the doctor reports problems, it does not crash on them
        return f"{DATA_UNAVAILABLE}: {type(err).__name__}: {err}"


def doctor() -> dict[str, Any]:
    """Facts about this environment, as a dict with the keys in ``KEYS``.

    ``packages`` maps jax/jaxlib/flax/optax/orbax-checkpoint to their versions (None if
    missing); ``devices`` lists ``{"platform", "kind", "count"}``; ``xla_options`` the options
    the training steps compile with (:mod:`leptonlab.speedups`); ``memory_env`` holds the
    JAX/XLA memory variables (None if unset); ``datasets`` is the list of
    ``leptonlab.data.status()`` or a string saying why there is none. Introduced in notebook 00.
    """
    data = data_dir()
    jax_facts = _jax_facts()
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": {name: _version(name) for name in PACKAGES},
        **jax_facts,
        "xla_options": _xla_options(),
        "convolutions": _convolutions(jax_facts["backend"]),
        "memory_env": {name: os.environ.get(name) for name in MEMORY_ENV},
        "quick": _quick(),
        "data_dir": None if data is None else str(data),
        "cache_dir": str(cache_dir()),
        "datasets": _datasets(),
    }


def _devices_text(devices: Sequence[Mapping[str, Any]]) -> str:
    if not devices:
        return "none found"
    return ", ".join(_device_text(d) for d in devices)


def _device_text(device: Mapping[str, Any]) -> str:
    platform_name = "" if device["kind"] == device["platform"] else f" ({device['platform']})"
    return f"{device['count']} × {device['kind']}{platform_name}"


def _aligned(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(name) for name, _ in pairs)
    return [f"  {name:<{width}}  {value}" for name, value in pairs]


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return ("  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_datasets(datasets: Sequence[Mapping[str, Any]] | str) -> list[str]:
    """The dataset status as table lines, or the line saying why there is none."""
    if isinstance(datasets, str):
        return [f"  {datasets}"]
    if not datasets:
        return ["  no datasets registered"]
    rows = [[str(entry.get(col, "")) for col in DATASET_COLUMNS] for entry in datasets]
    return _table(rows, DATASET_COLUMNS)


def format_doctor(facts: Mapping[str, Any]) -> str:
    """The output of :func:`doctor` as aligned text: environment, memory settings, datasets."""
    quick = facts["quick"]
    quick_text = quick if isinstance(quick, str) else ("on" if quick else "off") + f" ({QUICK_ENV})"
    pairs = [("python", f"{facts['python']} ({facts['platform']})")]
    pairs += [(name, version or "not installed") for name, version in facts["packages"].items()]
    pairs += [("backend", facts["backend"]), ("devices", _devices_text(facts["devices"]))]
    options = facts["xla_options"]
    pairs += [
        (
            "XLA options",
            options
            if isinstance(options, str)
            else " ".join(f"{k}={v}" for k, v in options.items()) or "XLA's defaults",
        )
    ]
    pairs += [("convolutions", facts["convolutions"])]
    pairs += [
        (name, "(unset)" if value is None else value) for name, value in facts["memory_env"].items()
    ]
    pairs += [
        ("quick mode", quick_text),
        ("data dir", facts["data_dir"] or "(unset: download and cache)"),
        ("cache dir", facts["cache_dir"]),
    ]
    lines = [
        "leptonlab doctor",
        *_aligned(pairs),
        "",
        "datasets",
        *format_datasets(facts["datasets"]),
    ]
    notes = _notes(facts)
    if notes:
        lines += ["", "in plain words", *(f"  - {note}" for note in notes)]
    return "\n".join(lines)


def _cifar_note(facts: Mapping[str, Any]) -> str | None:
    """What notebooks 16-18 will read when the official CIFAR-10 archive is not there."""
    datasets = facts["datasets"]
    if isinstance(datasets, str):
        return None
    archive = [d for d in datasets if d.get("dataset") == "cifar-10"]
    if not archive or all(d.get("state") == "ok" for d in archive):
        return None
    png = Path(facts["data_dir"]) / "cifar-10-png" if facts.get("data_dir") else None
    if png is not None and png.is_dir():
        return (
            f"CIFAR-10: the official archive is {archive[0]['state']}, so notebooks 16-18 will read the "
            f"offline PNG subset in {png} (the full test split, 2,000 training images per class); "
            "figures on it are not comparable with published CIFAR-10 results."
        )
    return (
        f"CIFAR-10: the official archive is {archive[0]['state']}; notebooks 16-18 download it on first "
        "use (163 MB), or read an offline copy from LEPTONLAB_DATA_DIR."
    )


def _xla_note(facts: Mapping[str, Any]) -> str:
    options = facts["xla_options"]
    if isinstance(options, str):
        return f"XLA options: {options}"
    if not options:
        return "XLA: the training steps compile with XLA's default settings."
    return (
        "XLA: on this CPU the training steps compile with an option that runs convolutions in Eigen's "
        "kernels rather than YNNPACK's (faster for the course's small layers, PERFORMANCE.md); "
        "fit(..., cpu_speedups=False) turns it off."
    )


def _notes(facts: Mapping[str, Any]) -> list[str]:
    """One-line explanations of the report's technical lines, for a newcomer."""
    return [note for note in (_xla_note(facts), _cifar_note(facts)) if note]


def print_doctor() -> None:
    """Print the :func:`doctor` report as an aligned table (notebook 00's first cell)."""
    print(format_doctor(doctor()))


__all__ = [  # the public names (explicit re-exports and definitions)
    "DATA_UNAVAILABLE",
    "DATASET_COLUMNS",
    "doctor",
    "format_datasets",
    "format_doctor",
    "KEYS",
    "MEMORY_ENV",
    "PACKAGES",
    "print_doctor",
]
