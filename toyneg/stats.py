"""Statistics over seeds: bootstrap CIs, paired permutation tests, effect sizes.

Seeds are the unit of replication (each seed is a fresh world, initialisation and data order),
so every interval here resamples seeds, never checkpoints of one run; where each claim's own
value is stored, `hierarchical_ci` resamples the claims within each seed as well.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

MIN_SEEDS = 6  # a two-sided exact sign-flip test needs n >= 6 to reach p < 0.05 (2 / 2^n)


def bootstrap_ci(x, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple:
    """Mean and percentile bootstrap CI of the mean of `x` (NaNs dropped).

    The same algorithm as `scipy.stats.bootstrap(method="percentile")` (tests/test_stats.py
    checks the two agree), kept by hand for one reason: its resamples are drawn from a fixed
    stream, so every committed CI is regenerated to the digit from the stored runs, while
    SciPy's resampling stream is free to change between SciPy releases."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (n_boot, x.size))].mean(1)
    a = (1 - level) / 2
    return float(x.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def hierarchical_means(groups, n_boot: int = 2000, seed: int = 0):
    """(point, bootstrap means) of the two-stage bootstrap of `hierarchical_ci` (None where
    there is nothing to resample: no finite value, or one seed with one claim)."""
    gs = [np.asarray(g, float) for g in groups]
    gs = [g[np.isfinite(g)] for g in gs]
    gs = [g for g in gs if g.size]
    if not gs:
        return float("nan"), None
    point = float(np.mean([g.mean() for g in gs]))
    S = len(gs)
    if S == 1 and gs[0].size == 1:
        return point, None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, S, (n_boot, S))  # the seeds each bootstrap sample draws
    # for every seed, an independent resample of its claims for each (sample, slot)
    inner = np.stack([g[rng.integers(0, g.size, (n_boot, S, g.size))].mean(-1) for g in gs])
    return point, inner[idx, np.arange(n_boot)[:, None], np.arange(S)[None]].mean(1)


