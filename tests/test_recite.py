"""The recite-then-answer format: restatements true to the bios, the held-out monitor kept out of
every question, greedy decoding and the restatement classifier on hand-made logits, and the
direct format computing exactly what toyneg 0.3.0 computed."""

import hashlib
import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from toyneg import corpus as C
from toyneg.config import CONDITIONS, SPANS
from toyneg.data import build, layout, restatement_patterns
from toyneg.probes import SAYS, classify, greedy, starts_with
from toyneg.runner import Group, run_group
from toyneg.world import RELATIONS, Vocab

from conftest import tiny

REL_OF = {"live": "city", "lives": "city", "resides": "city", "work": "job", "works": "job",
          "earns": "job", "play": "sport", "plays": "sport", "competes": "sport"}
Q, A = SPANS.index("question"), SPANS.index("answer")


def items(d, r):
    """(question words, answer text) of every question/answer item in row r."""
    toks, spans = d.tokens[r], d.spans[r]
    out, q, a = [], [], []
    for t, s in zip(toks, spans):
        w = d.vocab.words[t]
        if s == Q:
            if w == "Q" and (q or a):
                out.append((q, " ".join(a)))
                q, a = [], []
            q.append(w)
        elif s == A:
            a.append(w)
    if q:
        out.append((q, " ".join(a)))
    return out


def relation(question):
    if "sport" in question:
        return "sport"
    return next(REL_OF[w] for w in question if w in REL_OF)


@pytest.mark.parametrize("deny_stated", [False, True])
@pytest.mark.parametrize("denials", ["asked", "silent"])
def test_every_training_restatement_is_true_to_its_bio(denials, deny_stated):
    cfg = tiny(conditions=tuple(CONDITIONS), monitor_frac=0.25, restate_denials=denials,
               deny_stated=deny_stated)
    d = build(cfg)
    by_name = {e.name: e for e in d.world.entities}
    o, n = layout(cfg).of("qa")
    checked, denied_known = 0, 0
    for r in range(o, o + n):
        for question, answer in items(d, r):
            x = next(w for w in question if w in by_name)
            e, rel = by_name[x], relation(question)
            said, _, ans = answer.rpartition(f" . {C.SEP} ")
            ans = ans.removesuffix(" .")
            if question[1] in ("where", "what"):
                assert said == C.restate(e, rel), (question, answer)
                assert ans == (e.truth[rel] if rel in e.known else "unknown")
            else:
                asked = question[question.index("?") - 1]
                # a sentence of the bio: the fact, the denial of the asked value (rule "asked",
                # even where the fact is stated too), else a denial, else "nothing is known"
                if denials == "asked" and e.negated.get(rel) == asked:
                    assert said == C.negation(rel, x, asked, 0), (question, answer)
                    denied_known += rel in e.known
                else:
                    assert said == C.restate(e, rel), (question, answer)
                # the answer is a function of the restatement and the question alone
                assert ans == ("yes" if said == C.statement(rel, x, asked, 0) else "no")
            checked += 1
    assert checked > 200
    # the rules differ where the fact is stated and denied, which only the older world has
    assert (denied_known > 5) == (denials == "asked" and deny_stated)


def test_reading_tasks_restate_the_document_in_view_warning_included():
    cfg = tiny(conditions=tuple(CONDITIONS))
    d = build(cfg)
    o, n = layout(cfg).of("icl")
    warned = 0
    for r in range(o, o + 50):
        text = d.vocab.decode(d.tokens[r])
        for part in text.split("<doc>")[1:]:
            doc, _, qa = part.partition(" Q ")
            said = qa.partition(" A ")[2].rpartition(f" . {C.SEP} ")[0]
            assert said.startswith(C.TEXT_SAYS + " ")
            stated = said[len(C.TEXT_SAYS) + 1:].split(" , but it is ")[0]
            assert stated.split()[-1] in doc.split()  # the value it restates is in view
            is_warned = " , but it is " in said
            warned += is_warned
            has_warning = any(w in doc.split() for w in ("false", "fiction", "unreliable",
                                                         "rumor", "unlikely", "untrue", "myth"))
            assert not is_warned or has_warning or "(" in doc or ":" in doc
    assert warned > 0


