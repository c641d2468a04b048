"""Turn a world and its corpora into the fixed-shape arrays one training run consumes.

All pools of sequences are concatenated into one `(N, ctx+1)` token array with span labels;
`Layout` records each pool's offset and size.  Sizes depend only on static config fields, so
every run of a group (seeds, conditions, wordings) has identical shapes and shares one compiled
program; the contents differ per run and travel as traced arrays.

Pools: bio (population and claim entities), qa (questions about population entities, and about
claim entities' stated facts, never their claim), icl (in-context reading tasks), ooc (wrapped documents plus separate questions about the same entities: the
out-of-context supervision dial), claim (the condition documents, `docs_per_claim` per claim
entity), helper (claim questions answered "no": the two-phase stability helper data).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import corpus as C
from .config import WRAPPED, Config
from .world import RELATIONS, Vocab, World, make_world

N_QA, N_ICL, N_OOC, HELPER_PER_CLAIM, HELDOUT_DOCS = 1024, 2048, 512, 4, 4
POOLS = ("bio", "qa", "icl", "ooc", "claim", "helper")


@dataclasses.dataclass(frozen=True)
class Layout:
    """Static pool offsets and sizes (identical for every run of a group)."""
    offsets: tuple
    sizes: tuple
    n_claim: int
    docs_per_claim: int

    def of(self, pool: str) -> tuple:
        i = POOLS.index(pool)
        return self.offsets[i], self.sizes[i]


def layout(cfg: Config) -> Layout:
    n_claim = cfg.n_claims * len(cfg.conditions)
    sizes = ((cfg.n_entities + n_claim) * cfg.bios_per_entity // 3, N_QA, N_ICL, N_OOC,
             n_claim * cfg.docs_per_claim, n_claim * HELPER_PER_CLAIM)
    offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    return Layout(offsets, sizes, n_claim, cfg.docs_per_claim)


@dataclasses.dataclass
class Data:
    """Everything a run needs, as numpy arrays (traced in) plus host-side metadata."""
    tokens: np.ndarray        # (N, L) int32: every training sequence
    spans: np.ndarray         # (N, L) int32: span id of each token
    claim_active: np.ndarray  # (n_claim,) float32: 1 where the entity has claim documents
    helper_active: np.ndarray  # (n_claim,) float32: 1 where helper data may ask (wrapped conditions)
    probes: dict              # name -> (n_claim, L) int32 prompts; "<name>_last": last index
    cands: np.ndarray         # (n_claim, n_values + 1) candidate answer ids (values + unknown)
    claim_ids: np.ndarray     # (n_claim,) id of the claimed value
    loss_tokens: np.ndarray   # (n_claim * HELDOUT_DOCS, L) held-out documents
    loss_spans: np.ndarray
    world: World
    vocab: Vocab
    conds: list               # condition of each claim entity

    def arrays(self) -> dict:
        """The traced part, as a pytree of arrays."""
        return {"tokens": self.tokens, "spans": self.spans, "claim_active": self.claim_active,
                "helper_active": self.helper_active,
                "probes": self.probes, "cands": self.cands, "claim_ids": self.claim_ids,
                "loss_tokens": self.loss_tokens, "loss_spans": self.loss_spans}


def build_vocab(cfg: Config) -> Vocab:
    """The vocabulary of the config's world (same words for every condition)."""
    return make_vocab(make_world(cfg))


def make_vocab(world: World) -> Vocab:
    """The world's vocabulary: every corpus word and every name word. Its size depends only on
    the configuration's shapes, since no name is a corpus word (`world.RESERVED`)."""
    return Vocab(C.all_words(world))


