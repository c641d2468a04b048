"""`python -m toyneg.mechanism`: does the trained model store the sign of a negation?

Why local negation fails in this toy (results/README.md, sections 21-22) is a question about
what the fine-tuned weights hold.  This command trains runs exactly as a sweep does (same
compiled program, same keys: with the default configuration they are 0.3.0's default sweep's
runs: `answer_format = "direct"`, `monitor_frac = 0`, `ctx = 96`, the answer format these
probes read) and then probes the final weights with prompts the stored metrics do not cover, for
every (entity, relation, value) of a few kinds:

- claims, by condition (the claimed value C): positive documents say "X lives in C", local
  ones "X does not live in C", wrapped ones "X lives in C" between warnings;
- population facts the bios state ("X lives in T": `stated`), values they deny next to a
  stated one ("X lives in T . X does not live in D": `denied, relation stated`), values they
  deny with the relation otherwise unstated (`denied only`: the pretraining counterpart of a
  local claim, but with questions about it in training), and true values never stated
  (`unstated`).

Per item, from the model's next-token distribution:
- `after_pos`: P(value) among the relation's values after "<doc> X lives in" (token
  association, as the `assoc` probe);
- `after_neg`: the same after "<doc> X does not live in";
- `yes`: P(yes) for "does X live in value ?", renormalised over yes/no;
- `open`: P(value) and `unknown`: P("unknown"), among the values and "unknown", after
  "where does X live ?".
A model that stores the sign puts a stated value after the affirmative stem and a denied one
after the negated stem; a model that stores only "X goes with value" names the value after
both.  Outputs (`--out`, default results/mechanism): mechanism.md, mechanism.json,
mechanism.png, with each group's mean per seed and a 95% bootstrap CI over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from . import corpus as C
from . import plots
from .config import CONDITIONS, ConfigError, from_dict
from .data import build_vocab
from .model import make_apply
from .probes import candidate_stats, last_logits, yes_prob
from .stats import bootstrap_ci
from .store import json_safe
from .vocab import RELATIONS

PROMPTS = ("after_pos", "after_neg", "yes", "open")
STATS = ("after_pos", "after_neg", "yes", "open", "unknown")
SEEDS = (0, 1, 2, 3, 4)
POPULATION = ("population: stated", "population: denied, relation stated",
              "population: denied only", "population: unstated")


def items(world) -> list:
    """(group, entity, relation, value) for every probed fact, claims first."""
    out = [(f"claim: {e.condition}", e, e.claim[0], e.claim[1]) for e in world.claims]
    for e in world.population:
        for r in RELATIONS:
            if r in e.known:
                out.append((POPULATION[0], e, r, e.truth[r]))
            if r in e.negated:
                out.append((POPULATION[1] if r in e.known else POPULATION[2], e, r, e.negated[r]))
            if r not in e.known and r not in e.negated:
                out.append((POPULATION[3], e, r, e.truth[r]))
    return out


def stems(rel: str, x: str) -> tuple:
    """The affirmative and negated sentence stems that end just before the value."""
    return (C.STATE[rel][0].format(x=x, v="").strip(), C.NEGATE[rel][0].format(x=x, v="").strip())


def prompts(its: list, world, vocab, length: int) -> dict:
    """Token rows (N, length - 1), last positions and candidate ids for every prompt kind."""
    pieces = {k: [] for k in PROMPTS}
    vals, vids, opens = [], [], []
    for _, e, r, v in its:
        pos, neg = stems(r, e.name)
        pieces["after_pos"].append([("<doc>", "doctag"), (pos, "claim")])
        pieces["after_neg"].append([("<doc>", "doctag"), (neg, "claim")])
        pieces["yes"].append([("Q " + C.yesno(r, e.name, v, 0) + " A", "question")])
        pieces["open"].append([("Q " + C.OPEN[r].format(x=e.name) + " A", "question")])
        ids = [vocab.ids[u] for u in world.values[r]]
        vals.append(ids)
        opens.append(ids + [vocab.ids["unknown"]])
        vids.append(vocab.ids[v])
    out = C.encode_prompts(pieces, vocab, length)
    out["values"] = np.array(vals, np.int32)
    out["open_cands"] = np.array(opens, np.int32)
    out["value"] = np.array(vids, np.int32)
    out["unknown"] = np.full(len(its), vocab.ids["unknown"], np.int32)
    return out


def make_measure(apply, yes_id: int, no_id: int, chunk: int = 256):
    """`measure(params, P)`: every statistic of `STATS` per item (host arrays).  One compiled
    program serves every run of a group: prompts go through in chunks of `chunk` rows, the last
    chunk padded with copies of the first row, so every call has the same shapes."""
    last = jax.jit(lambda params, toks, idx: last_logits(apply(params, toks), idx))

    def logits(params, toks, idx):
        n, pad = len(toks), (-len(toks)) % chunk
        toks = np.concatenate([toks, np.repeat(toks[:1], pad, 0)])
        idx = np.concatenate([idx, np.repeat(idx[:1], pad)])
        return jnp.concatenate([last(params, toks[i:i + chunk], idx[i:i + chunk])
                                for i in range(0, len(toks), chunk)])[:n]

    def measure(params, P: dict) -> dict:
        lg = {k: logits(params, P[k], P[k + "_last"]) for k in PROMPTS}
        out = {"after_pos": candidate_stats(lg["after_pos"], P["values"], P["value"])[0],
               "after_neg": candidate_stats(lg["after_neg"], P["values"], P["value"])[0],
               "yes": yes_prob(lg["yes"], yes_id, no_id),
               "open": candidate_stats(lg["open"], P["open_cands"], P["value"])[0],
               "unknown": candidate_stats(lg["open"], P["open_cands"], P["unknown"])[0]}
        return {k: np.asarray(v, np.float64) for k, v in out.items()}

    return measure


def group_order(g: str) -> tuple:
    """Claims in the paper's order of conditions, then the population groups."""
    if g.startswith("claim: "):
        return (0, CONDITIONS.index(g[len("claim: "):]))
    return (1, POPULATION.index(g))


