"""KIND_GPU instances: the GPU backends (fused, cudnn) on the instance's device, batch buffers and
sequence states in device memory. Skipped where lstmrt sees no usable GPU; on a GPU machine run
`scripts/test-triton` (or, on a GPU machine without network, `scripts/test-triton packed DIR`, which
sets TEST_TRITON_REQUIRE_GPU=1: no usable GPU is then an error, not a skip).
Answers are compared with the reference backend (`lstmrt run --backend reference`) within the
tolerance of the data type: float32 strict math 1e-4, float16 3e-2."""
import concurrent.futures as futures
import json
import os

import numpy as np
import pytest

import harness
from harness import (DATA, RNG, WORK, Oracle, Server, add_model, assert_same, http, infer, load_test, model_config,
                     rand_x, run_sequence, split)

if not harness.gpu_backends_usable():
    if os.environ.get("TEST_TRITON_REQUIRE_GPU") == "1":  # scripts/test-triton packed: a GPU was promised
        raise RuntimeError("TEST_TRITON_REQUIRE_GPU=1 but `lstmrt info` lists no usable GPU backend")
    pytestmark = pytest.mark.skip(reason="no usable GPU here: KIND_GPU instances are checked on a GPU machine")

OLDEST = ("sequence_batching { max_sequence_idle_microseconds: 20000000 "
          "oldest { max_candidate_sequences: 64 max_queue_delay_microseconds: 3000 preferred_batch_size: [ 16 ] } }")
GPU = "{ kind: KIND_GPU count: 1 gpus: [ 0 ] }"
# name -> (model file, input size, config options, tolerance)
MODELS = {
    "gpu_fused": (DATA / "torch/lengths_stack_bidir_proj.weights.npz", 4,
                  dict(max_batch_size=32, instances=GPU, parameters={"backend": "fused", "fused_kernel": "stepwise"}), 1e-4),
    "gpu_persistent": (DATA / "torch/stack2.weights.npz", 4,
                       dict(max_batch_size=32, instances=GPU, parameters={"backend": "fused", "fused_kernel": "auto"}), 1e-4),
    "gpu_cudnn": (DATA / "torch/lengths_stack_bidir_proj.weights.npz", 4,
                  dict(max_batch_size=32, instances=GPU, parameters={"backend": "cudnn"}), 1e-4),
    "gpu_stream": (DATA / "torch/proj.weights.npz", 5,
                   dict(max_batch_size=16, batching=OLDEST, inputs=("x", "h0", "c0"), instances=GPU,
                        parameters={"backend": "auto"}), 1e-4),
    "gpu_stream_cudnn": (DATA / "torch/stack2.weights.npz", 4,
                         dict(max_batch_size=16, batching=OLDEST, inputs=("x",), instances=GPU,
                              parameters={"backend": "cudnn"}), 1e-4),
    "gpu_half": (DATA / "torch/stack2.weights.npz", 4,
                 dict(max_batch_size=16, instances=GPU, dtype="TYPE_FP16",
                      parameters={"backend": "auto", "dtype": "float16"}), 3e-2),
    "gpu_keras": (DATA / "keras_import/bidir_sum_ave_masked_nobias.keras", 2,
                  dict(inputs=("x",), instances=GPU, parameters={"backend": "auto"}), 1e-4),
    "gpu_and_cpu": (DATA / "torch/stack2.weights.npz", 4,
                    dict(max_batch_size=16, instances=GPU + ", { kind: KIND_CPU count: 1 }",
                         parameters={"backend": "fused"}), 1e-4),
}


@pytest.fixture(scope="module")
def gpu_repo():
    root = WORK / "repository-gpu"
    oracles = {}
    for name, (path, input_size, options, tol) in MODELS.items():
        oracle = Oracle(path)
        g = oracle.geometry(input_size)
        file_name = "model" + path.suffix
        options = dict(options)
        options["parameters"] = dict(options.get("parameters", {}), model_file=file_name)
        add_model(root, name, model_config(name, g, **options), path, file_name)
        oracles[name] = (oracle, tol)
    return root, oracles


