#!/usr/bin/env python3
"""PNG plots from lstmrt-bench / torch_compare.py CSVs: latency per step vs batch and vs hidden size,
one line per backend and variant, the floor (floor_ms / steps) drawn in as a dashed black line
where the CSV has one (runs with a GPU).

    /usr/bin/python3 bench/plot.py out/quick.csv out/torch.csv --out out/plots

Rows are grouped by every shape field except the swept one (batch; or hidden and input together),
and a figure is drawn for each group with at least two values of it. Only rows with status ok or
mismatch and a median time are plotted. --manifest FILE writes a JSON list of the figures drawn
(file, x axis, lines and their point counts, whether a floor is drawn).
"""
import argparse
import collections
import csv
import json
import os
import sys

SHAPE = ["batch", "steps", "input", "hidden", "proj", "layers", "directions", "precision"]
LETTER = {"batch": "N", "steps": "T", "input": "I", "hidden": "H", "proj": "P", "layers": "L", "directions": "D",
          "precision": ""}  # file names: N64_T100_..._bf16


def read_rows(paths):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"source", "backend", "variant", "status", "median_ms", "floor_ms", *SHAPE} - set(reader.fieldnames or [])
            if missing:
                raise SystemExit(f"plot.py: {path}: missing column(s) {', '.join(sorted(missing))}: "
                                 "expected an lstmrt-bench or torch_compare.py CSV")
            for r in reader:
                if r["status"] in ("ok", "mismatch") and r["median_ms"]:
                    rows.append(r)
    return rows


def label(r):
    variant = "" if r["variant"] in ("", "-") else " " + r["variant"]
    source = "" if r["source"] == r["backend"] else r["source"] + ":"
    return f"{source}{r['backend']}{variant}"


def figures(rows, x_field):
    """{group key: rows} for the groups with >= 2 distinct x values."""
    swept = {"batch": ["batch"], "hidden": ["hidden", "input"]}[x_field]
    groups = collections.OrderedDict()
    for r in rows:
        key = tuple((f, r[f]) for f in SHAPE if f not in swept)
        groups.setdefault(key, []).append(r)
    return {k: v for k, v in groups.items() if len({int(r[x_field]) for r in v}) >= 2}


def draw(plt, key, rows, x_field, out_dir):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines = {}
    for name in sorted({label(r) for r in rows}):
        points = sorted((int(r[x_field]), float(r["median_ms"]) * 1e3 / int(r["steps"])) for r in rows if label(r) == name)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        lines[name] = len(points)
    floors = {}
    for r in rows:
        if r.get("floor_ms"):
            floors[int(r[x_field])] = float(r["floor_ms"]) * 1e3 / int(r["steps"])
    if floors:
        xs = sorted(floors)
        ax.plot(xs, [floors[x] for x in xs], "k--", label="floor")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(x_field)
    ax.set_ylabel("latency per step (µs)")
    fixed = dict(key)
    ax.set_title(" ".join(f"{k}={v}" for k, v in fixed.items()), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    name = "latency_vs_{}_{}.png".format(x_field, "_".join(f"{LETTER[k]}{v}" for k, v in fixed.items()))
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"file": name, "x": x_field, "lines": lines, "floor": bool(floors)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="+", help="lstmrt-bench / torch_compare.py CSV files")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument("--manifest", help="write a JSON list of the figures drawn")
    args = parser.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot.py: matplotlib is not importable ({e}); install python3-matplotlib", file=sys.stderr)
        return 3
    rows = read_rows(args.csv)
    os.makedirs(args.out, exist_ok=True)
    drawn = []
    for x_field in ("batch", "hidden"):
        for key, group in figures(rows, x_field).items():
            drawn.append(draw(plt, key, group, x_field, args.out))
    for d in drawn:
        print(f"plot.py: {os.path.join(args.out, d['file'])}: {', '.join(d['lines'])}" + (" + floor" if d["floor"] else ""))
    if not drawn:
        print("plot.py: no group of timed rows varies batch or hidden: nothing to plot", file=sys.stderr)
    if args.manifest:
        with open(args.manifest, "w") as f:
            json.dump(drawn, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
