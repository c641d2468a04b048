"""Sweep files: a base configuration plus axes, read with the standard library's tomllib.

    name = "default"                 # output folder results/<name>/
    description = "one line"
    [base]                           # any Config field
    finetune_steps = 1000
    [axes]                           # grid product of every axis
    seed = [0, 1, 2, 3, 4]
    [zip]                            # axes varied together (equal lengths), crossed with [axes]
    lr = [1e-3, 3e-3]
    ft_lr = [3e-4, 1e-3]
    [forms.after_false2]             # a new form of negation, usable in conditions / bio_forms
    position = "after"               # where its negating words sit (`forms.POSITIONS`)
    city = ["{x} lives in {v} , which is untrue"]   # templates per relation: {x} entity, {v} value
    job = ["{x} works as {v} , which is untrue"]
    sport = ["{x} plays {v} , which is untrue"]
    [hypotheses.neglect]             # a question the sweep answers (`toyneg.decide`)
    a = "negated"                    # each side in --compare's syntax: a condition, 'field=value',
    b = "baseline"                   #   or both joined by ',' ('negated,diversity=1')
    expect = "a > b"                 # or "a < b", or equivalence: "|a - b| < 0.1"
    metric = "belief"                # default belief; any column of summary.csv per seed
    half_width = 0.1                 # the half-width the plan aims for (default 0.15; for an
                                     #   equivalence half its margin, and always below it)
    [decide]                         # how seeds are added (`--until-decided`); optional
    seeds_max = 24                   # the cap: no more seeds than this (default: the file's seeds)
    seeds_step = 3                   # seeds added per round, each round one more look
    pilot = "results/default"        # stored runs --dry-run plans from (default: this sweep's own)
    familywise = false               # true: the 5% is family-wise over the hypotheses too

Every problem (malformed TOML, unknown field, bad value, empty axis) raises `SweepError`
whose message names the file, the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import itertools
import os
import tomllib

from .config import FIELDS, ConfigError, from_dict

TOP = ("name", "description", "base", "axes", "zip", "compare", "forms", "hypotheses", "decide")


class SweepError(ValueError):
    pass


@dataclasses.dataclass
class Sweep:
    path: str
    name: str
    description: str
    base: dict
    axes: dict
    zipped: dict
    compare: dict
    hypotheses: list = dataclasses.field(default_factory=list)
    decide: "Decide | None" = None

    @property
    def axis_names(self) -> list:
        return list(self.axes) + list(self.zipped)


def sweeps_dir() -> str:
    """The folder of the canonical sweep files: the installed package data `toyneg.sweeps`
    (the repository's `sweeps/` in an editable install or a source checkout)."""
    try:
        return str(importlib.resources.files("toyneg.sweeps"))
    except ModuleNotFoundError:  # run from a checkout without installing: the folder beside
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sweeps")


def canonical() -> list:
    """Names of the canonical sweeps shipped with the package."""
    return sorted(f.removesuffix(".toml") for f in os.listdir(sweeps_dir()) if f.endswith(".toml"))


def resolve(name: str) -> str:
    """A sweep file's path: `name` itself when it is a file, else a canonical sweep of that
    name ('diversity_cpu' or 'diversity_cpu.toml')."""
    if os.path.isfile(name):
        return name
    if os.sep not in name and "/" not in name:
        path = os.path.join(sweeps_dir(), name if name.endswith(".toml") else name + ".toml")
        if os.path.isfile(path):
            return path
        raise SweepError(f"{name}: no such sweep file, and not the name of a canonical sweep; "
                         f"canonical sweeps: {canonical()}.")
    raise SweepError(f"{name}: no such sweep file.")


def load(path: str) -> Sweep:
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file.") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: malformed TOML ({e}).") from None
    unknown = sorted(set(raw) - set(TOP))
    if unknown:
        raise SweepError(f"{path}: unknown top-level key(s) {unknown}; allowed: {list(TOP)}.")
    name = raw.get("name", path.rsplit("/", 1)[-1].removesuffix(".toml"))
    if not isinstance(name, str) or not name or "/" in name:
        raise SweepError(f"{path}: 'name' must be a non-empty string without '/'.")
    sweep = Sweep(path, name, str(raw.get("description", "")), dict(raw.get("base", {})),
                  dict(raw.get("axes", {})), dict(raw.get("zip", {})), dict(raw.get("compare", {})))
    if "forms" in raw:  # forms the file defines travel with every run's configuration
        if not isinstance(raw["forms"], dict) or not all(isinstance(v, dict) for v in raw["forms"].values()):
            raise SweepError(f"{path}: [forms] holds one table per form, [forms.NAME], each with a "
                             f"'position' and templates per relation.")
        if "forms" in sweep.base:
            raise SweepError(f"{path}: define forms under [forms.NAME], not in [base].")
        sweep.base["forms"] = raw["forms"]
    for table, d in (("base", sweep.base), ("axes", sweep.axes), ("zip", sweep.zipped)):
        for k in d:
            if k not in FIELDS:
                raise SweepError(f"{path}: [{table}] field '{k}' is not a configuration field; "
                                 f"allowed fields: {sorted(FIELDS)}.")
    for table, d in (("axes", sweep.axes), ("zip", sweep.zipped)):
        for k, v in d.items():
            if not isinstance(v, list) or not v:
                raise SweepError(f"{path}: [{table}] axis '{k}' must be a non-empty list of values.")
    lens = {len(v) for v in sweep.zipped.values()}
    if len(lens) > 1:
        raise SweepError(f"{path}: [zip] axes must all have the same length, got "
                         f"{ {k: len(v) for k, v in sweep.zipped.items()} }.")
    both = set(sweep.axes) & set(sweep.zipped)
    if both:
        raise SweepError(f"{path}: field(s) {sorted(both)} appear in both [axes] and [zip].")
    configs = expand(sweep)  # validate every run's values now, before anything runs
    sweep.hypotheses = [parse_hypothesis(path, k, v) for k, v in raw.get("hypotheses", {}).items()]
    sweep.decide = parse_decide(path, raw.get("decide", {}), sweep)
    for h in sweep.hypotheses:
        check_sides(path, h, sweep, configs)
    return sweep


