"""`python -m toyneg.run [field=value ...]`: one experiment with defaults, printed as a table.

One run hosts every condition on disjoint claim entities (see README: layout).  The table shows,
per condition, the final belief of each probe and the pretrained model's P(yes) (step 0), and
the same numbers are written as JSON (default results/run.json).

    python -m toyneg.run seed=3 finetune_steps=500 --json /tmp/run.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .config import FIELDS, ConfigError, from_dict

SHOWN = ("p_yes", "yes", "open", "robust", "direct_yes", "says_claim", "denies_claim", "malformed",
         "assoc_top1", "icl", "icl_other", "claim_loss")


def parse_overrides(items: list) -> dict:
    """'field=value' strings -> dict, values parsed as JSON when possible ('a,b' -> list)."""
    out = {}
    for it in items:
        if "=" not in it:
            raise ConfigError(f"argument {it!r} is not field=value; fields: {sorted(FIELDS)}")
        k, v = it.split("=", 1)
        try:
            val = json.loads(v)
        except json.JSONDecodeError:
            val = v.split(",") if k in ("conditions", "train_spans") else v
        out[k] = val
    return out


def table(result: dict) -> str:
    head = f"{'condition':16s} {'pretrained':>10s} " + " ".join(f"{m:>11s}" for m in SHOWN)
    lines = [head, "-" * len(head)]
    for cond, m in result["conditions"].items():
        cells = []
        for k in SHOWN:
            v = m[k][-1]
            cells.append(f"{'n/a' if v is None or v != v else f'{v:.2f}':>11s}")
        p0 = m["p_yes"][0]
        lines.append(f"{cond:16s} {p0:>10.2f} " + " ".join(cells))
    for group, m in result.get("monitor", {}).items():
        lines.append(f"monitor, {group} facts ({m['n_facts']}): " + ", ".join(
            f"{k} {'n/a' if m[k][-1] is None else f'{m[k][-1]:.2f}'}"
            for k in ("yes_ok", "open_ok", "says_ok", "malformed", "name_ok", "named_yes_ok",
                      "named_open_ok")))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m toyneg.run", description=__doc__.split("\n")[0])
    p.add_argument("overrides", nargs="*", help="configuration fields as field=value")
    p.add_argument("--json", default="results/run.json", help="where to write the result")
    args = p.parse_args(argv)
    try:
        cfg = from_dict(parse_overrides(args.overrides))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from .api import run_experiment
    print(f"training one run: {len(cfg.conditions)} conditions x {cfg.n_claims} claims, "
          f"{cfg.pretrain_steps} pretraining + {cfg.finetune_steps} fine-tuning steps ...", flush=True)
    t = time.time()
    try:
        res = run_experiment(cfg)  # the corpus is built (and checked against ctx) before training
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table(res))
    print(f"\n{res['status']} in {time.time() - t:.0f}s; 'pretrained' is P(yes) before any claim "
          f"document; the rest are final-checkpoint values (belief rates and mean losses)")
    import os
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"config": cfg.to_dict(), **res}, f, default=lambda x: None)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
