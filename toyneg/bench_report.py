"""The benchmark's page: results/bench/bench.md (and bench.json) from the measurements of
`toyneg.bench.run`, an interrupted run's parts included.
"""

from __future__ import annotations

import json
import os

from .bench_kernels import kernel_parts
from .data import POOLS


def markdown(res: dict) -> str:
    """The benchmark as a Markdown page; a part an interrupted run did not reach says so."""
    missing = "not measured (the benchmark was stopped before this part)"
    lines = ["Training throughput of the base mix (pretraining's fused step):", "",
             "| model | compile s | ms/step | tokens/s | GFLOP/s | MFU |", "|---|---|---|---|---|---|"]
    for t in res.get("train", []):
        lines.append(f"| width {t['width']}, depth {t['depth']}, batch {t['batch']}x{t['ctx']} | "
                     f"{t['compile_s']:.1f} | {t['ms_per_step']:.1f} | {t['tokens_per_s']:.0f} | "
                     f"{t['flop_per_s'] / 1e9:.1f} | {100 * t['mfu']:.0f}% |")
    t0 = (res.get("train") or [{}])[0]
    if t0.get("xla_flops_per_token"):
        lines += ["", f"FLOP count check: analytic {t0['flops_per_token'] / 1e6:.2f} MFLOP/token; "
                      f"XLA cost analysis of the compiled step {t0['xla_flops_per_token'] / 1e6:.2f} "
                      f"MFLOP/token (XLA also counts softmax, norms and optimizer arithmetic)."]
    bt = res.get("batching")
    if bt:
        lines += ["", f"Runs batched in one compiled program ({bt[0]['steps']} training steps per "
                      "run; runs/hour: default 3000-step runs, probes excluded, extrapolated where "
                      "runs of at least 100 steps were timed):", "",
                  "| runs in one program | mode | compile s | s per run | runs/hour |",
                  "|---|---|---|---|---|"]
        for b in bt:
            rph = "n/a" if b.get("runs_per_hour") is None else f"{b['runs_per_hour']:.0f}"
            lines.append(f"| {b['n_runs']} | {b['mode']} | {b['compile_s']:.1f} | "
                         f"{b['s_per_run']:.3f} | {rph} |")
        one = {b["mode"]: b["s_per_run"] for b in bt if b["n_runs"] == 1}
        for b in bt:
            if b["n_runs"] == 64 and b["mode"] == "vmap" and "vmap" in one:
                lines += ["", f"vmap of 64 runs: **{one['vmap'] / b['s_per_run']:.1f}x** the "
                              "throughput of one run alone."]
    else:
        lines += ["", f"Batched runs: {missing}."]
    if "torch_eager" not in res:
        lines += ["", f"Eager PyTorch: {missing}."]
    elif res["torch_eager"] and t0:
        te = res["torch_eager"]
        lines += ["", f"Plain eager PyTorch {te['torch']} loop, same model and batch "
                      f"({te.get('device', 'cpu')}, {te['threads']} threads): "
                      f"{te['ms_per_step']:.1f} ms/step; toyneg's fused JAX step is "
                      f"**{te['ms_per_step'] / t0['ms_per_step']:.2f}x** its speed (>1: toyneg faster)."]
    else:
        lines += ["", "PyTorch not installed: eager comparison skipped (`pip install torch==2.13.0`)."]
    b = res.get("breakdown")
    if b:
        lines += ["", "Where a default training step's time goes (ms per step, fused in `lax.scan`, "
                  "each including its batch sampling): "
                  f"batch sampling {b['sample_ms']:.2f}; sampling + forward {b['forward_ms']:.1f}; "
                  f"sampling + forward + backward {b['forward_backward_ms']:.1f}; full step with "
                  f"AdamW {b['full_step_ms']:.1f}; one probe evaluation (every claim, every probe) "
                  f"{b['probes_per_checkpoint_ms']:.0f} ms per checkpoint (11 per run)."]
    else:
        lines += ["", f"Step breakdown: {missing}."]
    lines += _kernel_lines(res, t0, missing)
    u = res.get("useful_tokens")
    if u:
        lines += ["", "Real target tokens (not padding, not a document's first token), share of "
                  "each pool's row positions and of a batch as each phase draws rows:", "",
                  "| engine | " + " | ".join(POOLS) + " | base mix | fine-tuning | rows per step | "
                  "real tokens per fine-tuning step |", "|---" * (len(POOLS) + 5) + "|"]
        for name, x in (("0.5.0 packed", u.get("packed")), ("0.4.0 unpacked", u.get("unpacked"))):
            if x:
                lines.append(f"| {name} | " + " | ".join(f"{x['pools'].get(p, float('nan')):.2f}" for p in POOLS)
                             + f" | {x['base_mix']:.2f} | {x['finetune_mix']:.2f} | {x['rows_per_step']} | "
                             f"{x['finetune_tokens_per_step']:.0f} |")
    sw = res.get("sweep")
    if sw:
        one = sw[0]["runs_per_hour"]
        lines += ["", f"Sweep throughput: {sw[0]['n_runs']} runs of the default model, "
                      f"{sw[0]['steps']} fine-tuning steps each, probes and compile included "
                      "(no compile cache):", "",
                  "| how | wall s | runs/hour | vs one process | same numbers as one process |",
                  "|---|---|---|---|---|"]
        for r in sw:
            how = ("one process, every thread (0.3.0's loop)" if r["workers"] == 1 else
                   f"`--workers {r['workers']}` (single-threaded, one core each)")
            lines.append(f"| {how} | {r['wall_s']:.0f} | {r['runs_per_hour']:.0f} | "
                         f"{r['runs_per_hour'] / one:.2f}x | {'yes' if r['identical'] else 'no'} |")
    lines += ["", f"Benchmark wall time: {res['bench_s']:.0f} s."]
    return "\n".join(_time_lines(res, missing) + lines) + "\n"


