"""Power-law tail exponents and Marchenko-Pastur fits: ours next to WeightWatcher's.

Usage (WeightWatcher needs torch; install both into a throwaway environment)::

    python3 -m venv --system-site-packages /tmp/wwvenv
    /tmp/wwvenv/bin/pip install weightwatcher          # 0.7.7 when this was written
    /tmp/wwvenv/bin/python benchmarks/weightwatcher_parity.py [--model MODEL] [--epochs 3] [--json out.json]

On the same weight matrices, the script computes

- ours, as ``spectral-physics eigenstats`` does (``spectral_physics.analysis.rmt``):
  ``esd = gram_spectrum(W)`` (the ``M = min(N_out, N_in)`` eigenvalues of the smaller Gram
  matrix divided by ``N = max``), ``fit_power_law(esd, min_tail=10)`` and
  ``fit_marchenko_pastur(esd, q=N/M)``;
- WeightWatcher's ``analyze(mp_fit=True)`` on a ``torch.nn.Sequential`` holding the same
  matrices as ``Linear`` weights (its defaults: ``normalize=False``, ``pl_package="ww"``);
- to explain each difference, our own estimators evaluated with WeightWatcher's choice
  of ``x_min`` (``fit_power_law(esd, xmin=ww_xmin / N)``) and our MP variance in
  WeightWatcher's units. Nothing of WeightWatcher is re-implemented here; without it
  installed the script prints our numbers and says so.

Layers: the three of a 784-300-100-10 ReLU network trained ``--epochs`` epochs on MNIST
(``direct``, Adam 1e-3, batch 200, seed 0), or of ``--model`` (any file ``load_any``
reads); the same three at their Glorot initialisation; and a 1000 x 500 matrix of iid
Pareto-tailed entries (tail index 1.5, random signs), whose spectral density has a
heavy tail of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time

import numpy as np
from spectral_physics.analysis.rmt import fit_marchenko_pastur, fit_power_law, gram_spectrum

from spectral_physics import SpectralMLP, fit, load_dataset
from spectral_physics.interop import load_any


def layers(args) -> list[tuple[str, np.ndarray]]:
    if args.model:
        net = load_any(args.model, activation=args.activation)
        tag = "model"
    else:
        net = SpectralMLP([784, 300, 100, 10], train="direct", activation="relu", seed=0)
        fit(net, load_dataset("mnist", root=args.data_root), epochs=args.epochs, batch_size=200, lr=1e-3, seed=0,
            progress=False)
        tag = f"trained {args.epochs} ep"
    init = SpectralMLP(net.sizes, train="direct", activation="relu", seed=0)
    out = [(f"{tag} L{k}", np.asarray(w, dtype=np.float64)) for k, w in enumerate(net.weights())]
    out += [(f"Glorot init L{k}", np.asarray(w, dtype=np.float64)) for k, w in enumerate(init.weights())]
    rng = np.random.default_rng(7)
    pareto = (rng.pareto(1.5, size=(1000, 500)) + 1.0) * rng.choice([-1.0, 1.0], size=(1000, 500))
    out.append(("Pareto mu=1.5 (iid)", pareto / np.sqrt(1000)))
    return out


def ours(w: np.ndarray) -> dict:
    esd = gram_spectrum(w)
    pl = fit_power_law(esd, min_tail=min(10, max(2, esd.size)))
    n, m = max(w.shape), min(w.shape)
    mp = fit_marchenko_pastur(esd, q=n / m)
    return {"N": n, "M": m, "alpha": pl.alpha, "xmin_raw": pl.xmin * n, "n_tail": pl.n_tail,
            "mp_sigma2": mp.sigma2, "mp_lambda_plus": mp.lambda_plus, "mp_n_above": mp.n_above,
            "mean_w2": float(np.mean(w * w)), "esd": esd}


def weightwatcher(mats: list[np.ndarray]):
    try:
        import torch
        import weightwatcher as ww
    except ImportError as exc:
        return None, f"WeightWatcher not available ({exc}); only our numbers are shown"
    mods = []
    for w in mats:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
        mods.append(lin)
    model = torch.nn.Sequential(*mods)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        df = ww.WeightWatcher(model=model).analyze(mp_fit=True)
    rows = df.sort_values("layer_id").to_dict("records")
    return rows, f"WeightWatcher {ww.__version__}"


def compare(args) -> dict:
    named = layers(args)
    ws_rows, source = weightwatcher([w for _, w in named])
    table = []
    for i, (name, w) in enumerate(named):
        o = ours(w)
        row = {"layer": name, "shape": list(w.shape), "N": o["N"], "M": o["M"], "Q": o["N"] / o["M"],
               "ours_alpha": o["alpha"], "ours_xmin_raw": o["xmin_raw"], "ours_n_tail": o["n_tail"],
               "ours_mp_sigma2": o["mp_sigma2"], "ours_lambda_plus": o["mp_lambda_plus"],
               "ours_mp_n_above": o["mp_n_above"]}
        if ws_rows is not None:
            r = ws_rows[i]
            assert (int(r["N"]), int(r["M"])) == (o["N"], o["M"]), (r["N"], r["M"], w.shape)
            xmin = float(r["xmin"])
            n_evals = int(np.count_nonzero(o["esd"] * o["N"] > 1e-5))  # WeightWatcher's EVALS_THRESH, raw units
            # WeightWatcher's x_min is one of its eigenvalues (s^2 from an SVD); take ours nearest to it, since
            # the two computations differ in the last digits and a threshold between them would drop a point
            x0 = float(o["esd"][np.argmin(np.abs(o["esd"] - xmin / o["N"]))])
            same = fit_power_law(o["esd"], xmin=x0)
            # WeightWatcher's small-N estimator (fewer than 20 eigenvalues): (n - 1) in place of n
            bc = 1.0 + (same.alpha - 1.0) * (same.n_tail - 1) / same.n_tail
            row.update(
                ww_alpha=float(r["alpha"]), ww_xmin_raw=xmin, ww_n_tail=int(r["num_pl_spikes"]),
                ww_path="small-N (bias-corrected MLE, J objective)" if n_evals < 20 else "standard MLE, KS",
                ours_alpha_at_ww_xmin=same.alpha if n_evals >= 20 else bc,
                # WeightWatcher rescales the eigenvalues to mean 1 (W_scale^2 = M / ||W||_F^2) before its fit;
                # its sigma_mp^2 times mean(w^2) is the entry variance in our units
                ww_mp_sigma2_ours_units=float(r["sigma_mp"]) ** 2 * o["mean_w2"],
                ww_bulk_max_over_N=float(r["bulk_max"]) / o["N"], ww_num_spikes=int(r["num_spikes"]))
        table.append(row)
    return {"source": source, "rows": table}


def markdown(result: dict) -> str:
    have = "ww_alpha" in result["rows"][0]
    head = ["layer", "N x M", "alpha (ours)", "x_min·N (ours)", "tail n (ours)"]
    if have:
        head += ["alpha (WW)", "x_min (WW)", "tail n (WW)", "ours at WW x_min", "WW fit path"]
    head += ["MP sigma² (ours)"] + (["MP sigma² (WW, our units)"] if have else [])
    head += ["lambda+ (ours)"] + (["bulk_max/N (WW)"] if have else []) + ["above lambda+ (ours)"]
    head += ["spikes (WW, + TW)"] if have else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["layer"], f"{r['N']} x {r['M']}", f"{r['ours_alpha']:.3f}", f"{r['ours_xmin_raw']:.4g}",
                 str(r["ours_n_tail"])]
        if have:
            cells += [f"{r['ww_alpha']:.3f}", f"{r['ww_xmin_raw']:.4g}", str(r["ww_n_tail"]),
                      f"{r['ours_alpha_at_ww_xmin']:.3f}", r["ww_path"]]
        cells += [f"{r['ours_mp_sigma2']:.4g}"] + ([f"{r['ww_mp_sigma2_ours_units']:.4g}"] if have else [])
        cells += [f"{r['ours_lambda_plus']:.4g}"] + ([f"{r['ww_bulk_max_over_N']:.4g}"] if have else [])
        cells += [str(r["ours_mp_n_above"])] + ([str(r["ww_num_spikes"])] if have else [])
        lines.append("| " + " | ".join(cells) + " |")
    return f"Source: {result['source']}\n\n" + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="analyse this model file instead of training one")
    ap.add_argument("--activation", default=None, help="for --model state dicts without one")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = compare(args)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(markdown(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
