"""The preset table: what each ``train=`` name parametrises, trains and stores.

This module is the one place that knows the presets; :mod:`spectral_physics.layers`
(numeric layers), :mod:`spectral_physics.symbolic` (SymPy operators) and
:mod:`spectral_physics.pruning` (rebuilding smaller layers) read it.

A *parametrisation* fixes the arrays a layer stores (bias aside) and how they give
the eigenvector block ``phi`` of ``w_ij = (lam_in_j - lam_out_i) * phi_ij``:

===========  ================================  ==================================
name         stored arrays                     ``phi``
===========  ================================  ==================================
``direct``   ``weight``                        ``weight`` (``lam_in = 1`` and
                                               ``lam_out = 0`` are fixed, not stored
                                               as parameters)
``phi``      ``phi``, ``lam_in``, ``lam_out``  ``phi``
``svd``      ``U``, ``s``, ``V``, lambdas      ``U diag(s) V``
``qr``       ``R``, ``Q``, lambdas             ``R Q`` (``Q R`` if ``N_out > N_in``)
===========  ================================  ==================================

A *preset* picks a parametrisation and the arrays of it that train (see
:data:`PRESETS`); an explicit set of names among ``phi``, ``lam_in``, ``lam_out``
(``"lam_out+phi"`` or ``["phi", "lam_out"]``) is a preset of the ``phi``
parametrisation built on the fly by :func:`get_preset`. Biases are not part of the
table: they train in every preset unless a layer has ``bias=False``, and the counts
below include them by default.

Example
-------
>>> from spectral_physics.presets import PRESETS, get_preset
>>> p = PRESETS["eigen"]
>>> p.parametrisation, p.trainable, p.frozen
('phi', ('lam_in', 'lam_out'), ('phi',))
>>> p.count(784, 500) + p.count(500, 10)      # 784-500-10, biases included
2304
>>> get_preset("lam_out+phi").name
'phi+lam_out'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "ARRAY_SIZES",
    "EXPLICIT",
    "FIXED",
    "PARAMETRISATIONS",
    "PRESETS",
    "Preset",
    "STORED",
    "get_preset",
    "trainable_count",
]

#: parametrisation -> stored arrays that hold its parameters, bias excluded, in the order
#: symbolic operators take them (:meth:`spectral_physics.symbolic.TransferOperator.lambdify`)
STORED: dict[str, tuple[str, ...]] = {
    "direct": ("weight",),
    "phi": ("phi", "lam_in", "lam_out"),
    "svd": ("U", "s", "V", "lam_in", "lam_out"),
    "qr": ("R", "Q", "lam_in", "lam_out"),
}

#: parametrisation -> arrays a numeric layer also keeps at fixed values (``direct`` keeps
#: ``lam_in = 1`` and ``lam_out = 0`` so that every layer has a transfer operator)
FIXED: dict[str, tuple[str, ...]] = {"direct": ("lam_in", "lam_out"), "phi": (), "svd": (), "qr": ()}

#: the parametrisations, in table order
PARAMETRISATIONS: tuple[str, ...] = tuple(STORED)

#: names an explicit trainable set may hold (all of the ``phi`` parametrisation)
EXPLICIT: tuple[str, ...] = STORED["phi"]


def _rank(n_in: int, n_out: int) -> int:
    return min(n_in, n_out)


#: array -> number of free scalars it holds in a layer ``n_in -> n_out``; ``R`` is upper
#: triangular, so only ``r (r + 1) / 2`` of its ``r x r`` entries are parameters
ARRAY_SIZES: dict[str, Callable[[int, int], int]] = {
    "weight": lambda n_in, n_out: n_in * n_out,
    "phi": lambda n_in, n_out: n_in * n_out,
    "lam_in": lambda n_in, n_out: n_in,
    "lam_out": lambda n_in, n_out: n_out,
    "s": _rank,
    "U": lambda n_in, n_out: n_out * _rank(n_in, n_out),
    "V": lambda n_in, n_out: _rank(n_in, n_out) * n_in,
    "R": lambda n_in, n_out: _rank(n_in, n_out) * (_rank(n_in, n_out) + 1) // 2,
    "Q": lambda n_in, n_out: n_in * n_out,
    "bias": lambda n_in, n_out: n_out,
}


@dataclass(frozen=True)
class Preset:
    """One row of the preset table.

    Attributes
    ----------
    name : str
        The ``train=`` name (``"phi+lam_out"`` style for explicit sets).
    parametrisation : {"direct", "phi", "svd", "qr"}
        How the stored arrays give ``phi`` (module notes).
    trainable : tuple of str
        Arrays that train, bias excluded, in the order layers report them.
    stored : tuple of str
        Arrays holding the parametrisation's parameters, bias excluded (:data:`STORED`).
    fixed : tuple of str
        Arrays a numeric layer keeps at fixed values besides ``stored`` (:data:`FIXED`).
    """

    name: str
    parametrisation: str
    trainable: tuple[str, ...]
    stored: tuple[str, ...]
    fixed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # a row that trains an array it does not store is a bug in the table, not user input
        if self.parametrisation not in STORED:
            raise ValueError(f"parametrisation must be one of {PARAMETRISATIONS}, got {self.parametrisation!r}")
        if not self.trainable or not set(self.trainable) <= set(self.stored):
            raise ValueError(f"preset {self.name!r}: trainable {self.trainable} must be a non-empty "
                             f"subset of the stored arrays {self.stored}")

    @property
    def frozen(self) -> tuple[str, ...]:
        """Stored arrays that do not train (e.g. ``phi`` of ``eigen``)."""
        return tuple(n for n in self.stored if n not in self.trainable)

    @property
    def phi_array(self) -> str | None:
        """The stored array that *is* ``phi`` (``weight`` or ``phi``); ``None`` when factorised."""
        return {"direct": "weight", "phi": "phi"}.get(self.parametrisation)

    def count(self, n_in: int, n_out: int, bias: bool = True) -> int:
        """Exact number of trainable scalars of one layer ``n_in -> n_out``.

        Parameters
        ----------
        n_in, n_out : int
            Layer sizes.
        bias : bool
            Whether the ``n_out`` biases train (they do by default, as in every layer).

        Returns
        -------
        int
            Sum of :data:`ARRAY_SIZES` over :attr:`trainable` (plus ``n_out``).
        """
        names = self.trainable + (("bias",) if bias else ())
        return sum(ARRAY_SIZES[n](int(n_in), int(n_out)) for n in names)


def _row(name: str, parametrisation: str, trainable: tuple[str, ...]) -> Preset:
    return Preset(name, parametrisation, trainable, STORED[parametrisation], FIXED[parametrisation])


#: preset name -> :class:`Preset`
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _row("direct", "direct", ("weight",)),
        _row("eigen-out", "phi", ("lam_out",)),
        _row("eigen", "phi", ("lam_in", "lam_out")),
        _row("spectral", "phi", ("phi", "lam_in", "lam_out")),
        _row("svd", "svd", ("s", "lam_in", "lam_out")),
        _row("qr", "qr", ("R", "lam_in", "lam_out")),
    )
}


def get_preset(train: str | Iterable[str] | Preset, what: str = "train") -> Preset:
    """The table row of a preset name, or the row built for an explicit trainable set.

    Parameters
    ----------
    train : str, iterable of str or Preset
        A key of :data:`PRESETS`, names among :data:`EXPLICIT` (a ``'+'``-joined string or
        an iterable), or a :class:`Preset` (returned as is).
    what : str
        Argument name used in the error message.

    Returns
    -------
    Preset
        Explicit sets get the ``phi`` parametrisation and the name of their members in
        :data:`EXPLICIT` order joined by ``'+'``.

    Raises
    ------
    ValueError
        For an unknown name, an unknown member or an empty set.
    """
    if isinstance(train, Preset):
        return train
    if isinstance(train, str):
        if train in PRESETS:
            return PRESETS[train]
        if "+" not in train:
            raise ValueError(f"{what} must be one of {sorted(PRESETS)} or a '+'-joined set of {EXPLICIT}, "
                             f"got {train!r}")
        train = train.split("+")
    chosen = set(train)
    names = tuple(n for n in EXPLICIT if n in chosen)
    if chosen - set(EXPLICIT) or not names:
        raise ValueError(f"{what} must be one of {sorted(PRESETS)} or a non-empty set of {EXPLICIT}, "
                         f"got {sorted(chosen)!r}")
    return _row("+".join(names), "phi", names)


def trainable_count(preset: str | Iterable[str] | Preset, n_in: int, n_out: int, bias: bool = True) -> int:
    """Exact number of trainable scalars of one layer (:meth:`Preset.count`).

    Parameters
    ----------
    preset : str, iterable of str or Preset
        As accepted by :func:`get_preset`.
    n_in, n_out : int
        Layer sizes.
    bias : bool
        Whether the ``n_out`` biases train.

    Examples
    --------
    >>> trainable_count("eigen", 784, 500), trainable_count("qr", 784, 500, bias=False)
    (1784, 126534)
    """
    return get_preset(preset).count(n_in, n_out, bias)