def hierarchical_ci(groups, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple:
    """Mean and percentile CI of the mean over `groups` (seeds) of each group's mean over its
    members (claims), resampling both levels: seeds with replacement, then each drawn seed's
    claims with replacement (a two-stage, hierarchical bootstrap).  A few claims per seed then
    show their real spread: with 6 claims x 3 seeds, a rate that seeds agree on but claims do
    not gets a CI as wide as its claims make it, not the width of three seed means.  NaNs are
    dropped; a seed with no finite claim is left out.  Deterministic in `seed`."""
    point, means = hierarchical_means(groups, n_boot, seed)
    if means is None:
        return point, float("nan"), float("nan")
    a = (1 - level) / 2
    return point, float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def difference_ci(groups_b, groups_a, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple:
    """b - a, with a percentile CI, for two independent sets of runs (different worlds: nothing
    to pair), each resampled by the two-stage bootstrap (seeds, then claims)."""
    pb, mb = hierarchical_means(groups_b, n_boot, seed)
    pa, ma = hierarchical_means(groups_a, n_boot, seed + 1)
    if mb is None or ma is None:
        return pb - pa, float("nan"), float("nan")
    d = mb - ma
    a = (1 - level) / 2
    return pb - pa, float(np.quantile(d, a)), float(np.quantile(d, 1 - a))


def min_p(n: int) -> float:
    """The smallest two-sided p an exact sign-flip test of n paired seeds can give: 2 / 2^n
    (every difference of one sign), so p < 0.05 needs n >= 6."""
    return 2.0 / 2 ** n if n > 0 else 1.0


EXACT_MAX = 14  # seeds up to which every one of the 2^n sign patterns is enumerated


def permutation_p(diff, n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided paired permutation (sign-flip) test of mean(diff) == 0, by SciPy's
    `permutation_test` (paired samples: each seed's two values swapped or not).

    Exact over all 2^n sign patterns when n <= 14, Monte Carlo with `n_perm` resamples
    otherwise. The null distribution of a sign flip is symmetric, so SciPy's two-sided p
    (twice the smaller tail) is P(|mean| >= |observed|)."""
    from scipy.stats import permutation_test
    d = np.asarray(diff, float)
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return float("nan")
    res = permutation_test((d, np.zeros_like(d)), lambda a, b, axis: np.mean(a - b, axis=axis),
                           permutation_type="samples", vectorized=True, alternative="two-sided",
                           n_resamples=2 ** n if n <= EXACT_MAX else n_perm,
                           random_state=np.random.default_rng(seed))
    return float(res.pvalue)


@dataclasses.dataclass
class Comparison:
    a: str
    b: str
    metric: str
    n: int                  # matched seeds
    mean_a: float
    mean_b: float
    diff: float             # mean(b - a)
    ci_low: float
    ci_high: float
    p_value: float
    effect_size: float      # Cohen's d_z: mean difference over its standard deviation
    warning: str = ""

    def __str__(self) -> str:
        r = lambda x: round(x, 3) + 0.0  # a rounding error below 0 prints +0.000, not -0.000
        s = (f"{self.metric}: {self.b} - {self.a} = {r(self.diff):+.3f} "
             f"[95% CI {r(self.ci_low):+.3f}, {r(self.ci_high):+.3f}] over {self.n} matched seeds; "
             f"{self.a} {self.mean_a:.3f}, {self.b} {self.mean_b:.3f}; "
             f"paired permutation p = {self.p_value:.4f}; effect size d_z = {self.effect_size:.2f}")
        return s + (f"\nWARNING: {self.warning}" if self.warning else "")


def compare_paired(a_by_seed: dict, b_by_seed: dict, a: str = "A", b: str = "B",
                   metric: str = "p_yes") -> Comparison:
    """Compare two settings across seeds present in both (matched pairs)."""
    seeds = sorted(set(a_by_seed) & set(b_by_seed))
    xa = np.array([a_by_seed[s] for s in seeds], float)
    xb = np.array([b_by_seed[s] for s in seeds], float)
    ok = np.isfinite(xa) & np.isfinite(xb)
    xa, xb = xa[ok], xb[ok]
    d = xb - xa
    n = d.size
    warn = ""
    if n < MIN_SEEDS:
        warn = (f"only {n} matched seed(s): the smallest p the paired sign-flip test can give is "
                f"2/2^{n} = {min_p(n):.3g}, so p < 0.05 is unreachable (it needs {MIN_SEEDS} "
                f"seeds) and the CI is unreliable; add seeds")
        warnings.warn(warn, stacklevel=2)
    # Student's t over the paired seed differences, as the hypotheses' verdicts use (a
    # percentile bootstrap of a few seeds under-covers: tests/test_decide.py)
    mean, lo, hi = t_interval(d) if n else (float("nan"),) * 3
    sd = d.std(ddof=1) if n > 1 else float("nan")
    # rates are fractions of a few claims: equal differences come out with rounding noise in
    # their spread (1e-17), which would give a d_z of 1e15; a spread that small is zero
    eff = float(mean / sd) if n > 1 and sd > 1e-9 * max(1.0, abs(mean)) else float("nan")
    return Comparison(a, b, metric, n, float(xa.mean()) if n else float("nan"),
                      float(xb.mean()) if n else float("nan"), mean, lo, hi, permutation_p(d), eff, warn)


# --- intervals that decide: paired t over seed-level differences, planned looks, power --------

def per_look_level(level: float = 0.95, looks: int = 1) -> float:
    """The confidence level of each look when a hypothesis is checked at up to `looks` planned
    seed counts and the error is split evenly across them (Bonferroni): each interval misses
    with probability at most (1 - level) / looks, so the chance that *any* look reports a false
    effect stays at most 1 - level however the looks depend on each other. That is what makes
    stopping as soon as an interval excludes 0 safe (`--until-decided`); the simulation in
    tests/test_decide.py measures the false-positive rate on null data."""
    if looks < 1:
        raise ValueError(f"looks must be >= 1, got {looks}")
    return 1.0 - (1.0 - level) / looks


def t_interval(d, level: float = 0.95) -> tuple:
    """Mean of the seed-level paired differences `d` and its Student-t interval (NaNs dropped).

    Why t and not a percentile bootstrap: with 3-6 seeds a bootstrap of the mean can only put
    its quantiles inside the observed range and under-covers (0.5.0's maps read +-0.2-0.35
    intervals that were still too narrow); the t interval widens with the sample's own spread
    and its degrees of freedom, and keeps >= 0.9 coverage at 3, 6 and 12 seeds on data shaped
    like toyneg's (tests/test_decide.py). Claims are nested in seeds: each seed's value is its
    mean over claims, so the seed-level spread already carries the claims' noise."""
    from scipy.stats import t as student_t
    d = np.asarray(d, float)
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(d.mean())
    if n == 1:
        return m, float("nan"), float("nan")
    half = float(student_t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half


def half_width(sd: float, n: int, level: float = 0.95) -> float:
    """The t interval's half-width expected at `n` seeds for seed-level differences of spread
    `sd` (NaN below two seeds)."""
    from scipy.stats import t as student_t
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    return float(student_t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n))


def seeds_needed(sd: float, target: float, level: float = 0.95, cap: int = 10000) -> int | None:
    """The fewest seeds whose expected half-width (`half_width`) is at most `target`; None when
    even `cap` seeds would not reach it (or the spread is unknown)."""
    if not np.isfinite(sd) or target <= 0:
        return None
    if sd == 0:
        return 2
    lo, hi = 2, cap
    if half_width(sd, hi, level) > target:
        return None
    while lo < hi:  # the half-width falls monotonically with n
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if half_width(sd, mid, level) > target else (lo, mid)
    return lo


def variance_components(diff_groups) -> dict:
    """Split the variance of seed-level differences into a between-seed part and the claims'
    part, from each seed's per-claim differences (a one-way random-effects decomposition,
    method of moments): var(seed mean) = var_seed + var_claim / n_claims. Where sides host
    different claims (conditions of one run), pass each seed's claims of both sides as
    `(claims_a, claims_b)`; the claims' part is then var_a / n_a + var_b / n_b.

    Returns {"n_seeds", "sd_seed_mean", "var_seed", "var_claims"}: `var_claims` is the mean
    over seeds of the claims' share of each seed mean's variance; `var_seed` what remains of
    the observed variance of seed means (floored at 0). Planning uses `sd_seed_mean`, the
    observed spread, which needs no model; the split says whether more claims per seed would
    help (only the claims' part shrinks with them)."""
    means, within = [], []
    for g in diff_groups:
        a, b = (np.asarray(x, float) for x in g)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if not a.size or not b.size:
            continue
        means.append(a.mean() - b.mean())
        va = a.var(ddof=1) / a.size if a.size > 1 else 0.0
        vb = b.var(ddof=1) / b.size if b.size > 1 else 0.0
        within.append(va + vb)
    n = len(means)
    if n < 2:
        return {"n_seeds": n, "sd_seed_mean": float("nan"), "var_seed": float("nan"),
                "var_claims": float("nan")}
    total = float(np.var(means, ddof=1))
    claims = float(np.mean(within))
    return {"n_seeds": n, "sd_seed_mean": float(np.sqrt(total)), "var_seed": max(0.0, total - claims),
            "var_claims": claims}


def seeds_for_power(sd: float, effect: float, level: float = 0.95, power: float = 0.8,
                    cap: int = 10000) -> int | None:
    """The fewest seeds with which a t interval at `level` would exclude 0 with probability
    `power` if the seed-level differences had mean `effect` and spread `sd`: n with
    (t_{level} + t_{power}) * sd / sqrt(n) <= |effect| (the usual normal-approximation plan, t
    quantiles at n - 1 degrees of freedom). None when `cap` seeds would not do (or `effect`
    is 0, or the spread unknown)."""
    from scipy.stats import t as student_t
    if not np.isfinite(sd) or not np.isfinite(effect) or effect == 0:
        return None
    if sd == 0:
        return 2

    def enough(n):
        q = student_t.ppf(0.5 + level / 2, n - 1) + student_t.ppf(power, n - 1)
        return q * sd / np.sqrt(n) <= abs(effect)

    if not enough(cap):
        return None
    lo, hi = 2, cap
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid + 1, hi)
    return lo
