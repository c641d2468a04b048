"""One flat, validated configuration for a toyneg run.

Every field is either *static* (it changes array shapes or the compiled program: world size,
model size, step counts, which conditions a run hosts) or *swept* (a number that enters the
compiled training function as a traced argument: seed, learning rates, replay ratio, and the
corpus knobs that change token content but not shapes).  Runs whose static fields agree share
one compiled program (see `Config.static_key`).

Validation is strict: an unknown field or a value outside its allowed set raises
`ConfigError` naming the field and what is allowed, so a typo in a sweep file never silently
falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

CONDITIONS = (
    "baseline", "positive", "negated", "repeated", "corrected", "local",
    "fiction", "unreliable", "unknown", "low_probability",
)
QUALIFIERS = ("fiction", "unreliable", "unknown", "low_probability")
WRAPPED = ("negated", "repeated", "corrected") + QUALIFIERS
SPANS = ("pad", "doctag", "warning", "claim", "truth", "filler", "question", "answer")
PLACEMENTS = ("wrap", "around")
POSITIONS = ("learned", "rope")
ANSWER_FORMATS = ("direct", "recite")
DENIAL_RULES = ("asked", "silent")
PENALTIES = ("none", "unlikelihood")
# kinds of correcting document (`Config.corrections`) and the form each one is written in
CORRECTION_FORMS = {"truth": "truth_only", "local": "local", "check": "fact_check"}


# a packed step draws this share of `batch` rows (see `Config.rows_per_step`): measured on the
# default corpus, a packed row holds 0.97 real tokens and an unpacked fine-tuning row 0.66
# (`python -m toyneg.bench`, "useful tokens"), so 22 packed rows carry what 32 unpacked did
PACK_ROWS = 0.71875


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names the field and the allowed values."""


