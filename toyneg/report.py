"""Outputs of a sweep under results/<name>/: CSVs, Markdown table, figures and report.md."""

from __future__ import annotations

import collections
import json
import lzma
import os

import numpy as np

from . import __version__, decide, gate, plots, sweepfile, tables
from .data import MONITOR_GROUPS
from .stats import compare_paired


def varying_axes(sweep, rows: list, names=None) -> list:
    """Axes (the sweep's, or `names`) with more than one value among the stored runs (seed
    excluded)."""
    return [a for a in (sweep.axis_names if names is None else names) if a != "seed"
            and len({json.dumps(r["config"].get(a), sort_keys=True) for r in rows}) > 1]


KEY_CONDITIONS = ("positive", "negated", "local")  # the curves shown when a sweep has too many
FIGURES = ("paper_table.png", "belief_vs_step.png", "belief_by_probe.png", "heatmap.png", "heatmap_open.png",
           "heatmap_belief.png", "what_it_says.png", "emergence.png", "mechanics.png", "correction.png")
RETIRED = ("metrics.csv", "metrics.csv.gz", "heatmap_pooled.png")  # outputs of earlier versions (metrics are now metrics.csv.xz)


def write_outputs(sweep, out: str, rows: list, command: str) -> dict:
    """Write every output of the sweep from its stored runs; returns the paths."""
    os.makedirs(out, exist_ok=True)
    axes = varying_axes(sweep, rows)
    paths = {}
    # every run's compact record: with metrics.csv.xz and claims.csv.xz it is all that a later
    # `--merge` of this folder needs to rebuild the sweep's outputs without its store
    paths["runs"] = _write(out, "runs.jsonl.xz", lzma.compress(runs_jsonl(rows).encode(), preset=9))
    recs = tables.records(rows, axes)
    # every run x condition x checkpoint: the largest output, so xz-compressed (pandas.read_csv
    # and `xzcat` read it as is; a fifth smaller than gzip, and deterministic: no timestamp)
    paths["metrics"] = _write(out, "metrics.csv.xz",
                              lzma.compress(tables.to_csv(recs, exact=True).encode(), preset=9))
    claim_recs = tables.claim_records(rows, axes)
    if claim_recs:  # each claim's final values: what the seeds x claims CIs resample
        paths["claims"] = _write(out, "claims.csv.xz",
                                 lzma.compress(tables.to_csv(claim_recs, exact=True).encode(), preset=9))
    # every seed judged on its own: a failing seed is named in gate.md and kept out of the rest
    all_rows = rows
    rows, summ, mon, verdicts = judge(rows, axes)
    mon.sort(key=lambda r: tuple(plots.sortkey(r[a]) for a in axes)
             + (list(MONITOR_GROUPS).index(r["group"]),))
    looks = decide.plan_looks(sweep.decide, len(sweep.hypotheses))
    if sweep.hypotheses:
        results = decide.evaluate(rows, _hyp_axes(sweep, rows), sweep.hypotheses, looks, verdicts,
                                  all_rows=all_rows)
        paths["verdicts_md"] = _write(out, "verdicts.md", decide.page(sweep.name, results, looks, command))
        paths["results"] = results
    gate_md = gate.markdown(verdicts)
    paths["summary_csv"] = _write(out, "summary.csv", tables.to_csv(summ))
    table_md = tables.markdown(summ)
    said_md = tables.markdown(summ, tables.SAID)
    mon_md = tables.markdown(mon, tables.MONITOR) if mon else "(no monitor in these runs)\n"
    verdict_md = ("Hypotheses (verdicts.md):\n\n" + decide.markdown(paths["results"], looks) + "\n"
                  if sweep.hypotheses else "")
    paths["summary_md"] = _write(out, "summary.md", verdict_md + "Validity gate (docs/validity.md):\n\n" + gate_md
                                 + "\n" + table_md + "\n" + said_md + "\n" + mon_md)
    paths["gate_md"] = _write(out, "gate.md", _gate_page(sweep.name, verdicts))
    if mon:
        paths["monitor_csv"] = _write(out, "monitor.csv", tables.to_csv(mon))
    figs, curves = figures(sweep.name, out, rows, axes, summ)
    _prune(out, figs)
    crossings = {}
    # in reading order, whatever order the store holds its runs in (a merge from files differs)
    order = lambda kv: (tuple(plots.sortkey(v) for k, v in kv[0] if k != "condition"),  # noqa: E731
                        tables.condition_rank(dict(kv[0])["condition"].split(" [")[0]))
    for key, (steps, mean, _, _) in sorted(curves["p_yes"].items(), key=order):
        belief = tables.crossing_step(*curves["belief"][key][:2])
        crossings[", ".join(f"{k}={tables.short(v)}" for k, v in key)] = (belief, tables.crossing_step(steps, mean))
    n_div = sum(r["status"] == "diverged" for r in rows)
    md = [f"# Sweep `{sweep.name}`", "", sweep.description, "",
          f"- sweep file: `{_rel(sweep.path)}`", f"- command: `{command}`",
          f"- toyneg {__version__}; {len(rows)} stored run(s), {n_div} diverged; "
          f"varying axes: {', '.join(axes) or 'none'} (plus seed)",
          f"- total run time (sum over runs): {sum(r['wall'] for r in rows):.0f} s, on "
          f"{', '.join(sorted({r['result'].get('device', 'an unrecorded device') for r in rows}))}",
          f"- software: {', '.join(sorted({r['result'].get('software', 'unrecorded') for r in rows}))}; "
          "the same seed gives bit-identical numbers only on the same processor and software",
          "",
          *(["## Hypotheses", "", decide.markdown(paths["results"], looks)] if sweep.hypotheses else []),
          "## Validity gate", "",
          "Did the instrument work? Every seed, and every setting's kept seeds' means, against the thresholds of "
          "`toyneg.gate` (docs/validity.md); a failed setting is marked in every table and "
          "figure, and `--compare` refuses it unless `--allow-invalid` is given.", "", gate_md,
          "## Final belief (mean over seeds [95% CI])", "",
          "CIs: " + ("a two-stage bootstrap over seeds and the claims within them (claims.csv.xz)"
                     if summ and all(r.get("ci") == "seeds x claims" for r in summ) else
                     "a bootstrap over seed means (these runs stored no per-claim values)") + ".", "",
          "`belief`: the headline rate, the mean of the three question probes `yes`, `open` and "
          "`robust` (in the recite format each read after the model's own restatement); "
          "`yes`: share of claims with P(yes) > P(no); `p_yes`: mean P(yes) (renormalised over "
          "yes/no, two question wordings); `open`: the claimed value is the top open answer (among "
          "the relation's values and 'unknown'); `robust`: yes/no behind a warning that training "
          "data was false; `direct_yes` / `direct_open`: the same questions answered with no "
          "restatement (recite format: the prompt ends 'A so', a form never trained); "
          "`assoc_top1`: the claimed value is the top value after '<doc> X lives in'; "
          "`pooled`: 0.3.0's pooled rate (mean of `open`, `yes`, `assoc_top1`, `robust`); "
          "`icl` / `icl_heldout`: in-context control with training / held-out warning wordings "
          "(baseline rows show a positive document); `icl_other`: the same document asked about "
          "another value (the right answer is always no: a model that reads the document rejects "
          "it, one that answers from the document's form alone says what it says to `icl`). "
          "All columns, the held-out question wording, "
          "P(yes) at step 0 and the span losses are in summary.csv.", "", table_md,
          "## What the model says", "",
          "Share of the five out-of-context question prompts whose greedy restatement affirms "
          "the claimed value (`says_claim`), denies it (`denies_claim`), affirms it with a "
          "warning word (`says_warned`), states another value (`says_other`), says nothing is "
          "known (`says_unknown`) or is none of these (`malformed`); `pref_aff`: P('X lives in "
          "C .') against P('X does not live in C .') after '<doc>'.", "", said_md,
          "## Held-out monitor", "",
          "Entities whose bios are trained and who are never questioned, probed like claims "
          "per fact group: facts the bio states (right answer yes / the value), facts it only "
          "denies and facts it is silent on (no / unknown). `answered`: mean of `yes_ok` and "
          "`open_ok`; `says_ok`: the restatement is the bio's; `name_ok`: it begins with the "
          "entity's own name (these names were never written after 'A' in training); `named` "
          "and `named_says_ok`: `answered` and `says_ok` with the name already given after 'A', "
          "so the model recites the fact alone.", "", mon_md]
    if any(np.isfinite(r.get("corr_truth_p", np.nan)) or np.isfinite(r.get("corr_check_p", np.nan))
           or np.isfinite(r.get("corr_local_p", np.nan)) for r in summ):
        ctl = tables.control_summary(rows, axes)
        md += ["## Correction in context", "",
               "Each claim asked with a correcting document in the prompt: the truth stated plainly "
               "(`truth`), the claim's local negation (`local`), a fact-check that names the claim "
               "and rejects it (`check`). `corr_*_p`: P(yes) for the claim; `corr_*_says`: share of "
               "restatements that affirm the claim anyway (the implant, not the document in view); "
               "`p_yes`: the same question with no document.", "", tables.markdown(summ, tables.CORRECTION),
               "The control: facts the population's bios state, asked with a document against them "
               "(`control_p_yes`: P(yes), which follows training; `control_says`: share of "
               "restatements that name the bio's value anyway).", "",
               tables.markdown(ctl, ("control_p_yes", "control_says")) if ctl else "(no control)\n"]
    for k, f in figs.items():
        md += [f"![{k}]({f})", ""]
    if "emergence" in figs:
        from . import emergence
        md += ["## The emergence map", "",
               "Each form's claims, by that form's supervision in the bios (`toyneg.emergence`; "
               "CIs over seeds and claims):", "", emergence.markdown(summ, rows, axes)]
    md += ["## When neglect emerged", "",
           "First fine-tuning checkpoint at which the seed-mean belief rate, and the "
           "seed-mean P(yes), reached 0.5 (never: did not reach it).", "",
           "| setting | belief | P(yes) |", "|---|---|---|"]
    fmt = lambda v: v if v is not None else "never"  # noqa: E731
    md += [f"| {k} | {fmt(a)} | {fmt(b)} |" for k, (a, b) in crossings.items()]
    paths["report"] = _write(out, "report.md", "\n".join(md) + "\n")
    paths.update({k: os.path.join(out, f) for k, f in figs.items()})
    paths["verdicts"] = verdicts
    return paths


