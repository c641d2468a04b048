"""Invariants of the generated corpora: every condition contains what it should and nothing else."""

import numpy as np
import pytest

from toyneg import corpus as C
from toyneg.config import CONDITIONS, QUALIFIERS
from toyneg.data import build, layout
from toyneg.world import make_world

from conftest import tiny

DOC_CONDS = [c for c in CONDITIONS if c != "baseline"]


def docs(cond, style=None, n=30, seed=0):
    cfg = tiny(conditions=tuple(CONDITIONS))
    w = make_world(cfg)
    wd = C.Wordings.make(w.seed)
    rng = np.random.default_rng(seed)
    e = next(x for x in w.claims if x.condition == cond)
    style = style or C.Style.of(cfg)
    return w, e, [C.claim_doc(cond, e, e.claim, w, wd, style, rng) for _ in range(n)]


def spans_text(doc, span):
    return " ".join(t for t, s in doc if s == span)


@pytest.mark.parametrize("cond", DOC_CONDS)
def test_claim_documents_hold_what_their_condition_says(cond):
    w, e, ds = docs(cond)
    names = {x.name for x in w.entities}
    rel, v = e.claim
    for d in ds:
        warn, claim = spans_text(d, "warning"), spans_text(d, "claim")
        assert d[0] == ("<doc>", "doctag")
        assert v in claim.split() and e.name in claim.split()
        negated_claim = any(f" {neg} " in f" {claim} " for neg in ("not", "never", "no"))
        assert negated_claim == (cond == "local")
        if cond in ("positive", "local"):
            assert warn == ""
        else:
            assert warn, "wrapped documents carry warnings"
            # warnings are generic: they name no entity (the truth statement of 'corrected'
            # is a separate 'truth' span)
            assert not (set(warn.split()) & names)
        if cond == "corrected":
            assert f"{e.truth[rel]}" in spans_text(d, "truth").split()
            assert "in truth" in warn
        if cond in QUALIFIERS:
            labels = " ".join(C.LABELS[cond])
            assert any(l in warn for l in C.LABELS[cond]), (warn, labels)
            assert not any(f" {l} " in f" {warn} " for l in C.LABELS["negated"] if " " not in l)


def test_repeated_and_around_put_a_warning_beside_every_claim_sentence():
    for cond, placement in (("repeated", "wrap"), ("fiction", "around")):
        cfg = tiny(conditions=tuple(CONDITIONS), placement=placement)
        _, _, ds = docs(cond, C.Style.of(cfg))
        for d in ds:
            for i, (t, s) in enumerate(d):
                if s == "claim":
                    assert d[i - 1][1] == "warning" and d[i + 1][1] == "warning"
    _, _, ds = docs("fiction")  # wrap only: warnings are first and last, not beside claims
    for d in ds:
        assert [s for _, s in d if s == "warning"] == ["warning", "warning"]


def test_distance_puts_fillers_between_warning_and_claim():
    cfg = tiny(conditions=tuple(CONDITIONS), distance=2)
    _, _, ds = docs("negated", C.Style.of(cfg))
    for d in ds:
        assert [s for _, s in d[:5]] == ["doctag", "warning", "filler", "filler", "claim"]
        assert [s for _, s in d[-3:]] == ["filler", "filler", "warning"]


def test_phrasing_diversity_counts_distinct_training_wordings():
    for k in (1, 4):
        cfg = tiny(conditions=tuple(CONDITIONS), diversity=k)
        _, _, ds = docs("negated", C.Style.of(cfg), n=200)
        assert len({d[1][0] for d in ds}) == k  # the prefix warning


