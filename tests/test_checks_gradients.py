"""leptonlab.checks._gradients (notebook 03): pass on the reference, fail with the intended hint on a
stub that raises NotImplementedError and on typical wrong answers."""

import math

from _check_helpers import reference_tests

from leptonlab import checks
from leptonlab.autodiff import Value


# ------------------------------------------------------------------------- references
def ref_central(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)


def ref_linear_backward(x, W, g):
    return g @ W.T, x.T @ g, g.sum(axis=0)


def ref_sin(a):
    return Value(math.sin(a.data), (a,), "sin", (math.cos(a.data),))


REFERENCES = [
    (checks.central_difference, ref_central),
    (checks.linear_backward, ref_linear_backward),
    (checks.autodiff_sin, ref_sin),
]


# (check, wrong answer, words the hint must contain)
WRONG = [
    (checks.central_difference, lambda f, x, h: (f(x + h) - f(x)) / h, "one-sided"),
    (
        checks.central_difference,
        lambda f, x, h: (f(x + h) - f(x - h)) / h,
        "divide by their distance",
    ),
    (checks.central_difference, lambda f, x, h: (f(x + h) - f(x - h)) / 2 * h, "brackets"),
    (
        checks.linear_backward,
        lambda x, W, g: (g @ W.T, g.T @ x, g.sum(axis=0)),
        "used by every example",
    ),
    (checks.linear_backward, lambda x, W, g: (g @ W.T, x.T @ g, g), "collects from all of them"),
    (checks.linear_backward, lambda x, W, g: (g @ W.T, x.T @ g), "in the order dx, dW, db"),
    (
        checks.autodiff_sin,
        lambda a: Value(math.sin(a.data), (a,), "sin", (-math.cos(a.data),)),
        "sign of your local gradient",
    ),
    (
        checks.autodiff_sin,
        lambda a: Value(math.sin(a.data), (a,), "sin", (math.sin(a.data),)),
        "not the value",
    ),
    (checks.autodiff_sin, lambda a: Value(math.sin(a.data)), "among the new node's children"),
    (checks.autodiff_sin, lambda a: math.sin(a.data), "expected a Value"),
]


(
    test_check_passes_the_reference,
    test_check_explains_a_stub,
    test_check_names_the_typical_mistake,
) = reference_tests(REFERENCES, WRONG)
