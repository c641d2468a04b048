"""The validity gate: did the instrument work in this setting?

A belief rate means something only where the model learned its world and reads a document in
view. A setting that breaks the instrument (two-token names in 0.4.0's recipe: monitor 0.42,
positive claims 0.46) would otherwise be tabulated, drawn and compared like a finding, and a
reader would take "repeated warnings are believed 0.19" for a cure. Every sweep output applies
these four checks to every setting (seed means at the final checkpoint), reading stored metrics
only, so `python -m toyneg.report` applies them to committed folders as well:

| check | what it asks | passes when |
|---|---|---|
| `monitor` | the held-out monitor's stated facts are answered (mean of its yes/no and open answers) | >= 0.65 |
| `positive` | positive claims are believed (`belief`) | >= 0.70 |
| `in_context_positive` | with a positive document in the prompt, its claim is accepted (`icl`) | >= 0.70 |
| `in_context_negated` | with a document of any other hosted form in the prompt, its claim is accepted (mean `icl` over those forms) | <= 0.15 |

The thresholds come from the fifteen reference worlds, the runs of 0.4.0's committed default,
replicate and replicate2 sweeps (one run per world): each is three standard deviations of a
single run from the reference mean, rounded outward to 0.05. Positive belief: mean 0.94, sd
0.074 (lowest run 0.72) -> 0.70; in context positive: 0.96, sd 0.076 (lowest 0.83) -> 0.70;
other forms in context: 0.04, sd 0.032 (highest 0.08) -> 0.15; the monitor's stated facts:
0.79-0.81 per sweep, a run-level sd of about 0.04 from their CIs -> 0.65. 0.4.0's failed
two-token world (monitor 0.42, positive 0.46) fails two checks by a wide margin.
docs/validity.md lists the settings measured against them.

A check whose inputs a setting lacks (no `positive` condition hosted, no monitor) is `n/a`; a
setting fails when any check it has fails, and counts as `unchecked` when it has neither the
monitor nor positive claims to show that the model learned its world.

**Every seed is judged on its own** (0.6.0), against `SEED_THRESHOLDS`: the same floors for the
monitor and positive belief, and for the in-context checks a share of claims: at least half of
the positive claims accepted, at most a third of any negating form's (with six claims a form,
one claim moves a rate by 0.17; the reference worlds reach 0.67 and 0.17 in single seeds).
The in-context check judges **each hosted form**, not their average: a form that is read as true
in context fails it even where the others are rejected. A form whose documents assert the claim
(`asserts = "claim"`, such as a double negation defined in a sweep file) is not a negating form
and is left out of it (`asserting`). A failing seed is named in `gate.md`, left out of every
table, figure and verdict (so an estimate is among the seeds that pass), and counted; a
setting FAILs when it has too many failing seeds (`too_many`: a count that a working setting,
whose seeds fail at `SEED_FAIL_RATE`, would reach less than 5% of the time, or every seed; it
then keeps every seed in its marked tables, so a broken instrument still shows what it
measured), or when the means of the seeds it keeps fail a floor. `--until-decided` treats a
seed that fails mid-run the same way.

**Weak** (between pass and FAIL): a setting whose kept seeds' mean lies below the reference
seeds' mean minus two seed standard deviations (`WEAK`): positive belief 0.95 - 2 x 0.074 ->
0.80 and in context positive 0.98 - 2 x 0.086 -> 0.81 (the fifteen reference worlds of
`results/worlds15`, per seed), the monitor's stated facts 0.89 - 2 x 0.077 -> 0.73 (the six
seeds of `results/default`, the only reference folder that stores each run's monitor). The
in-context negated band is empty (0.06 + 2 x 0.081 lies above the floor). It is a band for a
seed applied to a setting's mean, so it is lenient for settings of many seeds, and it was
chosen knowing the example it had to catch. A weak setting learned its world less well than
the reference: its rates are shown, and every contrast against it carries the note, since a
lower warned belief there may be a world half learned rather than a weaker neglect. Two-token
names on the default recipe (monitor 0.74, positive 0.78) land there on positive belief.
"""

from __future__ import annotations

import dataclasses

import numpy as np

THRESHOLDS = {"monitor": (">=", 0.65), "positive": (">=", 0.70),
              "in_context_positive": (">=", 0.70), "in_context_negated": ("<=", 0.15)}
SEED_THRESHOLDS = {"monitor": (">=", 0.65), "positive": (">=", 0.70),
                   "in_context_positive": (">=", 0.50), "in_context_negated": ("<=", 0.34)}
WEAK = {"monitor": 0.73, "positive": 0.80, "in_context_positive": 0.81}  # below: weak
SEED_FAIL_RATE = 0.05  # the failure rate a working setting's seeds are allowed (reference: 0 of 15)


def too_many(n_failed: int, n: int) -> bool:
    """Whether `n_failed` failing seeds of `n` are too many for a working setting: every seed
    failed, or so many would happen less than 5% of the time if each seed failed on its own
    with probability `SEED_FAIL_RATE` (binomial; 2 of 2-8 seeds, 3 of 9-16)."""
    if n == 0 or n_failed == 0:
        return False
    if n_failed == n:
        return True
    from scipy.stats import binom
    return bool(binom.sf(n_failed - 1, n, SEED_FAIL_RATE) < 0.05)
