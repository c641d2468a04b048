"""Packed batches (0.5.0): whole documents in full rows, each its own attention block, drawn so
that every kind of document comes as often as 0.4.0 drew it; and 0.4.0's rows unchanged when
`pack = false`."""

import hashlib
import json
import os
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyneg import corpus as C
from toyneg.config import CONDITIONS, from_dict
from toyneg.data import POOLS, build, layout
from toyneg.model import init_params, make_apply
from toyneg.pack import PackError, best_fit, pack_docs
from toyneg.train import finetune_mix, make_train

from conftest import tiny

HERE = os.path.dirname(__file__)


def test_best_fit_keeps_every_document_whole_and_rows_full():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, 500)
    rows = best_fit(list(lengths), 100, rng.permutation(500))
    assert sorted(i for r in rows for i in r) == list(range(500))
    used = [sum(lengths[i] for i in r) for r in rows]
    assert max(used) <= 100
    assert len(rows) <= int(np.ceil(lengths.sum() / 100 * 1.05)) + 1  # within 5% of perfect
    with pytest.raises(PackError, match="does not fit"):
        best_fit([101], 100, np.arange(1))


def test_pack_docs_marks_segments_and_restarts_positions():
    docs = [([5, 6, 7], [1, 3, 3]), ([8, 9], [1, 4]), ([4] * 9, [6] * 9)]
    out = pack_docs(docs, 10, 3, 0, np.random.default_rng(0))
    assert out["n_rows"] == 2
    seen = []
    for r in range(out["n_rows"]):
        for s in range(1, out["segs"][r].max() + 1):
            at = out["segs"][r] == s
            assert (out["poss"][r][at] == np.arange(at.sum())).all()
            seen.append(tuple(out["tokens"][r][at]))
        assert (out["tokens"][r][out["segs"][r] == 0] == 0).all()
    assert sorted(seen) == sorted(tuple(t) for t, _ in docs)
    assert (out["tokens"][2] == 0).all() and (out["segs"][2] == 0).all()
    with pytest.raises(PackError, match="more than the pool"):
        pack_docs(docs, 10, 1, 0, np.random.default_rng(0))


