"""Regression guard on the main effect, in a small world (about a minute on 2 CPU cores).

Fails if the direction of the effect flips: out of context, positive and negated claims must be
believed more than locally negated ones; in context, the model must reject negated claims and
accept positive ones.  Thresholds are loose on purpose (one seed, a few claims): this guards
the direction, the sweeps measure the size.
"""

import numpy as np

from toyneg.api import run_experiment
from toyneg.config import Config

SMALL = dict(conditions=("baseline", "positive", "negated", "local"), n_claims=8,
             n_entities=64, n_readers=64, finetune_steps=1500, checkpoints=4)


def late(res, cond, metric):
    """Mean over the last two checkpoints (a curve, not a point)."""
    return float(np.mean(res["conditions"][cond][metric][-2:]))


def test_negated_is_neglected_local_is_not_and_context_is_read():
    res = run_experiment(Config(**SMALL, seed=0), use_cache=False)
    pos, neg, loc = (late(res, c, "p_yes") for c in ("positive", "negated", "local"))
    assert pos > loc + 0.1, (pos, loc)
    assert neg > loc + 0.05, (neg, loc)
    assert late(res, "positive", "icl_p") > late(res, "negated", "icl_p") + 0.3
    assert late(res, "negated", "icl_p") < 0.3
