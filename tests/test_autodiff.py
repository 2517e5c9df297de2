"""Tests for leptonlab.autodiff: every op of the tiny reverse-mode autodiff against jax.grad."""

import math

import jax
import jax.numpy as jnp
import pytest

from leptonlab.autodiff import Value, grad

# (name, function on Values, the same function in jax.numpy, inputs)
OPS = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, (1.5, -0.7)),
    ("radd", lambda a, b: 2.0 + a, lambda a, b: 2.0 + a, (1.5, -0.7)),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, (1.5, -0.7)),
    ("rmul", lambda a, b: 3.0 * a, lambda a, b: 3.0 * a, (1.5, -0.7)),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, (1.5, -0.7)),
    ("rsub", lambda a, b: 1.0 - b, lambda a, b: 1.0 - b, (1.5, -0.7)),
    ("neg", lambda a, b: -a, lambda a, b: -a, (1.5, -0.7)),
    ("div", lambda a, b: a / b, lambda a, b: a / b, (1.5, -0.7)),
    ("rdiv", lambda a, b: 2.0 / b, lambda a, b: 2.0 / b, (1.5, -0.7)),
    ("pow_int", lambda a, b: a**3, lambda a, b: a**3, (1.5, -0.7)),
    ("pow_int_neg_base", lambda a, b: b**2, lambda a, b: b**2, (1.5, -0.7)),
    ("pow_float", lambda a, b: a**0.5, lambda a, b: a**0.5, (1.5, -0.7)),
    ("exp", lambda a, b: a.exp(), lambda a, b: jnp.exp(a), (1.5, -0.7)),
    ("log", lambda a, b: a.log(), lambda a, b: jnp.log(a), (1.5, -0.7)),
    ("tanh", lambda a, b: b.tanh(), lambda a, b: jnp.tanh(b), (1.5, -0.7)),
    ("sigmoid", lambda a, b: b.sigmoid(), lambda a, b: jax.nn.sigmoid(b), (1.5, -0.7)),
    ("relu_pos", lambda a, b: a.relu(), lambda a, b: jax.nn.relu(a), (1.5, -0.7)),
    ("relu_neg", lambda a, b: b.relu(), lambda a, b: jax.nn.relu(b), (1.5, -0.7)),
    ("reuse", lambda a, b: a * a + a, lambda a, b: a * a + a, (1.5, -0.7)),
    (
        "neuron",
        lambda a, b: ((a * b + 0.5).tanh() - 1.0) ** 2,
        lambda a, b: (jnp.tanh(a * b + 0.5) - 1.0) ** 2,
        (1.5, -0.7),
    ),
    (
        "diamond",
        lambda a, b: (a * b).exp() / (a * b + 2.0).sigmoid(),
        lambda a, b: jnp.exp(a * b) / jax.nn.sigmoid(a * b + 2.0),
        (0.4, 0.9),
    ),
]


@pytest.mark.parametrize("name,f,f_jax,xs", OPS, ids=[op[0] for op in OPS])
def test_ops_match_jax_grad(name, f, f_jax, xs):
    with jax.enable_x64(True):
        xs64 = tuple(jnp.float64(x) for x in xs)
        want_value = float(f_jax(*xs64))
        want = jax.grad(f_jax, argnums=(0, 1))(*xs64)
    out = f(*(Value(x) for x in xs))
    assert out.data == pytest.approx(want_value, rel=1e-12, abs=1e-14)
    got = grad(f)(*xs)
    assert got == pytest.approx(tuple(float(w) for w in want), rel=1e-10, abs=1e-14)


def test_dz_dw_is_x_not_one():
    w, x = Value(2.0), Value(3.0)
    z = w * x
    z.backward()
    assert (w.grad, x.grad) == (3.0, 2.0)


def test_backward_twice_gives_the_same_gradients():
    a = Value(0.3)
    out = (a * a).tanh() + a
    out.backward()
    first = a.grad
    out.backward()
    assert a.grad == first


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(-800.0).sigmoid().data == 0.0
    assert Value(800.0).sigmoid().data == 1.0


def test_custom_op_through_the_constructor():
    a = Value(0.8)
    s = Value(math.sin(a.data), (a,), "sin", (math.cos(a.data),))
    (s * s).backward()
    assert a.grad == pytest.approx(2 * math.sin(0.8) * math.cos(0.8))


def test_repr_names_the_op():
    assert "op='*'" in repr(Value(2.0) * 3.0)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="real number"):
        Value("1.0")
    with pytest.raises(TypeError, match="real number"):
        Value(True)
    with pytest.raises(ValueError, match="finite"):
        Value(float("nan"))
    with pytest.raises(TypeError, match="children should be Values"):
        Value(1.0, (2.0,), "x", (1.0,))
    with pytest.raises(ValueError, match="one local gradient per child"):
        Value(1.0, (Value(2.0),), "x", ())
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="constant exponents"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="away from 0"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match="division"):
        Value(1.0) / 0.0
    with pytest.raises(TypeError, match="other operand"):
        Value(1.0) + "2"
    with pytest.raises(TypeError, match="function"):
        grad(3.0)
    with pytest.raises(ValueError, match="at least one number"):
        grad(lambda a: a)()
    with pytest.raises(TypeError, match="should return a Value"):
        grad(lambda a: 1.0)(2.0)
    with pytest.raises(TypeError, match="argument 0"):
        grad(lambda a: a)("x")
