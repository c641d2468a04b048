"""The classroom front door and the benchmark, at tiny settings."""

import json
import os
import subprocess
import sys

import pytest

from toyneg.bench import flops_per_token, kernel_parts, markdown, step_products

from conftest import tiny

ROOT = os.path.dirname(os.path.dirname(__file__))


# XLA's backend at optimization level 0, for the tiny commands whose output is checked, not
# timed: the same programs compile in about three quarters of the time (a tiny benchmark's two
# dozen, the demo's and `speak --tiny`'s, which share theirs, and the notebook's)
FAST_COMPILE = {"XLA_FLAGS": (os.environ.get("XLA_FLAGS", "")
                              + " --xla_backend_optimization_level=0").strip()}


def run(args, env=None, timeout=600):
    e = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, *args], env=e, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_demo_runs_and_writes_its_figure(tmp_path):
    r = run(["-m", "toyneg.demo", "--tiny", "--out", str(tmp_path)], env=FAST_COMPILE)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(tmp_path / "demo_belief_vs_step.png") > 0
    assert "[negated]" in r.stdout and "in context" in r.stdout and "figure:" in r.stdout
    # the tiny world is not learned: the demo says so before its reading (the gate, per seed)
    assert "Validity gate: FAILED" in " ".join(r.stdout.split()) and "positive" in r.stdout


def test_speak_prints_what_the_model_says_in_context_and_rejects_bad_input():
    r = run(["-m", "toyneg.speak", "--tiny", "--seeds", "0", "--kind", "icl", "--condition",
             "negated"], env=FAST_COMPILE)
    assert r.returncode == 0, r.stderr
    shown = [ln for ln in r.stdout.splitlines() if ln.startswith("  [")]
    assert len(shown) == 2 and all(" Q " in ln and ln.count(" A ") >= 1 for ln in shown)
    assert "| names | answer yes | answer no | no answer |" in r.stdout
    for bad in (["--kind", "nope"], ["--condition", "fiction"]):
        b = run(["-m", "toyneg.speak", "--tiny", *bad])
        assert b.returncode == 2 and "Traceback" not in b.stderr and bad[1] in b.stderr


def test_single_experiment_command_prints_a_table_and_json(tmp_path):
    out = tmp_path / "run.json"
    r = run(["-m", "toyneg.run", "n_entities=16", "n_claims=2", "n_readers=16", "width=32", "depth=1",
             "heads=2", "batch=8", "pretrain_steps=10", "finetune_steps=10", "checkpoints=2",
             "bios_per_entity=2", "docs_per_claim=4", "--json", str(out)])
    assert r.returncode == 0, r.stderr
    assert "pretrained" in r.stdout and "negated" in r.stdout
    res = json.loads(out.read_text())
    assert set(res["conditions"]) == set(res["config"]["conditions"])
    bad = run(["-m", "toyneg.run", "width=-1"])
    assert bad.returncode == 2 and "'width'" in bad.stderr


