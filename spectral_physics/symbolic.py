"""Symbolic transfer operators (SymPy): the formulas behind spectral layers.

One idea: the transfer operator as SymPy matrices (one layer, :class:`TransferOperator`,
and the whole network, :class:`NetworkOperator`), with the identities it satisfies, its
derivatives and its conversion to and from numbers; long because every preset and every
identity is spelled out symbolically.

A spectral layer ``N_in -> N_out`` is the lower-left block of the transfer
operator over all ``N_in + N_out`` nodes (docs/design.md section 1.2)::

    Phi    = [[I, 0], [phi, I]]          Phi^-1 = 2I - Phi = [[I, 0], [-phi, I]]
    Lambda = diag(lam_in, lam_out)       A = Phi Lambda Phi^-1
    w_ij   = (lam_in_j - lam_out_i) phi_ij

This module builds those matrices with SymPy symbols named after the papers'
notation (``phi_ij`` -> :math:`\\phi_{ij}`, ``lambda^in_j`` ->
:math:`\\lambda^{\\mathrm{in}}_j`, ``lambda^out_i`` ->
:math:`\\lambda^{\\mathrm{out}}_i`), proves the identities by simplification,
differentiates the weights with respect to every parameter of every preset,
assembles the whole network as one block lower-bidiagonal operator, and goes
from numbers to symbols and back (:meth:`TransferOperator.from_layer`,
:meth:`TransferOperator.lambdify`).

Example
-------
>>> from spectral_physics.symbolic import TransferOperator
>>> op = TransferOperator(2, 3, preset="spectral")
>>> op.weights[0, 1]
phi_12*(lambda^in_2 - lambda^out_1)
>>> op.verify_inverse()
True
>>> all(op.verify().values())
True
>>> op.weight_gradients()[op.lam_in[1]].tolist()   # lam_in_2 moves the whole column 2
[[0, phi_12], [0, phi_22], [0, phi_32]]
>>> print(op.latex("weights"))                            # doctest: +ELLIPSIS
W = \\left[\\begin{matrix}\\phi_{11} \\left(\\lambda^{\\mathrm{in}}_{1} - ...
>>> op.trainable_count()                 # phi, lam_in, lam_out and the biases
14

Presets fix what is a symbol and what trains (``trainable_symbols``) or stays
frozen (``frozen_symbols``):

==========  =================================  ==============================
preset      trainable symbols                  frozen symbols
==========  =================================  ==============================
direct      ``w_ij`` (``phi = W``,             -
            ``lam_in = 1``, ``lam_out = 0``)
eigen-out   ``lambda^out_i``                   ``phi_ij``, ``lambda^in_j``
eigen       ``lambda^in_j``, ``lambda^out_i``  ``phi_ij``
spectral    ``phi_ij``, both lambdas           -
svd         ``s_k``, both lambdas;             ``u_ik``, ``v_kj``
            ``phi = U diag(s) V``
qr          ``r_ab`` (``a <= b``), lambdas;    ``q_..``
            ``phi = R Q`` (``Q R`` if
            ``N_out > N_in``)
==========  =================================  ==============================

Biases ``b_i`` train in every preset unless ``bias=False``; they never enter
the operator. Frozen quantities stay *symbols* (marked frozen) so the
formulas read the same for any initialisation; give them numbers with
:meth:`TransferOperator.with_values`, e.g.
``TransferOperator(2, 3, "eigen-out").with_values(lam_in=[1, 1])``.

The whole network (:class:`NetworkOperator`) puts one eigenvalue per node on
the diagonal. A hidden node owns two eigenvalues, ``lam_out`` of the layer
feeding it and ``lam_in`` of the layer it feeds. The default
(``diagonal="out"``, the same convention as
:meth:`spectral_physics.network.SpectralMLP.network_operator`) puts ``lam_out``
on the diagonal, the eigenvalue the pruning code ranks nodes by; ``lam_in`` of
the next layer then lives only inside that layer's weights. ``"in"`` puts the
next layer's ``lam_in`` there instead, and ``"tied"`` identifies the two
(``lam_in^(k+1) = lam_out^(k)``, one eigenvalue per node), in which case every
layer's own operator ``A^(k)`` is a principal block of the network operator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.pretty_symbology import pretty_use_unicode
from sympy.printing.pretty.stringpict import prettyForm

__all__ = [
    "MAX_SYMBOLIC_NODES",
    "N_IN",
    "N_OUT",
    "NetworkOperator",
    "NodeEigenvalues",
    "TransferOperator",
    "compression_expr",
    "latex",
    "network_count_expr",
    "pretty",
    "trainable_count_expr",
]

#: total node count above which the CLI refuses to print (output grows ~ N^2)
MAX_SYMBOLIC_NODES = 12

# the library itself refuses operators it could not build in reasonable time
_HARD_LIMIT_NODES = 200

#: symbolic layer sizes for the parameter-count expressions
N_IN = sp.Symbol("N_in", integer=True, positive=True)
N_OUT = sp.Symbol("N_out", integer=True, positive=True)

# what each preset stores and trains comes from the one preset table
from .presets import Preset, get_preset  # noqa: E402

_DIAGONALS = ("out", "in", "tied")

# ---------------------------------------------------------------- display names
_LATEX_NAMES: dict[sp.Symbol, str] = {}
_UNICODE_NAMES: dict[sp.Symbol, sp.Symbol] = {}
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")

# kind -> (ascii base, latex base, unicode base, ascii sup, latex sup, unicode sup)
_KINDS = {
    "phi": ("phi", r"\phi", "φ", "", "", ""),
    "lam_in": ("lambda", r"\lambda", "λ", "in", r"\mathrm{in}", "ⁱⁿ"),
    "lam_out": ("lambda", r"\lambda", "λ", "out", r"\mathrm{out}", "ᵒᵘᵗ"),
    "weight": ("w", "w", "w", "", "", ""),
    "bias": ("b", "b", "b", "", "", ""),
    "s": ("s", "s", "s", "", "", ""),
    "U": ("u", "u", "u", "", "", ""),
    "V": ("v", "v", "v", "", "", ""),
    "R": ("r", "r", "r", "", "", ""),
    "Q": ("q", "q", "q", "", "", ""),
    "G": ("G", "G", "G", "", "", ""),
    "x": ("x", "x", "x", "", "", ""),
    "y": ("y", "y", "y", "", "", ""),
}


def _symbol(kind: str, idx: tuple[int, ...], layer: int | None, wide: bool) -> sp.Symbol:
    """A real symbol with registered LaTeX and Unicode display names.

    ``idx`` is 1-based as in the papers; two-digit indices get a comma (``phi_2,11``).
    """
    a, ltx, uni, sup_a, sup_l, sup_u = _KINDS[kind]
    sep = "," if wide else ""
    sub = sep.join(str(i) for i in idx)
    lay = f"({layer})" if layer is not None else ""
    name = a + (f"^{sup_a}{lay}" if sup_a or lay else "") + f"_{sub}"
    s = sp.Symbol(name, real=True)
    if s not in _LATEX_NAMES:
        sup = sup_l + lay
        _LATEX_NAMES[s] = ltx + (f"^{{{sup}}}" if sup else "") + f"_{{{sub}}}"
        _UNICODE_NAMES[s] = sp.Symbol(uni + sup_u + lay.translate(_SUP) + sub.translate(_SUB))
    return s


_LATEX_NAMES[N_IN] = r"N_{\mathrm{in}}"
_LATEX_NAMES[N_OUT] = r"N_{\mathrm{out}}"


def latex(expr: Any, digits: int | None = None, **kwargs: Any) -> str:
    r"""LaTeX of an expression or matrix with this module's symbol names.

    Parameters
    ----------
    expr : sympy expression or Matrix
    digits : int, optional
        Round floating-point numbers to this many significant digits.
    **kwargs
        Passed to :func:`sympy.latex`.

    Returns
    -------
    str
        E.g. ``\lambda^{\mathrm{in}}_{1}`` for the symbol ``lambda^in_1``.
    """
    expr = sp.sympify(expr)
    if digits is not None:
        expr = expr.evalf(digits)
    names = {s: _LATEX_NAMES[s] for s in getattr(expr, "free_symbols", ()) if s in _LATEX_NAMES}
    return sp.latex(expr, symbol_names=names, **kwargs)


class _PrettyPrinter(PrettyPrinter):
    """Prints registered symbols by their Unicode names, keeping the ASCII names' term order."""

    def _print_Symbol(self, e, bold_name=False):  # noqa: N802 - SymPy's hook name
        if self._settings["use_unicode"] and e in _UNICODE_NAMES:
            return prettyForm(_UNICODE_NAMES[e].name)
        return super()._print_Symbol(e, bold_name)