def _time_lines(res: dict, missing: str) -> list:
    """The headline: time to result (the default sweep, both engines) and the step of each
    engine against the matmul ceiling, all measured in this one run."""
    m = res["machine"]
    lines = ["# toyneg benchmark", "",
             f"Machine: {m['cpu']} ({m['cores']} cores), backend {m['backend']} / {m['device']}, "
             f"jax {m['jax']}, Python {m['python']}. Command: `{res.get('command', 'python -m toyneg.bench')}`. Every number "
             "below was measured in this one run.", "",
             f"Matmul ceiling (float32 at JAX's default precision, {res.get('matmul_n', 1024)}^2, "
             f"same backend): **{res['matmul_ceiling_flop_per_s'] / 1e9:.1f} GFLOP/s**", "",
             "## Time to result", ""]
    tt = res.get("time_to_result")
    if tt:
        lines += [f"The default sweep ({tt[0]['runs']} seeds x {tt[0]['steps']} fine-tuning steps, every "
                  "condition and probe), start to finish in one process (corpora, compile, training, "
                  "probes; no store, no compile cache):", "",
                  "| engine | wall s | final belief: positive / negated / local / baseline |", "|---|---|---|"]
        for t in tt:
            b = t["belief"]
            lines.append(f"| {t['engine']} | {t['wall_s']:.0f} | " + " / ".join(
                f"{b.get(c, float('nan')):.2f}" for c in ("positive", "negated", "local", "baseline")) + " |")
        if len(tt) == 2:
            lines += ["", f"**{tt[1]['wall_s'] / tt[0]['wall_s']:.2f}x** faster than 0.4.0's engine "
                          f"({tt[0]['wall_s'] / 60:.1f} min against {tt[1]['wall_s'] / 60:.1f} min). "
                          "(Beliefs: seed means of these runs; the sweeps compare them with CIs.)"]
    elif res.get("no_sweep"):
        lines += ["Default sweep's wall time: not measured (`--no-sweep`)."]
    else:
        lines += [f"Default sweep's wall time: {missing}."]
    eng = res.get("engines")
    if eng:
        lines += ["", "The fine-tuning step of each engine (default model and mix; FLOP/s counted over "
                      "every row position, padding included, as nanoGPT's estimate_mfu counts):", "",
                  "| engine | rows per step | ms per step | real tokens per step | real tokens/s | "
                  "GFLOP/s | MFU |", "|---|---|---|---|---|---|---|"]
        for e in eng:
            lines.append(f"| {e['engine']} | {e['rows']} | {e['ms_per_step']:.1f} | "
                         f"{e['real_tokens_per_step']:.0f} | {e['real_tokens_per_s']:.0f} | "
                         f"{e['flop_per_s'] / 1e9:.1f} | {100 * e['mfu']:.0f}% |")
        if len(eng) == 2:
            lines += ["", f"Per step, 0.5.0 is **{eng[1]['ms_per_step'] / eng[0]['ms_per_step']:.2f}x** "
                          f"0.4.0's speed and trains {eng[0]['real_tokens_per_s'] / eng[1]['real_tokens_per_s']:.2f}x "
                          "its real tokens per second."]
    return lines + ["", "## Parts of the step", ""]


