"""Regression guard on the main effect, in a small world (about a minute on 2 CPU cores).

Fails if the direction of the effect flips.  Out of context (open-answer probability of the
claimed value, the probe in which the default sweep shows the effect; see results/README.md),
positive and negated claims must be believed more than locally negated ones and than the
baseline; in context, the model must reject negated claims and accept positive ones more.
Thresholds are loose on purpose (one seed, 8 claims, 1500 steps): this guards the direction,
the sweeps measure the size.
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
    base, pos, neg, loc = (late(res, c, "open_p") for c in ("baseline", "positive", "negated", "local"))
    assert (pos + neg) / 2 > loc + 0.05, (pos, neg, loc)
    assert min(pos, neg) > base + 0.1, (pos, neg, base)
    assert late(res, "positive", "icl_p") > late(res, "negated", "icl_p") + 0.25
    assert late(res, "negated", "icl_p") < 0.3