def pretty(expr: Any, digits: int | None = None, **kwargs: Any) -> str:
    """Unicode pretty form of an expression or matrix (``λⁱⁿ₁``, ``φ₂₁``), never line-wrapped.

    Parameters
    ----------
    expr : sympy expression or Matrix
    digits : int, optional
        Round floating-point numbers to this many significant digits.
    **kwargs
        Passed to :func:`sympy.pretty`.
    """
    expr = sp.sympify(expr)
    if digits is not None:
        expr = expr.evalf(digits)
    kwargs.setdefault("wrap_line", False)
    kwargs.setdefault("use_unicode", True)
    printer = _PrettyPrinter(kwargs)
    flag = pretty_use_unicode(printer._settings["use_unicode"])
    try:
        return printer.doprint(expr)
    finally:
        pretty_use_unicode(flag)


def _is_zero(expr: Any) -> bool:
    """Exact symbolic zero test (a proof, not a sample).

    Every expression here is a rational function of the symbols, for which bringing
    it to one fraction and cancelling (polynomial arithmetic over ZZ) decides zero
    exactly; ``simplify`` is the fallback for anything else.
    """
    if isinstance(expr, sp.MatrixBase):
        return all(_is_zero(e) for e in expr)
    expr = sp.sympify(expr)
    if expr == 0 or sp.expand(expr) == 0:
        return True
    if expr.is_rational_function():
        return sp.cancel(sp.together(expr)) == 0
    return sp.simplify(expr) == 0


# ---------------------------------------------------------------- presets and counts
def _parse_preset(preset: str | Iterable[str] | Preset) -> Preset:
    """The preset table's row (:func:`spectral_physics.presets.get_preset`), errors naming ``preset``."""
    return get_preset(preset, what="preset")


def trainable_count_expr(
    preset: str | Iterable[str] = "spectral",
    n_in: Any = N_IN,
    n_out: Any = N_OUT,
    *,
    bias: bool = True,
) -> sp.Expr:
    """Trainable scalars of one layer as a SymPy expression in the layer sizes.

    Parameters
    ----------
    preset : str or iterable of str
        A preset name or an explicit set among ``phi``, ``lam_in``, ``lam_out``.
    n_in, n_out : int or sympy expression
        Layer sizes; default the symbols :data:`N_IN`, :data:`N_OUT`.
    bias : bool
        Whether the ``n_out`` biases count.

    Returns
    -------
    sympy.Expr
        E.g. ``N_in*N_out + N_in + 2*N_out`` for ``spectral`` with biases; an
        integer when the sizes are integers, equal to
        :func:`spectral_physics.layers.trainable_count`.

    Examples
    --------
    >>> trainable_count_expr("eigen")
    N_in + 2*N_out
    >>> trainable_count_expr("svd", 784, 500, bias=False)
    1784
    """
    names = _parse_preset(preset).trainable
    # written out in SymPy on purpose, apart from Preset.count: the tests check one against the other
    n_in, n_out = sp.sympify(n_in), sp.sympify(n_out)
    r = sp.Min(n_in, n_out)
    size = {
        "weight": n_in * n_out,
        "phi": n_in * n_out,
        "lam_in": n_in,
        "lam_out": n_out,
        "s": r,
        "R": r * (r + 1) / 2,
    }
    return sp.Add(*(size[n] for n in names)) + (n_out if bias else 0)


