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
"""

from __future__ import annotations

import dataclasses

import numpy as np

THRESHOLDS = {"monitor": (">=", 0.65), "positive": (">=", 0.70),
              "in_context_positive": (">=", 0.70), "in_context_negated": ("<=", 0.15)}
NOT_NEGATING = ("baseline", "positive")  # conditions whose in-context documents are not rejected


@dataclasses.dataclass
class Verdict:
    setting: tuple                 # ((axis, value), ...) without the condition
    values: dict                   # check -> measured value (NaN where the setting lacks it)
    n_seeds: int = 0

    def passed(self, check: str):
        """True / False, or None where the setting lacks what the check reads."""
        v = self.values.get(check, float("nan"))
        if not np.isfinite(v):
            return None
        op, t = THRESHOLDS[check]
        return bool(v >= t) if op == ">=" else bool(v <= t)

    @property
    def failed(self) -> list:
        return [c for c in THRESHOLDS if self.passed(c) is False]

    @property
    def status(self) -> str:
        """"pass", "FAIL" or "unchecked" (see the module docstring)."""
        if self.failed:
            return "FAIL"
        if self.passed("monitor") is None and self.passed("positive") is None:
            return "unchecked"
        return "pass"

    def reason(self) -> str:
        """The failed checks, e.g. "positive 0.46 < 0.75; monitor 0.42 < 0.65"."""
        return "; ".join(f"{c} {self.values[c]:.2f} {'<' if THRESHOLDS[c][0] == '>=' else '>'} "
                         f"{THRESHOLDS[c][1]:.2f}" for c in self.failed)

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.setting) or "(the sweep's one setting)"


def verdicts(summ: list, mon: list, axes: list) -> dict:
    """{setting: Verdict} from a sweep's summary rows (`tables.summary`) and its monitor rows
    (`tables.monitor_summary`); a setting is the tuple of its axis values (seed excluded)."""
    out: dict = {}
    axes = [a for a in axes if a != "seed"]

    def key(r):
        return tuple((a, r[a]) for a in axes)

    for r in summ:
        v = out.setdefault(key(r), Verdict(key(r), {c: float("nan") for c in THRESHOLDS}))
        v.n_seeds = max(v.n_seeds, int(r.get("n_seeds", 0)))
        if r["condition"] == "positive":
            v.values["positive"] = float(r["belief"])
            v.values["in_context_positive"] = float(r["icl"])
    for k, v in out.items():
        negating = [float(r["icl"]) for r in summ if key(r) == k and r["condition"] not in NOT_NEGATING
                    and np.isfinite(r["icl"])]
        if negating:
            v.values["in_context_negated"] = float(np.mean(negating))
    for r in mon:
        if r.get("group") == "stated" and key(r) in out:
            out[key(r)].values["monitor"] = float(r["answered"])
    return out


def markdown(vs: dict) -> str:
    """The gate's table: one row per setting with its verdict and every check's value."""
    if not vs:
        return "(no finished runs)\n"
    head = ["setting", "verdict"] + [f"{c} ({THRESHOLDS[c][0]} {THRESHOLDS[c][1]})" for c in THRESHOLDS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in vs.values():
        cells = [v.label(), v.status if v.status != "FAIL" else f"**FAIL** ({v.reason()})"]
        for c in THRESHOLDS:
            x = v.values[c]
            cells.append("n/a" if not np.isfinite(x) else f"{x:.2f}" + ("" if v.passed(c) else " ✗"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def warnings_for(vs: dict, sweep_name: str) -> list:
    """One line per failed setting: what `python -m toyneg.sweep` prints after a sweep."""
    return [f"warning: sweep '{sweep_name}', setting {v.label()}: the instrument failed the "
            f"validity gate ({v.reason()}); its rates are marked invalid (docs/validity.md)"
            for v in vs.values() if v.status == "FAIL"]


def failed_settings(vs: dict) -> set:
    return {k for k, v in vs.items() if v.status == "FAIL"}
