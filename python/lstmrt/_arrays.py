"""Arrays from any framework, by DLPack: which framework an array belongs to, its device, handing
it to the extension without a copy, allocating outputs in the caller's framework, CUDA streams.

numpy and torch are handled natively; cupy and jax (and any object with ``__dlpack__``) by the
DLPack protocol. Device arrays are exported with ``__dlpack__(stream=s)`` so that the producer
orders its pending work before lstmrt's on stream ``s``.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _errors

# DLPack device types (dlpack.h).
_CPU, _CUDA, _CUDA_HOST, _CUDA_MANAGED = 1, 2, 3, 13
# DLPack's stream conventions for CUDA: 1 is the legacy default stream (0 is ambiguous).
_LEGACY_DEFAULT_STREAM = 1


def framework(a: Any) -> str:
    """'numpy', 'torch', 'cupy', 'jax' or 'dlpack' (any other object with __dlpack__)."""
    root = type(a).__module__.split(".", 1)[0]
    if isinstance(a, np.ndarray):
        return "numpy"
    if root == "torch":
        return "torch"
    if root == "cupy":
        return "cupy"
    if root in ("jax", "jaxlib"):
        return "jax"
    if hasattr(a, "__dlpack__"):
        return "dlpack"
    raise _errors.InvalidTypeError(
        f"expected an array (numpy, torch, cupy, jax or any DLPack array); got {type(a).__name__}")


def device_of(a: Any, fw: str) -> Tuple[int, int]:
    """(DLPack device type, ordinal)."""
    if fw == "numpy":
        return (_CPU, 0)
    if fw == "torch":
        d = a.device
        return (_CUDA, d.index or 0) if d.type == "cuda" else (_CPU, 0) if d.type == "cpu" else (-1, 0)
    t, i = a.__dlpack_device__()
    return int(t), int(i)


def is_device(dev: Tuple[int, int]) -> bool:
    return dev[0] in (_CUDA, _CUDA_MANAGED)


def describe_device(dev: Tuple[int, int]) -> str:
    t, i = dev
    if t == _CPU:
        return "cpu"
    if t in (_CUDA, _CUDA_MANAGED):
        return f"cuda:{i}"
    if t == _CUDA_HOST:
        return "cuda_host"
    return f"DLPack device {t}:{i}"


def export(name: str, a: Any, fw: str, stream: Optional[int]) -> Any:
    """What the extension receives for input `a`: the array itself (host numpy/torch), or a DLPack
    capsule exported for `stream`. Non-contiguous arrays are copied to C order first (the one
    copy lstmrt makes of an input); torch tensors are detached (inference)."""
    if fw == "numpy":
        return a if a.flags.c_contiguous else np.ascontiguousarray(a)
    if fw == "torch":
        t = a.detach()
        if not t.is_contiguous():
            t = t.contiguous()
        if t.device.type == "cpu":
            return t
        return t.__dlpack__(stream=stream if stream is not None else _LEGACY_DEFAULT_STREAM)
    if not hasattr(a, "__dlpack__"):
        raise _errors.InvalidTypeError(f"{name} is a {type(a).__name__}: expected an array with __dlpack__")
    dev = device_of(a, fw)
    if fw == "cupy" and not a.flags.c_contiguous:
        import cupy
        a = cupy.ascontiguousarray(a)
    if is_device(dev):
        return a.__dlpack__(stream=stream if stream is not None else _LEGACY_DEFAULT_STREAM)
    return a.__dlpack__()


_TORCH_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def empty(fw: str, like: Any, shape: Tuple[int, ...], dtype: str, dev: Tuple[int, int],
          stream: Optional[int]) -> Tuple[Any, Any]:
    """A new uninitialised output in the caller's framework on `dev`. Returns (the array to give
    back, what to hand the extension)."""
    if not is_device(dev):
        if dtype != "float32":
            raise _errors.InvalidTypeError(f"host outputs are float32; the model computes {dtype}")
        if fw == "torch":
            import torch
            out = torch.empty(shape, dtype=torch.float32)
            return out, out
        out_np = np.empty(shape, dtype=np.float32)
        if fw == "jax":
            return _JaxFromHost(out_np), out_np
        return out_np, out_np
    if fw == "torch":
        import torch
        out = torch.empty(shape, dtype=getattr(torch, _TORCH_DTYPES[dtype]), device=like.device)
        return out, out
    if fw == "cupy" and dtype != "bfloat16":
        import cupy
        with cupy.cuda.Device(dev[1]):
            out = cupy.empty(shape, dtype=dtype)
        return out, out
    # jax (immutable arrays) and other frameworks: lstmrt's own stream-ordered allocation, handed
    # to the framework by DLPack after the forward.
    from . import _lstmrt
    buf = _lstmrt.device_empty(list(shape), dtype, dev[1], stream or 0)
    return _DeviceOutput(fw, buf), buf


class _JaxFromHost:
    """A host output for a jax caller: converted to a jax array after the forward."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def finish(self) -> Any:
        import jax.numpy as jnp
        return jnp.asarray(self.array)


