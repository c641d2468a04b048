"""Run a sweep's runs in N single-threaded worker processes, one per core (`--workers N`).

On a small CPU, XLA spends much of a step in products it runs on one thread, so one process
leaves a core idle; N processes of one thread each keep every core busy. The pool is the
standard library's `ProcessPoolExecutor` (spawned, so each worker imports jax after its thread
settings) whose workers each pin themselves to one core (`os.sched_setaffinity`, where the
platform has it): each task is one run, and the parent stores each result as it arrives. A worker
compiles a group's program once and reuses it for every run of that group it is given
(`runner.program`); a parent killed at any moment loses only runs it had not stored, which a
re-run resumes (tests/test_sweep.py).
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context

# one XLA thread per worker; numpy/BLAS too (the host side of probes and summaries)
SINGLE_THREAD = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
                 "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _init(env: dict, cores) -> None:
    os.environ.update(env)  # before this process first imports jax
    _exit_with_parent()
    if cores is not None:  # one core per worker, so two workers never share one
        try:
            os.sched_setaffinity(0, {cores.get()})
        except (AttributeError, OSError):  # no affinity on this platform: the OS schedules
            pass


def _exit_with_parent() -> None:
    """End this worker when the sweep that started it is gone (a kill -9 leaves no one to tell
    it): a daemon thread watches the parent process id, which changes when the parent dies."""
    import threading
    import time
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _core_queue(ctx, n_workers: int):
    """The cores workers pin themselves to, one each (cycling when there are more workers than
    cores); None where the platform has no CPU affinity."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    q = ctx.Queue()
    for i in range(n_workers):
        q.put(cores[i % len(cores)])
    return q


def _one(cfg_dict: dict, use_cache: bool) -> tuple:
    from .config import from_dict
    from .runner import Group, enable_compile_cache, run_group
    enable_compile_cache()
    cfg = from_dict(cfg_dict)
    (_, status, summary, wall), = run_group(Group(cfg.static_key(), [cfg]), mode="loop",
                                            use_cache=use_cache)
    return status, summary, wall


def run_pool(configs: list, n_workers: int, on_run, use_cache: bool = True) -> None:
    """Train every config in `n_workers` single-threaded processes; `on_run(cfg, status,
    result, wall)` is called in this process as each run finishes (in completion order).
    Runs are submitted group by group, so a worker mostly stays on one compiled program."""
    env = {**SINGLE_THREAD, "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " "
                                          + SINGLE_THREAD["XLA_FLAGS"]).strip()}
    order = sorted(configs, key=lambda c: c.static_key())
    ctx = get_context("spawn")
    with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init,
                             initargs=(env, _core_queue(ctx, n_workers))) as pool:
        pending = {pool.submit(_one, c.to_dict(), use_cache): c for c in order}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                cfg = pending.pop(f)
                on_run(cfg, *f.result())
