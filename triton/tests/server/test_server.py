"""lstmrt under a real Triton Inference Server (CPU instances: the reference backend). Every answer
is compared with lstmrt's reference backend run on the same request alone (the `lstmrt run` CLI):
bit for bit for whole requests, to 1e-5 for sequences served step by step (the state crosses
requests as float32). Run by scripts/test-triton."""
import concurrent.futures as futures
import itertools
import json
import pathlib
import subprocess
import threading

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

import harness
from harness import (DATA, RNG, WORK, Oracle, Server, add_model, assert_same, grpc, http, infer, load_test, model_config,
                     rand_x, run_sequence, split)

# name -> (model file, input size, config options)
OLDEST = ("sequence_batching { max_sequence_idle_microseconds: 20000000 "
          "oldest { max_candidate_sequences: 64 max_queue_delay_microseconds: 3000 preferred_batch_size: [ 16 ] } }")
DIRECT = "sequence_batching { max_sequence_idle_microseconds: 20000000 direct { } }"
MODELS = {
    "stateless": (DATA / "torch/lengths_stack_bidir_proj.weights.npz", 4,
                  dict(max_batch_size=32, instances="{ kind: KIND_CPU count: 2 }")),
    "stream": (DATA / "torch/proj.weights.npz", 5,
               dict(max_batch_size=16, batching=OLDEST, inputs=("x", "h0", "c0"))),
    "stream_stack": (DATA / "torch/stack2.weights.npz", 4,
                     dict(max_batch_size=16, batching=OLDEST, inputs=("x",))),
    "stream_direct": (DATA / "torch/stack2.weights.npz", 4,
                      dict(max_batch_size=8, batching=DIRECT, inputs=("x",))),
    "onnx": (DATA / "onnx_import/torch_stack_bidir.onnx", 4, dict()),
    "onnx_batch_first": (DATA / "onnx_import/torch_batch_first_state.onnx", 3, dict()),
    "safetensors": (DATA / "safetensors/stack_bidir_f32.safetensors", 5, dict()),
    "keras_last": (DATA / "keras_import/bidir_mul_go_backwards_last.keras", 3, dict(inputs=("x",))),
    "keras_masked": (DATA / "keras_import/bidir_sum_ave_masked_nobias.keras", 2,
                     dict(inputs=("x",), outputs=("y", "h_n", "c_n"))),
    "unbatched": (DATA / "torch/stack2.weights.npz", 4, dict(max_batch_size=0, batching="", lengths_type="TYPE_INT64")),
}


@pytest.fixture(scope="session")
def repo():
    root = WORK / "repository"
    root.mkdir(parents=True, exist_ok=True)
    oracles = {}
    for name, (path, input_size, options) in MODELS.items():
        oracle = Oracle(path)
        geometry = oracle.geometry(input_size)
        file_name = "model" + "".join(pathlib.Path(path).suffixes[-1:])
        config = model_config(name, geometry, parameters={"model_file": file_name}, **options)
        add_model(root, name, config, path, file_name)
        oracles[name] = oracle
    return root, oracles


@pytest.fixture(scope="session")
def server(repo):
    root, _ = repo
    s = Server(root, models=list(MODELS))
    yield s
    code = s.stop()
    assert code == 0, f"tritonserver exited with {code}"


@pytest.fixture(scope="session")
def oracles(repo):
    return repo[1]


# ---- the API subset against the server's library ---------------------------------------------------

def test_declared_api_matches_the_server_library():
    backend = pathlib.Path(harness.BACKENDS) / "lstmrt" / "libtriton_lstmrt.so"
    server_lib = next((pathlib.Path(harness.TRITONSERVER).resolve().parents[3] / "nvidia_pytriton.libs").glob(
        "libtritonserver*.so"))

    def symbols(path, *flags):
        out = subprocess.run(["nm", "-D", *flags, str(path)], check=True, capture_output=True, text=True).stdout
        return {line.split()[-1] for line in out.splitlines() if line.strip()}

    imported = {s for s in symbols(backend, "--undefined-only") if s.startswith("TRITON")}
    provided = {s for s in symbols(server_lib, "--defined-only") if s.startswith("TRITON")}
    assert imported, "the backend imports no TRITON* function"
    assert imported <= provided, f"declared but not in {server_lib.name}: {sorted(imported - provided)}"
    exported = symbols(backend, "--defined-only")
    assert exported == {"TRITONBACKEND_Initialize", "TRITONBACKEND_Finalize", "TRITONBACKEND_ModelInitialize",
                        "TRITONBACKEND_ModelFinalize", "TRITONBACKEND_ModelInstanceInitialize",
                        "TRITONBACKEND_ModelInstanceFinalize", "TRITONBACKEND_ModelInstanceExecute"}, sorted(exported)
    declared = set()
    header = pathlib.Path(__file__).resolve().parents[2] / "src" / "triton_api.hpp"
    for token in header.read_text().replace("(", " ").split():
        if token.startswith(("TRITONSERVER_", "TRITONBACKEND_")) and token[-1].isalpha() and "_enum" not in token:
            declared.add(token)
    functions = {d for d in declared if d in provided or d in exported}
    assert imported == functions - exported, f"declared but never called: {sorted(functions - exported - imported)}"


