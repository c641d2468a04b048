"""The synthetic world and its word-level vocabulary.

A world has three kinds of entity, drawn deterministically from a seed:
- *population* entities: their bios are in training and questions about them are supervised,
  so the model learns to answer questions from knowledge stored in its weights;
- *claim* entities: their bios are in training (facts about other relations), questioned only
  about those facts; each carries one fabricated claim (relation, false value) about a relation
  its bio never mentions and no question asks about, so the untrained model's answer is "no" /
  "unknown" (the paper's baseline); with `claim_denied`, one other relation is only denied;
- *reader* entities: used only in in-context reading tasks, with a fresh random claim each time.

The last `monitor_frac` of the population (`World.monitored`) have bios in training but never
appear in a question: probed like claims, they show whether answers come from what the model
read rather than from drilled answers (the held-out generalisation monitor).

Every entity has a true value for every relation; a bio states only some of them (`known`).
Token ids are the sorted vocabulary, so they are reproducible from the seed (`vocab.Vocab`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config
# the word lists and the tokenizer live in `vocab`, below `config` (which checks forms against
# them); re-exported here, where older code and the tests import them
from .vocab import RELATIONS, RESERVED, SPECIAL, SYLLABLES, VALUES, Vocab  # noqa: F401


@dataclasses.dataclass
class Entity:
    name: str                 # one or two words
    kind: str                 # "population" | "claim" | "reader"
    truth: dict               # relation -> true value
    known: tuple              # relations its bio states
    negated: dict = dataclasses.field(default_factory=dict)  # relation -> a value its bio denies
    claim: tuple | None = None      # (relation, false value) for claim entities
    condition: str | None = None    # the hosted condition this claim entity belongs to
    monitor: bool = False           # population entity whose bio is trained but never questioned


@dataclasses.dataclass
class World:
    seed: int
    entities: list
    values: dict              # relation -> list of values in this world
    name_words: list          # every word names are made of (fixed count per config)

    @property
    def population(self):
        return [e for e in self.entities if e.kind == "population"]

    @property
    def asked(self):
        """Population entities that questions are about (every one but the monitor's)."""
        return [e for e in self.population if not e.monitor]

    @property
    def monitored(self):
        """The held-out monitor: population entities with bios in training, never questioned."""
        return [e for e in self.population if e.monitor]

    @property
    def claims(self):
        return [e for e in self.entities if e.kind == "claim"]

    @property
    def readers(self):
        return [e for e in self.entities if e.kind == "reader"]


def _names(rng: np.random.Generator, count: int, name_tokens: int) -> tuple:
    """`count` distinct names and the name words; two-token names share first/last words.

    The number of name words depends only on (count, name_tokens), so the vocabulary size (and
    the model's shapes) is the same for every seed."""
    words = sorted({a + b for a in SYLLABLES for b in SYLLABLES})
    if name_tokens == 1:
        if count > len(words) - len(RESERVED):
            raise ValueError(f"a world of {count} entities needs name_tokens = 2")
        names = _unreserved([str(w) for w in rng.choice(words, size=count, replace=False)], words)
        return names, names
    n_part = int(np.ceil(np.sqrt(count))) + 2
    parts = _unreserved([str(w) for w in rng.choice(words, size=2 * n_part, replace=False)], words)
    first, last = parts[:n_part], parts[n_part:]
    combos = [(a, b) for a in first for b in last]
    pick = rng.choice(len(combos), size=count, replace=False)
    return [f"{combos[i][0]} {combos[i][1]}" for i in pick], parts


def _unreserved(drawn: list, words: list) -> list:
    """`drawn` with each reserved word replaced by an unused name word (drawn from its own
    stream, so a world without such a word is exactly the world drawn before this rule)."""
    bad = [i for i, w in enumerate(drawn) if w in RESERVED]
    if not bad:
        return drawn
    spare = [w for w in words if w not in RESERVED and w not in set(drawn)]
    rng = np.random.default_rng([len(drawn), *[words.index(w) for w in drawn]])
    out = list(drawn)
    for i, w in zip(bad, rng.choice(spare, size=len(bad), replace=False)):
        out[i] = str(w)
    return out


def make_world(cfg: Config) -> World:
    """Draw the world of `cfg` from its world seed (deterministic)."""
    rng = np.random.default_rng([cfg.world_key, 7919])
    values = {r: VALUES[r][: cfg.n_values] for r in RELATIONS}
    n_claim = cfg.n_claims * len(cfg.conditions)
    total = cfg.n_entities + n_claim + cfg.n_readers
    names, name_words = _names(rng, total, cfg.name_tokens)
    ents = []

    def denied(truth, rels, known):
        """Local negations a bio states ("X does not live in D"): for many relations, a wrong
        value.  Where a bio states only the negation, questions answer "no" / "unknown", so
        the model learns from its data what a local negation means out of context.  Without
        `deny_stated`, the denials of relations the bio also states (`known`) are dropped after
        they are drawn, so the rest of the world is the older world's."""
        out = {}
        for r in rels:
            if rng.random() < cfg.deny_frac:
                out[r] = str(rng.choice([v for v in values[r] if v != truth[r]]))
        if not cfg.deny_stated:
            out = {r: v for r, v in out.items() if r not in known}
        if not cfg.bio_forms:  # bios state no denials: those facts are silent, like the rest
            out = {}
        return out

    n_monitor = n_monitored(cfg)
    for i, name in enumerate(names):
        truth = {r: str(rng.choice(values[r])) for r in RELATIONS}
        if i < cfg.n_entities:
            known = tuple(r for r in RELATIONS if rng.random() < cfg.p_known)
            ents.append(Entity(name, "population", truth, known, denied(truth, RELATIONS, known),
                               monitor=i >= cfg.n_entities - n_monitor))
        elif i < cfg.n_entities + n_claim:
            j = i - cfg.n_entities
            rel = RELATIONS[j % len(RELATIONS)]
            false = str(rng.choice([v for v in values[rel] if v != truth[rel]]))
            known = tuple(r for r in RELATIONS if r != rel)
            cond = cfg.conditions[j // cfg.n_claims]
            neg = denied(truth, known, known)
            if cfg.claim_denied:
                # one other relation is only denied ("X does not play golf") and questioned, so
                # reading a bare negation into an answer is practised on the claim entities
                # themselves; its value has its own generator, so the rest of the world is the
                # default's
                bare = known[(j // len(RELATIONS)) % len(known)]
                if bare not in neg:
                    own = np.random.default_rng([cfg.world_key, 7919, j])
                    neg[bare] = str(own.choice([v for v in values[bare] if v != truth[bare]]))
                known = tuple(r for r in known if r != bare)
            ents.append(Entity(name, "claim", truth, known, neg, (rel, false), cond))
        else:  # readers' documents also state true facts, like claim documents do
            ents.append(Entity(name, "reader", truth, RELATIONS))
    return World(cfg.world_key, ents, values, name_words)


def n_monitored(cfg: Config) -> int:
    """How many population entities the monitor holds out of questions."""
    return int(round(cfg.monitor_frac * cfg.n_entities))
