"""The seed axis on devices, for the driver of either half: the mesh it lives on and the gather to the host.

A run's seeds are vmapped along a leading axis; :func:`seed_mesh` splits that axis over the local
devices, or over every process's devices when ``jax.distributed`` joined several processes (one
per host or per GPU; :mod:`trirl.continuous.distributed` starts them). :func:`to_host` brings a
state spread over processes back, in full, to every process, as a checkpoint needs it.

Both are generic JAX and import it only when called, so that :mod:`trirl.driver` (the ground floor
the tabular half stands on too) loads without JAX.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from trirl.errors import InvalidConfigError


def seed_mesh(seeds: int, devices=None):
    """The one-axis device mesh (axis ``"seeds"``) that a batch of ``seeds`` vmapped seeds is split over.

    It spans the largest number ``d`` of ``devices`` (default: every local device,
    ``jax.local_devices()``) that divides ``seeds``, so every device holds ``seeds / d`` whole seeds and
    nothing is padded; ``None`` when ``d`` is 1 (one device, or a prime number of seeds above the
    device count), where nothing is sharded. Over several processes (``jax.distributed``) the default
    is every process's devices (:func:`process_seed_mesh`).

    Raises:
        InvalidConfigError: over several processes, ``seeds`` is not a multiple of their count.
    """
    import jax
    from jax.sharding import Mesh

    if devices is None and jax.process_count() > 1:  # jax.distributed: every process's devices
        return process_seed_mesh(seeds)
    devices = jax.local_devices() if devices is None else list(devices)
    count = max(d for d in range(1, len(devices) + 1) if seeds % d == 0)
    return Mesh(np.array(devices[:count]), ("seeds",)) if count > 1 else None


def process_seed_mesh(seeds: int):
    """The one-axis mesh (axis ``"seeds"``) over all processes' devices for ``seeds`` seeds.

    Each process contributes its first ``k`` devices (by id), processes in order, so process ``p``
    holds the ``p``-th block of ``seeds / P`` seeds; ``k`` is the largest count, at most every
    process's device count, such that ``k * P`` divides ``seeds``.

    Raises:
        InvalidConfigError: ``seeds`` is not a multiple of the process count (naming ``--seeds``).
    """
    import jax
    from jax.sharding import Mesh

    processes = jax.process_count()
    if seeds % processes:
        wanted = math.ceil(seeds / processes) * processes
        raise InvalidConfigError(f"--seeds {seeds}: a run over {processes} processes needs a multiple of {processes} "
                                 f"seeds (each process owns an equal block), e.g. --seeds {wanted}")
    by_process = [sorted((d for d in jax.devices() if d.process_index == p), key=lambda d: d.id)
                  for p in range(processes)]
    most = min(len(devices) for devices in by_process)
    count = max(k for k in range(1, most + 1) if seeds % (k * processes) == 0)
    return Mesh(np.array([d for devices in by_process for d in devices[:count]]), ("seeds",))


@functools.cache
def _replicate(mesh):
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    return jax.jit(lambda leaves: leaves, out_shardings=NamedSharding(mesh, PartitionSpec()))


def to_host(tree):
    """``tree`` with every array that spans several processes gathered, in full, to numpy on every
    process (one collective, which every process must make); other leaves unchanged, so on one
    process (or for a tree of numpy arrays) ``tree`` comes back as it is."""
    import jax

    leaves, treedef = jax.tree.flatten(tree)
    spread = [i for i, leaf in enumerate(leaves) if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable]
    if not spread:
        return tree
    gathered = _replicate(leaves[spread[0]].sharding.mesh)([leaves[i] for i in spread])
    for i, leaf in zip(spread, gathered):
        leaves[i] = np.asarray(leaf)
    return jax.tree.unflatten(treedef, leaves)