def test_every_model_loads(server):
    index = server.repository_index()
    for name in MODELS:
        assert index[name] == "READY", f"{name}: {index[name]}"
    log = server.log_text()
    assert "lstmrt: instance 'stateless_0_1': backend reference on host" in log


# ---- stateless requests -----------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_outputs_are_produced_only_when_asked(server, oracles, protocol):
    client = http(server) if protocol == "http" else grpc(server)
    x = rand_x(3, 5, 4)
    want = oracles["stateless"](x)
    for k in (1, 2, 3):
        for names in itertools.combinations(("y", "h_n", "c_n"), k):
            got = infer(client, "stateless", x, outputs=names)
            assert_same(got, want, names, f"{protocol} outputs {names}")
    # No outputs named: Triton asks for all of them.
    assert_same(infer(client, "stateless", x, outputs=None), want, ("y", "h_n", "c_n"), f"{protocol} all")


def test_lengths_and_initial_states(server, oracles):
    client = http(server)
    g = oracles["stateless"].geometry()
    for trial in range(6):
        b, t = int(RNG.integers(1, 5)), int(RNG.integers(1, 9))
        x = rand_x(b, t, 4)
        lengths = RNG.integers(0, t + 1, (b, 1)).astype(np.int32) if trial % 2 == 0 else None
        h0 = RNG.uniform(-1, 1, (b, g["rows"], g["hidden_out"])).astype(np.float32) if trial % 3 != 1 else None
        c0 = RNG.uniform(-1, 1, (b, g["rows"], g["hidden"])).astype(np.float32) if trial % 3 != 2 else None
        want = oracles["stateless"](x, None if lengths is None else lengths[:, 0], h0, c0)
        got = infer(client, "stateless", x, lengths, h0, c0)
        assert_same(got, want, ("y", "h_n", "c_n"), f"trial {trial} B={b} T={t}")


def test_dynamic_batching_of_ragged_requests(server, oracles):
    before = server.statistics("stateless")
    cases = []
    for _ in range(48):
        b, t = int(RNG.integers(1, 4)), int(RNG.integers(1, 12))
        x = rand_x(b, t, 4)
        lengths = RNG.integers(0, t + 1, (b, 1)).astype(np.int32) if RNG.random() < 0.3 else None
        cases.append((x, lengths, oracles["stateless"](x, None if lengths is None else lengths[:, 0])))
    clients = threading.local()

    def one(case):
        if not hasattr(clients, "c"):
            clients.c = http(server)
        x, lengths, want = case
        assert_same(infer(clients.c, "stateless", x, lengths), want, ("y", "h_n", "c_n"), f"B={x.shape[0]} T={x.shape[1]}")

    with futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, cases))
    after = server.statistics("stateless")
    inferences, executions = after["inferences"] - before["inferences"], after["executions"] - before["executions"]
    assert after["success"] - before["success"] == 48
    assert inferences == sum(c[0].shape[0] for c in cases)
    assert executions < 48, f"{executions} executions for 48 concurrent requests: the dynamic batcher did not batch"


@pytest.mark.parametrize("name", ["onnx", "onnx_batch_first", "safetensors", "keras_last", "unbatched"])
def test_model_formats(server, oracles, name):
    client = grpc(server)
    oracle = oracles[name]
    g = oracle.geometry()
    for b, t in ((1, 1), (2, 7), (5, 3)):
        x = rand_x(b, t, g["input"])
        lengths = None
        if name == "unbatched":
            lengths = RNG.integers(0, t + 1, b).astype(np.int64)
        assert_same(infer(client, name, x, lengths), oracle(x, lengths), ("y", "h_n", "c_n"), f"{name} B={b} T={t}")


