"""``spectral-physics symbolic``: print symbolic transfer operators (pretty or LaTeX).

Example::

    spectral-physics symbolic --sizes 2,3                  # one layer 2 -> 3, preset spectral
    spectral-physics symbolic --sizes 2,3 --preset svd --latex
    spectral-physics symbolic --network 2,3,2 --eigenvectors

For one layer it prints Phi, Lambda, Phi^-1, A = Phi Lambda Phi^-1 and the weights,
the trainable and frozen symbols, the parameter count as a formula, and the result of
the symbolic proofs (:meth:`spectral_physics.symbolic.TransferOperator.verify`). With
``--gradients`` it adds dW/dp for every eigenvalue (the whole row or column it moves).
For a network it prints which eigenvalues each node owns, the block lower-bidiagonal
operator and its eigenvalues (``--eigenvectors`` adds them).

Symbolic output grows quadratically with the number of nodes, so at most
:data:`~spectral_physics.symbolic.MAX_SYMBOLIC_NODES` nodes are accepted.
"""

from __future__ import annotations

from . import CLIError

__all__ = ["register", "parse_sizes"]

_SECTIONS = ("Phi", "Lambda", "Phi_inv", "A", "weights")


def parse_sizes(text: str, option: str, *, min_len: int, max_len: int | None = None) -> list[int]:
    """Parse ``"2,3"`` into positive integers, refusing totals above the symbolic limit.

    Raises
    ------
    spectral_physics.cli.CLIError
        One line naming the option and what is wrong.
    """
    from spectral_physics.symbolic import MAX_SYMBOLIC_NODES

    parts = [p.strip() for p in str(text).split(",")]
    sizes = []
    for p in parts:
        try:
            n = int(p)
        except ValueError:
            raise CLIError(
                f"{option} must be comma-separated positive integers, got {text!r}"
            ) from None
        if n < 1:
            raise CLIError(f"{option} entries must be positive integers, got {n} in {text!r}")
        sizes.append(n)
    if len(sizes) < min_len or (max_len is not None and len(sizes) > max_len):
        want = f"exactly {min_len}" if max_len == min_len else f"at least {min_len}"
        raise CLIError(f"{option} needs {want} sizes, got {len(sizes)} in {text!r}")
    total = sum(sizes)
    if total > MAX_SYMBOLIC_NODES:
        raise CLIError(
            f"{option} {text} has {total} nodes, more than the limit of {MAX_SYMBOLIC_NODES}: "
            "symbolic output grows quadratically with the number of nodes (one entry per pair); "
            "use the numeric core for larger layers"
        )
    return sizes


def register(sub) -> None:
    """Add the ``symbolic`` subcommand to an argparse subparsers object."""
    p = sub.add_parser(
        "symbolic",
        help="print symbolic transfer operators (SymPy)",
        description="Print s" + __doc__.splitlines()[0].split(": print s", 1)[1],
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--sizes", default=None, metavar="N_IN,N_OUT",
        help="one layer, e.g. 2,3 (default when --network is not given)",
    )
    what.add_argument(
        "--network", default=None, metavar="N0,N1,...",
        help="a whole network, e.g. 2,3,2",
    )
    p.add_argument(
        "--preset", default="spectral",
        help="direct, eigen-out, eigen, spectral (default), svd, qr, or e.g. phi+lam_out",
    )
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of Unicode")
    p.add_argument("--ascii", action="store_true", help="plain ASCII pretty printing")
    p.add_argument(
        "--diagonal", default="out", choices=("out", "in", "tied"),
        help="network only: which eigenvalue of a hidden node sits on the diagonal",
    )
    p.add_argument("--no-bias", action="store_true", help="layers without biases")
    p.add_argument(
        "--gradients", action="store_true",
        help="also print dW/dp for every trainable eigenvalue (one row or column each)",
    )
    p.add_argument(
        "--eigenvectors", action="store_true", help="network only: also print the eigenvectors"
    )
    p.add_argument("--no-verify", action="store_true", help="skip the symbolic proofs")

    def checked_run(args) -> int:
        # argparse cannot express "only with --network" for a flag; refuse it as a usage error
        # (exit 2, one line) instead of silently printing a layer report without eigenvectors
        if args.eigenvectors and args.network is None:
            p.error("argument --eigenvectors: needs --network (a layer report has no eigenvector section)")
        return run(args)

    p.set_defaults(func=checked_run)


class _Out:
    """Formats sections as pretty text or LaTeX (one ``align``-ready line per equation)."""

    def __init__(self, tex: bool, ascii_only: bool) -> None:
        self.tex, self.ascii = tex, ascii_only
        self.lines: list[str] = []

    def say(self, text: str = "") -> None:
        self.lines.append(text)

    def comment(self, text: str) -> None:
        self.say(("% " if self.tex else "") + text)

    def expr(self, label_tex: str, label_txt: str, expr) -> None:
        from spectral_physics.symbolic import latex, pretty

        if self.tex:
            self.say(f"{label_tex} = {latex(expr)}")
        else:
            body = pretty(expr, use_unicode=not self.ascii)
            self.say(f"{label_txt} =" + ("\n" if "\n" in body else " ") + body)

    def sym(self, e) -> str:
        from spectral_physics.symbolic import latex, pretty

        return latex(e) if self.tex else pretty(e, use_unicode=not self.ascii)

    def text(self) -> str:
        return "\n".join(self.lines)


