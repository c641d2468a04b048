"""The benchmark's whole runs (`python -m toyneg.bench`): the default sweep's wall time as
0.5.0 and 0.4.0 run it, and runs per hour of one process against worker processes.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from .config import Config


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
