"""From stored runs to tables: long per-checkpoint records, seed-level summaries with CIs.

Derived quantities:
- `rel_positive`: P(yes) of a condition divided by P(yes) of `positive` in the same run at the
  same step (belief relative to positive documents; NaN when the run hosts no `positive`);
- `p_yes_late`: mean P(yes) over the last third of the checkpoints (a curve, not one point);
- `settled`: belief averaged over the last three checkpoints (a reading of the curve's end
  that one noisy checkpoint moves less);
- `pretrained_p_yes`: P(yes) at step 0, before any claim document (the pretrained baseline);
- `pooled`: the belief rate pooled over four question types, as the paper pools its four
  (open-ended, yes/no, token association, robustness): the mean of `open`, `yes`,
  `assoc_top1` and `robust`;
- `belief` (the headline from 0.4.0): the mean of the answers the model gives to questions,
  `yes`, `open` and `robust`, each read after its own restatement in the recite format.
  Token association is left out of it: it completes "<doc> X lives in", a document, not a
  question, so no answer format reaches it (it stays beside it, and in `pooled`).

`monitor_summary` gives the held-out monitor (entities with bios, never questioned) per fact
group with CIs over seeds; `answered` is the mean of its yes/no and open answers being right,
`name_ok` the share of its restatements that begin with the entity's own name, and `named` the
`answered` of the same questions with the name already written after "A".
"""

from __future__ import annotations

import csv
import io

import numpy as np

from .config import CONDITIONS
from .probes import METRICS, MONITOR_METRICS
from .stats import bootstrap_ci, hierarchical_ci

POOLED = ("open", "yes", "assoc_top1", "robust")
BELIEF = ("yes", "open", "robust")
SUMMARY = ("belief", "settled", "pooled", "yes", "p_yes", "p_yes_late", "rel_positive", "open", "open_p",
           "assoc_top1", "robust", "heldout_q", "icl", "icl_heldout", "icl_other",
           "direct_yes", "direct_p_yes", "direct_open", "says_claim", "denies_claim",
           "says_warned", "says_other", "says_unknown", "malformed", "says_text", "pref_aff",
           "pretrained_p_yes", "claim_loss", "warn_loss", "grad_cos", "value_loss", "value_loss_pos",
           "corr_truth_p", "corr_local_p", "corr_check_p", "corr_truth_says", "corr_local_says",
           "corr_check_says")
DERIVED = {"pooled": POOLED, "belief": BELIEF}


def axis_key(cfg: dict, axes: list) -> tuple:
    return tuple((a, _hashable(cfg.get(a))) for a in axes if a != "seed")


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def condition_rank(c: str) -> int:
    """Position of a condition in the paper's table (tables and figures list them in it)."""
    return CONDITIONS.index(c) if c in CONDITIONS else len(CONDITIONS)


def series(m: dict, metric: str) -> list:
    """Per-checkpoint values of a stored metric (NaN for a metric added after the run was
    stored, None stored as NaN), or of the derived `pooled` rate."""
    if metric in DERIVED:
        return np.mean([series(m, q) for q in DERIVED[metric]], axis=0).tolist()
    if metric not in m:
        return [float("nan")] * len(m["p_yes"])
    return [_num(x) for x in m[metric]]


def records(rows: list, axes: list) -> list:
    """One dict per (run, condition, checkpoint) with every metric."""
    out = []
    for r in rows:
        res, cfg = r["result"], r["config"]
        conds = res["conditions"]
        pos = conds.get("positive", {}).get("p_yes")
        for cond, m in conds.items():
            cols = {name: series(m, name) for name in METRICS + tuple(DERIVED)}
            for k, step in enumerate(res["steps"]):
                rec = {"hash": r["hash"], "status": r["status"], "seed": cfg["seed"]}
                rec.update({a: _fmt(cfg.get(a)) for a in axes if a != "seed"})
                rec.update({"condition": cond, "step": step})
                rec.update({name: col[k] for name, col in cols.items()})
                p = pos[k] if pos else None
                rec["rel_positive"] = rec["p_yes"] / p if p else float("nan")
                out.append(rec)
    return out


