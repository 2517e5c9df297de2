"""Where arrays live: a one-axis device mesh, rows split over it or copies on every device.

:func:`leptonlab.train.fit` with ``mesh=`` keeps the state, the dataset and the epoch's
indices as copies on every device of the mesh and splits each batch's rows over the mesh;
:mod:`leptonlab.scale` (notebook 20) builds on the same helpers.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["AXIS", "batch_sharding", "check_mesh", "local_copy", "replicate", "replicated"]

AXIS = "data"  # the name of the mesh axis the batch is split over


def check_mesh(mesh: Mesh) -> Mesh:
    """``mesh`` itself if it is a one-axis mesh named ``"data"``; TypeError or ValueError otherwise."""
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh must be a jax.sharding.Mesh (from scale.make_mesh), got {type(mesh).__name__}."
        )
    if mesh.axis_names != (AXIS,):
        raise ValueError(
            f"expected a one-axis mesh named {AXIS!r}, got axes {mesh.axis_names}; use scale.make_mesh."
        )
    return mesh


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split over the mesh: ``x: [B, ...]`` -> ``B / D`` rows per device (notebook 20)."""
    return NamedSharding(check_mesh(mesh), PartitionSpec(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh (the parameters, notebook 20)."""
    return NamedSharding(check_mesh(mesh), PartitionSpec())


def replicate(tree: Any, mesh: Mesh) -> Any:
    """A copy of every array of ``tree`` on every device of the mesh (every process passes the same values).

    Works for PRNG key arrays too. Introduced in notebook 20.
    """
    sharding = replicated(mesh)

    def put(a):
        if isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(a)
            return jax.random.wrap_key_data(put(jax.random.key_data(a)), impl=impl)
        host = np.asarray(a)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def local_copy(tree: Any) -> Any:
    """A replicated tree as ordinary single-device arrays (this process's first copy)."""
    return jax.tree.map(lambda a: a.addressable_data(0) if isinstance(a, jax.Array) else a, tree)
