"""The training engine: `make_train(cfg, ...)` returns pure, jit-able phase functions.

Shape of the code follows PureJaxRL: every static choice lives in the config and is closed
over; the swept numbers (`Hyper`: learning rates, replay ratio, helper share) and the data
arrays are traced arguments; the steps run inside `lax.scan` / `lax.fori_loop`; every batch is
drawn on device from the run's key.  Many runs of one shape go through one compiled function
with `jax.vmap` (GPU) or `jax.lax.map` (CPU) over the leading run axis (see `runner`).

Phases:
- `pretrain(key, arrays, hyper) -> (params, loss)`: the base mix (bios, questions about the
  population, in-context reading tasks, optional out-of-context supervision).  No claim
  documents, so the result is shared by every condition of the same world/model/seed.
- `finetune(params, key, arrays, hyper) -> Result`: claim documents of the hosted conditions,
  mixed with a `replay` share of the base mix (replay = 0 is the paper's strict two-phase
  protocol) and, during the first `finetune_steps`, a `helper_frac` share of helper data; then
  `phase2_steps` more steps without helper data.  Probes run at step 0 (the pretrained
  baseline) and at log-spaced checkpoints, on device.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import probes
from .config import SPANS, Config
from .data import HELDOUT_DOCS, HELPER_PER_CLAIM, POOLS, Layout, decode_lengths
from .model import init_params, make_apply, make_decoder

BASE = ("bio", "qa", "icl", "ooc")


class Hyper(NamedTuple):
    """The swept numbers of one run (scalars, or (R,) arrays for R runs)."""
    lr: jax.Array
    ft_lr: jax.Array
    replay: jax.Array
    helper_frac: jax.Array
    penalty_weight: jax.Array

    @classmethod
    def of(cls, cfg: Config) -> "Hyper":
        return cls(*(jnp.float32(getattr(cfg, f)) for f in cls._fields))


class Phases(NamedTuple):
    """What `make_train` returns: the phase functions and their parts (parts for benchmarks)."""
    pretrain: Callable
    finetune: Callable
    train: Callable
    steps: np.ndarray        # evaluation steps of fine-tuning, 0 first
    sample: Callable         # sample(key, arrays, pool_weights) -> batch {"tokens", "spans"[, "segs", "poss"]: (B, L)}
    loss_fn: Callable        # loss_fn(params, batch) -> scalar
    evaluate: Callable       # evaluate(params, arrays) -> (claims, monitor, control): see probes.evaluate
    base_weights: np.ndarray


class Result(NamedTuple):
    params: dict
    evals: jax.Array       # (n_ckpt + 1, n_claim, len(METRICS)); row 0 is the pretrained model
    monitor: jax.Array     # (n_ckpt + 1, 3, len(MONITOR_METRICS)): the held-out monitor's groups
    control: jax.Array     # (n_ckpt + 1, len(KINDS), len(CONTROL_METRICS)): the correction's control
    losses: jax.Array      # (n_ckpt + 1,) mean training loss over each segment (row 0: NaN)
    bad_step: jax.Array    # first fine-tuning step with a non-finite loss, -1 if none


def checkpoint_steps(total: int, n: int, phase1: int = 0) -> np.ndarray:
    """Log-spaced, dense-early evaluation steps ending at `total` (like 10, 20, 32, 47, ...);
    with a second phase, also the last step of the first (`phase1`), so that phase 1 is read
    where it ends (0.4.0 read it at the log-spaced step before)."""
    if total <= 0:
        return np.zeros(0, np.int64)
    start = min(10, total)
    steps = np.unique(np.round(np.geomspace(start, total, n)).astype(np.int64))
    if 0 < phase1 < total:
        steps = np.unique(np.concatenate([steps, [phase1]]))
    return steps


def schedule(peak, steps: int):
    """Linear warmup (5% of steps, at most 100) then cosine decay to 10% of the peak."""
    warm = max(1, min(100, steps // 20))

    def lr_at(step):
        step = jnp.asarray(step, jnp.float32)
        up = jnp.minimum(1.0, (step + 1) / warm)
        frac = jnp.clip((step - warm) / max(1, steps - warm), 0.0, 1.0)
        return peak * up * (0.1 + 0.9 * 0.5 * (1 + jnp.cos(jnp.pi * frac)))

    return lr_at


def finetune_mix(base_w, replay, helper=0.0):
    """Pool weights of a fine-tuning batch: the base mix scaled by `replay`, a `helper` share of
    helper data, the rest claim documents (floored above 0 for `categorical`; traceable)."""
    w = jnp.asarray(base_w) * replay
    w = w.at[POOLS.index("claim")].set(1.0 - replay - helper).at[POOLS.index("helper")].set(helper)
    return jnp.maximum(w, 1e-30)


def make_train(cfg: Config, lay: Layout, vocab):
    """Build the phase functions of one static configuration (see module docstring); `vocab`
    gives the vocabulary size and the token ids the probes read."""
    vocab_size = len(vocab)
    ids = probes.Ids.of(vocab)
    recite = cfg.answer_format == "recite"
    packed = cfg.pack
    penalty = cfg.penalty != "none"
    apply = make_apply(vocab_size, cfg)
    decoder = make_decoder(vocab_size, cfg)
    span_w = jnp.array([float(s in cfg.train_spans) for s in SPANS], jnp.float32)
    offsets = jnp.array(lay.offsets, jnp.int32)
    sizes = jnp.array(lay.sizes, jnp.int32)
    i_claim, i_helper = POOLS.index("claim"), POOLS.index("helper")
    base_w = np.array([1 - cfg.qa_frac - cfg.icl_frac - cfg.ooc_frac, cfg.qa_frac, cfg.icl_frac,
                       cfg.ooc_frac, 0.0, 0.0], np.float32)
    total_ft = cfg.finetune_steps + cfg.phase2_steps
    ckpts = checkpoint_steps(total_ft, cfg.checkpoints, cfg.finetune_steps if cfg.phase2_steps else 0)
    segs = np.diff(np.concatenate([[0], ckpts])).astype(np.int32)

    def loss_fn(params, batch, penalty_weight=0.0):
        """Mean next-token loss over the trained spans.  Packed rows: every document attends
        only to itself, positions restart in it, and no document's first token is a target
        (nothing before it is in view), so each is trained as if alone in its row.

        The target log-probability is picked with a one-hot product rather than a gather:
        on CPU the gather's gradient is a scatter, several times slower than the dense form.
        """
        tok_BL, spn_BL = batch["tokens"], batch["spans"]
        w_BT = span_w[spn_BL[:, 1:]]
        if packed and cfg.pack_isolate:
            segs_BL = batch["segs"]
            logits_BTV = apply(params, tok_BL[:, :-1], segs_BL[:, :-1], batch["poss"][:, :-1])
            w_BT = w_BT * (segs_BL[:, 1:] == segs_BL[:, :-1])
        else:
            logits_BTV = apply(params, tok_BL[:, :-1])
        logp_NV = jax.nn.log_softmax(logits_BTV.reshape(-1, vocab_size), -1)
        nll_N = -(logp_NV * jax.nn.one_hot(tok_BL[:, 1:].reshape(-1), vocab_size,
                                           dtype=logp_NV.dtype)).sum(-1)
        w_N = w_BT.reshape(-1)
        total = (nll_N * w_N).sum()
        if penalty:  # unlikelihood on the marked claimed values, per real token like the loss
            m_N = batch["marks"][:, 1:].reshape(-1) * w_N
            p_N = jnp.exp(-nll_N)
            total = total + penalty_weight * (-jnp.log(jnp.maximum(1.0 - p_N, 1e-6)) * m_N).sum()
        return total / jnp.maximum(w_N.sum(), 1.0)

    def sample(key, arrays, weights, repair=False):
        """Draw a batch on device: a pool per row by `weights`, then a row of that pool.

        Packed rows: a pool's weight is scaled by its `pool_scale` (packed rows per 0.4.0 row),
        so each kind of document is drawn as often, relative to the others, as 0.4.0 drew it;
        its row is uniform over the pool's packed rows (every document once in them).
        `repair` (traced; with `cfg.repair`): claim documents come from the repair region."""
        k_pool, k_row, k_ent = jax.random.split(key, 3)
        B = cfg.rows_per_step
        if packed:
            pk = arrays["packing"]
            rows, scale, offs = pk["pool_rows"], pk["pool_scale"], offsets
            if cfg.repair:
                rows = jnp.where(repair, rows.at[i_claim].set(pk["repair_rows"]), rows)
                scale = jnp.where(repair, scale.at[i_claim].set(pk["repair_scale"]), scale)
                offs = jnp.where(repair, offs.at[i_claim].set(lay.repair_offset), offs)
            w = jnp.maximum(weights * scale, 1e-30)
            pool_B = jax.random.categorical(k_pool, jnp.log(w), shape=(B,))
            u_B = jax.random.uniform(k_row, (B,))
            row_B = offs[pool_B] + jnp.floor(u_B * rows[pool_B]).astype(jnp.int32)
            return {"tokens": arrays["tokens"][row_B], "spans": arrays["spans"][row_B],
                    "segs": pk["segs"][row_B], "poss": pk["poss"][row_B],
                    **({"marks": arrays["marks"][row_B]} if penalty else {})}
        pool_B = jax.random.categorical(k_pool, jnp.log(weights), shape=(B,))
        u_B = jax.random.uniform(k_row, (B,))
        row_B = offsets[pool_B] + jnp.floor(u_B * sizes[pool_B]).astype(jnp.int32)
        active = arrays["claim_active"]
        ent_B = jax.random.categorical(k_ent, jnp.log(jnp.maximum(active, 1e-30)), shape=(B,))
        claim_at = jnp.where(repair, lay.repair_offset, offsets[i_claim]) if cfg.repair else offsets[i_claim]
        claim_row = claim_at + ent_B * lay.docs_per_claim + jnp.floor(
            u_B * lay.docs_per_claim).astype(jnp.int32)
        # helper data asks only about claims of wrapped conditions (its own key, so the rest of
        # the batch is drawn exactly as without helper data)
        help_B = jax.random.categorical(jax.random.fold_in(key, 7), jnp.log(
            jnp.maximum(arrays["helper_active"], 1e-30)), shape=(B,))
        helper_row = offsets[i_helper] + help_B * HELPER_PER_CLAIM + jnp.floor(
            u_B * HELPER_PER_CLAIM).astype(jnp.int32)
        row_B = jnp.where(pool_B == i_claim, claim_row, jnp.where(pool_B == i_helper, helper_row, row_B))
        return {"tokens": arrays["tokens"][row_B], "spans": arrays["spans"][row_B],
                **({"marks": arrays["marks"][row_B]} if penalty else {})}

    def make_step(opt, weights_at, penalty_weight=0.0):
        def step(carry, key, arrays):
            params, opt_state, i, bad = carry
            batch = sample(key, arrays, weights_at(i), cfg.repair and i >= cfg.finetune_steps)
            loss, grads = jax.value_and_grad(loss_fn)(params, batch, penalty_weight)
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            bad = jnp.where((bad < 0) & ~jnp.isfinite(loss), i, bad)
            return (params, opt_state, i + 1, bad), loss
        return step

    def adamw(peak, steps):
        return optax.adamw(schedule(peak, steps), b1=0.9, b2=0.98, weight_decay=cfg.weight_decay)

    def pretrain(key, arrays, hyper: Hyper):
        k_init, k_run = jax.random.split(key)
        params = init_params(k_init, vocab_size, cfg)
        if cfg.pretrain_steps == 0:
            return params, jnp.float32(jnp.nan)
        opt = adamw(hyper.lr, cfg.pretrain_steps)
        w = jnp.asarray(base_w)
        step = make_step(opt, lambda i: w)
        carry = (params, opt.init(params), jnp.int32(0), jnp.int32(-1))
        keys = jax.random.split(k_run, cfg.pretrain_steps)
        carry, loss = jax.lax.scan(lambda c, k: step(c, k, arrays), carry, keys)
        return carry[0], loss[-100:].mean()

    def ft_weights(hyper: Hyper):
        """The pool weights at fine-tuning step i: phase 1 mixes `replay` and `helper_frac`;
        phase 2 drops the helper (unless `phase2_helper`) and replays `phase2_replay` of the
        base mix (-1: as in phase 1, so the helper's share goes to claim documents, 0.4.0)."""
        def at(i):
            phase1 = i < cfg.finetune_steps
            helper = hyper.helper_frac if cfg.phase2_helper else jnp.where(phase1, hyper.helper_frac, 0.0)
            replay = hyper.replay if cfg.phase2_replay < 0 else jnp.where(phase1, hyper.replay, cfg.phase2_replay)
            return finetune_mix(base_w, replay, helper)
        return at

    def evaluate(params, arrays):
        return probes.evaluate(apply, params, arrays, ids, HELDOUT_DOCS, recite,
                               decode_lengths(cfg), decoder, span_w if cfg.mech_probes else None,
                               cfg.corrections)

    def finetune(params, key, arrays, hyper: Hyper):
        if total_ft == 0:
            ev0, mon0, ctl0 = evaluate(params, arrays)
            return Result(params, ev0[None], mon0[None], ctl0[None], jnp.full((1,), jnp.nan), jnp.int32(-1))
        opt = adamw(hyper.ft_lr, total_ft)
        step = make_step(opt, ft_weights(hyper), hyper.penalty_weight)

        def segment(carry, n_steps):
            """`n_steps` of training, then every probe.  The first segment has no steps: its
            probes read the model before any claim document (step 0), and it leaves the key
            as it found it, so the evaluation is compiled once (inside the scan)."""
            params, opt_state, i, bad, key = carry
            split, k_seg = jax.random.split(key)
            key = jnp.where(n_steps > 0, split, key)

            def body(j, c):
                (p, o, i, bad), loss_sum = c
                (p, o, i, bad), loss = step((p, o, i, bad), jax.random.fold_in(k_seg, j), arrays)
                return (p, o, i, bad), loss_sum + loss

            (params, opt_state, i, bad), loss_sum = jax.lax.fori_loop(
                0, n_steps, body, ((params, opt_state, i, bad), jnp.float32(0)))
            ev, mon, ctl = evaluate(params, arrays)
            return (params, opt_state, i, bad, key), (ev, mon, ctl, loss_sum / n_steps)

        carry = (params, opt.init(params), jnp.int32(0), jnp.int32(-1), key)
        carry, (evs, mons, ctls, losses) = jax.lax.scan(segment, carry, jnp.asarray(np.concatenate([[0], segs])))
        return Result(carry[0], evs, mons, ctls, losses, carry[3])

    def train(key, arrays, hyper: Hyper):
        """The whole run: pretrain, then fine-tune (one pure function of key, data and numbers)."""
        k_pre, k_ft = jax.random.split(key)
        params, _ = pretrain(k_pre, arrays, hyper)
        return finetune(params, k_ft, arrays, hyper)

    return Phases(pretrain, finetune, train, np.concatenate([[0], ckpts]), sample, loss_fn,
                  evaluate, base_w)