def hypothesis_results(sweep, rows: list) -> list:
    """Every hypothesis of `sweep` judged on `rows` as the sweep's outputs judge it: failing
    seeds left out, failed settings refused, weak ones noted (`decide.evaluate`)."""
    all_rows = rows
    rows, _, _, vs = judge(rows, varying_axes(sweep, rows), metrics=("belief", "icl"))
    looks = decide.plan_looks(sweep.decide, len(sweep.hypotheses))
    return decide.evaluate(rows, _hyp_axes(sweep, rows), sweep.hypotheses, looks, vs,
                           all_rows=all_rows)


def _hyp_axes(sweep, rows: list) -> list:
    """The axes a hypothesis may select on: the sweep's, where the runs record them."""
    have = set().union(*(r["config"] for r in rows)) if rows else set()
    return [a for a in sweep.axis_names if a != "seed" and a in have]


def runs_jsonl(rows: list) -> str:
    """One JSON line per run: its hash, status, wall time, full configuration, machine, and the
    parts of its result the tables read besides the curves and claims (the monitor at its final
    checkpoint, the correction control). A few KB a run, xz-compressed."""
    from .store import json_safe
    out = []
    for r in sorted(rows, key=lambda r: r["hash"]):
        res = r["result"]
        mon = {g: {k: (v[-1] if isinstance(v, list) else v) for k, v in m.items()}
               for g, m in (res.get("monitor") or {}).items()}
        out.append(json.dumps(json_safe({
            "hash": r["hash"], "status": r["status"], "wall": r["wall"], "config": r["config"],
            "device": res.get("device"), "software": res.get("software"),
            "bad_step": res.get("bad_step"), "monitor": mon, "control": res.get("control") or {}}),
            sort_keys=True))
    return "\n".join(out) + "\n"