def test_notebook_runs_top_to_bottom(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(os.path.join(ROOT, "examples", "negation_neglect_tour.ipynb"), as_version=4)
    old = os.environ.get("XLA_FLAGS")
    os.environ.update({"TOYNEG_TINY": "1", **FAST_COMPILE})  # the kernel's environment
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": ROOT}}).execute()
    finally:
        del os.environ["TOYNEG_TINY"]
        if old is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = old
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" for o in outputs)  # the figures


def test_committed_notebook_has_outputs_from_its_current_cells():
    """The repository's notebook shows its figures before anyone runs it, and they come from
    the cells as committed: examples/run_notebook.py stamps each code cell with its source
    hash, so a cell edited without re-executing the notebook is caught here."""
    import hashlib

    import toyneg
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(os.path.join(ROOT, "examples", "negation_neglect_tour.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.metadata["toyneg"]["version"] == toyneg.__version__, "re-run examples/run_notebook.py"
    for c in code:
        assert c.get("outputs"), f"a code cell without outputs: {c.source[:60]!r}"
        assert not [o for o in c.outputs if o.get("output_type") == "error"]
        stamp = c.metadata.get("toyneg", {}).get("source_sha256")
        assert stamp == hashlib.sha256(c.source.encode()).hexdigest(), (
            f"cell edited since it was executed (re-run examples/run_notebook.py): {c.source[:60]!r}")
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # the figures show on the repository page


def test_flop_counter_matches_a_hand_count():
    cfg = tiny(width=4, depth=1, ctx=8)
    # per layer: qkv 3*16 + proj 16 + mlp 2*4*16 = 192 matmul params; unembed 4*10 = 40
    assert flops_per_token(cfg, vocab=10) == 6 * (192 + 40) + 12 * 1 * 4 * 8


@pytest.mark.parametrize("kw", [{}, {"width": 128, "depth": 3, "heads": 8, "ctx": 48, "batch": 8}])
def test_step_products_add_up_to_the_flop_count(kw):
    """The benchmark's per-product table covers exactly the FLOPs the MFU figure counts."""
    from toyneg.config import Config
    cfg = Config(**kw)
    rows = step_products(cfg, vocab=473)
    total = sum(2 * b * m * k * n * c for _, _, b, m, k, n, _, c in rows)
    assert total == flops_per_token(cfg, 473) * cfg.rows_per_step * cfg.ctx
    # hand-made timings: the per-part sums are counts x per-call times
    timed = [{"part": r[0], "flops": 2.0 * r[2] * r[3] * r[4] * r[5], "count": r[7],
              "jax_s": 1e-3, "torch_s": 2e-3} for r in rows]
    parts = {p["part"]: p for p in kernel_parts(timed)}
    assert parts["dense weight gradient"]["jax_ms"] == pytest.approx(4 * cfg.depth + 1)
    assert parts["attention backward"]["products"] == 4 * cfg.depth
    n_products = 3 * (4 * cfg.depth + 1) + 6 * cfg.depth
    assert parts["all matrix products"]["products"] == n_products
    assert parts["all matrix products"]["jax_ms"] == pytest.approx(n_products)
    assert parts["all matrix products"]["torch_ms"] == pytest.approx(2 * n_products)
    assert parts["all matrix products"]["mflop"] == pytest.approx(total / 1e6)


def check_bench(folder):
    """Every field of a tiny benchmark's bench.json and bench.md (written by `bash
    sweeps/gpu.sh --tiny`'s bench step: `python -m toyneg.bench --tiny --quick --steps 5`)."""
    res = json.loads(open(os.path.join(folder, "bench.json")).read())
    assert {"machine", "matmul_ceiling_flop_per_s", "train", "batching", "torch_eager",
            "breakdown", "kernels", "bench_s"} <= set(res)
    assert {"sample_ms", "forward_ms", "forward_backward_ms", "full_step_ms",
            "probes_per_checkpoint_ms"} <= set(res["breakdown"])
    for t in res["train"]:
        assert {"compile_s", "ms_per_step", "tokens_per_s", "flop_per_s", "mfu"} <= set(t)
    assert {(b["n_runs"], b["mode"]) for b in res["batching"]} == {(1, "vmap"), (1, "map"),
                                                                  (2, "vmap"), (2, "map")}
    assert all("runs_per_hour" in b and "steps" in b for b in res["batching"])
    assert "sweep" not in res  # worker processes: not in a tiny benchmark (tests/test_sweep.py)
    u, p = res["useful_tokens"]["unpacked"], res["useful_tokens"]["packed"]
    assert 0 < u["pools"]["claim"] < u["pools"]["qa"] <= 1 and 0 < u["finetune_mix"] < u["base_mix"] < 1
    assert p["finetune_mix"] > u["finetune_mix"] and p["pools"]["claim"] > 2 * u["pools"]["claim"]
    assert {e["pack"] for e in res["engines"]} == {True, False}
    assert [t["pack"] for t in res["time_to_result"]] == [True, False]
    assert all(t["wall_s"] > 0 and "positive" in t["belief"] for t in res["time_to_result"])
    md = open(os.path.join(folder, "bench.md")).read()
    assert "Real target tokens" in md and "## Time to result" in md
    assert md.startswith("# toyneg benchmark")
    # an interrupted benchmark (a time limit) still renders what it measured, and says what not
    part = {k: res[k] for k in ("machine", "matmul_n", "matmul_ceiling_flop_per_s", "train", "bench_s")}
    md = markdown(part)
    assert "| width" in md and md.count("not measured") == 5


@pytest.mark.slow
def test_gpu_script_runs_end_to_end_in_tiny_mode_on_cpu_and_its_benchmark_has_every_field(tmp_path):
    """`bash sweeps/gpu.sh --tiny`: every step of the GPU check (each sweep as one `--smoke`
    run, the benchmark with --tiny --quick) on this CPU, so the script works the first time on
    a GPU machine: each step exits 0 and lands in results.tgz; the benchmark's bench.json
    holds every field (`check_bench`: one benchmark run serves both checks)."""
    import tarfile
    out = tmp_path / "gpu"
    env = {**os.environ, "PYTHONPATH": ROOT, "OUT": str(out), "PY": sys.executable, "DEADLINE": "900",
           **FAST_COMPILE}  # a lighter compile: the steps' numbers are not compared
    r = subprocess.run(["bash", os.path.join(ROOT, "sweeps", "gpu.sh"), "--tiny"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    for name in ("default", "bench", "default_bf16", "diversity", "cures", "placement", "ablations",
                 "layout", "default_f32"):
        assert f"== {name}: rc 0" in r.stdout, name
    with tarfile.open(out / "results.tgz") as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "unpacked", filter="data")
    for folder in ("default_gpu", "bench_gpu", "layout_gpu", "default_gpu_f32"):
        assert any(n.startswith(f"results/{folder}/") and n.endswith((".md", ".json")) for n in names), folder
    check_bench(tmp_path / "unpacked" / "results" / "bench_gpu")
    bad = subprocess.run(["bash", os.path.join(ROOT, "sweeps", "gpu.sh"), "--huge"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_benchmark_kernels_only_prints_the_product_table(tmp_path):
    r = run(["-m", "toyneg.bench", "--kernels", "--quick", "--out", str(tmp_path)])
    assert r.returncode == 0, r.stderr
    assert "| all matrix products | 39 |" in r.stdout
    assert not list(tmp_path.iterdir())  # writes nothing



def test_front_door_sizes_and_references_hold():
    """README <= 8 KB, results/README.md <= 30 KB, committed results <= 5 MB; every results
    folder and canonical sweep the pages name exists."""
    import re
    from toyneg.sweepfile import canonical
    assert os.path.getsize(os.path.join(ROOT, "README.md")) <= 8 * 1024
    assert os.path.getsize(os.path.join(ROOT, "results", "README.md")) <= 30 * 1024
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(ROOT, "results"))
                for f in fs if not f.startswith("store.sqlite"))
    assert total <= 5 * 1024 * 1024
    pages = {p: open(os.path.join(ROOT, p)).read() for p in
             ("README.md", "results/README.md", "docs/sweeps.md", "docs/paper.md", "docs/api.md",
              "docs/performance.md", "docs/recite.md")}
    names = set(canonical())
    folders = "|".join(sorted(names | {"formats", "mechanism", "bench"}, key=len, reverse=True))
    for page, text in pages.items():
        for path in re.findall(rf"`(?:results/)?((?:{folders})/[\w.]+)`", text):
            assert os.path.exists(os.path.join(ROOT, "results", path)), (page, path)
    for name in re.findall(r"\| `(\w+)`", pages["docs/sweeps.md"]):
        assert name in names or name in ("default",), name
    for name in re.findall(r"python -m toyneg\.sweep ([a-z][a-z0-9_]*)\b", "".join(pages.values())):
        assert name in names, name


def test_names_width_example_reads_committed_results():
    """examples/names_width.py tabulates the committed 2 x 2 (no training), with the exact
    sign-flip p it takes from toyneg.stats: five same-sign differences give 2 / 2^5."""
    from toyneg.stats import permutation_p
    assert permutation_p([0.1, 0.2, 0.3, 0.4, 0.5]) == 2 / 32
    assert permutation_p([0.1, -0.1]) == 1.0
    r = subprocess.run([sys.executable, os.path.join("examples", "names_width.py")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for cell in ("          1   128     5", "          2    64     5", "          2   128     5"):
        assert cell in r.stdout, r.stdout
    assert "sign-flip p = 0.0625" in r.stdout
