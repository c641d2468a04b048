"""The sweep CLI end to end on a tiny sweep: expansion, shards, merge, resume, errors, outputs."""

import csv
import lzma
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from toyneg.sweep import main
from toyneg.sweepfile import SweepError, expand, load, points, shard

HERE = os.path.dirname(__file__)
TINY = os.path.join(HERE, "data", "tiny.toml")
ROOT = os.path.dirname(HERE)


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def stored(out):
    db = sqlite3.connect(os.path.join(out, "store.sqlite"))
    rows = db.execute("SELECT hash, result FROM runs ORDER BY hash").fetchall()
    db.close()
    return rows


def cli(*args, env=None, **kw):
    e = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-m", "toyneg.sweep", *args], env=e, cwd=ROOT,
                          capture_output=True, text=True, **kw)


def here(capsys, *args, entry=main):
    """`cli`'s result, with the command run in this process (`toyneg.sweep.main`, or another
    command's `main`): no new interpreter to start and nothing to import again, for the calls
    that train nothing.  `warnings`: every warning that escaped the command (a process would
    have printed it on its stderr)."""
    import types
    import warnings
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = entry(list(args))
        except SystemExit as e:  # argparse's usage errors
            code = e.code
    out, err = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out, stderr=err, warnings=caught)


FAKE_SBATCH = """#!{python}
# a stand-in for Slurm's sbatch: runs an array job's tasks one after another, then returns
import os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["SBATCH_LOG"], "a") as f:
    f.write(" ".join(args) + "\\n")
opts = dict(a.split("=", 1) for a in args[:-1] if "=" in a)
env = dict(os.environ)
for kv in opts["--export"].split(",")[1:]:
    k, v = kv.split("=", 1)
    env[k] = v
for i in (range(int(opts["--array"].split("-")[1]) + 1) if "--array" in opts else [None]):
    if i is not None:
        env["SLURM_ARRAY_TASK_ID"] = str(i)
    subprocess.run(["bash", args[-1]], env=env, check=True, stdout=sys.stderr)
print("4242")
"""


def slurm(tmp_path, sweep, n, out) -> list:
    """Run sweeps/slurm_array.sh with the stand-in sbatch; returns the sbatch calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable))
    (bin_dir / "sbatch").chmod(0o755)
    log = tmp_path / "sbatch.log"
    env = {**os.environ, "PYTHONPATH": ROOT, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "SBATCH_LOG": str(log), "PY": sys.executable}
    r = subprocess.run(["bash", os.path.join(ROOT, "sweeps", "slurm_array.sh"), sweep, str(n), out],
                       env=env, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "submitted array job 4242" in r.stdout
    return log.read_text().splitlines()


def test_grid_and_zip_expansion(tmp_path):
    p = write(tmp_path, """
