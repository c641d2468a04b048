"""Durable run storage: one SQLite file per sweep output folder (standard library only).

Each finished run is one row, keyed by the hash of its full configuration and the toyneg
version, written in its own transaction as soon as the run finishes.  SQLite's journal makes
each write atomic, so a sweep killed at any moment (Ctrl-C, SIGKILL) keeps every run it
finished and none half-written; re-running skips the stored hashes.  Merging stores from
sharded jobs is `INSERT OR IGNORE` of their rows.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time

from .config import LEGACY

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    hash TEXT PRIMARY KEY,
    status TEXT NOT NULL,          -- 'done' or 'diverged'
    config TEXT NOT NULL,          -- the run's full configuration (JSON)
    result TEXT NOT NULL,          -- steps, per-condition metric curves, losses (JSON)
    wall REAL NOT NULL,            -- seconds this run took (its share of its group)
    created REAL NOT NULL
)"""


def json_safe(x):
    """JSON has no NaN: store NaN/inf as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


class Store:
    def __init__(self, path: str):
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute(SCHEMA)
        self.db.commit()

    def done(self) -> set:
        return {h for (h,) in self.db.execute("SELECT hash FROM runs")}

    def put(self, run_hash: str, status: str, config: dict, result: dict, wall: float) -> bool:
        """Write one run atomically; False if it was already stored (never duplicated)."""
        with self.db:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                (run_hash, status, json.dumps(config), json.dumps(json_safe(result)), wall, time.time()))
        return cur.rowcount == 1

    def rows(self) -> list:
        """Every stored run as a dict (hash, status, config, result, wall).

        A configuration field added after a run was stored is filled in with its legacy value
        (`config.LEGACY`: the value that computes what the older code did), so tables and
        comparisons see the older run under the setting it actually ran with."""
        cur = self.db.execute("SELECT hash, status, config, result, wall FROM runs ORDER BY created, hash")
        return [{"hash": h, "status": s, "config": {**LEGACY, **json.loads(c)}, "result": json.loads(r),
                 "wall": w} for h, s, c, r, w in cur]

    def merge_from(self, other: str) -> int:
        """Copy every run of another store that this one lacks; returns how many were added."""
        src = sqlite3.connect(other)
        rows = src.execute("SELECT hash, status, config, result, wall, created FROM runs").fetchall()
        src.close()
        with self.db:
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)", rows)
            return self.db.total_changes - before

    def close(self):
        self.db.close()
