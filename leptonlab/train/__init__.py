"""Training networks: the loop every chapter uses (introduced in notebook 05).

The model is split once into a static ``graphdef`` and array state. One pure
function, ``train_step(state, batch) -> (state, metrics)``, does a whole step
(forward, backward, optimizer update) and is compiled once with ``jax.jit``,
its state donated. The dataset lives on the device; an epoch is a permutation of
indices drawn from an explicit key, and nothing syncs with the host inside an
epoch except the progress bar's step count.

    state, history = fit(model, (x_train, y_train), TrainConfig(epochs=5),
                         loss_fn=classification_loss, val_data=(x_val, y_val))
    model = state.model()

A loss function has the signature ``loss_fn(model, batch, key) -> (loss, metrics)``
where ``batch = (x, y)``, ``loss`` is a scalar to minimise, and ``metrics`` maps
names to per-example values ``[B]`` (so that averages over an epoch are exact).

Modules: :mod:`~leptonlab.train.core` (config, optimizer, state, step, epoch order,
epoch runner), :mod:`~leptonlab.train.fitting`, :mod:`~leptonlab.train.checkpointing`
(resume, early stopping's best state), :mod:`~leptonlab.train.progress`,
:mod:`~leptonlab.train.evaluation`, :mod:`~leptonlab.train.prediction`,
:mod:`~leptonlab.train.history`, :mod:`~leptonlab.train.placement` (device meshes).
The loss functions live in :mod:`leptonlab.losses`, time to accuracy in
:mod:`leptonlab.metrics`; both are re-exported here, where the notebooks import them.
"""

from leptonlab.losses import SmoothedClassificationLoss as SmoothedClassificationLoss
from leptonlab.losses import classification_loss as classification_loss
from leptonlab.losses import regression_loss as regression_loss
from leptonlab.losses import smooth_labels as smooth_labels
from leptonlab.metrics import elapsed_seconds as elapsed_seconds
from leptonlab.metrics import time_to_accuracy as time_to_accuracy
from leptonlab.train.core import COMPUTE_DTYPES as COMPUTE_DTYPES
from leptonlab.train.core import OPTIMIZERS as OPTIMIZERS
from leptonlab.train.core import SCHEDULES as SCHEDULES
from leptonlab.train.core import AugmentFn as AugmentFn
from leptonlab.train.core import Batch as Batch
from leptonlab.train.core import LossFn as LossFn
from leptonlab.train.core import Metrics as Metrics
from leptonlab.train.core import TrainConfig as TrainConfig
from leptonlab.train.core import TrainState as TrainState
from leptonlab.train.core import check_data as check_data
from leptonlab.train.core import epoch_order as epoch_order
from leptonlab.train.core import eval_step as eval_step
from leptonlab.train.core import learning_rate_schedule as learning_rate_schedule
from leptonlab.train.core import make_optimizer as make_optimizer
from leptonlab.train.core import optimizer as optimizer
from leptonlab.train.core import run_epoch as run_epoch
from leptonlab.train.core import seed_keys as seed_keys
from leptonlab.train.core import steps_per_call as steps_per_call
from leptonlab.train.core import take_rows as take_rows
from leptonlab.train.core import train_on_batches as train_on_batches
from leptonlab.train.core import train_step as train_step
from leptonlab.train.evaluation import evaluate as evaluate
from leptonlab.train.fitting import fit as fit
from leptonlab.train.history import History as History
from leptonlab.train.prediction import predict as predict
from leptonlab.train.prediction import predict_tta as predict_tta

__all__ = [
    "COMPUTE_DTYPES",
    "OPTIMIZERS",
    "SCHEDULES",
    "AugmentFn",
    "Batch",
    "History",
    "LossFn",
    "Metrics",
    "SmoothedClassificationLoss",
    "TrainConfig",
    "TrainState",
    "check_data",
    "classification_loss",
    "elapsed_seconds",
    "epoch_order",
    "eval_step",
    "evaluate",
    "fit",
    "learning_rate_schedule",
    "make_optimizer",
    "optimizer",
    "predict",
    "predict_tta",
    "regression_loss",
    "run_epoch",
    "seed_keys",
    "smooth_labels",
    "steps_per_call",
    "take_rows",
    "time_to_accuracy",
    "train_on_batches",
    "train_step",
]