@dataclasses.dataclass(frozen=True)
class Config:
    # --- world (static) ---
    world_seed: int = -1          # -1: the world is drawn from `seed` (each seed a fresh world)
    n_entities: int = 300         # population entities with bios (questioned, but for the monitor's
                                  # share); 96 before 0.4.0's population_cpu sweep
    n_claims: int = 6             # claim entities per hosted condition (the paper used 6 claims)
    n_readers: int = 96           # entities used only in in-context reading tasks
    n_values: int = 12            # values per relation (cities, jobs, sports)
    name_tokens: int = 1          # tokens per entity name (1 or 2)
    p_known: float = 0.7          # share of (entity, relation) facts that bios state
    deny_frac: float = 0.6        # chance that a relation a bio does not state is denied ("X does
                                  # not live in D"): 0.18 of facts denied-only at p_known 0.7
    bio_forms: tuple = ("local",) # the forms (`forms`) bios state their denials in: local (0.4.0:
                                  # "X does not live in D"), any sentence form, a document form
                                  # (`negated`: the denial is its own document), or none at all;
                                  # questions restate a denial alike whatever its form
    deny_stated: bool = False     # true: bios also deny a value of relations they state ("X lives in
                                  # oslo . X does not live in rome ."), the world before 0.4.0's last
                                  # change; false (default): a bio denies only where it states nothing
    claim_denied: bool = False    # claim entities: one other relation stated only as a local
                                  # negation, and questioned ("unknown" / "no"), for every condition
    monitor_frac: float = 0.1     # share of population entities whose bios are trained but who are
                                  # never questioned: the held-out generalisation monitor
    # --- corpus ---
    conditions: tuple = CONDITIONS  # conditions hosted by one run, on disjoint claim entities: the
                                  # built-in ones, `forms.LIBRARY`'s, or forms defined in `forms`
    forms: tuple = ()             # forms of negation defined by a sweep file (`forms.Form`; in TOML
                                  # a [forms.NAME] table), usable in `conditions` and `bio_forms`
    diversity: int = 64           # distinct warning / qualifier wordings in claim documents
    claim_diversity: int = 0      # distinct claim-sentence templates (0: all of them)
    placement: str = "wrap"       # qualifier markers: "wrap" (prefix+suffix) or "around" (also per claim sentence)
    distance: int = 0             # filler sentences between a warning and the claim it covers
    claim_sents: int = 2          # claim sentences per claim document
    docs_per_claim: int = 24      # distinct training documents per claim entity
    bios_per_entity: int = 8      # distinct bio documents per entity (paraphrase augmentation)
    train_spans: tuple = ("warning", "claim", "truth", "filler", "question", "answer")
    qa_frac: float = 0.25         # base mix: share of question/answer sequences (0.35 before 0.3.0)
    icl_frac: float = 0.5         # base mix: share of in-context reading tasks (0.25 before 0.3.0)
    ooc_frac: float = 0.0         # base mix: out-of-context supervision of wrapped documents (a cure dial)
    ooc_entities: int = 0         # reader entities the cure dial supervises (0: every reader)
    answer_format: str = "recite" # "recite": every answer restates what was read, then ". so <answer>";
                                  # "direct": the answer token straight after "A" (0.3.0)
    restate_denials: str = "silent" # recite: "asked": a yes/no question about a value the bio denies
                                  # restates that denial; "silent": only where the bio states no value
    reading_local: float = 0.0625 # share of reading tasks that read a local negation (half are positive)
    reading_forms: tuple = ()     # more forms reading tasks draw from, beside the built-in wrapped ones
                                  # (so the in-context control reads every hosted form: the emergence map)
    mech_probes: bool = False     # at every checkpoint, per claim: the cosine of its document's
                                  # gradient with its positive twin's, and the loss of the claimed
                                  # value with the form's negation in view (`probes.form_mechanics`)
    corrections: tuple = ()       # kinds of correcting document ("truth", "local", "check"): at every
                                  # checkpoint each claim (and a control of population facts) is
                                  # asked with one in the prompt (`data._corrections`); (): none
    # --- model (static) ---
    width: int = 64
    depth: int = 2
    heads: int = 4
    ctx: int = 104                # 0.3.0: 96; recite answers need room after the longest reading task
    tied: bool = False
    positions: str = "learned"    # "learned" absolute embeddings or "rope" (rotary, relative offsets)
    # --- training ---
    batch: int = 32               # rows per step of 0.4.0's unpacked rows; packed, a step draws
                                  # `rows_per_step` full rows holding about as many real tokens
    pack: bool = True             # pack every pool's documents into full rows, attention blocked
                                  # at document boundaries (0.5.0); false: 0.4.0's rows (`toyneg.pack`)
    pack_isolate: bool = True     # packed rows: each document its own attention block, positions
                                  # restarting, no first token predicted; false (a diagnostic): the
                                  # row read as one sequence, as 0.4.0 read its rows of several
    pretrain_steps: int = 0       # base mix only (shared, cached); 0: claim documents mix in from the start
    finetune_steps: int = 3000    # steps with claim documents in the mix
    phase2_steps: int = 0         # more fine-tuning without helper data (two-phase stability)
    phase2_replay: float = -1.0   # phase 2's replay share (-1: phase 1's, so the helper's share goes
                                  # to claim documents, as in 0.4.0)
    phase2_helper: bool = False   # keep the helper data through phase 2 (a control arm)
    repair: str = ""              # a form (e.g. "truth_only"): in phase 2 every claim entity's documents
                                  # are this form's instead of its condition's (the repair arm)
    checkpoints: int = 10         # log-spaced evaluation points in fine-tuning (plus step 0)
    lr: float = 5e-3              # pretraining peak learning rate (swept, traced)
    ft_lr: float = 5e-3           # fine-tuning peak learning rate (swept, traced)
    weight_decay: float = 0.01
    replay: float = 0.8           # fine-tuning: share of each batch from the base mix (0 = strict two-phase)
    helper_frac: float = 0.0      # fine-tuning: share of helper data ("no" to wrapped claims; two-phase stability)
    penalty: str = "none"         # "unlikelihood": add -log(1 - p(value)) on the claimed value wherever
                                  # a warned claim document states it (Welleck et al. 2019)
    penalty_weight: float = 0.0   # its weight (swept, traced); 0: exactly the ordinary loss
    seed: int = 0

    # fields that enter the compiled function as traced numbers (others are static)
    SWEPT = ("lr", "ft_lr", "replay", "helper_frac", "penalty_weight", "seed")

    def __post_init__(self):
        for k in ("conditions", "train_spans", "bio_forms", "corrections", "reading_forms"):  # lists
            v = getattr(self, k)
            if isinstance(v, str):
                v = (v,)
            if isinstance(v, list):
                object.__setattr__(self, k, tuple(v))
        object.__setattr__(self, "forms", _forms(self.forms))
        validate(self)

    def form(self, name: str):
        """The `forms.Form` of a condition or bio form: defined in `forms`, else built in."""
        from .forms import KNOWN
        for f in self.forms:
            if f.name == name:
                return f
        return KNOWN[name]

    def used_forms(self) -> tuple:
        """The forms this run writes: its conditions' and its bios' (baseline has none)."""
        names = [c for c in self.conditions if c != "baseline"] + list(self.bio_forms) + list(self.reading_forms)
        names += [CORRECTION_FORMS[k] for k in self.corrections]  # correcting documents
        if self.repair:
            names.append(self.repair)
        return tuple(self.form(n) for n in dict.fromkeys(names))

    # -- derived --
    @property
    def rows_per_step(self) -> int:
        """Rows a training step draws: `batch` unpacked; packed, PACK_ROWS of it (a packed row
        holds about 1 / PACK_ROWS the real tokens of an unpacked one in the default mix)."""
        return self.batch if not self.pack else max(1, round(self.batch * PACK_ROWS))

    @property
    def world_key(self) -> int:
        return self.seed if self.world_seed < 0 else self.world_seed

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["conditions"] = list(self.conditions)
        d["train_spans"] = list(self.train_spans)
        d["bio_forms"] = list(self.bio_forms)
        d["corrections"] = list(self.corrections)
        d["reading_forms"] = list(self.reading_forms)
        d["forms"] = {f.name: f.to_table() for f in self.forms}
        return d

    def replace(self, **kw) -> "Config":
        return from_dict({**self.to_dict(), **kw})

    def hashed(self) -> dict:
        """The configuration as hashed: fields added after runs were stored are left out while
        they hold the value that reproduces the older behaviour (`LEGACY`), so stored runs and
        cached pretrained weights stay valid."""
        d = {k: v for k, v in self.to_dict().items() if LEGACY.get(k, object()) != v}
        if self.answer_format == "direct":  # direct answers restate nothing: the rule is moot
            d.pop("restate_denials", None)
        return d

    def run_hash(self, version: str) -> str:
        """Stable hash of the full configuration and the toyneg version (the storage key)."""
        blob = json.dumps({"v": version, **self.hashed()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def static_key(self) -> str:
        """Runs with equal static keys share one compiled program."""
        d = {k: v for k, v in self.to_dict().items() if k not in self.SWEPT}
        # corpus content (not shape) knobs also travel as data, so they don't split groups;
        # `train_spans` stays static: the loss mask is a constant of the compiled program
        for k in ("diversity", "claim_diversity", "placement", "distance", "world_seed", "p_known",
                  "reading_local", "claim_denied", "restate_denials", "deny_stated", "deny_frac"):
            d.pop(k)
        d["conditions"] = len(self.conditions)  # which conditions: data; how many: shapes
        # which forms (hosted, in bios, defined): data, but for the words they bring (the
        # vocabulary's size) and whether bios need room for denial documents (the layout)
        from .forms import BUILTIN
        for k in ("bio_forms", "forms"):
            d.pop(k)
        d["form_words"] = sorted({w for f in self.used_forms() if f.name not in BUILTIN
                                  or f != BUILTIN[f.name] for w in f.words()})
        d["bio_room"] = any(self.form(f).wrap for f in self.bio_forms)
        return json.dumps(d, sort_keys=True)

    def pretrain_key(self) -> str:
        """Pretrained weights depend only on world, base corpus, model and pretraining fields."""
        keep = ("world_seed", "n_entities", "n_claims", "n_readers", "n_values", "name_tokens",
                "p_known", "claim_denied", "conditions", "bios_per_entity", "train_spans", "qa_frac", "icl_frac",
                "ooc_frac", "reading_local", "width", "depth", "heads", "ctx", "tied", "positions", "batch",
                "pretrain_steps", "lr", "weight_decay", "seed", "docs_per_claim", "claim_sents",
                "monitor_frac", "ooc_entities", "answer_format", "restate_denials",
                "deny_stated", "pack", "deny_frac", "bio_forms", "forms", "pack_isolate")  # base pools only
        d = {k: v for k, v in self.hashed().items() if k in keep}
        d["world_seed"] = self.world_key
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


FIELDS = {f.name: f for f in dataclasses.fields(Config)}
# fields added after runs were stored, at the value that computes exactly what came before:
# positions (0.3.0; "learned" is 0.2.0's model), claim_denied (0.3.0; off is the original world),
# answer_format, monitor_frac and ooc_entities (0.4.0; direct answers, no monitor, every reader),
# restate_denials (0.4.0's second rule; "silent" is the rule every earlier 0.4.0 result used),
# deny_stated (0.4.0; true is the world every earlier result used)
LEGACY = {"positions": "learned", "claim_denied": False, "answer_format": "direct",
          "monitor_frac": 0.0, "ooc_entities": 0, "restate_denials": "silent", "deny_stated": True,
          "pack": False, "deny_frac": 0.6, "bio_forms": ["local"], "forms": {}, "mech_probes": False,
          "phase2_replay": -1.0, "phase2_helper": False, "penalty": "none", "penalty_weight": 0.0,
          "corrections": [], "repair": "", "reading_forms": [], "pack_isolate": True}


def _library() -> tuple:
    from .forms import LIBRARY
    return tuple(LIBRARY)


def _warned(c: "Config", name: str) -> bool:
    """Whether a condition's documents carry a negation outside the claim sentence's verb (a
    prefix, a clause after the value, a marker or a wrapper): what helper data asks about."""
    if name == "baseline":
        return False
    return c.form(name).position in ("prefix", "after", "marker", "wrapper")


def _forms(v) -> tuple:
    """`forms` as a tuple of `forms.Form`: from a TOML/JSON table {name: {...}} or as given."""
    from .forms import Form, FormError, from_table
    if isinstance(v, dict):
        try:
            return tuple(from_table(k, d) for k, d in v.items())
        except FormError as e:
            raise ConfigError(str(e)) from None
    if isinstance(v, (tuple, list)) and all(isinstance(f, Form) for f in v):
        return tuple(v)
    raise ConfigError(f"field 'forms' = {v!r} is not allowed: expected a table of forms, "
                      "{name: {position, city, job, sport, ...}}.")


def _allowed(name: str) -> str:
    return {
        "conditions": "a non-empty list of distinct names: 'baseline', a built-in condition "
                      f"{list(CONDITIONS[1:])}, a library form {list(_library())} or a form the "
                      "sweep file defines under [forms.NAME]",
        "bio_forms": "a list of distinct form names (built-in, library or defined; empty: bios "
                     "state no denials)",
        "train_spans": f"a non-empty list of distinct span names from {list(SPANS[2:])}",
        "placement": f"one of {list(PLACEMENTS)}",
        "positions": f"one of {list(POSITIONS)}",
        "answer_format": f"one of {list(ANSWER_FORMATS)}",
        "restate_denials": f"one of {list(DENIAL_RULES)}",
        "name_tokens": "1 or 2",
    }.get(name, "")


def _fail(name: str, value: Any, allowed: str):
    raise ConfigError(f"field '{name}' = {value!r} is not allowed: expected {allowed}.")


def validate(c: Config) -> None:
    """Raise ConfigError on the first bad field."""
    ints_pos = ("n_entities", "n_claims", "n_readers", "n_values", "diversity", "claim_sents",
                "docs_per_claim", "bios_per_entity", "width", "depth", "heads", "ctx", "batch",
                "checkpoints")
    for name in ints_pos:
        v = getattr(c, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            _fail(name, v, "a positive integer")
    for name in ("pretrain_steps", "finetune_steps", "phase2_steps", "distance", "claim_diversity", "seed",
                 "ooc_entities"):
        v = getattr(c, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            _fail(name, v, "a non-negative integer")
    if not isinstance(c.world_seed, int) or c.world_seed < -1:
        _fail("world_seed", c.world_seed, "-1 (follow seed) or a non-negative integer")
    for name, lo, hi in (("p_known", 0.0, 1.0), ("deny_frac", 0.0, 1.0), ("qa_frac", 0.0, 1.0), ("icl_frac", 0.0, 1.0),
                         ("ooc_frac", 0.0, 1.0), ("reading_local", 0.0, 0.5), ("replay", 0.0, 1.0),
                         ("helper_frac", 0.0, 1.0), ("monitor_frac", 0.0, 0.5)):
        v = getattr(c, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi:
            _fail(name, v, f"a number in [{lo}, {hi}]")
    if c.penalty not in PENALTIES:
        _fail("penalty", c.penalty, f"one of {list(PENALTIES)}")
    for name in ("lr", "ft_lr", "weight_decay", "penalty_weight"):
        v = getattr(c, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < math.inf:
            _fail(name, v, "a finite non-negative number")
    if c.repair:
        from .forms import KNOWN
        if not isinstance(c.repair, str) or (c.repair not in KNOWN and c.repair not in {f.name for f in c.forms}):
            _fail("repair", c.repair, "\"\" or the name of a form (built-in, library or defined)")
        if c.repair == "baseline" or c.form(c.repair).asserts == "claim":
            _fail("repair", c.repair, "a form that does not assert the claim (truth_only, local, ...)")
        if c.phase2_steps == 0:
            _fail("repair", c.repair, "\"\" unless phase2_steps > 0: the repair is phase 2's documents")
    ck = c.corrections
    if (not isinstance(ck, tuple) or len(set(ck)) != len(ck)
            or any(k not in CORRECTION_FORMS for k in ck)):
        _fail("corrections", ck, f"a list of distinct kinds from {list(CORRECTION_FORMS)}")
    if ck and c.answer_format != "recite":
        _fail("corrections", ck, "[] with direct answers (the probe reads the answer after the "
                                 "restatement)")
    if c.penalty_weight > 0 and c.penalty == "none":
        _fail("penalty_weight", c.penalty_weight, "0 unless a penalty is chosen (penalty = "
                                                  "\"unlikelihood\")")
    if c.penalty != "none" and not any(_warned(c, x) for x in c.conditions):
        _fail("penalty", c.penalty, "\"none\" unless a warned condition is hosted (the penalty "
                                    "applies to the claimed value in warned documents)")
    if c.qa_frac + c.icl_frac + c.ooc_frac >= 1.0:
        _fail("qa_frac", c.qa_frac, "qa_frac + icl_frac + ooc_frac < 1 (bios need a share)")
    if c.replay + c.helper_frac >= 1.0 and c.finetune_steps > 0:
        _fail("replay", c.replay, "replay + helper_frac < 1 (claim documents need a share)")
    if not isinstance(c.phase2_replay, (int, float)) or isinstance(c.phase2_replay, bool) or not (
            c.phase2_replay == -1 or 0 <= c.phase2_replay < 1):
        _fail("phase2_replay", c.phase2_replay, "-1 (as in phase 1) or a number in [0, 1)")
    if c.phase2_replay >= 0 and c.phase2_replay + (c.helper_frac if c.phase2_helper else 0) >= 1:
        _fail("phase2_replay", c.phase2_replay, "phase2_replay (+ helper_frac with phase2_helper) "
                                                "< 1: claim documents need a share in phase 2")
    if (c.phase2_replay >= 0 or c.phase2_helper) and c.phase2_steps == 0:
        _fail("phase2_steps", c.phase2_steps, "a positive number of steps when phase2_replay or "
                                              "phase2_helper is set (they shape phase 2)")
    if c.helper_frac > 0 and not any(_warned(c, x) for x in c.conditions):
        _fail("helper_frac", c.helper_frac,
              f"0 unless a warned condition is hosted (helper data asks about {list(WRAPPED)} and "
              "every form whose negation sits outside the sentence's verb)")
    if c.name_tokens not in (1, 2):
        _fail("name_tokens", c.name_tokens, _allowed("name_tokens"))
    if c.positions not in POSITIONS:
        _fail("positions", c.positions, _allowed("positions"))
    if c.positions == "rope" and (c.width // c.heads) % 2:
        _fail("heads", c.heads, f"a divisor of width ({c.width}) leaving an even head size (rotary positions)")
    if c.answer_format not in ANSWER_FORMATS:
        _fail("answer_format", c.answer_format, _allowed("answer_format"))
    if c.restate_denials not in DENIAL_RULES:
        _fail("restate_denials", c.restate_denials, _allowed("restate_denials"))
    if c.ooc_entities > c.n_readers:
        _fail("ooc_entities", c.ooc_entities, f"0 (every reader) or at most n_readers ({c.n_readers})")
    if c.placement not in PLACEMENTS:
        _fail("placement", c.placement, _allowed("placement"))
    conds = c.conditions
    from .forms import KNOWN
    defined = {f.name for f in c.forms}
    clash = sorted(defined & set(KNOWN))
    if clash:
        _fail("forms", clash, "names of new forms, not those of built-in or library forms "
                              f"{sorted(KNOWN)}")
    if (not isinstance(conds, tuple) or not conds or len(set(conds)) != len(conds)
            or any(not isinstance(x, str) or (x not in KNOWN and x not in defined) for x in conds)):
        _fail("conditions", conds, _allowed("conditions"))
    bf = c.bio_forms
    if (not isinstance(bf, tuple) or len(set(bf)) != len(bf) or "baseline" in bf
            or any(not isinstance(x, str) or (x not in KNOWN and x not in defined) for x in bf)):
        _fail("bio_forms", bf, _allowed("bio_forms"))
    if any(c.form(x).value == "truth" or c.form(x).position == "none" for x in bf):
        _fail("bio_forms", bf, "forms that deny (a denial in a form that asserts, such as "
                               "positive or truth_only, would state the denied value as a fact)")
    rf = c.reading_forms
    if (not isinstance(rf, tuple) or len(set(rf)) != len(rf) or "baseline" in rf
            or any(not isinstance(x, str) or (x not in KNOWN and x not in defined) for x in rf)):
        _fail("reading_forms", rf, "a list of distinct form names (built-in, library or defined)")
    if c.claim_denied and not bf:
        _fail("claim_denied", c.claim_denied, "false when bios state no denials (bio_forms = [])")
    if any(c.form(x).wrap for x in bf) and not c.pack:
        _fail("bio_forms", bf, "sentence forms only with pack = false (0.4.0's bio rows have no "
                               "room for the denial documents of a wrapper form)")
    spans = c.train_spans
    if (not isinstance(spans, tuple) or not spans or len(set(spans)) != len(spans)
            or any(x not in SPANS[2:] for x in spans)):
        _fail("train_spans", spans, _allowed("train_spans"))
    from .forms import FormError, check
    from .vocab import SYLLABLES, VALUES
    pairs = {a + b for a in SYLLABLES for b in SYLLABLES}
    for f in c.forms:
        try:
            check(f, VALUES, pairs.__contains__)
        except FormError as e:
            raise ConfigError(f"field 'forms': {e}") from None
    if c.width % c.heads:
        _fail("heads", c.heads, f"a divisor of width ({c.width})")
    for name in ("tied", "claim_denied", "deny_stated", "pack", "mech_probes", "phase2_helper", "pack_isolate",
                 ):
        if not isinstance(getattr(c, name), bool):
            _fail(name, getattr(c, name), "true or false")
    if not 2 <= c.n_values <= 20:
        _fail("n_values", c.n_values, "an integer from 2 to 20")
    if c.diversity > 256:
        _fail("diversity", c.diversity, "an integer from 1 to 256")


def from_dict(d: dict) -> Config:
    """Build a Config from plain data (TOML/JSON), rejecting unknown fields."""
    unknown = sorted(set(d) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown}: allowed fields are {sorted(FIELDS)}.")
    d = dict(d)
    for k in ("conditions", "train_spans", "bio_forms", "corrections", "reading_forms"):
        if k in d:
            v = d[k]
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, (list, tuple)):
                _fail(k, v, _allowed(k))
            d[k] = tuple(v)
    for k, v in d.items():  # TOML floats like 1.0 for int fields are a common slip: be explicit
        if FIELDS[k].type == "int" and isinstance(v, float):
            if v != int(v):
                _fail(k, v, "an integer")
            d[k] = int(v)
    return Config(**d)
