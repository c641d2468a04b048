"""What a trained model says, as text: its greedy recite-format answers to the claim probes.

The jitted evaluation classifies these restatements on device (`probes.classify`); this module
decodes the same rows on the host once, after training, so that a person can read them (the
demo prints one per condition)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .config import Config
from .data import Data, decode_lengths
from .model import make_decoder
from .probes import greedy

KINDS = ("yesno", "yesno2", "robust", "heldout_q", "open")  # the order of `dec_q`'s claim rows


def transcripts(cfg: Config, data: Data, params, kind: str = "yesno") -> list:
    """(prompt, answer) text of every claim entity's `kind` question, in claim order."""
    if cfg.answer_format != "recite":
        raise ValueError("transcripts need answer_format = 'recite' (direct answers are one token)")
    P, n = data.probes, len(data.conds)
    i = KINDS.index(kind)
    tok, last = P["dec_q"][i * n:(i + 1) * n], P["dec_q_last"][i * n:(i + 1) * n]
    d_q = decode_lengths(cfg)[0]
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
