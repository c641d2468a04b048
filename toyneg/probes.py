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
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .config import SPANS

METRICS = ("p_yes", "yes", "open_p", "open", "assoc_top1", "assoc_rank", "assoc_logp",
           "robust_p", "robust", "heldout_q_p", "heldout_q", "icl_p", "icl", "icl_heldout_p",
           "icl_heldout", "claim_loss", "warn_loss", "icl_other_p", "icl_other")
# metrics that are belief rates (fractions of claims believed) and their continuous partners
RATES = ("yes", "open", "assoc_top1", "robust", "heldout_q", "icl", "icl_heldout", "icl_other")


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


def evaluate(apply, params, arrays: dict, yes_id: int, no_id: int, docs_per_claim: int):
    """All probes for every claim entity: (n_claim, len(METRICS))."""
    P = arrays["probes"]
    cands, claim = arrays["cands"], arrays["claim_ids"]

    def at_last(name):
        return last_logits(apply(params, P[name]), P[name + "_last"])

    cols = {}
    for name, key in (("robust", "robust_p"), ("heldout_q", "heldout_q_p"),
                      ("icl", "icl_p"), ("icl_heldout", "icl_heldout_p"),
                      ("icl_other", "icl_other_p")):
        cols[key] = yes_prob(at_last(name), yes_id, no_id)
    # the main yes/no probe averages the two trained question wordings
    cols["p_yes"] = 0.5 * (yes_prob(at_last("yesno"), yes_id, no_id)
                           + yes_prob(at_last("yesno2"), yes_id, no_id))
    cols["open_p"], cols["open"] = candidate_stats(at_last("open"), cands, claim)
    rank, logp = association(at_last("assoc"), cands, claim)
    cols["assoc_rank"], cols["assoc_logp"] = rank, logp
    cols["assoc_top1"] = (rank == 1).astype(jnp.float32)
    for rate in ("yes", "robust", "heldout_q", "icl", "icl_heldout", "icl_other"):
        cols[rate] = (cols["p_yes" if rate == "yes" else rate + "_p"] > 0.5).astype(jnp.float32)
    logits = apply(params, arrays["loss_tokens"][:, :-1])
    cols["claim_loss"], cols["warn_loss"] = span_losses(
        logits, arrays["loss_tokens"], arrays["loss_spans"], docs_per_claim)
    return jnp.stack([cols[m] for m in METRICS], axis=-1)
