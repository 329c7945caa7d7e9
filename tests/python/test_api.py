"""lstmrt.LSTM's API on the reference backend: what is asked for is returned (None otherwise),
streaming in chunks equals one call, lengths and padding, the constructor from a description and
arrays (canonical, PyTorch, Keras, ONNX naming) against an independent numpy cell, execution_plan,
info()."""
import numpy as np
import pytest

import lstmrt

F32 = np.float32


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


ACT = {"Sigmoid": sigmoid, "Tanh": np.tanh, "Relu": lambda v: np.maximum(v, 0),
       "Softsign": lambda v: v / (1 + np.abs(v))}


def numpy_cell_forward(x, slot, H, peepholes=False, clip=0.0, coupled=False, acts=("Sigmoid", "Tanh", "Tanh")):
    """One forward layer of model.hpp's equations, time-major x (T, N, I), in float64."""
    f_, g_, h_ = (ACT[a] for a in acts)
    cl = (lambda v: np.clip(v, -clip, clip)) if clip > 0 else (lambda v: v)
    T, N, _ = x.shape
    h, c = np.zeros((N, H)), np.zeros((N, H))
    p = slot.get("peephole", np.zeros(3 * H)).astype(np.float64)
    ys = []
    for t in range(T):
        z = x[t] @ slot["w_ih"].T.astype(np.float64) + h @ slot["w_hh"].T.astype(np.float64) \
            + slot.get("b_ih", 0) + slot.get("b_hh", 0)
        zi, zf, zg, zo = np.split(z, 4, axis=1)
        pi, pf, po = (p[:H], p[H:2 * H], p[2 * H:]) if peepholes else (0, 0, 0)
        i = f_(cl(zi + pi * c))
        f = 1 - i if coupled else f_(cl(zf + pf * c))
        g = g_(cl(zg))
        c = f * c + i * g
        o = f_(cl(zo + po * c))
        h = o * h_(cl(c))
        ys.append(h)
    return np.stack(ys), h, c


def random_slot(rng, I, H, peepholes=False):
    s = {"w_ih": rng.uniform(-0.7, 0.7, (4 * H, I)).astype(F32), "w_hh": rng.uniform(-0.7, 0.7, (4 * H, H)).astype(F32),
         "b_ih": rng.uniform(-0.5, 0.5, 4 * H).astype(F32), "b_hh": rng.uniform(-0.5, 0.5, 4 * H).astype(F32)}
    if peepholes:
        s["peephole"] = rng.uniform(-0.5, 0.5, 3 * H).astype(F32)
    return s


@pytest.mark.parametrize("case", [
    dict(), dict(peepholes=True), dict(clip=0.6), dict(coupled=True),
    dict(acts=("Sigmoid", "Relu", "Softsign")), dict(peepholes=True, clip=1.5, coupled=True, acts=("Sigmoid", "Softsign", "Tanh")),
])
def test_constructor_with_extended_cell_matches_numpy(rng, case):
    I, H, T, N = 3, 5, 7, 4
    slot = random_slot(rng, I, H, case.get("peepholes", False))
    desc = lstmrt.ModelDesc(I, H, peepholes=case.get("peepholes", False), clip=case.get("clip", 0.0),
                            coupled_input_forget=case.get("coupled", False),
                            activations=case.get("acts"))
    lstm = lstmrt.LSTM(desc, [slot])
    x = rng.normal(0, 1.5, (T, N, I)).astype(F32)
    want_y, want_h, want_c = numpy_cell_forward(x, slot, H, case.get("peepholes", False), case.get("clip", 0.0),
                                                case.get("coupled", False), case.get("acts", ("Sigmoid", "Tanh", "Tanh")))
    out = lstm(x)
    np.testing.assert_allclose(out.y, want_y, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.h_n[0], want_h, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.c_n[0], want_c, atol=1e-5, rtol=0)