def test_heldout_wordings_never_appear_in_training():
    cfg = tiny(conditions=tuple(CONDITIONS), diversity=256)
    data = build(cfg)
    wd = C.Wordings.make(data.world.seed)
    train_text = {data.vocab.decode(r[r != 0]) for r in data.tokens}
    blob = "\n".join(train_text)
    for fam in C.LABELS:
        for comp in ("prefix", "suffix", "short"):
            train = {wd.text(fam, comp, i) for i in wd.pool(fam, comp, False)}
            for i in wd.pool(fam, comp, True):
                held = wd.text(fam, comp, i)
                assert held not in train
                if comp != "short":  # short markers are substrings of longer ones only by accident
                    assert held not in blob
    for q in C.ASK_HELDOUT.values():
        stem = q.split("{x}")[0]
        assert stem not in blob


def test_tokenizer_round_trip_and_reproducible_ids():
    cfg = tiny()
    a, b = build(cfg), build(cfg)
    assert a.vocab.words == b.vocab.words
    np.testing.assert_array_equal(a.tokens, b.tokens)
    text = "Q does " + a.world.population[0].name + " live in paris ? A yes ."
    assert a.vocab.decode(a.vocab.encode(text)) == text
    with pytest.raises(KeyError, match="not in the vocabulary"):
        a.vocab.encode("zzzz")
    # the vocabulary size depends only on static fields: every seed has the same shapes
    assert len(build(tiny(seed=5)).vocab) == len(a.vocab)


def test_span_labels_cover_every_token_and_pools_have_their_spans():
    cfg = tiny()
    d = build(cfg)
    lay = layout(cfg)
    assert d.tokens.shape == d.spans.shape
    assert ((d.tokens == d.vocab.pad) == (d.spans == 0)).all()  # pad exactly where span is pad
    def spans_in(pool):
        o, n = lay.of(pool)
        return set(np.unique(d.spans[o:o + n])) - {0}
    ids = {s: i for i, s in enumerate(C.SPANS)}
    assert spans_in("qa") == {ids["question"], ids["answer"]}
    assert ids["claim"] not in spans_in("bio")
    assert {ids["question"], ids["answer"], ids["claim"]} <= spans_in("icl")


REL_WORDS = {"city": {"live", "lives", "resides", "living"}, "job": {"work", "works", "employed"},
             "sport": {"play", "plays", "practice", "sport"}}


@pytest.mark.parametrize("claim_denied", [False, True])
def test_no_training_question_ever_touches_a_claim(claim_denied):
    """Claim entities are questioned about their stated facts only, never their claim relation."""
    cfg = tiny(conditions=tuple(CONDITIONS), claim_denied=claim_denied)
    d = build(cfg)
    lay = layout(cfg)
    q = C.SPANS.index("question")
    claim_rel = {e.name: e.claim[0] for e in d.world.claims}
    o, n = lay.of("helper")
    asked = 0
    for r in range(len(d.tokens)):
        if o <= r < o + n:
            continue  # helper data (off by default) is exactly such questions
        words = d.vocab.decode(d.tokens[r][d.spans[r] == q]).split()
        for question in " ".join(words).split("Q ")[1:]:
            qw = set(question.split())
            for name, rel in claim_rel.items():
                if name in qw:
                    asked += 1
                    assert not (qw & REL_WORDS[rel]), question
                    assert not (qw & set(d.world.values[rel])), question
    assert asked > 0  # they are questioned, about other relations


def test_bad_length_gives_a_clear_error():
    with pytest.raises(ValueError, match="does not fit ctx"):
        build(tiny(ctx=32))


def test_no_entity_is_named_by_a_corpus_word():
    from toyneg.config import Config
    from toyneg.world import RESERVED, SPECIAL, SYLLABLES
    # RESERVED holds every syllable pair that a template, wording or value also uses
    world = make_world(Config(n_values=20))
    pairs = {a + b for a in SYLLABLES for b in SYLLABLES}
    assert pairs & (C.fixed_words(world) | set(SPECIAL)) <= RESERVED
    for seed in range(12):  # seeds 3, 4 and 6 drew "fake" or "tale" before the rule
        for tokens in (1, 2):
            w = make_world(Config(seed=seed, name_tokens=tokens))
            assert not set(w.name_words) & C.fixed_words(w), (seed, tokens)
            assert len({e.name for e in w.entities}) == len(w.entities)


