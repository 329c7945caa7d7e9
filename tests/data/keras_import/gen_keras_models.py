#!/usr/bin/env python3
"""Keras 3 models (.keras archives, and .weights.h5 + config) with Keras's own outputs, for lstmrt's
tests (tests/cpu/test_import_keras.cpp, tests/python/test_keras_models.py). Not run by CI: run it by hand
after changing a case.

Needs Keras 3 with the TensorFlow backend from PyPI (not in Debian); a throwaway venv is enough:
    python3 -m venv /tmp/kerasenv && /tmp/kerasenv/bin/pip install keras tensorflow-cpu h5py scipy "jax[cpu]"
(the NumPy backend of the cross-check imports scipy and jax)
    /tmp/kerasenv/bin/python tests/data/keras_import/gen_keras_models.py
Every case is checked three ways before anything is written: Keras (TensorFlow backend, CPU), the
float64 NumPy implementation of Keras's semantics in ../keras/keras_np64.py (within 1e-5), and the
saved file reloaded under Keras's NumPy backend (a subprocess; within 1e-5, except where a case
records that backend's known divergence).

Writes, for every case CASE:
    CASE.keras            model.save (zip: config.json, model.weights.h5, metadata.json), or for the
                          cases marked weights_h5 CASE.weights.h5 (model.save_weights) and
                          CASE.config.json (model.to_json()) instead
    CASE.in0.npy, ...     the model's inputs in model.inputs order, float32, Keras's layout: sequences
                          (N, T, F), other inputs (N, F); padded rows as keras.utils.pad_sequences
                          makes them (at the front by default, some at the back, some with gaps)
    CASE.expected.npz     out0, out1, ...: what model(inputs) returns, in model.outputs order
    (for the first five cases, which other suites read in their first form, also CASE.x.npy = in0
    and in expected.npz y, then h, c or h_fwd, c_fwd, h_bwd, c_bwd: the same outputs by name)
and cases.json: per case its file, input and output counts, and whether lstmrt should see a chain
(one input through a path of layers: written as y / y_fwd, y_bwd, h_n, c_n) or a graph.
Plus bad_huge_dataset.weights.h5 + .config.json: sequential_stack's config with a weights file
whose first kernel declares 2^30 values that are never written (the reader must refuse it without
allocating). Weights are drawn from [-scale, scale] with a fixed seed per case, so rerunning
reproduces the files (up to Keras's own numerics).
"""
import json
import os
import subprocess
import sys