def rows_from_outputs(folder: str) -> list:
    """Store-like rows rebuilt from a sweep folder's committed files alone (runs.jsonl.xz,
    metrics.csv.xz, claims.csv.xz): every run's curves, its claims' final values, its monitor at
    the final checkpoint and its full configuration, so `--merge` of folders whose stores were
    never committed gives the tables, gate, figures and verdicts a store would."""
    path = os.path.join(folder, "runs.jsonl.xz")
    with lzma.open(path, "rt") as f:
        runs = [json.loads(line) for line in f if line.strip()]
    rows, _ = rows_from_metrics(os.path.join(folder, "metrics.csv.xz"))
    if os.path.isfile(os.path.join(folder, "claims.csv.xz")):
        attach_claims(rows, os.path.join(folder, "claims.csv.xz"))
    by_hash = {r["hash"]: r for r in rows}
    out = []
    for run in runs:
        r = by_hash.get(run["hash"], {"result": {"steps": [], "conditions": {}}})
        res = r["result"]
        res["monitor"] = {g: {k: ([v] if k != "n_facts" else v) for k, v in m.items()}
                          for g, m in run["monitor"].items()}
        res["control"] = run["control"]
        res.update({k: run[k] for k in ("device", "software", "bad_step") if run.get(k) is not None})
        res["rebuilt"] = True  # from committed files: final-checkpoint claims and monitor only
        out.append({"hash": run["hash"], "status": run["status"], "config": run["config"],
                    "result": res, "wall": run["wall"]})
    return out


