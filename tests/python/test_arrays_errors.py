"""Arrays by DLPack (numpy, torch) without copies where possible, outputs in the caller's
framework; every error path raises an lstmrt.Error subclass that is also the fitting built-in
exception and names the argument."""
import numpy as np
import pytest

import lstmrt
from lstmrt import _arrays, _lstmrt

F32 = np.float32


@pytest.fixture
def model(rng):
    H, I = 4, 3
    slot = {"w_ih": rng.uniform(-1, 1, (4 * H, I)).astype(F32), "w_hh": rng.uniform(-1, 1, (4 * H, H)).astype(F32)}
    return lstmrt.LSTM(lstmrt.ModelDesc(I, H, num_layers=1), [slot])


def test_numpy_and_torch_inputs_are_not_copied(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(5, 2, 3)).astype(F32)
    assert _lstmrt.data_pointer(_arrays.export("x", x, "numpy", None)) == x.ctypes.data
    t = torch.randn(5, 2, 3, requires_grad=True)
    assert _lstmrt.data_pointer(_arrays.export("x", t, "torch", None)) == t.data_ptr()
    ro = x.copy()
    ro.setflags(write=False)  # read-only input is fine
    assert _lstmrt.data_pointer(_arrays.export("x", ro, "numpy", None)) == ro.ctypes.data
    # a non-contiguous view is copied once to C order
    view = np.transpose(rng.normal(size=(2, 5, 3)).astype(F32), (1, 0, 2))
    assert _lstmrt.data_pointer(_arrays.export("x", view, "numpy", None)) != view.ctypes.data


def test_outputs_come_back_in_the_callers_framework(model, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(5, 2, 3)).astype(F32)
    out_np = model(x)
    assert all(isinstance(a, np.ndarray) and a.dtype == F32 for a in out_np)
    out_t = model(torch.from_numpy(x).requires_grad_())
    assert all(isinstance(a, torch.Tensor) and a.dtype == torch.float32 and not a.requires_grad for a in out_t)
    np.testing.assert_array_equal(out_t.y.numpy(), out_np.y)
    # non-contiguous inputs give the same answer
    xt = torch.from_numpy(np.ascontiguousarray(np.transpose(x, (1, 0, 2)))).transpose(0, 1)
    assert not xt.is_contiguous()
    np.testing.assert_array_equal(model(xt).y.numpy(), out_np.y)
    # initial state from another framework than x
    h0 = torch.randn(1, 2, 4)
    c0 = np.ones((1, 2, 4), F32)
    a = model(x, initial_state=(h0, c0))
    b = model(x, initial_state=(h0.numpy(), c0))
    np.testing.assert_array_equal(a.y, b.y)


def test_every_output_element_is_written(model, rng, monkeypatch):
    # Poison the buffers the package allocates: every element must be overwritten.
    real_empty = _arrays.empty
    poisoned = []

    def poisoned_empty(*args):
        out, buf = real_empty(*args)
        buf[...] = np.nan
        poisoned.append(buf)
        return out, buf

    monkeypatch.setattr(_arrays, "empty", poisoned_empty)
    x = rng.normal(size=(6, 3, 3)).astype(F32)
    out = model(x, lengths=[6, 1, 0])
    assert len(poisoned) == 3 and all(a is b for a, b in zip(out, poisoned))
    assert all(np.isfinite(a).all() for a in out)


class FakeDeviceArray:
    """Claims to live on cuda:0 (DLPack device type 2): the device check must refuse it before any
    data is touched."""

    shape = (5, 2, 3)

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None):
        raise AssertionError("exported although on the wrong device")