os.environ["KERAS_BACKEND"] = os.environ.get("LSTMRT_KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "keras"))
import keras_np64 as np64  # noqa: E402

L = keras.layers
TOLERANCE = 1e-5


def w(model, name):
    return model.get_layer(name).get_weights()


def bidir_w(model, name):
    layer = model.get_layer(name)
    return layer.forward_layer.get_weights(), layer.backward_layer.get_weights()


def seq(N, T, F, rows=None):
    """A sequence input spec: (N, T, F), with `rows` per row: None (all valid), ("pre", k) k valid
    steps at the end (pad_sequences' default), ("post", k) at the start, ("gaps", [t...]) those
    steps masked."""
    return dict(shape=(N, T, F), rows=rows)


def flat(N, F):
    return dict(shape=(N, F), rows=None)


def make_input(spec, rng):
    x = rng.uniform(-1.0, 1.0, spec["shape"]).astype("float32")
    for b, row in enumerate(spec["rows"] or []):
        if row is None:
            continue
        kind, arg = row
        T = x.shape[1]
        if kind == "pre":
            x[b, :T - arg] = 0.0
        elif kind == "post":
            x[b, arg:] = 0.0
        else:
            x[b, arg] = 0.0
    return x


# ---- the models ------------------------------------------------------------------------------------
def stack(I, layers, masked=False):
    inp = keras.Input((None, I))
    t = L.Masking(0.0)(inp) if masked else inp
    outs = None
    for layer in layers:
        outs = layer(t)
        t = outs[0] if isinstance(outs, list) else outs
    return keras.Model(inp, outs)


def case_sequential_stack():
    model = keras.Sequential([keras.Input((None, 4)), L.LSTM(5, return_sequences=True, name="a"),
                              L.LSTM(3, return_sequences=True, name="b")])
    ref = lambda m, x: [np64.lstm(np64.lstm(x[0], w(m, "a"), return_sequences=True)[0], w(m, "b"),
                                  return_sequences=True)[0]]
    return model, [seq(3, 5, 4)], ref


def case_bidir_concat_state():
    model = stack(3, [L.Bidirectional(L.LSTM(4, return_sequences=True, return_state=True), name="bi")])
    ref = lambda m, x: np64.bidirectional(x[0], *bidir_w(m, "bi"), return_sequences=True, return_state=True)
    return model, [seq(2, 6, 3)], ref


def case_go_backwards_stack_masked():
    model = stack(3, [L.LSTM(4, return_sequences=True, go_backwards=True, name="a"),
                      L.LSTM(3, return_sequences=True, return_state=True, activation="relu",
                             recurrent_activation="hard_sigmoid", name="b")], masked=True)

    def ref(m, x):
        _, mask = np64.masking(x[0])
        ya = np64.lstm(x[0], w(m, "a"), mask=mask, go_backwards=True, return_sequences=True)[0]
        return list(np64.lstm(ya, w(m, "b"), "relu", "hard_sigmoid", mask=mask, return_sequences=True))
    return model, [seq(4, 6, 3, [None, ("post", 2), ("post", 4), ("post", 1)])], ref


def case_bidir_sum_ave_masked_nobias():
    model = stack(2, [L.Bidirectional(L.LSTM(5, use_bias=False, return_sequences=True), merge_mode="sum", name="s"),
                      L.Bidirectional(L.LSTM(3), merge_mode="ave", name="a")], masked=True)

    def ref(m, x):
        _, mask = np64.masking(x[0])
        ys = np64.bidirectional(x[0], *bidir_w(m, "s"), "sum", return_sequences=True, mask=mask)[0]
        return np64.bidirectional(ys, *bidir_w(m, "a"), "ave", mask=mask)
    return model, [seq(3, 5, 2, [None, ("post", 3), ("post", 1)])], ref


def case_bidir_mul_go_backwards_last():
    model = stack(3, [L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="mul", name="m"),
                      L.LSTM(4, go_backwards=True, return_state=True, name="g")])

    def ref(m, x):
        ym = np64.bidirectional(x[0], *bidir_w(m, "m"), "mul", return_sequences=True)[0]
        return list(np64.lstm(ym, w(m, "g"), go_backwards=True))
    return model, [seq(2, 4, 3)], ref


KERAS_ACTIVATIONS = ["sigmoid", "tanh", "relu", "linear", "leaky_relu", "hard_sigmoid", "elu", "softsign",
                     "softplus", "gelu", "silu", "swish", "selu", "celu", "exponential", "hard_silu", "hard_swish",
                     "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "log_sigmoid", "mish", "relu6",
                     "sparse_plus", "sparse_sigmoid", "squareplus"]


def case_activations(part):
    """Nine parallel LSTMs over one input: every Keras activation once as `activation` and once as
    `recurrent_activation` across the three parts."""
    K = len(KERAS_ACTIVATIONS)
    # Gate activations far above 1 (exponential) or below 0 feed c back into itself: paired with
    # a bounded activation they stay small enough for float32 to agree with float64 to 1e-5.
    pairs = [(KERAS_ACTIVATIONS[k], KERAS_ACTIVATIONS[(k + 11) % K]) for k in range(9 * part, 9 * part + 9)]
    pairs = [(a if r not in ("exponential", "linear", "relu", "selu", "softplus", "squareplus") else "tanh", r)
             for a, r in pairs] + [(a, "sigmoid") for a, r in pairs
                                   if r in ("exponential", "linear", "relu", "selu", "softplus", "squareplus")]
    inp = keras.Input((None, 3))
    outs = [L.LSTM(3, return_sequences=True, activation=a, recurrent_activation=r, name=f"l{k}")(inp)
            for k, (a, r) in enumerate(pairs)]
    model = keras.Model(inp, outs)
    ref = lambda m, x: [np64.lstm(x[0], w(m, f"l{k}"), a, r, return_sequences=True)[0]
                        for k, (a, r) in enumerate(pairs)]
    return model, [seq(3, 5, 3)], ref


