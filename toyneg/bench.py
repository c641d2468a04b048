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
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from .config import Config
from .data import POOLS, build, build_vocab, layout
from .train import Hyper, finetune_mix, make_train


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    dev = jax.devices()[0]
    return {"backend": jax.default_backend(), "device": getattr(dev, "device_kind", str(dev)),
            "cpu": cpu, "cores": os.cpu_count(), "jax": jax.__version__,
            "python": platform.python_version()}


def matmul_ceiling(n: int, reps: int = 20) -> float:
    """Dense float32 n x n matmul FLOP/s of this backend at JAX's default precision (best of a
    few timed batches)."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    f(a, a).block_until_ready()
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            out = f(a, a)
        out.block_until_ready()
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t))
    return best


def flops_per_token(cfg: Config, vocab: int) -> float:
    """nanoGPT-style training FLOPs per token: 6 x matmul params + 12 x L x D x T."""
    d, L, T = cfg.width, cfg.depth, cfg.ctx
    matmul_params = L * (3 * d * d + d * d + 2 * 4 * d * d) + d * vocab
    return 6 * matmul_params + 12 * L * d * T


def _setup(cfg: Config, parts: bool = False):
    d = build(cfg)
    lay = layout(cfg)
    phases = make_train(cfg, lay, d.vocab)
    arrays = jax.tree.map(jnp.asarray, d.arrays())
    if parts:
        return phases, arrays, len(d.vocab)
    return phases.pretrain, arrays, Hyper.of(cfg), len(d.vocab)


def _timed(f, *args, reps: int = 2) -> float:
    c = jax.jit(f).lower(*args).compile()
    jax.block_until_ready(c(*args))
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(c(*args))
        best = min(best, time.perf_counter() - t)
    return best


def breakdown(cfg: Config, steps: int = 100) -> dict:
    """Where a training step's time goes: batch sampling, + forward, + backward, the full step
    (with AdamW), and one probe evaluation (every claim at one checkpoint), in ms."""
    import optax
    from .model import init_params
    phases, arrays, vocab = _setup(cfg, parts=True)
    params = init_params(jax.random.PRNGKey(0), vocab, cfg)
    w = jnp.asarray(phases.base_weights)
    keys = jax.random.split(jax.random.PRNGKey(1), steps)

    def sample_only(keys):
        return jax.lax.scan(lambda c, k: (c + phases.sample(k, arrays, w)["tokens"].sum(), None), 0, keys)[0]

    def fwd(params):  # a fresh batch per step, so XLA cannot hoist the work out of the loop
        return jax.lax.scan(lambda c, k: (c + phases.loss_fn(params, phases.sample(k, arrays, w)),
                                          None), 0.0, keys)[0]

    def fwd_bwd(params):
        g = jax.grad(phases.loss_fn)
        return jax.lax.scan(lambda c, k: (jax.tree.map(jnp.add, c, g(params, phases.sample(k, arrays, w))),
                                          None), jax.tree.map(jnp.zeros_like, params), keys)[0]

    opt = optax.adamw(1e-3)

    def full(params):
        def body(c, k):
            p, s = c
            g = jax.grad(phases.loss_fn)(p, phases.sample(k, arrays, w))
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), None
        return jax.lax.scan(body, (params, opt.init(params)), keys)[0]

    ms = lambda t: 1e3 * t / steps
    return {"sample_ms": ms(_timed(sample_only, keys)), "forward_ms": ms(_timed(fwd, params)),
            "forward_backward_ms": ms(_timed(fwd_bwd, params)), "full_step_ms": ms(_timed(full, params)),
            "probes_per_checkpoint_ms": 1e3 * _timed(phases.evaluate, params, arrays)}


def train_throughput(cfg: Config, ceiling: float, xla_check: bool = False) -> dict:
    """Compile and run `cfg.pretrain_steps` fused steps; tokens/s, FLOP/s and MFU."""
    pre, arrays, hyper, vocab = _setup(cfg)
    f = jax.jit(pre)
    key = jax.random.PRNGKey(0)
    t = time.perf_counter()
    compiled = f.lower(key, arrays, hyper).compile()
    t_compile = time.perf_counter() - t
    jax.block_until_ready(compiled(key, arrays, hyper))  # warm
    best = float("inf")
    for i in range(2):
        t = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.PRNGKey(i + 1), arrays, hyper))
        best = min(best, time.perf_counter() - t)
    tokens = cfg.pretrain_steps * cfg.rows_per_step * cfg.ctx  # every row position, padding too
    fpt = flops_per_token(cfg, vocab)
    out = {"width": cfg.width, "depth": cfg.depth, "ctx": cfg.ctx, "batch": cfg.rows_per_step,
           "steps": cfg.pretrain_steps, "compile_s": t_compile, "run_s": best,
           "ms_per_step": 1e3 * best / cfg.pretrain_steps, "tokens_per_s": tokens / best,
           "flops_per_token": fpt, "flop_per_s": fpt * tokens / best,
           "mfu": fpt * tokens / best / ceiling}
    if xla_check:
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        xla = float(cost.get("flops", float("nan"))) if cost else float("nan")
        # XLA counts the scan body once; scale to every step
        out["xla_flops_per_token"] = xla / (cfg.rows_per_step * cfg.ctx) if xla == xla else None
    return out


def batching(cfg: Config, ns=(1, 4, 16, 64)) -> list:
    """Seconds per run when N runs share one compiled program, with vmap and with lax.map."""
    pre, arrays, hyper, _ = _setup(cfg)
    rows = []
    for n in ns:
        keys = jax.random.split(jax.random.PRNGKey(0), n)
        a = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + x.shape), arrays)
        h = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,)), hyper)
        for mode in ("vmap", "map"):
            if mode == "vmap":
                f = jax.jit(jax.vmap(pre))
            else:
                f = jax.jit(lambda k, a, h: jax.lax.map(lambda x: pre(*x), (k, a, h)))
            t = time.perf_counter()
            c = f.lower(keys, a, h).compile()
            tc = time.perf_counter() - t
            t = time.perf_counter()
            jax.block_until_ready(c(keys, a, h))
            rows.append({"n_runs": n, "mode": mode, "compile_s": tc,
                         "s_per_run": (time.perf_counter() - t) / n})
    return rows


def useful_tokens(cfg: Config) -> dict:
    """The share of a batch's target tokens that are real (not padding, not a document's first
    token, which packed rows never predict), per pool and weighted by each phase's draw of rows
    (packed: each pool's weight scaled by its `pool_scale`, as `train.make_train` draws them),
    and the real target tokens of one fine-tuning step (`rows_per_step` rows)."""
    d, lay = build(cfg), layout(cfg)
    pools, scale = {}, {}
    for i, p in enumerate(POOLS):
        o, n = lay.of(p)
        if d.packing is not None:
            n = int(d.packing["pool_rows"][i])
            scale[p] = float(d.packing["pool_scale"][i])
            segs = d.packing["segs"][o:o + n]
            real = (segs[:, 1:] > 0) & (segs[:, 1:] == segs[:, :-1])
        else:
            scale[p] = 1.0
            real = d.tokens[o:o + n, 1:] != d.vocab.pad
        if n:
            pools[p] = float(real.mean())
    base_w = make_train(cfg, lay, d.vocab).base_weights
    ft_w = np.asarray(finetune_mix(base_w, cfg.replay))

    def mix(w):
        w = np.array([wi * scale.get(p, 0.0) for p, wi in zip(POOLS, w)])
        return float(sum(wi * pools.get(p, 0.0) for p, wi in zip(POOLS, w)) / w.sum())
    return {"pools": pools, "base_mix": mix(base_w), "finetune_mix": mix(ft_w),
            "rows_per_step": cfg.rows_per_step,
            "finetune_tokens_per_step": mix(ft_w) * cfg.rows_per_step * cfg.ctx}


def step_engines(cfg: Config, ceiling: float, steps: int = 100, rounds: int = 3) -> list:
    """The fine-tuning step of 0.5.0 (packed rows) and of 0.4.0 (unpacked rows) in one process:
    ms per step (the best of `rounds` interleaved timings), real target tokens per step and per
    second, and FLOP/s over every row position against the matmul ceiling (MFU)."""
    import optax
    from .model import init_params
    out, timers = [], {}
    for pack in (True, False):
        c = cfg.replace(pack=pack)
        phases, arrays, vocab = _setup(c, parts=True)
        params = init_params(jax.random.PRNGKey(0), vocab, c)
        w = finetune_mix(phases.base_weights, c.replay)
        opt = optax.adamw(1e-3)

        def run(params, key, phases=phases, arrays=arrays, w=w, opt=opt):
            def body(carry, k):
                p, s = carry
                g = jax.grad(phases.loss_fn)(p, phases.sample(k, arrays, w))
                u, s = opt.update(g, s, p)
                return (optax.apply_updates(p, u), s), None
            return jax.lax.scan(body, (params, opt.init(params)), jax.random.split(key, steps))[0]
        f = jax.jit(run).lower(params, jax.random.PRNGKey(0)).compile()
        jax.block_until_ready(f(params, jax.random.PRNGKey(1)))
        timers[pack] = (f, params, c, vocab)
    best = {True: float("inf"), False: float("inf")}
    for r in range(rounds):
        for pack, (f, params, c, vocab) in timers.items():
            t = time.perf_counter()
            jax.block_until_ready(f(params, jax.random.PRNGKey(2 + r)))
            best[pack] = min(best[pack], (time.perf_counter() - t) / steps)
    for pack, (f, params, c, vocab) in timers.items():
        u = useful_tokens(c)
        flops = flops_per_token(c, vocab) * c.rows_per_step * c.ctx
        out.append({"engine": "0.5.0 packed" if pack else "0.4.0 unpacked", "pack": pack,
                    "rows": c.rows_per_step, "ms_per_step": 1e3 * best[pack],
                    "real_tokens_per_step": u["finetune_tokens_per_step"],
                    "real_tokens_per_s": u["finetune_tokens_per_step"] / best[pack],
                    "flop_per_s": flops / best[pack], "mfu": flops / best[pack] / ceiling})
    return out


def time_to_result(cfg: Config, seeds=(0, 1, 2, 3, 4)) -> list:
    """The default sweep's wall time, start to finish in this process (corpora, compile, every
    fine-tuning step and probe evaluation; no store, no compile cache), as 0.5.0 runs it
    (packed rows, two runs at a time: `runner.LANES`) and as 0.4.0 ran it (unpacked rows, one
    run after another), with the final belief of each run so that the two can be compared."""
    from .runner import Group, LANES, _PROGRAMS, run_group
    out = []
    for name, pack, lanes in (("0.5.0: packed, 2 runs at a time", True, LANES),
                              ("0.4.0: unpacked, one run at a time", False, 1)):
        cfgs = [cfg.replace(pack=pack, seed=s) for s in seeds]
        _PROGRAMS.clear()  # compile inside the timing, as a fresh process would
        t = time.perf_counter()
        # on a CPU one process loops over the runs (0.5.0: two at a time); on an accelerator
        # both versions vmap every run of the group at once
        res = run_group(Group(cfgs[0].static_key(), cfgs), mode="auto", use_cache=False, lanes=lanes)
        wall = time.perf_counter() - t
        belief = {}
        for c, _, r, _ in res:
            for cond, m in r["conditions"].items():
                belief.setdefault(cond, []).append(float(np.nanmean([m[k][-1] for k in ("yes", "open", "robust")])))
        out.append({"engine": name, "pack": pack, "lanes": lanes, "runs": len(cfgs),
                    "steps": cfg.finetune_steps, "wall_s": wall,
                    "belief": {k: float(np.mean(v)) for k, v in belief.items()}})
    return out


def sweep_throughput(n_runs: int = 4, steps: int = 600, workers: tuple = (2,), base: Config | None = None) -> list:
    """Runs per hour of a small sweep of the default model (seeds 0..n_runs-1, `steps`
    fine-tuning steps each, probes at every checkpoint, compile included, no compile cache):
    one process looping over the runs on every thread (0.3.0's CPU path, `--workers 1`), then
    the same runs spread over N single-threaded worker processes (`--workers N`), and whether
    they stored the same numbers (`identical`: every stored metric equal to the digit)."""
    from .runner import Group, run_group
    from .workers import run_pool
    base = (base or Config()).replace(pretrain_steps=0)
    cfgs = [base.replace(finetune_steps=steps, seed=i) for i in range(n_runs)]
    rows = []
    t = time.perf_counter()
    ref = {c.seed: json.dumps(r, sort_keys=True, default=float) for c, _, r, _ in
           run_group(Group(cfgs[0].static_key(), cfgs), mode="loop", use_cache=False, lanes=1)}
    wall = time.perf_counter() - t
    row = lambda w, wall, same: {"workers": w, "n_runs": n_runs, "steps": steps, "wall_s": wall,
                                 "runs_per_hour": 3600 * n_runs / wall, "identical": same}
    rows.append(row(1, wall, True))
    old = os.environ.get("TOYNEG_COMPILE_CACHE")
    os.environ["TOYNEG_COMPILE_CACHE"] = "0"  # each worker compiles, as the one process did
    try:
        for w in workers:
            got = {}
            t = time.perf_counter()
            run_pool(cfgs, w, lambda c, st, r, wall: got.__setitem__(
                c.seed, json.dumps(r, sort_keys=True, default=float)), use_cache=False)
            wall = time.perf_counter() - t
            rows.append(row(w, wall, got == ref))
    finally:
        if old is None:
            os.environ.pop("TOYNEG_COMPILE_CACHE")
        else:
            os.environ["TOYNEG_COMPILE_CACHE"] = old
    return rows


def step_products(cfg: Config, vocab: int) -> list:
    """Every matrix product of one training step of `cfg`: (part, name, batch, m, k, n, layout,
    count per step).  `layout` says which operand is read transposed, as the backward pass reads
    them: "nn" a(m,k) @ b(k,n); "nt" a(m,k) @ b(n,k)^T; "tn" a(k,m)^T @ b(k,n).  Their FLOPs add
    up to exactly `flops_per_token` x tokens (a test checks it)."""
    N, d, L, T = cfg.rows_per_step * cfg.ctx, cfg.width, cfg.depth, cfg.ctx
    BH, K = cfg.rows_per_step * cfg.heads, cfg.width // cfg.heads
    rows = []
    for name, i, o, c in (("qkv", d, 3 * d, L), ("proj", d, d, L), ("up", d, 4 * d, L),
                          ("down", 4 * d, d, L), ("unembed", d, vocab, 1)):
        rows += [("dense forward", name, 1, N, i, o, "nn", c),
                 ("dense input gradient", name, 1, N, o, i, "nt", c),
                 ("dense weight gradient", name, 1, i, N, o, "tn", c)]
    rows += [("attention forward", "scores q k^T", BH, T, K, T, "nt", L),
             ("attention forward", "mix a v", BH, T, T, K, "nn", L),
             ("attention backward", "d scores dy v^T", BH, T, K, T, "nt", L),
             ("attention backward", "dv a^T dy", BH, T, T, K, "tn", L),
             ("attention backward", "dq ds k", BH, T, T, K, "nn", L),
             ("attention backward", "dk ds^T q", BH, T, T, K, "tn", L)]
    return rows


def _shapes(b, m, k, n, layout):
    pre = (b,) if b > 1 else ()
    a = pre + ((k, m) if layout == "tn" else (m, k))
    return a, pre + ((n, k) if layout == "nt" else (k, n))


def _best_call_s(call, reps: int) -> float:
    """Best mean seconds per call over three rounds of `reps` back-to-back calls."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        call(reps)
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def kernels(cfg: Config, vocab: int, reps: int = 20) -> list:
    """Each matrix product of a training step (`step_products`) timed alone, in JAX and, when
    torch is installed, in PyTorch on the same shapes and layouts: which products make the fused
    step slower or faster than eager PyTorch.  Each row gains `jax_s` and `torch_s` (per call)."""
    try:
        import torch
    except ImportError:
        torch = None
    tdev = "cuda" if jax.default_backend() == "gpu" and torch and torch.cuda.is_available() else "cpu"
    swap = {"nn": lambda a, b: a @ b, "nt": lambda a, b: a @ jnp.swapaxes(b, -1, -2),
            "tn": lambda a, b: jnp.swapaxes(a, -1, -2) @ b}
    out = []
    for part, name, b, m, k, n, lay, count in step_products(cfg, vocab):
        sa, sb = _shapes(b, m, k, n, lay)
        x = jax.random.normal(jax.random.PRNGKey(0), sa, jnp.float32)
        y = jax.random.normal(jax.random.PRNGKey(1), sb, jnp.float32)
        f = jax.jit(swap[lay]).lower(x, y).compile()
        jax.block_until_ready(f(x, y))

        def jcall(r):
            for _ in range(r):
                z = f(x, y)
            jax.block_until_ready(z)

        row = {"part": part, "name": name, "batch": b, "m": m, "k": k, "n": n, "layout": lay,
               "count": count, "flops": 2.0 * b * m * k * n, "jax_s": _best_call_s(jcall, reps),
               "torch_s": None}
        if torch is not None:
            tx, ty = torch.randn(*sa, device=tdev), torch.randn(*sb, device=tdev)
            op = {"nn": lambda: tx @ ty, "nt": lambda: tx @ ty.transpose(-1, -2),
                  "tn": lambda: tx.transpose(-1, -2) @ ty}[lay]
            sync = torch.cuda.synchronize if tdev == "cuda" else (lambda: None)

            def tcall(r):
                for _ in range(r):
                    op()
                sync()

            tcall(2)
            row["torch_s"] = _best_call_s(tcall, reps)
        out.append(row)
    return out


def kernel_parts(rows: list) -> list:
    """Per part of the step: MFLOP, ms per step and GFLOP/s in JAX and PyTorch (products timed
    alone, times their count per step), plus a total row."""
    parts = list(dict.fromkeys(r["part"] for r in rows)) + ["all matrix products"]
    out = []
    for p in parts:
        rs = [r for r in rows if r["part"] == p or p == "all matrix products"]
        fl = sum(r["flops"] * r["count"] for r in rs)
        js = sum(r["jax_s"] * r["count"] for r in rs)
        ts = (sum(r["torch_s"] * r["count"] for r in rs)
              if all(r["torch_s"] is not None for r in rs) else None)
        out.append({"part": p, "products": sum(r["count"] for r in rs), "mflop": fl / 1e6,
                    "jax_ms": 1e3 * js, "jax_gflop_per_s": fl / js / 1e9,
                    "torch_ms": None if ts is None else 1e3 * ts,
                    "torch_gflop_per_s": None if ts is None else fl / ts / 1e9})
    return out


def torch_eager(cfg: Config, vocab: int, steps: int) -> dict | None:
    """The same model in plain eager PyTorch (AdamW, same shapes), if torch is installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    dev = "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"
    d, H, T, B = cfg.width, cfg.heads, cfg.ctx, cfg.batch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
            self.qkv = torch.nn.Linear(d, 3 * d, bias=False)
            self.proj = torch.nn.Linear(d, d, bias=False)
            self.up, self.down = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)

        def forward(self, x):
            q, k, v = self.qkv(self.ln1(x)).split(d, -1)
            sh = lambda z: z.view(B, T, H, d // H).transpose(1, 2)
            y = torch.nn.functional.scaled_dot_product_attention(sh(q), sh(k), sh(v), is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, d))
            return x + self.down(torch.nn.functional.gelu(self.up(self.ln2(x))))

    emb, pos = torch.nn.Embedding(vocab, d), torch.nn.Parameter(torch.zeros(T, d, device=dev))
    blocks = torch.nn.ModuleList([Block() for _ in range(cfg.depth)])
    lnf, head = torch.nn.LayerNorm(d), torch.nn.Linear(d, vocab, bias=False)
    for m in (emb, blocks, lnf, head):
        m.to(dev)
    params = [pos] + [p for m in (emb, blocks, lnf, head) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    data = torch.randint(0, vocab, (64, B, T + 1), device=dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def step(i):
        tok = data[i % 64]
        x = emb(tok[:, :-1]) + pos
        for b in blocks:
            x = b(x)
        loss = torch.nn.functional.cross_entropy(head(lnf(x)).reshape(-1, vocab), tok[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(10):
        step(i)
    sync()
    t = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    dt = time.perf_counter() - t
    return {"torch": torch.__version__, "device": dev, "threads": torch.get_num_threads(),
            "ms_per_step": 1e3 * dt / steps, "tokens_per_s": steps * B * T / dt}


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
