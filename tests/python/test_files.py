"""Models from files: LSTM.load for .onnx / .safetensors / .npz (prefix picks a submodule), and
LSTM.from_keras for Keras 3 .keras / .weights.h5, against the golden outputs in tests/data."""
import numpy as np
import pytest

import lstmrt


def check(out, expected, names=("y", "h_n", "c_n"), atol=2e-5):
    for got, name in zip(out, names):
        np.testing.assert_allclose(got, expected[name], atol=atol, rtol=0, err_msg=name)


@pytest.mark.parametrize("case", ["torch_single", "torch_stack_bidir"])
def test_onnx(data_dir, case):
    d = data_dir / "onnx_import"
    lstm = lstmrt.LSTM.load(d / f"{case}.onnx")
    check(lstm(np.load(d / f"{case}.x.npy")), np.load(d / f"{case}.expected.npz"))


def test_onnx_batch_first_with_state(data_dir):
    d = data_dir / "onnx_import"
    lstm = lstmrt.LSTM.load(str(d / "torch_batch_first_state.onnx"))
    e = np.load(d / "torch_batch_first_state.expected.npz")
    out = lstm(np.load(d / "torch_batch_first_state.x.npy"), batch_first=True,
               initial_state=(np.load(d / "torch_batch_first_state.h0.npy"), np.load(d / "torch_batch_first_state.c0.npy")))
    check(out, e)


@pytest.mark.parametrize("case", ["stack_bidir_f32", "proj_f16", "stack_bf16", "batch_first_f64"])
def test_safetensors(data_dir, case):
    d = data_dir / "safetensors"
    lstm = lstmrt.LSTM.load(d / f"{case}.safetensors")
    check(lstm(np.load(d / f"{case}.x.npy"), batch_first=case.startswith("batch_first")),
          np.load(d / f"{case}.expected.npz"), atol=1e-4)


def test_npz_prefix_picks_a_submodule(tmp_path, rng):
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Module()
            self.encoder.lstm = torch.nn.LSTM(3, 4, 2)
            self.decoder = torch.nn.LSTM(4, 2)

    net = Net()
    path = tmp_path / "net.npz"
    np.savez(path, **{k: v.detach().numpy() for k, v in net.state_dict().items()})
    x = rng.normal(size=(5, 2, 3)).astype(np.float32)
    with torch.no_grad():
        want, (h, c) = net.encoder.lstm(torch.from_numpy(x))
    for prefix in ("encoder.lstm", "encoder.lstm."):
        out = lstmrt.LSTM.load(path, prefix=prefix)(x)
        np.testing.assert_allclose(out.y, want.numpy(), atol=1e-5, rtol=0)
    dec = lstmrt.LSTM.load(path, prefix="decoder")
    assert dec.desc.input_size == 4 and dec.desc.hidden_size == 2
    with pytest.raises(lstmrt.InvalidArgumentError, match="no tensor is named 'missing.\\*'"):
        lstmrt.LSTM.load(path, prefix="missing")
    with pytest.raises(lstmrt.IoError):  # two submodules, no prefix: the naming schemes do not fit
        lstmrt.LSTM.load(path)
    # The reader is chosen by content: the same archive under a misleading name or none, with prefix=.
    for name in ("net.safetensors", "net.bin", "net"):
        (tmp_path / name).write_bytes(path.read_bytes())
        out = lstmrt.LSTM.load(tmp_path / name, prefix="encoder.lstm")(x)
        np.testing.assert_allclose(out.y, want.numpy(), atol=1e-5, rtol=0)


