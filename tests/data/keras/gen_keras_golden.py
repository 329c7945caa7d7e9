"""Golden data from Keras 3 LSTM layers for lstmrt's tests (tests/cpu/test_keras_golden.cpp).

Needs keras 3 with a backend (JAX on CPU was used); make a throwaway venv outside the repo:
    python3 -m venv /tmp/kerasenv && /tmp/kerasenv/bin/pip install keras "jax[cpu]" numpy
    KERAS_BACKEND=jax /tmp/kerasenv/bin/python tests/data/keras/gen_keras_golden.py
Writes, for every case CASE, into this directory:
    CASE.weights.npz   Keras weights, named as lstmrt::load_weights reads them (gates i f c o):
                         kernel, recurrent_kernel[, bias]                     one LSTM layer
                         layer{k}/kernel, ...                                 a stack of LSTM layers
                         layer0/forward/kernel, ..., layer0/backward/kernel   Bidirectional(LSTM)
    CASE.x.npy         input (N, T, I), batch-major as Keras (float32). Padded steps hold random
                       values too: a masked step must be ignored, not merely be zero.
    CASE.lengths.npy   per-row lengths of a right-padded mask (int32), only for masked cases
    CASE.mask.npy      a per-step mask (N, T) uint8 of any pattern (front padding, gaps, empty rows),
                       for the cases run with ForwardRequest::mask instead of lengths
    CASE.h0.npy/.c0.npy initial state (L*D, N, H), only when given
    CASE.expected.npz  Keras's outputs in lstmrt's layout: y (N, T, D*H), h_n and c_n (L*D, N, H);
                       for initial-state cases also y_unroll: the same layer run with unroll=True
                       (Keras's other loop), which differs from the default loop in the padding.
and cases.json describing each case, which the C++ test cross-checks. Every case is also computed
by the float64 NumPy implementation of Keras's semantics (keras_np64.py, which follows the generic
loop of the TensorFlow backend and Keras's unrolled loop) and must agree within 1e-5: with y, or
for the initial-state cases with y_unroll (JAX's scan differs there, before the first valid step).
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_np64 as np64  # noqa: E402  (beside this file)

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    dict(name="go_backwards", I=5, H=7, N=3, T=6, go_backwards=True),
    dict(name="masked", I=4, H=6, N=4, T=6, lengths=[3, 6, 1, 0]),
    dict(name="masked_go_backwards", I=5, H=4, N=4, T=5, go_backwards=True, lengths=[5, 2, 0, 1]),
    dict(name="bidir_masked", I=3, H=5, N=4, T=5, bidirectional=True, lengths=[5, 2, 1, 0]),
    dict(name="stack_masked", I=4, H=5, N=3, T=6, layers=2, lengths=[6, 3, 1]),
    dict(name="hard_sigmoid_relu", I=4, H=6, N=3, T=5, recurrent_activation="hard_sigmoid",
         activation="relu", weight_scale=1.2, input_scale=2.0),
    dict(name="no_bias", I=5, H=7, N=3, T=6, use_bias=False),
    dict(name="masked_initial_state", I=3, H=4, N=4, T=5, lengths=[5, 2, 0, 3], initial_state=True),
    dict(name="masked_go_backwards_initial_state", I=3, H=4, N=4, T=5, go_backwards=True,
         lengths=[5, 2, 0, 3], initial_state=True),
    # Per-step masks (ForwardRequest::mask): rows padded at the front (pad_sequences' default), at
    # the back, with gaps, empty; carried or zero padding; reverse and bidirectional processing.
    dict(name="mask_front_padded", I=4, H=5, N=5, T=6,
         mask_rows=[("pre", 4), ("pre", 1), None, ("gaps", [1, 2, 4]), ("pre", 0)]),
    dict(name="mask_gaps_go_backwards", I=3, H=4, N=4, T=6, go_backwards=True,
         mask_rows=[("gaps", [0, 3]), ("pre", 2), ("post", 3), None]),
    dict(name="mask_bidir_front_padded", I=3, H=4, N=4, T=5, bidirectional=True,
         mask_rows=[("pre", 3), ("gaps", [2]), ("post", 1), ("pre", 5)]),
    dict(name="mask_stack_zero_output", I=3, H=4, N=4, T=6, layers=2, zero_output_for_mask=True,
         mask_rows=[("pre", 2), ("gaps", [0, 5]), None, ("post", 4)]),
    # Keras's leaky_relu by name: negative_slope 0.2 (ONNX LeakyRelu's alpha is 0.01).
    dict(name="leaky_relu", I=4, H=5, N=3, T=5, activation="leaky_relu", recurrent_activation="sigmoid",
         weight_scale=1.0, input_scale=2.0),
]


def case_mask(case, N, T):
    """The (N, T) bool mask of a case's mask_rows: ("pre", k) k valid steps at the end, ("post", k) at
    the start, ("gaps", [t...]) those steps masked, None all valid."""
    mask = np.ones((N, T), dtype=bool)
    for b, row in enumerate(case["mask_rows"]):
        if row is None:
            continue
        kind, arg = row
        if kind == "pre":
            mask[b, :T - arg] = False
        elif kind == "post":
            mask[b, arg:] = False
        else:
            mask[b, arg] = False
    return mask


def make_lstm(case, unroll=False):
    return keras.layers.LSTM(case["H"], return_sequences=True, return_state=True,
                             go_backwards=case.get("go_backwards", False),
                             use_bias=case.get("use_bias", True),
                             activation=case.get("activation", "tanh"),
                             recurrent_activation=case.get("recurrent_activation", "sigmoid"),
                             zero_output_for_mask=case.get("zero_output_for_mask", False),
                             unroll=unroll)


def randomize(layer, rng, scale):
    """Replaces a built layer's weights (kernel, recurrent_kernel[, bias]) with uniform values."""
    layer.set_weights([rng.uniform(-scale, scale, w.shape).astype(np.float32) for w in layer.get_weights()])


