#!/usr/bin/env python3
"""The lstmrt-bench shapes through torch.nn.LSTM on the same GPU (plain, and replayed from CUDA
graphs), written with lstmrt-bench's CSV columns so one table holds lstmrt, cuDNN direct and PyTorch
side by side. Runs on the CPU too (--device cpu: plain only, fp32 only) so it can be tested without
a GPU.

    /usr/bin/python3 bench/torch_compare.py --preset quick --device cuda \
        --bench-json out/quick.json --csv out/torch.csv

Shapes: --preset / --config (bench/presets.json and the same JSON config format as lstmrt-bench)
and/or the same flags (--batch 1,8 --steps 100 --hidden 256,1024 ...). --bench-json takes the
ceilings (GEMM rate, copy bandwidth) and cuDNN's best times from lstmrt-bench's JSON of the same
run, so floors and the ratio to cuDNN are comparable; without it, on a GPU, the ceilings are
measured here with torch (matmul and copy).

Each shape is checked once against a float64 CPU run of the same torch module on the first steps
(max_abs_err, check_steps), then timed: warm-up, many runs, inputs rotated among several buffers,
CUDA events on the GPU (time.perf_counter on the CPU); creation and upload are outside the timing.
"""
import argparse
import copy
import csv
import itertools
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Same columns, same order as lstmrt-bench (bench/report.cpp csv_columns()).
COLUMNS = ["source", "backend", "variant", "batch", "steps", "input", "hidden", "proj", "layers", "directions",
           "precision", "status", "max_abs_err", "check_steps", "runs", "median_ms", "p10_ms", "p90_ms",
           "us_per_step", "tflops", "gbps", "gflop", "mbytes", "floor_ms", "floor_fraction", "vs_cudnn_best",
           "timer", "device", "note", "plan"]
FIELDS = ["batch", "steps", "input", "hidden", "proj", "layers", "directions", "precision"]
PRECISIONS = ["fp32", "tf32", "fp16", "bf16"]
TOLERANCE = {"fp32": 2e-4, "tf32": 1e-2, "fp16": 1e-2, "bf16": 5e-2}  # atol = rtol, as lstmrt-bench


class ConfigError(ValueError):
    pass


# ---- shapes (bench/config.cpp's rules) -------------------------------------------------------------
def expand(sweep, where):
    """A sweep {field: value or list} -> list of shape dicts (cartesian product), validated."""
    for field, value in sweep.items():
        if field not in FIELDS:
            raise ConfigError(f"{where}: unknown field '{field}': expected one of {', '.join(FIELDS)}")
    for field in ("batch", "steps", "hidden"):
        if field not in sweep:
            raise ConfigError(f"{where}: missing field '{field}'")
    lists = {}
    for field in FIELDS:
        values = sweep.get(field, {"layers": 1, "directions": 1, "precision": "fp32"}.get(field, 0))
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}.{field}: empty list: expected at least one value")
        for i, v in enumerate(values):
            item = f"{where}.{field}" + (f"[{i}]" if len(values) > 1 else "")
            if field == "precision":
                if v not in PRECISIONS:
                    raise ConfigError(f"{item}: unknown precision '{v}': expected fp32, tf32, fp16 or bf16")
            elif isinstance(v, bool) or not isinstance(v, int) or v < (0 if field in ("proj", "input") else 1):
                raise ConfigError(f"{item}: expected an integer >= {0 if field == 'proj' else 1}, got {v!r}")
        lists[field] = values
    shapes = []
    order = ["layers", "directions", "proj", "hidden", "input", "steps", "batch", "precision"]
    for combo in itertools.product(*(lists[f] for f in order)):
        s = dict(zip(order, combo))
        if s["input"] == 0:
            s["input"] = s["hidden"]
        if s["directions"] not in (1, 2):
            raise ConfigError(f"{where}: directions is {s['directions']}: expected 1 or 2")
        if s["proj"] and not 0 < s["proj"] < s["hidden"]:
            raise ConfigError(f"{where}: proj_size {s['proj']}: expected 0 < P < H = {s['hidden']}")
        s = {f: s[f] for f in FIELDS}
        if s not in shapes:
            shapes.append(s)
    return shapes


def shapes_from_config(root, origin):
    if not isinstance(root, dict) or "sweeps" not in root:
        raise ConfigError(f'{origin}: expected an object with a "sweeps" list')
    if not isinstance(root["sweeps"], list) or not root["sweeps"]:
        raise ConfigError(f"{origin}: sweeps: expected a non-empty list of sweeps")
    shapes = []
    for i, sweep in enumerate(root["sweeps"]):
        if not isinstance(sweep, dict):
            raise ConfigError(f"{origin}: sweeps[{i}]: expected an object of fields")
        for s in expand(sweep, f"{origin}: sweeps[{i}]"):
            if s not in shapes:
                shapes.append(s)
    return shapes


