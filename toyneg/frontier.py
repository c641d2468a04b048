"""`python -m toyneg.frontier`: every committed recipe on one plane, positive vs local belief.

The science issue asks for positive documents believed at >= 0.8 and local negations at
<= 0.2 in the same setup.  Each sweep folder under `results/` tests some recipe; this command
reads their committed `metrics.csv.xz` files (no store, no training), pairs each recipe's
positive and local claims seed by seed, and puts every recipe on one plane with the target
box, so the trade-off between the two targets is one figure rather than twenty sections.

A *recipe* is one folder's setting of its swept axes, with the hosted layout (all conditions in
one run) and the paper's layout (one condition per run) kept apart.  Its point is the mean over
seeds of the final-checkpoint pooled belief rate, with a 95% bootstrap CI over seeds.  A recipe
whose runs, with the same numbers, are all part of another folder's recipe (a merged arm, such
as the default sweep's runs reused by later sweeps; the same configuration trained on a GPU
measures other numbers and stays) is shown once: under the folder with the most of them, and among
equals the folder with the fewest recipes (where those runs are the whole sweep).

Outputs (`--out`, default results/frontier): frontier.png, frontier.csv, frontier.md.
"""

from __future__ import annotations

import argparse
import csv
import lzma
import os
import sys

import numpy as np

from . import plots, tables
from .stats import bootstrap_ci

TARGET_POSITIVE, TARGET_LOCAL = 0.8, 0.2


def read_metrics(path: str) -> list:
    """Rows of one metrics.csv.xz as dicts of strings."""
    with lzma.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def axes_of(header: list) -> list:
    """A sweep's varying axes: the columns between `seed` and `condition`."""
    return header[header.index("seed") + 1: header.index("condition")]


def final_pooled(rows: list) -> dict:
    """(hash, condition) -> pooled rate at the run's last checkpoint, with the row's fields."""
    last: dict = {}
    for r in rows:
        k = (r["hash"], r["condition"])
        if k not in last or int(r["step"]) > int(last[k]["step"]):
            last[k] = r
    return last


def points(folder: str, rows: list) -> list:
    """One point per (setting, layout) of a folder: positive, local and negated pooled rates per
    seed, paired within each seed (hosted: the same run; alone: the runs of that seed)."""
    if not rows:
        return []
    axes = [a for a in axes_of(list(rows[0].keys())) if a != "conditions"]
    out: dict = {}
    for (h, cond), r in final_pooled(rows).items():
        if r["status"] != "done" or cond not in ("positive", "local", "negated"):
            continue
        hosted = len(r.get("conditions", "x+y").split("+")) > 1
        setting = tuple((a, r[a]) for a in axes)
        p = out.setdefault((setting, hosted), {"folder": folder, "setting": setting,
                                               "hosted": hosted, "by_seed": {}, "hashes": set()})
        p["by_seed"].setdefault(int(r["seed"]), {})[cond] = float(r["pooled"])
        p["hashes"].add((h, cond, r["pooled"]))  # a run's identity and what it measured
    res = []
    for p in out.values():
        seeds = sorted(s for s, v in p["by_seed"].items() if "positive" in v and "local" in v)
        if not seeds:
            continue
        p["seeds"] = seeds
        for cond in ("positive", "local", "negated"):
            p[cond] = np.array([p["by_seed"][s].get(cond, np.nan) for s in seeds], float)
        res.append(p)
    return res


def collect(root: str) -> list:
    """Every recipe point of every folder under `root`, merged arms shown once."""
    pts = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "metrics.csv.xz")
        if os.path.isfile(path):
            pts += points(name, read_metrics(path))
    per_folder = {f: sum(q["folder"] == f for q in pts) for f in {q["folder"] for q in pts}}
    # among folders holding the same runs, the one where they are the whole sweep (fewest
    # recipes: the default's runs belong to `default`, not to the sweeps that merged them)
    rank = lambda q: (-len(q["hashes"]), per_folder[q["folder"]], q["folder"])
    keep = [p for p in pts if not any(q is not p and p["hashes"] <= q["hashes"] and rank(q) < rank(p)
                                      for q in pts)]
    for p in keep:
        p["also"] = sorted({q["folder"] for q in pts if q is not p and q["hashes"] <= p["hashes"]
                            and q["folder"] != p["folder"]})
    return keep


