"""Belief probes: the toy versions of the paper's question types, computed from logits.

Every function here is pure jnp on logits so that it runs inside the jitted training function
at each checkpoint (no host round trip) and can be tested on hand-made logits.

Per claim entity, `evaluate` returns the vector `METRICS`:
- p_yes / yes:       yes/no questions "does X live in C ?" and "true or false : X lives in C ?":
                     P(yes) / (P(yes)+P(no)), averaged over the two; belief = p_yes > 0.5
- open_p / open:     "where does X live ?": probability of C among the relation's values and
                     "unknown"; belief = C is the argmax
- assoc_top1 / assoc_rank / assoc_logp: token association after "X lives in": C is the top value,
                     its rank among the relation's values (1 = first), its log-probability
- robust_p / robust: the yes/no question behind a warning that some training documents were false
- heldout_q_p / heldout_q: a question wording never used in training
- icl_p / icl:       in-context control: a claim document of the condition, then the question
- icl_heldout_p / icl_heldout: the same with held-out warning wordings
- claim_loss / warn_loss: mean loss on claim and warning tokens of held-out documents
- icl_other_p / icl_other: the in-context control's document, asked about another value of the
                     relation (neither the claim nor the truth): the answer is "no" whatever the
                     condition, so a model that reads the document says no and a model that
                     answers from the document's form alone says what it says to `icl`
- direct_p_yes / direct_yes / direct_open_p / direct_open: the answer with no restatement. In
                     the direct format these are the columns above; in the recite format the
                     prompt ends "A so", so the model answers straight away (a format it was
                     never trained on: the answer read without the restatement)
- says_claim, denies_claim, says_warned, says_other, says_unknown, malformed (recite format):
                     what the greedy-decoded restatement says, as the share of the five question
                     prompts (two yes/no wordings, robustness, held-out wording, open) whose
                     restatement affirms the claimed value, denies it, affirms it with a warning
                     word, states another value, says nothing is known, or is none of these;
                     says_text: share that begin "the text says" (the reading-task form)
- pref_aff:          statement preference: P("X lives in C .") / (P("X lives in C .") +
                     P("X does not live in C .")) as whole sentences after "<doc>"

In the recite format every answer is read after the model's own greedy restatement ("A X does
not live in rome . so" -> answer): `greedy` decodes it inside the jitted evaluation, the
separator "so" is forced after the first ".", and the answer distribution is the one at the
slot after "so" (P(yes) = 0.5 and no open answer where no slot was reached: counted malformed).
Decoding runs the prompt window once and then one token at a time against cached keys and
values (`model.make_decoder`).

`monitor` returns the held-out monitor's rates per fact group (`data.MONITOR_GROUPS`): yes_ok
(the yes/no answer is right: yes for a stated fact, no otherwise), open_ok (the open answer is
the stated value, or "unknown"), says_ok (the restatement is the bio's: the fact, its denial,
nothing known), malformed, name_ok (the restatement begins with the entity's own name: the
copy every restatement starts with, never practised on these names) and named_yes_ok /
named_open_ok / named_says_ok (the same questions with the name already written after "A", so
the model recites the fact alone; `data._named_monitor`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .config import SPANS

METRICS = ("p_yes", "yes", "open_p", "open", "assoc_top1", "assoc_rank", "assoc_logp",
           "robust_p", "robust", "heldout_q_p", "heldout_q", "icl_p", "icl", "icl_heldout_p",
           "icl_heldout", "claim_loss", "warn_loss", "icl_other_p", "icl_other")
# metrics that are belief rates (fractions of claims believed) and their continuous partners
RATES = ("yes", "open", "assoc_top1", "robust", "heldout_q", "icl", "icl_heldout", "icl_other")
SAYS = ("says_claim", "denies_claim", "says_warned", "says_other", "says_unknown", "malformed")
METRICS += ("direct_p_yes", "direct_yes", "direct_open_p", "direct_open") + SAYS + ("says_text", "pref_aff")
# the mechanism probes (`form_mechanics`, with `mech_probes`): NaN otherwise
MECH = ("grad_cos", "value_loss", "value_loss_pos")
METRICS += MECH
# correction in context (`Config.corrections`; NaN for kinds not probed): P(yes) for the claim with a
# correcting document of each kind in the prompt, and the share of restatements that affirm the
# claim anyway ("the text says X lives in C": the implant, not the document in view)
KINDS = ("truth", "local", "check")  # = data.CORRECTIONS
CORR = tuple(f"corr_{k}_p" for k in KINDS) + tuple(f"corr_{k}_says" for k in KINDS)
METRICS += CORR
CONTROL_METRICS = ("p_yes", "says")  # the control's, per kind: its bio's value named anyway
RATES += ("direct_yes", "direct_open") + SAYS + ("says_text",)
MONITOR_METRICS = ("yes_ok", "open_ok", "says_ok", "malformed", "name_ok", "named_yes_ok",
                   "named_open_ok", "named_says_ok")


class Ids(NamedTuple):
    """Token ids the probes read."""
    yes: int
    no: int
    unknown: int
    dot: int
    so: int

    @classmethod
    def of(cls, vocab) -> "Ids":
        w = vocab.ids
        return cls(w["yes"], w["no"], w["unknown"], w["."], w.get("so", -1))


def last_logits(logits_BTV, last_B):
    """Logits at each row's last prompt position: (B, V)."""
    return jnp.take_along_axis(logits_BTV, last_B[:, None, None], axis=1)[:, 0]


