#!/usr/bin/env python3
"""Writes the example model repository's weights: a 2-layer LSTM (input 4, hidden 8) in PyTorch's
nn.LSTM state_dict naming, the same file for both example models. numpy only:
    python3 triton/models/make_example.py
"""
import pathlib

import numpy as np

INPUT, HIDDEN, LAYERS = 4, 8, 2


def weights(seed=16):
    rng = np.random.default_rng(seed)
    w = {}
    for k in range(LAYERS):
        width = INPUT if k == 0 else HIDDEN
        w[f"weight_ih_l{k}"] = rng.uniform(-0.5, 0.5, (4 * HIDDEN, width))
        w[f"weight_hh_l{k}"] = rng.uniform(-0.5, 0.5, (4 * HIDDEN, HIDDEN))
        w[f"bias_ih_l{k}"] = rng.uniform(-0.5, 0.5, 4 * HIDDEN)
        w[f"bias_hh_l{k}"] = rng.uniform(-0.5, 0.5, 4 * HIDDEN)
    return {name: value.astype(np.float32) for name, value in w.items()}


def main():
    here = pathlib.Path(__file__).resolve().parent
    w = weights()
    for model in ("lstm", "lstm_stream"):
        out = here / model / "1" / "model.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, **w)
        print(out)


if __name__ == "__main__":
    main()
