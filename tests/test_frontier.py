"""`python -m toyneg.frontier` on hand-made metrics files: pairing, dedup, arithmetic, errors."""

import lzma
import os

import pytest

from toyneg import frontier


def _write(root, folder, rows, axes=()):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    head = ["hash", "status", "seed", *axes, "condition", "step", "pooled"]
    lines = [",".join(head)] + [",".join(str(r[h]) for h in head) for r in rows]
    with lzma.open(os.path.join(root, folder, "metrics.csv.xz"), "wt") as f:
        f.write("\n".join(lines) + "\n")


def _run(h, seed, vals, **axes):
    """A run's rows: a mid-training checkpoint (ignored) and the final one with `vals`."""
    out = []
    for cond, v in vals.items():
        out.append({"hash": h, "status": "done", "seed": seed, "condition": cond, "step": 10,
                    "pooled": 0.99, **axes})
        out.append({"hash": h, "status": "done", "seed": seed, "condition": cond, "step": 3000,
                    "pooled": v, **axes})
    return out


@pytest.fixture
def root(tmp_path):
    hosted = "baseline+positive+negated+local"
    r = str(tmp_path)
    # the default sweep: two hosted runs
    _write(r, "default", _run("a", 0, {"positive": 0.9, "local": 0.1, "negated": 0.45}, conditions=hosted)
           + _run("b", 1, {"positive": 0.7, "local": 0.5, "negated": 0.7}, conditions=hosted),
           axes=("conditions",))
    # a sweep that merged the default's runs and adds an arm, plus the paper's layout (one
    # condition per run, paired by seed)
    rows = (_run("a", 0, {"positive": 0.9, "local": 0.1, "negated": 0.45}, conditions=hosted, x=1)
            + _run("b", 1, {"positive": 0.7, "local": 0.5, "negated": 0.7}, conditions=hosted, x=1)
            + _run("c", 0, {"positive": 0.6, "local": 0.3, "negated": 0.3}, conditions=hosted, x=2)
            + _run("d", 0, {"positive": 0.5}, conditions="positive", x=1)
            + _run("e", 0, {"local": 0.25}, conditions="local", x=1)
            + _run("f", 1, {"local": 0.4}, conditions="local", x=1))  # seed 1 has no positive run
    _write(r, "other", rows, axes=("x", "conditions"))
    return r


def test_points_pair_seeds_take_the_final_checkpoint_and_show_merged_runs_once(root):
    rows = frontier.summarize(frontier.collect(root))
    by = {(r["folder"], r["setting"], r["layout"]): r for r in rows}
    assert set(by) == {("default", "(sweep file)", "hosted"), ("other", "x=2", "hosted"),
                       ("other", "x=1", "alone")}  # other's x=1 hosted arm is default's runs
    d = by[("default", "(sweep file)", "hosted")]
    assert d["n_seeds"] == 2 and d["positive"] == pytest.approx(0.8) and d["local"] == pytest.approx(0.3)
    assert d["negated_of_positive"] == pytest.approx(0.575 / 0.8)
    assert d["shortfall"] == pytest.approx(0.0 + 0.1)
    assert d["also"] == "other"
    alone = by[("other", "x=1", "alone")]  # seed 1 lacks a positive run: unpaired, left out
    assert alone["n_seeds"] == 1 and alone["positive"] == 0.5 and alone["local"] == 0.25
    assert alone["shortfall"] == pytest.approx(0.3 + 0.05)
    assert by[("other", "x=2", "hosted")]["shortfall"] == pytest.approx(0.2 + 0.1)


def test_cli_writes_table_csv_and_figure(root, capsys):
    out = os.path.join(root, "fr")
    assert frontier.main([root, "--out", out]) == 0
    assert sorted(os.listdir(out)) == ["frontier.csv", "frontier.md", "frontier.png"]
    md = open(os.path.join(out, "frontier.md")).read()
    assert "meeting both targets: **0** of 3" in md and "Closest: #1 `default`" in md


def test_cli_errors_are_clear(tmp_path, capsys):
    assert frontier.main([str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert frontier.main([str(tmp_path)]) == 2
    assert "no sweep" in capsys.readouterr().err
