"""Regression guard on the main effect, in a small world (about 2 minutes on 2 CPU cores).

Fails if the direction of the effect flips.  Out of context (open-answer probability of the
claimed value, the probe in which the default sweep shows the effect; see results/README.md),
positive and negated claims must be believed more than locally negated ones and than the
baseline; in context, the model must reject negated claims and accept positive ones more.

Two seeds through one compiled program, compared on their mean over the last two checkpoints
(a curve, not a point): in a world this small one seed's local-vs-negated gap is within noise
(seed 0 alone: 0.36 vs 0.32), so a one-seed guard would be flaky.  Thresholds are loose on
purpose; the sweeps measure the size.
"""

import numpy as np

from toyneg.config import Config
from toyneg.runner import Group, run_group

# The 0.2.0 base mix (a quarter reading tasks): in a world this small, the 0.3.0 default's
# doubled reading practice leaves local negation believed like the rest out of context
# (two seeds: open-answer probability positive 0.32, negated 0.41, local 0.36), the
# disagreement with the paper that results/README.md (sections 1 and 13) reports at full size,
# where local is still believed less than negated. The guard keeps the setting in which the
# direction of every contrast is known, so that a code change that flips it fails here.
SMALL = dict(conditions=("baseline", "positive", "negated", "local"), n_claims=8,
             n_entities=64, n_readers=64, finetune_steps=1500, checkpoints=4,
             icl_frac=0.25, qa_frac=0.35)


def late(results, cond, metric):
    """Mean over seeds of the mean over the last two checkpoints."""
    return float(np.mean([np.mean(r["conditions"][cond][metric][-2:]) for r in results]))


def test_negated_is_neglected_local_is_not_and_context_is_read():
    cfgs = [Config(**SMALL, seed=s) for s in (0, 1)]
    results = [r for _, _, r, _ in run_group(Group("science", cfgs), use_cache=False)]
    base, pos, neg, loc = (late(results, c, "open_p")
                           for c in ("baseline", "positive", "negated", "local"))
    assert (pos + neg) / 2 > loc + 0.03, (pos, neg, loc)
    assert min(pos, neg) > base + 0.15, (pos, neg, base)
    assert late(results, "positive", "icl_p") > late(results, "negated", "icl_p") + 0.25
    assert late(results, "negated", "icl_p") < 0.3
