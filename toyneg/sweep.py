"""`python -m toyneg.sweep [SWEEP.toml]`: plan, run, store, tabulate, plot and report a sweep.

    python -m toyneg.sweep                         # the default sweep (sweeps/default.toml)
    python -m toyneg.sweep diversity_cpu --dry-run # a canonical sweep by name: measured plan
    python -m toyneg.sweep sweeps/default.toml --shard 0/4 --out /scratch/s0   # one array task
    python -m toyneg.sweep sweeps/default.toml --merge /scratch/s0 /scratch/s1 ...
    python -m toyneg.sweep sweeps/default.toml --compare negated positive

A bare name (`diversity_cpu`) is one of the canonical sweep files shipped with the package
(`toyneg.sweeps.path`), so an installed toyneg runs them from any folder.

Bad input (unknown field, bad value, empty axis, malformed TOML, a corpus too long for `ctx`,
a bad `--shard`, `--merge` or `--compare`, an unwritable output folder) prints one paragraph
naming the file, the field and what is allowed, and exits with code 2 without touching
anything already stored.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shlex
import sys
import time
import warnings

from . import __version__
from .config import ConfigError
from .sweepfile import SweepError, expand, load, resolve, shard

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    pass


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m toyneg.sweep", description=__doc__.split("\n")[0])
    p.add_argument("sweep", nargs="?", default="default",
                   help="sweep file, or the name of a canonical sweep (default: default)")
    p.add_argument("--out", help="output folder (default: results/<sweep name>)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and a time estimate only")
    p.add_argument("--shard", help="run only slice I/N of the runs (e.g. 0/4), for job arrays")
    p.add_argument("--merge", nargs="+", metavar="DIR", help="merge these output folders' stores "
                   "into --out and write the outputs (runs nothing)")
    p.add_argument("--mode", default="auto", choices=("auto", "vmap", "map", "loop"),
                   help="how runs of one group are batched (auto: loop on CPU, vmap on GPU)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="compare two conditions (or axis settings 'field=value') of a finished sweep")
    p.add_argument("--metric", default="p_yes", help="metric for --compare (default p_yes)")
    p.add_argument("--smoke", action="store_true",
                   help="one tiny run of the sweep (a tiny world and model, every axis at its "
                        "first value) into <out>_smoke: checks that it runs end to end in seconds")
    p.add_argument("--until-decided", action="store_true",
                   help="add seeds in rounds ([decide] seeds_step) until every [hypotheses] entry "
                        "is decided, the seed cap ([decide] seeds_max) or --budget is reached")
    p.add_argument("--budget", type=float, metavar="MINUTES",
                   help="with --until-decided: start no round that would end past this many minutes")
    p.add_argument("--pilot", metavar="DIR",
                   help="with --dry-run: plan the hypotheses' seeds from this folder's runs (its "
                        "store.sqlite, or its committed runs.jsonl.xz/metrics.csv.xz/claims.csv.xz)")
    p.add_argument("--allow-invalid", action="store_true",
                   help="--compare settings that failed the validity gate (docs/validity.md)")
    p.add_argument("--workers", type=int, default=1,
                   help="train in N single-threaded worker processes, one per core (CPU, loop mode)")
    p.add_argument("--lanes", type=int, default=None,
                   help="runs trained at once in one process, sharing its threads (loop mode; "
                        "default 2: 1.15-1.2x on 2 cores, the same numbers)")
    p.add_argument("--no-cache", action="store_true", help="do not reuse pretrained weights from disk")
    p.add_argument("--no-outputs", action="store_true", help="store runs but skip tables and figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, only errors and the final line")
    return p.parse_args(argv)


def _writable(folder: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("")
        os.remove(probe)
    except OSError as e:
        raise UsageError(f"output folder {folder!r} is not writable ({e.strerror}); "
                         f"choose another with --out.") from None


def measured_plan(groups: list, datas: dict, mode: str, build_s: float) -> tuple:
    """Time each group's compiled step and evaluation here (`runner.time_group`) and add them
    up; returns (seconds, lines): the corpora are already built (`build_s`, measured)."""
    from .runner import estimate_group, time_group
    total, lines = build_s + OUTPUTS_S, []
    for i, g in enumerate(groups):
        t = time_group(g, datas, mode)
        est = estimate_group(g, t)
        total += est
        c = g.configs[0]
        lines.append(f"  group {i}: {len(g.configs)} run(s), {g.n_pretrain} pretraining(s); width "
                     f"{c.width}, depth {c.depth}, ctx {c.ctx}, {len(c.conditions)} hosted "
                     f"condition(s), {c.pretrain_steps}+{c.finetune_steps + c.phase2_steps} steps; "
                     f"measured {t['step_s'] * 1e3:.1f} ms/step, {t['eval_s']:.2f} s/evaluation "
                     f"({t['mode']}, {t['batch_runs']} run(s) at once), compile "
                     f"{t['compile_step_s'] + t['compile_eval_s']:.0f} s -> about {est / 60:.1f} min")
    return total, lines


OUTPUTS_S = 10.0  # tables, figures and report of a finished sweep (seconds; measured on 2 cores)


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m toyneg.sweep"] + [shlex.quote(a) for a in
                                                      (sys.argv[1:] if argv is None else argv)])
    try:
        path = resolve(args.sweep)
        sweep = load(path)
        if args.smoke:
            from .sweepfile import smoke
            sweep = smoke(sweep)
            if args.until_decided or args.compare or args.merge:
                raise UsageError("--smoke runs one tiny run; it cannot be combined with "
                                 "--until-decided, --compare or --merge.")
        configs = expand(sweep)
        _check_decide_args(sweep, args)
        out = args.out or os.path.join("results", sweep.name)
        if args.shard:
            configs = shard(configs, args.shard)
        if args.compare:
            return _compare(sweep, out, args, configs)
        if args.workers < 1 or (args.workers > 1 and args.mode not in ("auto", "loop")):
            raise UsageError(f"--workers {args.workers}: expected a positive number of worker "
                             f"processes, and --mode loop or auto with more than one.")
        if args.lanes is not None and (args.lanes < 1 or args.mode not in ("auto", "loop")
                                       or args.workers > 1):
            raise UsageError(f"--lanes {args.lanes}: expected a positive number of runs at once, "
                             f"in --mode loop or auto and without --workers.")
        stored = (_read_store(out, f"--out {out}", "choose another output folder with --out")
                  if os.path.isfile(os.path.join(out, "store.sqlite")) else set())
        if args.merge:
            _check_merge_sources(args.merge)
            if args.until_decided:
                raise UsageError("--until-decided trains seeds; it cannot be combined with --merge.")
        else:  # every corpus still to run, before anything runs: one too long for ctx is an error here
            from .runner import build_all
            t = time.perf_counter()
            todo = [c for c in configs if c.run_hash(__version__) not in stored]
            try:  # stored runs are not re-run, so neither built nor planned
                datas = build_all(todo)
            except ConfigError as e:
                raise SweepError(f"{path}: {e}") from None
            build_s = time.perf_counter() - t
        if not args.dry_run:  # a plan writes nothing
            _writable(out)
    except (SweepError, ConfigError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from .runner import plan
    from .store import Store
    groups = plan(configs)
    store_path = os.path.join(out, "store.sqlite")
    if args.merge:
        store = Store(store_path)
        for d in args.merge:
            src = os.path.join(d, "store.sqlite")
            if os.path.isfile(src):
                n = store.merge_from(src)
            else:  # a folder whose store was never committed: its per-run files
                from .report import rows_from_outputs
                src = os.path.join(d, "runs.jsonl.xz")
                rows = rows_from_outputs(d)
                whole = [r for r in rows if r["result"]["conditions"] or r["status"] != "done"]
                if len(whole) < len(rows):
                    print(f"note: {len(rows) - len(whole)} run(s) of {src} have no curves in its "
                          f"metrics.csv.xz and were not merged", file=sys.stderr)
                n = sum(store.put(r["hash"], r["status"], r["config"], r["result"], r["wall"])
                        for r in whole)
            print(f"merged {n} run(s) from {src}")
        _outputs(sweep, out, store, command, configs)
        store.close()
        return 0

    if args.dry_run:  # a plan of what a run of this command would still do
        groups = plan(todo) if todo else []
        done = f", {len(configs) - len(todo)} already stored in {out}/" if stored else ""
        print(f"sweep '{sweep.name}' ({path}): {len(configs)} run(s){done}; {len(todo)} to run in "
              f"{len(groups)} compiled group(s), {sum(g.n_pretrain for g in groups)} pretraining(s) "
              f"shared by the runs; corpora built in {build_s:.0f} s"
              + ("; timing each group's compiled step ..." if groups else "; nothing to train, "
                 "only the outputs to write"), flush=True)
        est, lines = measured_plan(groups, datas, args.mode, build_s)
        print("\n".join(lines))
        from .runner import device_name
        print(f"estimated time on this machine ({device_name()}): about {est / 60:.1f} min "
              f"(compile included; less where the compile cache holds the programs); "
              f"outputs -> {out}/")
        if sweep.hypotheses:
            n_seeds = len(sweep.decide.seeds)
            per_seed = (est - build_s - OUTPUTS_S) / max(1, len(todo)) * len(configs) / n_seeds if todo else None
            print("\n".join(_power_plan(sweep, out, args.pilot, per_seed)))
        return 0

    if args.until_decided:
        return _until_decided(sweep, out, store_path, args, command)
    return _run(sweep, configs, groups, out, store_path, args, command, datas)


def _check_decide_args(sweep, args) -> None:
    """--until-decided, --budget and --pilot need what they act on (checked before anything runs)."""
    if args.budget is not None and not args.budget > 0:
        raise UsageError(f"--budget {args.budget:g}: expected a positive number of minutes.")
    if args.budget is not None and not args.until_decided:
        raise UsageError("--budget limits --until-decided; pass both.")
    if args.pilot is not None:
        if not args.dry_run:
            raise UsageError("--pilot feeds --dry-run's power plan; pass both.")
        if not (os.path.isfile(os.path.join(args.pilot, "store.sqlite"))
                or os.path.isfile(os.path.join(args.pilot, "metrics.csv.xz"))):
            raise UsageError(f"--pilot {args.pilot}: the folder holds no store.sqlite and no "
                             f"metrics.csv.xz; pass the output folder of a finished sweep.")
    if args.until_decided:
        if not sweep.hypotheses:
            raise UsageError(f"--until-decided: sweep '{sweep.name}' states no hypotheses; add "
                             f"[hypotheses.NAME] tables (docs/sweeps.md, 'Hypotheses').")
        if sweep.decide.seeds_max <= len(sweep.decide.seeds):
            raise UsageError(f"--until-decided: sweep '{sweep.name}' leaves no seeds to add "
                             f"(seeds_max = {sweep.decide.seeds_max}, the file runs "
                             f"{len(sweep.decide.seeds)}); set [decide] seeds_max above that.")
        if args.shard or args.compare or args.dry_run:
            raise UsageError("--until-decided runs the whole plan; it cannot be combined with "
                             "--shard, --compare or --dry-run.")


def plan_configs(sweep, n_seeds: int) -> list:
    """The sweep's configurations with its seed axis replaced by the plan's first `n_seeds`."""
    import dataclasses
    seeds = sweep.decide.seed_list(n_seeds)
    if "seed" in sweep.axes:
        return expand(dataclasses.replace(sweep, axes={**sweep.axes, "seed": seeds}))
    return [c for s in seeds for c in expand(dataclasses.replace(sweep, base={**sweep.base, "seed": s}))]


def _pilot_rows(folder: str) -> tuple:
    """A pilot's runs and axes: its store where one exists, else its committed files."""
    if os.path.isfile(os.path.join(folder, "store.sqlite")):
        from .store import Store
        st = Store(os.path.join(folder, "store.sqlite"))
        rows = st.rows()
        st.close()
        from .report import varying_axes
        return rows, varying_axes(None, rows, sorted(set().union(*(r["config"] for r in rows))))
    from .report import rows_from_folder
    rows, axes, _ = rows_from_folder(folder)
    return rows, axes


