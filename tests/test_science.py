"""Regression guard on the main effect under the default recite format, on the demo's recipe
cut to 800 fine-tuning steps (about a minute on 2 CPU cores).  The effect is there from about
700 steps on: at 500 it is not yet (positive and negated belief 0.47 and 0.42 against a baseline
of 0.18, and one seed fails), so 800 is the fewest steps that pass with margin.

Fails if the direction of the effect flips.  Out of context (the headline `belief`: yes/no,
open and robustness answers, each read after the model's own restatement), positive and
negated claims must be believed more than locally negated ones and than the baseline, and the
restatements must say so (local claims denied more often than negated ones); in context the
model must reject negated claims and accept positive ones.

Two seeds through one compiled program, compared on their mean over the last two checkpoints
(a curve, not a point).  Thresholds are loose on purpose; the sweeps measure the size.
"""

import numpy as np
import pytest

from toyneg.config import Config
from toyneg.demo import DEMO
from toyneg.runner import Group, run_group
from toyneg.tables import series

# the demo's recipe (the default with three documented conditions, each claim at the default's
# exposure), with 800 of its 3000 steps; ten checkpoints, so that the last two (steps 491 and
# 800) are both late in the run
SMALL = {**DEMO, "checkpoints": 10, "finetune_steps": 800}


def late(results, cond, metric):
    """Mean over seeds of the mean over the last two checkpoints."""
    return float(np.mean([np.mean(series(r["conditions"][cond], metric)[-2:]) for r in results]))


@pytest.mark.slow
def test_negated_is_neglected_local_is_not_and_context_is_read():
    cfgs = [Config(**SMALL, seed=s) for s in (0, 1)]
    results = [r for _, _, r, _ in run_group(Group("science", cfgs), use_cache=False)]
    base, pos, neg, loc = (late(results, c, "belief")
                           for c in ("baseline", "positive", "negated", "local"))
    print({"baseline": base, "positive": pos, "negated": neg, "local": loc,
           "denies": {c: late(results, c, "denies_claim") for c in ("negated", "local")},
           "icl": {c: late(results, c, "icl_p") for c in ("positive", "negated", "local")}})
    assert (pos + neg) / 2 > loc + 0.15, (pos, neg, loc)
    assert min(pos, neg) > base + 0.2, (pos, neg, base)
    assert late(results, "local", "denies_claim") > late(results, "negated", "denies_claim") + 0.05
    assert late(results, "positive", "icl_p") > late(results, "negated", "icl_p") + 0.4
    assert late(results, "negated", "icl_p") < 0.3
    assert late(results, "local", "icl_p") < 0.4
