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
    mon = [{"width": 64, "group": "stated", "answered": 0.8}, {"width": 32, "group": "stated", "answered": 0.42},
           {"width": 64, "group": "denied", "answered": 0.1}]
    vs = verdicts(summ, mon, ["width"])
    ok, bad, bare = vs[(("width", 64),)], vs[(("width", 32),)], vs[(("width", 16),)]
    assert ok.status == "pass" and ok.values["in_context_negated"] == 0.025  # local and negated
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