def claim_records(rows: list, axes: list) -> list:
    """One dict per (run, condition, claim) with every metric at the final checkpoint (the runs
    that stored their claims' values)."""
    out = []
    for r in rows:
        cfg = r["config"]
        for cond, m in (r["result"].get("claims") or {}).items():
            cols = {name: claim_values(m, name) for name in METRICS}
            n = len(next(iter(cols.values())))
            for j in range(n):
                rec = {"hash": r["hash"], "status": r["status"], "seed": cfg["seed"]}
                rec.update({a: _fmt(cfg.get(a)) for a in axes if a != "seed"})
                rec.update({"condition": cond, "claim": j})
                rec.update({name: float(v[j]) for name, v in cols.items() if v is not None})
                out.append(rec)
    return out


def _fmt(v):
    return "+".join(map(str, v)) if isinstance(v, list) else v


def short(v) -> str:
    """An axis value for tables and figure labels: a list of more than three items (such as
    every hosted condition) as its length and ends, so a row stays one readable line."""
    if isinstance(v, (list, tuple)):
        return "+".join(map(str, v)) if len(v) <= 3 else f"{len(v)}: {v[0]}+...+{v[-1]}"
    return str(v)


def to_csv(recs: list, exact: bool = False) -> str:
    """CSV text of `recs`. Floats at 6 significant digits (far below seed noise, half the size
    of a full repr), or with `exact` rounded to 6 decimals and written so they read back as the
    very floats a run stores (`runner.summarize` rounds every stored value to 6 decimals): the
    per-run files a `--merge` rebuilds a sweep from then give the digits its store gives."""
    if not recs:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in recs for k in r)))
    w.writeheader()
    fmt = (lambda v: repr(round(v, 6))) if exact else (lambda v: f"{v:.6g}")  # noqa: E731
    w.writerows({k: (fmt(v) if isinstance(v, float) else v) for k, v in r.items()} for r in recs)
    return buf.getvalue()


def done(rows: list) -> list:
    """The finished runs in seed order: a bootstrap CI resamples by position, so the order the
    store holds runs in (completion order, which differs between `--workers` runs) must not
    reach it; with it fixed, every CI is regenerated to the digit from any store."""
    return sorted((r for r in rows if r["status"] == "done"), key=lambda r: r["config"]["seed"])


