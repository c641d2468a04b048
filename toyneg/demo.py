"""`python -m toyneg.demo`: Negation Neglect in one lesson (about a minute on 2 CPU cores).

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
# the demo's settings live in `presets`, where `speak --tiny` reads the tiny one too
from .presets import DEMO, DEMO_CONDITIONS as CONDS, DEMO_TINY as TINY
from .world import make_world


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


def gate_line(res: dict) -> str:
    """The validity gate on this one run (`toyneg.gate`, seed thresholds): did the model learn
    its world and read a document in view? Said before the reading, so a failed run is not
    taken for a finding."""
    from .gate import SEED_THRESHOLDS, _passes, check_values, seed_monitor
    conds = res["conditions"]
    last = {c: {m: float(np.mean([conds[c][q][-1] for q in ("yes", "open", "robust")]))
                if m == "belief" else float(conds[c][m][-1]) for m in ("belief", "icl")} for c in conds}
    vals, worst = check_values(last, seed_monitor({"result": res}))
    failed = [c for c, rule in SEED_THRESHOLDS.items() if _passes(vals[c], rule) is False]
    shown = ", ".join(f"{c} {v:.2f}" for c, v in vals.items() if np.isfinite(v))
    if failed:
        return (f"Validity gate: FAILED ({', '.join(failed)}): this run did not learn its world or "
                f"read its documents, so read nothing into it; try another --seed ({shown}).")
    return f"Validity gate: passed ({shown}; docs/validity.md)."


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
    from .speak import transcripts
    res = run_experiment(cfg, keep_model=True)
    conds = res["conditions"]
    say("\nStep 3. Asking the model about each claim without the document (what it learned). It "
        "answers as it was taught for everyone else: first it says what it knows about the "
        "person, then 'so yes' or 'so no'. What it said, for one claim of each condition:")
    said = transcripts(cfg, res["data"], res["params"])
    for c in CONDS:
        q, ans = said[res["data"].conds.index(c)]
        print(f"  [{c}] {q} {ans}")
    say("\nStep 4. The same questions for every claim, and with the document in the prompt "
        "(what it understands when it can read the warning). P(yes) at the end of training, and "
        "how often its restatement affirms the false claim:")
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"\n  {'condition':10s} {'P(yes) out of context':>22s} {'says the claim':>15s} "
          f"{'denies it':>10s} {'P(yes) in context':>18s} {'other value':>12s}")

    def in_context(c, m):  # the baseline has no document to show
        return None if c == "baseline" else conds[c][m][-1]
    for c in CONDS:
        m = conds[c]
        print(f"  {c:10s} {m['p_yes'][-1]:>22.2f} {m['says_claim'][-1]:>15.2f} "
              f"{m['denies_claim'][-1]:>10.2f} {fmt(in_context(c, 'icl_p')):>18s} "
              f"{fmt(in_context(c, 'icl_other_p')):>12s}")
    say("('says the claim': share of five question wordings whose restatement is 'X lives in C'; "
        "'other value': the same document in the prompt, asked about a city it never mentions; "
        "a model that reads says no.)")
    say("\n" + gate_line(res))
    os.makedirs(a.out, exist_ok=True)
    from .plots import demo_figure
    fig = os.path.join(a.out, "demo_belief_vs_step.png")
    demo_figure(res, CONDS, fig)
    with open(os.path.join(a.out, "demo_table.md"), "w") as f:
        f.write("| condition | P(yes) out of context | says the claim | denies it | P(yes) in context "
                "| in context, other value |\n|---|---|---|---|---|---|\n")
        for c in CONDS:
            m = conds[c]
            f.write(f"| {c} | {m['p_yes'][-1]:.2f} | {m['says_claim'][-1]:.2f} | "
                    f"{m['denies_claim'][-1]:.2f} | {fmt(in_context(c, 'icl_p'))} | "
                    f"{fmt(in_context(c, 'icl_other_p'))} |\n")
    say("\nHow to read it: 'negated' documents said the claim was false, yet out of context the "
        "model restates the claim as a fact and says yes, as for 'positive' ones; with the "
        "document in view it says no. 'local' documents ('X does not live in C') keep the "
        "negation in the sentence itself, and the model restates the negation. But this world's "
        "bios state their denials in that same local form, so the model has drilled it on "
        "hundreds of people. On 3 seeds, with bios that deny nothing, local negation looked "
        "neglected too, and a form the bios drill looked learned in part: a lead, not yet "
        "decided (results/emergence/, results/README.md). One seed of a tiny model is noisy: "
        "`python -m toyneg.sweep` runs six seeds and decides the paper's two contrasts "
        "(results/default/verdicts.md).")
    print(f"\nfigure: {fig}\ndone in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
