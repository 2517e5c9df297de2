"""A tiny reverse-mode autodiff, from scratch, to take the magic out of backpropagation.

Introduced in notebook 03, after the style of Karpathy's micrograd. A :class:`Value`
holds one number. Every operation on Values makes a new Value that remembers

* its inputs (``children``), and
* the *local* derivative of its result with respect to each input (``local_grads``).

That is the whole computation graph. :meth:`Value.backward` then walks the graph
from the output back to the inputs, in reverse topological order, and applies the
chain rule at every node::

    child.grad += local_grad * node.grad

The ``+=`` matters: a Value used twice (``x * x``) receives a contribution from each use.

Example::

    >>> w, x = Value(2.0), Value(3.0)
    >>> z = w * x
    >>> z.backward()
    >>> w.grad, x.grad   # dz/dw = x, dz/dx = w
    (3.0, 2.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Value", "grad"]


def _number(data: Any, what: str = "data") -> float:
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(
            f"{what} should be a real number (int or float), got {type(data).__name__}."
        )
    value = float(data)
    if not math.isfinite(value):
        raise ValueError(f"{what} should be finite, got {value}.")
    return value


class Value:
    """One scalar in a computation graph, with the gradient of the final output with respect to it.

    Args:
        data: the number.
        children: the Values this one was computed from (empty for an input).
        op: a short name of the operation that made it, for printing (``"*"``, ``"tanh"`` ...).
        local_grads: d(this)/d(child) for each child, in the same order as ``children``.

    ``grad`` starts at 0 and is filled in by :meth:`backward`. Introduced in notebook 03.
    """

    __slots__ = ("data", "grad", "children", "local_grads", "op")

    def __init__(
        self,
        data: float,
        children: Sequence[Value] = (),
        op: str = "",
        local_grads: Sequence[float] = (),
    ):
        self.data = _number(data)
        children, local_grads = tuple(children), tuple(local_grads)
        if not all(isinstance(c, Value) for c in children):
            raise TypeError(
                "children should be Values: pass the inputs of the operation, e.g. (a,) for a.sin()."
            )
        if len(local_grads) != len(children):
            raise ValueError(
                f"need one local gradient per child: got {len(children)} children and "
                f"{len(local_grads)} local_grads."
            )
        self.local_grads = tuple(_number(g, "a local gradient") for g in local_grads)
        self.children = children
        self.op = str(op)
        self.grad = 0.0

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{', op=' + repr(self.op) if self.op else ''})"

    # ----- arithmetic: each returns a new Value with its local derivatives -----
    def __add__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __pow__(self, exponent: float) -> Value:
        """``self ** exponent`` for a constant (int or float) exponent: d/da a^n = n a^(n-1)."""
        if isinstance(exponent, Value):
            raise TypeError(
                "only constant exponents are supported: write a ** 2, not a ** Value(2); "
                "for a ** b with b a Value, use (b * a.log()).exp()."
            )
        n = _number(exponent, "the exponent")
        if self.data == 0.0 and n < 1.0:
            raise ValueError(f"0 ** {n} has no finite derivative: keep the base away from 0.")
        if self.data < 0.0 and not n.is_integer():
            raise ValueError(
                f"({self.data}) ** {n} is not real: a negative base needs an integer exponent."
            )
        return Value(self.data**n, (self,), f"**{n:g}", (n * self.data ** (n - 1.0),))

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-_as_value(other))

    def __truediv__(self, other: Value | float) -> Value:
        other = _as_value(other)
        if other.data == 0.0:
            raise ValueError("division by a Value equal to 0.")
        return self * other**-1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return _as_value(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return _as_value(other) / self

    # ----- functions -----
    def exp(self) -> Value:
        out = math.exp(self.data)  # d/da e^a = e^a
        return Value(out, (self,), "exp", (out,))

    def log(self) -> Value:
        if self.data <= 0.0:
            raise ValueError(f"log needs a positive number, got {self.data}.")
        return Value(math.log(self.data), (self,), "log", (1.0 / self.data,))  # d/da log a = 1/a

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))  # 1 - tanh^2

    def sigmoid(self) -> Value:
        if self.data >= 0:  # the stable form: exp never overflows
            s = 1.0 / (1.0 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1.0 + e)
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))  # s (1 - s)

    def relu(self) -> Value:
        return Value(max(self.data, 0.0), (self,), "relu", (1.0 if self.data > 0 else 0.0,))

    # ----- backpropagation -----
    def backward(self) -> None:
        """Fill in ``.grad`` of every Value this one depends on: d(self)/d(that Value).

        Every ``.grad`` in the graph is first reset to 0, so calling it twice gives the
        same answer. Within one graph, contributions accumulate (``+=``): a Value used in
        several places gets the sum of the gradients through each use.
        """
        order: list[Value] = []
        seen: set[int] = set()

        def visit(node: Value) -> None:  # depth-first: children before parents
            if id(node) not in seen:
                seen.add(id(node))
                for child in node.children:
                    visit(child)
                order.append(node)

        visit(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0  # d(self)/d(self)
        for node in reversed(order):  # parents before children
            for child, local in zip(node.children, node.local_grads):
                child.grad += local * node.grad  # the chain rule


def _as_value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else Value(_number(x, "the other operand"))


def grad(f: Callable[..., Value]) -> Callable[..., tuple[float, ...]]:
    """``grad(f)(x1, x2, ...)`` -> ``(df/dx1, df/dx2, ...)`` for a function of numbers built from Value operations.

    The numbers are wrapped as Values, ``f`` is called, and :meth:`Value.backward`
    runs; like ``jax.grad(f, argnums=(0, 1, ...))``. Introduced in notebook 03.
    """
    if not callable(f):
        raise TypeError(f"grad takes a function, got {type(f).__name__}.")

    def grad_f(*xs: float) -> tuple[float, ...]:
        if not xs:
            raise ValueError(
                "call the gradient function with at least one number, e.g. grad(f)(2.0)."
            )
        inputs = [Value(_number(x, f"argument {i}")) for i, x in enumerate(xs)]
        out = f(*inputs)
        if not isinstance(out, Value):
            raise TypeError(
                f"f should return a Value (build it from Value operations), got {type(out).__name__}."
            )
        out.backward()
        return tuple(v.grad for v in inputs)

    return grad_f
