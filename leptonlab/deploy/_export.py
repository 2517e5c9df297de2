"""Export a trained model so that it predicts without the training code (notebook 21).

``export_model`` writes a folder::

    MODEL_DIR/
      model.jaxexport   the forward pass in eval mode, serialised StableHLO (jax.export),
                        with a symbolic batch size, lowered for CPU and CUDA
      params/           its parameters and batch statistics (an Orbax checkpoint, a flat dict)
      meta.json         input shape, value range, class names, versions
      drift.npz         the input-drift monitor (optional)

Reloading needs only ``jax`` (with ``flatbuffers``) and ``orbax``; no model class, no
``leptonlab``::

    exported = jax.export.deserialize(Path(MODEL_DIR, "model.jaxexport").read_bytes())
    params = orbax.checkpoint.StandardCheckpointer().restore(Path(MODEL_DIR, "params").absolute())
    logits = exported.call(params, x)        # x: [B, 28, 28] float32 in [0, 1]

:func:`load_exported` does that and validates the input (:mod:`._inputs`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from leptonlab.deploy._drift import DriftMonitor
from leptonlab.deploy._inputs import InputError, InputSpec, check_batch, read_image
from leptonlab.deploy._prune import path_name
from leptonlab.train import TrainState

FORMAT = "leptonlab-export/1"
EXPORT_FILE, PARAMS_DIR, META_FILE, DRIFT_FILE = (
    "model.jaxexport",
    "params",
    "meta.json",
    "drift.npz",
)


def _flat_arrays(model: nnx.Module) -> tuple[Any, list[str], dict[str, np.ndarray], Any]:
    """``(graphdef, names, arrays, treedef)``: the model's state as a flat dict ``name -> array``."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    flat, treedef = jax.tree_util.tree_flatten_with_path({"param": params, "state": rest})
    names = [path_name(path) for path, _ in flat]
    if len(set(names)) != len(names):
        raise ValueError("two parameters of the model map to the same name; cannot export it.")
    arrays = {name: np.asarray(leaf) for name, (_, leaf) in zip(names, flat)}
    return graphdef, names, arrays, treedef


def export_model(
    model: nnx.Module | TrainState,
    model_dir: str | Path,
    *,
    input_shape: Sequence[int] = (28, 28),
    value_range: tuple[float, float] = (0.0, 1.0),
    class_names: Sequence[str] | None = None,
    drift: DriftMonitor | None = None,
    platforms: Sequence[str] = ("cpu", "cuda"),
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (eval mode) to ``model_dir`` as serialised StableHLO + an Orbax checkpoint.

    ``input_shape`` is one example's shape (the exported function takes ``[B, *input_shape]``
    float32 for any ``B``); ``value_range`` and ``class_names`` go to ``meta.json`` for the
    prediction command; ``drift`` (optional) is saved beside. Returns the folder.
    Introduced in notebook 21.
    """
    if isinstance(model, TrainState):
        model = model.model()
    if not isinstance(model, nnx.Module):
        raise TypeError(
            f"export_model expects a flax.nnx.Module or a TrainState, got {type(model).__name__}."
        )
    spec = InputSpec(tuple(int(s) for s in input_shape), tuple(float(v) for v in value_range))
    model_dir = Path(model_dir)
    if model_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{model_dir} exists; pass overwrite=True to replace it.")
        if not (model_dir / META_FILE).is_file():
            raise ValueError(
                f"{model_dir} exists and is not an exported model: refusing to overwrite it."
            )
        shutil.rmtree(model_dir)
    graphdef, names, arrays, treedef = _flat_arrays(model)

    def serve(flat: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        tree = jax.tree.unflatten(treedef, [flat[name] for name in names])
        net = nnx.merge(graphdef, tree["param"], tree["state"])
        net.eval()
        return net(x).astype(jnp.float32)  # [B, C] logits

    (batch,) = jax.export.symbolic_shape("B")
    args = (
        {name: jax.ShapeDtypeStruct(a.shape, a.dtype) for name, a in arrays.items()},
        jax.ShapeDtypeStruct((batch, *spec.shape), jnp.float32),
    )
    exported = jax.export.export(jax.jit(serve), platforms=tuple(platforms))(*args)
    num_classes = int(exported.out_avals[0].shape[-1])
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} outputs.")
    model_dir.mkdir(parents=True)
    (model_dir / EXPORT_FILE).write_bytes(exported.serialize())
    import orbax.checkpoint as ocp

    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save((model_dir / PARAMS_DIR).absolute(), arrays)
    meta = {
        "format": FORMAT,
        "input_shape": list(spec.shape),
        "input_dtype": "float32",
        "value_range": list(spec.value_range),
        "pixel_scale": spec.pixel_scale,
        "num_classes": num_classes,
        "class_names": list(class_names)
        if class_names is not None
        else [str(i) for i in range(num_classes)],
        "platforms": list(exported.platforms),
        "jax_version": jax.__version__,
        "parameters": int(sum(a.size for a in arrays.values())),
    }
    (model_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if drift is not None:
        if not isinstance(drift, DriftMonitor):
            raise TypeError(f"drift must be a DriftMonitor, got {type(drift).__name__}.")
        drift.save(model_dir / DRIFT_FILE)
    return model_dir


@dataclasses.dataclass(frozen=True, eq=False)
class ExportedModel:
    """A model loaded from an export folder: ``model.predict(x) -> (labels [B], probs [B, C])``."""

    exported: Any  # jax.export.Exported
    params: dict[str, Any]  # name -> array, the exported function's first argument
    spec: InputSpec
    class_names: tuple[str, ...]
    meta: dict[str, Any]
    drift: DriftMonitor | None

    def logits(self, x) -> np.ndarray:
        """Logits ``[B, C]`` for ``x: [B, *spec.shape]`` (float32 in range, or uint8 pixels), validated."""
        x = check_batch(x, self.spec)
        return np.asarray(self.exported.call(self.params, jnp.asarray(x)))

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """``(labels [B] int, probabilities [B, C])`` for the batch ``x`` (validated as :meth:`logits`)."""
        probs = np.asarray(jax.nn.softmax(self.logits(x), axis=-1))
        return probs.argmax(axis=-1), probs


_META_FIELDS = {
    "input_shape": list,
    "value_range": list,
    "pixel_scale": (int, float),
    "class_names": list,
}


def _read_meta(path: Path) -> dict[str, Any]:
    """``meta.json`` as a dict, checked field by field; :class:`InputError` naming what is wrong."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(
            f"{path}: damaged, not valid JSON ({err}); export the model again."
        ) from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: damaged, expected a JSON object, found {type(meta).__name__}.")
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: export format {meta.get('format')!r}, expected {FORMAT!r}.")
    for field, kind in _META_FIELDS.items():
        if not isinstance(meta.get(field), kind):
            raise InputError(
                f"{path}: damaged, the field {field!r} is missing or not a "
                f"{getattr(kind, '__name__', 'number')}; export the model again."
            )
    try:
        InputSpec(
            tuple(meta["input_shape"]), tuple(meta["value_range"]), float(meta["pixel_scale"])
        )
    except (TypeError, ValueError) as err:
        raise InputError(f"{path}: damaged ({err}); export the model again.") from None
    return meta


