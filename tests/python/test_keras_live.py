"""LSTM.from_keras on live Keras 3 objects (a built LSTM / Bidirectional layer, a keras.Model)
against Keras's own predictions. Needs keras (any backend); skipped where it is not installed
(the CI venv has Debian's packages only: the golden .keras files of test_files.py stand in there)."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import lstmrt  # noqa: E402


def run(keras_callable, x):
    return keras.ops.convert_to_numpy(keras_callable(x))


@pytest.mark.parametrize("seed", range(4))
def test_layer_and_model(seed):
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    T, N, F, H = 6, 3, 4, 5
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    layer = keras.layers.LSTM(H, return_sequences=True, go_backwards=bool(seed % 2),
                              recurrent_activation="hard_sigmoid" if seed == 2 else "sigmoid")
    want = run(layer, x)
    got = lstmrt.LSTM.from_keras(layer)(x, return_state=False).y
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)

    inp = keras.Input(shape=(None, F))
    mid = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True), merge_mode="sum")(inp)
    out = keras.layers.LSTM(H - 1)(mid)
    model = keras.Model(inp, out)
    want = run(model, x)
    imported = lstmrt.LSTM.from_keras(model)
    assert len(imported.stages) == 2 and not imported.return_sequences
    np.testing.assert_allclose(imported(x).y, want, atol=2e-5, rtol=0)


def test_unbuilt_layer_is_refused():
    with pytest.raises(lstmrt.InvalidArgumentError, match="not built"):
        lstmrt.LSTM.from_keras(keras.layers.LSTM(3))
    with pytest.raises(lstmrt.UnsupportedError):
        layer = keras.layers.GRU(3)
        layer(np.zeros((1, 2, 2), np.float32))
        lstmrt.LSTM.from_keras(layer)
