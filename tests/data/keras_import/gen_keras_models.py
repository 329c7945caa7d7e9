#!/usr/bin/env python3
"""Keras 3 models (.keras archives and .weights.h5 + config) with Keras's own outputs, for lstmrt's
tests (tests/cpu/test_import_keras.cpp).

Needs Keras 3 from PyPI with a backend (not in Debian); a throwaway venv is enough:
    python3 -m venv /tmp/kerasenv && /tmp/kerasenv/bin/pip install keras jax[cpu] h5py
    KERAS_BACKEND=jax /tmp/kerasenv/bin/python tests/data/keras_import/gen_keras_models.py
Writes, for every case CASE:
    CASE.keras            model.save (zip: config.json, model.weights.h5, metadata.json), or, for
                          the cases marked weights_h5, CASE.weights.h5 (model.save_weights) and
                          CASE.config.json (model.to_json()) instead
    CASE.x.npy            input (N, T, I) float32, batch-major as Keras takes it; rows of masked
                          cases are right-padded with zeros (the Masking value)
    CASE.expected.npz     what the model returns: "y" (its first output: the whole sequence or the
                          last output) and, with return_state, "h", "c" (one direction) or
                          "h_fwd", "c_fwd", "h_bwd", "c_bwd" (Bidirectional)
and bad_huge_dataset.weights.h5 + .config.json: sequential_stack's config with a weights file
whose first kernel declares 2^30 values that are never written (the reader must refuse it
without allocating). Weights are drawn from [-0.6, 0.6] with a fixed seed, so rerunning reproduces the files (up to
Keras's own numerics).
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers


def stack(I, layers, masked=False):
    inp = keras.Input((None, I))
    t = L.Masking(0.0)(inp) if masked else inp
    outs = None
    for layer in layers:
        outs = layer(t)
        t = outs[0] if isinstance(outs, list) else outs
    return keras.Model(inp, outs)


CASES = {
    # Sequential stack, saved as .weights.h5 + config.json.
    "sequential_stack": dict(
        weights_h5=True, N=3, T=5, I=4,
        build=lambda: keras.Sequential([keras.Input((None, 4)), L.LSTM(5, return_sequences=True),
                                        L.LSTM(3, return_sequences=True)])),
    "bidir_concat_state": dict(
        N=2, T=6, I=3,
        build=lambda: stack(3, [L.Bidirectional(L.LSTM(4, return_sequences=True, return_state=True))])),
    # go_backwards below a forward layer, masks, Keras 3 hard_sigmoid, relu, carried padding.
    "go_backwards_stack_masked": dict(
        N=4, T=6, I=3, lengths=[6, 2, 4, 1],
        build=lambda: stack(3, [L.LSTM(4, return_sequences=True, go_backwards=True),
                                L.LSTM(3, return_sequences=True, return_state=True, activation="relu",
                                       recurrent_activation="hard_sigmoid")], masked=True)),
    "bidir_sum_ave_masked_nobias": dict(
        N=3, T=5, I=2, lengths=[5, 3, 1],
        build=lambda: stack(2, [L.Bidirectional(L.LSTM(5, use_bias=False, return_sequences=True), merge_mode="sum"),
                                L.Bidirectional(L.LSTM(3), merge_mode="ave")], masked=True)),
    "bidir_mul_go_backwards_last": dict(
        N=2, T=4, I=3,
        build=lambda: stack(3, [L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="mul"),
                                L.LSTM(4, go_backwards=True, return_state=True)])),
}


def main():
    for index, (name, case) in enumerate(CASES.items()):
        keras.utils.set_random_seed(3000 + index)
        model = case["build"]()
        rng = np.random.default_rng(3000 + index)
        model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype("float32") for w in model.get_weights()])
        N, T, I = case["N"], case["T"], case["I"]
        x = rng.uniform(-1.0, 1.0, (N, T, I)).astype("float32")
        for row, length in enumerate(case.get("lengths", [])):
            x[row, length:, :] = 0.0
        outs = model(x)
        outs = [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
        keys = ["y"] + (["h", "c"] if len(outs) == 3 else ["h_fwd", "c_fwd", "h_bwd", "c_bwd"])
        np.savez(os.path.join(HERE, name + ".expected.npz"), **dict(zip(keys, outs)))
        np.save(os.path.join(HERE, name + ".x.npy"), x)
        if case.get("weights_h5"):
            model.save_weights(os.path.join(HERE, name + ".weights.h5"))
            with open(os.path.join(HERE, name + ".config.json"), "w") as f:
                f.write(model.to_json())
        else:
            model.save(os.path.join(HERE, name + ".keras"))
        print("wrote", name, [o.shape for o in outs])


def write_bad_files():
    import shutil

    import h5py
    shutil.copy(os.path.join(HERE, "sequential_stack.config.json"), os.path.join(HERE, "bad_huge_dataset.config.json"))
    with h5py.File(os.path.join(HERE, "bad_huge_dataset.weights.h5"), "w") as f:
        g = f.create_group("layers/lstm")
        g.create_group("vars").attrs["name"] = "lstm"
        g.create_dataset("cell/vars/0", shape=(1 << 15, 1 << 15), dtype="float32")  # declared, never written


if __name__ == "__main__":
    main()
    write_bad_files()
