"""The emergence map: where neglect begins, form by form, under equal bio supervision.

A sweep that hosts the ordered family of negation forms (`forms.EMERGENCE`) and varies the
form bios deny in (`bio_forms`) and how many facts they deny (`deny_frac`) is read here as a
map: rows are the forms in order, from inside the sentence to around the document; columns are
that same form's supervision in the bios, absent (bios state no denials), at 0.4.0's share and
at a higher share; a cell is the belief in the form's claims (or how often they are restated as
denials), with its CI over seeds and claims.  The sweep's report draws it (`emergence.png`) and
tabulates it (`emergence.md`) whenever `bio_forms` is a varying axis.

The boundary is stated mechanically: per supervision column, the first form in the order whose
belief is 0.5 or more (neglected), and whether the forms before it are learned (below 0.5).
"""

from __future__ import annotations

import numpy as np

from .forms import EMERGENCE
from .tables import curves as _curves

COLUMNS = ("absent", "today", "higher")
COLUMN_NAMES = {"absent": "bios deny nothing", "today": "bios deny in this form\n(0.4.0's share)",
                "higher": "bios deny in this form\n(higher share)"}


def cells(summ: list, metric: str = "belief") -> dict:
    """{(form, column): (mean, lo, hi)} of `metric` from a summary whose settings are
    (bio_forms, deny_frac): "absent" is the world whose bios deny nothing, "today" the one
    whose bios deny in the form at the smallest share swept with it, "higher" at the largest."""
    out = {}
    shares: dict = {}
    for r in summ:
        bf = tuple(r.get("bio_forms") or ())
        if len(bf) == 1:
            shares.setdefault(bf[0], set()).add(float(r.get("deny_frac", 0.6)))
    for r in summ:
        form, bf = r["condition"], tuple(r.get("bio_forms") or ())
        val = (r[metric], r[metric + "_lo"], r[metric + "_hi"])
        if not bf:
            out[(form, "absent")] = val
        elif bf == (form,) and len(shares.get(form, ())) >= 1:
            s = float(r.get("deny_frac", 0.6))
            col = "today" if s == min(shares[form]) else "higher" if s == max(shares[form]) else None
            if col:
                out[(form, col)] = val
    return out


def forms_in(summ: list) -> list:
    hosted = {r["condition"] for r in summ}
    return [f for f in EMERGENCE if f in hosted]


def boundary(belief: dict, forms: list) -> dict:
    """Per column: the first form, in the order, believed 0.5 or more (None: none is)."""
    out = {}
    for col in COLUMNS:
        first = None
        for f in forms:
            m = belief.get((f, col), (np.nan,))[0]
            if np.isfinite(m) and m >= 0.5:
                first = f
                break
        out[col] = first
    return out


def differences(rows: list, axes: list, metric: str = "belief") -> dict:
    """{(form, column): (drilled - absent, lo, hi)}: how far drilling a form in the bios moves
    its claims' `metric` from the world whose bios deny nothing (`stats.difference_ci`: the two
    worlds resampled independently, seeds then claims)."""
    from .stats import difference_ci
    from .tables import per_claim
    pc = per_claim(rows, axes)
    by = {}
    for key, seeds in pc.items():
        d = dict(key)
        by[(tuple(d.get("bio_forms") or ()), float(d.get("deny_frac", 0.6)), d["condition"])] = \
            [seeds[s][metric] for s in sorted(seeds) if metric in seeds[s]]
    shares: dict = {}
    for bf, share, _ in by:
        if len(bf) == 1:
            shares.setdefault(bf[0], set()).add(share)
    out = {}
    for form, ss in shares.items():
        absent = [v for (bf, _, c), v in by.items() if not bf and c == form]
        for col, share in (("today", min(ss)), ("higher", max(ss))):
            drilled = by.get(((form,), share, form))
            if not drilled:
                continue
            if absent:
                out[(form, col)] = difference_ci(drilled, absent[0])
            # within the share: the same form's claims in the worlds that drill another form
            # at that share (every seed of each: a drift of every belief toward "no" that
            # drilling any form brings is in both sides)
            others = [g for (bf, s2, c), v in by.items() if len(bf) == 1 and bf != (form,)
                      and s2 == share and c == form for g in v]
            if others:
                out[(form, col + "_vs_others")] = difference_ci(drilled, others)
    return out