def test_desc_round_trips_through_the_model(rng):
    desc = lstmrt.ModelDesc(2, 3, num_layers=1, direction="bidirectional",
                            activations=((("HardSigmoid", 0.3, 0.4), ("LeakyRelu", 0.1), "Tanh"),
                                         ("hard_sigmoid", "Tanh", ("ScaledTanh", 2.0, 0.5))))
    lstm = lstmrt.LSTM(desc, [random_slot(rng, 2, 3), random_slot(rng, 2, 3)])
    assert lstm.desc == desc
    assert lstm.desc.activations[0][0] == ("HardSigmoid", pytest.approx(0.3), pytest.approx(0.4))
    assert lstm.desc.activations[1][0] == "hard_sigmoid"


def torch_named(rng, I, H, L, bidirectional):
    """PyTorch state_dict names with numpy values."""
    out = {}
    for l in range(L):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            width = I if l == 0 else H * (2 if bidirectional else 1)
            out[f"weight_ih_l{l}{suffix}"] = rng.uniform(-0.6, 0.6, (4 * H, width)).astype(F32)
            out[f"weight_hh_l{l}{suffix}"] = rng.uniform(-0.6, 0.6, (4 * H, H)).astype(F32)
            out[f"bias_ih_l{l}{suffix}"] = rng.uniform(-0.3, 0.3, 4 * H).astype(F32)
            out[f"bias_hh_l{l}{suffix}"] = rng.uniform(-0.3, 0.3, 4 * H).astype(F32)
    return out


def canonical_from_torch_names(named, L, bidirectional):
    slots = []
    for l in range(L):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            slots.append({"w_ih": named[f"weight_ih_l{l}{suffix}"], "w_hh": named[f"weight_hh_l{l}{suffix}"],
                          "b_ih": named[f"bias_ih_l{l}{suffix}"], "b_hh": named[f"bias_hh_l{l}{suffix}"]})
    return slots


def test_named_arrays_in_every_naming_give_the_same_model(rng):
    I, H = 3, 4
    named = torch_named(rng, I, H, 1, False)
    desc = lstmrt.ModelDesc(I, H)
    x = rng.normal(size=(5, 2, I)).astype(F32)
    base = lstmrt.LSTM(desc, canonical_from_torch_names(named, 1, False))(x)
    # PyTorch names behind a prefix
    torch_model = lstmrt.LSTM(desc, {"lstm." + k: v for k, v in named.items()})
    # Keras: kernel (I, 4H) = W_ih^T with gates i f c o (same order), one bias
    keras = {"kernel": named["weight_ih_l0"].T.copy(), "recurrent_kernel": named["weight_hh_l0"].T.copy(),
             "bias": (named["bias_ih_l0"] + named["bias_hh_l0"]).astype(F32)}
    keras_model = lstmrt.LSTM(desc, keras)
    # ONNX: gates i o f c: blocks [0, 3, 1, 2] of PyTorch's i f g o
    order = [0, 3, 1, 2]
    reorder = lambda a: np.concatenate([np.split(a, 4, axis=0)[k] for k in order], axis=0)
    onnx = {"W": reorder(named["weight_ih_l0"])[None], "R": reorder(named["weight_hh_l0"])[None],
            "B": np.concatenate([reorder(named["bias_ih_l0"]), reorder(named["bias_hh_l0"])])[None]}
    onnx_model = lstmrt.LSTM(desc, onnx)
    for m in (torch_model, keras_model, onnx_model):
        out = m(x)
        np.testing.assert_allclose(out.y, base.y, atol=1e-6, rtol=0)
        np.testing.assert_allclose(out.c_n, base.c_n, atol=1e-6, rtol=0)
    with pytest.raises(lstmrt.InvalidArgumentError, match="describe"):
        lstmrt.LSTM(lstmrt.ModelDesc(I, H + 1), named)


@pytest.fixture
def model(rng):
    named = torch_named(rng, 3, 4, 2, True)
    return lstmrt.LSTM(lstmrt.ModelDesc(3, 4, num_layers=2, direction="bidirectional"),
                       canonical_from_torch_names(named, 2, True))