def case_zero_output_last():
    """return_sequences=False with zero_output_for_mask=True: the output of a row whose last step
    (in processing order) is masked is zeros; the states are those of its last valid step."""
    inp = keras.Input((None, 3))
    m = L.Masking(0.0)(inp)
    zf = L.LSTM(4, zero_output_for_mask=True, return_state=True, name="zero")(m)
    cf = L.LSTM(4, zero_output_for_mask=False, name="carry")(m)
    zb = L.LSTM(4, zero_output_for_mask=True, go_backwards=True, name="zero_back")(m)
    model = keras.Model(inp, list(zf) + [cf, zb])

    def ref(mod, x):
        _, mask = np64.masking(x[0])
        return (list(np64.lstm(x[0], w(mod, "zero"), mask=mask, zero_output_for_mask=True)) +
                [np64.lstm(x[0], w(mod, "carry"), mask=mask)[0],
                 np64.lstm(x[0], w(mod, "zero_back"), mask=mask, zero_output_for_mask=True, go_backwards=True)[0]])
    return model, [seq(5, 5, 3, [("post", 3), ("pre", 2), None, ("gaps", [0, 4]), ("pre", 0)])], ref


def case_bidir_merge_none():
    model = stack(3, [L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), merge_mode=None,
                                      name="bi")], masked=True)

    def ref(m, x):
        _, mask = np64.masking(x[0])
        return np64.bidirectional(x[0], *bidir_w(m, "bi"), None, return_sequences=True, return_state=True, mask=mask)
    return model, [seq(3, 5, 3, [("pre", 3), None, ("post", 2)])], ref


def case_bidir_merge_none_last():
    model = stack(3, [L.Bidirectional(L.LSTM(3, return_sequences=True), name="a"),
                      L.Bidirectional(L.LSTM(2), merge_mode=None, name="b")], masked=True)

    def ref(m, x):
        _, mask = np64.masking(x[0])
        ya = np64.bidirectional(x[0], *bidir_w(m, "a"), return_sequences=True, mask=mask)[0]
        return np64.bidirectional(ya, *bidir_w(m, "b"), None, mask=mask)
    return model, [seq(4, 6, 3, [("pre", 4), ("pre", 1), None, ("gaps", [2])])], ref


def case_left_padded_stack():
    """pad_sequences' default front padding (and a row with gaps, an empty row) through a stack with a
    go_backwards top layer and carried padding."""
    model = stack(3, [L.LSTM(4, return_sequences=True, name="a"),
                      L.LSTM(3, return_sequences=True, go_backwards=True, return_state=True, name="b")], masked=True)

    def ref(m, x):
        _, mask = np64.masking(x[0])
        ya = np64.lstm(x[0], w(m, "a"), mask=mask, return_sequences=True)[0]
        return list(np64.lstm(ya, w(m, "b"), mask=mask, go_backwards=True, return_sequences=True))
    return model, [seq(5, 6, 3, [("pre", 4), ("pre", 1), None, ("gaps", [1, 3]), ("pre", 0)])], ref


def case_bidir_left_padded():
    model = stack(3, [L.Bidirectional(L.LSTM(3, return_sequences=True), name="a"),
                      L.Bidirectional(L.LSTM(2), name="b")], masked=True)

    def ref(m, x):
        _, mask = np64.masking(x[0])
        ya = np64.bidirectional(x[0], *bidir_w(m, "a"), return_sequences=True, mask=mask)[0]
        return np64.bidirectional(ya, *bidir_w(m, "b"), mask=mask)
    return model, [seq(4, 5, 3, [("pre", 3), ("pre", 5), ("pre", 1), ("gaps", [0, 1])])], ref


def case_initial_state_inputs():
    x = keras.Input((None, 3), name="x")
    h0 = keras.Input((5,), name="h0")
    c0 = keras.Input((5,), name="c0")
    out = L.LSTM(5, return_sequences=True, return_state=True, name="l")(x, initial_state=[h0, c0])
    model = keras.Model([x, h0, c0], out)
    ref = lambda m, v: list(np64.lstm(v[0], w(m, "l"), initial_state=v[1:], return_sequences=True))
    return model, [seq(3, 4, 3), flat(3, 5), flat(3, 5)], ref


def case_bidir_initial_state_inputs():
    x = keras.Input((None, 2), name="x")
    states = [keras.Input((3,), name=n) for n in ("fwd_h", "fwd_c", "bwd_h", "bwd_c")]
    out = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi")(x, initial_state=states)
    model = keras.Model([x] + states, out)
    ref = lambda m, v: np64.bidirectional(v[0], *bidir_w(m, "bi"), return_sequences=True, initial_state=v[1:])
    return model, [seq(2, 5, 2)] + [flat(2, 3)] * 4, ref