def network_count_expr(
    preset: str | Iterable[str], sizes: Sequence[Any], *, bias: bool = True
) -> sp.Expr:
    """Trainable scalars of a network with node counts ``sizes`` (ints or symbols).

    Parameters
    ----------
    preset : str or iterable of str
    sizes : sequence
        ``(N_0, ..., N_L)``; entries may be SymPy symbols.
    bias : bool

    Returns
    -------
    sympy.Expr
        Sum of :func:`trainable_count_expr` over the layers.
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least two entries, got {list(sizes)!r}")
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    return sp.Add(*(trainable_count_expr(preset, a, b, bias=bias) for a, b in pairs))


def compression_expr(
    preset: str | Iterable[str], n_in: Any = N_IN, n_out: Any = N_OUT, *, bias: bool = False
) -> sp.Expr:
    """Trainable count of ``preset`` relative to ``direct`` (``< 1`` means compression).

    Examples
    --------
    >>> compression_expr("eigen")
    (N_in + N_out)/(N_in*N_out)
    """
    return sp.simplify(
        trainable_count_expr(preset, n_in, n_out, bias=bias)
        / trainable_count_expr("direct", n_in, n_out, bias=bias)
    )


def _check_size(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _to_numpy(arr: Any) -> np.ndarray:
    try:
        from .backend import to_numpy
    except ImportError:  # the core is optional for symbolic work
        return np.asarray(arr)
    return to_numpy(arr)


def _sympify_value(v: Any) -> sp.Expr:
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (float, np.floating)):
        # exact binary value of the double: float64 round-trips through the formulas
        return sp.Float(float(v))
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    return sp.sympify(v)


# ---------------------------------------------------------------- one layer
class TransferOperator:
    r"""Symbolic transfer operator of one spectral layer ``N_in -> N_out``.

    Parameters
    ----------
    n_in, n_out : int
        Numbers of input nodes (index ``j``) and receiving nodes (index ``i``).
    preset : str or iterable of str
        ``direct``, ``eigen-out``, ``eigen``, ``spectral``, ``svd``, ``qr``, or an
        explicit set among ``phi``, ``lam_in``, ``lam_out`` (as the numeric core).
    bias : bool
        Whether the layer has biases ``b_i`` (trainable, outside the operator).
    layer : int, optional
        1-based layer number ``k`` shown as a superscript (``\phi^{(k)}_{ij}``).
    values : mapping, optional
        Numbers (or expressions) for some inputs, as in :meth:`with_values`.

    Attributes
    ----------
    n_in, n_out, preset, parametrisation : int, int, str, str
    spec : spectral_physics.presets.Preset
        The preset table's row: which arrays are stored (:attr:`inputs`) and which train.
    has_bias : bool
    inputs : dict of str to sympy.Matrix
        The symbols of every stored array (``phi``, ``lam_in``, ``lam_out``, ``weight``,
        ``U``, ``s``, ``V``, ``R``, ``Q``, ``bias``), shaped like the numeric layer's arrays
        (vectors as columns; ``R`` zero below its diagonal).
    trainable : tuple of str
        Names of the trainable arrays, ``bias`` last (as ``SpectralLayer.trainable``).
    values : dict of sympy.Symbol to sympy.Expr
        Substitutions applied by every matrix property; empty for a purely symbolic
        operator. The symbolic versions stay available (:meth:`symbolic`).

    Notes
    -----
    Matrix properties (``Phi``, ``Phi_inv``, ``Lambda``, ``A``, ``weights``, ``phi``,
    ``lam_in``, ``lam_out``) and the gradients return the symbolic formulas with
    :attr:`values` substituted. The identity checks (:meth:`verify`) always work on the
    purely symbolic formulas, so they hold for every value of the parameters.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        preset: str | Iterable[str] = "spectral",
        *,
        bias: bool = True,
        layer: int | None = None,
        values: Mapping[Any, Any] | None = None,
    ) -> None:
        self.n_in = _check_size("n_in", n_in)
        self.n_out = _check_size("n_out", n_out)
        if self.n_in + self.n_out > _HARD_LIMIT_NODES:
            raise ValueError(
                f"n_in + n_out = {self.n_in + self.n_out} exceeds {_HARD_LIMIT_NODES} nodes; "
                "symbolic operators grow quadratically, use the numeric core for large layers"
            )
        if layer is not None:
            layer = _check_size("layer", layer)
        self.layer = layer
        self.spec = _parse_preset(preset)
        self.preset, self.parametrisation = self.spec.name, self.spec.parametrisation
        self.has_bias = bool(bias)
        self.trainable = self.spec.trainable + (("bias",) if self.has_bias else ())
        self._wide = max(self.n_in, self.n_out) >= 10
        self.inputs = self._make_inputs()
        self.values: dict[sp.Symbol, sp.Expr] = {}
        if values:
            self.values = self._resolve_values(values)

    # ------------------------------------------------------------ construction
    def _sym(self, kind: str, *idx: int) -> sp.Symbol:
        return _symbol(kind, idx, self.layer, self._wide)

    def _vector(self, kind: str, n: int) -> sp.Matrix:
        return sp.Matrix(n, 1, [self._sym(kind, i + 1) for i in range(n)])

    def _matrix(self, kind: str, rows: int, cols: int, upper: bool = False) -> sp.Matrix:
        return sp.Matrix(
            rows,
            cols,
            lambda i, j: 0 if upper and j < i else self._sym(kind, i + 1, j + 1),
        )

    def _make_inputs(self) -> dict[str, sp.Matrix]:
        n_in, n_out, r = self.n_in, self.n_out, min(self.n_in, self.n_out)
        out: dict[str, sp.Matrix] = {}
        for name in self.spec.stored:
            if name == "weight":
                out[name] = self._matrix("weight", n_out, n_in)
            elif name == "phi":
                out[name] = self._matrix("phi", n_out, n_in)
            elif name == "lam_in":
                out[name] = self._vector("lam_in", n_in)
            elif name == "lam_out":
                out[name] = self._vector("lam_out", n_out)
            elif name == "s":
                out[name] = self._vector("s", r)
            elif name == "U":
                out[name] = self._matrix("U", n_out, r)
            elif name == "V":
                out[name] = self._matrix("V", r, n_in)
            elif name == "R":
                out[name] = self._matrix("R", r, r, upper=True)
            elif name == "Q":
                out[name] = self._matrix("Q", n_out, n_in)
        if self.has_bias:
            out["bias"] = self._vector("bias", n_out)
        return out

    @staticmethod
    def _symbols_of(m: sp.Matrix) -> list[sp.Symbol]:
        return [e for e in m if isinstance(e, sp.Symbol)]

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        """Names of the stored arrays, in the order :meth:`lambdify` accepts them."""
        return tuple(self.inputs)

    @cached_property
    def trainable_symbols(self) -> tuple[sp.Symbol, ...]:
        """Every trainable scalar symbol (biases included), array by array."""
        return tuple(s for n in self.trainable for s in self._symbols_of(self.inputs[n]))

    @cached_property
    def frozen_symbols(self) -> tuple[sp.Symbol, ...]:
        """Symbols of the stored, frozen arrays (``phi`` and ``lam_in`` of ``eigen-out``)."""
        return tuple(
            s
            for n in self.input_names
            if n not in self.trainable
            for s in self._symbols_of(self.inputs[n])
        )

    @property
    def n_trainable(self) -> int:
        """Number of trainable scalars (``len(trainable_symbols)``)."""
        return len(self.trainable_symbols)

    def trainable_count(self) -> int:
        """:func:`trainable_count_expr` at this layer's sizes (equals :attr:`n_trainable`)."""
        return int(trainable_count_expr(self.preset, self.n_in, self.n_out, bias=self.has_bias))

    # ------------------------------------------------------------ values
    def _resolve_values(self, values: Mapping[Any, Any]) -> dict[sp.Symbol, sp.Expr]:
        out: dict[sp.Symbol, sp.Expr] = {}
        every = set(self.trainable_symbols) | set(self.frozen_symbols)
        for key, val in values.items():
            if isinstance(key, sp.Symbol):
                if key not in every:
                    raise ValueError(f"values: {key} is not a symbol of this operator")
                out[key] = _sympify_value(val)
                continue
            if key not in self.inputs:
                raise ValueError(
                    f"values: unknown array {key!r} for preset {self.preset!r}; "
                    f"expected one of {self.input_names}"
                )
            sym = self.inputs[key]
            arr = np.asarray(val, dtype=object) if _has_sympy(val) else np.asarray(val)
            if arr.dtype.kind not in "iufO":
                raise ValueError(f"values: {key} must be numeric, got dtype {arr.dtype}")
            shape = (sym.rows,) if sym.cols == 1 else sym.shape
            if arr.shape != shape:
                raise ValueError(f"values: {key} must have shape {shape}, got {arr.shape}")
            for idx, s in self._entries(key):
                out[s] = _sympify_value(arr[idx])
        return out

    def _entries(self, name: str) -> list[tuple[tuple[int, ...], sp.Symbol]]:
        """(numpy index, symbol) of every symbolic entry of array ``name``."""
        m = self.inputs[name]
        vec = m.cols == 1
        return [
            ((i,) if vec else (i, j), m[i, j])
            for i in range(m.rows)
            for j in range(m.cols)
            if isinstance(m[i, j], sp.Symbol)
        ]

    def with_values(
        self, values: Mapping[Any, Any] | None = None, **arrays: Any
    ) -> TransferOperator:
        """A copy with numbers (or expressions) substituted for some or all inputs.

        Parameters
        ----------
        values : mapping, optional
            Keys are array names (``"lam_in"``, ``"phi"``, ...) with array-like values of
            the numeric layer's shape, or individual symbols.
        **arrays
            Same as ``values`` with array names as keywords.

        Returns
        -------
        TransferOperator
            Same symbols; matrix properties now show the substituted numbers.

        Examples
        --------
        >>> op = TransferOperator(2, 1, "eigen-out", bias=False).with_values(lam_in=[1, 1])
        >>> op.weights
        Matrix([[phi_11*(1 - lambda^out_1), phi_12*(1 - lambda^out_1)]])
        """
        new = self._copy()
        merged = dict(values or {})
        merged.update(arrays)
        new.values = {**self.values, **self._resolve_values(merged)}
        return new

    def _copy(self) -> TransferOperator:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.values = dict(self.values)
        return new

    def symbolic(self) -> TransferOperator:
        """A copy without substituted values."""
        new = self._copy()
        new.values = {}
        return new

    @classmethod
    def from_layer(
        cls, layer: Any, member: int | None = None, index: int | None = None
    ) -> TransferOperator:
        """The operator of a numeric layer with all its arrays substituted.

        Parameters
        ----------
        layer : spectral_physics.layers.SpectralLayer
            Any object with ``n_in``, ``n_out``, ``preset`` and the arrays of its preset
            (``phi``/``lam_in``/``lam_out``, ``weight``, ``U``/``s``/``V``, ``R``/``Q``,
            ``bias``); NumPy or CuPy.
        member : int, optional
            Ensemble member to read when the arrays carry a leading ensemble axis.
        index : int, optional
            1-based layer number for the symbols' superscript.

        Returns
        -------
        TransferOperator
            ``.weights`` equals ``layer.dense_weight()`` (the weights before any mask).
        """
        bias = getattr(layer, "use_bias", getattr(layer, "bias", None) is not None)
        op = cls(layer.n_in, layer.n_out, layer.preset, bias=bias, layer=index)
        return op.with_values(_layer_arrays(layer, op.input_names, member))

    def _sub(self, m: Any) -> Any:
        return m.xreplace(self.values) if self.values else m

    # ------------------------------------------------------------ symbolic matrices
    @cached_property
    def _phi(self) -> sp.Matrix:
        p, a = self.parametrisation, self.inputs
        if p == "direct":
            return a["weight"]
        if p == "phi":
            return a["phi"]
        if p == "svd":
            return a["U"] * sp.diag(*a["s"]) * a["V"]
        return a["R"] * a["Q"] if self.n_out <= self.n_in else a["Q"] * a["R"]

    @cached_property
    def _lam_in(self) -> sp.Matrix:
        if self.parametrisation == "direct":
            return sp.ones(self.n_in, 1)
        return self.inputs["lam_in"]

    @cached_property
    def _lam_out(self) -> sp.Matrix:
        if self.parametrisation == "direct":
            return sp.zeros(self.n_out, 1)
        return self.inputs["lam_out"]

    @cached_property
    def _Phi(self) -> sp.Matrix:
        m = sp.eye(self.n_in + self.n_out)
        m[self.n_in :, : self.n_in] = self._phi
        return m

    @cached_property
    def _Lambda(self) -> sp.Matrix:
        return sp.diag(*self._lam_in, *self._lam_out)

    @cached_property
    def _Phi_inv(self) -> sp.Matrix:
        return 2 * sp.eye(self.n_in + self.n_out) - self._Phi

    @cached_property
    def _A(self) -> sp.Matrix:
        return (self._Phi * self._Lambda * self._Phi_inv).applyfunc(sp.expand)

    @cached_property
    def _weights(self) -> sp.Matrix:
        lam_in, lam_out, phi = self._lam_in, self._lam_out, self._phi
        return sp.Matrix(self.n_out, self.n_in, lambda i, j: (lam_in[j] - lam_out[i]) * phi[i, j])

    @cached_property
    def G(self) -> sp.Matrix:
        """Symbols ``G_ij = dL/dw_ij``, shape (N_out, N_in), used by :meth:`chain_rule`."""
        return self._matrix("G", self.n_out, self.n_in)

    @property
    def phi(self) -> sp.Matrix:
        """Eigenvector block ``phi``, shape (N_out, N_in) (a product for ``svd``/``qr``)."""
        return self._sub(self._phi)

    @property
    def lam_in(self) -> sp.Matrix:
        """Eigenvalues of the input nodes, shape (N_in, 1) (ones for ``direct``)."""
        return self._sub(self._lam_in)

    @property
    def lam_out(self) -> sp.Matrix:
        """Eigenvalues of the receiving nodes, shape (N_out, 1) (zeros for ``direct``)."""
        return self._sub(self._lam_out)

    @property
    def bias(self) -> sp.Matrix | None:
        """Bias symbols ``b_i``, shape (N_out, 1), or None."""
        return self._sub(self.inputs["bias"]) if self.has_bias else None

    @property
    def Phi(self) -> sp.Matrix:
        """Eigenvector matrix ``[[I, 0], [phi, I]]``, shape (N_in + N_out, N_in + N_out)."""
        return self._sub(self._Phi)

    @property
    def Phi_inv(self) -> sp.Matrix:
        """``Phi^-1 = 2I - Phi = [[I, 0], [-phi, I]]`` (proved by :meth:`verify_inverse`)."""
        return self._sub(self._Phi_inv)

    @property
    def Lambda(self) -> sp.Matrix:
        """Eigenvalue matrix ``diag(lam_in, lam_out)``."""
        return self._sub(self._Lambda)

    @property
    def A(self) -> sp.Matrix:
        """Transfer operator ``Phi Lambda Phi^-1`` (entries expanded)."""
        return self._sub(self._A)

    @property
    def weights(self) -> sp.Matrix:
        """Direct-space weights ``w_ij = (lam_in_j - lam_out_i) phi_ij``, shape (N_out, N_in)."""
        return self._sub(self._weights)

    W = weights

    def matrix(self, name: str) -> sp.Matrix:
        """One of ``Phi``, ``Phi_inv``, ``Lambda``, ``A``, ``weights`` (``W``), ``phi``, ``G``."""
        names = ("Phi", "Phi_inv", "Lambda", "A", "weights", "W", "phi", "lam_in", "lam_out", "G")
        if name not in names:
            raise ValueError(f"name must be one of {names}, got {name!r}")
        return getattr(self, name)

    def preactivation(self) -> sp.Matrix:
        """``z_i = sum_j lam_in_j phi_ij x_j - lam_out_i (phi_i . x) + b_i``, shape (N_out, 1).

        The second term shows the homeostatic reading: ``lam_out_i`` is a gain on the
        projection ``phi_i . x`` reaching node ``i``; ``lam_in_j`` scales input ``j``.
        """
        x = sp.Matrix([_symbol("x", (j + 1,), None, self._wide) for j in range(self.n_in)])
        phi, li, lo = self._phi, self._lam_in, self._lam_out
        rows = []
        for i in range(self.n_out):
            direct = sp.Add(*(li[j] * phi[i, j] * x[j] for j in range(self.n_in)))
            proj = sp.Add(*(phi[i, j] * x[j] for j in range(self.n_in)))
            z = direct - sp.Mul(lo[i], proj, evaluate=False) if lo[i] != 0 else direct
            if self.has_bias:
                z = z + self.inputs["bias"][i]
            rows.append(z)
        return self._sub(sp.Matrix(rows))

    # ------------------------------------------------------------ proofs
    def verify_inverse(self) -> bool:
        """Prove ``Phi^-1 = 2I - Phi``: ``simplify(Phi (2I - Phi) - I) == 0``, both orders."""
        eye = sp.eye(self.n_in + self.n_out)
        two = 2 * eye - self._Phi
        return _is_zero(self._Phi * two - eye) and _is_zero(two * self._Phi - eye)

    def verify(self, charpoly: bool = False) -> dict[str, bool]:
        """Prove the operator identities symbolically (for all parameter values).

        Parameters
        ----------
        charpoly : bool
            Also expand the characteristic polynomial of ``A`` and compare it with
            ``prod(x - lambda)`` (slow beyond ~8 nodes). Without it, the eigenvalue claim is
            proved from the structure: ``A`` is lower triangular with the lambdas on its
            diagonal, so ``det(A - x I)`` is the product of the diagonal.

        Returns
        -------
        dict of str to bool
            ``"Phi_inv = 2I - Phi"``, ``"A Phi = Phi Lambda"``,
            ``"eigenvalues of A = lambdas"``, ``"w_ij = (lam_in_j - lam_out_i) phi_ij"``.
        """
        A, Phi, Lam = self._A, self._Phi, self._Lambda
        lams = list(self._lam_in) + list(self._lam_out)
        eig = A.is_lower and all(_is_zero(A[k, k] - lams[k]) for k in range(len(lams)))
        if charpoly:
            x = sp.Symbol("x_charpoly")  # PurePoly swaps Dummy generators
            poly = A.charpoly(x).as_expr()
            eig = eig and _is_zero(sp.expand(poly - sp.Mul(*(x - lam for lam in lams))))
        return {
            "Phi_inv = 2I - Phi": self.verify_inverse(),
            "A Phi = Phi Lambda": _is_zero(A * Phi - Phi * Lam),
            "eigenvalues of A = lambdas": bool(eig),
            "w_ij = (lam_in_j - lam_out_i) phi_ij": _is_zero(
                A[self.n_in :, : self.n_in] - self._weights
            ),
        }

    # ------------------------------------------------------------ gradients
    def weight_gradients(
        self, symbols: Iterable[sp.Symbol] | None = None
    ) -> dict[sp.Symbol, sp.Matrix]:
        """``dW/dp`` for each parameter symbol ``p``, each of shape (N_out, N_in).

        Parameters
        ----------
        symbols : iterable of sympy.Symbol, optional
            Default: the trainable symbols other than biases (``dW/db = 0``).

        Returns
        -------
        dict of sympy.Symbol to sympy.Matrix
            E.g. for ``lambda^in_j`` the matrix is ``phi`` restricted to column ``j``
            (an input eigenvalue moves a whole column of weights), for ``lambda^out_i``
            minus row ``i`` of ``phi``.
        """
        if symbols is None:
            bias = set(self._symbols_of(self.inputs["bias"])) if self.has_bias else set()
            symbols = [s for s in self.trainable_symbols if s not in bias]
        return {s: self._sub(self._weights.diff(s)) for s in symbols}

    def support(self, symbol: sp.Symbol) -> np.ndarray:
        """Boolean (N_out, N_in) map of the weights that depend on ``symbol``."""
        d = self._weights.diff(symbol)
        return np.array([[d[i, j] != 0 for j in range(self.n_in)] for i in range(self.n_out)])

    def chain_rule(self, G: sp.Matrix | None = None) -> dict[sp.Symbol, sp.Expr]:
        """``dL/dp = sum_ij G_ij dw_ij/dp`` for every trainable symbol except biases.

        Parameters
        ----------
        G : sympy.Matrix, shape (N_out, N_in), optional
            ``dL/dW``; default the symbols :attr:`G`.

        Returns
        -------
        dict of sympy.Symbol to sympy.Expr
            E.g. ``dL/dphi_ij = G_ij (lam_in_j - lam_out_i)``,
            ``dL/dlam_in_j = sum_i G_ij phi_ij``, ``dL/dlam_out_i = -sum_j G_ij phi_ij``.
        """
        G = self.G if G is None else sp.Matrix(G)
        if G.shape != (self.n_out, self.n_in):
            raise ValueError(f"G must have shape {(self.n_out, self.n_in)}, got {G.shape}")
        out = {}
        for s, d in self.weight_gradients().items():
            terms = (G[i, j] * d[i, j] for i in range(self.n_out) for j in range(self.n_in))
            out[s] = sp.Add(*terms)
        return out

    # ------------------------------------------------------------ numbers
    def _flat_args(self, arrays: Mapping[str, Any]) -> list[Any]:
        flat = []
        for name in self.input_names:
            entries = self._entries(name)
            if name in arrays:
                arr = np.asarray(_to_numpy(arrays[name]), dtype=np.float64)
                flat.extend(arr[idx] for idx, _ in entries)
            else:
                for _, s in entries:
                    if s not in self.values:
                        raise ValueError(f"missing array {name!r} (no stored value for {s})")
                    flat.append(float(self.values[s]))
        return flat

    @cached_property
    def _arg_symbols(self) -> list[sp.Symbol]:
        return [s for n in self.input_names for _, s in self._entries(n)]

    def lambdify(self, expr: str | sp.Basic = "weights") -> Callable[..., np.ndarray]:
        """A NumPy function evaluating a matrix (or any expression in this operator's symbols).

        Parameters
        ----------
        expr : str or sympy expression
            ``"weights"`` (default), ``"A"``, ``"Phi"``, ``"Phi_inv"``, ``"Lambda"``, ``"phi"``,
            or an expression built from :attr:`inputs` symbols (unsubstituted).

        Returns
        -------
        callable
            ``f(**arrays) -> ndarray`` (float64). Keywords are array names
            (:attr:`input_names`) with the numeric layer's shapes; arrays not given fall back
            on :attr:`values` (so ``TransferOperator.from_layer(layer).lambdify()()`` works).

        Examples
        --------
        >>> import numpy as np
        >>> f = TransferOperator(2, 2, "eigen", bias=False).lambdify()
        >>> f(phi=np.ones((2, 2)), lam_in=np.array([3.0, 0.0]), lam_out=np.array([1.0, 0.5]))
        array([[ 2. , -1. ],
               [ 2.5, -0.5]])
        """
        if isinstance(expr, str):
            names = ("weights", "W", "A", "Phi", "Phi_inv", "Lambda", "phi", "lam_in", "lam_out")
            if expr not in names:
                raise ValueError(
                    "expr must be one of 'weights', 'A', 'Phi', 'Phi_inv', 'Lambda', 'phi', "
                    f"'lam_in', 'lam_out' or a sympy expression, got {expr!r}"
                )
            target = getattr(self, "_" + ("weights" if expr == "W" else expr))
        else:
            target = sp.sympify(expr)
        fn = sp.lambdify(self._arg_symbols, target, modules="numpy", cse=True)

        def evaluate(**arrays: Any) -> np.ndarray:
            unknown = set(arrays) - set(self.input_names)
            if unknown:
                raise ValueError(f"unknown arrays {sorted(unknown)}; expected {self.input_names}")
            return np.asarray(fn(*self._flat_args(arrays)), dtype=np.float64)

        return evaluate

    def lambdify_gradients(self) -> Callable[..., dict[str, np.ndarray]]:
        """A NumPy function chaining ``G = dL/dW`` to the trainable arrays (biases excluded).

        Returns
        -------
        callable
            ``f(G, **arrays) -> dict name -> ndarray``; ``G`` has shape (N_out, N_in), the
            result has the numeric layer's gradient shapes (``R`` upper triangular), the
            same contract as ``SpectralLayer.grads_from_weight_grad``.
        """
        rule = self.chain_rule()
        names = [n for n in self.trainable if n != "bias"]
        mats = []
        for n in names:
            m = self.inputs[n]
            mats.append(m.applyfunc(lambda s: rule[s] if isinstance(s, sp.Symbol) else 0))
        g_syms = list(self.G)
        fn = sp.lambdify(self._arg_symbols + g_syms, mats, modules="numpy", cse=True)

        def evaluate(G: Any, **arrays: Any) -> dict[str, np.ndarray]:
            g = np.asarray(_to_numpy(G), dtype=np.float64)
            if g.shape != (self.n_out, self.n_in):
                raise ValueError(f"G must have shape {(self.n_out, self.n_in)}, got {g.shape}")
            res = fn(*self._flat_args(arrays), *g.ravel())
            out = {}
            for n, r in zip(names, res, strict=True):
                r = np.asarray(r, dtype=np.float64)
                out[n] = r.ravel() if self.inputs[n].cols == 1 else r
            return out

        return evaluate

    def to_numpy(self, name: str = "weights") -> np.ndarray:
        """A matrix with all values substituted, as float64 NumPy (every symbol needs a value)."""
        m = self.matrix(name)
        free = m.free_symbols
        if free:
            raise ValueError(f"{name} still has free symbols {sorted(map(str, free))[:4]}...; "
                             "substitute values first (with_values / from_layer)")
        return np.array(m.evalf(), dtype=np.float64)

    # ------------------------------------------------------------ printing
    _TEX_NAMES = {
        "Phi": r"\Phi", "Phi_inv": r"\Phi^{-1}", "Lambda": r"\Lambda", "A": "A",
        "weights": "W", "W": "W", "phi": r"\phi", "lam_in": r"\lambda^{\mathrm{in}}",
        "lam_out": r"\lambda^{\mathrm{out}}", "G": "G",
    }
    _UNI_NAMES = {
        "Phi": "Φ", "Phi_inv": "Φ⁻¹", "Lambda": "Λ", "A": "A", "weights": "W", "W": "W",
        "phi": "φ", "lam_in": "λⁱⁿ", "lam_out": "λᵒᵘᵗ", "G": "G",
    }

    def latex(self, name: str = "A", digits: int | None = None) -> str:
        r"""LaTeX equation ``<name> = <matrix>``, e.g. ``A = \left[\begin{matrix}...``.

        Parameters
        ----------
        name : str
            ``Phi``, ``Phi_inv``, ``Lambda``, ``A``, ``weights``, ``phi``, ``lam_in``, ``lam_out``.
        digits : int, optional
            Significant digits of substituted numbers.
        """
        lhs = self._TEX_NAMES[name] if name in self._TEX_NAMES else name
        if self.layer is not None:
            lhs = f"{lhs}^{{({self.layer})}}" if "^" not in lhs else f"{{{lhs}}}^{{({self.layer})}}"
        return f"{lhs} = {latex(self.matrix(name), digits)}"

    def pretty(self, name: str = "A", digits: int | None = None) -> str:
        """Unicode block ``<name> =`` followed by the pretty-printed matrix."""
        lhs = self._UNI_NAMES.get(name, name)
        if self.layer is not None:
            lhs += f"({self.layer})".translate(_SUP)
        return f"{lhs} =\n{pretty(self.matrix(name), digits)}"

    def __repr__(self) -> str:
        vals = f", {len(self.values)} values" if self.values else ""
        lay = f", layer={self.layer}" if self.layer is not None else ""
        return (
            f"TransferOperator({self.n_in} -> {self.n_out}, preset={self.preset!r}, "
            f"trainable={self.n_trainable}{lay}{vals})"
        )


