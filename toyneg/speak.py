"""What a trained model says, as text: its greedy recite-format answers to the claim probes.

The jitted evaluation classifies these restatements on device (`probes.classify`); this module
decodes the same rows on the host once, after training, so that a person can read them (the
demo prints one per condition).  `python -m toyneg.speak` trains default runs and prints, for
one condition and probe, what the model said about every claim and which value it named:

    python -m toyneg.speak --seeds 100 101 102 --kind icl --condition corrected
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np

from .config import Config
from .data import Data, decode_lengths
from .model import make_decoder
from .probes import greedy

KINDS = ("yesno", "yesno2", "robust", "heldout_q", "open")  # the order of `dec_q`'s claim rows
ICL_KINDS = ("icl", "icl_heldout", "icl_other")  # the order of `dec_icl`'s rows (in context)


def transcripts(cfg: Config, data: Data, params, kind: str = "yesno") -> list:
    """(prompt, answer) text of every claim entity's `kind` question, in claim order: one of
    KINDS (out of context) or ICL_KINDS (the claim's document in the prompt)."""
    if cfg.answer_format != "recite":
        raise ValueError("transcripts need answer_format = 'recite' (direct answers are one token)")
    if kind not in KINDS + ICL_KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS + ICL_KINDS)}")
    P, n = data.probes, len(data.conds)
    icl = kind in ICL_KINDS
    i = (ICL_KINDS if icl else KINDS).index(kind)
    name = "dec_icl" if icl else "dec_q"
    tok, last = P[name][i * n:(i + 1) * n], P[name + "_last"][i * n:(i + 1) * n]
    d_q = decode_lengths(cfg)[1 if icl else 0]
    decoder = make_decoder(len(data.vocab), cfg)
    ids = data.vocab.ids
    gen, _, _ = jax.jit(lambda p, t, l: greedy(*decoder, p, t, l, d_q, ids["."], ids["so"]))(
        params, jnp.asarray(tok), jnp.asarray(last))
    out = []
    for row, k, g in zip(tok, last, np.asarray(gen)):
        said = data.vocab.decode([t for t in g if t >= 0]).split(" Q ")[0]
        ans = said.split(" so ", 1)
        said = ans[0] + (" so " + ans[1].split()[0] if len(ans) > 1 and ans[1].split() else "")
        out.append((data.vocab.decode(row[:k + 1]), said))
    return out


def named_values(data: Data, said: list, cond: str) -> Counter:
    """Which value each restatement of `cond`'s claims names, and the answer after it: counts of
    (named, answer), named one of "claim" (the claimed value only), "truth" (the entity's true
    value only), "both", "none"; answer "yes", "no" or "?" (no answer slot reached)."""
    out = Counter()
    for e, (_, text) in zip(data.world.claims, said):
        if e.condition != cond:
            continue
        rel, v = e.claim
        words = text.split(" so ")[0].split()
        has_v, has_t = v in words, e.truth[rel] in words
        named = "both" if has_v and has_t else "claim" if has_v else "truth" if has_t else "none"
        tail = text.split(" so ")[1].split() if " so " in text else []
        out[named, tail[0] if tail and tail[0] in ("yes", "no") else "?"] += 1
    return out


def main(argv=None) -> int:
    from .config import CONDITIONS, ConfigError
    p = argparse.ArgumentParser(prog="python -m toyneg.speak", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="world seeds (one run each)")
    p.add_argument("--kind", default="icl", help=f"probe: one of {', '.join(KINDS + ICL_KINDS)}")
    p.add_argument("--condition", default="corrected", help="whose claims to show")
    p.add_argument("--tiny", action="store_true", help="the demo's seconds-long setting (for tests)")
    p.add_argument("--quiet", action="store_true", help="print only the counts, not every transcript")
    a = p.parse_args(argv)
    if a.kind not in KINDS + ICL_KINDS:
        p.error(f"--kind {a.kind!r}: one of {', '.join(KINDS + ICL_KINDS)}")
    from .presets import DEMO_TINY
    base = dict(DEMO_TINY) if a.tiny else {}
    conds = base.get("conditions", CONDITIONS)
    if a.condition not in conds:
        p.error(f"--condition {a.condition!r}: one of {', '.join(conds)}")
    from .api import run_experiment
    total, rates = Counter(), []
    for seed in a.seeds:
        try:
            cfg = Config(**base, seed=seed)
        except ConfigError as e:
            p.error(str(e))
        print(f"seed {seed}: training one run ...", flush=True)
        res = run_experiment(cfg, keep_model=True)
        said = transcripts(cfg, res["data"], res["params"], a.kind)
        if not a.quiet:
            for e, (q, ans) in zip(res["data"].world.claims, said):
                if e.condition == a.condition:
                    print(f"  [{e.claim[1]}; truth {e.truth[e.claim[0]]}] ...{q[-90:]} {ans}")
        counts = named_values(res["data"], said, a.condition)
        total += counts
        rate = res["conditions"][a.condition].get({"yesno": "yes"}.get(a.kind, a.kind))
        if rate is not None:  # yesno2 is read into `yes` with yesno, not stored alone
            rates.append(rate[-1])
        print(f"seed {seed}: {dict(sorted(counts.items()))}"
              + (f"; stored '{a.kind}' rate {rate[-1]:.2f}" if rate is not None else ""), flush=True)
    n = sum(total.values())
    print(f"\n{a.condition}, '{a.kind}', {len(a.seeds)} seeds, {n} claims: which value the "
          "restatement names, and the answer after it")
    print("| names | answer yes | answer no | no answer |\n|---|---|---|---|")
    for named in ("claim", "truth", "both", "none"):
        row = [total[named, x] / max(n, 1) for x in ("yes", "no", "?")]
        print(f"| {named} | " + " | ".join(f"{r:.2f}" for r in row) + " |")
    if rates:
        print(f"mean stored '{a.kind}' rate (final checkpoint): {np.mean(rates):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