def test_errors_name_the_argument(model, rng):
    x = rng.normal(size=(5, 2, 3)).astype(F32)
    cases = [
        (lambda: model(x.astype(np.float64)), lstmrt.InvalidTypeError, TypeError, "x has dtype float64: expected float32"),
        (lambda: model(x[:, :, :2].copy()), lstmrt.InvalidArgumentError, ValueError, r"x has shape \(5, 2, 2\): expected \(5, 2, 3\)"),
        (lambda: model(x[0]), lstmrt.InvalidArgumentError, ValueError, "expected 3 dimensions"),
        (lambda: model([[1.0]]), lstmrt.InvalidTypeError, TypeError, "expected an array"),
        (lambda: model(FakeDeviceArray()), lstmrt.DeviceMismatchError, ValueError, "x is on cuda:0: backend reference computes on cpu"),
        (lambda: model(x, lengths=[5, 6]), lstmrt.InvalidArgumentError, ValueError, "length"),
        (lambda: model(x, lengths=[5]), lstmrt.InvalidArgumentError, ValueError, "lengths has shape"),
        (lambda: model(x, lengths=[1.5, 2.0]), lstmrt.InvalidTypeError, TypeError, "lengths has dtype float64"),
        (lambda: model(x, lengths=[2**33, 1]), lstmrt.InvalidArgumentError, ValueError, "8589934592"),
        (lambda: model(x, initial_state=(np.zeros((1, 2, 4), F32),)), lstmrt.InvalidTypeError, TypeError, r"expected \(h0, c0\)"),
        (lambda: model(x, initial_state=(np.zeros((1, 2, 4), F32), np.zeros((1, 3, 4), F32))), lstmrt.InvalidArgumentError, ValueError, "initial_state c0 has shape"),
        (lambda: model(x, stream="fast"), lstmrt.InvalidTypeError, TypeError, "stream is a str"),
        (lambda: model(x, stream=-1), lstmrt.InvalidArgumentError, ValueError, "stream is -1"),
        (lambda: model(x, reverse_order="backwards"), lstmrt.InvalidArgumentError, ValueError, "reverse_order 'backwards'"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [{}]), lstmrt.InvalidArgumentError, ValueError, "'w_ih'.*is missing"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [{"w_ih": np.zeros((16, 3), F32), "w_hh": np.zeros((16, 4), F32), "bogus": np.zeros(1, F32)}]),
         lstmrt.InvalidArgumentError, ValueError, "unknown key 'bogus'"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [{"w_ih": np.zeros((16, 3)), "w_hh": np.zeros((16, 4), F32)}]),
         lstmrt.InvalidTypeError, TypeError, "has dtype float64: expected float32"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [], backend="gpu"), lstmrt.InvalidArgumentError, ValueError, "unknown backend 'gpu'"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [], speed=1), lstmrt.InvalidTypeError, TypeError, "unknown option"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [], dtype="float64"), lstmrt.InvalidArgumentError, ValueError, "dtype 'float64'"),
        (lambda: lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [], device="tpu"), lstmrt.InvalidArgumentError, ValueError, "device 'tpu'"),
        (lambda: lstmrt.ModelDesc(3, 0), lstmrt.InvalidArgumentError, ValueError, "hidden_size"),
        (lambda: lstmrt.ModelDesc(3, 4, proj_size=4), lstmrt.InvalidArgumentError, ValueError, "proj_size"),
        (lambda: lstmrt.ModelDesc(3, 4, direction="sideways"), lstmrt.InvalidArgumentError, ValueError, "direction 'sideways'"),
        (lambda: lstmrt.ModelDesc(3, 4, activations=("sigmoid", "tanh", "swish")), lstmrt.InvalidArgumentError, ValueError, "unknown activation 'swish'"),
        (lambda: lstmrt.LSTM("desc", []), lstmrt.InvalidTypeError, TypeError, "expected lstmrt.ModelDesc"),
    ]
    for call, cls, builtin, pattern in cases:
        with pytest.raises(cls, match=pattern) as e:
            call()
        assert isinstance(e.value, builtin) and isinstance(e.value, lstmrt.Error)
        assert "\n" not in str(e.value)


def test_gpu_backend_without_a_gpu_says_why(rng):
    if lstmrt.gpu_available():
        pytest.skip("a GPU is present")
    slot = {"w_ih": np.zeros((16, 3), F32), "w_hh": np.zeros((16, 4), F32)}
    for backend in ("cudnn", "fused"):
        with pytest.raises(lstmrt.NoDeviceError, match=f"backend {backend} needs a CUDA GPU") as e:
            lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [slot], backend=backend)
        assert isinstance(e.value, RuntimeError)
        assert "insufficient" not in str(e.value)
    # auto serves on the reference backend
    assert lstmrt.LSTM(lstmrt.ModelDesc(3, 4), [slot]).backend == "reference"


def test_jax_host_arrays(model, rng):
    jnp = pytest.importorskip("jax.numpy")
    import jax
    x = rng.normal(size=(5, 2, 3)).astype(F32)
    out = model(jnp.asarray(x))
    assert all(isinstance(a, jax.Array) for a in out)
    np.testing.assert_allclose(np.asarray(out.y), model(x).y, atol=0, rtol=0)