class _DeviceOutput:
    """An lstmrt-allocated device output, given to the caller's framework after the forward."""

    def __init__(self, fw: str, buf: Any):
        self.fw, self.buf = fw, buf

    def finish(self) -> Any:
        if self.fw == "jax":
            import jax.dlpack
            return jax.dlpack.from_dlpack(self.buf)
        if self.fw == "cupy":
            import cupy
            return cupy.from_dlpack(self.buf)
        return self.buf


def finish(out: Any) -> Any:
    """The caller-facing output once the forward has been enqueued."""
    if isinstance(out, (_JaxFromHost, _DeviceOutput)):
        return out.finish()
    return out


def stream_handle(stream: Any) -> Optional[int]:
    """A CUDA stream handle from an int, an object with __cuda_stream__ (the CUDA stream protocol:
    a method or attribute giving (version, handle)), a torch.cuda.Stream or a cupy Stream; None
    stays None."""
    if stream is None:
        return None
    if isinstance(stream, bool):
        raise _errors.InvalidTypeError("stream is a bool: expected an int handle or a stream object")
    if isinstance(stream, int):
        if stream < 0:
            raise _errors.InvalidArgumentError(f"stream is {stream}: expected a handle >= 0")
        return stream
    proto = getattr(stream, "__cuda_stream__", None)
    if proto is not None:
        value = proto() if callable(proto) else proto
        if isinstance(value, tuple) and len(value) == 2:
            return int(value[1])
        raise _errors.InvalidTypeError(
            f"stream.__cuda_stream__ gave {value!r}: expected a (version, handle) tuple")
    for attr in ("cuda_stream", "ptr"):  # torch.cuda.Stream, cupy.cuda.Stream
        if isinstance(getattr(stream, attr, None), int):
            return int(getattr(stream, attr))
    raise _errors.InvalidTypeError(
        f"stream is a {type(stream).__name__}: expected an int handle or an object with __cuda_stream__")


def current_stream(fw: str, like: Any, dev: Tuple[int, int]) -> int:
    """The stream a caller's framework is working on, for device arrays with stream=None."""
    if fw == "torch":
        import torch
        return int(torch.cuda.current_stream(dev[1]).cuda_stream)
    if fw == "cupy":
        import cupy
        with cupy.cuda.Device(dev[1]):
            return int(cupy.cuda.get_current_stream().ptr)
    return _LEGACY_DEFAULT_STREAM


def lengths_array(lengths: Any) -> np.ndarray:
    """Host int32 (N,) from a list, numpy or torch array of integers."""
    fw = None
    try:
        fw = framework(lengths)
    except _errors.InvalidTypeError:
        pass
    if fw is not None and fw != "numpy":
        dev = device_of(lengths, fw)
        if dev[0] != _CPU:
            raise _errors.DeviceMismatchError(
                f"lengths is on {describe_device(dev)}: expected a host array (lstmrt reads lengths on the host)")
        lengths = np.from_dlpack(lengths.detach() if fw == "torch" else lengths) \
            if hasattr(np, "from_dlpack") else np.asarray(lengths)
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise _errors.InvalidTypeError(f"lengths has dtype {arr.dtype}: expected integers")
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        bad = arr.max() if arr.max() > np.iinfo(np.int32).max else arr.min()
        raise _errors.InvalidArgumentError(f"lengths holds {bad}: expected values in [0, T]")
    return np.ascontiguousarray(arr, dtype=np.int32)