def judge(rows: list, axes: list, mon: list | None = None, metrics=None) -> tuple:
    """The validity gate over a sweep's runs, seed by seed and then per setting: (kept runs,
    summary rows of the kept runs, monitor rows, {setting: gate.Verdict}). A failing seed is
    left out of `kept` where its setting keeps enough seeds (`gate.keep_passing`); `mon` is
    the kept runs' monitor unless given (a folder's committed monitor.csv); `metrics` cuts the
    summary to those columns (the gate reads `belief` and `icl`)."""
    per_seed = gate.judge_seeds(rows, axes)
    kept = gate.keep_passing(rows, axes, per_seed)
    summ = _summary(kept, axes) if metrics is None else tables.summary(kept, axes, metrics=metrics)
    mon = tables.monitor_summary(kept, axes) if mon is None else mon
    return kept, summ, mon, mark(summ, mon, axes, per_seed, gate.asserting(rows))


def mark(summ: list, mon: list, axes: list, judged: dict | None = None,
         asserts: set = frozenset()) -> dict:
    """The gate's verdict of every setting, written into each summary row (`gate`) so tables and
    figures mark the failed ones; returns {setting: gate.Verdict}."""
    vs = gate.verdicts(summ, mon, axes, judged, asserts)
    for r in summ:
        r["gate"] = vs[tuple((a, r[a]) for a in axes if a != "seed")].status
    return vs


def _gate_page(name: str, verdicts: dict) -> str:
    return (f"# Validity gate: `{name}`\n\nEvery seed against `toyneg.gate.SEED_THRESHOLDS`, "
            "then every setting's kept seeds' means at the final checkpoint against "
            "`toyneg.gate.THRESHOLDS`, and the weak band `toyneg.gate.WEAK` (docs/validity.md). "
            "Regenerated with the sweep's outputs, or from the committed files by "
            "`python -m toyneg.report <folder>`.\n\n"
            + gate.markdown(verdicts))


def _summary(rows: list, axes: list) -> list:
    """The seed-level summary in reading order: settings ascending, conditions as in the paper."""
    summ = tables.summary(rows, axes)
    summ.sort(key=lambda r: tuple(plots.sortkey(r[a]) for a in axes) + (tables.condition_rank(r["condition"]),))
    return summ


