"""The 2 x 2 of name length x width at ctx 128, read from committed metrics (no training).

    python examples/names_width.py [results]

Cells: two-token names at width 128 are `results/names2/` (sweeps/names2.toml); one-token names
at width 128 and two-token names at width 64 are `results/names_width/` (sweeps/names_width.toml),
on the same seeds (310-314). For each
cell it prints belief per condition (mean over seeds) at the final checkpoint and averaged over
the last three checkpoints, and the gap positive - negated, positive - repeated; then, per seed
(paired), each cell's gap minus the two-token width-128 cell's, with how many seeds agree in
sign and the exact sign-flip p of `toyneg.stats.permutation_p` (its floor with 5 seeds is 2/32).
"""
import csv
import lzma
import os
import sys
from collections import defaultdict

from toyneg.stats import permutation_p

CONDS = ("baseline", "positive", "negated", "repeated", "corrected", "local")


def load(folder: str, cell=None) -> dict:
    """{(name_tokens, width): {seed: {condition: {step: belief}}}} from a folder's metrics."""
    out = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    acc = defaultdict(list)
    with lzma.open(os.path.join(folder, "metrics.csv.xz"), "rt") as f:
        for r in csv.DictReader(f):
            key = cell or (int(r["name_tokens"]), int(r["width"]))
            acc[(key, int(r["seed"]), r["condition"], int(r["step"]))].append(float(r["belief"]))
    for (key, seed, cond, step), v in acc.items():
        out[key][seed][cond][step] = sum(v) / len(v)
    return out


def read(per_step: dict, last: int) -> float:
    """Mean belief over the last `last` checkpoints."""
    steps = sorted(per_step)[-last:]
    return sum(per_step[s] for s in steps) / len(steps)


def main(root: str = "results") -> None:
    cells = dict(load(os.path.join(root, "names_width")))
    cells[(2, 128)] = load(os.path.join(root, "names2"), cell=(2, 128))[(2, 128)]
    ref = cells[(2, 128)]
    for last in (1, 3):
        print(f"\nbelief, mean over seeds, {'final checkpoint' if last == 1 else 'last three checkpoints'}")
        print("name_tokens width seeds " + " ".join(f"{c:>9}" for c in CONDS) + "  pos-neg  pos-rep")
        for key in sorted(cells):
            seeds = sorted(cells[key])
            m = {c: sum(read(cells[key][s][c], last) for s in seeds) / len(seeds) for c in CONDS}
            print(f"{key[0]:>11} {key[1]:>5} {len(seeds):>5} " + " ".join(f"{m[c]:>9.2f}" for c in CONDS)
                  + f"  {m['positive'] - m['negated']:>7.2f}  {m['positive'] - m['repeated']:>7.2f}")
        print("paired over seeds, against two-token width 128 (names2): cell - names2")
        for key in sorted(cells):
            if key == (2, 128):
                continue
            seeds = sorted(set(cells[key]) & set(ref))
            for what in ("negated", "repeated", "positive - negated", "positive - repeated"):
                def val(c, s):
                    if " - " in what:
                        a, b = what.split(" - ")
                        return read(c[s][a], last) - read(c[s][b], last)
                    return read(c[s][what], last)
                d = [val(cells[key], s) - val(ref, s) for s in seeds]
                agree = sum(x > 0 for x in d) if sum(d) > 0 else sum(x < 0 for x in d)
                print(f"  ({key[0]}, {key[1]}) {what:>20}: {sum(d) / len(d):+.2f} "
                      f"({agree} of {len(d)} seeds agree; sign-flip p = {permutation_p(d):.4f})")


if __name__ == "__main__":
    main(*sys.argv[1:])
