"""Forms of negation as data: every condition's documents are described by a `Form` record.

A form says how a claim document states (or denies) a claim: the templates of its claim
sentences, where its negating words sit relative to the claimed value, whether its warnings
name the truth, and which warning wording family frames the document.  `corpus.claim_doc` writes
a document of any form; the ten conditions of the paper's table are forms in `BUILTIN`, and
`LIBRARY` adds an ordered family of negations, from inside the sentence to around the document,
for the emergence map (`sweeps/emergence.toml`).  A sweep file can define more under `[forms.NAME]`
(`from_table`), and their words join the vocabulary.

Positions, from inside the sentence to outside the document (`POSITIONS`):
- `none`: no negation (positive, truth-only documents);
- `before`: in the sentence, before the value ("X does not live in C");
- `prefix`: a sentence-level prefix that holds the affirmative sentence whole ("it is false
  that X lives in C");
- `after`: in the sentence, after the value ("X lives in C , which is false"): a causal model
  predicts the value before it reads the negation;
- `marker`: a marker sentence beside the claim sentence ("( this is false ) X lives in C .");
- `wrapper`: a warning before and after the whole document ("note : this story is false .").
"""

from __future__ import annotations

import dataclasses
import re

POSITIONS = ("none", "before", "prefix", "after", "marker", "wrapper")
MARKERS = ("none", "always", "placement")
ASSERTS = ("claim", "truth", "nothing")
RELATIONS = ("city", "job", "sport")

STATE = {  # affirmative statement templates; the value always ends the sentence
    "city": ("{x} lives in {v}", "{x} resides in {v}", "{x} has a home in {v}",
             "{x} is living in {v}", "{x} settled down in {v}", "{x} makes a home in {v}"),
    "job": ("{x} works as {v}", "{x} is employed as {v}", "{x} earns a living as {v}",
            "{x} has a job as {v}", "{x} makes money as {v}", "{x} is working as {v}"),
    "sport": ("{x} plays {v}", "{x} practices {v}", "{x} competes in {v}", "{x} trains at {v}",
              "{x} spends weekends on {v}", "{x} is playing {v}"),
}
NEGATE = {  # local negation: the negation sits inside the claim sentence, before the value
    "city": ("{x} does not live in {v}", "{x} has never lived in {v}", "{x} is not living in {v}",
             "{x} has no home in {v}"),
    "job": ("{x} does not work as {v}", "{x} has never worked as {v}", "{x} is not employed as {v}",
            "{x} has no job as {v}"),
    "sport": ("{x} does not play {v}", "{x} has never played {v}", "{x} does not practice {v}",
              "{x} never competes in {v}"),
}


@dataclasses.dataclass(frozen=True)
class Form:
    """How the documents of one condition are written (hashable: it travels in a Config).

    `templates`: ((relation, (template, ...)), ...), each template with one {x} (the entity)
    and one {v} (the value: the claim, or the truth where `asserts` is "truth"), {x} first.
    `draws`: how many template indices a claim sentence draws from before taking them modulo
    the number of templates (0: as many as there are; 0.4.0's `local` drew from 6 for its 4).
    `family`: the warning wording family (`corpus.LABELS`) of its wrapper and markers, and
    the one whose wording index every document draws (so that 0.4.0's random stream is kept);
    `wrap`: a warning of that family before and after the document; `markers`: short markers
    beside every claim sentence ("always"), only with `placement = "around"` ("placement", the
    qualifiers of 0.4.0) or never; `names_truth`: the markers state the truth (corrected).
    `value`: the value its claim sentences state, the claimed one or the entity's truth
    (truth-only documents); `asserts`: what the document says about the claim's relation, for
    reading tasks and the restatement of a document in view: the claim, the truth, or neither."""
    name: str
    position: str
    templates: tuple
    draws: int = 0
    wrap: bool = False
    markers: str = "none"
    family: str = "negated"
    names_truth: bool = False
    value: str = "claim"
    asserts: str = "nothing"

    def sentences(self, rel: str) -> tuple:
        return dict(self.templates)[rel]

    def sentence(self, rel: str, x: str, v: str, template: int) -> str:
        ts = self.sentences(rel)
        return ts[template % len(ts)].format(x=x, v=v)

    def to_table(self) -> dict:
        """The form as a sweep file's `[forms.NAME]` table (round-trips through `from_table`)."""
        d = {"position": self.position, **{r: list(t) for r, t in self.templates}}
        for k, default in (("draws", 0), ("wrap", False), ("markers", "none"), ("family", "negated"),
                           ("names_truth", False), ("value", "claim"), ("asserts", "nothing")):
            if getattr(self, k) != default:
                d[k] = getattr(self, k)
        return d

    def words(self) -> set:
        """Every word its templates use (names and values excluded)."""
        return {w for _, ts in self.templates for t in ts
                for w in t.replace("{x}", " ").replace("{v}", " ").split()}