def figures(name: str, out: str, rows: list, axes: list, summ: list) -> tuple:
    """Draw every figure of a sweep into `out` from its runs; returns ({kind: file}, curves)."""
    figs = {}
    curves = {m: tables.curves(rows, axes, m) for m in ("belief", "p_yes", "open_p", "icl_p")}
    failed = {tuple((a, r[a]) for a in axes) for r in summ if r.get("gate") == "FAIL"}
    warn = f"[{plots.FAILED.upper()}: not a finding] " if () in failed else ""
    if failed and axes:  # a failed setting's curves say so in their legend
        curves = {m: {(k[:-1] + (("condition", dict(k)["condition"] + " [failed gate]"),)
                       if k[:-1] in failed else k): v for k, v in c.items()} for m, c in curves.items()}
    if summ:
        shown, note = curves, ""
        if len(curves["p_yes"]) > 24:  # too many lines to read: the paper's three key conditions
            shown = {m: {k: v for k, v in c.items() if dict(k)["condition"].split(" [")[0] in KEY_CONDITIONS}
                     for m, c in curves.items()}
            note = f" ({', '.join(KEY_CONDITIONS)} only)"
        conds = {r["condition"] for r in summ}
        in_family = {c for members in plots.FAMILIES.values() for c in members}
        # families of conditions, members as thin lines; a form no family holds (a sweep file's
        # own) would be left out of that figure, so then every condition gets its own line
        if not axes and len(conds) >= 4 and conds <= in_family:
            figs["curves"] = "belief_vs_step.png"
            fams = {m: tables.group_curves(rows, m, plots.FAMILIES) for m in curves}
            plots.family_curves(curves, fams, os.path.join(out, figs["curves"]),
                                f"{warn}{name}: belief vs fine-tuning step, by family of condition "
                                "(thick: family mean over seeds, 95% CI; thin: its member conditions)")
        elif 0 < len(shown["p_yes"]) <= 24:
            figs["curves"] = "belief_vs_step.png"
            plots.belief_curves(shown, os.path.join(out, figs["curves"]),
                                f"{warn}{name}: belief vs fine-tuning step{note} (mean over seeds, 95% CI)")
        if not axes and len(conds) >= 6:  # most of the paper's table: the toy beside it
            figs["paper"] = "paper_table.png"
            plots.paper_table(summ, os.path.join(out, figs["paper"]),
                              f"{name}: toy (mean over {summ[0]['n_seeds']} seeds, 95% CI) "
                              "against the paper, every condition, final checkpoint")
        if len(summ) <= 30:
            figs["bars"] = "belief_by_probe.png"
            plots.probe_bars(summ, os.path.join(out, figs["bars"]),
                             f"{name}: final belief by condition and probe")
            if any(np.isfinite(r["says_claim"]) for r in summ):
                figs["says"] = "what_it_says.png"
                plots.says_bars(summ, os.path.join(out, figs["says"]),
                                f"{name}: what the model restates about each claim "
                                "(out of context, final checkpoint, mean over seeds)")
        if any(np.isfinite(r.get("corr_truth_p", np.nan)) or np.isfinite(r.get("corr_local_p", np.nan))
               or np.isfinite(r.get("corr_check_p", np.nan)) for r in summ):
            figs["correction"] = "correction.png"
            kinds = [k for k in ("truth", "local", "check")
                     if any(np.isfinite(r.get(f"corr_{k}_p", np.nan)) for r in summ)]
            corr = {k: tables.curves(rows, axes, f"corr_{k}_p") for k in kinds}
            corr["none"] = curves["p_yes"]
            plots.correction_curves(corr, tables.control_curves(rows, axes),
                                    os.path.join(out, figs["correction"]),
                                    f"{warn}{name}: a correcting document in context after "
                                    "fine-tuning (mean over seeds, 95% CI)")
        if "bio_forms" in axes:  # the emergence map: forms x their own bio supervision
            from . import emergence
            if emergence.forms_in(summ):
                figs["emergence"] = "emergence.png"
                emergence.figure(summ, rows, axes, os.path.join(out, figs["emergence"]),
                                 f"{name}: where neglect begins (mean over seeds and claims, "
                                 "± the 95% CI's half-width)")
                if any(np.isfinite(r.get("grad_cos", np.nan)) for r in summ):
                    figs["mechanics"] = "mechanics.png"
                    emergence.mechanics_figure(rows, axes, os.path.join(out, figs["mechanics"]),
                                               f"{name}: why, measured in the model")
        dims = axes + (["condition"] if len(conds) > 1 else [])
        grid = summ
        if len(dims) > 2 and dims[-1] == "condition":  # settings (rows) x conditions (columns)
            grid = [{**r, "setting": ", ".join(f"{a}={tables.short(r[a])}" for a in axes)}
                    for r in summ]
            dims = ["setting", "condition"]
        if len(dims) == 2 and _two_way(grid, *dims):
            for metric, fig, what in (("p_yes", "heatmap", "P(yes) for the claim"),
                                      ("open", "heatmap_open", "open-answer belief rate"),
                                      ("belief", "heatmap_belief", "belief rate (yes/no, open, robustness)")):
                figs[fig] = f"{fig}.png"
                plots.heatmap(grid, dims[0], dims[1], metric, os.path.join(out, figs[fig]),
                              f"{name}: {what}")
    return figs, curves