def yes_prob(logits_BV, yes_id: int, no_id: int):
    """P(yes) renormalised over {yes, no}: sigmoid(logit_yes - logit_no)."""
    return jax.nn.sigmoid(logits_BV[:, yes_id] - logits_BV[:, no_id])


def candidate_stats(logits_BV, cands_BK, claim_B):
    """Probability of the claimed value among the candidates, and whether it is the argmax."""
    sub_BK = jnp.take_along_axis(logits_BV, cands_BK, axis=1)
    p_BK = jax.nn.softmax(sub_BK, axis=-1)
    is_claim_BK = cands_BK == claim_B[:, None]
    p_B = (p_BK * is_claim_BK).sum(-1)
    hit_B = (jnp.argmax(sub_BK, -1)[:, None] == jnp.arange(cands_BK.shape[1])[None]) & is_claim_BK
    return p_B, hit_B.any(-1).astype(jnp.float32)


def association(logits_BV, cands_BK, claim_B):
    """Rank (1 = best) of the claimed value among the relation's values, and its log-prob."""
    values_BK = cands_BK[:, :-1]  # the last candidate is "unknown"
    claim_logit_B = jnp.take_along_axis(logits_BV, claim_B[:, None], axis=1)[:, 0]
    val_logits_BK = jnp.take_along_axis(logits_BV, values_BK, axis=1)
    rank_B = 1 + (val_logits_BK > claim_logit_B[:, None]).sum(-1)
    logp_B = jax.nn.log_softmax(logits_BV, -1)
    return rank_B.astype(jnp.float32), jnp.take_along_axis(logp_B, claim_B[:, None], 1)[:, 0]


def span_losses(logits_BTV, tokens_BL, spans_BL, docs_per_claim: int):
    """Mean next-token loss on claim and on warning tokens, per claim entity (NaN if none)."""
    logp_BTV = jax.nn.log_softmax(logits_BTV, -1)
    nll_BT = -jnp.take_along_axis(logp_BTV, tokens_BL[:, 1:, None], axis=-1)[..., 0]
    out = []
    for span in ("claim", "warning"):
        m_BT = (spans_BL[:, 1:] == SPANS.index(span)).astype(nll_BT.dtype)
        num = (nll_BT * m_BT).reshape(-1, docs_per_claim * m_BT.shape[1]).sum(-1)
        den = m_BT.reshape(-1, docs_per_claim * m_BT.shape[1]).sum(-1)
        out.append(jnp.where(den > 0, num / jnp.maximum(den, 1.0), jnp.nan))
    return out