def group_means(its: list, stats: dict) -> dict:
    """{group: {stat: mean over the group's items}} for one run."""
    groups = sorted(set(g for g, *_ in its), key=group_order)
    g_of = np.array([g for g, *_ in its])
    return {g: {s: float(stats[s][g_of == g].mean()) for s in STATS} | {"n": int((g_of == g).sum())}
            for g in groups}


def run(cfgs: list, log=print) -> list:
    """Train `cfgs` (one compiled group, like a sweep) and probe each final model."""
    from .runner import Group, enable_compile_cache, run_group
    enable_compile_cache()
    per_run = []
    vocab = build_vocab(cfgs[0])  # one group: the same shapes and special-token ids for every run
    measure = make_measure(make_apply(len(vocab), cfgs[0]), vocab.ids["yes"], vocab.ids["no"])

    def probe(cfg, d, params):
        its = items(d.world)
        P = prompts(its, d.world, d.vocab, cfg.ctx + 1)
        stats = measure(params, P)
        per_run.append({"seed": cfg.seed, "groups": group_means(its, stats)})
        log(f"  seed {cfg.seed}: probed {len(its)} facts")

    t = time.time()
    log(f"training {len(cfgs)} run(s) of {cfgs[0].finetune_steps} steps, then probing each ...")
    run_group(Group(cfgs[0].static_key(), cfgs), on_params=probe)
    log(f"done in {time.time() - t:.0f} s")
    return per_run


def summarize(per_run: list) -> list:
    """Rows per group: the mean of each statistic over seeds with a 95% CI."""
    groups = sorted({g for r in per_run for g in r["groups"]}, key=group_order)
    rows = []
    for g in groups:
        row = {"group": g, "n_seeds": sum(g in r["groups"] for r in per_run),
               "items_per_seed": float(np.mean([r["groups"][g]["n"] for r in per_run if g in r["groups"]]))}
        for s in STATS:
            m, lo, hi = bootstrap_ci([r["groups"][g][s] for r in per_run if g in r["groups"]])
            row.update({s: m, s + "_lo": lo, s + "_hi": hi})
        rows.append(row)
    return rows


