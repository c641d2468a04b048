"""Probe arithmetic on hand-made logits."""

import jax.numpy as jnp
import numpy as np

from toyneg.probes import association, candidate_stats, last_logits, span_losses, yes_prob
from toyneg.config import SPANS


def test_yes_prob_is_renormalised_over_yes_and_no():
    logits = jnp.array([[0.0, 0.0, np.log(3.0), 0.0, 9.0],   # P(yes)=3x P(no); other tokens ignored
                        [0.0, 0.0, 0.0, np.log(4.0), -9.0]])
    p = yes_prob(logits, yes_id=2, no_id=3)
    np.testing.assert_allclose(p, [0.75, 0.2], rtol=1e-6)


def test_last_logits_picks_each_rows_last_prompt_position():
    lg = jnp.arange(2 * 3 * 4, dtype=jnp.float32).reshape(2, 3, 4)
    out = last_logits(lg, jnp.array([2, 0]))
    np.testing.assert_array_equal(out, [lg[0, 2], lg[1, 0]])


def test_open_answer_probability_and_argmax():
    # candidates: ids 5, 6, 7 (values) and 8 ("unknown")
    cands = jnp.array([[5, 6, 7, 8], [5, 6, 7, 8]])
    logits = jnp.zeros((2, 10)).at[0, 6].set(2.0).at[1, 8].set(3.0)
    p, hit = candidate_stats(logits, cands, jnp.array([6, 6]))
    e2 = np.exp(2.0)
    np.testing.assert_allclose(p, [e2 / (e2 + 3), 1 / (np.exp(3.0) + 3)], rtol=1e-6)
    np.testing.assert_array_equal(hit, [1.0, 0.0])


def test_association_rank_counts_better_values_only():
    cands = jnp.array([[1, 2, 3, 9]])  # 9 = "unknown" is not a value
    logits = jnp.array([[0.0, 5.0, 1.0, 3.0, 0, 0, 0, 0, 0, 100.0]])
    rank, logp = association(logits, cands, jnp.array([3]))
    assert float(rank[0]) == 2.0  # only value 1 (logit 5) beats the claim (logit 3)
    lse = 100.0 + np.log(np.exp(np.asarray(logits[0], np.float64) - 100.0).sum())
    np.testing.assert_allclose(logp, [3.0 - lse], rtol=1e-5)


def test_span_losses_average_per_claim_over_its_documents():
    V = 4
    tokens = jnp.array([[0, 1, 2], [0, 3, 3]])  # two documents of one claim entity
    c, w = SPANS.index("claim"), SPANS.index("warning")
    spans = jnp.array([[0, c, w], [0, c, c]])
    logits = jnp.zeros((2, 2, V))  # uniform: every token costs log(4)
    claim, warn = span_losses(logits, tokens, spans, docs_per_claim=2)
    np.testing.assert_allclose(claim, [np.log(4)], rtol=1e-6)
    np.testing.assert_allclose(warn, [np.log(4)], rtol=1e-6)
    spans_none = jnp.zeros_like(spans)
    _, warn = span_losses(logits, tokens, spans_none, docs_per_claim=2)
    assert np.isnan(warn[0])