def _power_plan(sweep, out: str, pilot: str | None, sec_per_seed) -> list:
    from .decide import plan
    from .gate import judge_seeds, keep_passing
    folder = pilot or sweep.decide.pilot or out
    if not (os.path.isfile(os.path.join(folder, "store.sqlite"))
            or os.path.isfile(os.path.join(folder, "metrics.csv.xz"))):
        return [f"hypotheses: no pilot to plan from ({folder}/ holds no runs): run a few seeds, "
                f"or name a finished sweep with --pilot or [decide] pilot"]
    rows, axes = _pilot_rows(folder)
    rows = keep_passing(rows, axes, judge_seeds(rows, axes))
    n = len(sweep.decide.seeds)
    lines = plan(rows, axes, sweep.hypotheses, sweep.decide, n, sec_per_seed)
    return [f"power plan from the runs in {folder}/:"] + lines


def _check_merge_sources(dirs: list) -> None:
    """Every --merge folder must hold a readable toyneg store, or the committed per-run files of
    a finished sweep (runs.jsonl.xz with metrics.csv.xz): checked before --out is touched."""
    for d in dirs:
        if (not os.path.isfile(os.path.join(d, "store.sqlite"))
                and os.path.isfile(os.path.join(d, "runs.jsonl.xz"))):
            if not os.path.isfile(os.path.join(d, "metrics.csv.xz")):
                raise UsageError(f"--merge {d}: runs.jsonl.xz without metrics.csv.xz; pass the "
                                 f"whole output folder of a finished sweep.")
            try:
                from .report import rows_from_outputs
                rows_from_outputs(d)
            except (OSError, ValueError, KeyError, EOFError, lzma.LZMAError) as e:
                raise UsageError(f"--merge {d}: its committed files do not read as a toyneg "
                                 f"sweep's ({type(e).__name__}: {e}).") from None
            continue
        _read_store(d, f"--merge {d}", "pass the output folders of finished shards (each holds "
                                         "a store.sqlite, or the committed runs.jsonl.xz, "
                                         "metrics.csv.xz and claims.csv.xz of 0.6.0)")



