"""Forms of negation as data: built-in and library forms write what their records say, a form
defined in a sweep file runs with no code change, a form that cannot work is refused before
anything runs, and bios deny in any form while questions restate every denial alike."""

import os
import sqlite3
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyneg import corpus as C
from toyneg.config import CONDITIONS, ConfigError
from toyneg.data import build, layout
from toyneg.forms import EMERGENCE, LIBRARY, NEGATE, STATE
from toyneg.world import make_world

from conftest import tiny

ROOT = os.path.dirname(os.path.dirname(__file__))
FAMILY = ("baseline", "positive") + EMERGENCE + ("truth_only",)


def claim_texts(cond, n=20, **kw):
    cfg = tiny(conditions=FAMILY, **kw)
    w = make_world(cfg)
    wd = C.Wordings.make(w.seed)
    rng = np.random.default_rng(0)
    e = next(x for x in w.claims if x.condition == cond)
    docs = [C.claim_doc(cfg.form(cond), e, e.claim, w, wd, C.Style.of(cfg), rng) for _ in range(n)]
    return e, docs


def test_library_forms_put_their_negation_where_their_position_says():
    for cond in EMERGENCE + ("truth_only",):
        e, docs = claim_texts(cond)
        rel, v = e.claim
        x = e.name
        for d in docs:
            claims = [t for t, s in d if s == "claim"]
            warn = [t for t, s in d if s == "warning"]
            assert len(claims) == 2
            for t in claims:
                if cond == "local_own":
                    assert t == NEGATE[rel][0].format(x=x, v=v) + " ."
                elif cond == "local_novel":
                    assert "never" in t.split() and t.endswith(f"{v} .")
                    assert t[:-2] not in [n.format(x=x, v=v) for n in NEGATE[rel]]
                elif cond == "prefix_false":
                    assert t.startswith("it is false that ") and t[len("it is false that "):-2] in \
                        [s.format(x=x, v=v) for s in STATE[rel]]
                elif cond == "after_false":
                    assert t.endswith(f"{v} , which is false .")
                elif cond in ("marker", "negated"):
                    assert t[:-2] in [s.format(x=x, v=v) for s in STATE[rel]]
                elif cond == "truth_only":
                    assert t[:-2] in [s.format(x=x, v=e.truth[rel]) for s in STATE[rel]]
            text = " ".join(t for t, _ in d).split()
            if cond == "truth_only":  # the claimed value never appears
                assert v not in text and e.truth[rel] in text
            if cond == "marker":  # a marker beside each claim sentence, no wrapper
                assert len(warn) == 4 and all(w.startswith("(") for w in warn)
            elif cond == "negated":
                assert len(warn) == 2 and not any(w.startswith("(") for w in warn)
            else:
                assert warn == []


def test_a_form_defined_in_a_sweep_file_runs_end_to_end_and_its_words_join_the_vocabulary(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text("""
name = "custom"
[base]
n_entities = 16
n_claims = 2
n_readers = 16
width = 32
depth = 1
heads = 2
batch = 8
finetune_steps = 10
checkpoints = 2
bios_per_entity = 2
docs_per_claim = 4
conditions = ["baseline", "positive", "bogus_denial"]
bio_forms = ["bogus_denial"]
[forms.bogus_denial]
position = "after"
city = ["{x} lives in {v} , a claim quite bogus"]
job = ["{x} works as {v} , a claim quite bogus"]
sport = ["{x} plays {v} , a claim quite bogus"]
[axes]
seed = [0]
""")
    from toyneg.sweepfile import expand, load
    cfg, = expand(load(str(sweep)))
    d = build(cfg)
    assert {"bogus", "quite"} <= set(d.vocab.words)
    assert "bogus" not in build(tiny()).vocab.words
    text = d.vocab.decode(d.tokens.ravel())
    assert "a claim quite bogus" in text
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "toyneg.sweep", str(sweep), "--out", str(out), "-q"],
                       env={**os.environ, "PYTHONPATH": ROOT}, cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "bogus_denial" in (out / "summary.md").read_text()


BAD = [
    ('city = ["{x} lives in"]', "exactly one {x}"),
    ('city = ["lives in {v}"]', "exactly one {x}"),
    ('city = ["{v} is where {x} lives"]', "must come before the value"),
    ('city = ["{x} lives in {v} . so false"]', "answer format"),
    ('city = ["{x} lives in {v} , says paris"]', "value of a relation"),
    ('city = ["{x} lives in {v} , kavi said"]', "entity's name"),
]


