"""The benchmark's measurements of one training step (`python -m toyneg.bench`, `toyneg.bench`).

- the dense float32 matmul rate of this JAX backend (the practical ceiling);
- tokens/s and achieved FLOP/s of the fused training step (`lax.scan`, donated buffers), FLOPs
  counted analytically as in nanoGPT's `estimate_mfu` (6 x matmul parameters x tokens + 12 x
  layers x width x context x tokens) and cross-checked once against XLA's own cost analysis;
  MFU = achieved / ceiling; compile time apart from run time;
- time per run when N runs go through one compiled program, batched with `vmap` and `lax.map`;
- where the step's time goes (batch sampling, forward, backward, AdamW, probes);
- the real target tokens of a batch, and 0.5.0's packed step against 0.4.0's unpacked one.
"""

from __future__ import annotations

import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from .config import Config
from .data import POOLS, build, layout
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