def _read_store(folder: str, what: str, hint: str) -> set:
    """The hashes of the runs in `folder`'s store, read without writing to it; a missing or
    unreadable store is a UsageError saying `what` needed it and what to do (`hint`)."""
    import sqlite3
    src = os.path.join(folder, "store.sqlite")
    if not os.path.isfile(src):
        raise UsageError(f"{what}: {src} does not exist; {hint}.")
    try:
        db = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            db.execute("SELECT hash, status, config, result, wall FROM runs LIMIT 1").fetchall()
            return {h for (h,) in db.execute("SELECT hash FROM runs")}
        finally:
            db.close()
    except sqlite3.Error as e:
        raise UsageError(f"{what}: {src} is not a toyneg store ({e}); {hint}.") from None


def current_rows(store, configs: list, sweep=None) -> list:
    """The stored runs of this sweep's configurations at this toyneg version (and, for a sweep
    with a seed plan, the seeds `--until-decided` added up to its cap).

    A store may also hold runs of an edited sweep file or of an older toyneg: they are left in
    the store but never mixed into this sweep's tables (a note says how many were skipped)."""
    if sweep is not None and sweep.decide and sweep.decide.seeds_max > len(sweep.decide.seeds):
        configs = configs + plan_configs(sweep, sweep.decide.seeds_max)
    want = {c.run_hash(__version__) for c in configs}
    rows = store.rows()
    keep = [r for r in rows if r["hash"] in want]
    if len(keep) < len(rows):
        print(f"note: {len(rows) - len(keep)} stored run(s) of other configurations or toyneg "
              f"versions are ignored", file=sys.stderr)
    return keep


