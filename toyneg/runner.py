"""Run many configurations: group by static shape, compile once per group, share pretraining.

- `plan(configs)` groups runs whose static fields agree (`Config.static_key`); a group compiles
  its phase functions once and every run of it goes through them.
- Pretrained weights depend only on `Config.pretrain_key`; they are computed once per key,
  kept in memory and cached on disk (`TOYNEG_CACHE`, default `~/.cache/toyneg`), so every
  condition, wording and fine-tuning setting of the same world/model/seed reuses them.
- Batching: `vmap` (GPU default: many small runs at once), `map` (`lax.map` inside one
  compiled program) or `loop` (CPU default: one compiled function called once per run, so that
  every finished run is stored at once).  In `loop` mode `lanes` runs go at a time, each from
  its own host thread, sharing the process's XLA threads: on 2 cores a small model's step uses
  them only in part, and two runs at once finish 1.15-1.2x sooner than one after the other,
  with bit-identical numbers (tests/test_train.py).  With several devices the run axis of
  `vmap` is sharded across them with `jax.sharding`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import __version__
from .config import Config
from .data import Data, build_checked, build_vocab, layout
from .model import init_params
from .data import MONITOR_GROUPS
from .probes import CONTROL_METRICS, KINDS, METRICS, MONITOR_METRICS
from .train import Hyper, checkpoint_steps, finetune_mix, make_train

MODES = ("auto", "vmap", "map", "loop")
LANES = 2  # runs trained at once in `loop` mode (see the module docstring)


@dataclasses.dataclass
class Group:
    key: str
    configs: list

    @property
    def n_pretrain(self) -> int:
        return len({c.pretrain_key() for c in self.configs})


def plan(configs: list) -> list:
    groups: dict = {}
    for c in configs:
        groups.setdefault(c.static_key(), []).append(c)
    return [Group(k, v) for k, v in groups.items()]


def resolve_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not allowed: expected one of {list(MODES)}")
    if mode == "auto":
        return "loop" if jax.default_backend() == "cpu" else "vmap"
    return mode


def cache_dir() -> str:
    return os.environ.get("TOYNEG_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "toyneg"))


def enable_compile_cache() -> None:
    """JAX's persistent compilation cache under the toyneg cache (or TOYNEG_XLA_CACHE): a
    repeated CLI run of the same shapes loads its programs instead of compiling them (set
    TOYNEG_COMPILE_CACHE=0 to skip)."""
    if os.environ.get("TOYNEG_COMPILE_CACHE", "1") == "0":
        return
    jax.config.update("jax_compilation_cache_dir",
                      os.environ.get("TOYNEG_XLA_CACHE") or os.path.join(cache_dir(), "xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def summarize(cfg: Config, data: Data, steps: np.ndarray, evals, losses, bad_step,
              monitor=None, control=None) -> dict:
    """Per-condition mean of every metric at every checkpoint (host side, JSON-ready), and the
    held-out monitor's rates per fact group (with the number of facts in each group)."""
    evals = np.asarray(evals, np.float64)
    conds = np.array(data.conds)
    out, per = {}, {}
    for c in cfg.conditions:
        m = evals[:, conds == c]  # (K+1, claims of c, M)
        m = np.where(np.isfinite(m), m, np.nan)
        n = np.isfinite(m).sum(1)
        mean = np.where(n > 0, np.nansum(m, 1) / np.maximum(n, 1), np.nan)  # NaN: no such claims
        # rounded to 6 decimals, far below any rate's noise, so the committed per-run files
        # (`tables.to_csv(exact=True)`) hold exactly what the store holds
        out[c] = {name: [round(float(x), 6) for x in mean[:, i]] for i, name in enumerate(METRICS)}
        # every claim's own values too (checkpoint x claim), for CIs that count claims as well
        # as seeds (`stats.hierarchical_ci`)
        per[c] = {name: np.round(m[:, :, i], 6).tolist() for i, name in enumerate(METRICS)}
    mon = {}
    if monitor is not None and len(data.probes["mon_group"]):
        monitor = np.asarray(monitor, np.float64)
        counts = np.bincount(data.probes["mon_group"], minlength=len(MONITOR_GROUPS))
        for gi, g in enumerate(MONITOR_GROUPS):
            mon[g] = {name: [None if not np.isfinite(x) else round(float(x), 6) for x in monitor[:, gi, i]]
                      for i, name in enumerate(MONITOR_METRICS)}
            mon[g]["n_facts"] = int(counts[gi])
    ctl = {}
    if control is not None and cfg.corrections:
        control = np.asarray(control, np.float64)
        ctl = {kind: {name: [round(float(x), 6) for x in control[:, k, j]] for j, name in enumerate(CONTROL_METRICS)}
               for k, kind in enumerate(KINDS) if kind in cfg.corrections}
    return {"steps": [int(s) for s in steps], "conditions": out, "claims": per, "monitor": mon,
            "control": ctl,
            "losses": [float(x) for x in np.asarray(losses)], "bad_step": int(bad_step),
            "device": device_name(), "software": software()}


