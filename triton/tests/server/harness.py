"""Test harness for lstmrt under a real Triton Inference Server: model repositories, the server
process on 127.0.0.1, and the oracle (lstmrt's reference backend through the `lstmrt run` CLI).

Environment (set by scripts/test-triton):
  TRITONSERVER        the tritonserver binary (from the nvidia-pytriton wheel)
  LSTMRT_BACKENDS     the backend directory holding lstmrt/libtriton_lstmrt.so
  LSTMRT_CLI          the lstmrt command-line tool (the oracle)
  LSTMRT_TEST_DATA    tests/data (model files exported by PyTorch, ONNX and Keras)
  LSTMRT_TRITON_WORK  a scratch directory (repositories, logs, results)
"""
import concurrent.futures as futures
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient

try:
    import tritonclient.http as httpclient
except (ImportError, RuntimeError):  # the gRPC client only (scripts/test-triton packed on a GPU machine)
    httpclient = None

TRITONSERVER = os.environ.get("TRITONSERVER", "tritonserver")
BACKENDS = os.environ.get("LSTMRT_BACKENDS", "build/triton/backends")
CLI = os.environ.get("LSTMRT_CLI", "build/src/cli/lstmrt")
DATA = pathlib.Path(os.environ.get("LSTMRT_TEST_DATA", "tests/data"))
WORK = pathlib.Path(os.environ.get("LSTMRT_TRITON_WORK", tempfile.mkdtemp(prefix="lstmrt-triton-")))
# Fresh random inputs each run; LSTMRT_TEST_SEED=N replays one.
SEED = int(os.environ.get("LSTMRT_TEST_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
RNG = np.random.default_rng(SEED)


def gpu_backends_usable():
    """True when lstmrt sees a usable GPU here (`lstmrt info` lists cudnn or fused as usable)."""
    try:
        out = subprocess.run([CLI, "info"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    for line in out.splitlines():
        if line.startswith("backends usable here:"):
            return "cudnn" in line or "fused" in line
    return False


# ---- the oracle -----------------------------------------------------------------------------------

class Oracle:
    """lstmrt's reference backend on one model file; x is (B, T, I), states (B, L·D, W) as Triton
    carries them. Returns y, h_n, c_n in the same batch-first layout."""

    def __init__(self, model_file):
        self.model_file = str(model_file)
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="oracle-", dir=WORK))
        self.calls = 0

    def __call__(self, x, lengths=None, h0=None, c0=None):
        self.calls += 1
        d = self.scratch
        np.save(d / "x.npy", np.ascontiguousarray(x, dtype=np.float32))
        cmd = [CLI, "run", "--backend", "reference", "--batch-first", "--weights", self.model_file,
               "--input", str(d / "x.npy"), "--output", str(d / "out.npz")]
        if lengths is not None:
            np.save(d / "lengths.npy", np.asarray(lengths, dtype=np.int64))
            cmd += ["--lengths", str(d / "lengths.npy")]
        if h0 is not None or c0 is not None:
            g = self.geometry()
            b = x.shape[0]
            h0 = np.zeros((b, g["rows"], g["hidden_out"]), np.float32) if h0 is None else h0
            c0 = np.zeros((b, g["rows"], g["hidden"]), np.float32) if c0 is None else c0
            np.save(d / "h0.npy", np.ascontiguousarray(np.transpose(h0, (1, 0, 2)), dtype=np.float32))
            np.save(d / "c0.npy", np.ascontiguousarray(np.transpose(c0, (1, 0, 2)), dtype=np.float32))
            cmd += ["--h0", str(d / "h0.npy"), "--c0", str(d / "c0.npy")]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"oracle {' '.join(cmd)}: {run.stderr.strip()}")
        out = np.load(d / "out.npz")
        return {"y": out["y"], "h_n": np.transpose(out["h_n"], (1, 0, 2)), "c_n": np.transpose(out["c_n"], (1, 0, 2))}

    def geometry(self, input_size=None):
        """Sizes of the model's tensors, found by running it once: input size I, output width C,
        state rows L·D, widths H_out and H, and whether y has a time axis."""
        if getattr(self, "_geometry", None):
            return self._geometry
        assert input_size is not None, "geometry() needs the input size the first time"
        out = self(np.full((1, 2, input_size), 0.25, np.float32))
        self._geometry = {
            "input": input_size, "sequences": out["y"].ndim == 3, "output": out["y"].shape[-1],
            "rows": out["h_n"].shape[1], "hidden_out": out["h_n"].shape[2], "hidden": out["c_n"].shape[2]}
        return self._geometry


# ---- model repositories ---------------------------------------------------------------------------

def tensor(name, dtype, dims, **extra):
    fields = [f'name: "{name}"', f"data_type: {dtype}", f"dims: [ {', '.join(str(d) for d in dims)} ]"]
    for key, value in extra.items():
        fields.append(f"{key}: {value}")
    return "{ " + " ".join(fields) + " }"


def model_config(name, geometry, max_batch_size=16, batching="dynamic_batching { max_queue_delay_microseconds: 2000 }",
                 inputs=("x", "lengths", "h0", "c0"), outputs=("y", "h_n", "c_n"), instances="{ kind: KIND_CPU count: 1 }",
                 parameters=None, dtype="TYPE_FP32", lengths_type="TYPE_INT32"):
    """A config.pbtxt for an lstmrt model with the sizes in `geometry` (Oracle.geometry)."""
    g = geometry
    batched = max_batch_size > 0
    lead = [] if batched else [-1]
    tensors_in = []
    for i in inputs:
        if i == "x":
            tensors_in.append(tensor("x", dtype, lead + [-1, g["input"]], allow_ragged_batch="true"))
        elif i == "lengths":
            dims = [1] if batched else [-1]
            extra = {"reshape": "{ shape: [ ] }"} if batched else {}
            tensors_in.append(tensor("lengths", lengths_type, dims, optional="true", **extra))
        elif i == "h0":
            tensors_in.append(tensor("h0", dtype, lead + [g["rows"], g["hidden_out"]], optional="true"))
        elif i == "c0":
            tensors_in.append(tensor("c0", dtype, lead + [g["rows"], g["hidden"]], optional="true"))
    tensors_out = []
    for o in outputs:
        if o == "y":
            tensors_out.append(tensor("y", dtype, lead + ([-1] if g["sequences"] else []) + [g["output"]]))
        elif o == "h_n":
            tensors_out.append(tensor("h_n", dtype, lead + [g["rows"], g["hidden_out"]]))
        elif o == "c_n":
            tensors_out.append(tensor("c_n", dtype, lead + [g["rows"], g["hidden"]]))
    params = {"model_file": "model"} if parameters is None else dict(parameters)
    lines = [f'name: "{name}"', 'backend: "lstmrt"', f"max_batch_size: {max_batch_size}"]
    if batching:
        lines.append(batching)
    lines.append("input [\n  " + ",\n  ".join(tensors_in) + "\n]")
    lines.append("output [\n  " + ",\n  ".join(tensors_out) + "\n]")
    lines.append(f"instance_group [ {instances} ]")
    for key, value in params.items():
        lines.append(f'parameters {{ key: "{key}" value: {{ string_value: "{value}" }} }}')
    return "\n".join(lines) + "\n"


def add_model(repo, name, config, model_file, file_name=None):
    """Writes repo/name/config.pbtxt and copies model_file into repo/name/1/; `file_name` is the
    name it gets there (the config's model_file parameter must match)."""
    d = pathlib.Path(repo) / name
    (d / "1").mkdir(parents=True, exist_ok=True)
    (d / "config.pbtxt").write_text(config)
    shutil.copy(model_file, d / "1" / (file_name or pathlib.Path(model_file).name))
    return d


# ---- the server -------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """tritonserver on 127.0.0.1 with one model repository, in explicit model control mode."""

    def __init__(self, repo, models=(), log_name="tritonserver.log"):
        self.repo = pathlib.Path(repo)
        self.http_port, self.grpc_port = free_port(), free_port()
        self.log_path = WORK / log_name
        cmd = [TRITONSERVER, f"--model-repository={self.repo}", f"--backend-directory={BACKENDS}",
               "--model-control-mode=explicit", "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
               f"--http-port={self.http_port}", f"--grpc-port={self.grpc_port}", "--allow-metrics=false",
               "--exit-on-error=false", "--exit-timeout-secs=10"]
        cmd += [f"--load-model={m}" for m in models]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    @property
    def http_url(self):
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self):
        return f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}; log:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"http://{self.http_url}/v2/health/live", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"tritonserver not live after {timeout} s; log:\n{self.log_text()}")

    def alive(self):
        if self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/live", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def rss_bytes(self):
        for line in pathlib.Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def statistics(self, model):
        with urllib.request.urlopen(f"http://{self.http_url}/v2/models/{model}/stats", timeout=10) as r:
            stats = json.load(r)["model_stats"][0]
        return {"inferences": stats["inference_count"], "executions": stats["execution_count"],
                "success": stats["inference_stats"]["success"]["count"],
                "fail": stats["inference_stats"]["fail"]["count"]}

    def repository_index(self):
        """{model name: state} from the repository index."""
        request = urllib.request.Request(f"http://{self.http_url}/v2/repository/index", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as r:
            return {m["name"]: m.get("state", "") for m in json.load(r)}

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        close_clients()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


# ---- clients --------------------------------------------------------------------------------------

_clients = []  # every client made here, closed before the server stops (open connections delay its exit)


def http(server):
    """An HTTP client; the gRPC one where tritonclient.http is not installed."""
    if httpclient is None:
        return grpc(server)
    c = httpclient.InferenceServerClient(server.http_url, concurrency=1, network_timeout=120)
    _clients.append(c)
    return c


def grpc(server):
    c = grpcclient.InferenceServerClient(server.grpc_url)
    _clients.append(c)
    return c


def close_clients():
    while _clients:
        try:
            _clients.pop().close()
        except Exception:  # a client already closed or broken: nothing to release
            pass


def infer(client, model, x, lengths=None, h0=None, c0=None, outputs=("y", "h_n", "c_n"), **kwargs):
    """One request; returns {name: array} for the outputs in the response."""
    mod = grpcclient if isinstance(client, grpcclient.InferenceServerClient) else httpclient
    inputs = []
    for name, value in (("x", x), ("lengths", lengths), ("h0", h0), ("c0", c0)):
        if value is None:
            continue
        dtype = {np.float32: "FP32", np.int32: "INT32", np.int64: "INT64", np.float64: "FP64", np.float16: "FP16"}[value.dtype.type]
        t = mod.InferInput(name, list(value.shape), dtype)
        t.set_data_from_numpy(value)
        inputs.append(t)
    requested = [mod.InferRequestedOutput(o) for o in outputs] if outputs else None
    result = client.infer(model, inputs, outputs=requested, **kwargs)
    got = {}
    for o in ("y", "h_n", "c_n"):
        a = result.as_numpy(o)
        if a is not None:
            got[o] = a
    return got


def rand_x(b, t, i):
    return RNG.uniform(-1.5, 1.5, (b, t, i)).astype(np.float32)


def assert_same(got, want, names, what, tol=0.0):
    assert set(got) == set(names), f"{what}: outputs {sorted(got)}, expected {sorted(names)}"
    for n in names:
        assert got[n].shape == want[n].shape, f"{what}: {n} shape {got[n].shape}, expected {want[n].shape}"
        if tol == 0.0:
            np.testing.assert_array_equal(got[n], want[n], err_msg=f"{what}: {n}")
        else:
            np.testing.assert_allclose(got[n], want[n], rtol=tol, atol=tol, err_msg=f"{what}: {n}")


def split(t, rng):
    cuts = [0]
    while cuts[-1] < t:
        cuts.append(min(t, cuts[-1] + int(rng.integers(1, 4))))
    return list(zip(cuts[:-1], cuts[1:]))


def run_sequence(client, model, seq_id, x, chunks, want, h0=None, c0=None, tol=1e-5):
    """Sends x (1, T, I) chunk by chunk under seq_id; each answer must equal the whole sequence's."""
    for k, (t0, t1) in enumerate(chunks):
        start, end = k == 0, k == len(chunks) - 1
        got = infer(client, model, x[:, t0:t1], h0=h0 if start else None, c0=c0 if start else None,
                    sequence_id=seq_id, sequence_start=start, sequence_end=end)
        np.testing.assert_allclose(got["y"], want["y"][:, t0:t1], rtol=tol, atol=tol,
                                   err_msg=f"{model} sequence {seq_id!r} steps {t0}..{t1}")
        if end:
            for n in ("h_n", "c_n"):
                np.testing.assert_allclose(got[n], want[n], rtol=tol, atol=tol, err_msg=f"{model} {seq_id!r} {n}")




# ---- load ----------------------------------------------------------------------------------------

def percentile_ms(values, p):
    return round(float(np.percentile(np.asarray(values), p)) * 1000.0, 3)


def load_test(server, model, pool, stream_model, seq_pool, clients=16, per_client=200, tol=1e-5):
    """`clients` concurrent clients × `per_client` requests on loopback, every answer checked:
    even clients send whole requests drawn from `pool` [(x, oracle answer)] to `model`, odd ones
    stream sequences from `seq_pool` step by step to `stream_model`. A warm-up, then two halves;
    the server's resident memory is read between them. Returns the numbers."""
    stateless_tol = 0.0 if tol <= 1e-5 else tol

    def stateless_client(k, rounds, latencies):
        c = http(server)
        rng = random.Random(k)
        for _ in range(rounds):
            x, want = pool[rng.randrange(len(pool))]
            t0 = time.perf_counter()
            got = infer(c, model, x)
            latencies.append(time.perf_counter() - t0)
            assert_same(got, want, ("y", "h_n", "c_n"), f"load B={x.shape[0]} T={x.shape[1]}", tol=stateless_tol)

    def streaming_client(k, rounds, latencies, base):
        c = http(server)
        rng = random.Random(1000 + k)
        done = 0
        while done < rounds:
            x, want = seq_pool[rng.randrange(len(seq_pool))]
            seq_id = base + k * 100000 + done
            steps = min(x.shape[1], rounds - done)
            for t in range(steps):
                t0 = time.perf_counter()
                got = infer(c, stream_model, x[:, t:t + 1], outputs=("y",), sequence_id=seq_id,
                            sequence_start=t == 0, sequence_end=t == steps - 1)
                latencies.append(time.perf_counter() - t0)
                np.testing.assert_allclose(got["y"], want["y"][:, t:t + 1], rtol=tol, atol=tol)
            done += steps

    def run(rounds, base):
        latencies = [[] for _ in range(clients)]
        t0 = time.perf_counter()
        with futures.ThreadPoolExecutor(clients) as ex:
            jobs = [ex.submit(stateless_client, k, rounds, latencies[k]) if k % 2 == 0
                    else ex.submit(streaming_client, k, rounds, latencies[k], base) for k in range(clients)]
            for j in jobs:
                j.result()
        return time.perf_counter() - t0, latencies

    run(10, 10_000_000)  # warm-up: buffers and state pools reach their working size
    rss_start = server.rss_bytes()
    half = per_client // 2
    wall1, lat1 = run(half, 20_000_000)
    rss_mid = server.rss_bytes()
    wall2, lat2 = run(per_client - half, 30_000_000)
    rss_end = server.rss_bytes()
    stateless = [v for k in range(0, clients, 2) for v in lat1[k] + lat2[k]]
    streaming = [v for k in range(1, clients, 2) for v in lat1[k] + lat2[k]]
    total = clients * per_client
    assert len(stateless) + len(streaming) == total
    return {
        "clients": clients, "requests_per_client": per_client, "requests": total,
        "wall_s": round(wall1 + wall2, 3), "throughput_rps": round(total / (wall1 + wall2), 1),
        "stateless_p50_ms": percentile_ms(stateless, 50), "stateless_p99_ms": percentile_ms(stateless, 99),
        "streaming_p50_ms": percentile_ms(streaming, 50), "streaming_p99_ms": percentile_ms(streaming, 99),
        "rss_start_mb": round(rss_start / 2**20, 1), "rss_mid_mb": round(rss_mid / 2**20, 1),
        "rss_end_mb": round(rss_end / 2**20, 1), "rss_growth_second_half_bytes": rss_end - rss_mid,
    }