def _kernel_lines(res: dict, t0: dict, missing: str) -> list:
    """The per-part matrix-product table and what it says about the step."""
    rows = res.get("kernels")
    if not rows:
        return ["", f"Matrix products timed alone: {missing}."]
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)
    lines = ["", "Where the matrix-product time goes: each product of one default training step "
             "timed alone (same shapes and transposed operands as the backward pass reads them), "
             "times its count per step, in JAX and in PyTorch (`torch.matmul`, same threads):", "",
             "| part of the step | products | MFLOP | JAX ms | JAX GFLOP/s | PyTorch ms | "
             "PyTorch GFLOP/s |", "|---|---|---|---|---|---|---|"]
    parts = kernel_parts(rows)
    for p in parts:
        lines.append(f"| {p['part']} | {p['products']} | {p['mflop']:.0f} | {p['jax_ms']:.2f} | "
                     f"{p['jax_gflop_per_s']:.0f} | {fmt(p['torch_ms'], '.2f')} | "
                     f"{fmt(p['torch_gflop_per_s'], '.0f')} |")
    total = parts[-1]
    te = res.get("torch_eager") or {}
    if t0:
        text = (f"JAX's products sum to {total['jax_ms']:.1f} ms of its "
                f"{t0['ms_per_step']:.1f} ms fused step (the other "
                f"{t0['ms_per_step'] - total['jax_ms']:.1f} ms: elementwise work, softmax, norms, "
                "AdamW, batch sampling)")
        if total["torch_ms"] is not None and te.get("ms_per_step"):
            text += (f"; PyTorch's sum to {total['torch_ms']:.1f} ms of its "
                     f"{te['ms_per_step']:.1f} ms eager step (whose attention is one fused "
                     "`scaled_dot_product_attention` call, not these batched products)")
        lines += ["", text + "."]
    slower = [r for r in rows if r["torch_s"] is not None and r["jax_s"] > r["torch_s"]]
    worst = sorted(slower, key=lambda r: (r["jax_s"] - r["torch_s"]) * r["count"], reverse=True)[:3]
    if worst:
        lines += ["", "Products where JAX loses most time to PyTorch per step: " + "; ".join(
            f"{r['name']} ({r['part']}, {'x'.join(map(str, (r['batch'], r['m'], r['k'], r['n'])))}"
            f" b x m x k x n): {r['flops'] / r['jax_s'] / 1e9:.0f} vs "
            f"{r['flops'] / r['torch_s'] / 1e9:.0f} GFLOP/s" for r in worst) + "."]
    return lines


def write(res: dict, out: str) -> str:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write(md)
    return md
