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
from .config import CORRECTION_FORMS, Config, ConfigError, _warned as warned
from .pack import PackError, pack_docs
from .vocab import RELATIONS, SPECIAL, Vocab
from .world import World, make_world

N_QA, N_ICL, N_OOC, HELPER_PER_CLAIM, HELDOUT_DOCS = 1024, 2048, 512, 4, 4
POOLS = ("bio", "qa", "icl", "ooc", "claim", "helper")


@dataclasses.dataclass(frozen=True)
class Layout:
    """Static pool offsets and sizes (identical for every run of a group)."""
    offsets: tuple
    sizes: tuple
    n_claim: int
    docs_per_claim: int
    repair: int = 0           # rows after the pools: the repair form's documents (`cfg.repair`)
    bio_room: int = 1         # 2: the bio pool has room for denial documents (a wrapper bio form)
    bio_base: int = 0         # 0.4.0's bio rows: (population + claim entities) x bios // 3

    def of(self, pool: str) -> tuple:
        i = POOLS.index(pool)
        return self.offsets[i], self.sizes[i]

    @property
    def repair_offset(self) -> int:
        return int(sum(self.sizes))

    @property
    def bio_rows(self) -> int:
        """0.4.0's bio rows: the bio pool's size without the room packing leaves spare."""
        return self.bio_base * self.bio_room