def device_name() -> str:
    """What trained a run (kept with it, so a report names its machine): the processor model or
    GPU name and the core count, since the same seed follows another trajectory elsewhere."""
    d = jax.devices()[0]
    prec = jax.config.jax_default_matmul_precision
    kind = getattr(d, "device_kind", d.platform)
    if jax.default_backend() == "cpu":
        kind = f"{cpu_model()}, {os.cpu_count()} cores"
    return (f"{jax.default_backend()} ({kind})"
            + (f", matmul precision {prec}" if prec else ""))


def software() -> str:
    """The numerics a run depends on beyond its configuration: jax and flax versions and the
    float32 matmul precision (JAX's default is full float32 on a CPU, TensorFloat32 on a
    recent NVIDIA GPU)."""
    import flax
    prec = jax.config.jax_default_matmul_precision or "default"
    return f"jax {jax.__version__}, flax {flax.__version__}, matmul precision {prec}"


def cpu_model() -> str:
    """The processor's model name (Linux /proc/cpuinfo; the platform's word elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "cpu"


class Program:
    """The compiled phase functions of one static configuration, batched by `mode`."""

    def __init__(self, cfg: Config, mode: str):
        self.cfg, self.mode = cfg, resolve_mode(mode)
        vocab = build_vocab(cfg)
        self.vocab_size = len(vocab)
        self.layout = layout(cfg)
        phases = make_train(cfg, self.layout, vocab)
        pre, ft, self.steps = phases.pretrain, phases.finetune, phases.steps
        self._compiled: dict = {}
        self._lock = threading.Lock()
        if self.mode == "loop":
            self.pre, self.ft = jax.jit(pre), jax.jit(ft, donate_argnums=0)
        elif self.mode == "vmap":
            self.pre, self.ft = jax.jit(jax.vmap(pre)), jax.jit(jax.vmap(ft), donate_argnums=0)
        else:
            self.pre = jax.jit(lambda k, a, h: jax.lax.map(lambda x: pre(*x), (k, a, h)))
            self.ft = jax.jit(lambda p, k, a, h: jax.lax.map(lambda x: ft(*x), (p, k, a, h)),
                              donate_argnums=0)

    def compiled(self, phase: str, *args):
        """The ahead-of-time compiled `pre` or `ft` for these arguments' shapes, compiled once:
        runs in several lanes then share one executable (concurrent first calls of a jitted
        function could each compile it)."""
        key = (phase, str(jax.tree.map(lambda x: (np.shape(x), str(x.dtype)), args)))
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = getattr(self, phase).lower(*args).compile()
            return self._compiled[key]

    # -- pretrained weights cache --
    def _cache_path(self, cfg: Config) -> str:
        """Keyed by the pretraining config and by the numerics that produced the weights (backend
        and JAX's default matmul precision): a bfloat16 or GPU sweep never reuses float32 CPU
        weights, so a precision check compares whole runs, pretraining included."""
        prec = jax.config.jax_default_matmul_precision or "default"
        return os.path.join(cache_dir(), f"pretrain-{__version__}-{cfg.pretrain_key()}-"
                                         f"{jax.default_backend()}-{prec}.npz")

    def load_cached(self, cfg: Config):
        path = self._cache_path(cfg)
        if not os.path.exists(path):
            return None
        like = jax.eval_shape(lambda: init_params(jax.random.PRNGKey(0), self.vocab_size, cfg))
        leaves, treedef = jax.tree.flatten(like)
        with np.load(path) as z:
            arrs = [z[f"a{i}"] for i in range(len(leaves))]
        if any(a.shape != l.shape for a, l in zip(arrs, leaves)):
            return None
        return jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrs])

    def save_cached(self, cfg: Config, params) -> None:
        path = self._cache_path(cfg)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + f".tmp{os.getpid()}.npz"
        np.savez(tmp, **{f"a{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(params))})
        os.replace(tmp, path)  # atomic: a killed sweep never leaves a half-written cache


_PROGRAMS: dict = {}


def program(cfg: Config, mode: str) -> "Program":
    """The compiled program of `cfg`'s static shape, built once per process: a worker that
    trains several runs of one group one at a time (`toyneg.workers`) compiles once."""
    key = (cfg.static_key(), resolve_mode(mode))
    if key not in _PROGRAMS:
        _PROGRAMS[key] = Program(cfg, mode)
    return _PROGRAMS[key]


def _stack(trees):
    return jax.tree.map(lambda *xs: np.stack(xs), *trees)


def _keys(cfg: Config):
    key = jax.random.PRNGKey(cfg.seed)
    return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


def _shard(tree, n_dev: int):
    """Put the leading run axis of every array across all devices."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:n_dev]), ("runs",))  # auto (GSPMD) axes
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    return jax.device_put(tree, spec)


def build_all(configs: list) -> dict:
    """Every run's corpus, built before anything runs or is stored: a corpus that cannot fit
    `ctx` is a `ConfigError` at planning time (`--dry-run` included), not a failure mid-sweep."""
    return {c: build_checked(c) for c in configs}


def time_group(group: Group, datas: dict, mode: str = "auto", n_steps: int = 5) -> dict:
    """Time this group's compiled parts on this machine, for a measured plan (`--dry-run`):
    compiling and running a few training steps (batch drawn on device, forward, backward, AdamW)
    and one evaluation (every probe, greedy restatements included), batched like the real runs
    (`vmap` over the group's runs, or one run at a time).  The estimate adds them up over the
    group's steps and checkpoints (`estimate_group`)."""
    cfg = group.configs[0]
    mode = resolve_mode(mode)
    R = len(group.configs) if mode == "vmap" else 1
    d = datas[cfg]
    phases = make_train(cfg, layout(cfg), d.vocab)
    w = finetune_mix(phases.base_weights, cfg.replay)
    opt = optax.adamw(1e-3)

    def steps(params, opt_state, key, arrays, n):
        def body(i, c):
            p, o = c
            batch = phases.sample(jax.random.fold_in(key, i), arrays, w)
            u, o = opt.update(jax.grad(phases.loss_fn)(p, batch), o, p)
            return optax.apply_updates(p, u), o
        return jax.lax.fori_loop(0, n, body, (params, opt_state))

    run_steps, evaluate = steps, phases.evaluate
    params = init_params(jax.random.PRNGKey(0), len(d.vocab), cfg)
    arrays = jax.tree.map(jnp.asarray, d.arrays())
    opt_state = opt.init(params)
    key = jax.random.PRNGKey(0)
    if R > 1:
        run_steps = jax.vmap(steps, in_axes=(0, 0, 0, 0, None))
        evaluate = jax.vmap(phases.evaluate)
        params, opt_state, arrays = (jax.tree.map(lambda x: jnp.stack([x] * R), t)
                                     for t in (params, opt_state, arrays))
        key = jax.random.split(key, R)
    t = time.perf_counter()
    run_steps = jax.jit(run_steps).lower(params, opt_state, key, arrays, 1).compile()
    compile_step_s = time.perf_counter() - t
    evaluate = jax.jit(evaluate).lower(params, arrays).compile()
    compile_eval_s = time.perf_counter() - t - compile_step_s

    def best(fn, repeats):  # the fastest of a few repeats, after a warm-up call (like timeit)
        jax.block_until_ready(fn())
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - t)
        return min(times)

    step_s = best(lambda: run_steps(params, opt_state, key, arrays, n_steps), 3) / n_steps
    eval_s = best(lambda: evaluate(params, arrays), 2)
    return {"mode": mode, "batch_runs": R, "compile_step_s": compile_step_s,
            "compile_eval_s": compile_eval_s, "step_s": step_s, "eval_s": eval_s}


