"""The validity gate: its arithmetic on hand-made summaries, and a sweep that breaks the
instrument is warned about, marked, refused by --compare and re-judged from committed files."""

import os
import subprocess
import sys

import numpy as np

from toyneg.gate import THRESHOLDS, verdicts

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(HERE)


def row(cond, belief, icl, **axes):
    return {**axes, "condition": cond, "n_seeds": 3, "belief": belief, "icl": icl}


def test_verdicts_on_hand_made_summaries():
    summ = [row("positive", 0.95, 0.9, width=64), row("negated", 0.9, 0.0, width=64),
            row("local", 0.1, 0.05, width=64), row("baseline", 0.1, 0.95, width=64),
            row("positive", 0.46, 0.94, width=32), row("negated", 0.54, 0.0, width=32),
            row("negated", 0.9, 0.0, width=16)]
    mon = [{"width": 64, "group": "stated", "answered": 0.85}, {"width": 32, "group": "stated", "answered": 0.42},
           {"width": 64, "group": "denied", "answered": 0.1}]
    vs = verdicts(summ, mon, ["width"])
    ok, bad, bare = vs[(("width", 64),)], vs[(("width", 32),)], vs[(("width", 16),)]
    # each negating form judged on its own: the check reads the worst (local 0.05), not the mean
    assert ok.status == "pass" and ok.values["in_context_negated"] == 0.05 and ok.worst == "local"
    assert bad.status == "FAIL" and set(bad.failed) == {"monitor", "positive"}
    assert "positive 0.46 < 0.70" in bad.reason() and "monitor 0.42 < 0.65" in bad.reason()
    assert bare.status == "unchecked" and bare.passed("positive") is None
    # the thresholds hold at the boundary and fail just past it
    for check, (op, t) in THRESHOLDS.items():
        v = verdicts([row("positive", 0.9, 0.9), row("negated", 0.9, 0.0)],
                     [{"group": "stated", "answered": 0.9}], [])[()]
        v.values[check] = t
        assert v.passed(check)
        v.values[check] = t + (-0.01 if op == ">=" else 0.01)
        assert not v.passed(check)
        v.values[check] = np.nan
        assert v.passed(check) is None


def test_one_form_read_as_true_in_context_fails_however_many_forms_are_rejected():
    summ = [row("positive", 0.95, 0.95)] + [row(f"f{i}", 0.9, 0.0) for i in range(9)] + [row("bad", 0.9, 0.5)]
    v = verdicts(summ, [{"group": "stated", "answered": 0.9}], [])[()]
    assert v.status == "FAIL" and "in_context_negated (bad) 0.50 > 0.15" in v.reason()
    # the 0.5.0 gate averaged the forms: 0.05, a pass
    assert np.mean([0.0] * 9 + [0.5]) < THRESHOLDS["in_context_negated"][1]


def test_the_two_token_world_is_weak_and_the_reference_world_passes():
    """Issue #43's numbers: two-token names on the default recipe read monitor 0.74 and
    positive 0.78 (reference 0.89 and 0.95): above every floor, below the weak band (on
    positive belief; the monitor's band, from seeds, is 0.73)."""
    two = verdicts([row("positive", 0.78, 0.97), row("repeated", 0.48, 0.0)],
                   [{"group": "stated", "answered": 0.74}], [])[()]
    assert two.status == "weak" and not two.failed
    assert two.weak_reason() == "positive 0.78 < 0.80"
    low = verdicts([row("positive", 0.95, 0.97)], [{"group": "stated", "answered": 0.70}], [])[()]
    assert low.status == "weak" and low.weak_reason() == "monitor 0.70 < 0.73"
    ref = verdicts([row("positive", 0.95, 0.98), row("repeated", 0.9, 0.0)],
                   [{"group": "stated", "answered": 0.90}], [])[()]
    assert ref.status == "pass"
    from toyneg.gate import weak_note
    assert "is weak" in weak_note({(): two}, [()]) and weak_note({(): ref}, [()]) == ""