def markdown(summ: list, rows: list | None = None, axes: list | None = None) -> str:
    """The map as tables (belief, restated as a denial, the CIs' half-widths), the boundary,
    and (given the runs) how far drilling each form moves its belief from the world whose bios
    deny nothing, beside positive claims' belief in the same worlds."""
    forms = forms_in(summ)
    belief, denies = cells(summ, "belief"), cells(summ, "denies_claim")
    lines = ["| form (inside -> outside) | " + " | ".join(f"belief: {c}" for c in COLUMNS) + " | "
             + " | ".join(f"denial: {c}" for c in COLUMNS) + " |", "|---" * (1 + 2 * len(COLUMNS)) + "|"]

    def fmt(v):
        if v is None or not np.isfinite(v[0]):
            return "n/a"
        return f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]" if np.isfinite(v[1]) else f"{v[0]:.2f}"
    for f in forms:
        lines.append(f"| {f} | " + " | ".join(fmt(belief.get((f, c))) for c in COLUMNS) + " | "
                     + " | ".join(fmt(denies.get((f, c))) for c in COLUMNS) + " |")
    widths = [max(v[2] - v[0], v[0] - v[1]) for v in belief.values() if np.isfinite(v[1])]
    b = boundary(belief, forms)
    lines += ["", f"Largest belief CI half-width: {max(widths):.2f}" if widths else "",
              "", "Boundary (first form, inside to outside, believed >= 0.5): "
              + "; ".join(f"{c}: {b[c] or 'none'}" for c in COLUMNS) + "."]
    if rows is not None and axes:
        diff = differences(rows, axes)
        pos = {}
        for r in summ:  # positive claims' belief in each world: did belief fall everywhere?
            if r["condition"] == "positive":
                pos[(tuple(r.get("bio_forms") or ()), float(r.get("deny_frac", 0.6)))] = r["belief"]
        shares: dict = {}
        for bf, s in pos:
            if len(bf) == 1:
                shares.setdefault(bf[0], set()).add(s)
        lines += ["", "Drilling a form in the bios, against bios that deny nothing (belief in the "
                  "form's claims, drilled - absent, 95% CI resampling seeds and claims in both "
                  "worlds), against the same form's claims in the worlds that drill another form "
                  "at the same share, and positive claims' belief in the same world:", "",
                  "| form | today - absent | higher - absent | higher - other worlds at that share | positive: absent / today / higher |",
                  "|---|---|---|---|---|"]
        for f in forms:
            ss = sorted(shares.get(f, ()))
            p = [next((v for (bf, _), v in pos.items() if not bf), np.nan)] + \
                [pos.get(((f,), s), np.nan) for s in (ss[:1] + ss[-1:] if ss else [])]
            dfmt = lambda v: "n/a" if v is None else f"{v[0]:+.2f} [{v[1]:+.2f}, {v[2]:+.2f}]"  # noqa: E731
            lines.append(f"| {f} | {dfmt(diff.get((f, 'today')))} | {dfmt(diff.get((f, 'higher')))} | "
                         f"{dfmt(diff.get((f, 'higher_vs_others')))} | "
                         + " / ".join(f"{x:.2f}" for x in p) + " |")
    return "\n".join(lines) + "\n"


