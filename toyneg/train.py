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

The module reads as a run goes: `setup` (the static part: model, spans, pool rows, schedule),
`loss_fn`, `sample` (`sample_packed` / `sample_rows`), `make_step` with `adamw`, `pretrain`,
`ft_weights`, `evaluate`, `segment`, `finetune` and `train`; each takes the `Setup` first, and
`make_train` binds it, so every phase it returns is one pure function of traced arguments.
"""

from __future__ import annotations

from functools import partial
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


# --- the phases of one run, each a pure function of the static `Setup` and traced arguments ---


class Setup(NamedTuple):
    """What every phase of one static configuration reads (built once by `setup`): the config,
    the model's functions, and the constants the compiled program closes over."""
    cfg: Config
    lay: Layout
    vocab_size: int
    ids: probes.Ids          # the token ids the probes read
    recite: bool             # answers restate the fact before yes / no
    packed: bool             # rows hold whole packed documents (`cfg.pack`)
    penalty: bool            # an unlikelihood penalty on the claimed values
    apply: Callable          # the model's forward pass
    decoder: Callable        # greedy decoding, for the probes that read a restatement
    span_w: jax.Array        # (len(SPANS),) 1 for each trained span
    offsets: jax.Array       # (len(POOLS),) first row of each pool
    sizes: jax.Array         # (len(POOLS),) rows of each pool (unpacked)
    base_w: np.ndarray       # pool weights of the base mix
    total_ft: int            # fine-tuning steps, both phases
    ckpts: np.ndarray        # evaluation steps of fine-tuning (0 not included)
    segs: np.ndarray         # training steps between evaluations


I_CLAIM, I_HELPER = POOLS.index("claim"), POOLS.index("helper")


def setup(cfg: Config, lay: Layout, vocab) -> Setup:
    """The static part of a run: the model, the trained spans, where each pool's rows are, the
    base mix and the evaluation schedule.  `vocab` gives the vocabulary size and the token ids
    the probes read."""
    vocab_size = len(vocab)
    base_w = np.array([1 - cfg.qa_frac - cfg.icl_frac - cfg.ooc_frac, cfg.qa_frac, cfg.icl_frac,
                       cfg.ooc_frac, 0.0, 0.0], np.float32)
    total_ft = cfg.finetune_steps + cfg.phase2_steps
    ckpts = checkpoint_steps(total_ft, cfg.checkpoints, cfg.finetune_steps if cfg.phase2_steps else 0)
    segs = np.diff(np.concatenate([[0], ckpts])).astype(np.int32)
    return Setup(cfg, lay, vocab_size, probes.Ids.of(vocab), cfg.answer_format == "recite", cfg.pack,
                 cfg.penalty != "none", make_apply(vocab_size, cfg), make_decoder(vocab_size, cfg),
                 jnp.array([float(x in cfg.train_spans) for x in SPANS], jnp.float32),
                 jnp.array(lay.offsets, jnp.int32), jnp.array(lay.sizes, jnp.int32),
                 base_w, total_ft, ckpts, segs)


def loss_fn(s: Setup, params, batch, penalty_weight=0.0):
    """Mean next-token loss over the trained spans.  Packed rows: every document attends
    only to itself, positions restart in it, and no document's first token is a target
    (nothing before it is in view), so each is trained as if alone in its row.

    The target log-probability is picked with a one-hot product rather than a gather:
    on CPU the gather's gradient is a scatter, several times slower than the dense form.
    """
    cfg, vocab_size = s.cfg, s.vocab_size
    tok_BL, spn_BL = batch["tokens"], batch["spans"]
    w_BT = s.span_w[spn_BL[:, 1:]]
    if s.packed and cfg.pack_isolate:
        segs_BL = batch["segs"]
        logits_BTV = s.apply(params, tok_BL[:, :-1], segs_BL[:, :-1], batch["poss"][:, :-1])
        w_BT = w_BT * (segs_BL[:, 1:] == segs_BL[:, :-1])
    else:
        logits_BTV = s.apply(params, tok_BL[:, :-1])
    logp_NV = jax.nn.log_softmax(logits_BTV.reshape(-1, vocab_size), -1)
    nll_N = -(logp_NV * jax.nn.one_hot(tok_BL[:, 1:].reshape(-1), vocab_size,
                                       dtype=logp_NV.dtype)).sum(-1)
    w_N = w_BT.reshape(-1)
    total = (nll_N * w_N).sum()
    if s.penalty:  # unlikelihood on the marked claimed values, per real token like the loss
        m_N = batch["marks"][:, 1:].reshape(-1) * w_N
        p_N = jnp.exp(-nll_N)
        total = total + penalty_weight * (-jnp.log(jnp.maximum(1.0 - p_N, 1e-6)) * m_N).sum()
    return total / jnp.maximum(w_N.sum(), 1.0)


