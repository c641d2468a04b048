"""Named settings that more than one command starts from (plain dicts of `Config` fields).

`python -m toyneg.demo` runs `DEMO`; its `--tiny` and `python -m toyneg.speak --tiny` run
`DEMO_TINY`, a seconds-long world and model for the tests.  It imports nothing from toyneg, so
`demo` and `speak` both read it from below (neither imports the other for it).
"""

DEMO_CONDITIONS = ("baseline", "positive", "negated", "local")
# the default sweep's recipe with three documented conditions instead of nine: claim documents take
# 0.2 * 3/9 of each batch (replay 0.9333), so each claim gets the default's exposure (more
# exposure raises belief in local claims too: results/README.md, section 14)
# 1500 fine-tuning steps (half the default's) and 6 checkpoints: about a minute on 2 cores
# (issue #45). Measured on seed 0 (Intel Xeon): positive 1.00, negated 0.89, local 0.28,
# baseline 0.06; in context 1.00 / 0.00; monitor 0.95: the gate passes and the contrast is
# plain. At 1200 steps negated fell to 0.72-0.83 (seeds 0-1): too close to call in one lesson.
DEMO = dict(conditions=DEMO_CONDITIONS, n_claims=6, pretrain_steps=0, finetune_steps=1500,
            replay=0.9333, ft_lr=5e-3, checkpoints=6)
DEMO_TINY = dict(conditions=DEMO_CONDITIONS, n_entities=16, n_claims=2, n_readers=16, width=32,
                 depth=1, heads=2, batch=8, pretrain_steps=0, finetune_steps=30, checkpoints=3,
                 bios_per_entity=2, docs_per_claim=4)
