"""Hypotheses that decide themselves: paired intervals, verdicts, and the plan for power.

A sweep file states its questions (`[hypotheses.NAME]`, parsed by `sweepfile.parse_hypothesis`):
two sides in `--compare`'s syntax, a metric, and what would count (a direction, or equivalence
within a margin). This module turns stored runs into an answer for each:

- the estimate is the mean over seeds of (a - b), each seed's side the mean of the metric over
  the cells it selects; seeds are paired (both sides come from the same seed's world, and from
  the same run where both are conditions of one run), so a world's luck cancels;
- the interval is Student's t over those seed-level differences (`stats.t_interval`), at the
  per-look level of the sweep's seed plan (`sweepfile.Decide`, `stats.per_look_level`): with
  K planned looks each interval is at 1 - 0.05 / K, so stopping at the first decided look keeps
  the false-positive rate at most 0.05 (tests/test_decide.py simulates it);
- a verdict: `decided for` (the interval excludes 0 on the stated side), `decided against`
  (it excludes 0 on the other), `equivalent` (it lies inside the margin), or `undecided`, with
  the seeds that the observed spread says the target half-width needs. Nothing is decided on
  fewer than `stats.MIN_SEEDS` seeds, nor on a setting that failed the validity gate.

`plan` reads a pilot's stored runs and predicts the half-width at the planned seeds and the
seeds (and minutes) the target needs; `--dry-run` prints it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import tables
from .stats import (MIN_SEEDS, half_width, per_look_level, seeds_for_power, seeds_needed,
                    t_interval, variance_components)
from .sweepfile import Hypothesis, _selection, matches

DECIDED = ("decided for", "decided against", "equivalent")


@dataclasses.dataclass
class Result:
    hypothesis: Hypothesis
    estimate: float = float("nan")     # mean over seeds of a - b
    lo: float = float("nan")
    hi: float = float("nan")
    level: float = 0.95                # this look's confidence level
    n_seeds: int = 0
    n_claims: int = 0                  # claims behind both sides, summed over seeds
    mean_a: float = float("nan")
    mean_b: float = float("nan")
    sd: float = float("nan")           # spread of the seed-level differences
    verdict: str = "undecided"
    needed: int | None = None          # seeds `needed_hw` needs at the spread seen
    needed_hw: float = float("nan")    # the half-width that would decide it (at most the target)
    gate_failed: bool = False          # a side's setting failed the validity gate: never decided
    note: str = ""

    @property
    def half(self) -> float:
        return (self.hi - self.lo) / 2

    @property
    def decided(self) -> bool:
        return self.verdict in DECIDED


def side_by_seed(cells: dict, claims: dict, spec: str, metric: str) -> tuple:
    """({seed: value}, {seed: per-claim values}, matched settings) of one side: the mean of
    `metric` over the (setting, condition) cells that `spec` selects, per seed. A seed counts
    only where every matched cell holds a finite value, so a side means the same cells in
    every seed (a seed the gate dropped from one of them, or a diverged run, leaves the side)."""
    sel = _selection(spec)
    vals: dict = {}
    per_claim: dict = {}
    settings = []
    for key, seeds in cells.items():
        d = dict(key)
        if not all(k in d and matches(d[k], v) for k, v in sel.items()):
            continue
        settings.append(key[:-1])
        for s, m in seeds.items():
            vals.setdefault(s, []).append(m.get(metric, float("nan")))
            c = claims.get(key, {}).get(s, {}).get(metric)
            if c is not None:
                per_claim.setdefault(s, []).append(np.asarray(c, float))
    n_cells = len(settings)
    by_seed = {s: float(np.mean(v)) for s, v in vals.items()
               if len(v) == n_cells and np.isfinite(v).all()}
    return by_seed, {s: np.concatenate(v) for s, v in per_claim.items()}, settings


def cells(rows: list, axes: list) -> tuple:
    """(per-seed values, per-claim values) of every (setting, condition): what `differences`
    reads, computed once for all of a sweep's hypotheses."""
    return tables.per_seed(rows, axes), tables.per_claim(rows, axes)


