import warnings

import numpy as np
import pytest

from toyneg.stats import bootstrap_ci, compare_paired, permutation_p


def test_bootstrap_ci_covers_the_true_difference_on_synthetic_data():
    rng = np.random.default_rng(0)
    true, hits, trials = 0.3, 0, 200
    for t in range(trials):
        a = rng.normal(0.2, 0.1, 8)
        b = a + true + rng.normal(0, 0.1, 8)
        c = compare_paired(dict(enumerate(a)), dict(enumerate(b)))
        hits += c.ci_low <= true <= c.ci_high
        assert c.diff == pytest.approx((b - a).mean())
    assert 0.85 <= hits / trials <= 0.99  # a percentile bootstrap of n=8 is a little narrow


def test_permutation_p_is_roughly_uniform_under_the_null():
    rng = np.random.default_rng(1)
    ps = np.array([permutation_p(rng.normal(0, 1, 10)) for _ in range(400)])
    assert 0.03 <= (ps < 0.05).mean() <= 0.09
    assert 0.4 <= (ps < 0.5).mean() <= 0.6
    assert permutation_p(np.full(10, 1.0)) < 0.01  # a clear effect is detected


def test_effect_size_and_exact_small_sample_permutation():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.warns(UserWarning, match="only 5 matched"):
        c = compare_paired({i: 0.0 for i in range(5)}, {i: v for i, v in enumerate(d)})
    assert c.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert c.p_value == pytest.approx(2 / 32)  # exact: only all-plus or all-minus signs


def test_equal_differences_with_rounding_noise_have_no_effect_size():
    # placement_cpu printed d_z = -7e14: belief is a mean of three rates, and two seeds' equal
    # differences (1/9 each) came out 8e-17 apart
    a, b = {0: 0.7777777777777778, 1: 0.7777777777777778}, {0: 0.888888888888889, 1: 0.8888888888888888}
    assert np.std([b[s] - a[s] for s in a]) > 0  # the noise this test is about
    with pytest.warns(UserWarning):
        c = compare_paired(a, b)
    assert np.isnan(c.effect_size) and c.diff == pytest.approx(1 / 9)


def test_a_difference_that_rounds_to_zero_prints_without_a_minus_sign():
    from toyneg.stats import Comparison
    c = Comparison("a", "b", "m", 5, 0.7, 0.7, -8.9e-17, -8.9e-17, 0.14, 1.0, 0.0)
    assert "= +0.000 [95% CI +0.000, +0.140]" in str(c)