NOT_NEGATING = ("baseline", "positive")  # conditions whose in-context documents are not rejected


def _passes(v: float, rule: tuple):
    if not np.isfinite(v):
        return None
    op, t = rule
    return bool(v >= t) if op == ">=" else bool(v <= t)


def _fmt_fail(c: str, v: float, rule: tuple, worst: str = "") -> str:
    form = f" ({worst})" if c == "in_context_negated" and worst else ""
    return f"{c}{form} {v:.2f} {'<' if rule[0] == '>=' else '>'} {rule[1]:.2f}"


def asserting(rows: list) -> set:
    """Conditions whose documents assert the claim (`forms.Form.asserts == "claim"`: positive,
    and a sweep file's forms such as a double negation): read as true in context, so the
    in-context check does not count them as negating forms."""
    from .forms import KNOWN
    out = {c for c, f in KNOWN.items() if f.asserts == "claim"}
    for r in rows:  # a sweep file's forms travel in each run's config as their tables
        out |= {name for name, table in (r["config"].get("forms") or {}).items()
                if table.get("asserts") == "claim"}
    return out


def check_values(by_cond: dict, monitor: float = float("nan"), asserts: set = frozenset()) -> tuple:
    """The four checks' values from one setting's {condition: {metric: value}} (a seed's own, or
    seed means), and the worst negating form's name: in context, every form other than
    `NOT_NEGATING` and those in `asserts` (`asserting`) is judged on its own and the check reads
    the highest."""
    vals = {c: float("nan") for c in THRESHOLDS}
    vals["monitor"] = monitor
    if "positive" in by_cond:
        vals["positive"] = float(by_cond["positive"]["belief"])
        vals["in_context_positive"] = float(by_cond["positive"]["icl"])
    neg = {c: float(m["icl"]) for c, m in by_cond.items()
           if c not in NOT_NEGATING and c not in asserts and np.isfinite(m.get("icl", np.nan))}
    worst = max(neg, key=neg.get) if neg else ""
    if neg:
        vals["in_context_negated"] = neg[worst]
    return vals, worst


@dataclasses.dataclass
class Verdict:
    setting: tuple                 # ((axis, value), ...) without the condition
    values: dict                   # check -> measured value (NaN where the setting lacks it)
    n_seeds: int = 0
    worst: str = ""                # the negating form read most often as true in context
    failed_seeds: dict = dataclasses.field(default_factory=dict)  # seed -> why it failed
    total_seeds: int = 0           # seeds judged (kept + failed)

    def passed(self, check: str):
        """True / False, or None where the setting lacks what the check reads."""
        return _passes(self.values.get(check, float("nan")), THRESHOLDS[check])

    @property
    def failed(self) -> list:
        return [c for c in THRESHOLDS if self.passed(c) is False]

    @property
    def too_many_failed(self) -> bool:
        return too_many(len(self.failed_seeds), self.total_seeds)

    @property
    def weak(self) -> list:
        return [c for c, t in WEAK.items() if np.isfinite(self.values.get(c, np.nan))
                and self.values[c] < t]

    @property
    def status(self) -> str:
        """"pass", "weak", "FAIL" or "unchecked" (see the module docstring)."""
        if self.failed or self.too_many_failed:
            return "FAIL"
        if self.passed("monitor") is None and self.passed("positive") is None:
            return "unchecked"
        return "weak" if self.weak else "pass"

    def reason(self) -> str:
        """The failed checks, e.g. "positive 0.46 < 0.75; monitor 0.42 < 0.65"."""
        out = [_fmt_fail(c, self.values[c], THRESHOLDS[c], self.worst) for c in self.failed]
        if self.too_many_failed:
            out.append(f"{len(self.failed_seeds)} of {self.total_seeds} seeds failed")
        return "; ".join(out)

    def weak_reason(self) -> str:
        return "; ".join(f"{c} {self.values[c]:.2f} < {WEAK[c]:.2f}" for c in self.weak)

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.setting) or "(the sweep's one setting)"


def seed_monitor(row) -> float:
    """A run's held-out monitor check: mean of the stated facts' yes/no and open answers at the
    final checkpoint (NaN where the run stored no monitor)."""
    m = (row["result"].get("monitor") or {}).get("stated")
    if not m:
        return float("nan")
    last = lambda k: float("nan") if m[k][-1] is None else float(m[k][-1])  # noqa: E731
    return 0.5 * (last("yes_ok") + last("open_ok"))