def test_packed_pools_hold_exactly_the_tokens_of_0_4_0_rows():
    """The same documents, drawn from the same random stream: only the rows they sit in differ.
    Per pool, the packed rows hold every token of 0.4.0's rows (claim and helper pools: of the
    entities that have them) and nothing else, each document whole (it starts with its first
    word: <doc> for bios and claim documents, Q for questions)."""
    cfg = tiny(conditions=tuple(CONDITIONS), helper_frac=0.1)
    old, new = build(cfg.replace(pack=False)), build(cfg)
    np.testing.assert_array_equal(old.loss_tokens, new.loss_tokens)
    for k in old.probes:
        np.testing.assert_array_equal(old.probes[k], new.probes[k])
    lay, lay_old, pk = layout(cfg), layout(cfg.replace(pack=False)), new.packing
    has = {"claim": [e.condition != "baseline" for e in new.world.claims],
           "helper": [e.condition not in ("baseline", "positive", "local") for e in new.world.claims]}
    for i, p in enumerate(POOLS):
        o, n = lay_old.of(p)
        rows = range(o, o + n)
        if p in has:
            per = n // len(has[p])
            rows = [r for r in rows if has[p][(r - o) // per]]
        words_old = Counter(w for r in rows for w in old.tokens[r] if w != old.vocab.pad)
        o, n = lay.of(p)
        k = pk["pool_rows"][i]
        words_new = Counter(w for r in range(o, o + k) for w in new.tokens[r] if w != new.vocab.pad)
        assert words_old == words_new, p
        assert (new.tokens[o + k:o + n] == new.vocab.pad).all()
        assert pk["pool_scale"][i] == pytest.approx(k / len(rows))
        first = {"bio": "<doc>", "claim": "<doc>", "qa": "Q", "helper": "Q"}.get(p)
        for r in range(o, o + k):
            starts = np.flatnonzero(pk["poss"][r] == 0)
            starts = starts[pk["segs"][r][starts] > 0]
            assert len(starts) == pk["segs"][r].max()
            if first:
                assert all(new.vocab.words[new.tokens[r][s]] == first for s in starts)


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_a_packed_document_is_computed_as_if_alone_in_its_row(positions):
    cfg = tiny(ctx=24, positions=positions)
    apply = make_apply(40, cfg)
    params = init_params(jax.random.PRNGKey(0), 40, cfg)
    a = jax.random.randint(jax.random.PRNGKey(1), (9,), 1, 40)
    b = jax.random.randint(jax.random.PRNGKey(2), (11,), 1, 40)
    row = jnp.concatenate([a, b, jnp.zeros(4, a.dtype)])[None]
    segs = jnp.array([[1] * 9 + [2] * 11 + [0] * 4])
    poss = jnp.array([list(range(9)) + list(range(11)) + [0] * 4])
    packed = apply(params, row, segs, poss)[0]
    alone_a = apply(params, a[None])[0]
    alone_b = apply(params, b[None])[0]
    np.testing.assert_allclose(packed[:9], alone_a, atol=2e-5)
    np.testing.assert_allclose(packed[9:20], alone_b, atol=2e-5)
    # without the mask, b would read a: the test can fail
    assert not np.allclose(apply(params, row)[0, 9:20], alone_b, atol=1e-3)


def test_packed_loss_is_the_token_weighted_loss_of_each_document_alone():
    """No document's first token is a target, nothing crosses a boundary: the loss of a packed
    row is the mean over every real target of each document trained alone."""
    cfg = tiny()
    d = build(cfg)
    ph = make_train(cfg, layout(cfg), d.vocab)
    ph_old = make_train(cfg.replace(pack=False), layout(cfg), d.vocab)
    params = init_params(jax.random.PRNGKey(0), len(d.vocab), cfg)
    V = len(d.vocab)
    rng = np.random.default_rng(0)
    docs = [(list(rng.integers(13, V, n)), [3] * n) for n in (7, 12, 5)]
    packed = pack_docs(docs, 25, 1, d.vocab.pad, rng)
    batch = {k: jnp.asarray(packed[k]) for k in ("tokens", "spans", "segs", "poss")}
    got = float(ph.loss_fn(params, batch))
    num = 0.0
    for t, s in docs:
        row = np.full((1, 25), d.vocab.pad)
        spn = np.zeros((1, 25), np.int32)
        row[0, :len(t)], spn[0, :len(s)] = t, s
        one = float(ph_old.loss_fn(params, {"tokens": jnp.asarray(row), "spans": jnp.asarray(spn)}))
        num += one * (len(t) - 1)
    assert got == pytest.approx(num / sum(len(t) - 1 for t, _ in docs), rel=1e-5)


def test_packed_draws_give_each_kind_of_document_its_0_4_0_share():
    """Expected documents per step of each pool, relative to the others, are 0.4.0's: a pool's
    weight is scaled by its packed rows per 0.4.0 row."""
    cfg = tiny(conditions=tuple(CONDITIONS), batch=64)
    shares = {}
    for pack in (False, True):
        c = cfg.replace(pack=pack)
        d, lay = build(c), layout(c)
        ph = make_train(c, lay, d.vocab)
        w = finetune_mix(ph.base_weights, 0.6)
        arrays = jax.tree.map(jnp.asarray, d.arrays())
        draw = jax.jit(jax.vmap(lambda k: ph.sample(k, arrays, w)["tokens"]))
        toks = np.asarray(draw(jax.random.split(jax.random.PRNGKey(0), 200))).reshape(-1, c.ctx + 1)
        words = np.array(d.vocab.words)[toks]
        # a bio or claim document begins with <doc>; a question item with Q
        n_doc, n_q = (words == "<doc>").sum(), (words == "Q").sum()
        n_warn = np.isin(words, ["false", "fiction", "unreliable", "unlikely"]).sum()
        shares[pack] = np.array([n_doc, n_q, n_warn], float) / (n_doc + n_q)
    np.testing.assert_allclose(shares[True], shares[False], rtol=0.08)


def _sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_unpacked_corpora_are_byte_for_byte_0_4_0():
    """tests/data/corpus_0.4.0.json was written by toyneg 0.4.0 (commit 6a0242d): the default
    world, two seeds, and tiny worlds with every corpus knob off its default."""
    g = json.load(open(os.path.join(HERE, "data", "corpus_0.4.0.json")))
    for name, case in g.items():
        if name.startswith("default") and name != "default_seed0":
            continue  # one default world is enough here (1.5 s each)
        d = build(from_dict({**case["config"], "pack": False}))
        probes = hashlib.sha256()
        for k in sorted(d.probes):
            probes.update(k.encode())
            probes.update(np.ascontiguousarray(d.probes[k]).tobytes())
        got = {"tokens": _sha(d.tokens), "spans": _sha(d.spans), "loss_tokens": _sha(d.loss_tokens),
               "probes": probes.hexdigest(),
               "vocab": hashlib.sha256(" ".join(d.vocab.words).encode()).hexdigest()}
        assert got == case["digest"], name


def test_unpacked_runs_compute_what_0_4_0_computed():
    """tests/data/recite_0.4.0.json: a 20-step tiny run of toyneg 0.4.0 (every condition, the
    monitor): with `pack = false` the same numbers to float precision."""
    from toyneg.runner import Group, run_group
    g = json.load(open(os.path.join(HERE, "data", "recite_0.4.0.json")))
    cfg = from_dict({**g["config"], "pack": False})
    (_, _, res, _), = run_group(Group("g", [cfg]), use_cache=False)
    assert res["steps"] == g["steps"]
    np.testing.assert_allclose(res["losses"][1:], g["losses"][1:], rtol=1e-4)
    for cond, m in g["conditions"].items():
        for name, old in m.items():
            np.testing.assert_allclose(np.array(res["conditions"][cond][name], float),
                                       np.array(old, float), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{cond} {name}")