def test_too_few_seeds_warns():
    with pytest.warns(UserWarning, match="only 3 matched seed"):
        c = compare_paired({0: 0.1, 1: 0.2, 2: 0.3}, {0: 0.5, 1: 0.6, 2: 0.7})
    assert "add seeds" in c.warning and "WARNING" in str(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_paired({i: 0.1 * i for i in range(6)}, {i: 0.2 * i for i in range(6)})


def test_bootstrap_ci_handles_nan_and_single_values():
    m, lo, hi = bootstrap_ci([0.5, np.nan])
    assert m == 0.5 and np.isnan(lo) and np.isnan(hi)
    assert all(np.isnan(bootstrap_ci([])))


def test_pooled_belief_is_the_mean_of_four_question_types():
    """Hand-made stored runs: pooled = mean(open, yes, assoc_top1, robust); rel_positive divides."""
    from toyneg import tables
    from toyneg.probes import METRICS

    def cond(**v):
        return {m: [0.0, v.get(m, 0.5)] for m in METRICS}

    rows = [{"hash": f"h{s}", "status": "done", "config": {"seed": s}, "wall": 1.0,
             "result": {"steps": [0, 10], "conditions": {
                 "positive": cond(open=1.0, yes=1.0, assoc_top1=1.0, robust=0.0, p_yes=0.8),
                 "negated": cond(open=1.0, yes=0.0, assoc_top1=0.0, robust=0.0, p_yes=0.2)}}}
            for s in (0, 1)]
    by = tables.per_seed(rows, ["seed"])
    pos, neg = by[(("condition", "positive"),)], by[(("condition", "negated"),)]
    assert pos[0]["pooled"] == 0.75 and neg[1]["pooled"] == 0.25
    assert abs(neg[0]["rel_positive"] - 0.25) < 1e-9
    recs = tables.records(rows, ["seed"])
    assert {r["pooled"] for r in recs if r["step"] == 10} == {0.75, 0.25}


def test_cis_do_not_depend_on_the_order_runs_were_stored_in():
    """`--workers` stores runs in completion order; a bootstrap CI resamples by position, so the
    tables must see seeds in one order whatever the store's (this failed before `tables.done`:
    the same five runs gave baseline [0.04, 0.19] in one store and [0.06, 0.19] in another)."""
    from toyneg import tables
    from toyneg.probes import METRICS, MONITOR_METRICS

    rng = np.random.default_rng(0)

    def run(s):
        conds = {c: {m: [0.0, float(rng.random())] for m in METRICS} for c in ("positive", "local")}
        mon = {g: {**{m: [0.0, float(rng.random())] for m in MONITOR_METRICS}, "n_facts": 9}
               for g in ("stated", "denied")}
        return {"hash": f"h{s}", "status": "done", "config": {"seed": s}, "wall": 1.0,
                "result": {"steps": [0, 10], "conditions": conds, "monitor": mon}}

    rows = [run(s) for s in range(6)]
    shuffled = [rows[i] for i in (3, 0, 5, 1, 4, 2)]
    assert tables.summary(rows, ["seed"]) == tables.summary(shuffled, ["seed"])
    assert tables.monitor_summary(rows, ["seed"]) == tables.monitor_summary(shuffled, ["seed"])
    a, b = tables.curves(rows, ["seed"], "p_yes"), tables.curves(shuffled, ["seed"], "p_yes")
    assert all(np.array_equal(x, y, equal_nan=True) for k in a for x, y in zip(a[k], b[k]))
    # and the order matters to the bootstrap itself, so the test can fail
    x = [rows[i]["result"]["conditions"]["local"]["yes"][-1] for i in range(6)]
    assert bootstrap_ci(x)[1:] != bootstrap_ci([x[i] for i in (3, 0, 5, 1, 4, 2)])[1:]


def test_compare_selects_boolean_settings_as_written_in_toml_or_python():
    """`--compare local,claim_denied=false ...`: a boolean axis matches 'false' and 'False'."""
    import warnings
    from toyneg.report import compare_store

    def run(seed, flag, p):
        m = {k: [p] for k in ("p_yes", "yes", "open", "assoc_top1", "robust")}
        return {"status": "done", "config": {"seed": seed, "claim_denied": flag},
                "result": {"steps": [3000], "conditions": {"local": m}}}
    rows = [run(s, f, 0.5 + 0.1 * s - 0.2 * f) for s in range(3) for f in (False, True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for off, on in (("false", "true"), ("False", "True")):
            c = compare_store(rows, ["claim_denied"], f"local,claim_denied={off}",
                              f"local,claim_denied={on}", "pooled")
            assert c.n == 3 and abs(c.diff + 0.2) < 1e-9


def test_compare_selects_list_settings_with_their_commas():
    """`--compare 'negated,train_spans=["claim","answer"]' ...`: a list axis (cures_cpu's loss
    mask) is one selection, spelled as JSON with or without spaces; a wrong list matches none."""
    import warnings
    from toyneg.report import compare_store

    def run(seed, spans, p):
        m = {k: [p] for k in ("p_yes", "yes", "open", "assoc_top1", "robust")}
        return {"status": "done", "config": {"seed": seed, "train_spans": spans},
                "result": {"steps": [3000], "conditions": {"negated": m}}}
    full, masked = ["warning", "claim", "answer"], ["claim", "answer"]
    rows = [run(s, sp, 0.5 + 0.1 * s - 0.3 * (sp == masked)) for s in range(3) for sp in (full, masked)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = compare_store(rows, ["train_spans"], 'negated,train_spans=["warning","claim","answer"]',
                          'negated,train_spans=["claim", "answer"]', "pooled")
    assert c.n == 3 and abs(c.diff + 0.3) < 1e-9
    with pytest.raises(ValueError, match="matches no stored run"):
        compare_store(rows, ["train_spans"], 'negated,train_spans=["claim"]', "negated", "pooled")


def _sign_flip_by_hand(d):
    """Every one of the 2^n sign patterns, enumerated: P(|mean| >= |observed mean|)."""
    n = len(d)
    signs = 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
    return float(np.mean(np.abs((signs * d).mean(1)) >= abs(d.mean()) - 1e-12))


@pytest.mark.parametrize("n", [2, 3, 5, 8, 11])
def test_exact_permutation_p_equals_a_hand_enumeration_of_sign_flips(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        d = np.round(rng.normal(0.1, 0.2, n), 2)  # rounded: ties in |mean| occur and must count
        assert permutation_p(d) == pytest.approx(_sign_flip_by_hand(d), abs=1e-12)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    from scipy.stats import bootstrap
    rng = np.random.default_rng(3)
    for n in (3, 5, 10):
        x = rng.uniform(0, 1, n)
        m, lo, hi = bootstrap_ci(x, n_boot=20000)
        ref = bootstrap((x,), np.mean, method="percentile", n_resamples=20000,
                        random_state=np.random.default_rng(0)).confidence_interval
        assert m == pytest.approx(x.mean())
        spread = x.std() / np.sqrt(n)  # Monte Carlo error of both is a small share of this
        assert abs(lo - ref.low) < 0.05 * spread and abs(hi - ref.high) < 0.05 * spread


def test_hierarchical_ci_widens_as_the_claims_within_seeds_disagree():
    """Three seeds with the same means (0.45, 0.5, 0.55): claims that all agree give about the
    width of the seed-level bootstrap; claims split between 0 and 1 around the same means give
    the width their disagreement makes, and more seeds or claims narrow it."""
    from toyneg.stats import hierarchical_ci
    means = (0.45, 0.5, 0.55)
    agree = [np.full(6, m) for m in means]
    split = [np.array([1, 1, 1, 0, 0, 0], float) + (m - 0.5) for m in means]
    _, lo_a, hi_a = hierarchical_ci(agree)
    m_s, lo_s, hi_s = hierarchical_ci(split)
    _, lo_b, hi_b = bootstrap_ci(list(means))
    assert m_s == pytest.approx(0.5)
    assert hi_a - lo_a == pytest.approx(hi_b - lo_b, abs=0.02)
    assert hi_s - lo_s > 3 * (hi_a - lo_a)
    _, lo_m, hi_m = hierarchical_ci(split * 4)  # twelve seeds alike: narrower
    assert hi_m - lo_m < hi_s - lo_s
    assert hierarchical_ci([np.array([np.nan])])[0] != hierarchical_ci([np.array([np.nan])])[0]


def test_compare_says_when_too_few_seeds_make_p_below_0_05_unreachable():
    from toyneg.stats import min_p
    assert min_p(5) == pytest.approx(0.0625) and min_p(6) == pytest.approx(0.03125)
    with pytest.warns(UserWarning, match=r"2/2\^3 = 0.25, so p < 0.05 is unreachable"):
        c = compare_paired({0: 0.1, 1: 0.2, 2: 0.3}, {0: 0.5, 1: 0.6, 2: 0.9})
    assert c.p_value >= min_p(3) - 1e-12


def test_difference_ci_of_two_independent_worlds():
    from toyneg.stats import difference_ci
    a = [[0.2, 0.4, 0.3], [0.3, 0.5, 0.4], [0.1, 0.3, 0.2]]
    d, lo, hi = difference_ci(a, a)
    assert d == 0 and lo < 0 < hi  # the same runs, resampled independently: no difference
    b = [[x + 0.5 for x in g] for g in a]
    d, lo, hi = difference_ci(b, a)
    assert np.isclose(d, 0.5) and 0.2 < lo < 0.5 < hi < 0.8
    assert np.isnan(difference_ci([[1.0]], a)[1])  # one seed, one claim: nothing to resample