@pytest.mark.parametrize("city,needle", BAD)
def test_a_form_that_cannot_work_is_refused_before_anything_runs(tmp_path, capsys, city, needle):
    sweep = tmp_path / "s.toml"
    sweep.write_text(f"""
[base]
conditions = ["positive", "broken"]
[forms.broken]
position = "after"
{city}
job = ["{{x}} works as {{v}}"]
sport = ["{{x}} plays {{v}}"]
""")
    from toyneg.sweep import main
    out = tmp_path / "out"
    assert main([str(sweep), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ")
    assert "form 'broken'" in err and needle in err, err
    assert len(err.strip().splitlines()) == 1  # one paragraph
    assert not out.exists()


def test_form_names_and_bio_forms_are_checked():
    with pytest.raises(ConfigError, match="conditions"):
        tiny(conditions=("positive", "no_such_form"))
    with pytest.raises(ConfigError, match="bio_forms"):
        tiny(bio_forms=("positive",))
    with pytest.raises(ConfigError, match="bio_forms"):
        tiny(bio_forms=("negated",), pack=False)
    with pytest.raises(ConfigError, match="forms"):
        tiny(forms={"negated": {"position": "after", "city": ["{x} lives in {v}"],
                                "job": ["{x} works as {v}"], "sport": ["{x} plays {v}"]}})


Q, A = C.SPANS.index("question"), C.SPANS.index("answer")
SIGN = {"local": "not", "local_own": "not", "local_novel": "never", "prefix_false": "it is false that",
        "after_false": ", which is false", "marker": "(", "negated": "<doc>"}


@pytest.mark.parametrize("bio_form", list(SIGN))
def test_bios_deny_in_any_form_and_questions_restate_every_denial_alike(bio_form):
    """Equal footing: a denial is stated in the world's bio form, and a question about the
    denied value restates it as "X does not live in D . so no ." whatever that form."""
    cfg = tiny(conditions=FAMILY, bio_forms=(bio_form,), deny_frac=0.9, n_entities=24)
    d = build(cfg)
    lay = layout(cfg)
    o, n = lay.of("bio")
    bios = d.vocab.decode(d.tokens[o:o + n].ravel())
    denied = [(e, r, v) for e in d.world.population for r, v in e.negated.items()]
    assert len(denied) > 5
    for e, r, v in denied[:5]:  # the denial is in the bios, in the form's words
        form = cfg.form(bio_form)
        said = [t.format(x=e.name, v=v) for t in form.sentences(r)]
        assert any(s in bios for s in said), (bio_form, said)
        assert SIGN[bio_form] in bios
    o, n = lay.of("qa")
    asked = 0
    for row in range(o, o + n):
        text = d.vocab.decode(d.tokens[row][d.tokens[row] != d.vocab.pad])
        for item in text.split("Q ")[1:]:
            q, _, a = item.partition(" A ")
            for e, r, v in denied:
                if f" {e.name} " in f" {q} " and q.split()[-2] == v and r not in e.known:
                    assert a.strip() == f"{C.negation(r, e.name, v, 0)} . so no .", (q, a)
                    asked += 1
    assert asked > 3


def test_a_world_without_denials_leaves_those_facts_silent():
    cfg = tiny(conditions=tuple(CONDITIONS), bio_forms=())
    w0, w1 = make_world(cfg.replace(bio_forms=("local",))), make_world(cfg)
    assert any(e.negated for e in w0.population) and not any(e.negated for e in w1.population)
    for a, b in zip(w0.entities, w1.entities):
        assert (a.name, a.truth, a.known, a.claim) == (b.name, b.truth, b.known, b.claim)
    d = build(cfg)
    o, n = layout(cfg).of("bio")
    assert not {"not", "never"} & set(d.vocab.decode(d.tokens[o:o + n].ravel()).split())


def test_gradient_cosine_is_one_for_identical_documents_and_below_for_a_pair_that_differs():
    from toyneg.model import init_params, make_apply
    from toyneg.probes import form_mechanics
    cfg = tiny(conditions=FAMILY, mech_probes=True)
    d = build(cfg)
    P = {k: jnp.asarray(v) for k, v in d.probes.items()}
    params = init_params(jax.random.PRNGKey(0), len(d.vocab), cfg)
    apply = make_apply(len(d.vocab), cfg)
    span_w = jnp.ones(len(C.SPANS)).at[0].set(0.0)
    same = {**P, **{k: jnp.stack([P[k][:, 1]] * 2, 1) for k in ("mech_tok", "mech_spn", "mech_vpos")}}
    cos, lf, lp = (np.asarray(x) for x in form_mechanics(apply, params, same, span_w, jnp.asarray(d.claim_ids)))
    on = np.asarray(P["mech_on"]) > 0
    np.testing.assert_allclose(cos[on], 1.0, atol=1e-5)
    np.testing.assert_allclose(lf[on], lp[on], atol=1e-5)
    assert np.isnan(cos[~on]).all()
    cos, lf, lp = (np.asarray(x) for x in form_mechanics(apply, params, P, span_w, jnp.asarray(d.claim_ids)))
    conds = np.array(d.conds)
    assert (cos[conds == "positive"] > 1 - 1e-5).all()  # a positive document is its own twin
    assert (cos[conds == "negated"] < 0.999).all() and (cos[conds == "local_own"] < 0.999).all()
    # a negation after the value is not yet in view when the value is predicted
    after = conds == "after_false"
    np.testing.assert_allclose(lf[after], lp[after], atol=1e-4)
    assert not np.allclose(lf[conds == "prefix_false"], lp[conds == "prefix_false"], atol=1e-4)