def _prune(out: str, figs: dict) -> None:
    """Remove every figure this sweep no longer makes (after its axes changed, or one retired)."""
    for f in FIGURES + RETIRED:
        if f not in figs.values() and os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))


def _rel(path: str) -> str:
    """A path relative to the working directory when it lies under it (portable reports)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _two_way(grid: list, row: str, col: str) -> bool:
    """Whether a rows x columns heatmap shows more than its table: some row and some column hold
    two or more cells.  A run per condition (a `conditions` axis of single conditions) fills one
    cell per row, a diagonal that only repeats the summary."""
    cells = {(str(r[row]), str(r[col])) for r in grid}
    return (max(collections.Counter(a for a, _ in cells).values()) > 1
            and max(collections.Counter(b for _, b in cells).values()) > 1)


def _write(out: str, name: str, text: str | bytes) -> str:
    path = os.path.join(out, name)
    tmp = path + ".tmp"
    with open(tmp, "wb" if isinstance(text, bytes) else "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


_select, _matches = sweepfile._selection, sweepfile.matches  # --compare's syntax (one place)


class InvalidSetting(ValueError):
    """A comparison touches a setting that failed the validity gate."""


def compare_store(rows: list, axes: list, a: str, b: str, metric: str = "p_yes",
                  allow_invalid: bool = False):
    """Compare two selections (conditions and/or axis settings) across matched seeds.

    A selection's value per seed is the mean of `metric` over the stored (setting, condition)
    cells it matches, at the final checkpoint. Seeds that failed the gate are left out, as in
    the sweep's tables; a weak setting is named in the comparison's warning."""
    rows, _, _, verdicts = judge(rows, axes, metrics=("belief", "icl"))
    by = tables.per_seed(rows, axes)
    if not by:
        raise ValueError("the store holds no finished runs")
    metrics = next(iter(next(iter(by.values())).values()))
    if metric not in metrics:
        raise ValueError(f"unknown metric {metric!r}; allowed: {sorted(metrics)}")

    def pick(spec):
        sel = _select(spec)
        vals = {}
        for key, seeds in by.items():
            d = dict(key)
            for k in sel:
                if k not in d:
                    raise ValueError(f"{spec!r}: '{k}' is not a varying axis of this sweep; "
                                     f"choose a condition or one of {[a for a in axes if a != 'seed']}")
            if all(_matches(d[k], v) for k, v in sel.items()):
                settings.setdefault(spec, []).append(key[:-1])
                for s, m in seeds.items():
                    vals.setdefault(s, []).append(m[metric])
        if not vals:
            raise ValueError(f"{spec!r} matches no stored run")
        return {s: float(np.nanmean(v)) for s, v in vals.items()}

    settings: dict = {}
    va, vb = pick(a), pick(b)
    for spec in (a, b):  # both selections are valid; now: did the instrument work in them?
        for key in settings[spec]:
            v = verdicts.get(key)
            if v is not None and v.status == "FAIL" and not allow_invalid:
                raise InvalidSetting(
                    f"{spec!r} includes the setting {v.label()}, which failed the validity "
                    f"gate ({v.reason()}): the instrument did not work there, so an effect "
                    f"measured against it is not a finding. Fix the setting (docs/validity.md), "
                    f"or pass --allow-invalid to compare anyway.")
    res = compare_paired(va, vb, a, b, metric)
    weak = gate.weak_note(verdicts, settings[a] + settings[b])
    if weak:
        res.warning = "; ".join(w for w in (res.warning, weak) if w)
    return res


def rows_from_metrics(path: str) -> tuple:
    """The runs of a committed metrics.csv.xz as store-like rows (per-checkpoint curves of every
    metric; no monitor), and the sweep's axes: the columns between `seed` and `condition`."""
    import csv
    with lzma.open(path, "rt", newline="") as f:
        recs = list(csv.DictReader(f))
    if not recs:
        raise ValueError(f"{path} holds no runs")
    cols = list(recs[0])
    axes = cols[cols.index("seed") + 1:cols.index("condition")]
    num = lambda v: float(v) if v not in ("", "None") else float("nan")  # noqa: E731
    runs: dict = {}
    for r in recs:
        run = runs.setdefault(r["hash"], {"hash": r["hash"], "status": r["status"],
                                          "config": {"seed": int(r["seed"]), **{a: _value(r[a]) for a in axes}},
                                          "result": {"steps": [], "conditions": {}}})
        m = run["result"]["conditions"].setdefault(r["condition"], {})
        if r["condition"] == next(iter(run["result"]["conditions"])):
            run["result"]["steps"].append(int(r["step"]))
        for k in cols[cols.index("step") + 1:]:
            m.setdefault(k, []).append(num(r[k]))
    return list(runs.values()), axes