def differences(rows: list, axes: list, h: Hypothesis, tab: tuple | None = None) -> tuple:
    """Paired seed-level differences a - b (sorted by seed), each side's per-seed values and
    claims, and the settings each side touched (`tab`: `cells(rows, axes)`, where already
    computed)."""
    per_seed, claims = tab or cells(rows, axes)
    a, ca, sa = side_by_seed(per_seed, claims, h.a, h.metric)
    b, cb, sb = side_by_seed(per_seed, claims, h.b, h.metric)
    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds])
    return seeds, d, (a, b), (ca, cb), sa + sb


def _project(keys, gate_verdicts: dict) -> list:
    """The gate's settings behind `keys`: a hypothesis's cells may carry axes the gate does not
    vary (a constant axis), so each key is cut to the gate's axes before it is looked up."""
    names = {a for k in gate_verdicts for a, _ in k}
    return list(dict.fromkeys(tuple((a, v) for a, v in k if a in names) for k in keys))


def evaluate(rows: list, axes: list, hyps: list, looks: int = 1, gate_verdicts: dict | None = None,
             level: float = 0.95, all_rows: list | None = None) -> list:
    """A `Result` per hypothesis from the kept runs (`gate.keep_passing`), at the per-look level
    of a plan with `looks` looks (`plan_looks`). With `all_rows` (the runs before the gate
    dropped any seed), a hypothesis that lost seeds to the gate also reports its estimate with
    them, since dropping seeds on a gated metric selects on the outcome."""
    lvl = per_look_level(level, looks)
    tab = cells(rows, axes)
    tab_all = cells(all_rows, axes) if all_rows is not None else None
    out = []
    for h in hyps:
        seeds, d, (a, b), (ca, cb), touched = differences(rows, axes, h, tab)
        r = Result(h, level=lvl, n_seeds=len(seeds))
        r.n_claims = int(sum(len(ca.get(s, ())) + len(cb.get(s, ())) for s in seeds))
        if seeds:
            r.mean_a = float(np.mean([a[s] for s in seeds]))
            r.mean_b = float(np.mean([b[s] for s in seeds]))
        r.estimate, r.lo, r.hi = t_interval(d, lvl)
        r.sd = float(d.std(ddof=1)) if d.size > 1 else float("nan")
        r.verdict = _verdict(h, r)
        if not r.decided:
            r.needed_hw, r.needed = _needed(h, r, lvl)
        notes = []
        if not seeds:
            notes.append("no seed holds both sides finite (a side's metric this sweep does not "
                         "measure, or every seed dropped)")
        if gate_verdicts:
            gated = _project(touched, gate_verdicts)
            failed = [gate_verdicts[k] for k in gated if k in gate_verdicts
                      and gate_verdicts[k].status == "FAIL"]
            if failed:
                r.verdict, r.needed, r.gate_failed = "undecided", None, True
                notes.append("a side's setting failed the validity gate ("
                             + "; ".join(f"{v.label()}: {v.reason()}" for v in failed) + ")")
            from .gate import weak_note
            w = weak_note(gate_verdicts, gated)
            if w:
                notes.append(w)
        if all_rows is not None and seeds:
            s_all, d_all, *_ = differences(all_rows, axes, h, tab_all)
            if len(s_all) > len(seeds):
                m, lo, hi = t_interval(d_all, lvl)
                notes.append(f"with the {len(s_all) - len(seeds)} seed(s) the gate dropped: "
                             f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        if 0 < r.n_seeds < MIN_SEEDS and r.verdict == "undecided":
            notes.append(f"fewer than {MIN_SEEDS} seeds: nothing is decided on {r.n_seeds}")
        r.note = "; ".join(notes)
        out.append(r)
    return out


def plan_looks(decide, n_hypotheses: int = 1) -> int:
    """How many ways the 5% error is split: the plan's looks that can decide (those at
    `MIN_SEEDS` seeds or more; at least one), times the number of hypotheses where the plan
    asks for a family-wise rate (`[decide] familywise = true`)."""
    if decide is None:
        return 1
    k = max(1, sum(n >= MIN_SEEDS for n in decide.schedule()))
    return k * (n_hypotheses if decide.familywise else 1)


def _needed(h: Hypothesis, r: Result, lvl: float) -> tuple:
    """(half-width, seeds) an undecided hypothesis needs at the spread seen: the target
    half-width, and where the estimate seen would still not be decided at it, the seeds with
    80% power to decide it were the estimate the truth (`stats.seeds_for_power`): an interval
    that clears 0 for a direction; for an equivalence, one inside the margin when the estimate
    is inside it, or wholly outside it when it is not. None where no number of seeds would (an
    estimate exactly on 0, or on the margin)."""
    if not np.isfinite(r.sd):
        return h.target, None
    gap = abs(h.margin - abs(r.estimate)) if h.kind == "equiv" else abs(r.estimate)
    floor = max(MIN_SEEDS, r.n_seeds + 1)
    if not np.isfinite(gap) or gap >= h.target:  # the target's precision decides it
        n = seeds_needed(r.sd, h.target, lvl)
        return h.target, None if n is None else max(n, floor)
    n = seeds_for_power(r.sd, gap, lvl)
    return gap, None if n is None else max(n, floor)


def _verdict(h: Hypothesis, r: Result) -> str:
    if r.n_seeds < MIN_SEEDS or not np.isfinite(r.lo):
        return "undecided"
    if h.kind == "equiv":
        if -h.margin < r.lo and r.hi < h.margin:
            return "equivalent"
        if r.lo >= h.margin or r.hi <= -h.margin:
            return "decided against"
        return "undecided"
    above, below = r.lo > 0, r.hi < 0
    if not (above or below):
        return "undecided"
    return "decided for" if above == (h.kind == ">") else "decided against"


def all_decided(results: list) -> bool:
    return bool(results) and all(r.decided for r in results)


def _pct(level: float) -> str:
    return f"{100 * level:.3g}%"


def markdown(results: list, looks: int = 1) -> str:
    """The verdict table (verdicts.md's body)."""
    if not results:
        return "(this sweep states no hypotheses)\n"
    lvl = results[0].level
    head = ("| hypothesis | expect | metric | a | b | a - b | CI | half-width (target) | seeds "
            "| claims | verdict |")
    lines = [head, "|" + "---|" * 11]
    f = lambda x: "n/a" if not np.isfinite(x) else f"{x + 0.0:+.3f}"  # noqa: E731
    for r in results:
        h = r.hypothesis
        ci = f"[{f(r.lo)}, {f(r.hi)}]" if np.isfinite(r.lo) else "n/a"
        hw = (f"{r.half:.3f}" if np.isfinite(r.lo) else "n/a") + f" ({h.target:g})"
        verdict = f"**{r.verdict}**" if r.decided else r.verdict
        if not r.decided and r.needed:
            verdict += f" (about {r.needed} seeds for half-width {r.needed_hw:.2g})"
        elif not r.decided and np.isfinite(r.sd) and r.needed is None and not r.gate_failed:
            verdict += (" (no number of seeds decides an estimate this close to "
                        + ("0; state a margin to test equivalence)" if h.kind != "equiv" else "the margin)"))
        if not r.decided and r.needed and r.needed_hw < h.target:
            verdict = verdict.replace(f"for half-width {r.needed_hw:.2g})",
                                      f"to decide it with 80% power, were {r.estimate:+.2f} the truth)")
        if r.note:
            verdict += f"; {r.note}"
        ma = "n/a" if not np.isfinite(r.mean_a) else f"{r.mean_a:.3f}"
        mb = "n/a" if not np.isfinite(r.mean_b) else f"{r.mean_b:.3f}"
        lines.append(f"| {h.name} | {h.statement()} | {h.metric} | {ma} | {mb} | {f(r.estimate)} "
                     f"| {ci} | {hw} | {r.n_seeds} | {r.n_claims} | {verdict} |")
    lines += ["", f"Intervals: Student's t over the seeds' paired differences (each seed's side "
                  f"a mean over its claims), at {_pct(lvl)}: the 5% error is split {looks} way(s), "
                  f"over the seed plan's looks (and its hypotheses, where it asks for a "
                  f"family-wise rate), so stopping at a decided look keeps each hypothesis's "
                  f"false-positive rate at most 5% for a plan fixed before the first look; with "
                  f"H hypotheses and no family-wise split, up to H x 5% for the family "
                  f"(docs/sweeps.md, 'Hypotheses'). An equivalence is decided when the interval "
                  f"lies inside the margin (stricter than TOST). Seeds that failed the gate are "
                  f"left out (the estimate is among seeds that pass). Nothing is decided on "
                  f"fewer than {MIN_SEEDS} seeds."]
    return "\n".join(lines) + "\n"


def page(name: str, results: list, looks: int, command: str = "") -> str:
    cmd = f"Regenerated by `{command}`.\n\n" if command else ""
    return f"# Verdicts: `{name}`\n\n{cmd}" + markdown(results, looks)


def plan(pilot_rows: list, pilot_axes: list, hyps: list, decide, n_planned: int,
         sec_per_seed: float | None) -> list:
    """Lines of the power plan: per hypothesis, the pilot's spread of seed-level differences
    (and its split into seeds and claims), the half-width expected at the planned seeds and at
    the cap, and the seeds (and minutes here) the target half-width needs."""
    looks = plan_looks(decide, len(hyps))
    lvl = per_look_level(0.95, looks)
    out = [f"hypotheses: {len(hyps)}; seed plan: {n_planned} seed(s) first, then +{decide.step} "
           f"per round up to {decide.seeds_max} (the 5% split {looks} way(s): each interval at "
           f"{_pct(lvl)})"]
    tab = cells(pilot_rows, pilot_axes)
    for h in hyps:
        seeds, d, _, (ca, cb), _ = differences(pilot_rows, pilot_axes, h, tab)
        if d.size < 2:
            out.append(f"  {h.name} ({h.statement()}, {h.metric}): the pilot holds {d.size} paired "
                       f"seed(s) of these sides: no spread to plan from")
            continue
        sd = float(d.std(ddof=1))
        # a few seeds estimate a spread loosely: its one-sided 80% upper bound (chi-square)
        from scipy.stats import chi2
        sd_hi = sd * float(np.sqrt((d.size - 1) / chi2.ppf(0.2, d.size - 1)))
        comp = variance_components([(ca.get(s, np.array([])), cb.get(s, np.array([]))) for s in seeds])
        target = h.target
        if h.kind == "equiv" and abs(d.mean()) < h.margin:  # fit inside the margin around it
            target = min(target, h.margin - abs(d.mean()))
        need = seeds_needed(sd, target, lvl)
        mins = (f", about {need * sec_per_seed / 60:.0f} min here" if need and sec_per_seed else "")
        if need and need > decide.seeds_max:
            mins += f" (beyond the cap of {decide.seeds_max}: raise [decide] seeds_max)"
        split = (f" (seeds {np.sqrt(comp['var_seed']):.3f}, claims {np.sqrt(comp['var_claims']):.3f})"
                 if np.isfinite(comp["var_claims"]) else "")
        out.append(f"  {h.name} ({h.statement()}, {h.metric}): pilot {len(seeds)} seeds, a - b "
                   f"{d.mean():+.3f}, sd over seeds {sd:.3f}{split}; expected half-width "
                   f"{half_width(sd, n_planned, lvl):.3f} at {n_planned} seeds, "
                   f"{half_width(sd, decide.seeds_max, lvl):.3f} at {decide.seeds_max} (up to "
                   f"{half_width(sd_hi, n_planned, lvl):.3f} and {half_width(sd_hi, decide.seeds_max, lvl):.3f} "
                   f"at the spread's 80% upper bound {sd_hi:.3f}); half-width {target:.3g} needs "
                   + (f"{need} seeds{mins}" if need else "more seeds than any plan"))
    return out