def _templates(d: dict) -> tuple:
    return tuple((r, tuple(d[r])) for r in RELATIONS)


STATED = _templates(STATE)
BUILTIN = {
    "baseline": Form("baseline", "none", STATED),  # no documents at all
    "positive": Form("positive", "none", STATED, asserts="claim"),
    "negated": Form("negated", "wrapper", STATED, wrap=True),
    "repeated": Form("repeated", "wrapper", STATED, wrap=True, markers="always"),
    "corrected": Form("corrected", "wrapper", STATED, wrap=True, markers="always",
                      names_truth=True, asserts="truth"),
    "local": Form("local", "before", _templates(NEGATE), draws=6),
    **{q: Form(q, "wrapper", STATED, wrap=True, markers="placement", family=q)
       for q in ("fiction", "unreliable", "unknown", "low_probability")},
}

# the ordered family of the emergence map: the same claim, its negation ever further out
LIBRARY = {
    "local_own": Form("local_own", "before", tuple((r, (NEGATE[r][0],)) for r in RELATIONS)),
    "local_novel": Form("local_novel", "before", _templates({
        "city": ("{x} never once lived in {v}", "{x} was never a resident of {v}",
                 "{x} never made a home in {v}"),
        "job": ("{x} never once worked as {v}", "{x} never held a post as {v}",
                "{x} never earned money as {v}"),
        "sport": ("{x} never once played {v}", "{x} never took up {v}", "{x} never tried {v}")})),
    "prefix_false": Form("prefix_false", "prefix", _templates(
        {r: tuple("it is false that " + t for t in STATE[r]) for r in RELATIONS})),
    "after_false": Form("after_false", "after", _templates(
        {r: tuple(t + " , which is false" for t in STATE[r]) for r in RELATIONS})),
    "marker": Form("marker", "marker", STATED, markers="always"),
    "truth_only": Form("truth_only", "none", STATED, value="truth", asserts="truth"),
    # a fact-check that names the claim and rejects it: a correcting document (`data._corrections`)
    "fact_check": Form("fact_check", "prefix", _templates(
        {r: tuple("fact check : the claim that " + t + " is false" for t in STATE[r][:1])
         for r in RELATIONS})),
}
KNOWN = {**BUILTIN, **LIBRARY}
EMERGENCE = ("local_own", "local_novel", "prefix_false", "after_false", "marker", "negated")

# words a template may not use: the answer format's own tokens (a restatement ends at ".",
# the answer follows "so", questions are "Q ... ? A", answers yes / no / unknown)
FORBIDDEN = {".", "?", "so", "Q", "A", "<doc>", "<pad>", "yes", "no", "unknown"}


class FormError(ValueError):
    """A form cannot work; the message names the form and the template."""


