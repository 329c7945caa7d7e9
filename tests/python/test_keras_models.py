"""lstmrt.KerasModel on every Keras 3 golden model of tests/data/keras_import (written by
gen_keras_models.py with Keras 3's TensorFlow backend, each case cross-checked there against a
float64 NumPy implementation): several inputs in model.inputs order, initial_state from model
inputs, encoder–decoders (the seed tutorial's, a Bidirectional encoder with concatenated states,
a stacked masked encoder), Bidirectional merge_mode=None (both outputs), Masking with left padding
and gaps, zero_output_for_mask with last outputs, every Keras activation by name — each output in
model.outputs order against Keras's within 1e-5. Also ForwardRequest's per-step masks through
lstmrt.LSTM(mask=) against a NumPy loop with Keras's semantics."""
import json

import numpy as np
import pytest

import lstmrt

TOL = 1e-5


def cases(data_dir):
    return json.loads((data_dir / "keras_import" / "cases.json").read_text())["cases"]


def load_case(data_dir, c):
    d = data_dir / "keras_import"
    inputs = [np.load(d / f"{c['name']}.in{k}.npy") for k in range(c["inputs"])]
    e = np.load(d / f"{c['name']}.expected.npz")
    expected = [e[f"out{k}"] for k in range(c["outputs"])]
    model = lstmrt.LSTM.from_keras(d / c["file"])
    return model, inputs, expected


def test_every_golden_model_matches_keras(data_dir):
    checked = 0
    for c in cases(data_dir):
        model, inputs, expected = load_case(data_dir, c)
        assert model.input_names and len(model.input_names) == c["inputs"], c["name"]
        assert model.num_outputs == c["outputs"], c["name"]
        got = model.predict(inputs if len(inputs) > 1 else inputs[0])
        got = [got] if c["outputs"] == 1 else got
        assert isinstance(got, list) or c["outputs"] == 1
        assert len(got) == len(expected), c["name"]
        for k, (g, e) in enumerate(zip(got, expected)):
            assert g.shape == e.shape, f"{c['name']} out{k}: {g.shape} vs {e.shape}"
            np.testing.assert_allclose(g, e, atol=TOL, rtol=0, err_msg=f"{c['name']} out{k}")
        checked += 1
    assert checked >= 21


def test_seed_encoder_decoder_from_keras_file(data_dir):
    # The seed tutorial's model: encoder LSTM(return_state) -> states initialise the decoder LSTM.
    model, (enc_x, dec_x), (want,) = load_case(data_dir, {"name": "seed_encoder_decoder", "inputs": 2, "outputs": 1,
                                                          "file": "seed_encoder_decoder.keras"})
    assert not model.is_chain and len(model.input_names) == 2
    out = model([enc_x, dec_x])
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(out[0], want, atol=TOL, rtol=0)
    np.testing.assert_allclose(model.predict([enc_x, dec_x]), want, atol=TOL, rtol=0)
    # in time-major layout too
    tm = model.predict([np.ascontiguousarray(enc_x.transpose(1, 0, 2)), np.ascontiguousarray(dec_x.transpose(1, 0, 2))],
                       batch_first=False)
    np.testing.assert_allclose(tm, want.transpose(1, 0, 2) if want.ndim == 3 else want, atol=TOL, rtol=0)
    with pytest.raises(lstmrt.InvalidArgumentError, match="takes 2 input"):
        model.predict(enc_x)
    with pytest.raises(lstmrt.InvalidArgumentError, match="lengths"):
        model([enc_x, dec_x], lengths=[1] * enc_x.shape[0])


def test_initial_state_inputs(data_dir):
    # inputs [x, h0, c0] -> LSTM(x, initial_state=[h0, c0]): initial_state feeds the inputs after x
    model, (x, h0, c0), expected = load_case(data_dir, {"name": "initial_state_inputs", "inputs": 3, "outputs": 3,
                                                        "file": "initial_state_inputs.keras"})
    a = model(x, initial_state=(h0, c0))
    b = model([x, h0, c0])
    for g1, g2, e in zip(a, b, expected):
        np.testing.assert_allclose(g1, e, atol=TOL, rtol=0)
        np.testing.assert_array_equal(g1, g2)
    # the state matters: other states, other outputs
    other = model(x, initial_state=(h0 + 0.5, c0))
    assert np.abs(other[0] - expected[0]).max() > 1e-3
    with pytest.raises(lstmrt.InvalidArgumentError, match="takes 3 input"):
        model(x, initial_state=(h0,))
    with pytest.raises(lstmrt.InvalidArgumentError, match="shape|expected"):
        model(x, initial_state=(h0[:, :-1].copy(), c0))