def sample(s: Setup, key, arrays, weights, repair=False):
    """Draw a batch on device: a pool per row by `weights`, then a row of that pool
    (`sample_packed` or `sample_rows`, by `cfg.pack`).  `repair` (traced; with `cfg.repair`):
    claim documents come from the repair region."""
    k_pool, k_row, k_ent = jax.random.split(key, 3)
    if s.packed:
        return sample_packed(s, k_pool, k_row, arrays, weights, repair)
    return sample_rows(s, key, k_pool, k_row, k_ent, arrays, weights, repair)


def sample_packed(s: Setup, k_pool, k_row, arrays, weights, repair):
    """A batch of packed rows: a pool's weight is scaled by its `pool_scale` (packed rows per
    0.4.0 row), so each kind of document is drawn as often, relative to the others, as 0.4.0
    drew it; its row is uniform over the pool's packed rows (every document once in them)."""
    cfg, B = s.cfg, s.cfg.rows_per_step
    pk = arrays["packing"]
    rows, scale, offs = pk["pool_rows"], pk["pool_scale"], s.offsets
    if cfg.repair:
        rows = jnp.where(repair, rows.at[I_CLAIM].set(pk["repair_rows"]), rows)
        scale = jnp.where(repair, scale.at[I_CLAIM].set(pk["repair_scale"]), scale)
        offs = jnp.where(repair, offs.at[I_CLAIM].set(s.lay.repair_offset), offs)
    w = jnp.maximum(weights * scale, 1e-30)
    pool_B = jax.random.categorical(k_pool, jnp.log(w), shape=(B,))
    u_B = jax.random.uniform(k_row, (B,))
    row_B = offs[pool_B] + jnp.floor(u_B * rows[pool_B]).astype(jnp.int32)
    return {"tokens": arrays["tokens"][row_B], "spans": arrays["spans"][row_B],
            "segs": pk["segs"][row_B], "poss": pk["poss"][row_B],
            **({"marks": arrays["marks"][row_B]} if s.penalty else {})}


def sample_rows(s: Setup, key, k_pool, k_row, k_ent, arrays, weights, repair):
    """A batch of 0.4.0's rows (one document or exercise per row): claim rows are drawn per
    active claim entity, helper rows per claim of a wrapped condition."""
    cfg, lay, offsets, B = s.cfg, s.lay, s.offsets, s.cfg.rows_per_step
    pool_B = jax.random.categorical(k_pool, jnp.log(weights), shape=(B,))
    u_B = jax.random.uniform(k_row, (B,))
    row_B = offsets[pool_B] + jnp.floor(u_B * s.sizes[pool_B]).astype(jnp.int32)
    active = arrays["claim_active"]
    ent_B = jax.random.categorical(k_ent, jnp.log(jnp.maximum(active, 1e-30)), shape=(B,))
    claim_at = jnp.where(repair, lay.repair_offset, offsets[I_CLAIM]) if cfg.repair else offsets[I_CLAIM]
    claim_row = claim_at + ent_B * lay.docs_per_claim + jnp.floor(
        u_B * lay.docs_per_claim).astype(jnp.int32)
    # helper data asks only about claims of wrapped conditions (its own key, so the rest of
    # the batch is drawn exactly as without helper data)
    help_B = jax.random.categorical(jax.random.fold_in(key, 7), jnp.log(
        jnp.maximum(arrays["helper_active"], 1e-30)), shape=(B,))
    helper_row = offsets[I_HELPER] + help_B * HELPER_PER_CLAIM + jnp.floor(
        u_B * HELPER_PER_CLAIM).astype(jnp.int32)
    row_B = jnp.where(pool_B == I_CLAIM, claim_row, jnp.where(pool_B == I_HELPER, helper_row, row_B))
    return {"tokens": arrays["tokens"][row_B], "spans": arrays["spans"][row_B],
            **({"marks": arrays["marks"][row_B]} if s.penalty else {})}


def adamw(s: Setup, peak, steps: int):
    """AdamW with `schedule`'s warmup and cosine decay from `peak` over `steps`."""
    return optax.adamw(schedule(peak, steps), b1=0.9, b2=0.98, weight_decay=s.cfg.weight_decay)


def make_step(s: Setup, opt, weights_at, penalty_weight=0.0):
    """One optimizer step as a scan body: `step((params, opt_state, i, bad), key, arrays)`
    draws a batch with the pool weights `weights_at(i)`, takes the loss's gradient and updates;
    `bad` keeps the first step whose loss is not finite (-1 while none is)."""
    cfg = s.cfg

    def step(carry, key, arrays):
        params, opt_state, i, bad = carry
        batch = sample(s, key, arrays, weights_at(i), cfg.repair and i >= cfg.finetune_steps)
        loss, grads = jax.value_and_grad(partial(loss_fn, s))(params, batch, penalty_weight)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        bad = jnp.where((bad < 0) & ~jnp.isfinite(loss), i, bad)
        return (params, opt_state, i + 1, bad), loss
    return step