def case_masked_initial_state_inputs():
    """Front padding with an initial state and carried padding, the mask given explicitly (as a
    Masking layer computes it): Keras's TensorFlow loop outputs zeros before a row's first valid
    step; its NumPy (and JAX) scan repeats the initial h there."""
    x = keras.Input((None, 3), name="x")
    h0 = keras.Input((4,), name="h0")
    c0 = keras.Input((4,), name="c0")
    mask = keras.ops.any(keras.ops.not_equal(x, 0.0), axis=-1)
    out = L.LSTM(4, return_sequences=True, return_state=True, name="l")(x, initial_state=[h0, c0], mask=mask)
    model = keras.Model([x, h0, c0], out)

    def ref(m, v):
        _, mask = np64.masking(v[0])
        return list(np64.lstm(v[0], w(m, "l"), mask=mask, initial_state=v[1:], return_sequences=True))
    return model, [seq(3, 5, 3, [("pre", 3), ("post", 2), ("gaps", [1])]), flat(3, 4), flat(3, 4)], ref


def case_masking_dropped_by_initial_state():
    """Keras 3 fills a layer's mask argument only for a call with one tensor argument: an LSTM called
    on a Masking layer's output WITH initial_state runs unmasked (the zeroed steps run as steps)."""
    x = keras.Input((None, 3), name="x")
    h0 = keras.Input((4,), name="h0")
    c0 = keras.Input((4,), name="c0")
    out = L.LSTM(4, return_sequences=True, name="l")(L.Masking(0.0)(x), initial_state=[h0, c0])
    model = keras.Model([x, h0, c0], out)

    def ref(m, v):
        masked, _ = np64.masking(v[0])
        return [np64.lstm(masked, w(m, "l"), initial_state=v[1:], return_sequences=True)[0]]
    return model, [seq(3, 5, 3, [("pre", 3), ("post", 2), None]), flat(3, 4), flat(3, 4)], ref


def case_seed_encoder_decoder():
    """The seed tutorial's point: a decoder LSTM whose cell state is initialised with the final state
    of an encoder LSTM (return_state=True), the encoder and decoder sequences of different lengths."""
    enc_in = keras.Input((None, 1), name="encoder_input")
    _, h, c = L.LSTM(4, return_state=True, name="encoder")(enc_in)
    dec_in = keras.Input((None, 1), name="decoder_input")
    dec = L.LSTM(4, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], dec)

    def ref(m, v):
        _, eh, ec = np64.lstm(v[0], w(m, "encoder"))
        return [np64.lstm(v[1], w(m, "decoder"), initial_state=[eh, ec], return_sequences=True)[0]]
    return model, [seq(2, 3, 1), seq(2, 4, 1)], ref


def case_bidir_encoder_decoder():
    """A Bidirectional encoder whose states are concatenated to initialise a decoder twice as wide."""
    enc_in = keras.Input((None, 3), name="encoder_input")
    _, fh, fc, bh, bc = L.Bidirectional(L.LSTM(4, return_state=True), name="encoder")(enc_in)
    h = L.Concatenate(name="state_h")([fh, bh])
    c = L.Concatenate(name="state_c")([fc, bc])
    dec_in = keras.Input((None, 2), name="decoder_input")
    dec, dh, dc = L.LSTM(8, return_sequences=True, return_state=True, name="decoder")(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], [dec, dh, h])

    def ref(m, v):
        _, efh, efc, ebh, ebc = np64.bidirectional(v[0], *bidir_w(m, "encoder"), return_state=True)
        hh, cc = np.concatenate([efh, ebh], -1), np.concatenate([efc, ebc], -1)
        y, yh, _ = np64.lstm(v[1], w(m, "decoder"), initial_state=[hh, cc], return_sequences=True)
        return [y, yh, hh]
    return model, [seq(3, 5, 3), seq(3, 3, 2)], ref