def test_keras_masking_derives_lengths_from_x(server, oracles):
    client = http(server)
    x = rand_x(6, 5, 2)
    valid = [5, 3, 0, 1, 4, 5]
    for row, n in enumerate(valid):
        x[row, n:] = 0.0  # Keras Masking(mask_value=0): masked steps at the end of a row
    assert_same(infer(client, "keras_masked", x), oracles["keras_masked"](x), ("y", "h_n", "c_n"), "masked rows")
    # A row whose valid steps are not a prefix is refused; the server goes on.
    x[1, 0] = 0.0
    with pytest.raises(InferenceServerException, match="row 1 has a valid step 1 after masked step 0"):
        infer(client, "keras_masked", x)


def test_answers_match_the_frameworks_that_exported_the_models(server):
    """Server answers against the exporting framework's own outputs (PyTorch, Keras), not just lstmrt."""
    client = http(server)
    # PyTorch-exported ONNX and safetensors: x (T, N, I), y (T, N, C), h_n (L·D, N, H).
    for name, stem in (("onnx", "onnx_import/torch_stack_bidir"), ("safetensors", "safetensors/stack_bidir_f32")):
        x = np.load(DATA / f"{stem}.x.npy")
        want = np.load(DATA / f"{stem}.expected.npz")
        got = infer(client, name, np.ascontiguousarray(x.transpose(1, 0, 2)))
        np.testing.assert_allclose(got["y"], want["y"].transpose(1, 0, 2), rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(got["h_n"], want["h_n"].transpose(1, 0, 2), rtol=1e-5, atol=1e-5, err_msg=name)
    # Keras: x (N, T, I), the model's output (N, C).
    stem = "keras_import/bidir_mul_go_backwards_last"
    got = infer(client, "keras_last", np.load(DATA / f"{stem}.x.npy"), outputs=("y",))
    np.testing.assert_allclose(got["y"], np.load(DATA / f"{stem}.expected.npz")["y"], rtol=1e-5, atol=1e-5)


# ---- sequences -----------------------------------------------------------------------------------------

def test_interleaved_sequences_equal_whole_sequences(server, oracles):
    """Sequences with integer and string IDs, sent concurrently chunk by chunk (some starting from
    their own h0/c0): every chunk's y and each final state equal the whole sequence's answer."""
    g = oracles["stream"].geometry()
    before = server.statistics("stream")
    jobs = []
    for s in range(24):
        t = int(RNG.integers(1, 16))
        x = rand_x(1, t, g["input"])
        h0 = RNG.uniform(-1, 1, (1, g["rows"], g["hidden_out"])).astype(np.float32) if s % 3 == 0 else None
        c0 = RNG.uniform(-1, 1, (1, g["rows"], g["hidden"])).astype(np.float32) if s % 3 == 0 else None
        seq_id = 1000 + s if s % 2 else f"stream-{s}"
        jobs.append((seq_id, x, split(t, RNG), oracles["stream"](x, None, h0, c0), h0, c0))

    def one(job):
        seq_id, x, chunks, want, h0, c0 = job
        run_sequence(grpc(server) if isinstance(seq_id, str) else http(server), "stream", seq_id, x, chunks, want, h0, c0)

    with futures.ThreadPoolExecutor(12) as pool:
        list(pool.map(one, jobs))
    after = server.statistics("stream")
    steps = sum(len(j[2]) for j in jobs)
    assert after["success"] - before["success"] == steps
    assert after["executions"] - before["executions"] < steps, "the oldest strategy batched no steps together"


def test_sequence_restart_and_single_request_sequences(server, oracles):
    client = http(server)
    g = oracles["stream_stack"].geometry()
    x = rand_x(1, 6, g["input"])
    want = oracles["stream_stack"](x)
    # A whole sequence in one request (START and END together).
    got = infer(client, "stream_stack", x, sequence_id=77, sequence_start=True, sequence_end=True)
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-5, atol=1e-5)
    # START on a running sequence starts it afresh.
    infer(client, "stream_stack", rand_x(1, 3, g["input"]), sequence_id=78, sequence_start=True)
    run_sequence(client, "stream_stack", 78, x, [(0, 2), (2, 6)], want)