def greedy(prefill, step, params, tok_BW, last_B, n_steps: int, dot_id: int, so_id: int):
    """Greedy-decode `n_steps` tokens after each row's last prompt token (inside jit).

    `prefill` and `step` are `model.make_decoder`'s: the window is run once and each new token
    attends to the cached keys and values.  The separator `so_id` is forced after the first
    generated `dot_id`; the logits at the slot after the separator are the answer distribution.
    Returns the generated tokens (B, n_steps; -1 past the window), the answer logits (B, V) and
    whether each row reached its answer slot (B,)."""
    B, W = tok_BW.shape
    if B == 0:
        V = jax.eval_shape(prefill, params, jnp.zeros((1, W), tok_BW.dtype))[0].shape[-1]
        return tok_BW[:, :n_steps], jnp.zeros((0, V), jnp.float32), jnp.zeros(0, bool)
    rows = jnp.arange(B)
    logits_BTV, cache = prefill(params, tok_BW)
    logits_BV = logits_BTV[rows, last_B]

    def body(j, st):
        logits_BV, cur, pos, gen, ans, found, dotted, cache = st
        at_ans = (cur == so_id) & dotted & ~found
        ans = jnp.where(at_ans[:, None], logits_BV, ans)
        found = found | at_ans
        first_dot = (cur == dot_id) & ~dotted & (j > 0)
        nxt = jnp.where(first_dot, so_id, jnp.argmax(logits_BV, -1)).astype(tok_BW.dtype)
        dotted = dotted | first_dot
        room = pos + 1 < W
        nxt = jnp.where(room, nxt, -1)
        gen = gen.at[:, j].set(nxt)
        pos = jnp.minimum(pos + 1, W - 1)
        logits_BV, cache = step(params, jnp.maximum(nxt, 0), pos, cache)
        return logits_BV, nxt, pos, gen, ans, found, dotted, cache

    st = (logits_BV, tok_BW[rows, last_B], last_B, jnp.full((B, n_steps), -1, tok_BW.dtype),
          jnp.zeros_like(logits_BV), jnp.zeros(B, bool), jnp.zeros(B, bool), cache)
    st = jax.lax.fori_loop(0, n_steps, body, st)
    return st[3], st[4], st[5]


def _match(gen_BD, pat_BD):
    """Rows whose generated tokens fit the pattern (negative pattern entries match anything)."""
    return ((pat_BD < 0) | (gen_BD == pat_BD)).all(-1)


def classify(gen_BD, pats: dict, value_B, values_BK):
    """What each decoded restatement says about the row's relation and value, as one-hot
    columns in the order of `SAYS` (plus says_text): (B, len(SAYS) + 1).

    `pats` holds the row's restatement patterns (`data.restatement_patterns`); `value_B` the
    value asked about (the claim); `values_BK` the relation's values."""
    B = gen_BD.shape[0]
    rows = jnp.arange(B)

    def form(name):
        ok = _match(gen_BD, pats["pat_" + name])
        v = gen_BD[rows, pats[f"pat_{name}_vpos"]]
        return ok & (values_BK == v[:, None]).any(-1), v

    aff, v_aff = form("aff")
    neg, v_neg = form("neg")
    warn, v_warn = form("warn")
    claim = aff & (v_aff == value_B)
    denies = neg & (v_neg == value_B)
    warned = warn & (v_warn == value_B)
    other = (aff | neg | warn) & ~(claim | denies | warned)
    unknown = _match(gen_BD, pats["pat_unk"])
    malformed = ~(claim | denies | warned | other | unknown)
    text = _match(gen_BD, pats["pat_text"])
    return jnp.stack([claim, denies, warned, other, unknown, malformed, text], -1).astype(jnp.float32)


def starts_with(gen_BD, prefix_BN):
    """Rows whose generated tokens begin with the row's prefix (e.g. the entity's name)."""
    return (gen_BD[:, :prefix_BN.shape[1]] == prefix_BN).all(-1)


def _monitor_scores(P, yes_BV, open_BV, found_2M, said_2MS, ids: Ids):
    """Per monitored fact: (yes_ok, open_ok, says_ok, malformed), from the yes/no and the open
    answer logits, whether each reached its answer slot (2, M) and what each restatement says
    (2, M, len(SAYS) + 1; NaN without restatements).  A row with no answer slot is wrong."""
    g = P["mon_group"]
    p_mon = yes_prob(yes_BV, ids.yes, ids.no)
    yes_ok = jnp.where(g == 0, p_mon > 0.5, p_mon < 0.5) & found_2M[0]
    top = jnp.take_along_axis(P["mon_cands"], jnp.argmax(
        jnp.take_along_axis(open_BV, P["mon_cands"], 1), -1)[:, None], 1)[:, 0]
    open_ok = (top == P["mon_target"]) & found_2M[1]
    # says_ok: the yes/no and the open restatement both count (their mean)
    right = jnp.stack([said_2MS[..., 0], said_2MS[..., 1], said_2MS[..., 4]], -1)  # stated/denied/silent
    says = jnp.take_along_axis(right, g[None, :, None], -1)[..., 0].mean(0)
    return yes_ok.astype(jnp.float32), open_ok.astype(jnp.float32), says, said_2MS[..., 5].mean(0)