def judge_seeds(rows: list, axes: list) -> dict:
    """{setting: {seed: why it failed, or "" where it passed}} for every finished run, each seed
    against `SEED_THRESHOLDS`."""
    from .tables import axis_key, done, per_seed
    cells = per_seed(rows, axes)
    asserts = asserting(rows)
    out: dict = {}
    for r in done(rows):
        key, seed = axis_key(r["config"], axes), r["config"]["seed"]
        by_cond = {dict(k)["condition"]: v[seed] for k, v in cells.items()
                   if k[:-1] == key and seed in v}
        vals, worst = check_values(by_cond, seed_monitor(r), asserts)
        why = "; ".join(_fmt_fail(c, vals[c], SEED_THRESHOLDS[c], worst) for c in SEED_THRESHOLDS
                        if _passes(vals[c], SEED_THRESHOLDS[c]) is False)
        out.setdefault(key, {})[seed] = why
    return out


def keep_passing(rows: list, axes: list, judged: dict) -> list:
    """`rows` without the runs of seeds that failed the gate (they are named in gate.md), in
    every setting that keeps enough seeds to pass: a setting with too many failing seeds
    (`too_many`) FAILs whole, and keeps all its seeds in its (marked, hatched) tables, so a
    broken instrument still shows what it measured."""
    from .tables import axis_key

    def drop(r):
        seeds = judged.get(axis_key(r["config"], axes), {})
        n_failed = sum(bool(w) for w in seeds.values())
        return bool(seeds.get(r["config"]["seed"])) and not too_many(n_failed, len(seeds))

    return [r for r in rows if r["status"] != "done" or not drop(r)]


def verdicts(summ: list, mon: list, axes: list, judged: dict | None = None,
             asserts: set = frozenset()) -> dict:
    """{setting: Verdict} from a sweep's summary rows (`tables.summary`, of the kept seeds) and
    its monitor rows (`tables.monitor_summary`); a setting is the tuple of its axis values (seed
    excluded); `judged` (`judge_seeds`) adds each setting's failed seeds."""
    out: dict = {}
    axes = [a for a in axes if a != "seed"]

    def key(r):
        return tuple((a, r[a]) for a in axes)

    by_setting: dict = {}
    for r in summ:
        by_setting.setdefault(key(r), {})[r["condition"]] = r
    for k, by_cond in by_setting.items():
        vals, worst = check_values(by_cond, asserts=asserts)
        out[k] = Verdict(k, vals, max(int(r.get("n_seeds", 0)) for r in by_cond.values()), worst)
    for r in mon:
        if r.get("group") == "stated" and key(r) in out:
            out[key(r)].values["monitor"] = float(r["answered"])
    for k, seeds in (judged or {}).items():
        v = out.setdefault(k, Verdict(k, {c: float("nan") for c in THRESHOLDS}))
        v.failed_seeds = {s: why for s, why in seeds.items() if why}
        v.total_seeds = len(seeds)
    return out


def markdown(vs: dict) -> str:
    """The gate's table: one row per setting with its verdict and every check's value."""
    if not vs:
        return "(no finished runs)\n"
    head = (["setting", "verdict"] + [f"{c} ({THRESHOLDS[c][0]} {THRESHOLDS[c][1]})" for c in THRESHOLDS]
            + ["seeds kept"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in vs.values():
        cells = [v.label(), {"FAIL": f"**FAIL** ({v.reason()})",
                             "weak": f"weak ({v.weak_reason()})"}.get(v.status, v.status)]
        for c in THRESHOLDS:
            x = v.values[c]
            mark = "" if v.passed(c) else " ✗"
            if c == "in_context_negated" and v.worst and np.isfinite(x):
                mark += f" ({v.worst})"
            cells.append("n/a" if not np.isfinite(x) else f"{x:.2f}" + mark)
        cells.append((f"all {v.total_seeds} (FAIL: none dropped)" if v.too_many_failed else
                      f"{v.total_seeds - len(v.failed_seeds)} of {v.total_seeds}")
                     if v.total_seeds else str(v.n_seeds))
        lines.append("| " + " | ".join(cells) + " |")
    failed = [(v, s, why) for v in vs.values() for s, why in sorted(v.failed_seeds.items())]
    if failed:
        lines += ["", "Seeds that failed the gate (left out of every table, figure and verdict "
                  "where their setting keeps enough seeds to pass):", ""]
        lines += [f"- {v.label()}, seed {s}: {why}" for v, s, why in failed]
    return "\n".join(lines) + "\n"


def warnings_for(vs: dict, sweep_name: str) -> list:
    """One line per failed setting: what `python -m toyneg.sweep` prints after a sweep."""
    return [f"warning: sweep '{sweep_name}', setting {v.label()}: the instrument failed the "
            f"validity gate ({v.reason()}); its rates are marked invalid (docs/validity.md)"
            for v in vs.values() if v.status == "FAIL"]


def weak_note(vs: dict, keys) -> str:
    """A note for a contrast touching weak settings (empty when none is weak)."""
    weak = [vs[k] for k in dict.fromkeys(keys) if k in vs and vs[k].status == "weak"]
    return "; ".join(f"{v.label()} is weak ({v.weak_reason()}): its world is learned less well "
                     f"than the reference worlds', so a difference may be that, not the effect"
                     for v in weak)


def failed_settings(vs: dict) -> set:
    return {k for k, v in vs.items() if v.status == "FAIL"}