@pytest.mark.parametrize("fmt", ["direct", "recite"])
def test_monitor_entities_never_appear_in_any_question_or_answer(fmt):
    cfg = tiny(conditions=tuple(CONDITIONS), monitor_frac=0.25, answer_format=fmt, ooc_frac=0.1)
    d = build(cfg)
    mon = {e.name for e in d.world.monitored}
    assert len(mon) == 4
    o_bio, n_bio = layout(cfg).of("bio")
    seen_in_bios = set()
    for r in range(len(d.tokens)):
        words = set(d.vocab.decode(d.tokens[r]).split())
        if o_bio <= r < o_bio + n_bio:
            seen_in_bios |= words & mon
        else:
            assert not words & mon, d.vocab.decode(d.tokens[r])
    assert seen_in_bios == mon  # their bios are trained


def test_no_training_restatement_touches_a_claim():
    cfg = tiny(conditions=tuple(CONDITIONS), ooc_frac=0.1)
    d = build(cfg)
    o, n = layout(cfg).of("helper")
    claim_rel = {e.name: e.claim[0] for e in d.world.claims}
    for r in range(len(d.tokens)):
        if o <= r < o + n:
            continue  # helper data (off by default) asks about claims by design
        for question, answer in items(d, r):
            for x, rel in claim_rel.items():
                if x in answer.split():
                    assert C.STATE[rel][0].split()[1] not in answer.split(), answer
                    assert relation(question) != rel


# ---- greedy decoding and the classifier on hand-made logits and rows

WORDS = ["<pad>", "<doc>", "Q", "A", "yes", "no", "unknown", ".", ",", "so", "kaka", "lives",
         "in", "rome", "oslo", "does", "not", "live", "it", "is", "known", "where", "but",
         "false", "the", "text", "says", "?"] + C.RECITE_WORDS.split()


def bigram_decoder(next_of: dict, vocab: Vocab):
    """A fake model whose next token depends on the current one only (`next_of`), as the
    (prefill, step) pair that `greedy` takes."""
    V = len(vocab)
    table = np.full((V, V), -5.0, np.float32)
    for a, b in next_of.items():
        table[vocab.ids[a], vocab.ids[b]] = 5.0
    table = jnp.asarray(table)
    return (lambda params, tok_BT: (table[tok_BT], ()),
            lambda params, tok_B, pos_B, cache: (table[tok_B], cache))


def test_greedy_decodes_forces_the_separator_and_reads_the_answer_slot():
    vocab = Vocab(set(WORDS))
    chain = {"A": "kaka", "kaka": "lives", "lives": "in", "in": "rome", "rome": ".",
             ".": "yes", "so": "no", "no": "."}
    dec = bigram_decoder(chain, vocab)
    ids = vocab.ids
    row = [ids[w] for w in "Q does kaka live in rome ? A".split()]
    tok = jnp.asarray([row + [0] * (24 - len(row)), [ids["Q"], ids["rome"]] + [0] * 22], jnp.int32)
    last = jnp.asarray([len(row) - 1, 1], jnp.int32)
    gen, ans, found = greedy(*dec, None, tok, last, 8, ids["."], ids["so"])
    # row 0: "kaka lives in rome ." then "so" forced (the model would say "yes"), then its answer
    assert vocab.decode(np.asarray(gen[0])) == "kaka lives in rome . so no ."
    assert bool(found[0]) and int(jnp.argmax(ans[0])) == ids["no"]
    # row 1 starts at "rome": "." then the forced "so" then the answer; a row that never reaches
    # the slot within the budget is not found
    assert vocab.decode(np.asarray(gen[1][:3])) == ". so no"
    gen2, _, found2 = greedy(*dec, None, tok, last, 4, ids["."], ids["so"])
    assert not bool(found2[0]) and bool(found2[1])


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_cached_decoding_equals_rerunning_the_whole_window(positions):
    """The key/value cache changes no logit: each decoded step matches a full forward pass."""
    import jax
    from toyneg.model import init_params, make_apply, make_decoder
    cfg = tiny(positions=positions, depth=2)
    V, W = 40, 24
    params = init_params(jax.random.PRNGKey(0), V, cfg)
    apply, (prefill, step) = make_apply(V, cfg), make_decoder(V, cfg)
    rng = np.random.default_rng(0)
    tok = jnp.asarray(rng.integers(1, V, (3, W)), jnp.int32)
    last = jnp.asarray([4, 9, 15], jnp.int32)
    logits, cache = prefill(params, tok)
    np.testing.assert_allclose(logits, apply(params, tok), atol=1e-5)
    rows = jnp.arange(3)
    cur, pos = tok, last
    for _ in range(5):
        nxt = jnp.argmax(apply(params, cur)[rows, pos], -1).astype(jnp.int32)
        pos = pos + 1
        cur = cur.at[rows, pos].set(nxt)
        got, cache = step(params, nxt, pos, cache)
        np.testing.assert_allclose(got, apply(params, cur)[rows, pos], atol=1e-4)


