"""Spectral fine-tuning of an imported dense network: MNIST -> Fashion-MNIST.

Usage::

    nice -n 10 python benchmarks/finetune_experiment.py [--seeds 0,1,2] [--epochs 3]
                                                        [--pretrain-epochs 3] [--json out.json]

Protocol (fixed before the first run; REPRODUCTION.md states it with the results):

1. *Pretraining.* A dense 784-300-100-10 ReLU network (``direct`` preset, Glorot init,
   float32) is trained on MNIST for ``--pretrain-epochs`` (3) epochs: Adam, learning
   rate 1e-3, batch 200, seed ``s`` for initialisation and data order.
2. *Transfer.* The pretrained network is exported to safetensors and imported again
   with :func:`spectral_physics.interop.load_any` (the path a model trained elsewhere
   takes), then re-parametrised with :func:`spectral_physics.interop.as_spectral`:
   ``phi = W``, ``lam_in = 1``, ``lam_out = 0``. Every method starts from that exact
   function.
3. *Fine-tuning* on Fashion-MNIST (60,000 training images, all of them), ``--epochs``
   (3) epochs, Adam, batch 200, data-order seed ``s``; no validation split, no early
   stopping. Methods:

   - ``eigen``: only ``lam_in``, ``lam_out`` and the biases train (2,004 parameters),
     learning rate 1e-3 (the protocol's common rate) and, declared as a second arm
     before running, 1e-2 (eigenvalues are known to want larger steps);
   - ``last-layer``: the last layer's weights and bias only (1,010 parameters), 1e-3;
   - ``direct``: full fine-tuning of every weight and bias (266,610 parameters), 1e-3.

   References: the pretrained network without fine-tuning (0 parameters), and a
   ``direct`` network trained from scratch on Fashion-MNIST for the same epochs.
4. *Metric.* Fashion-MNIST test accuracy (10,000 images) after the last epoch; mean and
   sample standard deviation over seeds 0, 1, 2 (a fresh pretraining per seed).

Last-layer-only training uses ``fit``'s objective hook: the gradients of the frozen
layers are set to zero, so Adam never moves them (checked bit for bit at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np

from spectral_physics import SpectralMLP, fit, load_dataset
from spectral_physics.interop import as_spectral, export_network, load_any
from spectral_physics.train import cross_entropy_loss_and_grad

SIZES = [784, 300, 100, 10]
BATCH = 200


def last_layer_only(net, x, y):
    """The default objective with every layer's gradients but the last set to zero."""
    loss, grads, logits = cross_entropy_loss_and_grad(net, x, y)
    for g in grads[:-1]:
        for arr in g.values():
            arr[...] = 0
    return loss, grads, logits


def train(net, data, *, epochs: int, lr: float, seed: int, objective=None) -> float:
    t0 = time.perf_counter()
    fit(net, data, epochs=epochs, batch_size=BATCH, optimizer="adam", lr=lr, seed=seed, progress=False,
        **({"loss_and_grad": objective} if objective is not None else {}))
    return time.perf_counter() - t0


def run(seeds, epochs: int, pretrain_epochs: int, root=None) -> dict:
    mnist = load_dataset("mnist", root=root)
    fashion = load_dataset("fashion-mnist", root=root)
    rows: dict[str, dict] = {}

    def record(method: str, params: int, lr: float | None, acc: float, seconds: float) -> None:
        r = rows.setdefault(method, {"method": method, "trainable_parameters": params, "lr": lr, "accuracy": [],
                                     "seconds": []})
        assert r["trainable_parameters"] == params
        r["accuracy"].append(float(acc))
        r["seconds"].append(round(seconds, 2))

    pretrain = []
    tmp = tempfile.mkdtemp()
    for s in seeds:
        base = SpectralMLP(SIZES, train="direct", activation="relu", seed=s)
        sec = train(base, mnist, epochs=pretrain_epochs, lr=1e-3, seed=s)
        pretrain.append({"seed": s, "mnist_test_accuracy": float(base.accuracy(mnist.x_test, mnist.y_test)),
                         "seconds": round(sec, 2)})
        path = export_network(base, os.path.join(tmp, f"mnist_{s}.safetensors"))
        imported = load_any(path)  # states its activation in the metadata
        x = np.asarray(fashion.x_test[:1000], dtype=np.float32)
        assert np.array_equal(np.asarray(imported.forward(x)), np.asarray(base.forward(x)))
        record("none (pretrained, no fine-tuning)", 0, None, imported.accuracy(fashion.x_test, fashion.y_test), 0.0)
        arms = [("eigen", "eigen", 1e-3, None), ("eigen, lr 1e-2", "eigen", 1e-2, None),
                ("last-layer", "direct", 1e-3, last_layer_only), ("direct (full)", "direct", 1e-3, None)]
        for name, preset, lr, objective in arms:
            net = as_spectral(imported, train=preset, seed=s)
            before = [np.asarray(w).copy() for w in net.weights()]
            sec = train(net, fashion, epochs=epochs, lr=lr, seed=s, objective=objective)
            if objective is last_layer_only:
                for b, w in zip(before[:-1], net.weights()[:-1]):
                    assert np.array_equal(b, np.asarray(w)), "a frozen layer moved"
                params = net.layers[-1].n_trainable
            else:
                params = net.n_trainable
            if preset == "eigen":  # phi stays the imported W
                assert all(np.array_equal(np.asarray(la.phi), b) for la, b in zip(net.layers, before))
            record(name, params, lr, net.accuracy(fashion.x_test, fashion.y_test), sec)
        scratch = SpectralMLP(SIZES, train="direct", activation="relu", seed=s)
        sec = train(scratch, fashion, epochs=epochs, lr=1e-3, seed=s)
        record("direct from scratch (no pretraining)", scratch.n_trainable, 1e-3,
               scratch.accuracy(fashion.x_test, fashion.y_test), sec)
    for r in rows.values():
        a = np.asarray(r["accuracy"])
        r["mean"] = float(a.mean())
        r["std"] = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return {"protocol": {"sizes": SIZES, "activation": "relu", "batch": BATCH, "optimizer": "adam",
                         "pretrain_epochs": pretrain_epochs, "finetune_epochs": epochs, "seeds": list(seeds),
                         "dtype": "float32", "transfer": "export to safetensors, load_any, as_spectral"},
            "pretraining": pretrain, "results": list(rows.values()),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}}


def markdown(result: dict) -> str:
    lines = ["| method | trainable parameters | learning rate | Fashion-MNIST test accuracy (mean ± std) | "
             "per seed | seconds per run |", "|---|---:|---:|---:|---|---:|"]
    for r in result["results"]:
        lr = "" if r["lr"] is None else f"{r['lr']:g}"
        per = ", ".join(f"{a:.4f}" for a in r["accuracy"])
        lines.append(f"| {r['method']} | {r['trainable_parameters']:,} | {lr} | {r['mean']:.4f} ± {r['std']:.4f} | "
                     f"{per} | {np.mean(r['seconds']):.1f} |")
    pre = ", ".join(f"{p['mnist_test_accuracy']:.4f}" for p in result["pretraining"])
    return "\n".join(lines) + f"\n\nPretrained MNIST test accuracy per seed: {pre}."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (default 3)")
    ap.add_argument("--pretrain-epochs", type=int, default=3, help="MNIST pretraining epochs (default 3)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    result = run(seeds, args.epochs, args.pretrain_epochs, root=args.data_root)
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(markdown(result))
    print(f"\ntotal {result['total_seconds']} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