def case_stacked_masked_encoder_decoder():
    """Stacked, masked (front-padded) encoder with Dropout between its layers; a masked decoder with
    zero_output_for_mask and its mask passed explicitly; outputs in an order unlike the layers'."""
    enc_in = keras.Input((None, 3), name="encoder_input")
    e = L.LSTM(4, return_sequences=True, name="enc1")(L.Masking(0.0)(enc_in))
    e = L.Dropout(0.3)(e)
    _, h, c = L.LSTM(4, return_state=True, name="enc2")(e)
    dec_in = keras.Input((None, 2), name="decoder_input")
    # The decoder's mask given explicitly: with initial_state Keras would not take it from a Masking layer.
    dec_mask = keras.ops.any(keras.ops.not_equal(dec_in, 0.0), axis=-1)
    dec = L.LSTM(4, return_sequences=True, zero_output_for_mask=True, name="dec")(dec_in, initial_state=[h, c],
                                                                                   mask=dec_mask)
    model = keras.Model([enc_in, dec_in], [c, dec, h])

    def ref(m, v):
        _, emask = np64.masking(v[0])
        _, dmask = np64.masking(v[1])
        e1 = np64.lstm(v[0], w(m, "enc1"), mask=emask, return_sequences=True)[0]
        _, eh, ec = np64.lstm(e1, w(m, "enc2"), mask=emask)
        y = np64.lstm(v[1], w(m, "dec"), mask=dmask, initial_state=[eh, ec], zero_output_for_mask=True,
                      return_sequences=True)[0]
        return [ec, y, eh]
    return model, [seq(4, 6, 3, [("pre", 4), ("pre", 6), ("pre", 1), ("gaps", [2])]),
                   seq(4, 4, 2, [None, ("post", 2), ("pre", 3), None])], ref


def case_shared_layer():
    """One LSTM applied to two inputs (one set of weights, two calls)."""
    a = keras.Input((None, 3), name="a")
    b = keras.Input((None, 3), name="b")
    shared = L.LSTM(3, return_sequences=True, name="shared")
    model = keras.Model([a, b], [shared(b), shared(a)])
    ref = lambda m, v: [np64.lstm(v[1], w(m, "shared"), return_sequences=True)[0],
                        np64.lstm(v[0], w(m, "shared"), return_sequences=True)[0]]
    return model, [seq(2, 4, 3), seq(2, 6, 3)], ref


CASES = {
    "sequential_stack": dict(build=case_sequential_stack, weights_h5=True),
    "bidir_concat_state": dict(build=case_bidir_concat_state),
    "go_backwards_stack_masked": dict(build=case_go_backwards_stack_masked),
    "bidir_sum_ave_masked_nobias": dict(build=case_bidir_sum_ave_masked_nobias),
    "bidir_mul_go_backwards_last": dict(build=case_bidir_mul_go_backwards_last),
    "activations_0": dict(build=lambda: case_activations(0), scale=0.4),
    "activations_1": dict(build=lambda: case_activations(1), scale=0.4),
    "activations_2": dict(build=lambda: case_activations(2), scale=0.4),
    "zero_output_last": dict(build=case_zero_output_last),
    "bidir_merge_none": dict(build=case_bidir_merge_none),
    "bidir_merge_none_last": dict(build=case_bidir_merge_none_last),
    "left_padded_stack": dict(build=case_left_padded_stack),
    "bidir_left_padded": dict(build=case_bidir_left_padded),
    "initial_state_inputs": dict(build=case_initial_state_inputs),
    "bidir_initial_state_inputs": dict(build=case_bidir_initial_state_inputs),
    "masked_initial_state_inputs": dict(build=case_masked_initial_state_inputs,
                                        numpy_backend_differs="its scan repeats the initial h before the first "
                                                              "valid step"),
    "masking_dropped_by_initial_state": dict(build=case_masking_dropped_by_initial_state),
    "seed_encoder_decoder": dict(build=case_seed_encoder_decoder),
    "bidir_encoder_decoder": dict(build=case_bidir_encoder_decoder),
    "stacked_masked_encoder_decoder": dict(build=case_stacked_masked_encoder_decoder),
    "shared_layer": dict(build=case_shared_layer),
}

# Read by tests/python and triton/tests under their first names as well (CASE.x.npy, y, h, c, ...).
LEGACY_NAMES = {"sequential_stack", "bidir_concat_state", "go_backwards_stack_masked", "bidir_sum_ave_masked_nobias",
                "bidir_mul_go_backwards_last"}

CHAINS = {"sequential_stack", "bidir_concat_state", "go_backwards_stack_masked", "bidir_sum_ave_masked_nobias",
          "bidir_mul_go_backwards_last", "bidir_merge_none", "bidir_merge_none_last", "left_padded_stack",
          "bidir_left_padded"}


def as_list(outs):
    return [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]


def worst(a, b):
    return float(np.max(np.abs(np.float64(a) - np.float64(b)))) if np.size(a) else 0.0