def load_exported(model_dir: str | Path) -> ExportedModel:
    """Load what :func:`export_model` wrote; raises :class:`InputError` if ``model_dir`` is not one."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(f"{model_dir}: no such model folder.")
    missing = [
        name for name in (META_FILE, EXPORT_FILE, PARAMS_DIR) if not (model_dir / name).exists()
    ]
    if missing:
        raise InputError(
            f"{model_dir}: not an exported model (missing {', '.join(missing)}); "
            "write one with leptonlab.deploy.export_model."
        )
    meta = _read_meta(model_dir / META_FILE)
    try:
        exported = jax.export.deserialize(bytearray((model_dir / EXPORT_FILE).read_bytes()))
    except Exception as err:  # a truncated or foreign file: struct.error, flatbuffers' errors ...
        raise InputError(
            f"{model_dir / EXPORT_FILE}: damaged or not a jax.export file ({type(err).__name__}); "
            "export the model again with leptonlab.deploy.export_model."
        ) from None
    import orbax.checkpoint as ocp

    try:
        with ocp.StandardCheckpointer() as checkpointer:
            params = checkpointer.restore((model_dir / PARAMS_DIR).absolute())
    except Exception as err:
        raise InputError(
            f"{model_dir / PARAMS_DIR}: the parameters cannot be read ({type(err).__name__}); "
            "export the model again with leptonlab.deploy.export_model."
        ) from None
    spec = InputSpec(
        tuple(meta["input_shape"]), tuple(meta["value_range"]), float(meta["pixel_scale"])
    )
    drift = (
        DriftMonitor.load(model_dir / DRIFT_FILE) if (model_dir / DRIFT_FILE).is_file() else None
    )
    return ExportedModel(exported, dict(params), spec, tuple(meta["class_names"]), meta, drift)


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One file's prediction: the most likely class and the ``top`` classes with probabilities."""

    path: str
    label: int
    class_name: str
    probability: float
    top: tuple[tuple[str, float], ...]

    def __str__(self) -> str:
        others = ", ".join(f"{name} {p:.1%}" for name, p in self.top[1:])
        return f"{self.path}: {self.class_name} ({self.probability:.1%})" + (
            f"; then {others}" if others else ""
        )


def predict_files(
    model_dir: str | Path, paths: Sequence[str | Path], *, top: int = 1
) -> list[Prediction]:
    """Validate every file first (:func:`read_image`), then predict them as one batch.

    Raises :class:`InputError` with one line for the first bad model folder or file.
    Introduced in notebook 21; ``leptonlab predict`` prints these.
    """
    if not paths:
        raise InputError("no images given: pass one or more image files.")
    if not isinstance(top, int) or top < 1:
        raise InputError(f"top must be an int >= 1, got {top!r}.")
    model = load_exported(model_dir)
    x = np.stack([read_image(p, model.spec) for p in paths])  # [B, *shape]
    labels, probs = model.predict(x)
    rows = []
    for path, label, p in zip(paths, labels, probs):
        order = np.argsort(-p)[: min(top, p.size)]
        rows.append(
            Prediction(
                str(path),
                int(label),
                model.class_names[int(label)],
                float(p[label]),
                tuple((model.class_names[int(i)], float(p[i])) for i in order),
            )
        )
    return rows