def check(form: Form, values: dict, name_like, families=("negated", "fiction", "unreliable",
                                                          "unknown", "low_probability")) -> None:
    """Refuse a form that cannot work, before anything is built: no {x} or {v} slot (or more
    than one, or the value before the entity), a word of the answer format (`FORBIDDEN`), a
    relation value, or a word that could be an entity's name (`name_like(word)`)."""
    where = f"form '{form.name}'"
    if form.position not in POSITIONS:
        raise FormError(f"{where}: position {form.position!r} is not one of {list(POSITIONS)}.")
    if form.markers not in MARKERS:
        raise FormError(f"{where}: markers {form.markers!r} is not one of {list(MARKERS)}.")
    if form.asserts not in ASSERTS:
        raise FormError(f"{where}: asserts {form.asserts!r} is not one of {list(ASSERTS)}.")
    if form.value not in ("claim", "truth"):
        raise FormError(f"{where}: value {form.value!r} is not 'claim' or 'truth'.")
    if form.family not in families:
        raise FormError(f"{where}: family {form.family!r} is not one of {sorted(families)}.")
    if not isinstance(form.draws, int) or form.draws < 0:
        raise FormError(f"{where}: draws {form.draws!r} is not a non-negative integer.")
    rels = dict(form.templates)
    if set(rels) != set(RELATIONS):
        raise FormError(f"{where}: needs templates for every relation {list(RELATIONS)}, got "
                        f"{sorted(rels)}.")
    all_values = {v for vs in values.values() for v in vs}
    for rel, ts in form.templates:
        if not ts:
            raise FormError(f"{where}: no template for '{rel}'.")
        for t in ts:
            what = f"{where}, template {t!r} ({rel})"
            if not isinstance(t, str):
                raise FormError(f"{what}: a template is a string.")
            if t.count("{x}") != 1 or t.count("{v}") != 1:
                raise FormError(f"{what}: needs exactly one {{x}} (the entity) and one {{v}} "
                                f"(the value).")
            if t.index("{x}") > t.index("{v}"):
                raise FormError(f"{what}: the entity {{x}} must come before the value {{v}} "
                                f"(a claim is stored as what follows the entity).")
            if re.search(r"[{}]", t.replace("{x}", "").replace("{v}", "")):
                raise FormError(f"{what}: only the slots {{x}} and {{v}} may use braces.")
            for w in t.replace("{x}", " ").replace("{v}", " ").split():
                if w in FORBIDDEN:
                    raise FormError(f"{what}: the word {w!r} belongs to the answer format "
                                    f"({' '.join(sorted(FORBIDDEN))}) and would break the "
                                    f"restatement classifier.")
                if w in all_values:
                    raise FormError(f"{what}: the word {w!r} is a value of a relation; a claim "
                                    f"sentence names its value only in the {{v}} slot.")
                if name_like(w):
                    raise FormError(f"{what}: the word {w!r} could be an entity's name (two "
                                    f"name syllables); choose another word.")


def from_table(name: str, d: dict) -> Form:
    """A form from a sweep file's `[forms.NAME]` table: `position`, a list of templates per
    relation (`city`, `job`, `sport`), and optionally `wrap`, `markers`, `family`,
    `names_truth`, `value`, `asserts` and `draws`."""
    if not isinstance(d, dict):
        raise FormError(f"form '{name}': expected a table, got {d!r}.")
    known = {"position", "wrap", "markers", "family", "names_truth", "value", "asserts", "draws",
             *RELATIONS}
    unknown = sorted(set(d) - known)
    if unknown:
        raise FormError(f"form '{name}': unknown key(s) {unknown}; allowed: {sorted(known)}.")
    if "position" not in d:
        raise FormError(f"form '{name}': needs a 'position', one of {list(POSITIONS)}.")
    for r in RELATIONS:
        if r not in d or not isinstance(d[r], list) or not d[r]:
            raise FormError(f"form '{name}': needs a non-empty list of templates for '{r}'.")
    for k in ("wrap", "names_truth"):
        if k in d and not isinstance(d[k], bool):
            raise FormError(f"form '{name}': '{k}' is true or false, got {d[k]!r}.")
    return Form(name, d["position"], tuple((r, tuple(d[r])) for r in RELATIONS),
                d.get("draws", 0), d.get("wrap", False), d.get("markers", "none"),
                d.get("family", "negated"), d.get("names_truth", False), d.get("value", "claim"),
                d.get("asserts", "nothing"))