def keras_names(weights, prefix):
    names = ["kernel", "recurrent_kernel", "bias"][: len(weights)]
    return {prefix + n: np.asarray(w, dtype=np.float32) for n, w in zip(names, weights)}


def as_np(t):
    return np.asarray(t, dtype=np.float32)


def run_case(index, case):
    I, H, N, T = case["I"], case["H"], case["N"], case["T"]
    L = case.get("layers", 1)
    bidirectional = case.get("bidirectional", False)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(2000 + index)
    scale = case.get("weight_scale", 0.6)

    x = (rng.standard_normal((N, T, I)) * case.get("input_scale", 1.0)).astype(np.float32)
    mask = None
    if "lengths" in case:
        lengths = np.array(case["lengths"], dtype=np.int32)
        mask = np.arange(T)[None, :] < lengths[:, None]  # right-padded
    elif "mask_rows" in case:
        mask = case_mask(case, N, T)
    h0 = c0 = None
    if case.get("initial_state"):
        h0 = (rng.standard_normal((L * D, N, H)) * 0.5).astype(np.float32)
        c0 = (rng.standard_normal((L * D, N, H)) * 0.5).astype(np.float32)

    weights = {}
    extra = {}
    if bidirectional:
        layer = keras.layers.Bidirectional(make_lstm(case))
        layer.build((N, T, I))
        randomize(layer.forward_layer, rng, scale)
        randomize(layer.backward_layer, rng, scale)
        weights.update(keras_names(layer.forward_layer.get_weights(), "layer0/forward/"))
        weights.update(keras_names(layer.backward_layer.get_weights(), "layer0/backward/"))
        y, fh, fc, bh, bc = layer(x, mask=mask)
        h_n, c_n = np.stack([as_np(fh), as_np(bh)]), np.stack([as_np(fc), as_np(bc)])
        y = as_np(y)
    else:
        inputs, hs, cs = x, [], []
        for k in range(L):
            lstm = make_lstm(case)
            lstm.build((N, T, inputs.shape[-1]))
            randomize(lstm, rng, scale)
            weights.update(keras_names(lstm.get_weights(), f"layer{k}/" if L > 1 else ""))
            state = None if h0 is None else [h0[k], c0[k]]
            y, h, c = lstm(inputs, mask=mask, initial_state=state)
            if h0 is not None:
                # The same weights through Keras's unrolled loop.
                unrolled = make_lstm(case, unroll=True)
                unrolled.build((N, T, inputs.shape[-1]))
                unrolled.set_weights(lstm.get_weights())
                yu, hu, cu = unrolled(inputs, mask=mask, initial_state=state)
                assert np.allclose(as_np(hu), as_np(h), atol=1e-6) and np.allclose(as_np(cu), as_np(c), atol=1e-6)
                extra["y_unroll"] = as_np(yu)
            inputs = as_np(y)
            hs.append(as_np(h))
            cs.append(as_np(c))
        y, h_n, c_n = inputs, np.stack(hs), np.stack(cs)

    check_np64(case, weights, x, mask, h0, c0, y, h_n, c_n, extra)
    prefix = os.path.join(HERE, case["name"])
    np.savez(prefix + ".weights.npz", **weights)
    np.save(prefix + ".x.npy", x)
    if "lengths" in case:
        np.save(prefix + ".lengths.npy", lengths)
    elif mask is not None:
        np.save(prefix + ".mask.npy", mask.astype(np.uint8))
    if h0 is not None:
        np.save(prefix + ".h0.npy", h0)
        np.save(prefix + ".c0.npy", c0)
    np.savez(prefix + ".expected.npz", y=y, h_n=h_n, c_n=c_n, **extra)
    padding = None
    if mask is not None:
        # Bidirectional forces zero_output_for_mask = return_sequences on both of its layers;
        # a plain LSTM keeps zero_output_for_mask=False (repeat the previous output).
        padding = "zero" if bidirectional or case.get("zero_output_for_mask") else "carry"
    return dict(name=case["name"], input_size=I, hidden_size=H, num_layers=L, bidirectional=bidirectional,
                go_backwards=case.get("go_backwards", False), use_bias=case.get("use_bias", True),
                activation=case.get("activation", "tanh"),
                recurrent_activation=case.get("recurrent_activation", "sigmoid"),
                seq_len=T, batch=N, lengths="lengths" in case, mask="mask_rows" in case, padding=padding,
                initial_state=h0 is not None)