def test_direct_strategy_sequences(server, oracles):
    g = oracles["stream_direct"].geometry()
    jobs = []
    for s in range(6):
        x = rand_x(1, int(RNG.integers(2, 10)), g["input"])
        jobs.append((500 + s, x, split(x.shape[1], RNG), oracles["stream_direct"](x)))
    with futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda j: run_sequence(http(server), "stream_direct", *j), jobs))


# ---- bad requests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_bad_requests_get_errors_and_the_server_stays_up(server, oracles, protocol):
    client = http(server) if protocol == "http" else grpc(server)
    g = oracles["stateless"].geometry()
    x = rand_x(2, 3, 4)
    bad = [
        ("wrong input size", lambda: infer(client, "stateless", rand_x(2, 3, 5)), "x"),
        ("wrong dtype", lambda: infer(client, "stateless", x.astype(np.float64)), "FP64"),
        ("missing x", lambda: infer(client, "stateless", None, lengths=np.ones((2, 1), np.int32)), "x"),
        ("zero steps", lambda: infer(client, "stateless", rand_x(2, 0, 4)), "x"),
        ("lengths beyond T", lambda: infer(client, "stateless", x, lengths=np.array([[1], [4]], np.int32)),
         "row 1 has length 4: expected 0..3"),
        ("wrong h0 rows", lambda: infer(client, "stateless", x, h0=np.zeros((2, g["rows"] + 1, g["hidden_out"]),
                                                                            np.float32)), "h0"),
        ("unknown sequence", lambda: infer(client, "stream", rand_x(1, 2, 5), sequence_id=987654), "START"),
        ("h0 continuing a sequence", lambda: (
            infer(client, "stream", rand_x(1, 2, 5), sequence_id=4242, sequence_start=True),
            infer(client, "stream", rand_x(1, 2, 5), h0=np.zeros((1, 1, 3), np.float32), sequence_id=4242)),
         "h0/c0 given without the START flag"),
        ("two rows in a sequence request", lambda: infer(client, "stream", rand_x(2, 2, 5), sequence_id=4243,
                                                         sequence_start=True), "batch-size 1"),
        ("unknown model", lambda: infer(client, "no_such_model", x), "no_such_model"),
    ]
    for what, call, fragment in bad:
        with pytest.raises(InferenceServerException) as err:
            call()
        assert fragment in str(err.value), f"{what}: {err.value}"
        assert server.alive(), f"server down after: {what}"
        want = oracles["stateless"](x)
        assert_same(infer(client, "stateless", x), want, ("y", "h_n", "c_n"), f"good request after: {what}")
    infer(client, "stream", rand_x(1, 1, 5), sequence_id=4242, sequence_end=True)


def test_bad_requests_batched_with_good_ones_fail_alone(server, oracles):
    """Requests that pass Triton's checks but not the backend's (lengths beyond T) share dynamic
    batches with good ones: only they fail."""
    cases = []
    for k in range(40):
        x = rand_x(2, 4, 4)
        bad = k % 3 == 0
        lengths = np.array([[2], [5 if bad else 4]], np.int32)
        cases.append((x, lengths, bad, None if bad else oracles["stateless"](x, lengths[:, 0])))
    before = server.statistics("stateless")

    def one(case):
        x, lengths, bad, want = case
        client = http(server)
        if bad:
            with pytest.raises(InferenceServerException, match="row 1 has length 5: expected 0..4") as err:
                infer(client, "stateless", x, lengths)
            # The backend's TRITONSERVER_ERROR_INVALID_ARG reaches the client as HTTP 400.
            assert err.value.status() in ("400", "StatusCode.INVALID_ARGUMENT"), err.value.status()
        else:
            assert_same(infer(client, "stateless", x, lengths), want, ("y", "h_n", "c_n"), "good request in a mixed batch")

    with futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, cases))
    after = server.statistics("stateless")
    assert after["executions"] - before["executions"] < 40, "no mixed batches formed"
    assert after["fail"] - before["fail"] == sum(c[2] for c in cases)


# ---- model loading ------------------------------------------------------------------------------------

