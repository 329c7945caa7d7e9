"""lstmrt: LSTM inference on NVIDIA GPUs (cuDNN and lstmrt's own kernels) and on the CPU (the
reference backend), from PyTorch, Keras, ONNX, safetensors and .npz models.

    import lstmrt, numpy as np
    lstm = lstmrt.LSTM.from_torch(torch.nn.LSTM(32, 64, 2, bidirectional=True))
    out = lstm(np.random.rand(5, 3, 32).astype(np.float32))     # Output(y, h_n, c_n)

Arrays may be numpy, torch, cupy or jax (DLPack): host arrays for the reference backend, device
arrays for the GPU backends; outputs come back in the caller's framework and device.
``import lstmrt`` loads no CUDA library: cuDNN and cuBLAS are loaded on first use of a GPU backend
(from this process, LSTMRT_GPU_LIBRARY_PATH, the nvidia-* pip packages, the system or the CUDA
toolkit), and ``lstmrt.info()`` says what was found or why not. ``lstmrt.torch`` is a drop-in for
torch.nn.LSTM inference.
"""

import os as _os
import site as _site
import sys as _sys

from . import _lstmrt
from ._errors import (CudaError, DeviceMismatchError, Error, InternalError, InvalidArgumentError, InvalidTypeError,
                      IoError, NoDeviceError, UnsupportedError)
from ._lstm import LSTM, KerasModel, ModelDesc, Output, gpu_available, info

__version__ = _lstmrt.__version__


def _python_package_roots():
    """Folders that may hold nvidia/*/lib (the CUDA pip packages): every site-packages and path entry."""
    roots = []
    try:
        roots += _site.getsitepackages()
    except AttributeError:  # some virtualenv versions
        pass
    try:
        roots.append(_site.getusersitepackages())
    except AttributeError:
        pass
    roots += [p for p in _sys.path if p]
    return [r for r in dict.fromkeys(roots) if _os.path.isdir(_os.path.join(r, "nvidia"))]


_lstmrt.add_library_roots(_python_package_roots())


def __getattr__(name):
    # lstmrt.torch imports torch: only when asked for.
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'lstmrt' has no attribute {name!r}")


__all__ = ["LSTM", "KerasModel", "ModelDesc", "Output", "info", "gpu_available", "Error", "InvalidArgumentError",
           "DeviceMismatchError", "InvalidTypeError", "UnsupportedError", "NoDeviceError", "CudaError", "IoError",
           "InternalError"]