def _run(seed, pos_belief, pos_icl=1.0, monitor=0.9, neg_icl=0.0, **axes):
    """A hand-made stored run: positive and negated claims at two checkpoints."""
    from toyneg.probes import METRICS

    def cond(belief, icl):
        v = {m: [0.0, 0.5] for m in METRICS}
        for m in ("yes", "open", "robust"):
            v[m] = [0.0, belief]
        v["icl"] = [0.0, icl]
        return v

    return {"hash": f"h{seed}{axes}", "status": "done", "wall": 1.0,
            "config": {"seed": seed, **axes},
            "result": {"steps": [0, 10],
                       "conditions": {"positive": cond(pos_belief, pos_icl), "negated": cond(0.9, neg_icl)},
                       "monitor": {"stated": {"yes_ok": [0.0, monitor], "open_ok": [0.0, monitor], "n_facts": 60}}}}


def test_each_seed_is_judged_and_a_failing_seed_leaves_a_passing_setting():
    """results/names2's seed 314 (positive 0.67) hid inside a mean of 0.83: judged per seed it is
    named and dropped; a setting with too many failing seeds (2 of 3) FAILs whole."""
    from toyneg import tables
    from toyneg.gate import judge_seeds, keep_passing
    rows = [_run(s, b) for s, b in zip(range(5), (0.78, 1.0, 1.0, 0.72, 0.67))]
    judged = judge_seeds(rows, [])
    assert [bool(judged[()][s]) for s in range(5)] == [False, False, False, False, True]
    assert "positive 0.67 < 0.70" in judged[()][4]
    kept = keep_passing(rows, [], judged)
    assert sorted(r["config"]["seed"] for r in kept) == [0, 1, 2, 3]
    summ = tables.summary(kept, [])
    v = verdicts(summ, tables.monitor_summary(kept, []), [], judged)[()]
    assert v.status == "pass" and v.failed_seeds == {4: judged[()][4]} and v.n_seeds == 4
    assert "seed 4: positive 0.67 < 0.70" in __import__("toyneg.gate", fromlist=["markdown"]).markdown({(): v})
    # a form read as true in one seed's context, and a monitor that fails in one seed
    rows2 = [_run(0, 0.9, neg_icl=0.5), _run(1, 0.9, monitor=0.3), _run(2, 0.9)]
    j2 = judge_seeds(rows2, [])
    assert "in_context_negated (negated) 0.50 > 0.34" in j2[()][0] and "monitor 0.30" in j2[()][1]
    assert len(keep_passing(rows2, [], j2)) == 3  # 2 of 3 failed: the setting FAILs, all kept
    v2 = verdicts(tables.summary(rows2, []), tables.monitor_summary(rows2, []), [], j2)[()]
    assert v2.status == "FAIL" and "2 of 3 seeds failed" in v2.reason()
    from toyneg.gate import too_many
    assert [too_many(k, 6) for k in range(4)] == [False, False, True, True]
    assert [too_many(k, 15) for k in range(4)] == [False, False, False, True]
    assert too_many(1, 1) and not too_many(0, 0)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "toyneg.sweep", *args], cwd=ROOT, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, timeout=600)


def test_a_sweep_that_breaks_the_instrument_is_warned_marked_and_refused(tmp_path):
    """No fine-tuning steps: the model never learned its world (positive claims unread)."""
    sweep = tmp_path / "broken.toml"
    base = open(os.path.join(HERE, "data", "tiny.toml")).read().split("[axes]")[0]
    base = base.replace("pretrain_steps = 20", "pretrain_steps = 0").replace(
        "finetune_steps = 20", "finetune_steps = 0")
    sweep.write_text(base + "[axes]\nseed = [0, 1]\n")
    out = tmp_path / "out"
    r = cli(str(sweep), "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 1 and "failed the validity gate" in warn[0] and "positive" in warn[0]
    summary = (out / "summary.md").read_text()
    assert "**FAIL**" in summary and "positive" in summary
    assert "FAIL" in (out / "gate.md").read_text() and "FAIL" in (out / "report.md").read_text()
    r = cli(str(sweep), "--out", str(out), "--compare", "local", "negated")
    assert r.returncode == 2 and "failed the validity gate" in r.stderr and "Traceback" not in r.stderr
    r = cli(str(sweep), "--out", str(out), "--compare", "local", "negated", "--allow-invalid")
    assert r.returncode == 0, r.stderr
    # the committed files alone: python -m toyneg.report applies the gate again
    (out / "gate.md").unlink()
    (out / "store.sqlite").unlink()
    r = subprocess.run([sys.executable, "-m", "toyneg.report", str(out)], cwd=ROOT, text=True,
                       env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "FAIL" in (out / "gate.md").read_text() and "failed the validity gate" in r.stdout