def _run(sweep, configs, groups, out, store_path, args, command, datas) -> int:
    from .runner import enable_compile_cache, run_group
    from .store import Store
    enable_compile_cache()
    store = Store(store_path)
    done = store.done()
    todo_total = sum(1 for c in configs if c.run_hash(__version__) not in done)
    log = (lambda *a, **k: None) if args.quiet else print
    log(f"sweep '{sweep.name}': {len(configs)} run(s), {len(configs) - todo_total} already stored, "
        f"{todo_total} to run in {len(groups)} group(s) -> {out}/")
    bar = None
    if not args.quiet and todo_total:
        from tqdm import tqdm
        bar = tqdm(total=todo_total, unit="run", dynamic_ncols=True)
    t0 = time.time()
    n_div = 0

    def store_run(cfg, status, result, wall):
        nonlocal n_div
        store.put(cfg.run_hash(__version__), status, cfg.to_dict(), result, wall)
        n_div += status == "diverged"
        if bar:
            bar.update(1)
            if status == "diverged":
                bar.write(f"  run seed={cfg.seed} diverged at fine-tuning step {result['bad_step']}")

    if args.workers > 1:  # every run of every group, spread over single-threaded processes
        from .workers import run_pool
        todo = [c for c in configs if c.run_hash(__version__) not in done]
        run_pool(todo, args.workers, store_run, use_cache=not args.no_cache)
        groups = []
    for gi, g in enumerate(groups):
        g.configs = [c for c in g.configs if c.run_hash(__version__) not in done]
        if not g.configs:
            continue
        tg = time.time()
        run_group(g, mode=args.mode, on_run=store_run, use_cache=not args.no_cache, datas=datas,
                  **({} if args.lanes is None else {"lanes": args.lanes}))
        msg = f"group {gi + 1}/{len(groups)}: {len(g.configs)} run(s) in {time.time() - tg:.0f}s"
        (bar.write if bar else log)(msg)
    if bar:
        bar.close()
    wall = time.time() - t0
    if not args.no_outputs:
        _outputs(sweep, out, store, command, configs)
    store.close()
    print(f"done: {todo_total} run(s) in {wall:.0f}s ({n_div} diverged); outputs in {out}/")
    return 0


