"""The emergence map's arithmetic and figures on hand-made runs (no training): which world
fills which cell, the boundary, the table, and that both figures are drawn."""

import numpy as np

from toyneg import emergence, tables

FORMS = ("local_own", "prefix_false", "negated")
STEPS = [0, 10, 100]


def _run(bio_forms, deny_frac, seed, belief):
    """A stored run whose every probe of form f ends at belief[f] (0.5 at step 0)."""
    conds = {}
    for f in ("positive",) + FORMS:
        b = belief.get(f, 0.9)
        m = {k: [0.5, (0.5 + b) / 2, b] for k in ("yes", "open", "robust", "p_yes", "denies_claim")}
        m.update(grad_cos=[0.0, 0.5, 0.9], value_loss=[2.0, 1.0, 0.5], value_loss_pos=[2.0, 0.8, 0.2])
        conds[f] = m
    claims = {f: {k: [[v, v] for v in conds[f][k][:-1]] + [[belief.get(f, 0.9) - 0.05, belief.get(f, 0.9) + 0.05]]
                  for k in ("yes", "open", "robust", "denies_claim")} for f in conds}
    return {"status": "done", "config": {"bio_forms": list(bio_forms), "deny_frac": deny_frac, "seed": seed},
            "result": {"steps": STEPS, "conditions": conds, "claims": claims}}


def _rows():
    rows = []
    for seed in (0, 1, 2):
        rows.append(_run((), 0.6, seed, {"local_own": 0.8, "prefix_false": 0.9, "negated": 0.9}))
        rows.append(_run(("local_own",), 0.6, seed, {"local_own": 0.3}))
        rows.append(_run(("local_own",), 0.9, seed, {"local_own": 0.1}))
        rows.append(_run(("prefix_false",), 0.6, seed, {"prefix_false": 0.6}))
        rows.append(_run(("prefix_false",), 0.9, seed, {"prefix_false": 0.4}))
    return rows


def test_each_world_fills_its_own_forms_cells_and_the_boundary_is_read_in_order():
    axes = ["bio_forms", "deny_frac"]
    summ = tables.summary(_rows(), axes)
    c = emergence.cells(summ, "belief")
    assert np.isclose(c[("local_own", "absent")][0], 0.8)
    assert np.isclose(c[("local_own", "today")][0], 0.3) and np.isclose(c[("local_own", "higher")][0], 0.1)
    assert np.isclose(c[("prefix_false", "today")][0], 0.6) and np.isclose(c[("prefix_false", "higher")][0], 0.4)
    # a world that drills another form never fills this form's cells
    assert ("negated", "today") not in c and ("negated", "higher") not in c
    b = emergence.boundary(c, emergence.forms_in(summ))
    # absent: local_own is already believed; today: prefix_false (0.6) after local_own (0.3);
    # higher: every measured form is learned, and an unmeasured one (negated) is not counted
    assert b == {"absent": "local_own", "today": "prefix_false", "higher": None}
    md = emergence.markdown(summ)
    assert "| local_own | 0.80" in md and "today: prefix_false; higher: none" in md
    # drilled - absent, resampling both worlds: local_own 0.3 - 0.8 and 0.1 - 0.8; claims
    # spread +-0.05 around each mean, so the CI is as wide as that spread allows
    d = emergence.differences(_rows(), axes)
    assert np.isclose(d[("local_own", "today")][0], -0.5) and np.isclose(d[("local_own", "higher")][0], -0.7)
    assert -0.6 <= d[("local_own", "today")][1] < -0.5 < d[("local_own", "today")][2] <= -0.4
    assert ("negated", "today") not in d  # no world drills it
    # against the same form in the world that drills the other form at that share (0.9 each)
    assert np.isclose(d[("local_own", "higher_vs_others")][0], 0.1 - 0.9)
    assert np.isclose(d[("prefix_false", "higher_vs_others")][0], 0.4 - 0.9)
    md = emergence.markdown(summ, _rows(), axes)
    assert "| local_own | -0.50 [" in md and "| -0.80 [" in md and "| 0.90 / 0.90 / 0.90 |" in md


def test_both_figures_are_drawn(tmp_path):
    axes = ["bio_forms", "deny_frac"]
    rows = _rows()
    summ = tables.summary(rows, axes)
    emergence.figure(summ, rows, axes, str(tmp_path / "e.png"))
    emergence.mechanics_figure(rows, axes, str(tmp_path / "m.png"))
    assert (tmp_path / "e.png").stat().st_size > 10_000 and (tmp_path / "m.png").stat().st_size > 10_000