def figure(summ: list, rows: list, axes: list, path: str, title: str = "") -> None:
    """Two heatmaps (belief; restated as a denial) of form x supervision, and belief against
    fine-tuning step per form under each supervision, in one figure."""
    import matplotlib.pyplot as plt

    from .plots import _save
    forms = forms_in(summ)
    failed = cells([{**r, "failed": float(r.get("gate") == "FAIL"), "failed_lo": np.nan,
                     "failed_hi": np.nan} for r in summ], "failed")
    fig = plt.figure(figsize=(19, 0.55 * len(forms) + 4.8))
    gs = fig.add_gridspec(1, 4, width_ratios=[1, 1, 1, 1.3])
    for k, (metric, name) in enumerate((("belief", "belief in the form's claims (out of context)"),
                                        ("denies_claim", "restated as a denial"),
                                        ("icl", "in context: the document in the prompt"))):
        ax = fig.add_subplot(gs[0, k])
        c = cells(summ, metric)
        grid = np.array([[c.get((f, col), (np.nan,) * 3)[0] for col in COLUMNS] for f in forms])
        ax.imshow(grid, vmin=0, vmax=1, cmap={"belief": "viridis", "denies_claim": "cividis"}.get(metric, "magma"),
                  aspect="auto")
        for i, f in enumerate(forms):
            for j, col in enumerate(COLUMNS):
                m, lo, hi = c.get((f, col), (np.nan,) * 3)
                if np.isfinite(m):
                    half = f" ±{max(hi - m, m - lo):.2f}" if np.isfinite(lo) else ""
                    ax.text(j, i, f"{m:.2f}{half}", ha="center", va="center", fontsize=8,
                            color="white" if m < 0.6 else "black")
                if failed.get((f, col), (0,))[0] > 0:  # the instrument failed in that world
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=(0.6, 0.6, 0.6, 0.7),
                                               hatch="///", edgecolor="black", lw=0))
        ax.set_xticks(range(len(COLUMNS)), [COLUMN_NAMES[c] for c in COLUMNS], fontsize=7)
        ax.set_yticks(range(len(forms)), forms if k == 0 else [""] * len(forms), fontsize=8)
        ax.set_title(name, fontsize=9)
        if k == 0:
            ax.set_ylabel("where the negation sits (inside the sentence -> around the document)", fontsize=8)
    if any(v[0] > 0 for v in failed.values()):
        title = (title + "; " if title else "") + "hatched grey: the world failed the validity gate"
    ax = fig.add_subplot(gs[0, 3])
    cur = _curves(rows, axes, "belief")
    styles = {"absent": ":", "today": "--", "higher": "-"}
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(forms)))
    for key, (steps, mean, _, _) in cur.items():
        d = dict(key)
        f, bf = d["condition"], tuple(d.get("bio_forms") or ())
        if f not in forms:
            continue
        col = "absent" if not bf else None
        if bf == (f,):
            shares = sorted({float(dict(k2).get("deny_frac", 0.6)) for k2 in cur
                             if tuple(dict(k2).get("bio_forms") or ()) == (f,)})
            s = float(d.get("deny_frac", 0.6))
            col = "today" if s == shares[0] else "higher" if s == shares[-1] else None
        if col:
            ax.plot(np.maximum(steps, 1), mean, ls=styles[col], color=colors[forms.index(f)],
                    label=f"{f}, {col}" if col == "higher" or col == "absent" else None)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(0.5, color="grey", lw=0.7, ls=":")
    ax.set_xlabel("fine-tuning step", fontsize=8)
    ax.set_title("belief vs step (dotted: bios deny nothing; dashed: 0.4.0's share; solid: higher)",
                 fontsize=8)
    ax.legend(fontsize=6, ncol=2, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def mechanics_figure(rows: list, axes: list, path: str, title: str = "") -> None:
    """Per form, against fine-tuning step: belief, the cosine of its documents' gradient with
    their positive twins', and the claimed value's loss with the form's negation in view minus
    without it; top row in the world whose bios deny nothing, bottom row (where swept) in the
    world whose bios deny in that same form at the highest share."""
    import matplotlib.pyplot as plt

    from .plots import _save
    absent = [r for r in rows if not (r["config"].get("bio_forms") or [])]
    if not absent:
        return
    metrics = ("belief", "grad_cos", "value_loss", "value_loss_pos")
    worlds = {"bios deny nothing": {m: _curves(absent, [], m) for m in metrics}}
    drilled: dict = {}
    for r in rows:
        bf = tuple(r["config"].get("bio_forms") or ())
        if len(bf) == 1:
            drilled.setdefault(bf[0], {}).setdefault(float(r["config"].get("deny_frac", 0.6)), []).append(r)
    if drilled:
        worlds["bios deny in the form itself (highest share)"] = {
            m: {k: v for f, by in drilled.items() for k, v in _curves(by[max(by)], [], m).items()
                if dict(k)["condition"] == f} for m in metrics}
    forms = [f for f in EMERGENCE if any(dict(k)["condition"] == f for k in worlds["bios deny nothing"]["belief"])]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(forms)))
    fig, axs = plt.subplots(len(worlds), 3, figsize=(15, 4.0 * len(worlds)), squeeze=False)
    for row, (world, cur) in zip(axs, worlds.items()):
        for f, color in zip(forms, colors):
            key = (("condition", f),)
            if key not in cur["belief"]:
                continue
            steps = np.maximum(cur["belief"][key][0], 1)
            row[0].plot(steps, cur["belief"][key][1], color=color, marker=".", label=f)
            row[1].plot(steps, cur["grad_cos"][key][1], color=color, marker=".")
            row[2].plot(steps, cur["value_loss"][key][1] - cur["value_loss_pos"][key][1], color=color, marker=".")
        for ax, name in zip(row, ("belief", "cosine: gradient of its document vs its positive twin's",
                                  "claimed value's loss: negation in view minus without")):
            ax.set_xscale("log")
            ax.set_xlabel(f"fine-tuning step ({world})", fontsize=8)
            ax.set_title(name, fontsize=9)
        row[0].set_ylim(-0.02, 1.02)
        row[2].axhline(0, color="grey", lw=0.7)
        row[0].legend(fontsize=7)
    if title:
        fig.suptitle(title + " (mean over seeds)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