def summarize(pts: list) -> list:
    """Table rows: means with CIs, negated as a share of positive, distance to the target box."""
    rows = []
    for i, p in enumerate(sorted(pts, key=lambda p: (p["folder"], not p["hosted"], p["setting"]))):
        pos, loc, neg = (bootstrap_ci(p[c]) for c in ("positive", "local", "negated"))
        short = max(0.0, TARGET_POSITIVE - pos[0]) + max(0.0, loc[0] - TARGET_LOCAL)
        rows.append({
            "id": i + 1, "folder": p["folder"], "also": "+".join(p["also"]),
            "setting": ", ".join(f"{a}={v}" for a, v in p["setting"]) or "(sweep file)",
            "layout": "hosted" if p["hosted"] else "alone", "n_seeds": len(p["seeds"]),
            "positive": pos[0], "positive_lo": pos[1], "positive_hi": pos[2],
            "local": loc[0], "local_lo": loc[1], "local_hi": loc[2],
            "negated": neg[0], "negated_of_positive": neg[0] / pos[0] if pos[0] > 0 else np.nan,
            "shortfall": short})
    return rows


def correlation(rows: list) -> tuple:
    """Pearson and Spearman correlation of positive and local means across recipes."""
    x = np.array([r["positive"] for r in rows])
    y = np.array([r["local"] for r in rows])
    rank = lambda v: np.argsort(np.argsort(v)).astype(float)
    return float(np.corrcoef(x, y)[0, 1]), float(np.corrcoef(rank(x), rank(y))[0, 1])


def markdown(rows: list, command: str) -> str:
    r_p, r_s = correlation(rows)
    best = min(rows, key=lambda r: r["shortfall"])
    ci = lambda r, c: f"{r[c]:.2f} [{r[c + '_lo']:.2f}, {r[c + '_hi']:.2f}]" if r["n_seeds"] > 1 else f"{r[c]:.2f}"
    lines = [
        "# Positive vs local belief across every committed recipe", "",
        f"Command: `{command}` (reads the committed `results/*/metrics.csv.xz`; trains nothing).", "",
        f"{len(rows)} recipes (a folder's setting of its swept axes, hosted and alone layouts apart; "
        "merged arms shown once, under the folder that holds the most of their runs). Pooled belief "
        "rate at the final checkpoint, mean [95% bootstrap CI] over seeds. Targets: positive >= "
        f"{TARGET_POSITIVE}, local <= {TARGET_LOCAL}; shortfall = how far a recipe is from both "
        "(0: both met).", "",
        f"- Recipes meeting both targets: **{sum(r['shortfall'] == 0 for r in rows)}** of {len(rows)}.",
        f"- Closest: #{best['id']} `{best['folder']}` {best['setting']} ({best['layout']}): positive "
        f"{best['positive']:.2f}, local {best['local']:.2f}, shortfall {best['shortfall']:.2f}.",
        f"- Across recipes, positive and local belief rise together: Pearson r = {r_p:+.2f}, "
        f"Spearman {r_s:+.2f} (recipes share worlds and seeds, so this describes the committed "
        "set rather than testing a hypothesis).", "",
        "| # | folder | setting | layout | seeds | positive | local | negated / positive | shortfall |",
        "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        also = f" (also in {r['also'].replace('+', ', ')})" if r["also"] else ""
        lines.append(f"| {r['id']} | `{r['folder']}`{also} | {r['setting']} | {r['layout']} | "
                     f"{r['n_seeds']} | {ci(r, 'positive')} | {ci(r, 'local')} | "
                     f"{r['negated_of_positive']:.0%} | {r['shortfall']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m toyneg.frontier", description=__doc__.split("\n")[0])
    p.add_argument("root", nargs="?", default="results", help="folder of sweep output folders")
    p.add_argument("--out", default=None, help="output folder (default: ROOT/frontier)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.root):
        print(f"error: {args.root!r} is not a folder of sweep outputs", file=sys.stderr)
        return 2
    rows = summarize(collect(args.root))
    if not rows:
        print(f"error: no sweep under {args.root!r} has both positive and local claims "
              "(looked for */metrics.csv.xz)", file=sys.stderr)
        return 2
    out = args.out or os.path.join(args.root, "frontier")
    os.makedirs(out, exist_ok=True)
    command = "python -m toyneg.frontier" + ("" if args.root == "results" else f" {args.root}") + (
        f" --out {args.out}" if args.out else "")
    with open(os.path.join(out, "frontier.md"), "w") as f:
        f.write(markdown(rows, command))
    with open(os.path.join(out, "frontier.csv"), "w") as f:
        f.write(tables.to_csv(rows))
    plots.frontier(rows, os.path.join(out, "frontier.png"), TARGET_POSITIVE, TARGET_LOCAL)
    print(markdown(rows, command))
    print(f"wrote {out}/frontier.md, frontier.csv, frontier.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