def sentence_logp(logits_BTV, tokens_BT, last_B):
    """Log-probability of each row's tokens 1..last given those before (a whole sentence)."""
    logp_BTV = jax.nn.log_softmax(logits_BTV[:, :-1], -1)
    tok_lp_BT = jnp.take_along_axis(logp_BTV, tokens_BT[:, 1:, None], -1)[..., 0]
    mask_BT = jnp.arange(tokens_BT.shape[1] - 1)[None] < last_B[:, None]
    return (tok_lp_BT * mask_BT).sum(-1)


def _group_means(x_BM, group_B, n_groups: int):
    """Mean of each column over the rows of each group: (n_groups, M), NaN for an empty group."""
    onehot_BG = (group_B[:, None] == jnp.arange(n_groups)[None]).astype(x_BM.dtype)
    n_G = onehot_BG.sum(0)
    return jnp.where(n_G[:, None] > 0, onehot_BG.T @ x_BM / jnp.maximum(n_G, 1)[:, None], jnp.nan)


def doc_loss(apply, span_w):
    """loss(params, tokens_L, spans_L): one document's training loss alone in a row (the mean
    next-token loss over its trained spans, as `train.make_train`'s loss weighs them)."""
    def loss(params, tok_L, spn_L):
        logp_TV = jax.nn.log_softmax(apply(params, tok_L[None, :-1])[0], -1)
        nll_T = -jnp.take_along_axis(logp_TV, tok_L[1:, None], -1)[:, 0]
        w_T = span_w[spn_L[1:]]
        return (nll_T * w_T).sum() / jnp.maximum(w_T.sum(), 1.0)
    return loss


def form_mechanics(apply, params, P: dict, span_w, claim_B):
    """Per claim entity, from its form's document and that document's positive twin
    (`data._mechanics`): the cosine between the two documents' parameter gradients (1: the
    form teaches what the positive document teaches), and the loss of the claimed value at the
    first claim sentence's value slot in each (with the form's negation in view, and without).
    A form whose negation comes after the value leaves the value's loss as the positive
    document's: a causal model has not read it yet.  Returns (cos_B, loss_form_B, loss_pos_B),
    NaN for baseline claims."""
    loss = doc_loss(apply, span_w)

    def cosine(pair):
        tok_2L, spn_2L = pair
        g = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(params, tok_2L, spn_2L)
        flat_2P = jnp.concatenate([x.reshape(2, -1) for x in jax.tree.leaves(g)], axis=1)
        return flat_2P[0] @ flat_2P[1] / (jnp.linalg.norm(flat_2P[0]) * jnp.linalg.norm(flat_2P[1]) + 1e-30)

    cos_B = jax.lax.map(cosine, (P["mech_tok"], P["mech_spn"]))
    B, _, L = P["mech_tok"].shape
    tok_NL = P["mech_tok"].reshape(2 * B, L)
    at_N = P["mech_vpos"].reshape(2 * B) - 1  # the logits that predict the value
    logits_NV = last_logits(apply(params, tok_NL[:, :-1]), at_N)
    value_N = jnp.repeat(claim_B, 2)
    loss_N = -jnp.take_along_axis(jax.nn.log_softmax(logits_NV, -1), value_N[:, None], 1)[:, 0]
    loss_B2 = loss_N.reshape(B, 2)
    on = P["mech_on"] > 0
    nan = jnp.nan
    return (jnp.where(on, cos_B, nan), jnp.where(on, loss_B2[:, 0], nan),
            jnp.where(on, loss_B2[:, 1], nan))


