"""leptonlab.checks._descent (notebook 04): pass on the reference, fail with the intended hint on a
stub that raises NotImplementedError and on typical wrong answers."""

import jax.numpy as jnp
import numpy as np
import pytest
from _check_helpers import reference_tests

from leptonlab import checks
from leptonlab.checks import CheckFailed


# ------------------------------------------------------------------------- references
def ref_gd_step(theta, grad, lr):
    return theta - lr * grad


def ref_momentum(theta, v, grad, lr, beta):
    v = beta * v + grad
    return theta - lr * v, v


REFERENCES = [
    (checks.gd_step, ref_gd_step),
    (checks.momentum_step, ref_momentum),
]


# (check, wrong answer, words the hint must contain)
WRONG = [
    (checks.gd_step, lambda t, g, lr: t + lr * g, "uphill"),
    (checks.gd_step, lambda t, g, lr: t - g, "learning rate"),
    (
        checks.gd_step,
        lambda t, g, lr: jnp.asarray(np.asarray(t) - float(lr) * np.asarray(g)),
        "jax.jit",
    ),
    (
        checks.momentum_step,
        lambda t, v, g, lr, b: (t - lr * (b * v + (1 - b) * g), b * v + (1 - b) * g),
        "(1 - beta)",
    ),
    (checks.momentum_step, lambda t, v, g, lr, b: (t - lr * v, b * v + g), "velocity first"),
    (checks.momentum_step, lambda t, v, g, lr, b: (t - lr * g, g), "remember the past"),
    (
        checks.momentum_step,
        lambda t, v, g, lr, b: t - lr * (b * v + g),
        "both the new theta and the new velocity",
    ),
]


(
    test_check_passes_the_reference,
    test_check_explains_a_stub,
    test_check_names_the_typical_mistake,
) = reference_tests(REFERENCES, WRONG)


def test_check_rejects_a_called_function():
    with pytest.raises(CheckFailed, match="without calling it"):
        checks.gd_step(1.0)