# --- hypotheses and the seed plan ---------------------------------------------------------------

HYP_KEYS = ("a", "b", "expect", "metric", "half_width", "description")
DEFAULT_HALF_WIDTH = 0.15
# the per-seed metrics a hypothesis may name: every probe metric, the derived rates and the
# columns `tables.per_seed` adds (kept here as names so a sweep file is checked before any import
# of the model code)
EXTRA_METRICS = ("belief", "pooled", "p_yes_late", "pretrained_p_yes", "rel_positive", "settled")


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    """One question a sweep answers: a contrast of two selections and what would count.

    `kind` is ">" (a exceeds b), "<" (a falls short of b) or "equiv" (|a - b| < margin); the
    estimate is always mean over seeds of (a - b)."""
    name: str
    a: str
    b: str
    kind: str
    margin: float = float("nan")
    metric: str = "belief"
    target: float = DEFAULT_HALF_WIDTH
    description: str = ""

    def statement(self) -> str:
        rel = {">": ">", "<": "<"}.get(self.kind)
        if rel:
            return f"{self.a} {rel} {self.b}"
        return f"|{self.a} - {self.b}| < {self.margin:g}"


def _metric_names() -> set:
    from .probes import METRICS
    return set(METRICS) | set(EXTRA_METRICS)


def parse_hypothesis(path: str, name: str, raw) -> Hypothesis:
    where = f"{path}: [hypotheses.{name}]"
    if not isinstance(raw, dict):
        raise SweepError(f"{where} must be a table with 'a', 'b' and 'expect'.")
    unknown = sorted(set(raw) - set(HYP_KEYS))
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {unknown}; allowed: {list(HYP_KEYS)}.")
    for k in ("a", "b", "expect"):
        if not isinstance(raw.get(k), str) or not raw[k].strip():
            raise SweepError(f"{where}: '{k}' must be a non-empty string (sides in --compare's "
                             f"syntax, e.g. a = \"negated\", b = \"baseline\", expect = \"a > b\").")
    expect = raw["expect"].replace(" ", "")
    margin = float("nan")
    if expect in ("a>b", "b<a"):
        kind = ">"
    elif expect in ("a<b", "b>a"):
        kind = "<"
    elif expect.startswith(("|a-b|<", "|b-a|<")):
        kind = "equiv"
        try:
            margin = float(expect.split("<", 1)[1])
        except ValueError:
            raise SweepError(f"{where}: expect {raw['expect']!r}: the margin after '<' must be a "
                             f"number, e.g. \"|a - b| < 0.1\".") from None
        if not margin > 0:
            raise SweepError(f"{where}: expect {raw['expect']!r}: the equivalence margin must be "
                             f"> 0 (got {margin:g}).")
    else:
        raise SweepError(f"{where}: expect {raw['expect']!r} is not one of \"a > b\", \"a < b\" "
                         f"or \"|a - b| < MARGIN\".")
    metric = raw.get("metric", "belief")
    if metric not in _metric_names():
        raise SweepError(f"{where}: metric {metric!r} does not exist; allowed: "
                         f"{sorted(_metric_names())}.")
    # an equivalence needs an interval narrower than its margin: half of it unless stated
    target = raw.get("half_width", margin / 2 if kind == "equiv" else DEFAULT_HALF_WIDTH)
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise SweepError(f"{where}: half_width must be a number in (0, 1], got {target!r}.")
    if kind == "equiv" and not target < margin:
        raise SweepError(f"{where}: half_width {target:g} must be below the equivalence margin "
                         f"{margin:g}: an interval that wide never fits inside it.")
    return Hypothesis(name, raw["a"].strip(), raw["b"].strip(), kind, margin, metric, float(target),
                      str(raw.get("description", "")))


