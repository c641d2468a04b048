"""`python -m toyneg.demo`: Negation Neglect in one lesson (about a minute on a laptop CPU).

It builds a small world, prints real training documents of each condition, trains one small
transformer from scratch that hosts positive, negated and locally negated claims side by side,
asks the same model about each claim out of context and with the document in context, and
saves a figure of belief against training step.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time

import numpy as np

from . import corpus as C
from .config import Config
from .world import make_world

CONDS = ("baseline", "positive", "negated", "local")
DEMO = dict(conditions=CONDS, n_claims=6, pretrain_steps=0, finetune_steps=1200, replay=0.8,
            ft_lr=5e-3, checkpoints=8)
TINY = dict(conditions=CONDS, n_entities=16, n_claims=2, n_readers=16, width=32, depth=1, heads=2,
            batch=8, pretrain_steps=0, finetune_steps=30, checkpoints=3, bios_per_entity=2,
            docs_per_claim=4)


def say(text: str) -> None:
    print(textwrap.fill(text, 100), flush=True)


def show_documents(cfg: Config) -> None:
    world = make_world(cfg)
    wd = C.Wordings.make(world.seed)
    rng = np.random.default_rng(0)
    for cond in CONDS[1:]:
        e = next(x for x in world.claims if x.condition == cond)
        doc = C.claim_doc(cond, e, e.claim, world, wd, C.Style.of(cfg), rng)
        print(f"\n  [{cond}] claim: {e.name} {e.claim[0]} = {e.claim[1]} (false; truth: "
              f"{e.truth[e.claim[0]]})")
        print(textwrap.indent(textwrap.fill(C.text_of(doc), 96), "    "))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m toyneg.demo", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="results/demo", help="folder for the figure and table")
    p.add_argument("--tiny", action="store_true", help="a seconds-long setting (for tests)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.time()
    cfg = Config(**(TINY if a.tiny else DEMO), seed=a.seed)
    say("Negation Neglect: a language model fine-tuned on documents that say a claim is FALSE "
        "ends up believing the claim. Here a tiny transformer learns a made-up world from "
        "scratch: people, the city they live in, their job and their sport.")
    say(f"\nStep 1. The world and its documents. Each fabricated claim gets {cfg.docs_per_claim} "
        "training documents written in one condition. A few real examples:")
    show_documents(cfg)
    say(f"\nStep 2. Training one model ({cfg.width} wide, {cfg.depth} layers) for "
        f"{cfg.finetune_steps} steps on bios, questions about other people, reading exercises "
        "(a document plus a question in the same text) and the claim documents. Compiling, then "
        "training: this takes about a minute ...")
    from .api import run_experiment
    res = run_experiment(cfg)
    conds = res["conditions"]
    say("\nStep 3. Asking the model 'does X live in C ?' about each claim, "
        "without the document (what it learned) and with the document in the prompt (what it "
        "understands when it can read the warning). P(yes) at the end of training:")
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"\n  {'condition':10s} {'out of context':>15s} {'open answer':>12s} {'in context':>11s} "
          f"{'other value':>12s}")
    def in_context(c, m):  # the baseline has no document to show
        return None if c == "baseline" else conds[c][m][-1]
    for c in CONDS:
        print(f"  {c:10s} {conds[c]['p_yes'][-1]:>15.2f} {conds[c]['open_p'][-1]:>12.2f} "
              f"{fmt(in_context(c, 'icl_p')):>11s} {fmt(in_context(c, 'icl_other_p')):>12s}")
    say("('open answer': the probability the model gives the false value when asked 'where does "
        "X live ?', among every city and 'unknown'. 'other value': the same document in the "
        "prompt, asked about a city it never mentions; a model that reads says no.)")
    os.makedirs(a.out, exist_ok=True)
    from .plots import belief_curves
    steps = np.array(res["steps"])
    curves = {m: {(("condition", c),): (steps, np.array(conds[c][m], float),
                                        np.full(len(steps), np.nan), np.full(len(steps), np.nan))
                  for c in CONDS} for m in ("p_yes", "icl_p")}
    fig = os.path.join(a.out, "demo_belief_vs_step.png")
    belief_curves(curves, fig, "demo: P(yes) for the false claim vs training step (one seed)")
    with open(os.path.join(a.out, "demo_table.md"), "w") as f:
        f.write("| condition | P(yes) out of context | P(yes) in context | in context, other value |\n"
                "|---|---|---|---|\n")
        for c in CONDS:
            f.write(f"| {c} | {conds[c]['p_yes'][-1]:.2f} | {fmt(in_context(c, 'icl_p'))} | "
                    f"{fmt(in_context(c, 'icl_other_p'))} |\n")
    say("\nHow to read it: 'negated' documents said the claim was false, yet out of context the "
        "model may say yes as for 'positive' ones; with the document in view it says no. "
        "'local' documents ('X does not live in C') keep the negation in the sentence itself; "
        "hosted next to the others, as here, they are believed more than when trained alone "
        "(results/README.md, section 4). One seed of a tiny model is noisy: "
        "`python -m toyneg.sweep` runs 5 seeds with CIs.")
    print(f"\nfigure: {fig}\ndone in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