def load_shapes(args):
    shapes = []

    def add(more):
        shapes.extend(s for s in more if s not in shapes)

    with open(os.path.join(HERE, "presets.json")) as f:
        presets = json.load(f)["presets"]
    for name in args.preset or []:
        if name not in presets:
            raise ConfigError(f"unknown preset '{name}': expected one of {', '.join(presets)}")
        add(shapes_from_config(presets[name], f"preset {name}"))
    for path in args.config or []:
        with open(path) as f:
            add(shapes_from_config(json.load(f), path))
    sweep = {}
    for field in FIELDS:
        text = getattr(args, field)
        if text:
            items = [t.strip() for t in text.split(",")]
            if any(not t for t in items):
                raise ConfigError(f'--{field} "{text}": empty item: expected a comma-separated list like 1,8,64')
            sweep[field] = items if field == "precision" else [int(t) for t in items]
    if sweep:
        add(expand(sweep, "flags"))
    return shapes


def describe(s):
    return (f"N={s['batch']} T={s['steps']} I={s['input']} H={s['hidden']} P={s['proj']} L={s['layers']} "
            f"D={s['directions']} {s['precision']}")


# ---- floors (bench/floors.cpp) ---------------------------------------------------------------------
def h_out(s):
    return s["proj"] if s["proj"] > 0 else s["hidden"]


def layer_input(s, layer):
    return s["input"] if layer == 0 else s["directions"] * h_out(s)


def shape_flops(s):
    H, P, NT = s["hidden"], s["proj"], s["batch"] * s["steps"]
    return sum(s["directions"] * (2.0 * 4 * H * (layer_input(s, l) + h_out(s)) * NT + (2.0 * P * H * NT if P else 0))
               for l in range(s["layers"]))


def shape_min_bytes(s):
    H, D, NT = s["hidden"], s["directions"], s["batch"] * s["steps"]
    weights = sum(D * (4.0 * H * (layer_input(s, l) + h_out(s)) + 8.0 * H + (s["proj"] * H if s["proj"] else 0))
                  for l in range(s["layers"]))
    io = NT * s["input"] + NT * D * h_out(s) + s["layers"] * D * s["batch"] * (h_out(s) + H)
    return (4 if s["precision"] in ("fp32", "tf32") else 2) * (weights + io)


def floor_ms(s, ceilings):
    gemm = ceilings.get("gemm_tflops", {}).get(s["precision"])
    copy_gbps = ceilings.get("copy_gbps")
    if not gemm or not copy_gbps:
        return float("nan")
    return max(shape_flops(s) / (gemm * 1e12), shape_min_bytes(s) / (copy_gbps * 1e9)) * 1e3


