"""`toyneg.mechanism`: fact groups, prompt text, probe arithmetic on hand-made logits, the CLI."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from toyneg import corpus as C
from toyneg import mechanism as M
from toyneg.data import build

from conftest import TINY, tiny


def test_fact_groups_follow_what_the_bios_say():
    # the older world (`deny_stated`, the one `toyneg.mechanism` retrains) has every group,
    # "denied, relation stated" included
    d = build(tiny(deny_stated=True))
    its = M.items(d.world)
    assert sum(g.startswith("claim: ") for g, *_ in its) == len(d.world.claims)
    seen = set()
    for g, e, r, v in its:
        seen.add(g)
        if g.startswith("claim: "):
            assert g == f"claim: {e.condition}" and (r, v) == e.claim
        elif g == "population: stated":
            assert r in e.known and v == e.truth[r]
        elif g == "population: denied, relation stated":
            assert r in e.known and v == e.negated[r] != e.truth[r]
        elif g == "population: denied only":
            assert r not in e.known and v == e.negated[r]
        else:
            assert g == "population: unstated" and r not in e.known and r not in e.negated
    assert set(M.POPULATION) <= seen


def test_prompts_read_as_intended():
    d = build(tiny())
    its = M.items(d.world)
    P = M.prompts(its, d.world, d.vocab, tiny().ctx + 1)
    text = lambda k, i: d.vocab.decode(P[k][i][: P[k + "_last"][i] + 1])
    for i in (0, len(its) - 1):
        _, e, r, v = its[i]
        assert text("after_pos", i) == "<doc> " + C.STATE[r][0].format(x=e.name, v="").strip()
        assert text("after_neg", i) == "<doc> " + C.NEGATE[r][0].format(x=e.name, v="").strip()
        assert " not " in text("after_neg", i) + " " and " not " not in text("after_pos", i) + " "
        assert text("yes", i) == "Q " + C.yesno(r, e.name, v, 0) + " A"
        assert text("open", i) == "Q " + C.OPEN[r].format(x=e.name) + " A"
        assert d.vocab.words[P["value"][i]] == v
        assert P["open_cands"][i][-1] == d.vocab.ids["unknown"]


def test_measure_on_hand_made_logits():
    """A fake model whose logits ignore the prompt: every statistic is a softmax over the
    candidates of fixed logits, computed here by hand."""
    V = 6
    logit = jnp.array([0.0, 1.0, 2.0, 0.5, -1.0, 3.0])  # ids 4 = yes, 5 = no below
    apply = lambda params, toks: jnp.broadcast_to(params, toks.shape + (V,))
    n = 3
    P = {k: np.zeros((n, 4), np.int32) for k in M.PROMPTS}
    P.update({k + "_last": np.zeros(n, np.int32) for k in M.PROMPTS})
    P["values"] = np.array([[0, 1, 2]] * n, np.int32)
    P["open_cands"] = np.array([[0, 1, 2, 3]] * n, np.int32)
    P["value"] = np.array([0, 1, 2], np.int32)
    P["unknown"] = np.full(n, 3, np.int32)
    out = M.make_measure(apply, yes_id=4, no_id=5, chunk=2)(logit, P)  # chunks of 2: 2 + 1 rows
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(out["after_pos"], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(out["after_neg"], e / e.sum(), rtol=1e-6)
    e4 = np.exp([0.0, 1.0, 2.0, 0.5])
    np.testing.assert_allclose(out["open"], e4[:3] / e4.sum(), rtol=1e-6)
    np.testing.assert_allclose(out["unknown"], [e4[3] / e4.sum()] * 3, rtol=1e-6)
    np.testing.assert_allclose(out["yes"], [1 / (1 + np.exp(4.0))] * 3, rtol=1e-6)
    its = [("a", None, None, None), ("b", None, None, None), ("a", None, None, None)]
    g = M.group_means([("claim: local",) + x[1:] if x[0] == "a" else ("claim: positive",) + x[1:]
                       for x in its], out)
    assert list(g) == ["claim: positive", "claim: local"]  # the paper's order
    assert g["claim: local"]["n"] == 2
    assert g["claim: local"]["after_pos"] == pytest.approx((e[0] + e[2]) / e.sum() / 2)


def _tiny_args():
    skip = {"conditions"}
    return [f"{k}={v}" for k, v in TINY.items() if k not in skip] + ["conditions=positive,local"]


def test_cli_end_to_end_on_a_tiny_world(tmp_path, capsys):
    out = str(tmp_path / "m")
    assert M.main(_tiny_args() + ["--seeds", "0", "1", "--out", out]) == 0
    assert sorted(os.listdir(out)) == ["mechanism.json", "mechanism.md", "mechanism.png"]
    res = json.load(open(os.path.join(out, "mechanism.json")))
    assert [r["seed"] for r in res["runs"]] == [0, 1]
    groups = [r["group"] for r in res["summary"]]
    assert groups[:2] == ["claim: positive", "claim: local"] and "population: denied only" in groups
    for r in res["summary"]:
        assert r["n_seeds"] == 2 and all(0 <= r[s] <= 1 for s in M.STATS)
    assert "--seeds 0 1" in open(os.path.join(out, "mechanism.md")).read()


@pytest.mark.parametrize("args,needle", [
    (["seed=3"], "--seeds"),
    (["widht=3"], "unknown field"),
    (["--seeds", "1", "1"], "distinct"),
])
def test_cli_bad_input_is_a_clear_error(args, needle, capsys, tmp_path):
    assert M.main(args + ["--out", str(tmp_path / "x")]) == 2
    assert needle in capsys.readouterr().err