def _has_sympy(val: Any) -> bool:
    if isinstance(val, sp.Basic):
        return True
    if isinstance(val, np.ndarray):
        return val.dtype == object
    if isinstance(val, (list, tuple, sp.MatrixBase)):
        return any(_has_sympy(v) for v in val)
    return False


def _layer_arrays(layer: Any, names: Sequence[str], member: int | None) -> dict[str, np.ndarray]:
    """float64 host copies of a numeric layer's arrays (one ensemble member)."""
    ens = getattr(layer, "ensemble_size", None)
    if ens and member is None:
        raise ValueError("member must be given for an ensemble layer")
    out = {}
    for name in names:
        arr = np.asarray(_to_numpy(getattr(layer, name)), dtype=np.float64)
        if ens:
            arr = arr[member]
        out[name] = arr
    return out


# ---------------------------------------------------------------- whole network
class NodeEigenvalues(NamedTuple):
    """The eigenvalues one node owns in a network.

    Attributes
    ----------
    group : int
        Index into ``sizes`` (0: input nodes, ``L``: output nodes).
    node : int
        1-based node index inside the group (as in the symbols' subscripts).
    role : {"input", "hidden", "output"}
    lam_out : sympy.Expr or None
        ``lam_out`` of the layer feeding the node (None for inputs).
    lam_in : sympy.Expr or None
        ``lam_in`` of the layer the node feeds (None for outputs).
    diagonal : sympy.Expr
        The entry the network operator puts on the diagonal for this node.
    """

    group: int
    node: int
    role: str
    lam_out: Any
    lam_in: Any
    diagonal: Any


