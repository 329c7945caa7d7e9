#!/usr/bin/env python3
"""ctest bench_plot: plot.py draws PNGs from real lstmrt-bench CSVs (a small CPU sweep over batch and
hidden), one line per backend, and draws the floor when the CSV has one. Exit 77 (skipped) only when
matplotlib is absent."""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)


def fail(message):
    print(f"test_plot: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("test_plot: SKIP: matplotlib is not importable by " + sys.executable + " (scripts/setup installs "
              "python3-matplotlib)")
        return 77
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)

    # Real timings of the reference backend: 3 batches × 2 hidden sizes, plus a second "backend"
    # (the same CSV rows relabelled) so a figure must hold two lines.
    bench_csv = os.path.join(args.out, "bench.csv")
    subprocess.run([args.bench, "--no-gpu", "--quiet", "--batch", "1,2,4", "--steps", "3", "--hidden", "8,16",
                    "--csv", bench_csv], check=True, stdout=subprocess.DEVNULL)
    with open(bench_csv, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    if len(rows) != 6 or any(r["status"] != "ok" for r in rows):
        fail(f"expected 6 timed reference rows in {bench_csv}, got {[r['status'] for r in rows]}")
    # The second file: the same rows as another source with a floor filled in, to check the floor
    # line (a GPU run's CSV has floors; a CPU run's does not).
    other_csv = os.path.join(args.out, "other.csv")
    with open(other_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "source": "relabelled", "floor_ms": str(float(r["median_ms"]) / 10)})

    plots = os.path.join(args.out, "plots")
    manifest_path = os.path.join(args.out, "manifest.json")
    subprocess.run([sys.executable, os.path.join(BENCH_DIR, "plot.py"), bench_csv, other_csv, "--out", plots,
                    "--manifest", manifest_path], check=True)
    with open(manifest_path) as f:
        manifest = json.load(f)
    by_x = {"batch": [m for m in manifest if m["x"] == "batch"], "hidden": [m for m in manifest if m["x"] == "hidden"]}
    if len(by_x["batch"]) != 2 or len(by_x["hidden"]) != 3:
        fail(f"expected 2 figures vs batch (one per hidden) and 3 vs hidden (one per batch), got {manifest}")
    for m in manifest:
        path = os.path.join(plots, m["file"])
        with open(path, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail(f"{path} is not a PNG")
        if os.path.getsize(path) < 5000:
            fail(f"{path} is suspiciously small")
        points = 3 if m["x"] == "batch" else 2
        if m["lines"] != {"lstmrt:reference": points, "relabelled:reference": points}:
            fail(f"{m['file']}: lines {m['lines']}, expected both sources with {points} points each")
        if not m["floor"]:
            fail(f"{m['file']}: the floor was not drawn although the second CSV has floor_ms")
    print(f"test_plot: {len(manifest)} PNGs in {plots}")

    # A CSV that is not a bench CSV is refused with the missing columns named.
    bad = os.path.join(args.out, "bad.csv")
    with open(bad, "w") as f:
        f.write("a,b\n1,2\n")
    result = subprocess.run([sys.executable, os.path.join(BENCH_DIR, "plot.py"), bad, "--out", plots],
                            capture_output=True, text=True)
    if result.returncode == 0 or "missing column" not in result.stderr + result.stdout:
        fail(f"plot.py accepted {bad}: {result.stderr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
