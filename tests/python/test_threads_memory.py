"""The GIL is released during forward (another thread makes progress meanwhile), concurrent calls
from threads give the sequential answers, and many calls do not grow memory."""
import threading
import time

import numpy as np
import pytest

import lstmrt

F32 = np.float32


def make_model(rng, I=16, H=64, L=2):
    slots = []
    for l in range(L):
        slots.append({"w_ih": rng.uniform(-0.2, 0.2, (4 * H, I if l == 0 else H)).astype(F32),
                      "w_hh": rng.uniform(-0.2, 0.2, (4 * H, H)).astype(F32)})
    return lstmrt.LSTM(lstmrt.ModelDesc(I, H, num_layers=L), slots)


def test_gil_is_released_during_forward(rng):
    model = make_model(rng)
    x = rng.normal(size=(400, 8, 16)).astype(F32)
    start = time.perf_counter()
    model(x)
    alone = time.perf_counter() - start
    ticks = [0]
    done = threading.Event()

    def run():
        model(x)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    while not done.is_set():  # pure-Python work: only progresses while the forward holds no GIL
        ticks[0] += 1
    t.join()
    assert alone > 0.05, "forward too short to measure"
    assert ticks[0] > 10000, ticks[0]


def test_concurrent_calls_from_threads(rng):
    models = [make_model(rng, H=8), make_model(rng, H=12)]
    inputs = [rng.normal(size=(int(rng.integers(1, 20)), int(rng.integers(1, 5)), 16)).astype(F32) for _ in range(24)]
    expected = [[m(x) for x in inputs] for m in models]
    errors = []

    def worker(k):
        try:
            for r in range(5):
                for i in range(k % 3, len(inputs), 3):
                    m = (k + r + i) % 2
                    out = models[m](inputs[i])
                    for got, want in zip(out, expected[m][i]):
                        np.testing.assert_array_equal(got, want)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def rss_bytes():
    with open("/proc/self/statm") as f:
        import os
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leak_over_many_calls(rng):
    model = make_model(rng, H=32)
    x = rng.normal(size=(20, 4, 16)).astype(F32)
    h0 = np.zeros((2, 4, 32), F32)
    for _ in range(200):  # warm up allocators
        model(x, initial_state=(h0, h0), lengths=[20, 3, 1, 0])
    before = rss_bytes()
    for _ in range(3000):
        out = model(x, initial_state=(h0, h0), lengths=[20, 3, 1, 0])
    grown = rss_bytes() - before
    # each call allocates ~14 KB of outputs: a leak of them alone would be ~40 MB
    assert grown < 8 * 2**20, f"RSS grew {grown / 2**20:.1f} MiB over 3000 calls"
    assert out.y.shape == (20, 4, 32)


def test_no_leak_of_failed_calls(rng):
    model = make_model(rng, H=8)
    x = rng.normal(size=(5, 2, 16)).astype(F32)
    for _ in range(100):
        with pytest.raises(lstmrt.InvalidArgumentError):
            model(x, lengths=[9, 9])
    before = rss_bytes()
    for _ in range(3000):
        with pytest.raises(lstmrt.InvalidArgumentError):
            model(x, lengths=[9, 9])
    assert rss_bytes() - before < 8 * 2**20
