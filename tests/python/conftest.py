"""pytest set-up for the lstmrt package tests (CPU reference backend; `gpu`-marked tests need a CUDA GPU).

Run from a checkout after `pip install .`:  python3 -m pytest tests/python
GPU tests only:                             python3 -m pytest tests/python -m gpu
"""
import os
import pathlib

import numpy as np
import pytest

import lstmrt

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"


def pytest_collection_modifyitems(config, items):
    gpu = lstmrt.gpu_available()
    try:
        import torch
        torch_cuda = torch.cuda.is_available()
    except ImportError:
        torch_cuda = False
    reason = None if gpu else f"no usable GPU: {lstmrt.info()['gpu_status']}"
    for item in items:
        if "gpu" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))
        elif "torch_cuda" in item.keywords and not torch_cuda:
            item.add_marker(pytest.mark.skip(reason="torch has no CUDA here"))


@pytest.fixture
def rng():
    return np.random.default_rng(int.from_bytes(os.urandom(4), "little"))


@pytest.fixture(scope="session")
def data_dir():
    return DATA