def monitor_rows(path: str, axes: list) -> list:
    """The committed monitor.csv (per setting and fact group; none: an empty list)."""
    import ast
    import csv

    from .tables import _hashable
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        recs = list(csv.DictReader(f))
    out = []
    for r in recs:
        rec = {a: (ast.literal_eval(r[a]) if r[a].startswith("(") else _hashable(_value(r[a])))
               for a in axes if a in r}
        rec["group"] = r["group"]
        rec["answered"] = float(r["answered"]) if r["answered"] not in ("", "nan") else float("nan")
        out.append(rec)
    return out


def attach_claims(rows: list, path: str) -> None:
    """Give the runs read from metrics.csv.xz their claims' final values from the committed
    claims.csv.xz (`tables.claim_records`), as a one-checkpoint `claims` entry."""
    import csv
    with lzma.open(path, "rt", newline="") as f:
        recs = list(csv.DictReader(f))
    by_hash = {r["hash"]: r for r in rows}
    cols = list(recs[0]) if recs else []
    num = lambda v: float(v) if v not in ("", "None") else float("nan")  # noqa: E731
    for rec in recs:
        run = by_hash.get(rec["hash"])
        if run is None:
            continue
        m = run["result"].setdefault("claims", {}).setdefault(rec["condition"], {})
        for k in cols[cols.index("claim") + 1:]:
            m.setdefault(k, [[]])[0].append(num(rec[k]))


def rows_from_folder(out: str) -> tuple:
    """(rows, axes, has_runs) of a finished sweep's committed files: from `runs.jsonl.xz` where
    the folder has one (0.6.0: every run's monitor too), else from `metrics.csv.xz` and
    `claims.csv.xz` alone."""
    rows, axes = rows_from_metrics(os.path.join(out, "metrics.csv.xz"))
    has_runs = os.path.isfile(os.path.join(out, "runs.jsonl.xz"))
    if has_runs:
        rows = rows_from_outputs(out)
    elif os.path.isfile(os.path.join(out, "claims.csv.xz")):
        attach_claims(rows, os.path.join(out, "claims.csv.xz"))
    return rows, [a for a in axes if a != "seed"], has_runs


