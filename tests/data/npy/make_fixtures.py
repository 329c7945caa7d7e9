#!/usr/bin/python3
"""Writes the .npy/.npz fixtures read by tests/cpu/test_npy.cpp and test_npz.cpp, with numpy itself,
so the tests check lstmrt against files numpy really makes (run: /usr/bin/python3 make_fixtures.py).

Values are simple formulas the C++ tests recompute: element k of an array is VALUE(k) below.
"""
import os
import zipfile

import numpy as np
from numpy.lib import format as npformat

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def values(dtype, shape):
    """Element k (C order) is (k * 3 - 7) cast to dtype; bool is k % 3 == 1; floats add k / 4."""
    n = int(np.prod(shape, dtype=np.int64))
    k = np.arange(n, dtype=np.int64)
    if dtype == np.bool_:
        v = (k % 3) == 1
    elif np.issubdtype(dtype, np.floating):
        v = (k * 3 - 7) + k / 4.0
    elif np.issubdtype(dtype, np.unsignedinteger):
        v = (k * 3 + 7) % 256
    else:
        v = k * 3 - 7
    return v.astype(dtype).reshape(shape)


def main():
    # One file per supported dtype, shape (2, 3).
    for name in ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]:
        np.save(path(f"{name}_2x3.npy"), values(np.dtype(name), (2, 3)))
    # Shapes: 0-d, 1-d, empty dimension, rank 4.
    np.save(path("float32_scalar.npy"), values(np.float32, ()))
    np.save(path("float32_5.npy"), values(np.float32, (5,)))
    np.save(path("float32_2x0x3.npy"), values(np.float32, (2, 0, 3)))
    np.save(path("int64_3x1x2x2.npy"), values(np.int64, (3, 1, 2, 2)))
    # Format versions 2.0 and 3.0 (numpy picks 1.0 when it can).
    for version in [(2, 0), (3, 0)]:
        with open(path(f"float32_2x3_v{version[0]}.npy"), "wb") as f:
            npformat.write_array(f, values(np.float32, (2, 3)), version=version)
    # Rejected: column-major, big-endian, unsupported dtypes, structured dtype.
    np.save(path("fortran_2x3.npy"), np.asfortranarray(values(np.float32, (2, 3))))
    np.save(path("bigendian_2x3.npy"), values(np.float32, (2, 3)).astype(">f4"))
    np.save(path("float16_2x3.npy"), values(np.float16, (2, 3)))
    np.save(path("complex64_2.npy"), np.array([1 + 2j, 3 - 1j], dtype=np.complex64))
    np.save(path("structured_2.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))

    # Archives: numpy.savez (stored) and savez_compressed (deflated), names with '/'.
    arrays = {
        "x": values(np.float32, (4, 2, 3)),
        "lengths": values(np.int32, (2,)),
        "layer0/kernel": values(np.float64, (3, 8)),
        "scalar": values(np.int64, ()),
        "empty": values(np.float32, (0, 5)),
    }
    np.savez(path("stored.npz"), **arrays)
    np.savez_compressed(path("compressed.npz"), **arrays)
    np.savez(path("empty.npz"))
    # Rejected: a member that is not .npy, two members with one name, a corrupt member.
    with zipfile.ZipFile(path("non_npy_member.npz"), "w") as z:
        z.writestr("x.npy", npy_bytes(values(np.float32, (2,))))
        z.writestr("notes.txt", "not an array")
    with zipfile.ZipFile(path("duplicate_keys.npz"), "w") as z:
        z.writestr("x.npy", npy_bytes(values(np.float32, (2,))))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: that is the point
            z.writestr("x.npy", npy_bytes(values(np.float32, (3,))))
    with zipfile.ZipFile(path("truncated_member.npz"), "w") as z:
        z.writestr("x.npy", npy_bytes(values(np.float32, (2, 3)))[:-4])


def npy_bytes(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