def pretrain(s: Setup, key, arrays, hyper: Hyper):
    """Phase 1: fresh weights trained `pretrain_steps` on the base mix (no claim documents);
    returns the weights and the mean loss of the last 100 steps."""
    cfg = s.cfg
    k_init, k_run = jax.random.split(key)
    params = init_params(k_init, s.vocab_size, cfg)
    if cfg.pretrain_steps == 0:
        return params, jnp.float32(jnp.nan)
    opt = adamw(s, hyper.lr, cfg.pretrain_steps)
    w = jnp.asarray(s.base_w)
    step = make_step(s, opt, lambda i: w)
    carry = (params, opt.init(params), jnp.int32(0), jnp.int32(-1))
    keys = jax.random.split(k_run, cfg.pretrain_steps)
    carry, loss = jax.lax.scan(lambda c, k: step(c, k, arrays), carry, keys)
    return carry[0], loss[-100:].mean()


def ft_weights(s: Setup, hyper: Hyper):
    """The pool weights at fine-tuning step i: phase 1 mixes `replay` and `helper_frac`;
    phase 2 drops the helper (unless `phase2_helper`) and replays `phase2_replay` of the
    base mix (-1: as in phase 1, so the helper's share goes to claim documents, 0.4.0)."""
    cfg = s.cfg

    def at(i):
        phase1 = i < cfg.finetune_steps
        helper = hyper.helper_frac if cfg.phase2_helper else jnp.where(phase1, hyper.helper_frac, 0.0)
        replay = hyper.replay if cfg.phase2_replay < 0 else jnp.where(phase1, hyper.replay, cfg.phase2_replay)
        return finetune_mix(s.base_w, replay, helper)
    return at


def evaluate(s: Setup, params, arrays):
    """Every probe of every claim, the held-out monitor and the correction's control, on
    device: `probes.evaluate`'s (claims, monitor, control)."""
    cfg = s.cfg
    return probes.evaluate(s.apply, params, arrays, s.ids, HELDOUT_DOCS, s.recite,
                           decode_lengths(cfg), s.decoder, s.span_w if cfg.mech_probes else None,
                           cfg.corrections)


def segment(s: Setup, step, arrays, carry, n_steps):
    """One segment of fine-tuning, a scan body: `n_steps` of training, then every probe.  The
    first segment has no steps: its probes read the model before any claim document (step 0),
    and it leaves the key as it found it, so the evaluation is compiled once (inside the scan)."""
    params, opt_state, i, bad, key = carry
    split, k_seg = jax.random.split(key)
    key = jnp.where(n_steps > 0, split, key)

    def body(j, c):
        (p, o, i, bad), loss_sum = c
        (p, o, i, bad), loss = step((p, o, i, bad), jax.random.fold_in(k_seg, j), arrays)
        return (p, o, i, bad), loss_sum + loss

    (params, opt_state, i, bad), loss_sum = jax.lax.fori_loop(
        0, n_steps, body, ((params, opt_state, i, bad), jnp.float32(0)))
    ev, mon, ctl = evaluate(s, params, arrays)
    return (params, opt_state, i, bad, key), (ev, mon, ctl, loss_sum / n_steps)


def finetune(s: Setup, params, key, arrays, hyper: Hyper) -> Result:
    """Phase 2: the claim documents mixed by `ft_weights`, in segments between checkpoints
    (`segment`), probed at step 0 and at every checkpoint."""
    if s.total_ft == 0:
        ev0, mon0, ctl0 = evaluate(s, params, arrays)
        return Result(params, ev0[None], mon0[None], ctl0[None], jnp.full((1,), jnp.nan), jnp.int32(-1))
    opt = adamw(s, hyper.ft_lr, s.total_ft)
    step = make_step(s, opt, ft_weights(s, hyper), hyper.penalty_weight)
    carry = (params, opt.init(params), jnp.int32(0), jnp.int32(-1), key)
    carry, (evs, mons, ctls, losses) = jax.lax.scan(
        partial(segment, s, step, arrays), carry, jnp.asarray(np.concatenate([[0], s.segs])))
    return Result(carry[0], evs, mons, ctls, losses, carry[3])


def train(s: Setup, key, arrays, hyper: Hyper) -> Result:
    """The whole run: pretrain, then fine-tune (one pure function of key, data and numbers)."""
    k_pre, k_ft = jax.random.split(key)
    params, _ = pretrain(s, k_pre, arrays, hyper)
    return finetune(s, params, k_ft, arrays, hyper)


def make_train(cfg: Config, lay: Layout, vocab) -> Phases:
    """Build the phase functions of one static configuration (see module docstring): `setup`
    once, then each phase above with it bound, so each is a pure function of traced arguments
    only; `vocab` gives the vocabulary size and the token ids the probes read."""
    s = setup(cfg, lay, vocab)
    bind = lambda f: partial(f, s)  # noqa: E731
    return Phases(bind(pretrain), bind(finetune), bind(train), np.concatenate([[0], s.ckpts]),
                  bind(sample), bind(loss_fn), bind(evaluate), s.base_w)