def generate():
    manifest = []
    for index, (name, case) in enumerate(CASES.items()):
        keras.utils.set_random_seed(3000 + index)
        rng = np.random.default_rng(3000 + index)
        model, specs, numpy_ref = case["build"]()
        scale = case.get("scale", 0.6)
        model.set_weights([rng.uniform(-scale, scale, v.shape).astype("float32") for v in model.get_weights()])
        inputs = [make_input(s, rng) for s in specs]
        outs = as_list(model(inputs if len(inputs) > 1 else inputs[0]))
        ref = numpy_ref(model, inputs)
        assert len(ref) == len(outs), (name, len(ref), len(outs))
        print(f"  {name}: largest |output| {max(float(np.max(np.abs(o))) for o in outs):.3g}")
        for k, (o, r) in enumerate(zip(outs, ref)):
            assert o.shape == r.shape, (name, k, o.shape, r.shape)
            assert worst(o, r) < TOLERANCE, f"{name} output {k}: Keras and the float64 reference differ by {worst(o, r)}"
        for k, x in enumerate(inputs):
            np.save(os.path.join(HERE, f"{name}.in{k}.npy"), x)
        expected = {f"out{k}": o for k, o in enumerate(outs)}
        if name in LEGACY_NAMES:
            np.save(os.path.join(HERE, f"{name}.x.npy"), inputs[0])
            legacy = ["y"] + (["h", "c"] if len(outs) == 3 else ["h_fwd", "c_fwd", "h_bwd", "c_bwd"])
            expected.update(dict(zip(legacy, outs)))
        np.savez(os.path.join(HERE, name + ".expected.npz"), **expected)
        if case.get("weights_h5"):
            model.save_weights(os.path.join(HERE, name + ".weights.h5"))
            with open(os.path.join(HERE, name + ".config.json"), "w") as f:
                f.write(model.to_json())
            file = name + ".weights.h5"
        else:
            file = name + ".keras"
            model.save(os.path.join(HERE, file))
        manifest.append(dict(name=name, file=file, inputs=len(inputs), outputs=len(outs), chain=name in CHAINS,
                             numpy_backend_differs=case.get("numpy_backend_differs")))
        print(f"{name}: {[o.shape for o in outs]}, float64 reference within {max(worst(o, r) for o, r in zip(outs, ref)):.2g}")
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump({"generator": "gen_keras_models.py", "keras": keras.__version__, "backend": keras.backend.backend(),
                   "cases": manifest}, f, indent=1)
        f.write("\n")


def check_numpy_backend():
    """Reloads every saved model under Keras's NumPy backend and compares with the saved outputs."""
    with open(os.path.join(HERE, "cases.json")) as f:
        manifest = json.load(f)["cases"]
    for c in manifest:
        if c["file"].endswith(".weights.h5"):
            with open(os.path.join(HERE, c["name"] + ".config.json")) as f:
                model = keras.models.model_from_json(f.read())
            model.load_weights(os.path.join(HERE, c["file"]))
        else:
            model = keras.saving.load_model(os.path.join(HERE, c["file"]))
        inputs = [np.load(os.path.join(HERE, f"{c['name']}.in{k}.npy")) for k in range(c["inputs"])]
        outs = as_list(model(inputs if len(inputs) > 1 else inputs[0]))
        expected = np.load(os.path.join(HERE, c["name"] + ".expected.npz"))
        diff = max(worst(o, expected[f"out{k}"]) for k, o in enumerate(outs))
        if c["numpy_backend_differs"]:
            assert diff > TOLERANCE, f"{c['name']}: expected the numpy backend to differ ({c['numpy_backend_differs']})"
            print(f"{c['name']}: numpy backend differs by {diff:.2g} as recorded: {c['numpy_backend_differs']}")
        else:
            assert diff < TOLERANCE, f"{c['name']}: the numpy backend differs by {diff}"
            print(f"{c['name']}: numpy backend agrees within {diff:.2g}")


def write_bad_files():
    import shutil

    import h5py
    shutil.copy(os.path.join(HERE, "sequential_stack.config.json"), os.path.join(HERE, "bad_huge_dataset.config.json"))
    with h5py.File(os.path.join(HERE, "bad_huge_dataset.weights.h5"), "w") as f:
        g = f.create_group("layers/lstm")
        g.create_group("vars").attrs["name"] = "a"
        g.create_dataset("cell/vars/0", shape=(1 << 15, 1 << 15), dtype="float32")  # declared, never written


if __name__ == "__main__":
    if sys.argv[1:] == ["--check-numpy-backend"]:
        check_numpy_backend()
    else:
        generate()
        write_bad_files()
        env = dict(os.environ, LSTMRT_KERAS_BACKEND="numpy")
        subprocess.run([sys.executable, os.path.abspath(__file__), "--check-numpy-backend"], env=env, check=True)