def _until_decided(sweep, out, store_path, args, command) -> int:
    """Add seeds in rounds (the sweep's [decide] plan) until every hypothesis is decided, the
    seed cap is reached, or the next round would end past --budget; then write the outputs
    and say why it stopped. Every look's intervals are at the plan's per-look level
    (`decide`), so stopping at the first decided look keeps the false-positive rate."""
    import argparse as _ap

    from .report import hypothesis_results
    from .runner import build_all, plan
    from .store import Store
    budget = args.budget * 60 if args.budget else float("inf")
    quiet = _ap.Namespace(**{**vars(args), "no_outputs": True})
    t0, per_run, reason = time.time(), _stored_run_time(store_path), ""
    schedule = sweep.decide.schedule()
    configs = plan_configs(sweep, schedule[0])
    print(f"sweep '{sweep.name}': until decided, looks at {schedule} seeds "
          f"({len(sweep.hypotheses)} hypothesis(es)"
          + (f", budget {args.budget:g} min" if args.budget else "") + ")", flush=True)
    for look, n in enumerate(schedule, 1):
        configs = plan_configs(sweep, n)
        store = Store(store_path)
        done = store.done()
        store.close()
        todo = [c for c in configs if c.run_hash(__version__) not in done]
        if todo:
            need = per_run * len(todo) if per_run else None
            if need is not None and time.time() - t0 + need > budget:
                reason = (f"the next round ({len(todo)} run(s), about {need / 60:.1f} min at "
                          f"{per_run:.0f} s a run) would end past the {args.budget:g}-minute budget")
                configs = plan_configs(sweep, schedule[max(0, look - 2)])
                break
            try:
                datas = build_all(todo)
            except ConfigError as e:
                print(f"error: {sweep.path}: {e}", file=sys.stderr)
                return EXIT_BAD_INPUT
            tr = time.time()
            _run(sweep, configs, plan(todo), out, store_path, quiet, command, datas)
            per_run = (time.time() - tr) / len(todo)
        store = Store(store_path)
        results = hypothesis_results(sweep, current_rows(store, configs))
        store.close()
        print(f"look {look} at {n} seeds: " + "; ".join(
            f"{r.hypothesis.name} {r.estimate:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}] {r.verdict}"
            for r in results), flush=True)
        if all(r.decided for r in results):
            reason = f"every hypothesis decided at {n} seeds"
            break
        stuck = [r.hypothesis.name for r in results if r.gate_failed]
        if stuck:
            reason = (f"{', '.join(stuck)} cannot be decided: a side's setting failed the validity "
                      f"gate (more seeds would not help)")
            break
        if time.time() - t0 >= budget:
            reason = f"the {args.budget:g}-minute budget is spent"
            break
    else:
        reason = f"the seed cap ({sweep.decide.seeds_max}) is reached with hypotheses undecided"
    store = Store(store_path)
    _outputs(sweep, out, store, command, configs, extend=False)  # the stopping look's seeds
    store.close()
    print(f"stopped: {reason}; verdicts in {out}/verdicts.md")
    return 0


def _stored_run_time(store_path: str):
    """Mean seconds a stored run took (its share of its group's wall time), or None."""
    if not os.path.isfile(store_path):
        return None
    import sqlite3
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        (mean,) = db.execute("SELECT AVG(wall) FROM runs").fetchone()
    finally:
        db.close()
    return None if mean is None else float(mean)


def _outputs(sweep, out, store, command, configs, extend: bool = True) -> None:
    """Write the tables, figures and report, and print a line for every setting that failed
    the validity gate. With `extend`, the seeds `--until-decided` stored beyond the file's
    are included (a plain run of a sweep that was run until decided reads them all)."""
    from .gate import warnings_for
    from .report import write_outputs
    paths = write_outputs(sweep, out, current_rows(store, configs, sweep if extend else None), command)
    for line in warnings_for(paths["verdicts"], sweep.name):
        print(line, file=sys.stderr)


def _compare(sweep, out, args, configs) -> int:
    from .report import compare_store
    store_path = os.path.join(out, "store.sqlite")
    from .store import Store
    try:
        _read_store(out, "--compare", "it needs a finished sweep: run the sweep first, or pass "
                                       "its folder with --out")
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    store = Store(store_path)
    try:
        with warnings.catch_warnings():  # a few-seeds warning is part of the printed result
            warnings.simplefilter("ignore", UserWarning)
            res = compare_store(current_rows(store, configs, sweep), sweep.axis_names, *args.compare,
                                args.metric, allow_invalid=args.allow_invalid)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        store.close()
    print(res)
    print(json.dumps(res.__dict__, default=float))
    verdicts = os.path.join(out, "verdicts.md")
    if os.path.isfile(verdicts):  # the sweep's own questions, as its outputs last judged them
        print("\n" + open(verdicts).read().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
