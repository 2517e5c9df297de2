"""Compression and deployment (notebook 21): pruning, int8 quantisation, distillation,
export with ``jax.export`` + Orbax, validated prediction, and an input-drift monitor.

``leptonlab predict MODEL_DIR image.png`` runs :func:`predict_files` from the command line.
"""

from leptonlab.deploy._distill import DistillationLoss as DistillationLoss
from leptonlab.deploy._distill import distill as distill
from leptonlab.deploy._distill import distillation_loss as distillation_loss
from leptonlab.deploy._distill import soft_target_loss as soft_target_loss
from leptonlab.deploy._distill import teacher_targets as teacher_targets
from leptonlab.deploy._drift import DriftMonitor as DriftMonitor
from leptonlab.deploy._drift import DriftReport as DriftReport
from leptonlab.deploy._export import ExportedModel as ExportedModel
from leptonlab.deploy._export import Prediction as Prediction
from leptonlab.deploy._export import export_model as export_model
from leptonlab.deploy._export import load_exported as load_exported
from leptonlab.deploy._export import predict_files as predict_files
from leptonlab.deploy._inputs import InputError as InputError
from leptonlab.deploy._inputs import InputSpec as InputSpec
from leptonlab.deploy._inputs import check_batch as check_batch
from leptonlab.deploy._inputs import read_image as read_image
from leptonlab.deploy._prune import apply_masks as apply_masks
from leptonlab.deploy._prune import fit_pruned as fit_pruned
from leptonlab.deploy._prune import keep_pruned as keep_pruned
from leptonlab.deploy._prune import layer_sparsity as layer_sparsity
from leptonlab.deploy._prune import magnitude_masks as magnitude_masks
from leptonlab.deploy._prune import prune as prune
from leptonlab.deploy._prune import sparsity as sparsity
from leptonlab.deploy._quantize import QuantizedArray as QuantizedArray
from leptonlab.deploy._quantize import dequantize as dequantize
from leptonlab.deploy._quantize import dequantize_params as dequantize_params
from leptonlab.deploy._quantize import nbytes as nbytes
from leptonlab.deploy._quantize import quantize_int8 as quantize_int8
from leptonlab.deploy._quantize import quantize_model as quantize_model
from leptonlab.deploy._quantize import quantize_params as quantize_params


__all__ = [  # the public names (explicit re-exports and definitions)
    "apply_masks",
    "check_batch",
    "dequantize",
    "dequantize_params",
    "distill",
    "distillation_loss",
    "DistillationLoss",
    "DriftMonitor",
    "DriftReport",
    "export_model",
    "ExportedModel",
    "fit_pruned",
    "InputError",
    "InputSpec",
    "keep_pruned",
    "layer_sparsity",
    "load_exported",
    "magnitude_masks",
    "nbytes",
    "predict_files",
    "Prediction",
    "prune",
    "quantize_int8",
    "quantize_model",
    "quantize_params",
    "QuantizedArray",
    "read_image",
    "soft_target_loss",
    "sparsity",
    "teacher_targets",
]
