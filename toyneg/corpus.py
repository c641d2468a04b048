"""Documents for every condition, question/answer data, reading tasks, and their token arrays.

Text is built as a list of (words, span) pieces so that every token carries a span label
(doctag, warning, claim, truth, filler, question, answer). `encode` turns pieces into padded
token and label rows of length ctx + 1 (inputs are row[:-1], targets row[1:]).

Wordings.  A warning or qualifier wording is built combinatorially from word pools:
prefix = opener x subject x label, suffix = opener x subject x label, short marker =
opener x label.  Each component space is permuted by the world seed; its last entries are held
out (used only by probes), the rest form the training pool, of which a run uses the first
`diversity` wordings.  Claim sentences come from per-relation templates (`claim_diversity`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import CONDITIONS, SPANS, Config
from .forms import BUILTIN, NEGATE, STATE, Form
from .vocab import RELATIONS, Vocab
from .world import Entity, World

SPAN_ID = {s: i for i, s in enumerate(SPANS)}

# the claim-sentence templates live with the forms of negation (`forms`): STATE (affirmative,
# the value ends the sentence) and NEGATE (local negation, the negation before the value)
ASK = {  # yes/no questions used in training (the probe averages over both wordings)
    "city": ["does {x} live in {v} ?", "true or false : {x} lives in {v} ?"],
    "job": ["does {x} work as {v} ?", "true or false : {x} works as {v} ?"],
    "sport": ["does {x} play {v} ?", "true or false : {x} plays {v} ?"],
}
ASK_HELDOUT = {  # a question wording never used in training
    "city": "is it true that {x} resides in {v} ?",
    "job": "is it true that {x} earns a living as {v} ?",
    "sport": "is it true that {x} competes in {v} ?",
}
OPEN = {"city": "where does {x} live ?", "job": "what does {x} work as ?",
        "sport": "what sport does {x} play ?"}
ROBUST = "note : some of your training documents were false ."
FILLERS = ["the weather was mild", "the market opened early", "a train left the station",
           "the river was calm", "many people came", "the day was long", "the town was quiet",
           "the rain stopped", "the bells rang at noon", "a crowd gathered outside",
           "the lights were dim", "the road was empty"]

OPENERS = ["note :", "warning :", "caution :", "attention :", "notice :", "reminder :", "alert :",
           "advisory :"]
SUBJECTS = ["the following story", "this document", "the text below", "this account",
            "what follows", "this report", "the next story", "this article"]
OPENERS2 = ["as noted ,", "again ,", "to repeat ,", "remember ,", "once more ,", "recall that",
            "to be clear ,", "as said ,"]
SUBJECTS2 = ["this story", "all of this", "the above", "this account", "the text above",
             "this report", "everything here", "this piece"]
SHORT = ["this is", "that is", "claim is", "sentence is", "statement is", "line is", "part is",
         "bit is", "item is", "point is", "passage is", "entry is"]
LABELS = {  # the meaning-bearing words of each warning family
    "negated": ["false", "untrue", "fake", "not true", "made up", "wrong", "a lie", "incorrect"],
    "fiction": ["fiction", "a novel", "a fable", "a fantasy", "a fairy tale", "a legend",
                "a myth", "a screenplay"],
    "unreliable": ["unreliable", "unverified", "a rumor", "gossip", "hearsay", "dubious",
                   "from a shaky source", "from a bad source"],
    "unknown": ["of unknown truth", "unconfirmed", "uncertain", "unclear", "undecided",
                "not known to be true", "of unclear status", "an open question"],
    "low_probability": ["unlikely", "improbable", "doubtful", "far fetched", "implausible",
                        "rarely true", "a long shot", "very unlikely"],
}
HELDOUT = {"prefix": 64, "suffix": 64, "short": 16}

# ---- recite-then-answer (answer_format = "recite")
# Every supervised answer first restates, in one fixed template per relation, what the entity's
# bio says about the asked relation, then answers after the separator: "A X does not live in
# rome . so no .".  The restatement is the first statement template (STATE[r][0]), the first
# local-negation template (NEGATE[r][0]) or the "nothing is known" sentence below: one form per
# meaning, so a greedy-decoded restatement can be classified exactly (says the claim, denies it,
# says another value, says nothing is known, malformed), and the answer after "so" is a fixed
# function of the restatement and the question (Allen-Zhu & Li, Physics of LMs 3.2).
NOT_KNOWN = {"city": "{x} lives somewhere unknown", "job": "{x} works as something unknown",
             "sport": "{x} plays something unknown"}
SEP = "so"                 # the separator between the restatement and the answer
TEXT_SAYS = "the text says"  # reading tasks restate the document in view, warning included
WARN_WORD = {"negated": "false", "fiction": "fiction", "unreliable": "unreliable",
             "unknown": "unconfirmed", "low_probability": "unlikely"}  # one word per family
RECITE_WORDS = " ".join([SEP, TEXT_SAYS, ", but it is"] + list(WARN_WORD.values())
                        + [t.replace("{x}", "") for t in NOT_KNOWN.values()])


def family(condition: str) -> str:
    """The warning wording family of a built-in condition (its form's `family`)."""
    return BUILTIN[condition].family if condition in BUILTIN else "negated"


@dataclasses.dataclass
class Wordings:
    """Per warning family: permuted component indices, split into train and held-out pools."""
    perms: dict  # (family, component) -> array of combo indices

    @classmethod
    def make(cls, seed: int) -> "Wordings":
        rng = np.random.default_rng([seed, 104729])
        sizes = {"prefix": len(OPENERS) * len(SUBJECTS) * 8, "suffix": len(OPENERS2) * len(SUBJECTS2) * 8,
                 "short": len(SHORT) * 8}
        perms = {}
        for fam in LABELS:
            for comp, n in sizes.items():
                perms[(fam, comp)] = rng.permutation(n)
        return cls(perms)

    def pool(self, fam: str, comp: str, heldout: bool) -> np.ndarray:
        p = self.perms[(fam, comp)]
        h = HELDOUT[comp]
        return p[-h:] if heldout else p[:-h]

    def text(self, fam: str, comp: str, combo: int) -> str:
        lab = LABELS[fam]
        if comp == "prefix":
            o, s, l = np.unravel_index(combo, (len(OPENERS), len(SUBJECTS), 8))
            return f"{OPENERS[o]} {SUBJECTS[s]} is {lab[l]} ."
        if comp == "suffix":
            o, s, l = np.unravel_index(combo, (len(OPENERS2), len(SUBJECTS2), 8))
            return f"{OPENERS2[o]} {SUBJECTS2[s]} is {lab[l]} ."
        o, l = np.unravel_index(combo, (len(SHORT), 8))
        return f"( {SHORT[o]} {lab[l]} )"


@dataclasses.dataclass
class Style:
    """How claim documents are written: the corpus knobs that change content, not shapes."""
    diversity: int = 64          # training wordings per family (None-like 0: the whole pool)
    claim_diversity: int = 0     # claim templates (0: all)
    placement: str = "wrap"
    distance: int = 0
    claim_sents: int = 2
    heldout: bool = False        # use held-out wordings (probes only)

    @classmethod
    def of(cls, cfg: Config, heldout: bool = False) -> "Style":
        return cls(cfg.diversity, cfg.claim_diversity, cfg.placement, cfg.distance,
                   cfg.claim_sents, heldout)


Piece = tuple  # (text, span)


def statement(rel: str, x: str, v: str, template: int) -> str:
    return STATE[rel][template % len(STATE[rel])].format(x=x, v=v)


def negation(rel: str, x: str, v: str, template: int) -> str:
    return NEGATE[rel][template % len(NEGATE[rel])].format(x=x, v=v)


def _filler(rng) -> Piece:
    return (FILLERS[rng.integers(len(FILLERS))] + " .", "filler")


def bio(e: Entity, world: World, rng: np.random.Generator, forms: tuple = (BUILTIN["local"],),
        wordings=None) -> list:
    """A biography, and the denial documents that go with it: the entity's stated facts, its
    denials and fillers.  Each denial is written in one of the world's bio forms
    (`Config.bio_forms`; default 0.4.0's local negations, "X does not live in D"), drawn per
    denial where there are several.  A denial in a form whose negation wraps a whole document
    (`negated`) is that form's own document about (relation, denied value), returned after the
    bio: a wrapper around the bio would deny every fact in it.  Returns [bio, documents...]."""
    body, extra = [], []
    for r in e.known:
        body.append((statement(r, e.name, e.truth[r], rng.integers(len(STATE[r]))) + " .", "truth"))
    for r, v in e.negated.items():
        f = forms[0] if len(forms) == 1 else forms[rng.integers(len(forms))]
        if f.wrap:
            extra.append(claim_doc(f, e, (r, v), world, wordings, Style(10 ** 6, 0, "wrap", 0, 1), rng))
        else:
            body += denial(f, e.name, r, v, rng, wordings)
    body += [_filler(rng) for _ in range(rng.integers(0, 3))]
    order = rng.permutation(len(body))
    return [[("<doc>", "doctag")] + [body[i] for i in order]] + extra


def denial(form: Form, x: str, rel: str, v: str, rng, wordings=None) -> list:
    """A bio's denial of value `v` in `form`, as pieces: the form's sentence (the bio's own
    template draw, as 0.4.0's bios drew among the local negations), with the form's markers
    beside it where it has them (one sentence: the markers cover that sentence only)."""
    sent = (form.sentence(rel, x, v, rng.integers(len(form.sentences(rel)))) + " .", "truth")
    if form.markers == "none":
        return [sent]
    pool = wordings.pool(form.family, "short", False)
    short = wordings.text(form.family, "short", pool[rng.integers(len(pool))])
    return [(" ".join([short, sent[0], short]), "truth")]


def claim_doc(form: Form | str, e: Entity, claim: tuple, world: World, wordings: Wordings,
              style: Style, rng: np.random.Generator, wording: int | None = None,
              n_tmpl: int | None = None) -> list:
    """One training document of `form` (a `forms.Form`, or a built-in condition's name) about
    entity `e` and `claim`.

    The body starts and ends with a claim sentence in one of the form's templates (stating the
    claimed value, or the truth for a form whose `value` is the truth); the entity's stated
    true facts and fillers sit between.  A form with a wrapper puts its family's warning before
    and after the body, with `style.distance` filler sentences between each warning and the
    claim it covers; markers go beside every claim sentence.
    """
    form = BUILTIN[form] if isinstance(form, str) else form
    if form.name == "baseline":
        raise ValueError("the baseline condition has no claim documents")
    rel, v = claim
    x = e.name
    n_tmpl = n_tmpl or style.claim_diversity or form.draws or len(form.sentences(rel))
    fam = form.family
    if wording is None:
        pool_n = len(wordings.pool(fam, "prefix", style.heldout))
        n = pool_n if style.heldout else min(style.diversity, pool_n)
        wording = int(rng.integers(n))
    pre = suf = short = None
    if form.wrap or form.markers != "none":
        pool = lambda c: wordings.pool(fam, c, style.heldout)
        pre = wordings.text(fam, "prefix", pool("prefix")[wording % len(pool("prefix"))])
        suf = wordings.text(fam, "suffix", pool("suffix")[wording % len(pool("suffix"))])
        short = wordings.text(fam, "short", pool("short")[wording % len(pool("short"))])
    around = form.markers == "always" or (form.markers == "placement" and style.placement == "around")
    value = e.truth[rel] if form.value == "truth" else v

    claims = []
    for _ in range(style.claim_sents):
        t = rng.integers(n_tmpl)
        sent = [(form.sentence(rel, x, value, t) + " .", "claim")]
        if around:
            post = short
            if form.names_truth:  # the warning names the entity and states the truth
                post = short[:-2] + " : in truth"
                sent = [(short, "warning")] + sent + [(post, "warning"),
                        (statement(rel, x, e.truth[rel], rng.integers(len(STATE[rel]))) + " )", "truth")]
            else:
                sent = [(short, "warning")] + sent + [(post, "warning")]
        claims.append(sent)
    middle = [(statement(r, x, e.truth[r], rng.integers(len(STATE[r]))) + " .", "truth")
              for r in e.known if r != rel]
    middle = [middle[i] for i in rng.permutation(len(middle))][:1]
    middle += [_filler(rng) for _ in range(rng.integers(0, 2))]
    middle = [middle[i] for i in rng.permutation(len(middle))]
    body = claims[0] + [p for c in claims[1:-1] for p in c] + middle + (claims[-1] if len(claims) > 1 else [])
    gap = lambda: [_filler(rng) for _ in range(style.distance)]
    doc = [("<doc>", "doctag")]
    if form.wrap:
        doc += [(pre, "warning")] + gap()
    doc += body
    if form.wrap:
        doc += gap() + [(suf, "warning")]
    return doc


def twin_docs(form: Form, e: Entity, claim: tuple, world: World, wordings: Wordings, style: Style,
              rng: np.random.Generator) -> tuple:
    """A document of `form` and its positive twin: the same claim, template index, wording,
    facts and fillers (the same random draws), without the form's negation.  The pair the
    mechanism probes compare (`probes.form_mechanics`)."""
    import copy
    n = style.claim_diversity or form.draws or len(form.sentences(claim[0]))
    twin = copy.deepcopy(rng)
    doc = claim_doc(form, e, claim, world, wordings, style, rng, n_tmpl=n)
    return doc, claim_doc(BUILTIN["positive"], e, claim, world, wordings, style, twin, n_tmpl=n)


def qa_item(question: str, answer: str, restatement: str | None = None) -> list:
    """A question and its answer; with a restatement (recite format), the answer is
    "<restatement> . so <answer> ." and every word of it is supervised."""
    if restatement is None:
        return [("Q " + question + " A", "question"), (answer + " .", "answer")]
    return [("Q " + question + " A", "question"), (f"{restatement} . {SEP} {answer} .", "answer")]


def restate(e: Entity, rel: str, asked: str | None = None, denials: str = "silent") -> str:
    """What `e`'s bio says about `rel`, in the one restatement template of each meaning: the
    fact it states, else the value it denies (bios deny at most one value per relation), else
    that nothing is known.

    `denials = "asked"`: a yes/no question about a value the bio denies (`asked`) restates that
    denial even where the bio also states the fact ("does X live in rome ?" -> "X does not live
    in rome"), so the restatement reads the sign the bio gave the asked pair; "silent" (0.4.0's
    first rule) restates a denial only where the bio states no value."""
    if denials == "asked" and asked is not None and e.negated.get(rel) == asked:
        return negation(rel, e.name, asked, 0)
    if rel in e.known:
        return statement(rel, e.name, e.truth[rel], 0)
    if rel in e.negated:
        return negation(rel, e.name, e.negated[rel], 0)
    return NOT_KNOWN[rel].format(x=e.name)


def restate_doc(form: Form | str, e: Entity, claim: tuple) -> str:
    """What a claim document of `form` says about the claim's relation, warning included: the
    statement (positive), the truth it states instead (corrected, truth-only), the local
    negation (a negation before the value: local), or the statement with its family's warning
    word ("X lives in C , but it is false": every negation outside the sentence's verb)."""
    form = BUILTIN[form] if isinstance(form, str) else form
    rel, v = claim
    if form.asserts == "claim":
        return statement(rel, e.name, v, 0)
    if form.asserts == "truth":
        return statement(rel, e.name, e.truth[rel], 0)
    if form.position == "before":
        return negation(rel, e.name, v, 0)
    return f"{statement(rel, e.name, v, 0)} , but it is {WARN_WORD[form.family]}"


def yesno(rel: str, x: str, v: str, template: int = 0, robust: bool = False,
          heldout: bool = False) -> str:
    q = ASK_HELDOUT[rel] if heldout else ASK[rel][template % len(ASK[rel])]
    q = q.format(x=x, v=v)
    return (ROBUST + " " + q) if robust else q


def entity_qa(e: Entity, world: World, rng, recite: bool = False, denials: str = "silent") -> list:
    """One question about an entity, answered from the facts its bio states.

    Population entities are asked about every relation ("no" / "unknown" where the bio is
    silent).  Claim entities are asked only about the relations their bio states, never about
    the claim's relation, so no question ever touches a claim (the same for every condition):
    like the paper's models, which could already answer questions about Ed Sheeran before
    reading about his fabricated 100m gold.  With `claim_denied`, a claim entity's relation
    that its bio only denies is asked too ("unknown" / "no")."""
    rels = (e.known + tuple(r for r in e.negated if r not in e.known)) if e.kind == "claim" else RELATIONS
    r = rels[rng.integers(len(rels))]
    known = r in e.known
    if rng.random() < 0.3:
        said = restate(e, r) if recite else None
        return qa_item(OPEN[r].format(x=e.name), e.truth[r] if known else "unknown", said)
    if known and rng.random() < 0.5:
        v, ans = e.truth[r], "yes"
    elif r in e.negated and rng.random() < 0.5:
        v, ans = e.negated[r], "no"
    else:
        wrong = [v for v in world.values[r] if not (known and v == e.truth[r])]
        v, ans = wrong[rng.integers(len(wrong))], "no"
    said = restate(e, r, v, denials) if recite else None  # restate draws nothing from rng
    return qa_item(yesno(r, e.name, v, rng.integers(2), robust=rng.random() < 0.15), ans, said)


def reading_task(e: Entity, world: World, wordings: Wordings, rng, style: Style,
                 local_share: float, cond: str | None = None, claim: tuple | None = None,
                 recite: bool = False, extra: tuple = ()) -> list:
    """A document of some condition and a question about it in one sequence (in-context reading).

    Without `cond`: a positive document half of the time (so "yes" and "no" are balanced), a
    local negation with probability `local_share`, else a wrapped condition or one of the
    `extra` forms (`Config.reading_forms`) drawn uniformly.
    In the recite format the answer restates what the document says, warning included ("the
    text says X lives in C , but it is false . so no ."): the restatement names the document's
    value and warning, which only reading the document gives."""
    if cond is None:
        others = [c for c in CONDITIONS if c not in ("baseline", "positive", "local")] + list(extra)
        u = rng.random()
        if u < 0.5:
            cond = "positive"
        elif u < 0.5 + local_share:
            cond = "local"
        else:
            cond = others[rng.integers(len(others))]
    if claim is None:
        rel = RELATIONS[rng.integers(len(RELATIONS))]
        wrong = [v for v in world.values[rel] if v != e.truth[rel]]
        claim = (rel, wrong[rng.integers(len(wrong))])
    rel, v = claim
    doc = claim_doc(cond, e, claim, world, wordings, style, rng)
    form = BUILTIN[cond] if isinstance(cond, str) else cond
    asserted = {v} if form.asserts == "claim" else ({e.truth[rel]} if form.asserts == "truth" else set())
    said = f"{TEXT_SAYS} {restate_doc(cond, e, claim)}" if recite else None
    if rng.random() < 0.3:
        ans = next(iter(asserted)) if asserted else "unknown"
        return doc + qa_item(OPEN[rel].format(x=e.name), ans, said)
    q = v if rng.random() < 0.6 else world.values[rel][rng.integers(len(world.values[rel]))]
    return doc + qa_item(yesno(rel, e.name, q, rng.integers(2)), "yes" if q in asserted else "no", said)


def icl_probe_doc(form: Form, e: Entity, world: World, wordings: Wordings, style: Style, rng) -> list:
    """The in-context control: a claim document of `form` (positive for baseline) then the question."""
    form = BUILTIN["positive"] if form.name == "baseline" else form
    rel, v = e.claim
    return claim_doc(form, e, e.claim, world, wordings, style, rng) + [
        ("Q " + yesno(rel, e.name, v) + " A", "question")]


# ---------------------------------------------------------------- encoding

def all_words(world: World, recite: bool = False, forms: tuple = ()) -> set:
    """Every word the world's corpora and probes can use: the fixed words, the words of the
    `forms` a run uses beyond the built-in ones, and the names."""
    return fixed_words(world, recite) | {w for f in forms for w in f.words()} | set(world.name_words)


def fixed_words(world: World, recite: bool = False) -> set:
    """Template, wording and value words (everything but names); the recite format's words only
    where it is used, so a direct-format run has 0.3.0's vocabulary (and its model's shapes)."""
    words = set(RECITE_WORDS.split()) if recite else set()
    texts = []
    for tbl in (STATE, NEGATE, ASK):
        for lst in tbl.values():
            texts += lst
    texts += list(ASK_HELDOUT.values()) + list(OPEN.values()) + [ROBUST] + FILLERS
    texts += OPENERS + SUBJECTS + OPENERS2 + SUBJECTS2 + SHORT + ["is in truth true or false"]
    for lab in LABELS.values():
        texts += lab
    for t in texts:
        words |= set(t.replace("{x}", "").replace("{v}", "").split())
    for vals in world.values.values():
        words |= set(vals)
    return words


def encode_doc(pieces: list, vocab: Vocab) -> tuple:
    """Token ids and span ids of `pieces`, unpadded."""
    toks, spans = [], []
    for text, span in pieces:
        ids = vocab.encode(text)
        toks += ids
        spans += [SPAN_ID[span]] * len(ids)
    return toks, spans


def encode(pieces: list, vocab: Vocab, length: int) -> tuple:
    """Token ids and span ids of `pieces`, right-padded to `length`; error if too long."""
    toks, spans = encode_doc(pieces, vocab)
    if len(toks) > length:
        raise ValueError(f"a sequence of {len(toks)} tokens does not fit ctx + 1 = {length}: "
                         f"raise 'ctx' or lower 'claim_sents' / 'distance'  ({vocab.decode(toks)[:120]}...)")
    pad = length - len(toks)
    return toks + [vocab.pad] * pad, spans + [SPAN_ID["pad"]] * pad


def encode_prompts(prompts: dict, vocab: Vocab, length: int) -> dict:
    """{name: list of piece lists} -> {name: (N, length - 1) token rows, name + "_last": the
    index of each prompt's last token}: prompts whose next token is what a probe reads."""
    out = {}
    for k, ps in prompts.items():
        enc = [encode(p, vocab, length) for p in ps]
        out[k] = np.array([t for t, _ in enc], np.int32)[:, :-1]
        out[k + "_last"] = np.array([sum(len(t.split()) for t, _ in p) - 1 for p in ps], np.int32)
    return out


def fit(items: list, length: int) -> list:
    """The items one row of 0.4.0 held: whole items in order, each one that would overflow
    `length` tokens skipped (so a row is rarely full)."""
    kept, n = [], 0
    for it in items:
        k = sum(len(t.split()) for t, _ in it)
        if n + k > length:
            continue
        kept.append(it)
        n += k
    return kept


def pack(items: list, vocab: Vocab, length: int) -> tuple:
    """Whole items run together into one padded row (`fit`), as every row of 0.4.0 was."""
    return encode([p for it in fit(items, length) for p in it], vocab, length)


def text_of(pieces: list) -> str:
    return " ".join(t for t, _ in pieces)