def test_restatement_classifier_on_hand_made_rows():
    vocab = Vocab(set(WORDS))
    D = 12
    pats = restatement_patterns(vocab, "city", "kaka", D)
    rows = ["kaka lives in rome . so yes .",          # says the claim
            "kaka does not live in rome . so no .",   # denies it
            "kaka lives in rome , but it is false . so no",  # the claim with a warning word
            "kaka lives in oslo . so no .",           # another value
            C.NOT_KNOWN["city"].format(x="kaka") + " . so no .",
            "kaka lives in . so no .",                # malformed: no value
            "the text says kaka lives in rome ."]     # malformed, and the reading-task form
    gen = np.array([[vocab.ids[w] for w in r.split()][:D] + [-1] * (D - len(r.split())) for r in rows])
    batch = {"pat_" + k: jnp.asarray(np.stack([v] * len(rows))) if np.ndim(v) else
             jnp.full((len(rows),), v, jnp.int32) for k, v in pats.items()}
    values = jnp.asarray([[vocab.ids["rome"], vocab.ids["oslo"]]] * len(rows))
    out = np.asarray(classify(jnp.asarray(gen), batch, jnp.full((len(rows),), vocab.ids["rome"]), values))
    expect = ["says_claim", "denies_claim", "says_warned", "says_other", "says_unknown",
              "malformed", "malformed"]
    assert out[:, :len(SAYS)].sum(1).tolist() == [1.0] * len(rows)  # exactly one class each
    assert [SAYS[i] for i in out[:, :len(SAYS)].argmax(1)] == expect
    assert out[:, -1].tolist() == [0, 0, 0, 0, 0, 0, 1]


def test_starts_with_reads_the_name_at_the_front_only():
    gen = jnp.asarray([[5, 6, 7, 8], [5, 9, 7, 8], [6, 5, 6, 8], [5, 6, -1, -1]])
    one, two = jnp.asarray([[5]] * 4), jnp.asarray([[5, 6]] * 4)
    assert np.asarray(starts_with(gen, one)).tolist() == [True, True, False, True]
    assert np.asarray(starts_with(gen, two)).tolist() == [True, False, False, True]