[base]
finetune_steps = 10
[axes]
seed = [0, 1]
diversity = [1, 2, 4]
[zip]
lr = [1e-3, 2e-3]
ft_lr = [1e-4, 2e-4]
""")
    sw = load(p)
    pts = points(sw)
    assert len(pts) == 2 * 3 * 2
    assert {(q["lr"], q["ft_lr"]) for q in pts} == {(1e-3, 1e-4), (2e-3, 2e-4)}  # zipped, not crossed
    cfgs = expand(sw)
    assert all(c.finetune_steps == 10 for c in cfgs)
    assert len({c.run_hash("v") for c in cfgs}) == 12


def test_shards_cover_every_run_exactly_once():
    cfgs = expand(load(TINY))
    for n in (1, 2, 3, 5):
        parts = [shard(cfgs, f"{i}/{n}") for i in range(n)]
        hashes = [c.run_hash("v") for p in parts for c in p]
        assert sorted(hashes) == sorted(c.run_hash("v") for c in cfgs)
    with pytest.raises(SweepError, match="I/N"):
        shard(cfgs, "3/2")


def test_unwritable_output_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([TINY, "--out", str(blocker / "sub")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_end_to_end_outputs_resume_shards_and_merge(tmp_path, capsys):
    # the commands that train run as processes (the full sweep, the shards and their merge job
    # through sweeps/slurm_array.sh); most that only read a store or merge one run in this
    # process (`here`), which saves an interpreter start and the imports a time
    full = str(tmp_path / "full")
    r = cli(TINY, "--out", full, "-q")
    assert r.returncode == 0, r.stderr
    for f in ("metrics.csv.xz", "summary.csv", "summary.md", "report.md", "belief_vs_step.png",
              "belief_by_probe.png", "heatmap.png"):
        assert os.path.getsize(os.path.join(full, f)) > 0, f
    with lzma.open(os.path.join(full, "metrics.csv.xz"), "rt") as f:
        metrics = list(csv.DictReader(f))
    assert {m["condition"] for m in metrics} >= {"positive", "negated", "local"}
    report = open(os.path.join(full, "report.md")).read()
    assert f"python -m toyneg.sweep {TINY} --out {full} -q" in report
    assert "When neglect emerged" in report
    assert len(stored(full)) == 4
    # hypothesis test on the finished store: conditions, axis settings, or both
    # (a tiny model never learns its world: the validity gate fails it, so --allow-invalid)
    r = here(capsys, TINY, "--out", full, "--compare", "local", "negated", "--allow-invalid")
    assert r.returncode == 0, r.stderr
    assert "paired permutation p" in r.stdout and "only 2 matched seed" in r.stdout
    # the few-seeds warning is printed once, in the result, and never escapes as a warning
    assert "UserWarning" not in r.stderr
    assert not [w for w in r.warnings if issubclass(w.category, UserWarning)]
    r = here(capsys, TINY, "--out", full, "--compare", "negated,diversity=1", "negated,diversity=4",
             "--metric", "open_p", "--allow-invalid")
    assert r.returncode == 0 and "open_p: negated,diversity=4 - negated,diversity=1" in r.stdout
    r = here(capsys, TINY, "--out", full, "--compare", "local", "colour=red", "--allow-invalid")
    assert r.returncode == 2 and "'colour' is not a varying axis" in r.stderr
    # a second run of the same sweep stores nothing new
    r = here(capsys, TINY, "--out", full)
    assert r.returncode == 0 and "4 already stored, 0 to run" in r.stdout
    # and its plan says so, training nothing
    r = here(capsys, TINY, "--out", full, "--dry-run")
    assert r.returncode == 0 and "4 already stored" in r.stdout and "0 to run in 0" in r.stdout
    assert "nothing to train" in r.stdout and "ms/step" not in r.stdout
    # shards, then merge, through sweeps/slurm_array.sh and a stand-in sbatch that runs each
    # array task and then the dependent merge job here: identical to the unsharded sweep
    merged = str(tmp_path / "merged")
    calls = slurm(tmp_path, TINY, 2, merged)
    assert "--array=0-1" in calls[0] and "--dependency=afterok:4242" in calls[1]
    outs = [str(tmp_path / "merged" / f"shard_{i}") for i in range(2)]
    assert [len(stored(o)) for o in outs] == [2, 2]
    assert stored(merged) == stored(full)
    assert open(os.path.join(merged, "summary.csv")).read() == open(os.path.join(full, "summary.csv")).read()
    # a sweep that outlasts one machine: each shard's outputs committed without its store
    # (runs.jsonl.xz, metrics.csv.xz, claims.csv.xz), merged elsewhere from those files alone,
    # give the very tables, gate and report rows of the sweep run whole
    import shutil
    committed = []
    for i, o in enumerate(outs):
        c = str(tmp_path / f"committed_{i}")
        assert cli(TINY, "--out", c, "--merge", o).returncode == 0
        os.remove(os.path.join(c, "store.sqlite"))
        assert os.path.getsize(os.path.join(c, "runs.jsonl.xz")) < 4000 * 2  # a few KB a run
        committed.append(c)
    elsewhere = str(tmp_path / "elsewhere")
    r = cli(TINY, "--out", elsewhere, "--merge", *committed)
    assert r.returncode == 0 and "merged 2 run(s) from" in r.stdout and "runs.jsonl.xz" in r.stdout, r.stderr
    for f in ("summary.csv", "summary.md", "gate.md", "monitor.csv"):
        assert open(os.path.join(elsewhere, f)).read() == open(os.path.join(full, f)).read(), f
    strip = lambda p: [ln for ln in open(p) if not ln.startswith(("- command", "- total run time"))]  # noqa: E731
    assert strip(os.path.join(elsewhere, "report.md")) == strip(os.path.join(full, "report.md"))
    shutil.rmtree(elsewhere)
    # figures redrawn from the committed metrics alone come from the same numbers as the store's
    from toyneg.report import rows_from_metrics
    from toyneg.tables import summary
    rows, axes = rows_from_metrics(os.path.join(full, "metrics.csv.xz"))
    assert axes == ["diversity"] and len(rows) == 4
    redrawn = {(str(r["diversity"]), r["condition"]): r for r in summary(rows, axes)}
    with open(os.path.join(full, "summary.csv")) as f:
        for ref in csv.DictReader(f):
            r = redrawn[(ref["diversity"], ref["condition"])]
            for k in ("belief", "belief_lo", "p_yes", "icl", "says_claim"):
                assert float(ref[k]) == pytest.approx(r[k], abs=1e-5, nan_ok=True), k
    from toyneg.report import main as report_main
    r = here(capsys, full, entry=report_main)
    assert r.returncode == 0 and "redrew" in r.stdout, r.stderr
    # an edited sweep file in the same folder: old runs stay stored but out of the new tables
    edited = write(tmp_path, open(TINY).read().replace("diversity = [1, 4]", "diversity = [4]"))
    r = here(capsys, edited, "--out", merged, "--merge", outs[0])
    assert r.returncode == 0, r.stderr
    assert "2 stored run(s) of other configurations" in r.stderr
    header = open(os.path.join(merged, "summary.csv")).readline().split(",")
    assert "diversity" not in header  # it would vary (1 and 4) if the old runs were mixed in
    assert len(stored(merged)) == 4
    # with one axis left the heatmap is no longer made, and the old one does not linger
    assert os.path.exists(os.path.join(full, "heatmap.png"))
    assert not os.path.exists(os.path.join(merged, "heatmap.png"))
    assert ", on cpu (" in open(os.path.join(merged, "report.md")).read()  # what trained the runs
    # two axes besides seed (x4 conditions): one heatmap of settings x conditions
    from toyneg.report import write_outputs
    from toyneg.store import Store
    rows = Store(os.path.join(full, "store.sqlite")).rows()
    rows += [{**r, "config": {**r["config"], "replay": 0.5}} for r in rows]
    sweep = load(TINY)
    sweep.axes["replay"] = [0.8, 0.5]
    paths = write_outputs(sweep, str(tmp_path / "three"), rows, "cmd")
    assert os.path.getsize(paths["heatmap_belief"]) > 0
    header = open(paths["summary_csv"]).readline().split(",")
    assert header[:3] == ["diversity", "replay", "condition"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_resume_after_sigkill_loses_and_duplicates_nothing(tmp_path, workers):
    """kill -9 of the sweep process (with --workers 2: of the parent that stores what its
    worker processes return) once a run is stored; a re-run completes the rest exactly."""
    out = str(tmp_path / "out")
    # with worker processes (compiling with their own XLA flags, so sharing no compiled program
    # with the rest of the suite): XLA's backend at optimization level 0, in the killed sweep
    # and in the one that resumes it, so that its workers compile the same runs in less time
    fast = {"XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
            } if workers == "2" else {}
    e = {**os.environ, "PYTHONPATH": ROOT, **fast}
    proc = subprocess.Popen([sys.executable, "-m", "toyneg.sweep", TINY, "--out", out, "-q",
                             "--mode", "loop", "--workers", workers], env=e, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = os.path.join(out, "store.sqlite")
    t0 = time.time()
    n = 0
    while time.time() - t0 < 300:
        if os.path.exists(db):
            try:
                n = len(stored(out))
            except sqlite3.OperationalError:
                n = 0
        if n >= 1 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = stored(out)
    assert 1 <= len(first) <= 4
    r = cli(TINY, "--out", out, "-q", "--workers", workers, env=fast)
    assert r.returncode == 0, r.stderr
    final = stored(out)
    assert len(final) == 4 and len({h for h, _ in final}) == 4
    assert set(first) <= set(final)  # what was finished before the kill is kept as it was


def test_run_axis_sharded_over_two_cpu_devices_gives_the_same_numbers(tmp_path):
    import json
    res = {}
    for n in (1, 2):
        out = str(tmp_path / f"d{n}")
        # XLA's backend at optimization level 0 (in both runs): the same partitioning of the
        # run axis, compiled in less time
        env = {"XLA_FLAGS": f"--xla_force_host_platform_device_count={n} "
                            "--xla_backend_optimization_level=0",
               "TOYNEG_CACHE": str(tmp_path / f"c{n}")}
        r = cli(TINY, "--out", out, "-q", "--mode", "vmap", "--no-outputs", env=env)
        assert r.returncode == 0, r.stderr
        res[n] = {h: json.loads(x) for h, x in stored(out)}
    assert res[1].keys() == res[2].keys()
    for h in res[1]:
        for cond, m in res[1][h]["conditions"].items():
            a = np.array(m["p_yes"], float)
            b = np.array(res[2][h]["conditions"][cond]["p_yes"], float)
            np.testing.assert_allclose(a, b, atol=2e-4)


def test_dry_run_prints_a_measured_plan_and_stores_nothing(capsys, tmp_path):
    assert main([TINY, "--dry-run", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "4 run(s); 4 to run in 1 compiled group(s)" in out and "estimated time on this machine" in out
    assert "ms/step" in out and "s/evaluation" in out  # timed here, not guessed
    assert not (tmp_path / "o" / "store.sqlite").exists()


def test_estimate_adds_up_steps_evaluations_and_compiles():
    from toyneg.runner import Group, estimate_group
    from toyneg.train import checkpoint_steps
    cfgs = expand(load(TINY))  # 4 runs, 2 pretraining keys, 20 + 20 steps
    g = Group("k", cfgs)
    t = {"batch_runs": 1, "step_s": 0.01, "eval_s": 0.5, "compile_step_s": 3.0, "compile_eval_s": 2.0}
    n_eval = len(checkpoint_steps(20, cfgs[0].checkpoints)) + 1
    want = (2.0 + 2 * 3.0) + g.n_pretrain * 20 * 0.01 + 4 * (20 * 0.01 + n_eval * 0.5)
    assert estimate_group(g, t) == pytest.approx(want)


def test_every_canonical_sweep_file_loads_and_expands():
    import glob
    files = sorted(glob.glob(os.path.join(ROOT, "sweeps", "*.toml")))
    assert len(files) >= 7
    for f in files:
        sw = load(f)
        assert sw.description and expand(sw), f


def test_gpu_script_is_valid_bash_and_names_existing_sweeps():
    import re
    script = os.path.join(ROOT, "sweeps", "gpu.sh")
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    named = re.findall(r"sweeps/(\w+)\.toml", open(script).read())
    assert {"layout", "diversity", "cures", "placement", "ablations"} <= set(named)
    for name in named:
        assert load(os.path.join(ROOT, "sweeps", f"{name}.toml")).name == name


def test_smoke_is_one_tiny_run_of_the_sweep(tmp_path, capsys):
    from toyneg.sweepfile import SMOKE, smoke
    sw = smoke(load(os.path.join(ROOT, "sweeps", "ablations.toml")))
    (cfg,) = expand(sw)
    assert cfg.width == SMOKE["width"] and cfg.finetune_steps == SMOKE["finetune_steps"]
    assert sw.name == "ablations_smoke" and not sw.hypotheses
    assert main(["stability", "--smoke", "--out", str(tmp_path / "s"), "-q"]) == 0
    assert (tmp_path / "s" / "summary.md").exists()
    assert main(["default", "--smoke", "--until-decided"]) == 2
    assert "--smoke runs one tiny run" in capsys.readouterr().err


def test_heatmaps_only_where_rows_and_columns_cross():
    """A run per condition fills a diagonal (no heatmap: the table says it all); a real grid, or
    single conditions next to a run hosting them all (the layout sweep), gets one."""
    from toyneg.report import _two_way
    diag = [{"conditions": c, "condition": c} for c in ("positive", "negated", "local")]
    assert not _two_way(diag, "conditions", "condition")
    hosted = diag + [{"conditions": "all", "condition": c} for c in ("positive", "negated", "local")]
    assert _two_way(hosted, "conditions", "condition")
    grid = [{"diversity": d, "condition": c} for d in (1, 4) for c in ("negated", "fiction")]
    assert _two_way(grid, "diversity", "condition")
    column = [{"replay": r, "condition": "local"} for r in (0.8, 0.9)]
    assert not _two_way(column, "replay", "condition")


def test_a_stored_run_reads_back_with_fields_added_since_at_their_legacy_value(tmp_path):
    """A run stored before a field existed ran with the field's legacy value, so tables and
    `--compare field=value` must see that value, not a missing one."""
    from toyneg.config import LEGACY
    from toyneg.store import Store
    s = Store(str(tmp_path / "store.sqlite"))
    s.put("h1", "done", {"seed": 0, "width": 64}, {"steps": [0]}, 1.0)
    s.put("h2", "done", {"seed": 1, "claim_denied": True}, {"steps": [0]}, 1.0)
    a, b = s.rows()
    s.close()
    assert a["config"] == {**LEGACY, "seed": 0, "width": 64}
    assert a["config"]["claim_denied"] is False and b["config"]["claim_denied"] is True