def estimate_group(group: Group, timing: dict) -> float:
    """Seconds to run `group` from `time_group`'s measurements: compile (the pretraining and
    fine-tuning programs each hold a training step, fine-tuning the evaluation), pretraining once per pretraining key, and
    per run (or per vmapped batch) its fine-tuning steps and evaluations."""
    cfgs, R = group.configs, timing["batch_runs"]
    n_batches = -(-len(cfgs) // R)
    c = cfgs[0]
    n_evals = len(checkpoint_steps(c.finetune_steps + c.phase2_steps, c.checkpoints, c.finetune_steps)) + 1
    pre = group.n_pretrain * c.pretrain_steps * timing["step_s"] / R
    compile_s = timing["compile_eval_s"] + timing["compile_step_s"] * (2 if c.pretrain_steps else 1)
    per_batch = (c.finetune_steps + c.phase2_steps) * timing["step_s"] + n_evals * timing["eval_s"]
    return compile_s + pre + n_batches * per_batch


def _in_lanes(jobs: list, lanes: int, finish: Callable) -> None:
    """Call every `job()` (returning (index, result, seconds)), `lanes` at a time in host threads,
    and `finish(*returned)` in this thread as each one ends (so callers' stores and callbacks are
    never touched from two threads)."""
    if lanes <= 1 or len(jobs) <= 1:
        for job in jobs:
            finish(*job())
        return
    with ThreadPoolExecutor(min(lanes, len(jobs))) as pool:
        pending = {pool.submit(job) for job in jobs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                finish(*f.result())


def run_group(group: Group, mode: str = "auto", on_run: Callable | None = None,
              use_cache: bool = True, on_params: Callable | None = None,
              datas: dict | None = None, lanes: int = LANES) -> list:
    """Train every run of `group`; call `on_run(cfg, status, result, wall)` as each finishes,
    and `on_params(cfg, data, params)` with its corpus and final weights (for analyses that probe
    the trained model beyond the stored metrics, `toyneg.mechanism`).  `datas` maps a config to
    its corpus when the caller built it already (`build_all`).  In `loop` mode `lanes` runs train
    at once (host threads sharing one compiled program); `wall` is then each run's own elapsed
    time, longer than it would take alone."""
    cfgs = group.configs
    t0 = time.time()
    datas = [datas[c] if datas and c in datas else build_checked(c) for c in cfgs]
    prog = program(cfgs[0], mode)
    for c, d in zip(cfgs, datas):  # one compiled program: one vocabulary size (never silent NaN)
        if len(d.vocab) != prog.vocab_size:
            raise ValueError(f"run seed={c.seed} has a vocabulary of {len(d.vocab)} tokens but its "
                             f"group's program was built for {prog.vocab_size}")
    arrays = [jax.tree.map(np.asarray, d.arrays()) for d in datas]
    hypers = [Hyper.of(c) for c in cfgs]
    # ---- pretraining: once per pretrain key, from disk when cached
    pre_of: dict = {}
    todo = []
    for i, c in enumerate(cfgs):
        k = c.pretrain_key()
        if k in pre_of or any(k == cfgs[j].pretrain_key() for j in todo):
            continue
        cached = prog.load_cached(c) if use_cache and c.pretrain_steps > 0 else None
        if cached is not None:
            pre_of[k] = cached
        else:
            todo.append(i)
    if todo:
        if prog.mode == "loop":
            def pretrain(i):
                args = (_keys(cfgs[i])[0], arrays[i], hypers[i])
                return i, prog.compiled("pre", *args)(*args)[0], 0.0
            _in_lanes([lambda i=i: pretrain(i) for i in todo], lanes,
                      lambda i, params, _: pre_of.__setitem__(cfgs[i].pretrain_key(), params))
        else:
            ks = jnp.stack([_keys(cfgs[i])[0] for i in todo])
            a, h = _stack([arrays[i] for i in todo]), _stack([hypers[i] for i in todo])
            params, _ = prog.pre(ks, a, h)
            for j, i in enumerate(todo):
                pre_of[cfgs[i].pretrain_key()] = jax.tree.map(lambda x: x[j], params)
        if use_cache:
            for i in todo:
                if cfgs[i].pretrain_steps > 0:
                    prog.save_cached(cfgs[i], pre_of[cfgs[i].pretrain_key()])
    t_pre = time.time() - t0
    # ---- fine-tuning
    out = []

    def finish(i, res, wall):
        cfg = cfgs[i]
        summary = summarize(cfg, datas[i], prog.steps, res.evals, res.losses, res.bad_step,
                            res.monitor, res.control)
        status = "diverged" if summary["bad_step"] >= 0 else "done"
        out.append((cfg, status, summary, wall))
        if on_run:
            on_run(cfg, status, summary, wall)
        if on_params:
            on_params(cfg, datas[i], res.params)

    if prog.mode == "loop":
        def finetune(i):
            t = time.time()
            c = cfgs[i]
            params = jax.tree.map(jnp.array, pre_of[c.pretrain_key()])  # a copy: donated below
            args = (params, _keys(c)[1], arrays[i], hypers[i])
            res = jax.device_get(prog.compiled("ft", *args)(*args))
            return i, res, time.time() - t + t_pre / len(cfgs)
        _in_lanes([lambda i=i: finetune(i) for i in range(len(cfgs))], lanes, finish)
    else:
        t = time.time()
        R = len(cfgs)
        n_dev = jax.device_count() if prog.mode == "vmap" else 1
        pad = (-R) % n_dev
        idx = list(range(R)) + [R - 1] * pad
        inputs = (_stack([pre_of[cfgs[i].pretrain_key()] for i in idx]),
                  jnp.stack([_keys(cfgs[i])[1] for i in idx]),
                  _stack([arrays[i] for i in idx]), _stack([hypers[i] for i in idx]))
        if n_dev > 1:
            inputs = _shard(inputs, n_dev)
        res = jax.device_get(prog.ft(*inputs))
        wall = (time.time() - t + t_pre) / R
        for i in range(R):
            finish(i, jax.tree.map(lambda x: x[i], res), wall)
    return out
