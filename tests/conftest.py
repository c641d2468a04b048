"""Shared tiny settings: small worlds and few steps, so the suite stays fast on 2 CPU cores."""

import os

import pytest

os.environ.setdefault("TOYNEG_CACHE", os.path.join(os.path.dirname(__file__), ".cache-test"))
# compiled programs are shared by every test (and the CLIs they start): most tests compile the
# same tiny shapes, so each is compiled once per suite (pretrained weights stay per test, below)
os.environ.setdefault("TOYNEG_XLA_CACHE", os.path.join(os.path.dirname(__file__), ".cache-test", "xla"))

from toyneg.runner import enable_compile_cache  # noqa: E402

enable_compile_cache()

from toyneg.config import Config  # noqa: E402

TINY = dict(n_entities=16, n_claims=2, n_readers=16, width=32, depth=1, heads=2, batch=8,
            pretrain_steps=20, finetune_steps=20, checkpoints=3, bios_per_entity=2,
            docs_per_claim=4, conditions=("baseline", "positive", "negated", "local"))


def tiny(**kw) -> Config:
    return Config(**{**TINY, **kw})


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYNEG_CACHE", str(tmp_path / "cache"))


def pytest_collection_modifyitems(config, items):
    """Slow tests first: with two test processes (-n 2) the longest one then overlaps the rest."""
    items.sort(key=lambda it: it.get_closest_marker("slow") is None)