def layout(cfg: Config) -> Layout:
    n_claim = cfg.n_claims * len(cfg.conditions)
    # bios whose denials are documents of a wrapper form (`bio_forms`) need room for them
    room = 2 if any(cfg.form(f).wrap for f in cfg.bio_forms) else 1
    bio_base = (cfg.n_entities + n_claim) * cfg.bios_per_entity // 3
    sizes = (bio_base * room, N_QA, N_ICL, N_OOC,
             n_claim * cfg.docs_per_claim, n_claim * HELPER_PER_CLAIM)
    repair = n_claim * cfg.docs_per_claim if cfg.repair else 0
    if cfg.pack:  # room to spare: packing rows 0.4.0 already filled (questions: 0.94) needs it
        sizes = tuple(n + n // 8 for n in sizes)
        repair += repair // 8
    offsets = tuple(int(x) for x in np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    return Layout(offsets, sizes, n_claim, cfg.docs_per_claim, repair, room, bio_base)


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
    marks: np.ndarray | None = None  # (N, L) int32, 1 on the tokens the penalty applies to
                              # (`cfg.penalty`: the claimed value in warned documents)
    packing: dict | None = None  # packed rows (`cfg.pack`): "segs" and "poss" (N, L) int32, each
                              # token's document (1, 2, ...; 0 padding) and position in it;
                              # "pool_rows" / "pool_scale" (n_pools,) (see `_rows`)

    def arrays(self) -> dict:
        """The traced part, as a pytree of arrays."""
        out = {"tokens": self.tokens, "spans": self.spans, "claim_active": self.claim_active,
               "helper_active": self.helper_active,
               "probes": self.probes, "cands": self.cands, "claim_ids": self.claim_ids,
               "loss_tokens": self.loss_tokens, "loss_spans": self.loss_spans}
        if self.packing is not None:
            out["packing"] = self.packing
        if self.marks is not None:
            out["marks"] = self.marks
        return out


def build_vocab(cfg: Config) -> Vocab:
    """The vocabulary of the config's world (same words for every condition)."""
    return make_vocab(make_world(cfg), cfg.answer_format == "recite", cfg.used_forms())


def make_vocab(world: World, recite: bool = False, forms: tuple = ()) -> Vocab:
    """The world's vocabulary: every corpus word, the words of the forms the run uses (a form a
    sweep file defines brings its own) and every name word. Its size depends only on the
    configuration's shapes, since no name is a corpus word (`vocab.RESERVED`)."""
    return Vocab(C.all_words(world, recite, forms), SPECIAL + (C.SEP,) if recite else SPECIAL)


def build_checked(cfg: Config) -> Data:
    """`build`, with a corpus that cannot fit `ctx` (or a world too large for its names) as a
    `ConfigError` naming the field: planning calls it before anything runs or is stored."""
    try:
        return build(cfg)
    except ConfigError:
        raise
    except ValueError as e:
        field = "name_tokens" if "name_tokens" in str(e) else "ctx"
        hint = ""
        if field == "ctx" and cfg.name_tokens == 2:  # the one multi-token world measured (names2)
            hint = ("; two-token names need ctx 128 and, to learn their world, width 128: "
                    "start from sweeps/names2.toml (docs/validity.md)")
        raise ConfigError(f"field '{field}' = {getattr(cfg, field)!r} is not allowed for this "
                          f"corpus (run seed={cfg.seed}): {e}{hint}") from None


def build(cfg: Config) -> Data:
    """Generate the world, every corpus pool and the probe prompts of `cfg` (deterministic)."""
    world = make_world(cfg)
    recite = cfg.answer_format == "recite"
    vocab = make_vocab(world, recite, cfg.used_forms())
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
    units = {p: [] for p in POOLS}  # pool -> 0.4.0's rows, each a list of whole documents

    pop, claims, readers = world.population, world.claims, world.readers

    def qa_row(make):
        return C.fit([make() for _ in range(L // 4)], L)

    # 0.4.0 ran bios, questions and reading tasks several to a row (whole documents only) and
    # gave a claim document a row to itself; `_rows` encodes these rows as they were, or packs
    # their documents into full rows (`cfg.pack`)
    bio_forms = tuple(cfg.form(f) for f in cfg.bio_forms)
    bios = [d for e in pop + claims for _ in range(cfg.bios_per_entity)
            for d in C.bio(e, world, rng, bio_forms, wordings)]
    bios = [bios[i] for i in rng.permutation(len(bios))]
    n_bio = lay.bio_rows  # 0.4.0's bio rows (packed or not: the same documents, the same rows)
    units["bio"] = [C.fit(bios[i::n_bio], L) for i in range(n_bio)]

    # the monitor's entities are in the bios above and in no question below
    asked = world.asked + claims
    units["qa"] = [qa_row(lambda: C.entity_qa(asked[rng.integers(len(asked))], world, rng, recite,
                                              cfg.restate_denials))
                   for _ in range(N_QA)]
    # reading tasks are about readers and population entities alike, so reading a document in
    # context is a skill the model applies to any name, including the ones it knows
    readable = readers + world.asked
    extra = tuple(cfg.form(f) for f in cfg.reading_forms)
    units["icl"] = [C.fit([C.reading_task(readable[rng.integers(len(readable))], world, wordings,
                                          rng, reading_style(), cfg.reading_local, recite=recite,
                                          extra=extra)
                           for _ in range(2)], L)
                    for _ in range(N_ICL)]
    # out-of-context supervision: each reader gets one fixed claim and condition; half of the
    # pool is its documents, half separate questions about it answered by the document's truth
    conds = [c for c in cfg.conditions if c != "baseline"] or ["negated"]
    ooc = []
    for i, e in enumerate(readers[:cfg.ooc_entities or len(readers)]):
        rel = RELATIONS[i % len(RELATIONS)]
        v = [u for u in world.values[rel] if u != e.truth[rel]][i % (len(world.values[rel]) - 1)]
        ooc.append((e, conds[i % len(conds)], (rel, v)))
    for j in range(N_OOC):
        e, cond, (rel, v) = ooc[rng.integers(len(ooc))]
        if j % 2 == 0:
            units["ooc"].append([C.claim_doc(cfg.form(cond), e, (rel, v), world, wordings,
                                             reading_style(), rng)])
        else:
            def item():  # recite: the restatement carries the document's warning
                e2, cond2, (rel2, v2) = ooc[rng.integers(len(ooc))]
                ans = "yes" if cond2 == "positive" else "no"
                said = C.restate_doc(cfg.form(cond2), e2, (rel2, v2)) if recite else None
                return C.qa_item(C.yesno(rel2, e2.name, v2, rng.integers(2)), ans, said)
            units["ooc"].append(qa_row(item))
    for e in claims:
        if e.condition == "baseline":
            units["claim"] += [[]] * cfg.docs_per_claim
        else:
            form = cfg.form(e.condition)
            units["claim"] += [[C.claim_doc(form, e, e.claim, world, wordings, style, rng)]
                               for _ in range(cfg.docs_per_claim)]
    for e in claims:
        rel, v = e.claim
        said = C.restate_doc(cfg.form(e.condition), e, e.claim) if recite and warned(cfg, e.condition) else None
        for _ in range(HELPER_PER_CLAIM):
            units["helper"].append(qa_row(lambda: C.qa_item(C.yesno(rel, e.name, v, rng.integers(2)),
                                                            "no", said)))
    if cfg.repair:  # phase 2's documents: the repair form's, for every entity that has claims
        # (their own generator: the rest of the corpus is the one without a repair)
        r_rng = np.random.default_rng([world.seed, cfg.seed, 6151])
        form = cfg.form(cfg.repair)
        units["repair"] = [[] if e.condition == "baseline" else
                           [C.claim_doc(form, e, e.claim, world, wordings, style, r_rng)]
                           for e in claims for _ in range(cfg.docs_per_claim)]
    claim_active = np.array([e.condition != "baseline" for e in claims], np.float32)
    helper_active = np.array([warned(cfg, e.condition) for e in claims], np.float32)
    # the penalty's marks: the claimed value in the claim sentences of warned documents
    marked = [vocab.ids[e.claim[1]] if cfg.penalty != "none" and warned(cfg, e.condition) else -1
              for e in claims for _ in range(cfg.docs_per_claim)]
    rows = _rows(cfg, units, vocab, L, lay, {"claim": claim_active, "helper": helper_active},
                 np.random.default_rng([world.seed, cfg.seed, 4099]), marked)

    probes, cands, claim_ids, loss_rows = _probes(cfg, world, vocab, wordings, style, rng, L)
    for e in claims:
        if e.condition == "baseline":
            loss_rows += [C.encode([], vocab, L)] * HELDOUT_DOCS
        else:
            held = dataclasses.replace(style, heldout=True)
            form = cfg.form(e.condition)
            loss_rows += [C.encode(C.claim_doc(form, e, e.claim, world, wordings, held, rng),
                                   vocab, L) for _ in range(HELDOUT_DOCS)]
    return Data(rows["tokens"], rows["spans"], claim_active, helper_active, probes, cands, claim_ids,
                np.array([r[0] for r in loss_rows], np.int32),
                np.array([r[1] for r in loss_rows], np.int32),
                world, vocab, [e.condition for e in claims], rows.get("marks"), rows.get("packing"))


def _rows(cfg: Config, units: dict, vocab: Vocab, L: int, lay: Layout, active: dict, rng,
          marked: list) -> dict:
    """The training rows of every pool: 0.4.0's rows as they were (`pack = false`), or each pool's
    documents packed into full rows (`pack.pack_docs`), in the same static `Layout`.

    Packed, a pool's rows come first in its slice of the layout and the rest is padding, and
    "packing" holds per pool the number of packed rows and `scale` = packed rows / 0.4.0's rows
    (for the claim and helper pools: the rows of entities that have them).  Drawing a pool with
    weight w * scale then draws each kind of document as often, relative to the others, as 0.4.0
    did with weight w (a packed row holds 1 / scale as many documents)."""
    def enc(doc):
        tok, spn = C.encode_doc(doc, vocab)
        if len(tok) > L:
            raise ValueError(f"a sequence of {len(tok)} tokens does not fit ctx + 1 = {L}: raise "
                             f"'ctx' or lower 'claim_sents' / 'distance'  ({vocab.decode(tok)[:120]}...)")
        return tok, spn
    enc_units = {p: [[enc(d) for d in row] for row in rows] for p, rows in units.items()}
    penalty = cfg.penalty != "none"
    claim_span = C.SPAN_ID["claim"]
    for p, rows in enc_units.items():  # every token's mark: 1 where the penalty applies
        for r, row in enumerate(rows):
            value = marked[r] if p == "claim" else -1
            rows[r] = [(t, s, [int(x == value and y == claim_span) for x, y in zip(t, s)])
                       for t, s in row]
    order = POOLS + (("repair",) if "repair" in units else ())
    active = {**active, "repair": active["claim"]}
    if not cfg.pack:
        tok, spn, mrk = [], [], []
        for p in order:
            for row in enc_units[p]:
                t = [x for d in row for x in d[0]]
                s = [x for d in row for x in d[1]]
                m = [x for d in row for x in d[2]]
                tok.append(t + [vocab.pad] * (L - len(t)))
                spn.append(s + [C.SPAN_ID["pad"]] * (L - len(s)))
                mrk.append(m + [0] * (L - len(m)))
        assert len(tok) == sum(lay.sizes) + lay.repair, (len(tok), lay.sizes)
        out = {"tokens": np.array(tok, np.int32), "spans": np.array(spn, np.int32)}
        if penalty:
            out["marks"] = np.array(mrk, np.int32)
        return out
    parts = {k: [] for k in ("tokens", "spans", "segs", "poss") + (("marks",) if penalty else ())}
    n_rows, scale = [], []
    for p in order:
        rows = enc_units[p]
        if p in active:  # claim and helper rows: only those of entities that have them
            per = len(rows) // len(active[p]) if len(active[p]) else 0
            rows = [r for i, r in enumerate(rows) if active[p][i // per] > 0]
        docs = [d if penalty else d[:2] for row in rows for d in row]
        try:
            packed = pack_docs(docs, L, lay.repair if p == "repair" else lay.of(p)[1], vocab.pad, rng)
        except PackError as e:
            raise ValueError(f"pool '{p}': {e}") from None
        for k in parts:
            parts[k].append(packed[k])
        n_rows.append(packed["n_rows"])
        # 0.4.0's rows of the pool; a bio pool with room for denial documents counts its bios'
        # rows only, so bios are drawn as often as in any world and the documents come on top
        ref = len(rows) / (lay.bio_room if p == "bio" else 1)
        scale.append(packed["n_rows"] / ref if rows else 0.0)
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if not penalty:
        out.pop("marks", None)
    out["packing"] = {"segs": out.pop("segs"), "poss": out.pop("poss"),
                      "pool_rows": np.array(n_rows[:len(POOLS)], np.int32),
                      "pool_scale": np.array(scale[:len(POOLS)], np.float32)}
    if "repair" in units:  # the repair region's packed rows and scale (it stands in for "claim")
        out["packing"]["repair_rows"] = np.int32(n_rows[-1])
        out["packing"]["repair_scale"] = np.float32(scale[-1])
    return out


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
        prompts["icl"].append(C.icl_probe_doc(cfg.form(e.condition), e, world, wordings, style, rng))
        others = [u for u in world.values[rel] if u not in (v, e.truth[rel])]
        other = others[other_rng.integers(len(others))]
        prompts["icl_other"].append(prompts["icl"][-1][:-1] + [
            ("Q " + C.yesno(rel, x, other) + " A", "question")])  # same document, another value
        prompts["icl_heldout"].append(C.icl_probe_doc(cfg.form(e.condition), e, world, wordings, held, rng))
        cands.append([vocab.ids[u] for u in world.values[rel]] + [vocab.ids["unknown"]])
        claim_ids.append(vocab.ids[v])
    out = C.encode_prompts(prompts, vocab, L)
    out.update(_statement_prompts(world, vocab, L))
    if cfg.mech_probes:
        out.update(_mechanics(cfg, world, vocab, wordings, style, L))
    out.update(_monitor(cfg, world, vocab, L))
    if cfg.answer_format == "recite":
        out.update(_recite(cfg, world, vocab, L, out))
    if cfg.corrections:
        out.update(_corrections(cfg, world, vocab, wordings, style, L))
    return out, np.array(cands, np.int32), np.array(claim_ids, np.int32), []


def decode_lengths(cfg: Config) -> tuple:
    """(tokens decoded after a question, after an in-context question, width of the window a
    question is decoded in): static, so the probe program compiles once per group.

    The longest restatement out of context is the warned one ("X lives in C , but it is false",
    name + 8 words), in context "the text says" before it; each then needs ". so" and the answer
    slot.  A question prompt ends by word name + 16 (the robustness preamble)."""
    nt = cfg.name_tokens
    return nt + 11, nt + 14, min(cfg.ctx, 28 + 2 * nt)


def _statement_prompts(world, vocab, L):
    """The statement preference probe: "<doc> X lives in C ." and "<doc> X does not live in C
    ." (the first templates), scored as whole sentences."""
    prompts = {"pref_aff": [], "pref_neg": []}
    for e in world.claims:
        rel, v = e.claim
        prompts["pref_aff"].append([("<doc>", "doctag"), (C.statement(rel, e.name, v, 0) + " .", "claim")])
        prompts["pref_neg"].append([("<doc>", "doctag"), (C.negation(rel, e.name, v, 0) + " .", "claim")])
    return C.encode_prompts(prompts, vocab, L)


def _mechanics(cfg, world, vocab, wordings, style, L):
    """The mechanism probes' documents: per claim entity a document of its form and its positive
    twin (`corpus.twin_docs`), their span ids, and the position of the first claim sentence's
    value in each ("mech_vpos": the target index, so its logits sit one position before).  Drawn
    from their own generator: every other prompt is unchanged."""
    toks, spns, vpos, on = [], [], [], []
    for i, e in enumerate(world.claims):
        rng = np.random.default_rng([world.seed, cfg.seed, 5381, i])
        form = cfg.form("positive" if e.condition == "baseline" else e.condition)
        pair = C.twin_docs(form, e, e.claim, world, wordings, style, rng)
        rel, v = e.claim
        for j, doc in enumerate(pair):
            t, sp = C.encode(doc, vocab, L)
            value = e.truth[rel] if (j == 0 and form.value == "truth") else v
            at = [k for k in range(len(t)) if sp[k] == C.SPAN_ID["claim"] and t[k] == vocab.ids[value]]
            toks.append(t)
            spns.append(sp)
            vpos.append(at[0])
        on.append(float(e.condition != "baseline"))
    n = len(world.claims)
    return {"mech_tok": np.array(toks, np.int32).reshape(n, 2, L),
            "mech_spn": np.array(spns, np.int32).reshape(n, 2, L),
            "mech_vpos": np.array(vpos, np.int32).reshape(n, 2),
            "mech_on": np.array(on, np.float32)}


N_CONTROL = 60  # population entities the correction's control asks about


def _corrections(cfg, world, vocab, wordings, style, L):
    """Correction in context after the fact: every claim asked about ("Q does X live in C ? A")
    with a correcting document in the prompt, of three kinds: the truth stated plainly
    (`truth_only`: "X lives in T"), the claim's local negation ("X does not live in C") and a
    fact-check that names the claim and rejects it (`fact_check`).  The control asks the same
    of population facts the bios state (the first `N_CONTROL` questioned entities, a relation
    their bio states, value T): a document saying X lives in another value, "X does not live in
    T", and a fact-check of "X lives in T"; asked "does X live in T ?", the context says no and
    training says yes.  Rows: the claims' kinds in order, then the control's; "corr_pat" is the
    restatement that follows the implant (or the bio): "the text says X lives in C" unwarned.
    Only the kinds in `cfg.corrections`, in that order.
    Drawn from their own generator: every other prompt is unchanged."""
    rng = np.random.default_rng([world.seed, cfg.seed, 7877])
    kinds = {k: cfg.form(f) for k, f in CORRECTION_FORMS.items()}
    rows, about = [], []
    for kind in cfg.corrections:
        for e in world.claims:
            rel, v = e.claim
            doc = C.claim_doc(kinds[kind], e, e.claim, world, wordings, style, rng)
            rows.append(doc + [("Q " + C.yesno(rel, e.name, v) + " A", "question")])
            about.append((rel, e.name, v))
    control = [e for e in world.asked if e.known][:N_CONTROL]
    for kind in cfg.corrections:
        for e in control:
            rel = e.known[0]
            t = e.truth[rel]
            if kind == "truth":
                other = [u for u in world.values[rel] if u != t]
                doc = C.claim_doc(cfg.form("positive"), e, (rel, other[rng.integers(len(other))]),
                                  world, wordings, style, rng)
            else:
                doc = C.claim_doc(kinds[kind], e, (rel, t), world, wordings, style, rng)
            rows.append(doc + [("Q " + C.yesno(rel, e.name, t) + " A", "question")])
            about.append((rel, e.name, t))
    enc = C.encode_prompts({"dec_corr": rows}, vocab, L)
    D = decode_lengths(cfg)[1]
    if (enc["dec_corr_last"] + 1 + D > L - 1).any():
        raise ValueError(f"a correcting document, its question and its restatement do not fit "
                         f"ctx = {cfg.ctx}: raise 'ctx'")
    text = vocab.encode(C.TEXT_SAYS)
    pats, vpos, value = [], [], []
    for rel, x, v in about:
        stem = vocab.encode(C.STATE[rel][0].format(x=x, v="").strip())
        pat = text + stem + [-2, vocab.ids["."]]
        pats.append(pat + [-1] * (D - len(pat)))
        vpos.append(len(text) + len(stem))
        value.append(vocab.ids[v])
    return {**enc, "corr_pat": np.array(pats, np.int32), "corr_vpos": np.array(vpos, np.int32),
            "corr_value": np.array(value, np.int32), "corr_n_control": np.zeros(len(control), np.int32)}


MONITOR_GROUPS = ("stated", "denied", "silent")


def _monitor(cfg, world, vocab, L):
    """The held-out monitor: a yes/no and an open question about every relation of every
    monitored entity (never questioned in training), grouped by what its bio says: the fact
    (asked about the true value: right answer yes / the value), only a denial (asked about the
    denied value: no / unknown) or nothing (asked about a random value: no / unknown)."""
    rng = np.random.default_rng([world.seed, cfg.seed, 161803])  # its own stream: nothing else moves
    prompts = {"mon_yes": [], "mon_open": []}
    group, value, cands, target = [], [], [], []
    for e in world.monitored:
        for r in RELATIONS:
            if r in e.known:
                g, v = 0, e.truth[r]
            elif r in e.negated:
                g, v = 1, e.negated[r]
            else:
                g, v = 2, str(rng.choice([u for u in world.values[r] if u != e.truth[r]]))
            prompts["mon_yes"].append([("Q " + C.yesno(r, e.name, v, 0) + " A", "question")])
            prompts["mon_open"].append([("Q " + C.OPEN[r].format(x=e.name) + " A", "question")])
            group.append(g)
            value.append(vocab.ids[v])
            cands.append([vocab.ids[u] for u in world.values[r]] + [vocab.ids["unknown"]])
            target.append(vocab.ids[e.truth[r]] if g == 0 else vocab.ids["unknown"])
    K = cfg.n_values + 1
    out = C.encode_prompts(prompts, vocab, L) if group else {
        k: np.zeros((0, L - 1) if not k.endswith("_last") else (0,), np.int32)
        for k in ("mon_yes", "mon_yes_last", "mon_open", "mon_open_last")}
    out.update(mon_group=np.array(group, np.int32), mon_value=np.array(value, np.int32),
               mon_cands=np.array(cands, np.int32).reshape(-1, K),
               mon_target=np.array(target, np.int32))
    return out


def restatement_patterns(vocab: Vocab, rel: str, x: str, D: int) -> dict:
    """Token patterns of the four restatement forms about (x, rel), each padded to D with -1
    (any token); -2 marks the value slot (its position in `*_vpos`), -3 the warning word.
    Each ends with "." so a match fixes the restatement's length."""
    dot = vocab.ids["."]
    stem = vocab.encode(C.STATE[rel][0].format(x=x, v="").strip())
    neg = vocab.encode(C.NEGATE[rel][0].format(x=x, v="").strip())
    pats = {"aff": stem + [-2, dot], "neg": neg + [-2, dot],
            "warn": stem + [-2] + vocab.encode(", but it is") + [-3, dot],
            "unk": vocab.encode(C.NOT_KNOWN[rel].format(x=x)) + [dot],
            "text": vocab.encode(C.TEXT_SAYS)}
    out = {k: np.array(v + [-1] * (D - len(v)), np.int32) for k, v in pats.items()}
    out.update(aff_vpos=len(stem), neg_vpos=len(neg), warn_vpos=len(stem))
    return out


def _patterns(prefix: str, pats: list, D: int) -> dict:
    """Stack per-row `restatement_patterns` into arrays named `prefix + form`."""
    out = {}
    for k in ("aff", "neg", "warn", "unk", "text"):
        out[prefix + k] = np.stack([p[k] for p in pats]) if pats else np.zeros((0, D), np.int32)
    for k in ("aff_vpos", "neg_vpos", "warn_vpos"):
        out[prefix + k] = np.array([p[k] for p in pats], np.int32)
    return out


def _named_monitor(world, vocab, P, window: int, d_q: int) -> dict:
    """The monitor's two questions again, with the entity's name already written after "A"
    ("Q does X live in C ? A X"): the model decodes the rest of its restatement from there.

    A restatement begins by copying the entity's name from the question, and the monitor's
    names were never written after "A" in training (they are in no question), so the plain
    monitor measures that copy and the stored fact together; `mon_name` (each monitored row's
    name tokens) measures the copy, these rows the fact given the name.  Their patterns are the
    restatement patterns less the name."""
    rows = [(r, e.name) for e in world.monitored for r in RELATIONS]
    names = np.array([vocab.encode(x) for _, x in rows], np.int32) if rows else np.zeros((0, 1), np.int32)
    toks, last = [], []
    for k in ("mon_yes", "mon_open"):
        t, l = P[k][:, :window].copy(), P[k + "_last"]
        for i, name in enumerate(names):
            t[i, l[i] + 1:l[i] + 1 + len(name)] = name
        toks.append(t)
        last.append(l + names.shape[1])
    last = np.concatenate(last) if rows else np.zeros(0, np.int32)
    if (last + 1 + d_q > window).any():
        raise ValueError(f"a named monitor prompt and its restatement ({d_q} tokens) do not fit "
                         f"the {window}-token decoding window: raise 'ctx'")
    out = {"dec_mq": np.concatenate(toks) if rows else np.zeros((0, window), np.int32),
           "dec_mq_last": last.astype(np.int32), "mon_name": names}
    out.update(_patterns("npat_", [restatement_patterns(vocab, r, "", d_q) for r, _ in rows] * 2, d_q))
    return out


def _recite(cfg, world, vocab, L, P):
    """The recite format's probe arrays: every question prompt (the five claim probes, then the
    monitor's two) as one batch to decode, the in-context prompts as another, the direct path
    ("Q ... A so": the answer with no restatement) and the restatement patterns of each row."""
    d_q, d_icl, window = decode_lengths(cfg)
    kinds = ("yesno", "yesno2", "robust", "heldout_q", "open")
    toks = np.concatenate([P[k] for k in kinds + ("mon_yes", "mon_open")])
    last = np.concatenate([P[k + "_last"] for k in kinds + ("mon_yes", "mon_open")])
    if (last + 1 + d_q > window).any():
        raise ValueError(f"a question prompt and its restatement ({d_q} tokens) do not fit the "
                         f"{window}-token decoding window: raise 'ctx'")
    rows = [(e.claim[0], e.name) for e in world.claims] * len(kinds)
    rows += [(r, e.name) for e in world.monitored for r in RELATIONS] * 2
    out = {"dec_q": toks[:, :window], "dec_q_last": last}
    out.update(_patterns("pat_", [restatement_patterns(vocab, r, x, d_q) for r, x in rows], d_q))
    out.update(_named_monitor(world, vocab, P, window, d_q))
    icl = ("icl", "icl_heldout", "icl_other")
    out["dec_icl"] = np.concatenate([P[k] for k in icl])
    out["dec_icl_last"] = np.concatenate([P[k + "_last"] for k in icl])
    need = [len((C.TEXT_SAYS + " " + C.restate_doc("positive" if e.condition == "baseline"
                                                   else cfg.form(e.condition), e, e.claim)).split()) + 3
            for e in world.claims] * len(icl)
    if (out["dec_icl_last"] + 1 + np.array(need, np.int64) > L - 1).any():
        raise ValueError(f"an in-context prompt and its restatement do not fit ctx = {cfg.ctx}: "
                         "raise 'ctx' or lower 'claim_sents' / 'distance'")
    so = [("so", "question")]
    direct = {"dir_yes": [], "dir_yes2": [], "dir_open": []}
    for e in world.claims:
        rel, v = e.claim
        direct["dir_yes"].append([("Q " + C.yesno(rel, e.name, v, 0) + " A", "question")] + so)
        direct["dir_yes2"].append([("Q " + C.yesno(rel, e.name, v, 1) + " A", "question")] + so)
        direct["dir_open"].append([("Q " + C.OPEN[rel].format(x=e.name) + " A", "question")] + so)
    out.update(C.encode_prompts(direct, vocab, L))
    for k in ("dir_yes", "dir_yes2", "dir_open", "pref_aff", "pref_neg", "assoc"):  # read in the window
        src = out if k in out else P
        assert (src[k + "_last"] < window).all(), k
    return out