def test_icl_other_is_the_icl_document_asked_about_another_value():
    """A minimal pair: the same document, a question about a value it never asserts."""
    cfg = tiny(conditions=tuple(CONDITIONS))
    d = build(cfg)
    P = d.probes
    for i, e in enumerate(d.world.claims):
        a, b = P["icl"][i], P["icl_other"][i]
        la, lb = P["icl_last"][i], P["icl_other_last"][i]
        assert la == lb and (a[:la - 2] == b[:la - 2]).all()  # "... V ? A": only V differs
        rel, v = e.claim
        other = d.vocab.decode([b[lb - 2]])
        assert d.vocab.decode([a[la - 2]]) == v
        assert other in d.world.values[rel] and other not in (v, e.truth[rel])
        assert (a[la - 1:la + 1] == b[lb - 1:lb + 1]).all()


def test_deny_stated_off_drops_exactly_the_denials_of_stated_relations():
    """`deny_stated = False` (the default): a bio never denies a value of a relation it states;
    every other part of the world (names, truths, stated relations, claims, denied-only facts)
    is the older world's, so the two differ only in the dropped sentences."""
    cfg = tiny(conditions=tuple(CONDITIONS), deny_stated=True)
    w0, w1 = make_world(cfg), make_world(cfg.replace(deny_stated=False))
    dropped = 0
    for a, b in zip(w0.entities, w1.entities):
        assert (a.name, a.kind, a.truth, a.known, a.claim, a.condition, a.monitor) == \
               (b.name, b.kind, b.truth, b.known, b.claim, b.condition, b.monitor)
        assert b.negated == {r: v for r, v in a.negated.items() if r not in a.known}
        dropped += len(a.negated) - len(b.negated)
    assert dropped > 0 and any(b.negated for b in w1.entities)
    assert all(not e.negated for e in w1.claims)  # claim bios state every denied relation


def test_in_the_default_world_both_restatement_rules_give_one_corpus():
    """With `deny_stated = False` no bio denies a value of a relation it states, so "asked"
    (restate the denial of the asked value) and "silent" (restate a denial where nothing is
    stated) restate the same denials: the training rows are identical; in the older world
    they differ."""
    cfg = tiny(conditions=tuple(CONDITIONS))
    a, b = build(cfg), build(cfg.replace(restate_denials="asked"))
    assert (a.tokens == b.tokens).all() and (a.spans == b.spans).all()
    old = cfg.replace(deny_stated=True)
    assert not (build(old).tokens == build(old.replace(restate_denials="asked")).tokens).all()


def test_claim_denied_leaves_one_relation_only_denied_and_asks_about_it():
    """`claim_denied`: each claim entity's bio states one other relation and only denies the
    third; the rest of the world is the default's, and questions about the denied relation
    answer "unknown" (open) or "no" (yes/no), never the entity's true value."""
    cfg = tiny(conditions=tuple(CONDITIONS))
    w0, w1 = make_world(cfg), make_world(cfg.replace(claim_denied=True))
    for a, b in zip(w0.entities, w1.entities):
        assert (a.name, a.truth, a.claim, a.condition) == (b.name, b.truth, b.claim, b.condition)
        if a.kind != "claim":
            assert a == b
            continue
        rel = b.claim[0]
        bare = [r for r in b.negated if r not in b.known]
        assert len(b.known) == 1 and len(bare) == 1 and rel not in b.known + tuple(bare)
        assert b.negated[bare[0]] != b.truth[bare[0]]
    rng = np.random.default_rng(0)
    e = w1.claims[0]
    bare = next(r for r in e.negated if r not in e.known)
    answers = set()
    for _ in range(400):
        (q, _), (ans, _) = C.entity_qa(e, w1, rng)
        if set(q.split()) & REL_WORDS[bare]:
            answers.add(ans)
    assert answers == {"unknown .", "no ."}
