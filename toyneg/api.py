"""A few-line Python interface over the runner, the store and the statistics."""

from __future__ import annotations

import os

from .config import Config
from .runner import Group, enable_compile_cache, run_group


def run_experiment(cfg: Config, mode: str = "auto", use_cache: bool = True,
                   keep_model: bool = False) -> dict:
    """Train one run (every hosted condition) and return its summary: steps, per-condition
    metric curves (`result["conditions"][cond]["p_yes"]`), the held-out monitor, losses and
    divergence step; with `keep_model`, also its corpus and final weights ("data", "params"),
    e.g. for `toyneg.speak.transcripts(cfg, res["data"], res["params"])`."""
    enable_compile_cache()  # a ConfigError (bad field, corpus too long for ctx) comes before training
    kept = {}
    (_, status, summary, wall), = run_group(
        Group(cfg.static_key(), [cfg]), mode=mode, use_cache=use_cache,
        on_params=(lambda c, d, p: kept.update(data=d, params=p)) if keep_model else None)
    return {**summary, "status": status, "wall": wall, **kept}


def run_sweep(path: str, out: str | None = None, quiet: bool = True) -> str:
    """Run a sweep file like the CLI does; returns the output folder."""
    from .sweep import main
    from .sweepfile import load
    out = out or os.path.join("results", load(path).name)
    argv = [path, "--out", out] + (["--quiet"] if quiet else [])
    if main(argv) != 0:
        raise RuntimeError(f"sweep {path} failed")
    return out


def load_results(out: str) -> list:
    """Every stored run of a sweep output folder (dicts with config, result, status)."""
    from .store import Store
    store = Store(os.path.join(out, "store.sqlite"))
    try:
        return store.rows()
    finally:
        store.close()


def compare(out: str, a: str, b: str, metric: str = "p_yes", axes: list | None = None):
    """Compare two conditions (or 'field=value' settings) across matched seeds of a finished
    sweep: difference with bootstrap 95% CI, paired permutation p-value and effect size."""
    from .report import compare_store
    rows = load_results(out)
    if axes is None:  # every configuration field that varies among the stored runs
        axes = sorted({k for r in rows for k, v in r["config"].items()
                       if k != "seed" and any(r2["config"].get(k) != v for r2 in rows)})
    return compare_store(rows, axes, a, b, metric)
