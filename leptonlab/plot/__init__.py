"""Figures for the course. The only module of leptonlab that imports matplotlib.

Every function returns a :class:`matplotlib.figure.Figure` (closed in pyplot, so
a notebook shows it once, as the cell's value).
"""

from leptonlab.plot._style import new_figure as new_figure
from leptonlab.plot._descent import descent_paths as descent_paths
from leptonlab.plot._descent import gradient_agreement as gradient_agreement
from leptonlab.plot._descent import loss_curves as loss_curves
from leptonlab.plot._descent import step_size_errors as step_size_errors
from leptonlab.plot._diagnostics import layer_stats as layer_stats
from leptonlab.plot._diagnostics import lr_range_test as lr_range_test
from leptonlab.plot._training import image_grid as image_grid
from leptonlab.plot._training import regression_fit as regression_fit
from leptonlab.plot._training import training_curves as training_curves
from leptonlab.plot._functions import activation_functions as activation_functions
from leptonlab.plot._functions import function_curves as function_curves
from leptonlab.plot._functions import loss_surfaces as loss_surfaces
from leptonlab.plot._functions import timing_bars as timing_bars
from leptonlab.plot._evaluation import compare_runs as compare_runs
from leptonlab.plot._evaluation import confusion_matrix as confusion_matrix
from leptonlab.plot._evaluation import learning_rate_schedules as learning_rate_schedules
from leptonlab.plot._evaluation import worst_mistakes as worst_mistakes
from leptonlab.plot._images import augmentation_preview as augmentation_preview
from leptonlab.plot._images import class_balance as class_balance
from leptonlab.plot._images import feature_maps as feature_maps
from leptonlab.plot._images import filter_grid as filter_grid
from leptonlab.plot._images import pixel_histogram as pixel_histogram
from leptonlab.plot._images import receptive_field_maps as receptive_field_maps
from leptonlab.plot._cifar import channel_means as channel_means
from leptonlab.plot._cifar import time_to_accuracy as time_to_accuracy
from leptonlab.plot._deploy import drift_map as drift_map
from leptonlab.plot._deploy import drift_scores as drift_scores
from leptonlab.plot._deploy import model_sizes as model_sizes
from leptonlab.plot._deploy import pruning_curve as pruning_curve
from leptonlab.plot._sequences import attention_maps as attention_maps
from leptonlab.plot._sequences import gate_activations as gate_activations
from leptonlab.plot._sequences import gradient_vs_distance as gradient_vs_distance
from leptonlab.plot._sequences import length_histogram as length_histogram
from leptonlab.plot._sequences import token_distributions as token_distributions
from leptonlab.plot._sequences import word_scores as word_scores
from leptonlab.plot._explain import accuracy_vs_epsilon as accuracy_vs_epsilon
from leptonlab.plot._explain import adversarial_examples as adversarial_examples
from leptonlab.plot._explain import embedding_projection as embedding_projection
from leptonlab.plot._explain import precision_recall as precision_recall
from leptonlab.plot._explain import reliability_diagram as reliability_diagram
from leptonlab.plot._explain import roc_curves as roc_curves
from leptonlab.plot._explain import saliency_overlays as saliency_overlays
from leptonlab.plot._explain import verification_scores as verification_scores
from leptonlab.plot._scale import cost_curve as cost_curve
from leptonlab.plot._scale import halving_rounds as halving_rounds
from leptonlab.plot._scale import lr_sensitivity as lr_sensitivity
from leptonlab.plot._scale import scaling_curve as scaling_curve
from leptonlab.plot._scale import sharding_map as sharding_map
from leptonlab.plot._recsys import hit_rate_curves as hit_rate_curves
from leptonlab.plot._recsys import latent_factors as latent_factors
from leptonlab.plot._recsys import model_comparison as model_comparison
from leptonlab.plot._recsys import rating_overview as rating_overview
from leptonlab.plot._recsys import regularisation_sweep as regularisation_sweep

__all__ = [
    "new_figure",
    "descent_paths",
    "gradient_agreement",
    "loss_curves",
    "step_size_errors",
    "layer_stats",
    "lr_range_test",
    "image_grid",
    "regression_fit",
    "training_curves",
    "activation_functions",
    "function_curves",
    "loss_surfaces",
    "timing_bars",
    "compare_runs",
    "confusion_matrix",
    "learning_rate_schedules",
    "worst_mistakes",
    "augmentation_preview",
    "class_balance",
    "feature_maps",
    "filter_grid",
    "pixel_histogram",
    "receptive_field_maps",
    "channel_means",
    "time_to_accuracy",
    "drift_map",
    "drift_scores",
    "model_sizes",
    "pruning_curve",
    "attention_maps",
    "gate_activations",
    "gradient_vs_distance",
    "length_histogram",
    "token_distributions",
    "word_scores",
    "accuracy_vs_epsilon",
    "adversarial_examples",
    "embedding_projection",
    "precision_recall",
    "reliability_diagram",
    "roc_curves",
    "saliency_overlays",
    "verification_scores",
    "cost_curve",
    "halving_rounds",
    "lr_sensitivity",
    "scaling_curve",
    "sharding_map",
    "hit_rate_curves",
    "latent_factors",
    "model_comparison",
    "rating_overview",
    "regularisation_sweep",
]
