"""The article's open questions as capabilities: correcting documents in context, a penalty on
the claim, truth-only rewrites and a repair phase, and stability arms that differ only where
they say."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyneg.data import POOLS, build, layout
from toyneg.model import init_params
from toyneg.sweepfile import expand, load
from toyneg.train import finetune_mix, make_train

from conftest import tiny

ROOT = os.path.dirname(os.path.dirname(__file__))
CONDS = ("baseline", "positive", "negated", "repeated", "local", "truth_only")


def test_correcting_documents_state_the_truth_and_name_the_claim_only_to_negate_it():
    cfg = tiny(conditions=CONDS, corrections=("truth", "local", "check"))
    d = build(cfg)
    P, words = d.probes, np.array(d.vocab.words)
    n = len(d.world.claims)
    for k, kind in enumerate(cfg.corrections):
        for i, e in enumerate(d.world.claims):
            rel, v = e.claim
            row = P["dec_corr"][k * n + i]
            text = " ".join(words[row[:P["dec_corr_last"][k * n + i] + 1]])
            doc, _, question = text.rpartition(" Q ")
            assert question == f"does {e.name} " + {"city": "live in", "job": "work as",
                                                     "sport": "play"}[rel] + f" {v} ? A"
            sentences = [s.strip() for s in doc.split(" . ")]
            if kind == "truth":  # the truth, plainly; the claimed value never
                assert e.truth[rel] in doc.split() and v not in doc.split()
            elif kind == "local":  # the claim named only inside its negation
                assert f"{e.name} does not" in doc or f"{e.name} has never" in doc \
                    or f"{e.name} has no" in doc or f"{e.name} is not" in doc or f"{e.name} never" in doc
                assert not any(s.endswith(f" {v}") and " not " not in f" {s} " and "never" not in s
                               and " no " not in f" {s} " for s in sentences)
            else:  # a fact-check: the claim named inside its rejection
                assert f"fact check : the claim that {e.name}" in doc and f"{v} is false" in doc
    # the control asks about facts the bios state, with a document against them
    M = P["corr_n_control"].shape[0]
    assert M > 0 and P["dec_corr"].shape[0] == 3 * (n + M)


def test_the_penalty_is_zero_at_weight_zero_and_marks_only_claimed_values_in_warned_documents():
    cfg = tiny(conditions=CONDS, penalty="unlikelihood")
    d = build(cfg)
    marks = d.marks
    words = np.array(d.vocab.words)
    assert marks.sum() > 0
    claims = {e.claim[1] for e in d.world.claims if e.condition in ("negated", "repeated")}
    assert set(words[d.tokens[marks > 0]]) <= claims
    o, n = layout(cfg).of("claim")
    rows = np.flatnonzero(marks.any(1))
    assert ((rows >= o) & (rows < o + n)).all()  # claim documents only
    for e in d.world.claims:  # never a positive, local or truth-only claim
        if e.condition in ("positive", "local", "truth_only"):
            assert not (d.tokens[marks > 0] == d.vocab.ids[e.name]).any()
    ph = make_train(cfg, layout(cfg), d.vocab)
    ph_none = make_train(cfg.replace(penalty="none"), layout(cfg), build(cfg.replace(penalty="none")).vocab)
    params = init_params(jax.random.PRNGKey(0), len(d.vocab), cfg)
    arrays = jax.tree.map(jnp.asarray, d.arrays())
    w = np.full(len(POOLS), 1e-30, np.float32)
    w[POOLS.index("claim")] = 1.0
    batch = ph.sample(jax.random.PRNGKey(1), arrays, jnp.asarray(w))
    assert batch["marks"].sum() > 0
    plain = {k: v for k, v in batch.items() if k != "marks"}
    base = float(ph_none.loss_fn(params, plain))
    assert float(ph.loss_fn(params, batch, 0.0)) == base  # exactly the ordinary loss
    assert float(ph.loss_fn(params, batch, 1.0)) > base
    g0 = jax.grad(ph.loss_fn)(params, batch, 0.0)
    g1 = jax.grad(ph_none.loss_fn)(params, plain)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(g0), jax.tree.leaves(g1)))


@pytest.mark.parametrize("pack", [True, False])
def test_the_repair_phase_draws_truth_only_documents_about_the_same_claims(pack):
    cfg = tiny(conditions=CONDS, repair="truth_only", phase2_steps=10, pack=pack, batch=64)
    d = build(cfg)
    ph = make_train(cfg, layout(cfg), d.vocab)
    arrays = jax.tree.map(jnp.asarray, d.arrays())
    w = np.asarray(finetune_mix(ph.base_weights, 0.0))  # claim documents only
    words = np.array(d.vocab.words)
    names = {e.name: e for e in d.world.claims}
    for repair in (False, True):
        batch = ph.sample(jax.random.PRNGKey(0), arrays, jnp.asarray(w), repair)
        tok = np.asarray(batch["tokens"])
        segs = np.asarray(batch["segs"]) if pack else (tok != d.vocab.pad).astype(int)
        docs = [words[tok[r][segs[r] == s]] for r in range(len(tok)) for s in range(1, segs[r].max() + 1)]
        assert len(docs) > 20
        for doc in docs:  # each document is about one claim entity
            e = names[next(x for x in doc if x in names)]
            rel, v = e.claim
            assert e.condition != "baseline"
            if repair:  # only the truth: no claimed value, no warning, no negation
                assert v not in doc and e.truth[rel] in doc
                assert not {"false", "not", "never"} & set(doc)
            else:
                assert (v in doc) != (e.condition == "truth_only")
    assert not (np.asarray(ph.sample(jax.random.PRNGKey(0), arrays, jnp.asarray(w), False)["tokens"]) ==
                np.asarray(ph.sample(jax.random.PRNGKey(0), arrays, jnp.asarray(w), True)["tokens"])).all()


def test_the_stability_arms_differ_only_in_what_each_names():
    cfgs = expand(load(os.path.join(ROOT, "sweeps", "stability.toml")))
    arms = {}
    for c in cfgs:
        arms.setdefault(c.seed, []).append(c.to_dict())
    for seed, ds in arms.items():
        assert len(ds) == 3
        named = {"phase2_replay", "phase2_helper"}
        for a in ds[1:]:
            differ = {k for k in a if a[k] != ds[0][k]}
            assert differ and differ <= named, differ
    original, same_share, helper = arms[0]
    assert original["phase2_replay"] == -1 and not original["phase2_helper"]
    assert same_share["phase2_replay"] == 0.8 and not same_share["phase2_helper"]
    assert helper["phase2_replay"] == -1 and helper["phase2_helper"]
