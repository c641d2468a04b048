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

TOP = ("name", "description", "base", "axes", "zip", "compare", "forms")


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
    expand(sweep)  # validate every run's values now, before anything runs
    return sweep


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