def check_np64(case, weights, x, mask, h0, c0, y, h_n, c_n, extra):
    """Keras's outputs against keras_np64 in float64 (y_unroll for the initial-state cases)."""
    L = case.get("layers", 1)
    act = dict(activation=case.get("activation", "tanh"),
               recurrent_activation=case.get("recurrent_activation", "sigmoid"))

    def layer_weights(prefix):
        return [weights[prefix + n] for n in ("kernel", "recurrent_kernel", "bias") if prefix + n in weights]
    if case.get("bidirectional"):
        outs = np64.bidirectional(x, layer_weights("layer0/forward/"), layer_weights("layer0/backward/"),
                                  return_sequences=True, return_state=True, mask=mask, **act)
        ref_y, ref_h, ref_c = outs[0], np.stack([outs[1], outs[3]]), np.stack([outs[2], outs[4]])
    else:
        inputs, hs, cs = x, [], []
        for k in range(L):
            state = None if h0 is None else [h0[k], c0[k]]
            inputs, h, c = np64.lstm(inputs, layer_weights(f"layer{k}/" if L > 1 else ""), mask=mask,
                                     initial_state=state, go_backwards=case.get("go_backwards", False),
                                     zero_output_for_mask=case.get("zero_output_for_mask", False),
                                     return_sequences=True, **act)
            hs.append(h)
            cs.append(c)
        ref_y, ref_h, ref_c = inputs, np.stack(hs), np.stack(cs)
    want_y = extra.get("y_unroll", y)
    for what, a, b in (("y", want_y, ref_y), ("h_n", h_n, ref_h), ("c_n", c_n, ref_c)):
        diff = float(np.max(np.abs(np.float64(a) - b)))
        assert diff < 1e-5, f"{case['name']} {what}: Keras and the float64 reference differ by {diff}"


def main():
    manifest = [run_case(i, c) for i, c in enumerate(CASES)]
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump({"generator": "gen_keras_golden.py", "keras": keras.__version__,
                   "backend": keras.backend.backend(), "cases": manifest}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} cases to {HERE}")


if __name__ == "__main__":
    main()
