"""A small decoder-only transformer in Flax NNX (pre-norm, causal; learned or rotary positions).

Readable in one sitting, like nanoGPT.  Training code uses the functional split/merge pattern
(`init_params` returns the parameter state; `apply` merges it inside the jitted function) so
that the whole run compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from .config import Config


class Block(nnx.Module):
    def __init__(self, d: int, heads: int, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.02)
        self.heads = heads
        self.ln1 = nnx.LayerNorm(d, rngs=rngs)
        self.qkv = nnx.Linear(d, 3 * d, use_bias=False, kernel_init=init, rngs=rngs)
        self.proj = nnx.Linear(d, d, use_bias=False, kernel_init=init, rngs=rngs)
        self.ln2 = nnx.LayerNorm(d, rngs=rngs)
        self.up = nnx.Linear(d, 4 * d, kernel_init=init, rngs=rngs)
        self.down = nnx.Linear(4 * d, d, kernel_init=init, rngs=rngs)

    def __call__(self, x_ND, B: int, T: int, rope=None, bias=None):
        """x_ND: activations of B rows x T positions flattened to N = B*T rows.

        Dense layers act on 2-D (N, D) arrays: XLA's CPU backend turns the weight gradient
        of a 3-D (B, T, D) product into a slow contraction (about 1.5x the time of the 2-D
        one; see the README, "Measured numbers"), so only attention sees the (B, H, T, K) view.
        """
        return self.prefill(x_ND, B, T, rope, bias)[0]

    def prefill(self, x_ND, B: int, T: int, rope=None, bias=None):
        """The block on a whole window, and its keys and values (B, H, T, K) for decoding;
        `bias` (B, 1, T, T): an additive attention mask (packed rows, `segment_bias`), else
        causal."""
        D = x_ND.shape[-1]
        H = self.heads
        q, k, v = jnp.split(self.qkv(self.ln1(x_ND)), 3, axis=-1)
        q_BHTK, k_BHTK, v_BHTK = (a.reshape(B, T, H, D // H).transpose(0, 2, 1, 3) for a in (q, k, v))
        if rope is not None:
            q_BHTK, k_BHTK = rotate(q_BHTK, *rope), rotate(k_BHTK, *rope)
        s_BHTT = q_BHTK @ k_BHTK.transpose(0, 1, 3, 2) / jnp.sqrt(D // H).astype(x_ND.dtype)
        att_BHTT = causal_softmax(s_BHTT, bias)
        y_ND = (att_BHTT @ v_BHTK).transpose(0, 2, 1, 3).reshape(B * T, D)
        x_ND = x_ND + self.proj(y_ND)
        return x_ND + self.down(jax.nn.gelu(self.up(self.ln2(x_ND)))), (k_BHTK, v_BHTK)

    def step(self, x_BD, cache, pos_B, rope=None):
        """One new token per row at position pos_B, attending to the cached keys and values at
        positions <= pos_B (its own key and value are written into the cache first)."""
        B, D = x_BD.shape
        H = self.heads
        k_BHTK, v_BHTK = cache
        q, k, v = (a.reshape(B, H, 1, D // H) for a in jnp.split(self.qkv(self.ln1(x_BD)), 3, axis=-1))
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        rows = jnp.arange(B)
        k_BHTK = k_BHTK.at[rows, :, pos_B].set(k[:, :, 0])
        v_BHTK = v_BHTK.at[rows, :, pos_B].set(v[:, :, 0])
        s_BHT = (q @ k_BHTK.transpose(0, 1, 3, 2))[:, :, 0] / jnp.sqrt(D // H).astype(x_BD.dtype)
        T = k_BHTK.shape[2]
        s_BHT = jnp.where((jnp.arange(T)[None] <= pos_B[:, None])[:, None], s_BHT, -1e9)
        y_BD = (jax.nn.softmax(s_BHT, -1)[:, :, None] @ v_BHTK)[:, :, 0].reshape(B, D)
        x_BD = x_BD + self.proj(y_BD)
        return x_BD + self.down(jax.nn.gelu(self.up(self.ln2(x_BD)))), (k_BHTK, v_BHTK)


def segment_bias(segs_BT):
    """Additive attention mask of packed rows (B, 1, T, T): a query attends to the keys at or
    before it in its own document (segment id), never across a document boundary."""
    T = segs_BT.shape[1]
    ok = jnp.tril(jnp.ones((T, T), bool))[None] & (segs_BT[:, :, None] == segs_BT[:, None, :])
    return jnp.where(ok, 0.0, -1e9)[:, None]


def rope_tables(T: int, K: int, base: float = 10000.0):
    """Rotary position tables (cos_TK2, sin_TK2) for head size K (even)."""
    inv_K2 = base ** (-jnp.arange(0, K, 2, dtype=jnp.float32) / K)
    ang_TK2 = jnp.arange(T, dtype=jnp.float32)[:, None] * inv_K2[None]
    return jnp.cos(ang_TK2), jnp.sin(ang_TK2)


def rotate(x_BHTK, cos_TK2, sin_TK2):
    """Rotary position embedding (GPT-NeoX halves): the score of a query and a key then
    depends on their positions only through the offset between them."""
    x1, x2 = jnp.split(x_BHTK, 2, axis=-1)
    c, s = cos_TK2.astype(x_BHTK.dtype), sin_TK2.astype(x_BHTK.dtype)
    return jnp.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], axis=-1)


def causal_softmax(s_BHTT, bias=None):
    """Softmax over keys with future positions masked out (or with the additive mask `bias`,
    e.g. `segment_bias`'s).

    An additive mask and a max shift outside the gradient: the same values as
    `softmax(where(causal, s, -inf))` with fewer passes over the (B, H, T, T) scores.
    """
    T = s_BHTT.shape[-1]
    if bias is None:
        bias = jnp.where(jnp.tril(jnp.ones((T, T), bool)), 0.0, -1e9)
    s_BHTT = s_BHTT + bias.astype(s_BHTT.dtype)
    e_BHTT = jnp.exp(s_BHTT - jax.lax.stop_gradient(s_BHTT.max(-1, keepdims=True)))
    return e_BHTT / e_BHTT.sum(-1, keepdims=True)


class Transformer(nnx.Module):
    """Token + position embeddings, `depth` blocks, final norm, (tied or untied) unembedding."""

    def __init__(self, vocab: int, cfg: Config, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.02)
        self.tied = cfg.tied
        self.embed = nnx.Embed(vocab, cfg.width, embedding_init=init, rngs=rngs)
        self.rope = cfg.positions == "rope"
        self.head = cfg.width // cfg.heads
        if not self.rope:
            self.pos = nnx.Param(init(rngs.params(), (cfg.ctx, cfg.width)))
        self.blocks = nnx.List([Block(cfg.width, cfg.heads, rngs) for _ in range(cfg.depth)]) \
            if hasattr(nnx, "List") else [Block(cfg.width, cfg.heads, rngs) for _ in range(cfg.depth)]
        self.ln_f = nnx.LayerNorm(cfg.width, rngs=rngs)
        if not cfg.tied:
            self.unembed = nnx.Linear(cfg.width, vocab, use_bias=False, kernel_init=init, rngs=rngs)

    def __call__(self, tokens_BT, segs_BT=None, poss_BT=None):
        """tokens_BT -> logits_BTV; packed rows also give each token's document (segs_BT) and
        its position in that document (poss_BT)."""
        return self.prefill(tokens_BT, segs_BT, poss_BT)[0]

    def _logits(self, x_ND):
        x_ND = self.ln_f(x_ND)
        return self.embed.attend(x_ND) if self.tied else self.unembed(x_ND)

    def prefill(self, tokens_BT, segs_BT=None, poss_BT=None):
        """tokens_BT -> (logits_BTV, cache): the cache holds every block's keys and values, so
        that `step` decodes one token at a time without re-running the window.  With segs_BT
        and poss_BT (packed rows) attention stays inside each document and positions restart."""
        B, T = tokens_BT.shape
        x_BTD = self.embed(tokens_BT)
        bias = None if segs_BT is None else segment_bias(segs_BT)
        if self.rope:
            rope = rope_tables(T, self.head)
            if poss_BT is not None:  # (B, 1, T, K/2): each token's own position
                rope = tuple(t[poss_BT][:, None] for t in rope)
        else:
            rope = None
            if poss_BT is None:
                x_BTD = x_BTD + self.pos[...][:T]
            else:  # a one-hot product: its gradient is a matmul, not a scatter (slow on CPU)
                x_BTD = x_BTD + jax.nn.one_hot(poss_BT, self.pos[...].shape[0], dtype=x_BTD.dtype) @ self.pos[...]
        x_ND = x_BTD.reshape(B * T, -1)
        cache = []
        for blk in self.blocks:
            x_ND, kv = blk.prefill(x_ND, B, T, rope, bias)
            cache.append(kv)
        return self._logits(x_ND).reshape(B, T, -1), cache

    def step(self, tok_B, pos_B, cache):
        """The next token of each row at position pos_B -> (logits_BV, cache)."""
        x_BD = self.embed(tok_B)
        rope = None
        if self.rope:
            cos, sin = rope_tables(cache[0][0].shape[2], self.head)
            rope = (cos[pos_B][:, None, None], sin[pos_B][:, None, None])
        else:
            x_BD = x_BD + self.pos[...][pos_B]
        new = []
        for blk, kv in zip(self.blocks, cache):
            x_BD, kv = blk.step(x_BD, kv, pos_B, rope)
            new.append(kv)
        return self._logits(x_BD), new


def graphdef(vocab: int, cfg: Config):
    """The model's static structure (no arrays allocated)."""
    gdef, _ = nnx.split(nnx.eval_shape(lambda: Transformer(vocab, cfg, nnx.Rngs(0))))
    return gdef


def init_params(key, vocab: int, cfg: Config):
    """Fresh parameters from `key` (traceable: usable inside jit and vmap)."""
    _, state = nnx.split(Transformer(vocab, cfg, nnx.Rngs(params=key)))
    return state


def make_apply(vocab: int, cfg: Config):
    """apply(params, tokens_BT[, segs_BT, poss_BT]) -> logits_BTV, a pure function of the
    parameter state (segments and positions for packed rows)."""
    gdef = graphdef(vocab, cfg)

    def apply(params, tokens_BT, segs_BT=None, poss_BT=None):
        return nnx.merge(gdef, params)(tokens_BT, segs_BT, poss_BT)

    return apply


def make_decoder(vocab: int, cfg: Config):
    """(prefill(params, tokens_BT) -> (logits_BTV, cache), step(params, tok_B, pos_B, cache) ->
    (logits_BV, cache)): the pure functions greedy decoding uses (`probes.greedy`)."""
    gdef = graphdef(vocab, cfg)

    def prefill(params, tokens_BT):
        return nnx.merge(gdef, params).prefill(tokens_BT)

    def step(params, tok_B, pos_B, cache):
        return nnx.merge(gdef, params).step(tok_B, pos_B, cache)

    return prefill, step


def n_params(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))
