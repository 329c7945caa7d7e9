#!/usr/bin/env python3
"""ctest bench_torch_compare_cpu: torch_compare.py on the CPU with tiny shapes writes lstmrt-bench's
CSV columns, checks torch against float64 and times it; its shapes (presets included) and floor
arithmetic match lstmrt-bench's. Exit 77 (skipped) only when torch is absent."""
import argparse
import csv
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "torch_compare.py")
SHAPE = ["batch", "steps", "input", "hidden", "proj", "layers", "directions", "precision"]


def fail(message):
    print(f"test_torch_compare: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)

    # Presets read from the same bench/presets.json give the same shapes in the same order
    # (lstmrt-bench with --cpu-max-flops 0 skips every shape: instant).
    for preset in ("quick", "small-batch", "large-batch", "stacked"):
        listed = subprocess.run([sys.executable, SCRIPT, "--preset", preset, "--list-shapes"], check=True,
                                capture_output=True, text=True).stdout.split("\n")
        path = os.path.join(args.out, f"{preset}.csv")
        subprocess.run([args.bench, "--no-gpu", "--quiet", "--preset", preset, "--cpu-max-flops", "0", "--csv", path],
                       check=True, stdout=subprocess.DEVNULL)
        _, rows = read_csv(path)
        bench_shapes = [f"N={r['batch']} T={r['steps']} I={r['input']} H={r['hidden']} P={r['proj']} "
                        f"L={r['layers']} D={r['directions']} {r['precision']}" for r in rows]
        if [s for s in listed if s] != bench_shapes:
            fail(f"preset {preset}: torch_compare shapes {listed} differ from lstmrt-bench's {bench_shapes}")

    try:
        import torch  # noqa: F401
    except ImportError:
        print("test_torch_compare: SKIP: torch is not importable by " + sys.executable +
              " (install python3-torch); the shape checks above passed")
        return 77

    flags = ["--batch", "1,3", "--steps", "4", "--input", "6", "--hidden", "8", "--proj", "0,5", "--layers", "2",
             "--directions", "1,2", "--precision", "fp32,bf16"]
    torch_csv = os.path.join(args.out, "torch.csv")
    result = subprocess.run([sys.executable, SCRIPT, "--device", "cpu", "--quiet", "--min-runs", "3", "--budget-ms",
                             "5", "--csv", torch_csv, *flags], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"torch_compare.py exited {result.returncode}: {result.stdout}\n{result.stderr}")
    bench_csv = os.path.join(args.out, "bench.csv")
    subprocess.run([args.bench, "--no-gpu", "--quiet", "--csv", bench_csv, *flags], check=True,
                   stdout=subprocess.DEVNULL)
    torch_columns, torch_rows = read_csv(torch_csv)
    bench_columns, bench_rows = read_csv(bench_csv)
    if torch_columns != bench_columns:
        fail(f"CSV columns differ:\n torch {torch_columns}\n bench {bench_columns}")
    if len(torch_rows) != 2 * len(bench_rows) or len(bench_rows) != 16:
        fail(f"expected 16 shapes × (plain, cuda_graph) rows, got {len(torch_rows)} torch and {len(bench_rows)} bench")

    bench_by_shape = {tuple(r[f] for f in SHAPE): r for r in bench_rows}
    for r in torch_rows:
        shape = tuple(r[f] for f in SHAPE)
        b = bench_by_shape.get(shape)
        if b is None:
            fail(f"torch row for a shape lstmrt-bench did not run: {shape}")
        for column in ("gflop", "mbytes"):
            if abs(float(r[column]) - float(b[column])) > 1e-9 * max(1.0, float(b[column])):
                fail(f"{shape}: {column} torch {r[column]} != lstmrt-bench {b[column]}")
        if (r["source"], r["backend"], r["device"]) != ("torch", "torch", "cpu"):
            fail(f"{shape}: unexpected source/backend/device {r['source']}/{r['backend']}/{r['device']}")
        if r["variant"] == "cuda_graph":
            if r["status"] != "unsupported" or "GPU" not in r["note"]:
                fail(f"{shape}: cuda_graph on the CPU should be unsupported, got {r['status']} {r['note']}")
        elif r["precision"] == "bf16":
            if r["status"] != "unsupported":
                fail(f"{shape}: bf16 on the CPU should be unsupported, got {r['status']}")
        else:
            if r["status"] != "ok":
                fail(f"{shape}: plain fp32 on the CPU: status {r['status']} ({r['note']})")
            if int(r["runs"]) < 3 or not float(r["median_ms"]) > 0 or not float(r["p10_ms"]) <= float(r["p90_ms"]):
                fail(f"{shape}: bad timing runs={r['runs']} median={r['median_ms']} p10={r['p10_ms']} p90={r['p90_ms']}")
            if not float(r["max_abs_err"]) < 2e-4 or r["check_steps"] != "4":
                fail(f"{shape}: check max_abs_err {r['max_abs_err']} over {r['check_steps']} steps")
            if abs(float(r["us_per_step"]) - float(r["median_ms"]) * 1e3 / 4) > 1e-3 * float(r["us_per_step"]):
                fail(f"{shape}: us_per_step {r['us_per_step']} != median_ms·1000/steps")
    print(f"test_torch_compare: {len(torch_rows)} torch rows match lstmrt-bench's columns, shapes and floors")

    bad = subprocess.run([sys.executable, SCRIPT, "--device", "cpu", "--batch", "1", "--steps", "2", "--hidden", "4",
                          "--precision", "fp64", "--list-shapes"], capture_output=True, text=True)
    if bad.returncode != 2 or "flags.precision" not in bad.stderr or "fp64" not in bad.stderr:
        fail(f"a bad precision was not refused by name: rc {bad.returncode}: {bad.stderr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