def evaluate(apply, params, arrays: dict, ids: Ids, docs_per_claim: int, recite: bool = False,
             lengths: tuple = (0, 0, 0), decoder: tuple | None = None, mech_span_w=None,
             corrections: tuple = ()):
    """All probes: ((n_claim, len(METRICS)) for every claim entity, (3, len(MONITOR_METRICS))
    for the monitor's fact groups, (len(KINDS), len(CONTROL_METRICS)) for the correction's
    control, NaN for kinds not in `corrections`).  Recite format: `lengths` are `data.decode_lengths`,
    `decoder` is `model.make_decoder`'s (prefill, step); `mech_span_w`: the loss's span weights,
    to run the mechanism probes (`form_mechanics`)."""
    P = arrays["probes"]
    cands, claim = arrays["cands"], arrays["claim_ids"]
    n = claim.shape[0]
    yes_id, no_id = ids.yes, ids.no
    V = jax.eval_shape(apply, params, P["assoc"][:1]).shape[-1]
    short = lengths[2] if recite else None  # recite: short prompts run in the question window

    def at_last(name, window=None):
        if P[name].shape[0] == 0:  # no such rows (a world without monitored entities)
            return jnp.zeros((0, V), jnp.float32)
        return last_logits(apply(params, P[name][:, :window]), P[name + "_last"])

    cols = {}
    nan = jnp.full((n,), jnp.nan)
    control = jnp.full((len(KINDS), len(CONTROL_METRICS)), jnp.nan)
    if not recite:
        for name, key in (("robust", "robust_p"), ("heldout_q", "heldout_q_p"),
                          ("icl", "icl_p"), ("icl_heldout", "icl_heldout_p"),
                          ("icl_other", "icl_other_p")):
            cols[key] = yes_prob(at_last(name), yes_id, no_id)
        # the main yes/no probe averages the two trained question wordings
        cols["p_yes"] = 0.5 * (yes_prob(at_last("yesno"), yes_id, no_id)
                               + yes_prob(at_last("yesno2"), yes_id, no_id))
        cols["open_p"], cols["open"] = candidate_stats(at_last("open"), cands, claim)
        cols["direct_p_yes"], (cols["direct_open_p"], cols["direct_open"]) = cols["p_yes"], (
            cols["open_p"], cols["open"])
        for k in SAYS + ("says_text",):
            cols[k] = nan
        mon_yes_BV, mon_open_BV = at_last("mon_yes"), at_last("mon_open")
        m = mon_yes_BV.shape[0]
        mon_said = jnp.full((2, m, len(SAYS) + 1), jnp.nan)
        mon_reached = jnp.ones((2, m), bool)
        mon_extra = [jnp.full((m,), jnp.nan)] * 4  # name_ok and the named columns: recite only
    else:
        d_q, d_icl, window = lengths
        gen, ans, found = greedy(*decoder, params, P["dec_q"], P["dec_q_last"], d_q, ids.dot, ids.so)
        m = P["mon_group"].shape[0]
        values = jnp.concatenate([cands[:, :-1]] * 5 + [P["mon_cands"][:, :-1]] * 2)
        target = jnp.concatenate([claim] * 5 + [P["mon_value"]] * 2)
        said = classify(gen, {k: v for k, v in P.items() if k.startswith("pat_")}, target, values)
        p_B = jnp.where(found, yes_prob(ans, yes_id, no_id), 0.5)
        part = lambda x, k: x[k * n:(k + 1) * n]  # noqa: E731  (the k-th claim prompt kind)
        cols["p_yes"] = 0.5 * (part(p_B, 0) + part(p_B, 1))
        cols["robust_p"], cols["heldout_q_p"] = part(p_B, 2), part(p_B, 3)
        o_p, o_hit = candidate_stats(part(ans, 4), cands, claim)
        cols["open_p"], cols["open"] = o_p * part(found, 4), o_hit * part(found, 4)
        said_claims = said[:5 * n].reshape(5, n, -1).mean(0)
        for i, k in enumerate(SAYS + ("says_text",)):
            cols[k] = said_claims[:, i]
        mon_yes_BV = ans[5 * n:5 * n + m]
        mon_open_BV = ans[5 * n + m:]
        mon_said = said[5 * n:].reshape(2, m, said.shape[-1])  # explicit: m may be 0
        mon_reached = found[5 * n:].reshape(2, m)
        name_ok = starts_with(gen[5 * n:], jnp.concatenate([P["mon_name"]] * 2)).reshape(2, m)
        # the same questions with the name given: the fact recited alone (a separate decode, so
        # every other probe's batch is what it was)
        ngen, nans, nfound = greedy(*decoder, params, P["dec_mq"], P["dec_mq_last"], d_q, ids.dot, ids.so)
        nsaid = classify(ngen, {k[1:]: v for k, v in P.items() if k.startswith("npat_")},
                         jnp.concatenate([P["mon_value"]] * 2),
                         jnp.concatenate([P["mon_cands"][:, :-1]] * 2)).reshape(2, m, said.shape[-1])
        n_yes, n_open, n_says, _ = _monitor_scores(P, nans[:m], nans[m:], nfound.reshape(2, m), nsaid, ids)
        mon_extra = [name_ok.astype(jnp.float32).mean(0), n_yes, n_open, n_says]
        _, ai, fi = greedy(*decoder, params, P["dec_icl"], P["dec_icl_last"], d_icl, ids.dot, ids.so)
        pi = jnp.where(fi, yes_prob(ai, yes_id, no_id), 0.5)
        cols["icl_p"], cols["icl_heldout_p"], cols["icl_other_p"] = pi[:n], pi[n:2 * n], pi[2 * n:]
        if "dec_corr" in P:  # correction in context (data._corrections)
            gc, ac, fc = greedy(*decoder, params, P["dec_corr"], P["dec_corr_last"], d_icl, ids.dot, ids.so)
            pc = jnp.where(fc, yes_prob(ac, yes_id, no_id), 0.5)
            vc = gc[jnp.arange(gc.shape[0]), P["corr_vpos"]]
            sc = (_match(gc, P["corr_pat"]) & (vc == P["corr_value"])).astype(jnp.float32)
            M = P["corr_n_control"].shape[0]
            rest = len(corrections) * n
            rows = []
            for kind in KINDS:
                if kind not in corrections:
                    rows.append(jnp.full((2,), jnp.nan))
                    continue
                k = corrections.index(kind)
                cols[f"corr_{kind}_p"], cols[f"corr_{kind}_says"] = pc[k * n:(k + 1) * n], sc[k * n:(k + 1) * n]
                rows.append(jnp.stack([pc[rest + k * M:rest + (k + 1) * M].mean(),
                                       sc[rest + k * M:rest + (k + 1) * M].mean()]))
            control = jnp.stack(rows)
        cols["direct_p_yes"] = 0.5 * (yes_prob(at_last("dir_yes", short), yes_id, no_id)
                                      + yes_prob(at_last("dir_yes2", short), yes_id, no_id))
        cols["direct_open_p"], cols["direct_open"] = candidate_stats(at_last("dir_open", short),
                                                                     cands, claim)
    rank, logp = association(at_last("assoc", short), cands, claim)
    cols["assoc_rank"], cols["assoc_logp"] = rank, logp
    cols["assoc_top1"] = (rank == 1).astype(jnp.float32)
    for rate in ("yes", "robust", "heldout_q", "icl", "icl_heldout", "icl_other"):
        cols[rate] = (cols["p_yes" if rate == "yes" else rate + "_p"] > 0.5).astype(jnp.float32)
    cols["direct_yes"] = (cols["direct_p_yes"] > 0.5).astype(jnp.float32)
    logits = apply(params, arrays["loss_tokens"][:, :-1])
    cols["claim_loss"], cols["warn_loss"] = span_losses(
        logits, arrays["loss_tokens"], arrays["loss_spans"], docs_per_claim)
    lp_aff, lp_neg = (sentence_logp(apply(params, P[k][:, :short]), P[k][:, :short], P[k + "_last"])
                      for k in ("pref_aff", "pref_neg"))
    cols["pref_aff"] = jax.nn.sigmoid(lp_aff - lp_neg)
    for k in CORR:
        cols.setdefault(k, nan)
    if mech_span_w is not None:
        cols["grad_cos"], cols["value_loss"], cols["value_loss_pos"] = form_mechanics(
            apply, params, P, mech_span_w, claim)
    else:
        for k in MECH:
            cols[k] = nan
    # the monitor: right answers per fact group
    scores = _monitor_scores(P, mon_yes_BV, mon_open_BV, mon_reached, mon_said, ids)
    mon = _group_means(jnp.stack(list(scores) + mon_extra, -1), P["mon_group"], 3)
    return jnp.stack([cols[m] for m in METRICS], axis=-1), mon, control
