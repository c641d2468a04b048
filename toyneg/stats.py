"""Statistics over seeds: bootstrap CIs, paired permutation tests, effect sizes.

Seeds are the unit of replication (each seed is a fresh world, initialisation and data order),
so every interval here resamples seeds, never checkpoints of one run.
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
        warn = (f"only {n} matched seed(s): with fewer than {MIN_SEEDS} the permutation test "
                f"cannot reach p < 0.05 and the CI is unreliable; add seeds")
        warnings.warn(warn, stacklevel=2)
    mean, lo, hi = bootstrap_ci(d) if n else (float("nan"),) * 3
    sd = d.std(ddof=1) if n > 1 else float("nan")
    # rates are fractions of a few claims: equal differences come out with rounding noise in
    # their spread (1e-17), which would give a d_z of 1e15; a spread that small is zero
    eff = float(mean / sd) if n > 1 and sd > 1e-9 * max(1.0, abs(mean)) else float("nan")
    return Comparison(a, b, metric, n, float(xa.mean()) if n else float("nan"),
                      float(xb.mean()) if n else float("nan"), mean, lo, hi, permutation_p(d), eff, warn)