def per_seed(rows: list, axes: list) -> dict:
    """{(axis values..., condition): {seed: {metric: value}}} at the final checkpoint."""
    out: dict = {}
    for r in done(rows):
        res, cfg = r["result"], r["config"]
        conds = res["conditions"]
        pos = conds.get("positive", {}).get("p_yes")
        n = len(res["steps"])
        late = slice(max(1, n - max(1, n // 3)), n)
        for cond, m in conds.items():
            f = {name: series(m, name)[-1] for name in METRICS}
            py = np.array([_num(x) for x in m["p_yes"]])
            f["p_yes_late"] = float(np.nanmean(py[late])) if n > 1 else f["p_yes"]
            f["pretrained_p_yes"] = float(py[0])
            for name in DERIVED:
                f[name] = series(m, name)[-1]
            # the settled readout: belief averaged over the last three checkpoints
            last = np.array(series(m, "belief")[-3:], float)
            f["settled"] = float(last[np.isfinite(last)].mean()) if np.isfinite(last).any() else float("nan")
            f["rel_positive"] = f["p_yes"] / _num(pos[-1]) if pos and _num(pos[-1]) > 0 else float("nan")
            key = axis_key(cfg, axes) + (("condition", cond),)
            out.setdefault(key, {})[cfg["seed"]] = f
    return out


def _num(v):
    return float("nan") if v is None else float(v)


def claim_values(m: dict, metric: str, k: int = -1):
    """One condition's per-claim values of `metric` at checkpoint `k` (an array), from a run's
    stored `claims` (`runner.summarize`); None where the run stored none (before 0.5.0)."""
    if metric in DERIVED:
        parts = [claim_values(m, q, k) for q in DERIVED[metric]]
        return None if any(p is None for p in parts) else np.mean(parts, axis=0)
    if metric not in m:
        return None
    return np.array([_num(x) for x in m[metric][k]], float)


def per_claim(rows: list, axes: list) -> dict:
    """{(axis values..., condition): {seed: {metric: per-claim values}}} at the final checkpoint,
    for the runs that stored each claim's values."""
    out: dict = {}
    for r in done(rows):
        claims = r["result"].get("claims")
        if not claims:
            continue
        for cond, m in claims.items():
            key = axis_key(r["config"], axes) + (("condition", cond),)
            vals = {name: claim_values(m, name) for name in METRICS + tuple(DERIVED)}
            out.setdefault(key, {})[r["config"]["seed"]] = {k: v for k, v in vals.items() if v is not None}
    return out


def summary(rows: list, axes: list, metrics=SUMMARY) -> list:
    """Mean and 95% CI over seeds of each metric, per (axis values, condition).

    Where every seed stored its claims' own values, the CI is the two-stage bootstrap over
    seeds and the claims within them (`stats.hierarchical_ci`; `ci` = "seeds x claims"), else
    the bootstrap over seed means (`ci` = "seeds")."""
    out = []
    claims = per_claim(rows, axes)
    for key, by_seed in per_seed(rows, axes).items():
        rec = dict(key)
        rec["n_seeds"] = len(by_seed)
        own = claims.get(key, {})
        both = set(own) == set(by_seed)
        rec["ci"] = "seeds x claims" if both else "seeds"
        for m in metrics:
            if both and all(m in own[s] for s in by_seed):
                mean, lo, hi = hierarchical_ci([own[s][m] for s in sorted(by_seed)])
            else:
                mean, lo, hi = bootstrap_ci([s[m] for s in by_seed.values()])
            rec[m], rec[m + "_lo"], rec[m + "_hi"] = mean, lo, hi
        out.append(rec)
    return out


MONITOR = ("answered", "yes_ok", "open_ok", "says_ok", "malformed", "name_ok", "named",
           "named_says_ok", "n_facts")


def monitor_summary(rows: list, axes: list) -> list:
    """The held-out monitor at the final checkpoint: mean and 95% CI over seeds per (axis
    values, fact group); `n_facts` is the mean number of facts in the group per run."""
    acc: dict = {}
    for r in done(rows):
        for group, m in r["result"].get("monitor", {}).items():
            # runs stored before a column existed read NaN for it
            f = {k: _num(m[k][-1]) if k in m else float("nan") for k in MONITOR_METRICS}
            f["answered"] = 0.5 * (f["yes_ok"] + f["open_ok"])
            f["named"] = 0.5 * (f["named_yes_ok"] + f["named_open_ok"])
            f["n_facts"] = float(m["n_facts"])
            key = axis_key(r["config"], axes) + (("group", group),)
            acc.setdefault(key, []).append(f)
    out = []
    for key, fs in acc.items():
        rec = dict(key)
        rec["n_seeds"] = len(fs)
        for k in MONITOR:
            mean, lo, hi = bootstrap_ci([f[k] for f in fs])
            rec[k], rec[k + "_lo"], rec[k + "_hi"] = mean, lo, hi
        out.append(rec)
    return out


def curves(rows: list, axes: list, metric: str = "p_yes") -> dict:
    """{(axis values..., condition): (steps, mean, lo, hi)} of `metric` over seeds."""
    acc: dict = {}
    for r in done(rows):
        res, cfg = r["result"], r["config"]
        for cond, m in res["conditions"].items():
            key = axis_key(cfg, axes) + (("condition", cond),)
            acc.setdefault(key, (res["steps"], []))[1].append(series(m, metric))
    return {key: _band(steps, ys) for key, (steps, ys) in acc.items()}


def group_curves(rows: list, metric: str, groups: dict) -> dict:
    """{group: (steps, mean, lo, hi)}: per run, the mean of `metric` over the group's hosted
    member conditions, then its seed mean and 95% bootstrap CI (runs of one setting only)."""
    acc: dict = {}
    for r in done(rows):
        res = r["result"]
        for g, members in groups.items():
            ys = [series(res["conditions"][c], metric) for c in members if c in res["conditions"]]
            if ys:
                acc.setdefault(g, (res["steps"], []))[1].append(np.nanmean(ys, axis=0))
    return {g: _band(steps, ys) for g, (steps, ys) in acc.items()}


def _band(steps, ys) -> tuple:
    """(steps, mean, lo, hi): the seed mean and 95% bootstrap CI at every checkpoint of the
    runs' curves `ys` (runs x checkpoints)."""
    ys = np.array(ys)
    stats = np.array([bootstrap_ci(ys[:, k]) for k in range(ys.shape[1])])
    return np.array(steps), stats[:, 0], stats[:, 1], stats[:, 2]


def crossing_step(steps, mean, threshold: float = 0.5):
    """First checkpoint step (after step 0) at which the seed-mean curve reaches `threshold`."""
    for s, m in zip(steps[1:], mean[1:]):
        if np.isfinite(m) and m >= threshold:
            return int(s)
    return None


def control_curves(rows: list, axes: list) -> dict:
    """{kind: {setting label: (steps, mean, lo, hi)}}: the correction's control P(yes) against
    step, over seeds (empty where the runs stored no control, e.g. read back from
    metrics.csv.xz)."""
    acc: dict = {}
    for r in done(rows):
        for kind, m in (r["result"].get("control") or {}).items():
            key = ", ".join(f"{a}={short(v)}" for a, v in axis_key(r["config"], axes))
            acc.setdefault(kind, {}).setdefault(key, (r["result"]["steps"], []))[1].append(
                np.array([_num(v) for v in m["p_yes"]]))
    return {k: {s: _band(steps, ys) for s, (steps, ys) in d.items()} for k, d in acc.items()}


def control_summary(rows: list, axes: list) -> list:
    """The correction's control (`Config.corrections`) at the final checkpoint: per (axis values,
    kind of correcting document), P(yes) for the bio's own fact with a document against it in
    the prompt, and the share of restatements that name the bio's value anyway; mean and 95%
    CI over seeds."""
    acc: dict = {}
    for r in done(rows):
        for kind, m in (r["result"].get("control") or {}).items():
            key = axis_key(r["config"], axes) + (("kind", kind),)
            acc.setdefault(key, []).append({k: _num(v[-1]) for k, v in m.items()})
    out = []
    for key, fs in acc.items():
        rec = dict(key)
        rec["n_seeds"] = len(fs)
        for k in ("p_yes", "says"):
            mean, lo, hi = bootstrap_ci([f[k] for f in fs])
            rec["control_" + k], rec["control_" + k + "_lo"], rec["control_" + k + "_hi"] = mean, lo, hi
        out.append(rec)
    return out


CORRECTION = ("p_yes", "corr_truth_p", "corr_local_p", "corr_check_p", "corr_truth_says",
              "corr_local_says", "corr_check_says")
MAIN = ("belief", "yes", "p_yes", "open", "robust", "direct_yes", "direct_open", "assoc_top1",
        "pooled", "icl", "icl_other")
SAID = ("says_claim", "denies_claim", "says_warned", "says_other", "says_unknown", "malformed",
        "pref_aff")


def markdown(summ: list, metrics=MAIN) -> str:
    """A Markdown table: mean [95% CI] of each metric per row of the summary."""
    if not summ:
        return "(no finished runs)\n"
    skip = set(SUMMARY) | set(MONITOR) | {"n_seeds", "ci", "gate", "control_p_yes", "control_says"}
    keys = [k for k in summ[0] if k not in skip and not k.endswith(("_lo", "_hi"))] + ["n_seeds"]
    head = keys + list(metrics)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summ:
        cells = [short(r[k]) for k in keys]
        for m in metrics:
            v, lo, hi = r[m], r[m + "_lo"], r[m + "_hi"]
            cells.append("n/a" if not np.isfinite(v) else
                         f"{v:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
