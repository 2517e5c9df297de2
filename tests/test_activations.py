"""Tests for leptonlab.activations: references, derivatives, stability, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import activations as A

XS = jnp.array([-6.0, -2.0, -0.5, 0.0, 0.3, 1.0, 2.0, 7.5])  # [8]
HUGE = jnp.array([-1000.0, -100.0, -89.0, 89.0, 100.0, 1000.0])  # [6]

ELEMENTWISE = {
    "sigmoid": (A.sigmoid, jax.nn.sigmoid, A.sigmoid_derivative),
    "tanh": (A.tanh, jnp.tanh, A.tanh_derivative),
    "relu": (A.relu, jax.nn.relu, A.relu_derivative),
    "gelu_exact": (A.gelu, lambda x: jax.nn.gelu(x, approximate=False), A.gelu_derivative),
    "gelu_tanh": (
        lambda x: A.gelu(x, approximate=True),
        lambda x: jax.nn.gelu(x, approximate=True),
        lambda x: A.gelu_derivative(x, approximate=True),
    ),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_matches_jax_nn(name):
    ours, ref, _ = ELEMENTWISE[name]
    np.testing.assert_allclose(ours(XS), ref(XS), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_grad_and_finite_differences(name):
    ours, _, deriv = ELEMENTWISE[name]
    pts = jnp.array([-3.0, -1.0, -0.25, 0.4, 1.5, 3.0])  # away from ReLU's kink
    autodiff = jax.vmap(jax.grad(ours))(pts)
    np.testing.assert_allclose(deriv(pts), autodiff, rtol=1e-5, atol=1e-6)
    h = 1e-3  # central differences in float64 numpy on the float32 function: error ~ h^2
    fd = (np.asarray(ours(pts + h), np.float64) - np.asarray(ours(pts - h), np.float64)) / (2 * h)
    np.testing.assert_allclose(deriv(pts), fd, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_stable_at_large_inputs_values_and_gradients(name):
    ours, ref, deriv = ELEMENTWISE[name]
    out = ours(HUGE)
    assert np.all(np.isfinite(out)), out
    np.testing.assert_allclose(out, ref(HUGE), rtol=1e-6)
    grads = jax.vmap(jax.grad(ours))(HUGE)
    assert np.all(np.isfinite(grads)), grads
    np.testing.assert_allclose(grads, deriv(HUGE), atol=1e-6)


def test_sigmoid_hand_values():
    assert abs(float(A.sigmoid(2.0)) - 0.8808) < 5e-5
    assert float(A.sigmoid(0.0)) == 0.5
    np.testing.assert_allclose(A.sigmoid(jnp.array([-1000.0, 1000.0])), [0.0, 1.0])


def test_sigmoid_gradient_at_zero_is_a_quarter():
    assert float(jax.grad(A.sigmoid)(0.0)) == pytest.approx(0.25)


def test_relu_gradient_at_zero_is_zero():
    assert float(jax.grad(A.relu)(0.0)) == 0.0
    assert float(A.relu_derivative(0.0)) == 0.0


def test_naive_forms_break_where_the_stable_ones_do_not():
    assert np.isnan(float(jax.grad(A.sigmoid_naive)(-1000.0)))
    assert np.isnan(np.asarray(A.softmax_naive(jnp.array([1000.0, 0.0])))).any()
    np.testing.assert_allclose(A.sigmoid_naive(XS), A.sigmoid(XS), rtol=1e-6)


@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_and_log_softmax_match_jax_nn(shape, axis):
    x = jax.random.normal(jax.random.key(0), shape) * 5.0
    np.testing.assert_allclose(
        A.softmax(x, axis=axis), jax.nn.softmax(x, axis=axis), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        A.log_softmax(x, axis=axis), jax.nn.log_softmax(x, axis=axis), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(jnp.sum(A.softmax(x, axis=axis), axis=axis), 1.0, rtol=1e-6)


def test_softmax_stable_at_large_scores():
    x = jnp.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])  # [2, 3]
    s = A.softmax(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, jax.nn.softmax(x), rtol=1e-6)
    ls = A.log_softmax(x)
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(ls[1], [-2000.0, -1000.0, 0.0])


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_softmax_jacobians_match_jax_jacobian(shape):
    x = jax.random.normal(jax.random.key(1), shape)
    flat = x.reshape(-1, shape[-1])  # [B, C]
    for ours, fn in ((A.softmax_jacobian, A.softmax), (A.log_softmax_jacobian, A.log_softmax)):
        want = jax.vmap(jax.jacobian(fn))(flat).reshape(shape + (shape[-1],))
        np.testing.assert_allclose(ours(x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jnp.sum(A.softmax_jacobian(x), axis=-1), 0.0, atol=1e-6)


@pytest.mark.parametrize("fn", [A.sigmoid, A.tanh, A.relu, A.gelu, A.softmax, A.log_softmax])
def test_jit_and_shape_preserved(fn):
    x = jnp.linspace(-3.0, 3.0, 12).reshape(3, 4)  # [3, 4]
    out = jax.jit(fn)(x)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, fn(x), rtol=1e-6)


def test_integer_and_list_inputs_become_float():
    assert A.relu(jnp.array([-1, 2])).dtype == jnp.float32
    np.testing.assert_allclose(A.sigmoid([0.0, 0.0]), [0.5, 0.5])


PUBLIC = [
    A.sigmoid,
    A.sigmoid_naive,
    A.sigmoid_derivative,
    A.tanh,
    A.tanh_derivative,
    A.relu,
    A.relu_derivative,
    A.gelu,
    A.gelu_derivative,
    A.softmax,
    A.softmax_naive,
    A.log_softmax,
    A.softmax_jacobian,
    A.log_softmax_jacobian,
]


@pytest.mark.parametrize("fn", PUBLIC, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", ["1.0", None, {"x": 1}, 1 + 2j])
def test_bad_input_type(fn, bad):
    with pytest.raises(TypeError, match=f"{fn.__name__}"):
        fn(bad)


@pytest.mark.parametrize("fn", [A.softmax, A.softmax_naive, A.log_softmax])
def test_softmax_bad_axis_and_scalar(fn):
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        fn(jnp.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match="axis as an int"):
        fn(jnp.ones((2, 3)), axis="rows")
    with pytest.raises(ValueError, match="at least a 1-D array"):
        fn(1.0)


@pytest.mark.parametrize("fn", [A.softmax_jacobian, A.log_softmax_jacobian])
def test_jacobian_of_scalar_is_refused(fn):
    with pytest.raises(ValueError, match="1-D"):
        fn(1.0)


@pytest.mark.parametrize("fn", [A.gelu, A.gelu_derivative])
def test_gelu_bad_approximate(fn):
    with pytest.raises(TypeError, match="approximate=True or False"):
        fn(1.0, approximate="tanh")


# ------------------------------------------------------------------ plot.activation_functions


def test_plot_activation_functions_smoke():
    from matplotlib.figure import Figure

    from leptonlab import plot

    fig = plot.activation_functions(num=21)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig = plot.activation_functions({"relu": A.relu}, derivatives=False, num=11)
    assert len(fig.axes) == 1


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"functions": [A.relu]}, TypeError, "non-empty dict"),
        ({"functions": {"relu": 3}}, TypeError, "not a function"),
        ({"x_min": 2.0, "x_max": -2.0}, ValueError, "low < high"),
        ({"num": 1}, ValueError, "num must be an int >= 2"),
    ],
)
def test_plot_activation_functions_bad_input(kwargs, exc, match):
    from leptonlab import plot

    with pytest.raises(exc, match=match):
        plot.activation_functions(**kwargs)
