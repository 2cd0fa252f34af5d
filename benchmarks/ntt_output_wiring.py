"""How an NTT mask wires LeNet-300-100's output layer, and the per-class test accuracy after training.

Repeats one run of the paper-scale ``ntt`` step (``spectral_physics.analysis.experiments.ntt``,
``ntt_run``: same teacher, NTT phase and supervised phase, so the same test accuracy) and
also reports what that run's record omits: kept weights per layer, the output layer's kept
inputs per class, the second-layer nodes connected both ways, and the accuracy per class.
It explains the low seeds of layer-wise NTT at 1 % on Fashion-MNIST (REPRODUCTION.md,
"Neural tangent transfer (LZ20)"). About 4 minutes per run on one core.

    OPENBLAS_NUM_THREADS=1 python benchmarks/ntt_output_wiring.py --dataset fashion-mnist \
        --density 0.01 --seed 0 [--scope global]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from spectral_physics.analysis.experiments.ntt import NTTConfig
from spectral_physics.analysis.reproduce import FULL

from spectral_physics.datasets import load_dataset
from spectral_physics.ntt import make_teacher, neural_tangent_transfer, supervised_phase


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--density", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scope", choices=("layer", "global"), default="layer")
    args = p.parse_args()

    cfg = NTTConfig.from_dict(FULL["ntt"])
    data = load_dataset(args.dataset)
    data = data.standardized() if cfg.standardize else data
    res = neural_tangent_transfer(make_teacher(list(cfg.sizes), seed=args.seed), data.x_train, args.density,
                                  steps=cfg.ntt_steps, kind=cfg.kind, seed=args.seed, progress=False,
                                  lambda_k=cfg.lambda_k, lambda_2=cfg.lambda_2, scope=args.scope)
    masks = [np.asarray(m) for m in res.masks]
    net = res.student
    supervised_phase(net, data, epochs=cfg.epochs, seed=args.seed, progress=False)
    pred, y = np.asarray(net.predict(data.x_test)), np.asarray(data.y_test)
    # a node carries signal only if it has a kept input and a kept output
    live = [int(((masks[i + 1].sum(axis=0) > 0) & (masks[i].sum(axis=1) > 0)).sum()) for i in range(len(masks) - 1)]
    print(json.dumps({
        "dataset": args.dataset, "density": args.density, "seed": args.seed, "scope": args.scope,
        "test_accuracy": float(net.accuracy(data.x_test, data.y_test)),
        "kept_per_layer": [int(m.sum()) for m in masks],
        "output_inputs_per_class": masks[-1].sum(axis=1).tolist(),
        "live_hidden_nodes": live,
        "class_accuracy": [round(float((pred[y == c] == c).mean()), 3) for c in range(masks[-1].shape[0])],
    }))


if __name__ == "__main__":
    main()