class NetworkOperator:
    """The whole network ``N_0 -> N_1 -> ... -> N_L`` as one symbolic operator.

    The operator acts on all ``sum(sizes)`` nodes. It is block lower-bidiagonal: block
    ``(k+1, k)`` holds the weights ``W^(k+1)`` of layer ``k+1`` (1-based, as the symbols'
    superscripts; ``net.layers[k]`` in the numeric core), and the diagonal holds one
    eigenvalue per node.

    Parameters
    ----------
    sizes : sequence of int
        ``(N_0, ..., N_L)``, at least two entries.
    preset : str or iterable of str
    diagonal : {"out", "in", "tied"}
        Which of a hidden node's two eigenvalues sits on the diagonal (inputs always get
        ``lam_in`` of layer 1, outputs ``lam_out`` of layer L):

        * ``"out"`` (default, as ``SpectralMLP.network_operator``): ``lam_out`` of the layer
          feeding the node, the eigenvalue node pruning ranks nodes by. ``lam_in`` of the
          next layer acts only through that layer's weights (a column of ``W``).
        * ``"in"``: ``lam_in`` of the layer the node feeds.
        * ``"tied"``: ``lam_in^(k+1)`` is set equal to ``lam_out^(k)``, one eigenvalue per
          node; then every layer's operator ``A^(k)`` is the principal block of the network
          operator over the two groups it joins, and its eigenvectors extend those of
          ``phi^(k)``. Not available for ``direct``, whose eigenvalues are fixed (1 and 0).
    bias : bool
    values : sequence of mappings, optional
        Per layer, values as in :meth:`TransferOperator.with_values`.

    Attributes
    ----------
    sizes : list of int
    layers : list of TransferOperator
        ``layers[k]`` is layer ``k+1`` (superscript ``(k+1)``).
    offsets : list of int
        Index of the first node of each group in the operator.

    Notes
    -----
    Whatever the diagonal, the operator is lower triangular, so its eigenvalues are its
    diagonal entries. The eigenvectors (:meth:`eigenvectors`) follow by forward
    substitution: for the eigenvalue ``mu`` of node ``j`` of group ``g``,
    ``v_g = e_j`` and ``v_{m+1} = (mu I - D_{m+1})^-1 W^(m+1) v_m``. They form a unit lower
    triangular matrix ``P`` (so ``det P = 1``) that reduces to ``Phi`` for one layer. They
    exist when the eigenvalue of a node differs from those of all later nodes it reaches;
    with ``direct`` and two or more layers every non-input node has eigenvalue 0 and the
    operator is defective (a Jordan chain), which :meth:`eigenvectors` reports.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        preset: str | Iterable[str] = "spectral",
        *,
        diagonal: str = "out",
        bias: bool = True,
        values: Sequence[Mapping[Any, Any] | None] | None = None,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must hold at least two layer sizes, got {sizes!r}")
        self.sizes = [_check_size(f"sizes[{k}]", n) for k, n in enumerate(sizes)]
        if sum(self.sizes) > _HARD_LIMIT_NODES:
            raise ValueError(
                f"sum(sizes) = {sum(self.sizes)} exceeds {_HARD_LIMIT_NODES} nodes; symbolic "
                "operators grow quadratically, use the numeric core for large networks"
            )
        if diagonal not in _DIAGONALS:
            raise ValueError(f"diagonal must be one of {_DIAGONALS}, got {diagonal!r}")
        spec = _parse_preset(preset)
        self.preset, self.parametrisation = spec.name, spec.parametrisation
        if diagonal == "tied" and self.parametrisation == "direct":
            raise ValueError(
                "diagonal='tied' needs eigenvalue parameters; preset 'direct' has none"
            )
        self.diagonal = diagonal
        self.has_bias = bool(bias)
        self.layers = [
            TransferOperator(a, b, self.preset, bias=bias, layer=k + 1)
            for k, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True))
        ]
        if values is not None:
            if len(values) != len(self.layers):
                raise ValueError(f"values must hold one mapping per layer ({len(self.layers)})")
            pairs = zip(self.layers, values, strict=True)
            self.layers = [op.with_values(v) if v else op for op, v in pairs]
        if diagonal == "tied":
            for k in range(1, len(self.layers)):
                prev, cur = self.layers[k - 1], self.layers[k]
                tie = dict(zip(cur.inputs["lam_in"], prev.lam_out, strict=True))
                self.layers[k] = cur.with_values(tie)
        self.offsets = [0]
        for n in self.sizes[:-1]:
            self.offsets.append(self.offsets[-1] + n)

    @classmethod
    def from_network(
        cls, net: Any, member: int | None = None, diagonal: str = "out"
    ) -> NetworkOperator:
        """The operator of a numeric :class:`~spectral_physics.network.SpectralMLP`.

        Parameters
        ----------
        net : SpectralMLP
        member : int, optional
            Ensemble member.
        diagonal : {"out", "in"}
            ``"tied"`` is refused: it would overwrite the network's own ``lam_in``.

        Returns
        -------
        NetworkOperator
            With ``diagonal="out"``, :meth:`to_numpy` equals ``net.network_operator()``.
        """
        if diagonal == "tied":
            raise ValueError(
                "diagonal='tied' would replace the network's lam_in; use 'out' or 'in'"
            )
        bias = getattr(net, "bias", True)
        probe = cls(net.sizes, net.preset, diagonal=diagonal, bias=bias)
        values = [
            _layer_arrays(lay, op.input_names, member)
            for lay, op in zip(net.layers, probe.layers, strict=True)
        ]
        return cls(net.sizes, net.preset, diagonal=diagonal, bias=bias, values=values)

    # ------------------------------------------------------------ structure
    @property
    def n_nodes(self) -> int:
        return sum(self.sizes)

    def _group(self, g: int) -> slice:
        return slice(self.offsets[g], self.offsets[g] + self.sizes[g])

    def _diag_of_group(self, g: int) -> list[Any]:
        L = len(self.layers)
        if g == 0:
            return list(self.layers[0].lam_in)
        if self.diagonal == "in" and g < L:
            return list(self.layers[g].lam_in)
        return list(self.layers[g - 1].lam_out)

    @property
    def diagonal_entries(self) -> list[Any]:
        """The eigenvalue on the diagonal for every node, group by group."""
        return [d for g in range(len(self.sizes)) for d in self._diag_of_group(g)]

    eigenvalues = diagonal_entries

    def node_table(self) -> list[NodeEigenvalues]:
        """Which eigenvalues every node owns and which one sits on the diagonal."""
        rows = []
        L = len(self.layers)
        for g, n in enumerate(self.sizes):
            diag = self._diag_of_group(g)
            role = "input" if g == 0 else ("output" if g == L else "hidden")
            for i in range(n):
                lo = self.layers[g - 1].lam_out[i] if g > 0 else None
                li = self.layers[g].lam_in[i] if g < L else None
                rows.append(NodeEigenvalues(g, i + 1, role, lo, li, diag[i]))
        return rows

    @property
    def A(self) -> sp.Matrix:
        """Block lower-bidiagonal operator, shape (sum(sizes), sum(sizes))."""
        m = sp.diag(*self.diagonal_entries)
        for k, op in enumerate(self.layers):
            m[self._group(k + 1), self._group(k)] = op.weights
        return m

    def weights(self) -> list[sp.Matrix]:
        """``W^(k)`` for every layer, shapes (N_k, N_{k-1})."""
        return [op.weights for op in self.layers]

    @property
    def trainable_symbols(self) -> tuple[sp.Symbol, ...]:
        """Every trainable symbol of the network (tied ``lam_in`` removed)."""
        tied = set()
        if self.diagonal == "tied":
            tied = {s for op in self.layers[1:] for s in op.inputs["lam_in"]}
        return tuple(s for op in self.layers for s in op.trainable_symbols if s not in tied)

    @property
    def n_trainable(self) -> int:
        return len(self.trainable_symbols)

    def trainable_count(self) -> int:
        """:func:`network_count_expr` at these sizes (untied)."""
        return int(network_count_expr(self.preset, self.sizes, bias=self.has_bias))

    # ------------------------------------------------------------ spectrum
    def eigenvectors(self) -> sp.Matrix:
        """Right eigenvectors as the columns of ``P``, ordered as :attr:`eigenvalues`.

        Returns
        -------
        sympy.Matrix, shape (sum(sizes), sum(sizes))
            Unit lower triangular; ``A P = P diag(eigenvalues)``.

        Raises
        ------
        ValueError
            When an eigenvalue equals that of a later node it reaches (the operator is then
            not diagonalisable by this construction; e.g. ``direct`` with two layers or more).
        """
        n = self.n_nodes
        P = sp.zeros(n, n)
        diag = [self._diag_of_group(g) for g in range(len(self.sizes))]
        W = self.weights()
        for g, size in enumerate(self.sizes):
            for j in range(size):
                mu = diag[g][j]
                col = self.offsets[g] + j
                v = sp.zeros(size, 1)
                v[j] = 1
                P[col, col] = 1
                for m in range(g, len(self.layers)):
                    u = W[m] * v
                    nxt = sp.zeros(self.sizes[m + 1], 1)
                    for i in range(self.sizes[m + 1]):
                        gap = sp.cancel(mu - diag[m + 1][i])
                        if gap == 0:
                            if _is_zero(u[i]):
                                continue
                            raise ValueError(
                                f"the eigenvalue {mu} of node {j + 1} in group {g} equals that of "
                                f"node {i + 1} in group {m + 1}, which it reaches: the operator is "
                                "defective (no eigenvector basis)"
                            )
                        # the first step cancels to phi (Phi of one layer); deeper ones do not,
                        # and cancelling their nested fractions costs far more than it shows
                        nxt[i] = sp.factor(sp.cancel(u[i] / gap)) if m == g else u[i] / gap
                    v = nxt
                    P[self._group(m + 1), col] = v
        return P

    def verify(self, charpoly: bool = False) -> dict[str, bool]:
        """Prove the structure and spectrum of the network operator symbolically.

        Parameters
        ----------
        charpoly : bool
            Also compare the expanded characteristic polynomial with ``prod(x - d)``.

        Returns
        -------
        dict of str to bool
            ``"block lower-bidiagonal"``, ``"eigenvalues = diagonal"``,
            ``"A P = P D"`` (eigenvectors), and for ``diagonal="tied"``
            ``"layer operators are principal blocks"``.
        """
        A = self.A
        ok_struct = A.is_lower
        for gi in range(len(self.sizes)):
            for gj in range(len(self.sizes)):
                if gi - gj not in (0, 1):
                    ok_struct = ok_struct and _is_zero(A[self._group(gi), self._group(gj)])
        d = self.diagonal_entries
        eig = A.is_lower and all(_is_zero(A[k, k] - d[k]) for k in range(self.n_nodes))
        if charpoly:
            x = sp.Symbol("x_charpoly")  # PurePoly swaps Dummy generators
            eig = eig and _is_zero(sp.expand(A.charpoly(x).as_expr() - sp.Mul(*(x - e for e in d))))
        P = self.eigenvectors()
        out = {
            "block lower-bidiagonal": bool(ok_struct),
            "eigenvalues = diagonal": bool(eig),
            "A P = P D": _is_zero(A * P - P * sp.diag(*d)),
        }
        if self.diagonal == "tied" or len(self.layers) == 1:
            ok = True
            for k, op in enumerate(self.layers):
                rows = slice(self.offsets[k], self.offsets[k] + self.sizes[k] + self.sizes[k + 1])
                ok = ok and _is_zero(A[rows, rows] - op.A)
            out["layer operators are principal blocks"] = ok
        return out

    # ------------------------------------------------------------ linear network
    def end_to_end(self) -> sp.Matrix:
        """``W^(L) ... W^(1)``, shape (N_L, N_0): the map of the network without activations."""
        m = self.layers[0].weights
        for op in self.layers[1:]:
            m = op.weights * m
        return m

    def inputs_targets(self) -> tuple[sp.Matrix, sp.Matrix]:
        """Symbols ``x_j`` (N_0, 1) and ``y_c`` (N_L, 1) used by :meth:`squared_loss`."""
        wide = max(self.sizes) >= 10
        x = sp.Matrix([_symbol("x", (j + 1,), None, wide) for j in range(self.sizes[0])])
        y = sp.Matrix([_symbol("y", (c + 1,), None, wide) for c in range(self.sizes[-1])])
        return x, y

    def output(self, x: sp.Matrix | None = None) -> sp.Matrix:
        """Output of the linear network ``W^(L)(... (W^(1) x + b^(1)) ...) + b^(L)``."""
        a = self.inputs_targets()[0] if x is None else sp.Matrix(x)
        for op in self.layers:
            a = op.weights * a
            if op.has_bias:
                a = a + op.bias
        return a

    def squared_loss(self) -> sp.Expr:
        """``L = 1/2 sum_c (f_c(x) - y_c)^2`` for one sample of the linear network."""
        x, y = self.inputs_targets()
        r = self.output(x) - y
        return sp.Rational(1, 2) * sp.Add(*(e**2 for e in r))

    def loss_gradients(
        self, symbols: Iterable[sp.Symbol] | None = None
    ) -> dict[sp.Symbol, sp.Expr]:
        """``dL/dp`` of :meth:`squared_loss` for every trainable symbol (or those given)."""
        L = self.squared_loss()
        symbols = self.trainable_symbols if symbols is None else symbols
        return {s: sp.diff(L, s) for s in symbols}

    def backprop_gradients(self) -> dict[sp.Symbol, sp.Expr]:
        """The same gradients by backpropagation and :meth:`TransferOperator.chain_rule`.

        ``dL/dW^(k) = (W^(L) ... W^(k+1))^T r a_{k-1}^T`` with residual ``r = f(x) - y``;
        then ``dL/dp = sum_ij [dL/dW^(k)]_ij dw_ij/dp``. Equal to :meth:`loss_gradients`
        (proved in the tests), it shows which products of weights an eigenvalue gradient
        collects.
        """
        x, y = self.inputs_targets()
        acts = [x]
        for op in self.layers:
            a = op.weights * acts[-1]
            acts.append(a + op.bias if op.has_bias else a)
        delta = acts[-1] - y
        out: dict[sp.Symbol, sp.Expr] = {}
        for k in range(len(self.layers) - 1, -1, -1):
            op = self.layers[k]
            G = delta * acts[k].T
            out.update(op.chain_rule(G))
            if op.has_bias:
                out.update(dict(zip(op.inputs["bias"], delta, strict=True)))
            delta = op.weights.T * delta
        wanted = set(self.trainable_symbols)
        if self.diagonal == "tied":
            # a tied eigenvalue collects from both layers it appears in
            return {s: sp.diff(self.squared_loss(), s) for s in self.trainable_symbols}
        return {s: g for s, g in out.items() if s in wanted}

    # ------------------------------------------------------------ numbers and printing
    def to_numpy(self) -> np.ndarray:
        """The operator with all values substituted, float64 NumPy."""
        m = self.A
        if m.free_symbols:
            raise ValueError("the operator still has free symbols; build it with from_network")
        return np.array(m.evalf(), dtype=np.float64)

    def latex(self, what: str = "A", digits: int | None = None) -> str:
        """LaTeX of ``"A"``, ``"P"`` (eigenvectors) or ``"end_to_end"``."""
        m, lhs = self._named(what)
        return f"{lhs[0]} = {latex(m, digits)}"

    def pretty(self, what: str = "A", digits: int | None = None) -> str:
        """Unicode form of ``"A"``, ``"P"`` or ``"end_to_end"``."""
        m, lhs = self._named(what)
        return f"{lhs[1]} =\n{pretty(m, digits)}"

    def _named(self, what: str) -> tuple[sp.Matrix, tuple[str, str]]:
        if what == "A":
            return self.A, (r"A_{\mathrm{net}}", "A_net")
        if what == "P":
            return self.eigenvectors(), (r"P_{\mathrm{net}}", "P_net")
        if what == "end_to_end":
            return self.end_to_end(), (r"W^{(L)} \cdots W^{(1)}", "W⁽ᴸ⁾⋯W⁽¹⁾")
        raise ValueError(f"what must be 'A', 'P' or 'end_to_end', got {what!r}")

    def __repr__(self) -> str:
        return (
            f"NetworkOperator({self.sizes}, preset={self.preset!r}, diagonal={self.diagonal!r}, "
            f"nodes={self.n_nodes})"
        )