def test_safetensors_and_onnx_are_read_by_content(tmp_path, data_dir):
    st = data_dir / "safetensors" / "stack_bidir_f32.safetensors"
    x = np.load(data_dir / "safetensors" / "stack_bidir_f32.x.npy")
    want = lstmrt.LSTM.load(st)(x).y
    (tmp_path / "w.npz").write_bytes(st.read_bytes())
    np.testing.assert_array_equal(lstmrt.LSTM.load(tmp_path / "w.npz")(x).y, want)
    onnx = data_dir / "onnx_import" / "torch_single.onnx"
    (tmp_path / "m.bin").write_bytes(onnx.read_bytes())
    with pytest.raises(lstmrt.InvalidArgumentError, match="prefix applies"):
        lstmrt.LSTM.load(tmp_path / "m.bin", prefix="x")
    xo = np.load(data_dir / "onnx_import" / "torch_single.x.npy")
    np.testing.assert_array_equal(lstmrt.LSTM.load(tmp_path / "m.bin")(xo).y, lstmrt.LSTM.load(onnx)(xo).y)
    (tmp_path / "junk.npz").write_bytes(np.arange(4, dtype=np.float32).tobytes() * 8)
    with pytest.raises(lstmrt.IoError, match="junk.npz"):
        lstmrt.LSTM.load(tmp_path / "junk.npz")
    np.save(tmp_path / "one.npy", np.zeros(3, np.float32))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(lstmrt.IoError, match="the content is a .npy array.*although its name ends in '.npz'"):
        lstmrt.LSTM.load(tmp_path / "one.npz")


@pytest.mark.parametrize("case,outputs", [
    ("bidir_concat_state", ("y", None, None)),
    ("bidir_mul_go_backwards_last", ("y", "h", "c")),
    ("go_backwards_stack_masked", ("y", "h", "c")),
])
def test_keras_archives(data_dir, case, outputs):
    d = data_dir / "keras_import"
    model = lstmrt.LSTM.from_keras(d / f"{case}.keras")
    assert isinstance(model, lstmrt.KerasModel)
    e = np.load(d / f"{case}.expected.npz")
    x = np.load(d / f"{case}.x.npy")  # Keras layout (N, T, F): the default
    out = model(x)
    np.testing.assert_allclose(out.y, e["y"], atol=2e-5, rtol=0)
    if outputs[1]:
        # the last stage's final state (one direction): Keras's state_h / state_c
        np.testing.assert_allclose(out.h_n[0], e[outputs[1]], atol=2e-5, rtol=0)
        np.testing.assert_allclose(out.c_n[0], e[outputs[2]], atol=2e-5, rtol=0)
    if case == "bidir_concat_state":
        np.testing.assert_allclose(out.h_n[0], e["h_fwd"], atol=2e-5, rtol=0)
        np.testing.assert_allclose(out.h_n[1], e["h_bwd"], atol=2e-5, rtol=0)
    assert model(x, return_state=False).h_n is None
    assert model(x, return_sequences=False).y is None


def test_keras_weights_h5_with_config(data_dir):
    d = data_dir / "keras_import"
    model = lstmrt.LSTM.from_keras(d / "sequential_stack.weights.h5")
    assert [s["name"] for s in model.stages] and model.return_sequences
    np.testing.assert_allclose(model(np.load(d / "sequential_stack.x.npy")).y,
                               np.load(d / "sequential_stack.expected.npz")["y"], atol=2e-5, rtol=0)


def test_keras_from_torch_caller_comes_back_as_torch(data_dir):
    torch = pytest.importorskip("torch")
    d = data_dir / "keras_import"
    model = lstmrt.LSTM.from_keras(d / "bidir_concat_state.keras")
    out = model(torch.from_numpy(np.load(d / "bidir_concat_state.x.npy")))
    assert isinstance(out.y, torch.Tensor)


def test_file_errors(tmp_path, data_dir):
    with pytest.raises(lstmrt.IoError) as e:
        lstmrt.LSTM.load(tmp_path / "missing.onnx")
    assert isinstance(e.value, OSError)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(lstmrt.IoError, match="bad.safetensors"):
        lstmrt.LSTM.load(bad)
    with pytest.raises(lstmrt.UnsupportedError):
        lstmrt.LSTM.load(data_dir / "onnx_import" / "bad_unsupported_op.onnx")
    with pytest.raises(lstmrt.InvalidArgumentError, match="prefix applies"):
        lstmrt.LSTM.load(data_dir / "onnx_import" / "torch_single.onnx", prefix="x")
    with pytest.raises(lstmrt.UnsupportedError, match="lstmrt.LSTM.from_keras"):
        lstmrt.LSTM.load(data_dir / "keras_import" / "go_backwards_stack_masked.keras")
    with pytest.raises(lstmrt.IoError):
        lstmrt.LSTM.from_keras(tmp_path / "missing.keras")
    with pytest.raises(lstmrt.InvalidTypeError):
        lstmrt.LSTM.from_keras(object())
