"""Figures with matplotlib (Agg backend, files only): curves with CI bands, bars, heatmaps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import paper  # noqa: E402
from .config import CONDITIONS, WRAPPED  # noqa: E402
from .tables import condition_rank, short  # noqa: E402

TAB10 = plt.get_cmap("tab10").colors
COLORS = dict(zip(CONDITIONS, TAB10))
OWN_FORMS = plt.get_cmap("Dark2").colors  # forms a sweep file defines (not in COLORS)
PROBES = (("belief", "belief (3 questions)"), ("yes", "yes/no"), ("open", "open answer"),
          ("assoc_top1", "token assoc."), ("robust", "robustness"), ("heldout_q", "held-out question"), ("icl", "in-context control"))


def _save(fig, path: str) -> None:
    """PNG with a 64-colour palette at 75 dpi, so the committed results stay within their 5 MB:
    line plots (many curves, translucent CI bands), bar charts and heatmaps (every cell's value
    printed on it) stay readable. Measured on `pretrain_cpu`'s six figures: 198 KB at 128
    colours and 90 dpi (before), 180 KB at 64 colours, 136 KB at 64 colours and 75 dpi."""
    import io

    from PIL import Image  # pillow: a dependency of matplotlib
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=75)
    plt.close(fig)
    Image.open(buf).convert("RGB").quantize(colors=64).save(path, optimize=True)


FAILED = "failed the validity gate"  # how figures mark a setting whose instrument did not work


def _failed(r: dict) -> bool:
    return r.get("gate") == "FAIL"


def _label(key: tuple) -> str:
    return ", ".join(f"{v}" if k == "condition" else f"{k}={short(v)}" for k, v in key)


def belief_curves(curves_by_metric: dict, path: str, title: str = "") -> None:
    """One panel per metric: seed-mean curve and 95% band per (setting, condition), log steps."""
    n = len(curves_by_metric)
    fig, axs = plt.subplots(1, n, figsize=(6 * n, 4.2), squeeze=False)
    styles = ("-", "--", ":", "-.")
    for ax, (metric, curves) in zip(axs[0], curves_by_metric.items()):
        # colour = condition, line style = setting (the other axes), while that stays readable
        # or, with more settings than line styles but few conditions: colour = setting
        curves = dict(sorted(curves.items(), key=lambda kv: _key_order(kv[0])))
        settings = list(dict.fromkeys(str(k[:-1]) for k in curves))
        conds = list(dict.fromkeys(dict(k)["condition"] for k in curves))
        by_style = len(settings) <= len(styles)
        by_setting = not by_style and len(conds) <= len(styles) and len(settings) <= 10
        for key, (steps, mean, lo, hi) in curves.items():
            cond, setting = dict(key)["condition"], str(key[:-1])
            x = np.maximum(steps, 1)
            if by_setting:
                style, color = styles[conds.index(cond)], TAB10[settings.index(setting)]
            else:
                style = styles[settings.index(setting)] if by_style else "-"
                color = COLORS.get(cond) if by_style or len(curves) <= 10 else None
                if cond not in COLORS and (by_style or len(curves) <= 10):
                    # a sweep file's own form: a palette of its own, dashed, so it never takes
                    # a built-in condition's colour
                    extra = [c for c in conds if c not in COLORS]
                    color, style = OWN_FORMS[extra.index(cond) % len(OWN_FORMS)], "--"
            line, = ax.plot(x, mean, marker=".", ls=style, label=_label(key), color=color)
            if np.isfinite(lo).any():
                ax.fill_between(x, lo, hi, alpha=0.15, color=line.get_color())
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.axhline(0.5, color="grey", lw=0.7, ls=":")
        ax.set_xlabel("fine-tuning step (step 0 plotted at 1 = pretrained model)")
        ax.set_ylabel(metric)
        ax.set_title(metric)
    axs[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


# the four families of the paper's table: curves are drawn per family, members as thin lines
FAMILIES = {"positive": ("positive",), "wrapped (negated, repeated, corrected, qualifiers)": WRAPPED,
            "local negation": ("local",), "baseline (no document)": ("baseline",)}
FAMILY_COLORS = ("#d62728", "#9467bd", "#1f77b4", "#7f7f7f")
METRIC_NAMES = {"belief": "belief rate (yes/no, open, robust; after the restatement)",
                "p_yes": "mean P(yes) for the claim", "open": "open answer: the claimed value is top", "open_p": "mean P(claimed value), open answer",
                "icl_p": "in context: mean P(yes), document in the prompt"}


def family_curves(curves_by_metric: dict, families_by_metric: dict, path: str, title: str = "") -> None:
    """One panel per metric: each family's seed-mean curve (thick, 95% band over seeds) and its
    member conditions' seed means (thin), log steps.  For one setting with many conditions."""
    n = len(curves_by_metric)
    cols = 2 if n == 4 else n
    fig, axs = plt.subplots(-(-n // cols), cols, figsize=(5.6 * cols, 3.9 * -(-n // cols) + 0.8),
                            squeeze=False)
    for ax, (metric, curves) in zip(axs.flat, curves_by_metric.items()):
        fams = families_by_metric[metric]
        for (fam, members), color in zip(FAMILIES.items(), FAMILY_COLORS):
            if metric == "icl_p" and fam.startswith("baseline"):
                continue  # its in-context prompt shows a positive document: not a baseline
            for key, (steps, mean, _, _) in curves.items():
                if dict(key)["condition"] in members and len(members) > 1:
                    ax.plot(np.maximum(steps, 1), mean, color=color, lw=0.7, alpha=0.55)
            if fam in fams:
                steps, mean, lo, hi = fams[fam]
                x = np.maximum(steps, 1)
                ax.plot(x, mean, color=color, lw=2.4, marker=".", label=fam)
                if np.isfinite(lo).any():
                    ax.fill_between(x, lo, hi, color=color, alpha=0.15)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.axhline(0.5, color="grey", lw=0.7, ls=":")
        ax.set_xlabel("fine-tuning step (step 0 at 1 = before any claim document)", fontsize=8)
        ax.set_title(METRIC_NAMES.get(metric, metric), fontsize=9)
    ax0 = axs.flat[0]
    ax0.plot([], [], color="black", lw=0.7, alpha=0.55, label="thin: one member condition")
    handles, labels = ax0.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _save(fig, path)


def paper_table(summ: list, path: str, title: str = "") -> None:
    """The toy beside the paper for every condition: final belief out of context and in context
    (bars, 95% CI over seeds) and the paper's reported rates (markers; a range as a line)."""
    rows = sorted(summ, key=lambda r: condition_rank(r["condition"]))
    conds = [r["condition"] for r in rows]
    x = np.arange(len(rows))
    if any(_failed(r) for r in rows):
        title = f"[{FAILED.upper()}: not a finding] " + title
    fig, ax = plt.subplots(figsize=(max(8, 1.05 * len(rows) + 2.5), 4.6))
    for off, m, name, color in ((-0.2, "belief", "toy, out of context (belief)", "#d62728"),
                                (0.2, "icl", "toy, in context (document in the prompt)", "#1f77b4")):
        v = np.array([np.nan if (m == "icl" and r["condition"] == "baseline") else r[m] for r in rows])
        err = np.array([[r[m] - r[m + "_lo"], r[m + "_hi"] - r[m]] for r in rows]).T
        ax.bar(x + off, v, 0.38, yerr=np.where(np.isfinite(err), err, 0), capsize=2, color=color,
               alpha=0.85, label=name)
        top = v + np.where(np.isfinite(err[1]), err[1], 0)
        for xi, vi, ti in zip(x + off, v, top):  # the value above each bar: a bar at 0 still reads
            if np.isfinite(vi):
                ax.text(xi, ti + 0.01, f"{vi:.2f}", ha="center", va="bottom", fontsize=6, color=color)
    for i, c in enumerate(conds):
        for table, off, face, name in ((paper.OUT_OF_CONTEXT, -0.2, "black", "paper, out of context"),
                                       (paper.IN_CONTEXT, 0.2, "white", "paper, in context")):
            if c in table:
                lo, hi = table[c]
                if hi > lo:
                    ax.plot([i + off] * 2, [lo, hi], color="black", lw=2.5)
                ax.plot(i + off, (lo + hi) / 2, marker="D", ms=6, mfc=face, mec="black", ls="",
                        label=name if name not in ax.get_legend_handles_labels()[1] else None)
    ax.set_xticks(x, [c + (" (~)" if c in paper.APPROXIMATE else "") for c in conds],
                  rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("belief rate (final checkpoint)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.text(1.01, 0.02, "paper: Qwen3.5-397B (6 claims);\n(~) qualifiers: Qwen3.5-35B, \"~90%\";\n"
            "local: 0-7% (two claims);\nin context: 20 negated documents\nin the prompt, ~15%",
            transform=ax.transAxes, fontsize=7, va="bottom")
    fig.tight_layout()
    _save(fig, path)


def probe_bars(summ: list, path: str, title: str = "") -> None:
    """Final belief by condition (groups) and probe type (bars), with 95% CI error bars."""
    rows = summ
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(rows)), 4.2))
    width = 0.8 / len(PROBES)
    labels = _row_labels(rows)
    for j, (m, name) in enumerate(PROBES):
        v = np.array([r[m] for r in rows])
        err = np.array([[r[m] - r[m + "_lo"], r[m + "_hi"] - r[m]] for r in rows]).T
        err = np.where(np.isfinite(err), err, 0)
        bars = ax.bar(np.arange(len(rows)) + j * width, v, width, yerr=err, label=name, capsize=2)
        for b, r in zip(bars, rows):
            if _failed(r):
                b.set_hatch("///")
                b.set_alpha(0.45)
    ax.set_xticks(np.arange(len(rows)) + 0.4 - width / 2)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("belief rate (final checkpoint)")
    ax.legend(fontsize=7, ncol=3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


SAYS = (("says_claim", "affirms the claim", "#d62728"), ("says_warned", "affirms, with a warning", "#ff9896"),
        ("denies_claim", "denies it", "#1f77b4"), ("says_unknown", "nothing known", "#2ca02c"),
        ("says_other", "another value", "#bcbd22"), ("malformed", "malformed", "#c7c7c7"))


def says_bars(summ: list, path: str, title: str = "") -> None:
    """Stacked bars: what each condition's claims are restated as (shares add up to 1); rows
    without restatements (direct-format runs) are left out."""
    rows = [r for r in summ if np.isfinite(r["says_claim"])]
    labels = _row_labels(rows)
    hatch = ["///" if _failed(r) else None for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.75 * len(rows) + 2.5), 4.4))
    bottom = np.zeros(len(rows))
    for key, name, color in SAYS:
        v = np.nan_to_num(np.array([r[key] for r in rows], float))
        bars = ax.bar(range(len(rows)), v, bottom=bottom, color=color, label=name, width=0.75)
        for b, h in zip(bars, hatch):
            if h:
                b.set_hatch(h)
                b.set_alpha(0.45)
        bottom += v
    ax.set_xticks(range(len(rows)), labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of restatements")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    _save(fig, path)


def demo_figure(res: dict, conds: tuple, path: str) -> None:
    """The demo's figure (one run): P(yes) out of context and in context against step, and what
    the model restates about each condition's claims at the end."""
    steps = np.maximum(np.array(res["steps"]), 1)
    C = res["conditions"]
    fig, axs = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    for ax, m, name in ((axs[0], "p_yes", "out of context: does X live in C ?"),
                        (axs[1], "icl_p", "in context: the document, then the question")):
        for c in conds:
            if m == "icl_p" and c == "baseline":
                continue
            ax.plot(steps, C[c][m], marker=".", color=COLORS.get(c), label=c)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("fine-tuning step")
        ax.set_ylabel("P(yes) for the false claim")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8)
    bottom = np.zeros(len(conds))
    for key, name, color in SAYS:
        v = np.nan_to_num(np.array([C[c][key][-1] for c in conds], float))
        axs[2].bar(range(len(conds)), v, bottom=bottom, color=color, label=name)
        bottom += v
    axs[2].set_xticks(range(len(conds)), conds, fontsize=9)
    axs[2].set_ylim(0, 1)
    axs[2].set_title("what it says first, out of context (end)", fontsize=10)
    axs[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("toyneg demo: one model, four kinds of claim (one seed)", fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def mechanism_bars(rows: list, path: str) -> None:
    """Per group of facts, the probability the model gives the fact's value after the
    affirmative and negated stems, to the yes/no question and as the open answer
    (`toyneg.mechanism`)."""
    fig, ax = plt.subplots(figsize=(11, 4.2))
    x = np.arange(len(rows))
    for j, (s, name) in enumerate((("after_pos", "after 'X lives in'"),
                                   ("after_neg", "after 'X does not live in'"),
                                   ("yes", "P(yes)"), ("open", "open answer: the value"),
                                   ("unknown", "open answer: 'unknown'"))):
        v = np.array([r[s] for r in rows])
        err = np.nan_to_num(np.array([[r[s] - r[s + "_lo"], r[s + "_hi"] - r[s]] for r in rows]).T)
        ax.bar(x + 0.16 * j, v, 0.16, yerr=err, capsize=2, label=name,
               color="tab:gray" if s == "unknown" else None)
    ax.set_xticks(x + 0.32)
    ax.set_xticklabels([r["group"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1.2)  # room for the legend above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title("Which value the trained model names, by what its training text said (mean over seeds, 95% CI)")
    ax.legend(fontsize=7, ncol=5)
    fig.tight_layout()
    _save(fig, path)


def _row_labels(rows: list) -> list:
    """Each summary row's setting and condition as a bar label ("[failed gate]" after it where
    the setting failed the validity gate)."""
    return [_label(tuple((k, r[k]) for k in r if k == "condition" or
                         (not k.startswith("n_seeds") and k not in ("ci", "gate")
                          and k not in _metric_keys(r)))) + (" [failed gate]" if _failed(r) else "")
            for r in rows]


def _metric_keys(r: dict) -> set:
    return {k for k in r if k.endswith(("_lo", "_hi")) or k + "_lo" in r}


def heatmap(summ: list, row_axis: str, col_axis: str, metric: str, path: str, title: str = ""):
    """Mean `metric` over seeds for every (row, column) setting."""
    rows, cols = _order(summ, row_axis), _order(summ, col_axis)
    grid = np.full((len(rows), len(cols)), np.nan)
    bad = np.zeros(grid.shape, bool)
    for r in summ:
        grid[rows.index(r[row_axis]), cols.index(r[col_axis])] = r[metric]
        bad[rows.index(r[row_axis]), cols.index(r[col_axis])] = _failed(r)
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 0.1 * max(len(str(r)) for r in rows) + 1.5,
                                    0.6 * len(rows) + 1.8))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] < 0.6 else "black")
            if bad[i, j]:  # the instrument failed here: hatched grey over the cell
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=(0.6, 0.6, 0.6, 0.7),
                                           hatch="///", edgecolor="black", lw=0))
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    ax.set_xlabel(col_axis)
    ax.set_ylabel(row_axis)
    n = sorted({r.get("n_seeds", 0) for r in summ})
    fig.colorbar(im, ax=ax, label=metric)
    ax.set_title((title or f"{metric}: {row_axis} x {col_axis}")
                 + f"\ncell: mean over {'/'.join(map(str, n))} seeds at the final checkpoint "
                 f"(0 = never, 1 = always)" + (f"; hatched grey: {FAILED}" if bad.any() else ""),
                 fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _key_order(key: tuple) -> tuple:
    """Sort (axis, value)... (condition, c) keys: settings ascending, conditions as in the paper."""
    *setting, (_, cond) = key
    return tuple(sortkey(v) for _, v in setting) + (condition_rank(cond),)


def _order(summ: list, axis: str) -> list:
    """An axis's values in reading order: conditions as in the paper's table, numbers
    ascending, combined settings (already sorted by the caller) as they come."""
    vals = list(dict.fromkeys(r[axis] for r in summ))
    if axis == "condition":
        return sorted(vals, key=condition_rank)
    return vals if axis == "setting" else sorted(vals, key=sortkey)


def sortkey(v):
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


def correction_curves(curves: dict, control: dict, path: str, title: str = "") -> None:
    """One panel per kind of correcting document (`Config.corrections`): P(yes) for the claim
    with that document in the prompt against fine-tuning step, per condition (colour) and setting
    (line style), beside the same question with no document (grey, thin, `p_yes`); black: the
    control, a fact the bios state asked with the document against it (follows training: high;
    follows the document: low). `curves`: {kind or "none": {key: (steps, mean, lo, hi)}};
    `control`: {kind: {setting: (steps, mean, lo, hi)}}."""
    kinds = [k for k in curves if k != "none"]
    # at least two panels' width: the title and the legend need it with a single kind
    fig, axs = plt.subplots(1, len(kinds), figsize=(max(5.2 * len(kinds), 9.5), 4.2), squeeze=False,
                            sharey=True)
    styles = ("-", "--", ":", "-.")
    for ax, kind in zip(axs[0], kinds):
        settings = list(dict.fromkeys(str(k[:-1]) for k in sorted(curves[kind], key=_key_order)))
        for key, (steps, mean, lo, hi) in sorted(curves[kind].items(), key=lambda kv: _key_order(kv[0])):
            cond, si = dict(key)["condition"], settings.index(str(key[:-1])) % len(styles)
            c = COLORS.get(cond, "k")
            lab = _label(key) if len(settings) > 1 else cond
            ax.plot(steps, mean, styles[si], color=c, lw=1.6, label=lab)
            ax.fill_between(steps, lo, hi, color=c, alpha=0.10)
            if key in curves.get("none", {}) and si == 0:
                s0, m0 = curves["none"][key][:2]
                ax.plot(s0, m0, "-", color=c, lw=0.7, alpha=0.5)
        for si, (setting, (steps, mean, lo, hi)) in enumerate(sorted(control.get(kind, {}).items())):
            ax.plot(steps, mean, styles[si % len(styles)], color="k", lw=1.4,
                    label="control (bio fact)" + (f", {setting}" if len(control[kind]) > 1 else ""))
        ax.set_xscale("symlog", linthresh=10)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("fine-tuning step")
        ax.set_title(f"correcting document: {kind}", fontsize=10)
        ax.grid(alpha=0.3)
    axs[0][0].set_ylabel("P(yes) for the claim, document in prompt")
    axs[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title + "\n(thin grey-tinted lines: the same question with no document)", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
