"""Exercise checks: ``checks.sigmoid(my_sigmoid)`` tells a learner whether an answer is right.

Each check calls the learner's function on inputs chosen to catch the usual
mistakes (large |x|, empty batches, wrong axes), prints ``✓ ...`` on success,
or raises :class:`CheckFailed` with a short message and a hint
(rendered in Jupyter without a traceback). Checks are grouped by notebook.
"""

from leptonlab.checks._core import CheckFailed as CheckFailed
from leptonlab.checks._descent import gd_step as gd_step
from leptonlab.checks._descent import momentum_step as momentum_step
from leptonlab.checks._gradients import autodiff_sin as autodiff_sin
from leptonlab.checks._gradients import central_difference as central_difference
from leptonlab.checks._gradients import linear_backward as linear_backward
from leptonlab.checks._training import accuracy as accuracy
from leptonlab.checks._training import mse_loss_fn as mse_loss_fn
from leptonlab.checks._training import sgd_update as sgd_update
from leptonlab.checks._train_loop import train_epoch as train_epoch
from leptonlab.checks._train_loop import train_step as train_step
from leptonlab.checks._activations import sigmoid as sigmoid
from leptonlab.checks._activations import sigmoid_derivative as sigmoid_derivative
from leptonlab.checks._activations import sigmoid_more_cases as sigmoid_more_cases
from leptonlab.checks._activations import softmax as softmax
from leptonlab.checks._jax_basics import per_example_grads as per_example_grads
from leptonlab.checks._jax_basics import two_normal_samples as two_normal_samples
from leptonlab.checks._losses import (
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
)
from leptonlab.checks._losses import categorical_cross_entropy as categorical_cross_entropy
from leptonlab.checks._losses import mse as mse
from leptonlab.checks._cnn import confusion_matrix as confusion_matrix
from leptonlab.checks._cnn import flatten_size as flatten_size
from leptonlab.checks._cifar import channel_stats as channel_stats
from leptonlab.checks._cifar import smooth_labels as smooth_labels
from leptonlab.checks._cifar import tta_probs as tta_probs
from leptonlab.checks._regularisation import inverted_dropout as inverted_dropout
from leptonlab.checks._regularisation import l2_penalty as l2_penalty
from leptonlab.checks._regularisation import should_stop as should_stop
from leptonlab.checks._data import min_max_scale as min_max_scale
from leptonlab.checks._data import random_flip as random_flip
from leptonlab.checks._data import standardize as standardize
from leptonlab.checks._conv import conv2d_single_channel as conv2d_single_channel
from leptonlab.checks._conv import max_pool_2x2 as max_pool_2x2
from leptonlab.checks._conv import output_size as output_size
from leptonlab.checks._deploy import quantize_int8 as quantize_int8
from leptonlab.checks._deploy import soft_target_loss as soft_target_loss
from leptonlab.checks._recurrent import rnn_forward as rnn_forward
from leptonlab.checks._recurrent import rnn_step as rnn_step
from leptonlab.checks._text import masked_mean as masked_mean
from leptonlab.checks._text import pad_and_truncate as pad_and_truncate
from leptonlab.checks._text import temperature_softmax as temperature_softmax
from leptonlab.checks._text import top_k_filter as top_k_filter
from leptonlab.checks._attention import attention_weights as attention_weights
from leptonlab.checks._attention import causal_mask as causal_mask
from leptonlab.checks._attention import one_head as one_head
from leptonlab.checks._transfer import cosine_similarity as cosine_similarity
from leptonlab.checks._transfer import threshold_from_roc as threshold_from_roc
from leptonlab.checks._evaluation import expected_calibration_error as expected_calibration_error
from leptonlab.checks._evaluation import fgsm_perturb as fgsm_perturb
from leptonlab.checks._search import halving_survivors as halving_survivors
from leptonlab.checks._search import log_uniform as log_uniform
from leptonlab.checks._scale import data_parallel_grad as data_parallel_grad
from leptonlab.checks._scale import local_batch_rows as local_batch_rows
from leptonlab.checks._recsys import mask_seen as mask_seen
from leptonlab.checks._recsys import ndcg_single as ndcg_single
from leptonlab.checks._recsys import predict_rating as predict_rating
from leptonlab.checks._recsys import rmse as rmse
from leptonlab.checks._backprop import two_layer_backprop as two_layer_backprop
from leptonlab.checks._adam import adam_step as adam_step
from leptonlab.checks._conv_backward import conv_backward as conv_backward
from leptonlab.checks._batchnorm import batchnorm_backward as batchnorm_backward
from leptonlab.checks._batchnorm import batchnorm_forward as batchnorm_forward
from leptonlab.checks._bptt import rnn_bptt as rnn_bptt
from leptonlab.checks._init import dead_fraction as dead_fraction
from leptonlab.checks._init import init_std as init_std
from leptonlab.checks._mf_loop import mf_loss as mf_loss
from leptonlab.checks._mf_loop import mf_training as mf_training

__all__ = [
    "CheckFailed",
    "gd_step",
    "momentum_step",
    "autodiff_sin",
    "central_difference",
    "linear_backward",
    "accuracy",
    "mse_loss_fn",
    "sgd_update",
    "train_step",
    "train_epoch",
    "sigmoid",
    "sigmoid_derivative",
    "sigmoid_more_cases",
    "softmax",
    "per_example_grads",
    "two_normal_samples",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "mse",
    "confusion_matrix",
    "flatten_size",
    "channel_stats",
    "smooth_labels",
    "tta_probs",
    "inverted_dropout",
    "l2_penalty",
    "should_stop",
    "min_max_scale",
    "random_flip",
    "standardize",
    "conv2d_single_channel",
    "max_pool_2x2",
    "output_size",
    "quantize_int8",
    "soft_target_loss",
    "rnn_forward",
    "rnn_step",
    "masked_mean",
    "pad_and_truncate",
    "temperature_softmax",
    "top_k_filter",
    "attention_weights",
    "causal_mask",
    "one_head",
    "cosine_similarity",
    "threshold_from_roc",
    "expected_calibration_error",
    "fgsm_perturb",
    "halving_survivors",
    "log_uniform",
    "data_parallel_grad",
    "local_batch_rows",
    "mask_seen",
    "ndcg_single",
    "predict_rating",
    "rmse",
    "two_layer_backprop",
    "adam_step",
    "conv_backward",
    "batchnorm_backward",
    "batchnorm_forward",
    "rnn_bptt",
    "dead_fraction",
    "init_std",
    "mf_loss",
    "mf_training",
]
