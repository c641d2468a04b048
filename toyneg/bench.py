"""`python -m toyneg.bench`: training throughput against this machine's own matmul ceiling.

Measured in one process, so ratios are meaningful on a noisy machine:
- the dense float32 matmul rate of the same JAX backend (the practical ceiling);
- tokens/s and achieved FLOP/s of the fused training step (`lax.scan`, donated buffers) for the
  default model and a wider one, FLOPs counted analytically as in nanoGPT's `estimate_mfu`
  (6 x matmul parameters x tokens + 12 x layers x width x context x tokens) and cross-checked
  once against XLA's own cost analysis; MFU = achieved / ceiling;
- compile time apart from run time;
- time per run when N runs go through one compiled program, batched with `vmap` and `lax.map`;
- optionally, a plain eager PyTorch loop of the same model (when torch is installed);
- where the step's time goes: batch sampling, forward, backward, AdamW and probes, and each of
  the step's matrix products timed alone in JAX and in `torch.matmul` (which products make the
  fused step slower or faster than eager PyTorch).

Writes results/bench/bench.json and bench.md with the machine's description.

This module is the command and its order of parts (`run`); the parts live by what they measure:
`bench_step` (the ceiling, the fused step, batched runs, the step's breakdown, real tokens, the
two engines' step), `bench_kernels` (the step's matrix products alone and eager PyTorch),
`bench_runs` (the default sweep's wall time, worker processes) and `bench_report` (bench.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax

# the measurements, by what they measure; re-exported, so `from toyneg.bench import ...` works
# as before
from .bench_kernels import kernel_parts, kernels, step_products, torch_eager  # noqa: F401
from .bench_report import _kernel_lines, markdown, write  # noqa: F401
from .bench_runs import sweep_throughput, time_to_result
from .bench_step import (  # noqa: F401
    batching, breakdown, flops_per_token, machine, matmul_ceiling, step_engines, train_throughput,
    useful_tokens)
from .config import Config
from .data import build_vocab


TINY = dict(n_entities=16, n_claims=2, n_readers=16, width=32, depth=1, heads=2, batch=8,
            finetune_steps=20, checkpoints=2, bios_per_entity=2, docs_per_claim=4)


def run(steps: int = 100, quick: bool = False, save=None, tiny: bool = False,
        sweep: bool = True) -> dict:
    """Every measurement, cheapest and most important first; `save(res)` after each one, so an
    interrupted benchmark (a time limit on a lent GPU) still leaves what it measured.  `tiny`:
    a tiny world and model everywhere (the test suite's check that every part runs)."""
    t0 = time.perf_counter()
    save = save or (lambda res: None)
    cpu = jax.default_backend() == "cpu"
    n = 1024 if cpu else 8192  # an accelerator needs a large product to reach its rate
    base = Config(pretrain_steps=steps, **(TINY if tiny else {}))
    res = {"machine": machine(), "matmul_n": n, "matmul_ceiling_flop_per_s": matmul_ceiling(n)}
    ceiling = res["matmul_ceiling_flop_per_s"]

    def part(name, value):
        res[name] = value
        res["bench_s"] = time.perf_counter() - t0
        save(res)

    part("engines", step_engines(base, ceiling, 5 if tiny else 100, 2 if tiny else 3))
    part("useful_tokens", {"packed": useful_tokens(base), "unpacked": useful_tokens(base.replace(pack=False))})
    part("train", [train_throughput(base, ceiling, xla_check=True)])
    if not tiny:  # a wider model: the same measurement again (tiny: every part runs once)
        part("train", res["train"] + [train_throughput(base.replace(width=2 * base.width), ceiling)])
    # batched runs: a few steps each on a CPU (compile dominates there); on an accelerator
    # enough steps that launch overhead does not hide the work, and one size beyond 64
    bsteps = 3 if cpu else 200
    ns = (1, 2) if tiny else (1, 4) if quick else ((1, 4, 16, 64) if cpu else (1, 4, 16, 64, 256))
    rows = batching(base.replace(pretrain_steps=bsteps), ns)
    for r in rows:  # default runs (3000 steps, probes excluded) per hour, where runs are long
        r["steps"] = bsteps  # enough that a per-run fixed cost does not dominate the estimate
        r["runs_per_hour"] = (3600 / (r["s_per_run"] * base.finetune_steps / bsteps)
                              if bsteps >= 100 else None)
    part("batching", rows)
    vocab = len(build_vocab(base))
    part("torch_eager", torch_eager(base, vocab, 50 if quick else 100))
    part("breakdown", breakdown(base, 5 if tiny else 20 if quick else 30))
    part("kernels", kernels(base, vocab, 1 if tiny else 3 if quick else 20))
    if cpu and not tiny:  # several processes share a CPU's cores; an accelerator runs one at a time
        part("sweep", sweep_throughput(2, 10, base=base) if quick else sweep_throughput(base=base))
    if sweep:  # the longest part last: the default sweep, start to finish, both engines
        part("time_to_result", time_to_result(base.replace(pretrain_steps=0),
                                              (0, 1) if tiny or quick else (0, 1, 2, 3, 4)))
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m toyneg.bench", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=100, help="training steps timed per model")
    p.add_argument("--quick", action="store_true", help="fewer batching sizes and a two-run sweep")
    p.add_argument("--tiny", action="store_true", help="a tiny world and model in every part "
                   "(the test suite's check that every part runs; its numbers mean nothing)")
    p.add_argument("--no-sweep", action="store_true", help="skip the default sweep's wall time, "
                   "packed against 0.4.0's unpacked (about 20 minutes on 2 cores)")
    p.add_argument("--out", default="results/bench", help="output folder")
    p.add_argument("--kernels", action="store_true", help="only time the step's matrix products "
                   "(JAX vs PyTorch) and print the table; writes nothing (e.g. to try XLA_FLAGS)")
    a = p.parse_args(argv)
    if a.kernels:
        cfg = Config()
        rows = kernels(cfg, len(build_vocab(cfg)), 3 if a.quick else 20)
        print(f"jax {jax.__version__}, {machine()['cpu']}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
        print("\n".join(_kernel_lines({"kernels": rows}, {}, "")))
        return 0
    os.makedirs(a.out, exist_ok=True)  # fail before measuring, not after
    flags = {"command": " ".join(["python -m toyneg.bench"] + list(sys.argv[1:] if argv is None else argv)),
             "no_sweep": a.no_sweep}
    res = run(a.steps, a.quick, save=lambda r: write({**r, **flags}, a.out), tiny=a.tiny, sweep=not a.no_sweep)
    res.update(flags)
    print(write(res, a.out))
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