def _layer_report(args, out: _Out) -> None:
    from spectral_physics.symbolic import TransferOperator, trainable_count_expr

    n_in, n_out = parse_sizes(args.sizes or "2,3", "--sizes", min_len=2, max_len=2)
    op = TransferOperator(n_in, n_out, args.preset, bias=not args.no_bias)
    out.comment(f"spectral layer {n_in} -> {n_out}, preset {op.preset!r}")
    out.comment("trainable: " + ", ".join(map(out.sym, op.trainable_symbols)))
    out.comment("frozen: " + (", ".join(map(out.sym, op.frozen_symbols)) or "-"))
    expr = trainable_count_expr(op.preset, bias=op.has_bias)
    out.comment(f"trainable count: {out.sym(expr)} = {op.trainable_count()}")
    out.say()
    labels = {
        "Phi": (r"\Phi", "Φ", "Phi"), "Lambda": (r"\Lambda", "Λ", "Lambda"),
        "Phi_inv": (r"\Phi^{-1}", "Φ⁻¹", "Phi^-1"), "A": ("A", "A", "A"), "weights": ("W", "W", "W"),
    }
    for name in _SECTIONS:
        tex, uni, asc = labels[name]
        out.expr(tex, asc if out.ascii else uni, op.matrix(name))
        out.say()
    if args.gradients:
        grads = op.weight_gradients()
        eig = [s for s in grads if str(s).startswith("lambda")]
        if not eig:
            out.comment(f"preset {op.preset!r} trains no eigenvalue; dW/dp is one entry per p")
        for s in eig:
            tex = rf"\frac{{\partial W}}{{\partial {out.sym(s)}}}"
            txt = f"dW/d{out.sym(s)}"
            out.expr(tex, txt, grads[s])
            out.say()
    if not args.no_verify:
        for claim, ok in op.verify().items():
            out.comment(f"{'proved' if ok else 'FAILED'}: {claim}")


def _network_report(args, out: _Out) -> None:
    from spectral_physics.symbolic import NetworkOperator, network_count_expr

    sizes = parse_sizes(args.network, "--network", min_len=2)
    net = NetworkOperator(sizes, args.preset, diagonal=args.diagonal, bias=not args.no_bias)
    out.comment(f"network {'-'.join(map(str, sizes))}, preset {net.preset!r}, "
                f"diagonal {net.diagonal!r}, {net.n_nodes} nodes")
    count = network_count_expr(net.preset, sizes, bias=net.has_bias)
    out.comment(f"trainable count: {count}"
                + (" (before tying)" if net.diagonal == "tied" else ""))
    out.comment("eigenvalues each node owns (lam_out of the layer feeding it, lam_in of the layer "
                "it feeds; * = on the diagonal):")

    def show(e, star: bool) -> str:
        return "-" if e is None else out.sym(e) + ("*" if star else "")

    for row in net.node_table():
        lo_on = row.lam_out is not None and row.diagonal == row.lam_out
        li_on = row.lam_in is not None and row.diagonal == row.lam_in and not lo_on
        out.comment(f"  group {row.group} ({row.role}) node {row.node}: "
                    f"lam_out {show(row.lam_out, lo_on)}, lam_in {show(row.lam_in, li_on)}")
    out.say()
    out.expr(r"A_{\mathrm{net}}", "A_net", net.A)
    out.say()
    ev = net.eigenvalues
    out.comment("eigenvalues (A_net is lower triangular: det(A_net - x I) = prod(d_k - x)):")
    out.say(", ".join(map(out.sym, ev)))
    if args.eigenvectors:
        out.say()
        try:
            P = net.eigenvectors()
        except ValueError as exc:
            out.comment(f"no eigenvector basis: {exc}")
        else:
            out.comment("right eigenvectors (columns, in the order of the eigenvalues):")
            out.expr(r"P_{\mathrm{net}}", "P_net", P)
    if args.gradients:
        out.say()
        out.comment("linear network, squared loss L = 1/2 |f(x) - y|^2; end-to-end map:")
        out.expr(r"W^{(L)} \cdots W^{(1)}", "W(L)...W(1)", net.end_to_end())
    if not args.no_verify:
        out.say()
        checks = net.verify() if args.eigenvectors else _cheap_network_checks(net)
        for claim, ok in checks.items():
            out.comment(f"{'proved' if ok else 'FAILED'}: {claim}")


def _cheap_network_checks(net) -> dict[str, bool]:
    A = net.A
    d = net.diagonal_entries
    return {
        "A_net is lower triangular": bool(A.is_lower),
        "eigenvalues = diagonal": bool(A.is_lower) and all(
            A[k, k] == d[k] for k in range(net.n_nodes)
        ),
    }


def run(args) -> int:
    """Print the requested symbolic report; user errors raise CLIError or ValueError."""
    out = _Out(tex=args.latex, ascii_only=args.ascii)
    if args.network is not None:
        _network_report(args, out)
    else:
        _layer_report(args, out)
    print(out.text())
    return 0
