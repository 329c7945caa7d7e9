"""lstmrt's exceptions.

Every failure raises a subclass of :class:`lstmrt.Error` carrying the C++ library's one-line
message (what was wrong, what was expected). Each subclass is also the built-in exception that
fits, so ``except ValueError`` works as it would with numpy or torch.
"""


class Error(Exception):
    """Base class of every lstmrt error. ``code`` names the C++ ``lstmrt::ErrorCode``."""

    code = "error"


class InvalidArgumentError(Error, ValueError):
    """A shape, size, option or value is wrong (``kInvalidArgument``)."""

    code = "invalid_argument"


class DeviceMismatchError(InvalidArgumentError):
    """An array lives on another device than the backend computes on (names the array and both
    devices)."""

    code = "invalid_argument"


class InvalidTypeError(Error, TypeError):
    """An argument has the wrong type or dtype (e.g. float64 where the model computes float32)."""

    code = "invalid_argument"


class UnsupportedError(Error, NotImplementedError):
    """A valid request this backend, build or machine cannot serve (``kUnsupported``), including a
    GPU library (cuDNN, cuBLAS) that cannot be loaded. NotImplementedError is a RuntimeError."""

    code = "unsupported"


class NoDeviceError(Error, RuntimeError):
    """A GPU backend was asked for and no usable GPU exists (``kNoDevice``)."""

    code = "no_device"


class CudaError(Error, RuntimeError):
    """A CUDA, cuBLAS or cuDNN call failed (``kCudaError``)."""

    code = "cuda_error"


class IoError(Error, OSError):
    """A file could not be read, or is corrupt (``kIoError``)."""

    code = "io_error"


class InternalError(Error, RuntimeError):
    """A broken invariant inside lstmrt: a bug (``kInternal``)."""

    code = "internal"


__all__ = [
    "Error",
    "InvalidArgumentError",
    "DeviceMismatchError",
    "InvalidTypeError",
    "UnsupportedError",
    "NoDeviceError",
    "CudaError",
    "IoError",
    "InternalError",
]
