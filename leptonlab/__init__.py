"""leptonlab: the package behind a notebook course in deep learning with JAX, Flax and Optax.

Notebooks import what they train and check from here. Importing runs nothing:
no computation, no PRNG key, no download. ``leptonlab.plot`` (matplotlib) is
imported only when first used.
"""

from leptonlab import activations as activations
from leptonlab import attention as attention
from leptonlab import autodiff as autodiff
from leptonlab import checks as checks
from leptonlab import speedups as speedups
from leptonlab import conv as conv
from leptonlab import course as course
from leptonlab import data as data
from leptonlab import deploy as deploy
from leptonlab import descent as descent
from leptonlab import diagnostics as diagnostics
from leptonlab import gradients as gradients
from leptonlab import kernels as kernels
from leptonlab import onednn as onednn
from leptonlab import layers as layers
from leptonlab import losses as losses
from leptonlab import models as models
from leptonlab import recsys as recsys
from leptonlab import recurrent as recurrent
from leptonlab import text as text
from leptonlab import resnet as resnet
from leptonlab import scale as scale
from leptonlab import search as search
from leptonlab import timing as timing
from leptonlab import train as train
from leptonlab import explain as explain
from leptonlab import metrics as metrics
from leptonlab import transfer as transfer
from leptonlab._env import cache_dir as cache_dir
from leptonlab._env import data_dir as data_dir
from leptonlab._env import quick_mode as quick_mode
from leptonlab.course import record as record

__version__ = "0.1.0"

_LAZY = {"plot", "doctor"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"leptonlab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'leptonlab' has no attribute {name!r}")