def test_bad_model_configurations_fail_to_load_with_their_reason(server, repo, oracles):
    root, _ = repo
    g = oracles["stateless"].geometry()
    path = MODELS["stateless"][0]
    cases = {
        "bad_parameter": (model_config("bad_parameter", g, parameters={"model_file": "model.npz", "backnd": "fused"}),
                          "Invalid argument: model 'bad_parameter': unknown parameter 'backnd'"),
        "bad_dims": (model_config("bad_dims", dict(g, input=g["input"] + 1), parameters={"model_file": "model.npz"}),
                     "tensor 'x' has dims [-1, 5]: expected [-1, 4]"),
        "bad_file": (model_config("bad_file", g, parameters={"model_file": "missing.npz"}), "missing.npz"),
        "bad_cpu_half": (model_config("bad_cpu_half", g, dtype="TYPE_FP16",
                                      parameters={"model_file": "model.npz", "dtype": "float16"}),
                         "Unsupported: instance 'bad_cpu_half_0_0' is KIND_CPU: the reference backend computes float32"),
        "bad_stream_bidir": (model_config("bad_stream_bidir", g, batching=OLDEST,
                                          parameters={"model_file": "model.npz"}),
                             "needs forward-only layers"),
    }
    client = http(server)
    for name, (config, fragment) in cases.items():
        add_model(root, name, config, path, "model.npz")
        with pytest.raises(InferenceServerException) as err:
            client.load_model(name)
        assert fragment in str(err.value), f"{name}: {err.value}"
        assert server.alive()
    x = rand_x(1, 2, 4)
    assert_same(infer(client, "stateless", x), oracles["stateless"](x), ("y", "h_n", "c_n"), "after bad loads")


def test_model_reload_serves_the_new_weights(server, repo, oracles):
    root, _ = repo
    client = http(server)
    first, second = DATA / "torch/stack2.weights.npz", WORK / "stack2_other.npz"
    w = dict(np.load(first))
    np.savez(second, **{k: (v * 0.5 + 0.1).astype(np.float32) for k, v in w.items()})
    g = oracles["stream_stack"].geometry()
    config = model_config("reloadable", g, batching=OLDEST, max_batch_size=16, inputs=("x",),
                          parameters={"model_file": "model.npz"})
    d = add_model(root, "reloadable", config, first, "model.npz")
    client.load_model("reloadable")
    x = rand_x(1, 4, 4)
    assert_same(infer(client, "reloadable", x, sequence_id=1, sequence_start=True, sequence_end=True),
                oracles["stream_stack"](x), ("y", "h_n", "c_n"), "first weights", tol=1e-6)
    infer(client, "reloadable", x[:, :2], sequence_id=2, sequence_start=True)  # left open across the reload
    (d / "1" / "model.npz").write_bytes(second.read_bytes())
    client.load_model("reloadable")
    assert_same(infer(client, "reloadable", x, sequence_id=3, sequence_start=True, sequence_end=True),
                Oracle(second)(x), ("y", "h_n", "c_n"), "reloaded weights", tol=1e-6)
    with pytest.raises(InferenceServerException, match="START"):
        infer(client, "reloadable", x[:, 2:], sequence_id=2)  # sequences end with the old instances
    client.unload_model("reloadable")
    with pytest.raises(InferenceServerException):
        infer(client, "reloadable", x, sequence_id=4, sequence_start=True, sequence_end=True)
    client.load_model("reloadable")
    infer(client, "reloadable", x, sequence_id=5, sequence_start=True, sequence_end=True)
    assert server.alive()


# ---- load --------------------------------------------------------------------------------------------

def test_bounded_load(server, oracles):
    """16 concurrent clients × 200 requests on loopback (stateless and streaming), every answer
    checked; server memory must not grow between two halves of the run."""
    clients, per_client = 16, 200
    g = oracles["stateless"].geometry()
    pool = []
    for _ in range(40):
        b, t = int(RNG.integers(1, 5)), int(RNG.integers(1, 17))
        x = rand_x(b, t, g["input"])
        pool.append((x, oracles["stateless"](x)))
    gs = oracles["stream_stack"].geometry()
    seq_pool = []
    for _ in range(16):
        x = rand_x(1, 20, gs["input"])
        seq_pool.append((x, oracles["stream_stack"](x)))

    report = load_test(server, "stateless", pool, "stream_stack", seq_pool, clients, per_client)
    (WORK / "load-test.json").write_text(json.dumps(report, indent=1) + "\n")
    print("\nload test:", json.dumps(report))
    # The second half allocates nothing new: buffers, state pools and Triton's own pools are warm.
    growth = report["rss_growth_second_half_bytes"]
    assert growth < 8 * 2**20, f"server memory grew {growth / 2**20:.1f} MB over the second half of the load"
    # More sequences ran than the model's 64 slots: each END freed its slot.
    assert "state pool grew" not in server.log_text()
    assert server.alive()