@dataclasses.dataclass(frozen=True)
class Decide:
    """The seed plan: the file's seeds are the first look; `--until-decided` adds `step` seeds
    per round up to `seeds_max`, one look each. Every interval a hypothesis reports is at the
    per-look level of this plan (`stats.per_look_level`), so stopping early stays valid."""
    seeds: tuple          # the file's seeds (the first look)
    step: int
    seeds_max: int
    pilot: str = ""
    familywise: bool = False  # split the error over the hypotheses too (a family-wise 5%)

    def schedule(self) -> list:
        """The seed counts at which a hypothesis is looked at: the file's, then every `step`
        more, the cap last."""
        n0 = len(self.seeds)
        if self.seeds_max <= n0:
            return [n0]
        return list(range(n0, self.seeds_max, self.step)) + [self.seeds_max]

    def seed_list(self, n: int) -> list:
        """The first `n` seeds of the plan: the file's, then consecutive ones after its largest."""
        extra = [max(self.seeds) + 1 + i for i in range(max(0, n - len(self.seeds)))]
        return list(self.seeds)[:n] + extra


DECIDE_KEYS = ("seeds_max", "seeds_step", "pilot", "familywise")


def parse_decide(path: str, raw, sweep: Sweep) -> Decide:
    if not isinstance(raw, dict):
        raise SweepError(f"{path}: [decide] must be a table.")
    unknown = sorted(set(raw) - set(DECIDE_KEYS))
    if unknown:
        raise SweepError(f"{path}: [decide] unknown key(s) {unknown}; allowed: {list(DECIDE_KEYS)}.")
    seeds = sweep.axes.get("seed", sweep.zipped.get("seed", [sweep.base.get("seed", 0)]))
    if raw and "seed" in sweep.zipped:
        raise SweepError(f"{path}: [decide] adds seeds to the [axes] seed list; put 'seed' in "
                         f"[axes], not [zip].")
    n0 = len(seeds)
    cap, step = raw.get("seeds_max", n0), raw.get("seeds_step", 3)
    for k, v in (("seeds_max", cap), ("seeds_step", step)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SweepError(f"{path}: [decide] {k} must be a positive integer, got {v!r}.")
    if cap < n0:
        raise SweepError(f"{path}: [decide] seeds_max = {cap} is below the {n0} seeds the file "
                         f"already runs.")
    pilot = raw.get("pilot", "")
    if not isinstance(pilot, str):
        raise SweepError(f"{path}: [decide] pilot must be a folder path (a string).")
    fw = raw.get("familywise", False)
    if not isinstance(fw, bool):
        raise SweepError(f"{path}: [decide] familywise is true or false, got {fw!r}.")
    return Decide(tuple(seeds), step, cap, pilot, fw)


def _selection(spec: str) -> dict:
    """'negated' selects a condition; 'field=value' an axis setting; several joined by ','
    (e.g. 'negated,diversity=1'); a list value keeps its commas inside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in spec:
        depth += (ch in "[(") - (ch in "])")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = {}
    for part in parts:
        k, v = part.split("=", 1) if "=" in part else ("condition", part)
        out[k.strip()] = v.strip()
    return out


def matches(stored, v: str) -> bool:
    """Whether a stored axis value is the one a selection spells (True or true; a list as JSON,
    spaces or not)."""
    import json
    if str(stored) == v or json.dumps(stored) == v:
        return True
    try:
        want = json.loads(v)
    except ValueError:
        return False
    norm = lambda x: [norm(y) for y in x] if isinstance(x, (list, tuple)) else x  # noqa: E731
    return norm(want) == norm(stored)


def check_sides(path: str, h: Hypothesis, sweep: Sweep, configs: list) -> None:
    """Refuse a hypothesis whose side selects nothing this sweep runs (before anything runs)."""
    for side, spec in (("a", h.a), ("b", h.b)):
        sel = _selection(spec)
        ok = False
        for c in configs:
            d = c.to_dict()
            if all((k == "condition" and v in d["conditions"]) or
                   (k != "condition" and k in sweep.axis_names and matches(d.get(k), v))
                   for k, v in sel.items()):
                ok = True
                break
        if not ok:
            bad = [k for k in sel if k != "condition" and k not in sweep.axis_names]
            why = (f"'{bad[0]}' is not an axis of this sweep (axes: {sweep.axis_names})" if bad else
                   "no run of this sweep hosts that condition with those settings")
            raise SweepError(f"{path}: [hypotheses.{h.name}] side {side} = {spec!r} selects "
                             f"nothing the sweep runs: {why}.")


# `--smoke`: the same sweep in seconds, to check that it runs end to end before it costs hours
# (and what `sweeps/gpu.sh --tiny` runs on a CPU): a tiny world and model, every axis at its
# first value, one run
SMOKE = dict(n_entities=16, n_claims=2, n_readers=16, width=32, depth=1, heads=2, batch=8,
             pretrain_steps=20, finetune_steps=20, checkpoints=3, bios_per_entity=2,
             docs_per_claim=4)


def smoke(sweep: Sweep) -> Sweep:
    """`sweep` cut to one tiny run (`SMOKE`): every axis and [zip] row at its first value."""
    axes = {k: v[:1] for k, v in sweep.axes.items() if k not in SMOKE}
    zipped = {k: v[:1] for k, v in sweep.zipped.items() if k not in SMOKE}
    base = {**sweep.base, **SMOKE}
    first = {**{k: v[0] for k, v in axes.items()}, **{k: v[0] for k, v in zipped.items()}}
    if first.get("phase2_steps", base.get("phase2_steps", 0)):  # a second phase, shortened
        axes.pop("phase2_steps", None)
        zipped.pop("phase2_steps", None)
        base["phase2_steps"] = 10
    out = dataclasses.replace(sweep, name=sweep.name + "_smoke", base=base, axes=axes, zipped=zipped,
                              hypotheses=[], decide=Decide(tuple(axes.get("seed", [0])), 1, 1))
    try:
        expand(out)
    except SweepError as e:
        raise SweepError(f"{e} (with --smoke's tiny settings {SMOKE})") from None
    return out


def points(sweep: Sweep) -> list:
    """The axis values of every run (dicts), in a deterministic order."""
    grid = [dict(zip(sweep.axes, vals)) for vals in itertools.product(*sweep.axes.values())]
    if sweep.zipped:
        n = len(next(iter(sweep.zipped.values())))
        rows = [{k: v[i] for k, v in sweep.zipped.items()} for i in range(n)]
        grid = [{**g, **r} for g in grid for r in rows]
    return grid


def expand(sweep: Sweep) -> list:
    """Every run's Config (grid product of [axes], crossed with the rows of [zip])."""
    out = []
    for p in points(sweep):
        try:
            out.append(from_dict({**sweep.base, **p}))
        except ConfigError as e:
            where = ", ".join(f"{k}={v!r}" for k, v in p.items())
            raise SweepError(f"{sweep.path}: {e} (run with {where or 'the base values'})") from None
        except TypeError as e:
            raise SweepError(f"{sweep.path}: {e}") from None
    return out


def shard(configs: list, spec: str) -> list:
    """The deterministic slice I of N ('I/N') of `configs`: every run lands in exactly one shard.

    Runs are ordered by (pretraining key, run hash), both stable across machines, and cut into
    N contiguous slices of near-equal size: shards balance without coordination, and runs that
    share pretrained weights mostly share a shard."""
    try:
        i, n = (int(x) for x in spec.split("/"))
        assert n >= 1 and 0 <= i < n
    except (ValueError, AssertionError):
        raise SweepError(f"--shard {spec!r}: expected I/N with 0 <= I < N, e.g. 0/4.") from None
    ordered = sorted(configs, key=lambda c: (c.pretrain_key(), c.run_hash("")))
    lo, hi = (len(ordered) * i) // n, (len(ordered) * (i + 1)) // n
    return ordered[lo:hi]