def percentile(samples, q):
    """Linear interpolation between order statistics (numpy's default), like bench/stats.cpp."""
    v = sorted(samples)
    pos = q / 100.0 * (len(v) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


# ---- torch -----------------------------------------------------------------------------------------
def torch_dtype(torch, precision):
    return {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def set_math(torch, precision):
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def make_module(torch, s, seed):
    torch.manual_seed(seed)  # nn.LSTM's default init: uniform ±1/sqrt(H), as lstmrt-bench's weights
    return torch.nn.LSTM(s["input"], s["hidden"], num_layers=s["layers"], bidirectional=s["directions"] == 2,
                         proj_size=s["proj"])


def check(torch, module, s, device, steps, seed):
    """Max |torch on device − torch float64 on CPU| over y, h_n, c_n on the first `steps` steps."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(steps, s["batch"], s["input"], generator=gen) * 2 - 1
    reference = copy.deepcopy(module).to("cpu", torch.float64)
    with torch.no_grad():
        y64, (h64, c64) = reference(x.double())
        y, (h, c) = module(x.to(device, torch_dtype(torch, s["precision"])))
    tol = TOLERANCE[s["precision"]]
    worst, ok = 0.0, True
    for expected, got in ((y64, y), (h64, h), (c64, c)):
        got = got.double().cpu()
        if not torch.isfinite(got).all():
            return float("inf"), False
        diff = (got - expected).abs()
        worst = max(worst, diff.max().item())
        ok = ok and bool((diff <= tol + tol * expected.abs()).all())
    return worst, ok


def planned_runs(args, estimate_ms):
    fit = math.floor(args.budget_ms / estimate_ms) if estimate_ms > 0 else args.max_runs
    return int(min(max(fit, args.min_runs), max(args.min_runs, args.max_runs)))


def time_cuda(torch, launch, count, args):
    """CUDA-event times (ms) of launch(i), warm-up first, runs fitted to the time budget."""
    stream = torch.cuda.current_stream()

    def timed(n, offset):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
        for i, (start, stop) in enumerate(events):
            start.record(stream)
            launch((offset + i) % count)
            stop.record(stream)
        torch.cuda.synchronize()
        return [start.elapsed_time(stop) for start, stop in events]

    for i in range(max(args.warmup, 1)):
        launch(i % count)
    estimate = percentile(timed(3, 0), 50)
    return timed(planned_runs(args, estimate), 0)


def time_host(launch, count, args):
    launch(0)
    start = time.perf_counter()
    launch(1 % count)
    estimate = (time.perf_counter() - start) * 1e3
    samples = []
    for i in range(planned_runs(args, estimate)):
        start = time.perf_counter()
        launch(i % count)
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def rotation_count(set_bytes, l2_bytes):
    return int(min(max(math.ceil(2 * l2_bytes / max(set_bytes, 1)), 2), 8))


def measure_ceilings(torch, precisions, device):
    """GEMM rate per precision (8192³ torch.matmul) and copy bandwidth (read + write), on the GPU."""
    ceilings = {"gemm_tflops": {}, "copy_gbps": None}
    n = 8192

    def median_ms(fn):
        for _ in range(2):
            fn()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(5):
            start.record()
            fn()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop))
        return percentile(times, 50)

    for p in precisions:
        set_math(torch, p)
        a = torch.rand(n, n, device=device, dtype=torch_dtype(torch, p)) - 0.5
        b = torch.rand(n, n, device=device, dtype=torch_dtype(torch, p)) - 0.5
        ceilings["gemm_tflops"][p] = 2.0 * n ** 3 / (median_ms(lambda: torch.matmul(a, b)) * 1e-3) / 1e12
        del a, b
    src = torch.rand(128 << 20, device=device)  # 512 MiB of float32
    dst = torch.empty_like(src)
    ceilings["copy_gbps"] = 2.0 * src.numel() * 4 / (median_ms(lambda: dst.copy_(src)) * 1e-3) / 1e9
    return ceilings


def run_shape(torch, s, variant, args, device, seed):
    row = {"source": "torch", "backend": "torch", "variant": variant, **s, "timer": "cuda_events" if device.type == "cuda" else "chrono",
           "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "note": ""}
    if device.type != "cuda" and variant == "cuda_graph":
        return {**row, "status": "unsupported", "note": "CUDA graphs need a GPU"}
    if device.type != "cuda" and s["precision"] != "fp32":
        return {**row, "status": "unsupported", "note": "on the CPU only fp32 is timed"}
    if device.type != "cuda" and shape_flops(s) > args.cpu_max_flops:
        return {**row, "status": "skipped", "note": f"{shape_flops(s):.3g} FLOPs is over --cpu-max-flops {args.cpu_max_flops:.3g}"}
    set_math(torch, s["precision"])
    dtype = torch_dtype(torch, s["precision"])
    module = make_module(torch, s, seed).to(device, dtype).eval()
    if device.type == "cuda":
        module.flatten_parameters()
    steps = max(1, min(s["steps"], int(args.check_max_flops // (shape_flops(s) / s["steps"]))))
    worst, ok = check(torch, module, s, device, steps, seed + 1)
    row.update(max_abs_err=worst, check_steps=steps, status="ok" if ok else "mismatch")
    if not ok:
        row["note"] = f"differs from torch float64 on the CPU: max |diff| {worst:.3g} over tolerance {TOLERANCE[s['precision']]:.3g}"

    elem = 4 if s["precision"] in ("fp32", "tf32") else 2
    set_bytes = elem * s["steps"] * s["batch"] * (s["input"] + s["directions"] * h_out(s))
    l2 = 50 << 20
    if device.type == "cuda":
        l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", l2)
    count = rotation_count(set_bytes, l2)
    gen = torch.Generator().manual_seed(seed + 2)
    xs = [(torch.rand(s["steps"], s["batch"], s["input"], generator=gen) * 2 - 1).to(device, dtype) for _ in range(count)]
    with torch.no_grad():
        if variant == "plain":
            launch = lambda i: module(xs[i])
        else:
            # One graph per input buffer: capture after a warm-up on a side stream (torch's recipe).
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for x in xs[:2]:
                    module(x)
            torch.cuda.current_stream().wait_stream(side)
            graphs = []
            for x in xs:
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    module(x)
                graphs.append(g)
            launch = lambda i: graphs[i].replay()
        samples = time_cuda(torch, launch, count, args) if device.type == "cuda" else time_host(launch, count, args)
    row["samples"] = samples
    if not row["note"]:
        row["note"] = f"{count} rotating buffer sets"
    return row


def finish(row, ceilings, cudnn_best):
    """Derived columns, as bench/report.cpp fill_derived."""
    s = {f: row[f] for f in FIELDS}
    row["gflop"] = shape_flops(s) / 1e9
    row["mbytes"] = shape_min_bytes(s) / 1e6
    row["floor_ms"] = floor_ms(s, ceilings)
    samples = row.pop("samples", None)
    if samples and row["status"] in ("ok", "mismatch"):
        median = percentile(samples, 50)
        row.update(runs=len(samples), median_ms=median, p10_ms=percentile(samples, 10), p90_ms=percentile(samples, 90),
                   us_per_step=median * 1e3 / s["steps"], tflops=shape_flops(s) / (median * 1e-3) / 1e12,
                   gbps=shape_min_bytes(s) / (median * 1e-3) / 1e9, floor_fraction=row["floor_ms"] / median)
        best = cudnn_best.get(describe(s))
        row["vs_cudnn_best"] = median / best if best else float("nan")
    return row


def cell(v):
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return "" if v is None else str(v)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", help="bench/presets.json preset (repeatable)")
    parser.add_argument("--config", action="append", help="JSON config {\"sweeps\": [...]} (repeatable)")
    for field in FIELDS:
        parser.add_argument("--" + field, help=f"{field} value(s), comma-separated: one sweep")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--variants", default="plain,cuda_graph", help="plain, cuda_graph (default both)")
    parser.add_argument("--csv", help="write the rows as CSV (lstmrt-bench's columns)")
    parser.add_argument("--bench-json", help="lstmrt-bench --json output of the same run: ceilings and cuDNN's best")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--min-runs", type=int, default=20)
    parser.add_argument("--max-runs", type=int, default=500)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--check-max-flops", type=float, default=1e9)
    parser.add_argument("--cpu-max-flops", type=float, default=1e9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--list-shapes", action="store_true", help="print the shapes and exit (no torch needed)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)

    try:
        shapes = load_shapes(args)
    except (ConfigError, ValueError, OSError) as e:
        print(f"torch_compare: error: {e}", file=sys.stderr)
        return 2
    if not shapes:
        print("torch_compare: no shapes: give --preset, --config or --batch/--steps/--hidden", file=sys.stderr)
        return 2
    if args.list_shapes:
        for s in shapes:
            print(describe(s))
        return 0
    try:
        import torch
    except ImportError as e:
        print(f"torch_compare: PyTorch is not importable here ({e}); use /usr/bin/python3 (python3-torch)",
              file=sys.stderr)
        return 3
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("torch_compare: --device cuda but torch sees no GPU: use --device cpu", file=sys.stderr)
        return 3
    variants = [v.strip() for v in args.variants.split(",")]
    for v in variants:
        if v not in ("plain", "cuda_graph"):
            print(f"torch_compare: error: --variants: unknown variant '{v}': expected plain or cuda_graph", file=sys.stderr)
            return 2

    ceilings, cudnn_best = {}, {}
    if args.bench_json:
        with open(args.bench_json) as f:
            bench = json.load(f)
        ceilings = bench["run"].get("ceilings", {})
        for r in bench["rows"]:
            if r["backend"] == "cudnn" and r["status"] == "ok" and r["median_ms"]:
                key = describe({f: r[f] for f in FIELDS})
                cudnn_best[key] = min(cudnn_best.get(key, float("inf")), r["median_ms"])
    elif device.type == "cuda":
        ceilings = measure_ceilings(torch, sorted({s["precision"] for s in shapes}), device)

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, device "
          f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}")
    rows, failures = [], 0
    for index, s in enumerate(shapes):
        for variant in variants:
            if not args.quiet:
                print(f"[{index + 1}/{len(shapes)}] {describe(s)}: torch {variant}", file=sys.stderr, flush=True)
            try:
                row = run_shape(torch, s, variant, args, device, args.seed * 1000003 + index)
            except Exception as e:  # a refusal or failure of this shape/variant: recorded, the sweep goes on
                row = {"source": "torch", "backend": "torch", "variant": variant, **s, "status": "error",
                       "note": f"{type(e).__name__}: {e}", "timer": "", "device": str(device)}
            failures += row["status"] in ("mismatch", "error")
            rows.append(finish(row, ceilings, cudnn_best))

    for r in rows:
        timing = f"{r['us_per_step']:10.2f} us/step {r['median_ms']:10.4f} ms" if "median_ms" in r else " " * 35
        print(f"{describe(r):<45} torch {r['variant']:<10} {r['status']:<11} {timing} {r.get('note', '')}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(COLUMNS)
            for r in rows:
                writer.writerow([cell(r.get(c)) for c in COLUMNS])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