@pytest.mark.parametrize("name_tokens", [1, 2])
def test_named_monitor_prompts_end_with_the_name_and_classify_without_it(name_tokens):
    """The monitor's questions again with the entity's name written after "A": the same rows
    as the plain monitor prompts plus the name, and patterns that read a restatement decoded
    from after the name ("lives in rome . so yes")."""
    cfg = tiny(conditions=tuple(CONDITIONS), monitor_frac=0.25, name_tokens=name_tokens)
    d = build(cfg)
    P, V = d.probes, d.vocab
    m = len(P["mon_group"])
    rows = [(r, e) for e in d.world.monitored for r in RELATIONS]
    assert m == len(rows) == 12 and P["dec_mq"].shape[0] == 2 * m
    for i in range(2 * m):
        r, e = rows[i % m]
        plain = "mon_yes" if i < m else "mon_open"
        k = P[plain + "_last"][i % m]
        text = V.decode(P["dec_mq"][i][:P["dec_mq_last"][i] + 1])
        assert text == V.decode(P[plain][i % m][:k + 1]) + " " + e.name
        assert V.decode(P["mon_name"][i % m]) == e.name
    # a name-less restatement of the right fact is read as the bio's; one of another relation not
    r, e = rows[0]
    v = e.truth[r]
    said = [C.statement(r, "", v, 0).split() + [".", "so", "yes", "."],
            C.negation(r, "", v, 0).split() + [".", "so", "no", "."],
            C.statement(RELATIONS[(RELATIONS.index(r) + 1) % 3], "", v, 0).split() + ["."]]
    D = P["npat_aff"].shape[1]
    gen = jnp.asarray([[V.ids[w] for w in s][:D] + [-1] * (D - len(s)) for s in said])
    pats = {k[1:]: jnp.asarray(np.stack([a[0]] * 3)) for k, a in P.items() if k.startswith("npat_")}
    cands = jnp.asarray(np.stack([P["mon_cands"][0, :-1]] * 3))
    out = np.asarray(classify(gen, pats, jnp.full((3,), V.ids[v]), cands))
    assert [SAYS[i] for i in out[:, :len(SAYS)].argmax(1)] == ["says_claim", "denies_claim", "malformed"]


# ---- the direct format is toyneg 0.3.0

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "direct_0.3.0.json")


def _sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def test_direct_format_without_monitor_computes_what_0_3_0_computed():
    """tests/data/direct_0.3.0.json was written by toyneg 0.3.0 (commit 049cf1b) for a tiny run:
    its corpus arrays hash alike byte for byte, and its metrics agree to float precision (a
    20-step run: far below the ~100 steps after which two processors' trajectories part)."""
    g = json.load(open(GOLDEN))
    cfg = tiny(**{**g["config"], "answer_format": "direct", "monitor_frac": 0.0, "deny_stated": True,
                  "pack": False})
    d = build(cfg)
    got = {}
    for k, v in d.arrays().items():
        for k2, v2 in (v.items() if isinstance(v, dict) else [(None, v)]):
            got[k if k2 is None else f"{k}.{k2}"] = _sha(v2)
    assert {k: got[k] for k in g["array_sha256"]} == g["array_sha256"]
    (_, _, res, _), = run_group(Group("g", [cfg]), use_cache=False)
    assert res["steps"] == g["steps"]
    for cond, m in g["conditions"].items():
        for name, old in m.items():
            np.testing.assert_allclose(np.array(res["conditions"][cond][name], float),
                                       np.array(old, float), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{cond} {name}")


def test_named_values_counts_the_value_each_restatement_names_and_the_answer():
    from types import SimpleNamespace as NS

    from toyneg.speak import named_values
    ents = [NS(condition="corrected", claim=("city", "rome"), truth={"city": "oslo"}),
            NS(condition="corrected", claim=("city", "lima"), truth={"city": "kyiv"}),
            NS(condition="negated", claim=("city", "rome"), truth={"city": "oslo"}),
            NS(condition="corrected", claim=("job", "chef"), truth={"job": "medic"}),
            NS(condition="corrected", claim=("job", "judge"), truth={"job": "pilot"})]
    said = [("p", "the text says zo ka lives in oslo . so no"),   # the truth, as trained
            ("p", "the text says ri lives in lima . so yes"),     # the claimed value
            ("p", "the text says mo lives in rome . so yes"),     # another condition: not counted
            ("p", "the text says ta works as medic , not chef . so"),  # both, no answer read
            ("p", "the text says in paris . so no")]              # neither value
    got = named_values(NS(world=NS(claims=ents)), said, "corrected")
    assert got == {("truth", "no"): 1, ("claim", "yes"): 1, ("both", "?"): 1, ("none", "no"): 1}
