"""On a GPU (marker `gpu`; skipped without one, run by scripts/gpu-check with `-m gpu`): device
arrays from torch, cupy and jax on the cudnn and fused backends against the reference, outputs on
the caller's device, streams (int handles, __cuda_stream__ objects, torch streams), wrong-place
errors, dtype float16/bfloat16 storage, and torch.compile through the custom op on CUDA."""
import numpy as np
import pytest

import lstmrt

pytestmark = pytest.mark.gpu
F32 = np.float32
BACKENDS = ["cudnn", "fused"]


def reference_and_input(rng, bidirectional=True, proj=0):
    torch = pytest.importorskip("torch")
    m = torch.nn.LSTM(6, 8, 2, bidirectional=bidirectional, proj_size=proj).eval()
    x = rng.normal(size=(7, 3, 6)).astype(F32)
    return m, x, lstmrt.LSTM.from_torch(m, backend="reference")(x)


@pytest.mark.torch_cuda
@pytest.mark.parametrize("backend", BACKENDS)
def test_torch_cuda_tensors(rng, backend):
    torch = pytest.importorskip("torch")
    m, x, want = reference_and_input(rng)
    lstm = lstmrt.LSTM.from_torch(m, backend=backend)
    assert lstm.device == "cuda:0"
    xd = torch.from_numpy(x).cuda()
    lengths = [7, 3, 5]
    out = lstm(xd, lengths=lengths)
    assert all(isinstance(a, torch.Tensor) and a.is_cuda for a in out)
    ref = lstmrt.LSTM.from_torch(m, backend="reference")(x, lengths=lengths)
    for got, w in zip(out, ref):
        np.testing.assert_allclose(got.cpu().numpy(), w, atol=2e-5, rtol=0)
    with pytest.raises(lstmrt.DeviceMismatchError, match=f"x is on cpu: backend {backend} computes on cuda:0"):
        lstm(torch.from_numpy(x))
    with pytest.raises(lstmrt.DeviceMismatchError, match="lengths is on cuda:0"):
        lstm(xd, lengths=torch.tensor(lengths).cuda())


@pytest.mark.torch_cuda
@pytest.mark.parametrize("backend", BACKENDS)
def test_streams(rng, backend):
    torch = pytest.importorskip("torch")
    m, x, want = reference_and_input(rng, bidirectional=False)
    lstm = lstmrt.LSTM.from_torch(m, backend=backend)
    xd = torch.from_numpy(x).cuda()
    s = torch.cuda.Stream()

    class Proto:  # the CUDA stream protocol
        def __cuda_stream__(self):
            return (0, s.cuda_stream)

    for stream in (s, s.cuda_stream, Proto(), None):
        out = lstm(xd, stream=stream)
        torch.cuda.synchronize()
        np.testing.assert_allclose(out.y.cpu().numpy(), want.y, atol=2e-5, rtol=0)
    with torch.cuda.stream(s):  # the current torch stream is used by default
        out = lstm(xd)
    s.synchronize()
    np.testing.assert_allclose(out.h_n.cpu().numpy(), want.h_n, atol=2e-5, rtol=0)


@pytest.mark.torch_cuda
@pytest.mark.parametrize("dtype,tol", [("float16", 5e-3), ("bfloat16", 3e-2)])
def test_half_storage(rng, dtype, tol):
    torch = pytest.importorskip("torch")
    m, x, want = reference_and_input(rng)
    lstm = lstmrt.LSTM.from_torch(m, backend="fused", dtype=dtype)
    tdt = getattr(torch, dtype)
    out = lstm(torch.from_numpy(x).cuda().to(tdt))
    assert out.y.dtype == tdt
    np.testing.assert_allclose(out.y.float().cpu().numpy(), want.y, atol=tol, rtol=0)
    with pytest.raises(lstmrt.InvalidTypeError, match="x has dtype float32"):
        lstm(torch.from_numpy(x).cuda())


@pytest.mark.torch_cuda
def test_drop_in_module_on_cuda(rng):
    torch = pytest.importorskip("torch")
    m = torch.nn.LSTM(5, 7, 2, batch_first=True, bidirectional=True).cuda().eval()
    fast = lstmrt.torch.LSTM.from_module(m)
    assert fast.runtime.device == "cuda:0"
    x = torch.randn(3, 9, 5, device="cuda")
    with torch.no_grad():
        want, (h, c) = m(x)
    got, (gh, gc) = fast(x)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    torch.testing.assert_close(gh, h, atol=1e-4, rtol=0)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([9, 4, 6]), batch_first=True,
                                                     enforce_sorted=False)
    with torch.no_grad():
        wp, _ = m(packed)
    gp, _ = fast(packed)
    torch.testing.assert_close(gp.data, wp.data, atol=1e-4, rtol=0)


@pytest.mark.torch_cuda
def test_torch_compile_on_cuda(rng):
    torch = pytest.importorskip("torch")
    import lstmrt.torch as lt
    if not lt.HAS_CUSTOM_OP:
        pytest.skip(f"torch {torch.__version__} has no torch.library.custom_op")
    m = torch.nn.LSTM(4, 6, 2).cuda().eval()
    fast = lt.LSTM.from_module(m)
    x = torch.randn(5, 2, 4, device="cuda")
    compiled = torch.compile(lambda t: fast(t)[0] * 2.0, fullgraph=True)
    with torch.no_grad():
        want = m(x)[0] * 2.0
    torch.testing.assert_close(compiled(x), want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cupy_arrays(rng, backend):
    cupy = pytest.importorskip("cupy")
    torch = pytest.importorskip("torch")
    m, x, want = reference_and_input(rng)
    lstm = lstmrt.LSTM.from_torch(m, backend=backend)
    out = lstm(cupy.asarray(x), stream=cupy.cuda.Stream.null)
    assert all(isinstance(a, cupy.ndarray) for a in out)
    cupy.cuda.Device().synchronize()
    np.testing.assert_allclose(cupy.asnumpy(out.y), want.y, atol=2e-5, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jax_arrays(rng, backend):
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        pytest.skip("jax has no GPU here")
    m, x, want = reference_and_input(rng)
    lstm = lstmrt.LSTM.from_torch(m, backend=backend)
    out = lstm(jax.device_put(x, gpus[0]))
    assert all(isinstance(a, jax.Array) for a in out)
    np.testing.assert_allclose(np.asarray(out.y), want.y, atol=2e-5, rtol=0)


def test_execution_plan_and_info_on_gpu(rng):
    torch = pytest.importorskip("torch")
    m, _, _ = reference_and_input(rng)
    fused = lstmrt.LSTM.from_torch(m, backend="fused")
    plan = fused.execution_plan(64, 4)
    assert "layer 0" in plan and ("stepwise" in plan or "persistent" in plan or "cluster" in plan), plan
    i = lstmrt.info()
    assert i["gpus"] and i["gpu_libraries_status"] == "ok" and "cudnn" in i["backends_usable"]
