"""The benchmark's matrix products: each product of a training step timed alone in JAX and in
PyTorch, and the same model as a plain eager PyTorch loop (`python -m toyneg.bench`): which
products make the fused JAX step slower or faster than eager PyTorch.  PyTorch is optional
(`pip install torch==2.13.0`); without it only the JAX side is measured.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from .config import Config


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