def test_only_what_is_asked_for(model, rng):
    x = rng.normal(size=(6, 3, 3)).astype(F32)
    both = model(x)
    assert both.y.shape == (6, 3, 8) and both.h_n.shape == (4, 3, 4) and both.c_n.shape == (4, 3, 4)
    seq = model(x, return_state=False)
    assert seq.h_n is None and seq.c_n is None
    np.testing.assert_array_equal(seq.y, both.y)
    state = model(x, return_sequences=False)
    assert state.y is None
    np.testing.assert_array_equal(state.h_n, both.h_n)
    np.testing.assert_array_equal(state.c_n, both.c_n)
    # the top layer's forward half at the last step is its final h; the reverse half's final h is at y[0]
    np.testing.assert_array_equal(both.y[-1, :, :4], both.h_n[2])
    np.testing.assert_array_equal(both.y[0, :, 4:], both.h_n[3])
    with pytest.raises(lstmrt.InvalidArgumentError, match="nothing to compute"):
        model(x, return_sequences=False, return_state=False)


def test_streaming_in_chunks_equals_one_call(rng):
    named = torch_named(rng, 3, 5, 2, False)
    lstm = lstmrt.LSTM(lstmrt.ModelDesc(3, 5, num_layers=2), canonical_from_torch_names(named, 2, False))
    x = rng.normal(size=(12, 2, 3)).astype(F32)
    whole = lstm(x)
    state, ys = None, []
    for chunk in np.split(x, [3, 4, 9]):
        out = lstm(chunk, initial_state=state)
        state = out.h_n, out.c_n
        ys.append(out.y)
    np.testing.assert_allclose(np.concatenate(ys), whole.y, atol=1e-6, rtol=0)
    np.testing.assert_allclose(state[0], whole.h_n, atol=1e-6, rtol=0)
    np.testing.assert_allclose(state[1], whole.c_n, atol=1e-6, rtol=0)


def test_lengths_batch_first_and_padding(model, rng):
    x = rng.normal(size=(4, 6, 3)).astype(F32)  # (N, T, I)
    lengths = [6, 2, 0, 4]
    out = model(x, lengths=lengths, batch_first=True)
    assert out.y.shape == (4, 6, 8)
    for n, L in enumerate(lengths):
        # each row equals that row run alone over its valid steps
        if L:
            alone = model(x[n:n + 1, :L], batch_first=True)
            np.testing.assert_allclose(out.y[n, :L], alone.y[0], atol=1e-6, rtol=0)
            np.testing.assert_allclose(out.h_n[:, n], alone.h_n[:, 0], atol=1e-6, rtol=0)
        np.testing.assert_array_equal(out.y[n, L:], 0.0)
    np.testing.assert_array_equal(out.h_n[:, 2], 0.0)  # zero length: the (zero) initial state
    carry = model(x, lengths=np.array(lengths, dtype=np.int64), batch_first=True, padding="carry")
    # forward half repeats the last valid output at padded steps
    np.testing.assert_array_equal(carry.y[1, 2:, :4], np.broadcast_to(carry.y[1, 1, :4], (4, 4)))
    with pytest.raises(lstmrt.InvalidArgumentError, match="padding"):
        model(x, batch_first=True, padding="same")


def test_reverse_order_processing(rng):
    slot = random_slot(rng, 2, 3)
    rev = lstmrt.LSTM(lstmrt.ModelDesc(2, 3, direction="reverse"), [slot])
    x = rng.normal(size=(5, 2, 2)).astype(F32)
    original = rev(x).y
    processing = rev(x, reverse_order="processing").y
    np.testing.assert_array_equal(processing, original[::-1])


def test_execution_plan_workspace_info(model):
    assert model.execution_plan(10, 4) == "reference"
    assert model.workspace_size(10, 4) == 0
    assert "backend='reference'" in repr(model)
    i = lstmrt.info()
    for key in ("version", "backends_built", "backends_usable", "gpus", "gpu_status", "gpu_libraries_status",
                "cudnn_version", "cublas_version", "cuda_runtime_version", "cudnn_path", "gpu_module_path"):
        assert key in i
    assert i["version"] == lstmrt.__version__
    assert "reference" in i["backends_usable"]
    assert i["backends_built"] == ["reference", "cudnn", "fused"]
    if not lstmrt.gpu_available():
        assert i["gpus"] == [] and i["gpu_status"] != "ok" and "insufficient" not in i["gpu_status"]