@pytest.fixture(scope="module")
def gpu_server(gpu_repo):
    s = Server(gpu_repo[0], models=list(MODELS), log_name="tritonserver-gpu.log")
    yield s
    assert s.stop() == 0


def test_gpu_instances_load_on_their_device(gpu_server):
    index = gpu_server.repository_index()
    for name in MODELS:
        assert index[name] == "READY", f"{name}: {index[name]}"
    log = gpu_server.log_text()
    assert "lstmrt: instance 'gpu_fused_0_0': backend fused on GPU 0" in log
    assert "lstmrt: instance 'gpu_cudnn_0_0': backend cudnn on GPU 0" in log


@pytest.mark.parametrize("name", ["gpu_fused", "gpu_persistent", "gpu_cudnn", "gpu_half", "gpu_keras", "gpu_and_cpu"])
def test_gpu_stateless_requests_match_the_reference(gpu_server, gpu_repo, name):
    oracle, tol = gpu_repo[1][name]
    g = oracle.geometry()
    half = name == "gpu_half"
    cases = []
    for _ in range(12):
        b, t = int(RNG.integers(1, 5)), int(RNG.integers(1, 20))
        x = rand_x(b, t, g["input"])
        lengths = RNG.integers(0, t + 1, (b, 1)).astype(np.int32) if name in ("gpu_fused", "gpu_cudnn") else None
        if half:
            x = x.astype(np.float16)
        cases.append((x, lengths, oracle(x.astype(np.float32), None if lengths is None else lengths[:, 0])))

    def one(case):
        x, lengths, want = case
        got = infer(http(gpu_server), name, x, lengths)
        got = {k: v.astype(np.float32) for k, v in got.items()}
        assert_same(got, want, ("y", "h_n", "c_n"), f"{name} B={x.shape[0]} T={x.shape[1]}", tol=tol)

    with futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, cases))


@pytest.mark.parametrize("name", ["gpu_stream", "gpu_stream_cudnn"])
def test_gpu_sequences_keep_their_state_on_the_device(gpu_server, gpu_repo, name):
    """Interleaved sequences chunk by chunk on a GPU instance equal the whole sequences."""
    oracle, tol = gpu_repo[1][name]
    g = oracle.geometry()
    jobs = []
    for s in range(16):
        x = rand_x(1, int(RNG.integers(1, 24)), g["input"])
        with_state = s % 3 == 0 and name == "gpu_stream"
        h0 = RNG.uniform(-1, 1, (1, g["rows"], g["hidden_out"])).astype(np.float32) if with_state else None
        c0 = RNG.uniform(-1, 1, (1, g["rows"], g["hidden"])).astype(np.float32) if with_state else None
        jobs.append((7000 + s if s % 2 else f"gpu-{s}", x, split(x.shape[1], RNG), oracle(x, None, h0, c0), h0, c0))
    before = gpu_server.statistics(name)
    with futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda j: run_sequence(http(gpu_server), name, *j, tol=tol), jobs))
    after = gpu_server.statistics(name)
    steps = sum(len(j[2]) for j in jobs)
    assert after["success"] - before["success"] == steps
    assert after["executions"] - before["executions"] < steps


def test_gpu_bounded_load(gpu_server, gpu_repo):
    oracle, tol = gpu_repo[1]["gpu_fused"]
    pool = []
    for _ in range(20):
        x = rand_x(int(RNG.integers(1, 5)), int(RNG.integers(1, 33)), 4)
        pool.append((x, oracle(x)))
    soracle, _ = gpu_repo[1]["gpu_stream_cudnn"]
    seq_pool = []
    for _ in range(8):
        x = rand_x(1, 20, 4)
        seq_pool.append((x, soracle(x)))
    report = load_test(gpu_server, "gpu_fused", pool, "gpu_stream_cudnn", seq_pool, 16, 200, tol=tol)
    (WORK / "gpu-load-test.json").write_text(json.dumps(report, indent=1) + "\n")
    print("\nGPU load test:", json.dumps(report))
    assert report["rss_growth_second_half_bytes"] < 16 * 2**20
    assert gpu_server.alive()