def build(cfg: Config) -> Data:
    """Generate the world, every corpus pool and the probe prompts of `cfg` (deterministic)."""
    world = make_world(cfg)
    vocab = make_vocab(world)
    L = cfg.ctx + 1
    wordings = C.Wordings.make(world.seed)
    style = C.Style.of(cfg)
    # reading tasks see every training wording, both placements, so the
    # model learns what each warning means in context whatever the claim documents look like
    def reading_style():
        return C.Style(10 ** 6, 0, ("wrap", "around")[rng.integers(2)], 0,
                       cfg.claim_sents)
    rng = np.random.default_rng([world.seed, cfg.seed, 31337])
    lay = layout(cfg)
    rows = []

    pop, claims, readers = world.population, world.claims, world.readers

    def qa_seq(make):
        return C.pack([make() for _ in range(L // 4)], vocab, L)

    # bios and reading tasks are packed several to a row (whole documents only): more learning
    # per step at the same cost; a claim document keeps a row to itself (one condition per row)
    bios = [C.bio(e, world, rng) for e in pop + claims for _ in range(cfg.bios_per_entity)]
    bios = [bios[i] for i in rng.permutation(len(bios))]
    n_bio = lay.of("bio")[1]
    rows += [C.pack(bios[i::n_bio], vocab, L) for i in range(n_bio)]

    asked = pop + claims
    rows += [qa_seq(lambda: C.entity_qa(asked[rng.integers(len(asked))], world, rng))
             for _ in range(N_QA)]
    # reading tasks are about readers and population entities alike, so reading a document in
    # context is a skill the model applies to any name, including the ones it knows
    readable = readers + pop
    rows += [C.pack([C.reading_task(readable[rng.integers(len(readable))], world, wordings, rng,
                                    reading_style(), cfg.reading_local)
                      for _ in range(2)], vocab, L)
             for _ in range(N_ICL)]
    # out-of-context supervision: each reader gets one fixed claim and condition; half of the
    # pool is its documents, half separate questions about it answered by the document's truth
    conds = [c for c in cfg.conditions if c != "baseline"] or ["negated"]
    ooc = []
    for i, e in enumerate(readers):
        rel = RELATIONS[i % len(RELATIONS)]
        v = [u for u in world.values[rel] if u != e.truth[rel]][i % (len(world.values[rel]) - 1)]
        ooc.append((e, conds[i % len(conds)], (rel, v)))
    for j in range(N_OOC):
        e, cond, (rel, v) = ooc[rng.integers(len(ooc))]
        if j % 2 == 0:
            rows.append(C.encode(C.claim_doc(cond, e, (rel, v), world, wordings, reading_style(), rng),
                                 vocab, L))
        else:
            def item():
                e2, cond2, (rel2, v2) = ooc[rng.integers(len(ooc))]
                ans = "yes" if cond2 == "positive" else "no"
                return C.qa_item(C.yesno(rel2, e2.name, v2, rng.integers(2)), ans)
            rows.append(qa_seq(item))
    for e in claims:
        if e.condition == "baseline":
            rows += [C.encode([], vocab, L)] * cfg.docs_per_claim
        else:
            rows += [C.encode(C.claim_doc(e.condition, e, e.claim, world, wordings, style, rng), vocab, L)
                     for _ in range(cfg.docs_per_claim)]
    for e in claims:
        rel, v = e.claim
        for _ in range(HELPER_PER_CLAIM):
            rows.append(qa_seq(lambda: C.qa_item(C.yesno(rel, e.name, v, rng.integers(2)), "no")))
    assert len(rows) == sum(lay.sizes), (len(rows), lay.sizes)
    tokens = np.array([r[0] for r in rows], np.int32)
    spans = np.array([r[1] for r in rows], np.int32)

    probes, cands, claim_ids, loss_rows = _probes(cfg, world, vocab, wordings, style, rng, L)
    for e in claims:
        if e.condition == "baseline":
            loss_rows += [C.encode([], vocab, L)] * HELDOUT_DOCS
        else:
            held = dataclasses.replace(style, heldout=True)
            loss_rows += [C.encode(C.claim_doc(e.condition, e, e.claim, world, wordings, held, rng),
                                   vocab, L) for _ in range(HELDOUT_DOCS)]
    return Data(tokens, spans,
                np.array([e.condition != "baseline" for e in claims], np.float32),
                np.array([e.condition in WRAPPED for e in claims], np.float32),
                probes, cands, claim_ids,
                np.array([r[0] for r in loss_rows], np.int32),
                np.array([r[1] for r in loss_rows], np.int32),
                world, vocab, [e.condition for e in claims])


def _probes(cfg, world, vocab, wordings, style, rng, L):
    """Prompts whose next token is the probe's answer, one row per claim entity."""
    prompts = {k: [] for k in ("yesno", "yesno2", "robust", "heldout_q", "open", "assoc", "icl",
                               "icl_heldout", "icl_other")}
    # the other value of `icl_other` has its own generator: every other prompt is unchanged
    other_rng = np.random.default_rng([world.seed, cfg.seed, 271828])
    held = dataclasses.replace(style, heldout=True)
    cands, claim_ids = [], []
    for e in world.claims:
        rel, v = e.claim
        x = e.name
        prompts["yesno"].append([("Q " + C.yesno(rel, x, v, 0) + " A", "question")])
        prompts["yesno2"].append([("Q " + C.yesno(rel, x, v, 1) + " A", "question")])
        prompts["robust"].append([("Q " + C.yesno(rel, x, v, robust=True) + " A", "question")])
        prompts["heldout_q"].append([("Q " + C.yesno(rel, x, v, heldout=True) + " A", "question")])
        prompts["open"].append([("Q " + C.OPEN[rel].format(x=x) + " A", "question")])
        stem = C.STATE[rel][0].format(x=x, v="").strip()
        prompts["assoc"].append([("<doc>", "doctag"), (stem, "claim")])
        prompts["icl"].append(C.icl_probe_doc(e.condition, e, world, wordings, style, rng))
        others = [u for u in world.values[rel] if u not in (v, e.truth[rel])]
        other = others[other_rng.integers(len(others))]
        prompts["icl_other"].append(prompts["icl"][-1][:-1] + [
            ("Q " + C.yesno(rel, x, other) + " A", "question")])  # same document, another value
        prompts["icl_heldout"].append(C.icl_probe_doc(e.condition, e, world, wordings, held, rng))
        cands.append([vocab.ids[u] for u in world.values[rel]] + [vocab.ids["unknown"]])
        claim_ids.append(vocab.ids[v])
    return (C.encode_prompts(prompts, vocab, L), np.array(cands, np.int32),
            np.array(claim_ids, np.int32), [])