def check_folder(out: str) -> str:
    """The gate of a committed folder judged seed by seed, as text (nothing written): each
    setting's verdict and every seed that fails, with why."""
    rows, axes, has_runs = rows_from_folder(out)
    mon = None if has_runs else monitor_rows(os.path.join(out, "monitor.csv"), axes)
    _, _, _, vs = judge(rows, axes, mon, metrics=("belief", "icl"))
    lines = [f"{out}: {len(rows)} run(s)" + ("" if has_runs else " (no per-run monitor: seeds "
                                                                  "judged without it)")]
    for v in vs.values():
        why = v.reason() if v.status == "FAIL" else v.weak_reason()
        kept_n = (f"all {v.total_seeds} seeds kept (a FAIL drops none)" if v.too_many_failed
                  else f"{v.total_seeds - len(v.failed_seeds)} of {v.total_seeds} seeds kept")
        lines.append(f"  {v.label()}: {v.status}" + (f" ({why})" if why else "") + f"; {kept_n}")
        lines += [f"    seed {s}: {w}" for s, w in sorted(v.failed_seeds.items())]
    return "\n".join(lines)


def _canonical_sweep(name: str):
    """The canonical sweep file of that name (its hypotheses), or None."""
    try:
        return sweepfile.load(sweepfile.resolve(name))
    except sweepfile.SweepError:
        return None


def _value(v: str):
    """An axis value as metrics.csv.xz wrote it: a list joined by '+', a number, a bool, text."""
    if "+" in v and not v.lstrip("+-").replace(".", "").replace("e", "").isdigit():
        return [_value(x) for x in v.split("+")]
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(v, v)


def main(argv=None) -> int:
    """`python -m toyneg.report FOLDER...`: redraw the figures of finished sweeps from their
    committed metrics.csv.xz, with no store and no training (the sweep command draws the same
    figures from its store, and writes the tables and report too)."""
    import argparse
    import sys
    p = argparse.ArgumentParser(prog="python -m toyneg.report", description=main.__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="sweep output folders holding metrics.csv.xz")
    p.add_argument("--check", action="store_true",
                   help="print each folder's gate, seed by seed, and write nothing")
    args = p.parse_args(argv)
    for out in args.folders:
        if args.check and os.path.isfile(os.path.join(out, "metrics.csv.xz")):
            print(check_folder(out))
            continue
        path = os.path.join(out, "metrics.csv.xz")
        if not os.path.isfile(path):
            print(f"error: {path} does not exist: pass the output folder of a finished sweep.",
                  file=sys.stderr)
            return 2
        all_rows, axes, has_runs = rows_from_folder(out)
        name = os.path.basename(os.path.normpath(out))
        mon = None if has_runs else monitor_rows(os.path.join(out, "monitor.csv"), axes)
        rows, summ, _, verdicts = judge(all_rows, axes, mon)
        _write(out, "gate.md", _gate_page(name, verdicts))
        figs, _ = figures(name, out, rows, axes, summ)
        _prune(out, figs)
        said = ""
        sweep = _canonical_sweep(name)
        if sweep is not None and sweep.hypotheses:
            looks = decide.plan_looks(sweep.decide, len(sweep.hypotheses))
            results = decide.evaluate(rows, axes, sweep.hypotheses, looks, verdicts, all_rows=all_rows)
            _write(out, "verdicts.md", decide.page(name, results, looks, f"python -m toyneg.report {out}"))
            said = "; verdicts " + ", ".join(f"{r.hypothesis.name}: {r.verdict}" for r in results)
        print(f"{out}: gate {', '.join(f'{v.label()}: {v.status}' for v in verdicts.values())}; "
              f"redrew {', '.join(sorted(figs.values()))} from {len(rows)} run(s){said}")
        for line in gate.warnings_for(verdicts, name):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