def test_merge_mode_none_returns_both(data_dir):
    for name, n_out in (("bidir_merge_none", 6), ("bidir_merge_none_last", 2)):
        model, (x,), expected = load_case(data_dir, {"name": name, "inputs": 1, "outputs": n_out,
                                                     "file": f"{name}.keras"})
        assert not model.is_chain
        out = model(x)
        assert isinstance(out, list) and len(out) == n_out
        for g, e in zip(out, expected):
            np.testing.assert_allclose(g, e, atol=TOL, rtol=0)
        # forward and backward halves are different tensors
        assert np.abs(out[0] - out[1]).max() > 1e-3


def test_chain_keeps_output_tuple_and_torch(data_dir):
    torch = pytest.importorskip("torch")
    model, (x,), expected = load_case(data_dir, {"name": "left_padded_stack", "inputs": 1, "outputs": 3,
                                                 "file": "left_padded_stack.keras"})
    assert model.is_chain
    out = model(torch.from_numpy(x))
    assert isinstance(out, lstmrt.Output) and isinstance(out.y, torch.Tensor)
    np.testing.assert_allclose(out.y.numpy(), expected[0], atol=TOL, rtol=0)
    np.testing.assert_allclose(out.h_n[0].numpy(), expected[1], atol=TOL, rtol=0)
    with pytest.raises(lstmrt.InvalidArgumentError, match="initial_state"):
        model(x, initial_state=(out.h_n, out.c_n))
    graph, inputs, _ = load_case(data_dir, {"name": "seed_encoder_decoder", "inputs": 2, "outputs": 1,
                                            "file": "seed_encoder_decoder.keras"})
    res = graph([torch.from_numpy(a) for a in inputs])
    assert isinstance(res[0], torch.Tensor)


# ---- ForwardRequest masks from Python ---------------------------------------------------------------------

def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_masked_lstm(x, mask, W, R, b, zero_output):
    """Keras's masked LSTM in float64 (batch-first x (N, T, F), mask (N, T)): a masked step keeps h
    and c; its output is zeros (zero_output) or the last h. Gate order i, o, f, c (lstmrt/ONNX)."""
    N, T, _ = x.shape
    H = R.shape[1]
    h = np.zeros((N, H))
    c = np.zeros((N, H))
    y = np.zeros((N, T, H))
    for t in range(T):
        g = x[:, t] @ W.T + h @ R.T + b
        i, o, f, cc = _sig(g[:, :H]), _sig(g[:, H:2 * H]), _sig(g[:, 2 * H:3 * H]), np.tanh(g[:, 3 * H:])
        c_new = f * c + i * cc
        h_new = o * np.tanh(c_new)
        m = mask[:, t:t + 1].astype(bool)
        c = np.where(m, c_new, c)
        h = np.where(m, h_new, h)
        y[:, t] = np.where(m, h, 0.0 if zero_output else h)
    return y, h, c


def test_lstm_per_step_masks_match_numpy():
    rng = np.random.default_rng(7)
    F, H, N, T = 3, 4, 5, 7
    W = rng.uniform(-0.5, 0.5, (4 * H, F)).astype(np.float32)
    R = rng.uniform(-0.5, 0.5, (4 * H, H)).astype(np.float32)
    B = rng.uniform(-0.5, 0.5, (8 * H,)).astype(np.float32)
    model = lstmrt.LSTM(lstmrt.ModelDesc(F, H), {"W": W[None], "R": R[None], "B": B[None]}, batch_first=True)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    mask = np.ones((N, T), bool)
    mask[0, :3] = False          # front padding (pad_sequences' default)
    mask[1, 4:] = False          # back padding
    mask[2, [1, 4]] = False      # holes
    mask[3, :] = False           # an all-masked row
    for padding, zero in (("zero", True), ("carry", False)):
        out = model(x, mask=mask, padding=padding)
        y, h, c = numpy_masked_lstm(x.astype(np.float64), mask, W, R, B[:4 * H] + B[4 * H:], zero)
        np.testing.assert_allclose(out.y, y, atol=1e-5, rtol=0)
        np.testing.assert_allclose(out.h_n[0], h, atol=1e-5, rtol=0)
        np.testing.assert_allclose(out.c_n[0], c, atol=1e-5, rtol=0)
    # all-True mask == no mask; a list of lists and 0/1 integers work too
    np.testing.assert_array_equal(model(x, mask=np.ones((N, T), np.int64)).y, model(x).y)
    np.testing.assert_array_equal(model(x, mask=mask.astype(int).tolist()).y, model(x, mask=mask).y)
    with pytest.raises(lstmrt.InvalidArgumentError, match="mask has shape"):
        model(x, mask=mask[:, :-1])
    with pytest.raises(lstmrt.InvalidArgumentError, match="mask and lengths"):
        model(x, mask=mask, lengths=[T] * N)
    with pytest.raises(lstmrt.InvalidTypeError, match="mask has dtype"):
        model(x, mask=mask.astype(np.float32))
    with pytest.raises(lstmrt.InvalidArgumentError, match="other than 0 and 1"):
        model(x, mask=mask.astype(int) * 2)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(model(x, mask=torch.from_numpy(mask)).y, model(x, mask=mask).y)
