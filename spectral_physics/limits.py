"""The size guard shared by the network constructor and the model loader.

A network's memory grows with its weights, and a typo (``784,1000000,10``) or a
crafted model file (a 58 KB file whose header claims two million hidden nodes)
should end in one clear error before anything is allocated, not in a
``MemoryError`` traceback, or worse in a run that trains for an hour and then
dies at evaluation. :func:`check_network_size` counts the scalars a network
stores and refuses more than ``max_parameters``.

Example
-------
>>> from spectral_physics.limits import check_network_size
>>> check_network_size([784, 500, 10])
399304
>>> check_network_size([784, 1_000_000, 10])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: sizes [784, 1000000, 10] need 797,000,804 stored parameters ...
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MAX_PARAMETERS", "check_network_size", "stored_parameters"]

#: Default of ``max_parameters``: at most this many stored scalars in one network
#: object, all ensemble members together (200 MB per float32 copy). Training keeps
#: several copies (weights, gradients, optimiser moments) and evaluation needs
#: activations proportional to the widths, so this is far below what exhausts a
#: workstation, and 25 times the largest network the reproduction trains
#: (784-2000-10, ten seeds). Raise it here for larger experiments.
MAX_PARAMETERS = 50_000_000


def stored_parameters(sizes: Sequence[int], n_members: int = 1) -> int:
    """Scalars a network with these sizes stores, trainable or frozen.

    Parameters
    ----------
    sizes : sequence of int
        Node counts ``(N_0, ..., N_L)``.
    n_members : int, default 1
        Ensemble members stacked in the one object.

    Returns
    -------
    int
        ``n_members * sum(N_in * N_out + N_in + 2 * N_out)`` over the layers: the
        eigenvector block (or dense weights), both eigenvalue vectors and the bias.
        The ``svd`` and ``qr`` factorisations store at most this much.
    """
    per = sum(a * b + a + 2 * b for a, b in zip(sizes[:-1], sizes[1:]))
    return int(n_members) * per


def check_network_size(
    sizes: Sequence[int], n_members: int = 1, max_parameters: int | None = None
) -> int:
    """Refuse networks too large to build, before any array is allocated.

    Parameters
    ----------
    sizes : sequence of int
        Node counts ``(N_0, ..., N_L)``, already checked to be positive integers.
    n_members : int, default 1
        Ensemble members (the count scales with them).
    max_parameters : int, optional
        Limit on :func:`stored_parameters`; default :data:`MAX_PARAMETERS`, read
        at call time so that changing the module attribute takes effect.

    Returns
    -------
    int
        The number of stored parameters.

    Raises
    ------
    ValueError
        Naming the sizes, the count, its size in float32 and the limit.
    """
    limit = MAX_PARAMETERS if max_parameters is None else int(max_parameters)
    count = stored_parameters(sizes, n_members)
    if count > limit:
        members = f" x {n_members} ensemble members" if n_members > 1 else ""
        raise ValueError(
            f"sizes {list(sizes)}{members} need {count:,} stored parameters "
            f"({count * 4 / 2**30:.1f} GiB per float32 copy), more than max_parameters="
            f"{limit:,}; use smaller layers, or raise spectral_physics.limits.MAX_PARAMETERS "
            "for a deliberately large network"
        )
    return count