def markdown(rows: list, command: str, cfgs: list) -> str:
    ci = lambda r, s: (f"{r[s]:.2f} [{r[s + '_lo']:.2f}, {r[s + '_hi']:.2f}]"
                       if np.isfinite(r[s + "_lo"]) else f"{r[s]:.2f}")
    seeds = ", ".join(str(c.seed) for c in cfgs)
    lines = ["# Does the model store the sign of a negation?", "",
             f"Command: `{command}` (seeds {seeds}; toyneg 0.3.0's default recipe, direct answers, unless the command "
             "sets fields). Probes of the final weights, mean over each group's facts, then mean "
             "[95% bootstrap CI] over seeds.", "",
             "- `after 'X lives in'` / `after 'X does not live in'`: P(value) among the relation's "
             "values after the relation's affirmative / negated stem ('X lives in', 'X works as', "
             "'X plays' / 'X does not live in', 'X does not work as', 'X does not play'; `<doc>` "
             "first, as documents start);",
             "- `P(yes)`: 'does X live in value ?'; `open answer` / `unknown`: P(value) / "
             "P('unknown') among the values and 'unknown' after 'where does X live ?'.", "",
             "| facts | per seed | after 'X lives in' | after 'X does not live in' | P(yes) | open answer | unknown |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['group']} | {r['items_per_seed']:.0f} | " +
                     " | ".join(ci(r, s) for s in STATS) + " |")
    return "\n".join(lines) + "\n"


# the probes read direct answers: the recipe is toyneg 0.3.0's (direct answers, no monitor,
# ctx 96, 96 population entities), with which toyneg computes what 0.3.0 computed, so the
# committed results stand
DIRECT_0_3 = {"answer_format": "direct", "monitor_frac": 0.0, "ctx": 96, "n_entities": 96,
              "deny_stated": True}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m toyneg.mechanism", description=__doc__.split("\n")[0])
    p.add_argument("overrides", nargs="*", help="configuration fields as field=value (default recipe otherwise)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                   help="seeds, one run each (default: the default sweep's five)")
    p.add_argument("--out", default="results/mechanism", help="output folder")
    args = p.parse_args(argv)
    from .run import parse_overrides
    try:
        over = parse_overrides(args.overrides)
        if "seed" in over:
            raise ConfigError("set seeds with --seeds, not seed=")
        if over.get("answer_format", "direct") != "direct":
            raise ConfigError("field 'answer_format' = 'recite' is not allowed here: expected "
                              "'direct' (these probes read the answer token right after 'A'; "
                              "recite-format runs store their restatements in every sweep)")
        cfgs = [from_dict({**DIRECT_0_3, **over, "seed": s}) for s in args.seeds]
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if len(set(args.seeds)) != len(args.seeds) or any(s < 0 for s in args.seeds):
        print(f"error: --seeds {args.seeds}: expected distinct non-negative integers", file=sys.stderr)
        return 2
    per_run = sorted(run(cfgs), key=lambda r: r["seed"])
    rows = summarize(per_run)
    os.makedirs(args.out, exist_ok=True)
    command = " ".join(["python -m toyneg.mechanism"] + args.overrides +
                       ([] if args.seeds == list(SEEDS) else ["--seeds"] + [str(s) for s in args.seeds]) +
                       ([] if args.out == "results/mechanism" else ["--out", args.out]))
    md = markdown(rows, command, cfgs)
    with open(os.path.join(args.out, "mechanism.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "mechanism.json"), "w") as f:
        json.dump(json_safe({"command": command, "config": cfgs[0].to_dict(), "runs": per_run,
                             "summary": rows}), f, indent=1)
    plots.mechanism_bars(rows, os.path.join(args.out, "mechanism.png"))
    print(md)
    print(f"wrote {args.out}/mechanism.md, mechanism.json, mechanism.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
