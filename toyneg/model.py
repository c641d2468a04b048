"""A small decoder-only transformer in Flax NNX (pre-norm, causal, learned positions).

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

    def __call__(self, x_BTD):
        B, T, D = x_BTD.shape
        H = self.heads
        q, k, v = jnp.split(self.qkv(self.ln1(x_BTD)), 3, axis=-1)
        q_BHTK, k_BHTK, v_BHTK = (a.reshape(B, T, H, D // H).transpose(0, 2, 1, 3) for a in (q, k, v))
        att_BHTT = q_BHTK @ k_BHTK.transpose(0, 1, 3, 2) / jnp.sqrt(D // H).astype(x_BTD.dtype)
        causal_TT = jnp.tril(jnp.ones((T, T), bool))
        att_BHTT = jax.nn.softmax(jnp.where(causal_TT, att_BHTT, -1e9), axis=-1)
        y_BTD = (att_BHTT @ v_BHTK).transpose(0, 2, 1, 3).reshape(B, T, D)
        x_BTD = x_BTD + self.proj(y_BTD)
        return x_BTD + self.down(jax.nn.gelu(self.up(self.ln2(x_BTD))))


class Transformer(nnx.Module):
    """Token + position embeddings, `depth` blocks, final norm, (tied or untied) unembedding."""

    def __init__(self, vocab: int, cfg: Config, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.02)
        self.tied = cfg.tied
        self.embed = nnx.Embed(vocab, cfg.width, embedding_init=init, rngs=rngs)
        self.pos = nnx.Param(init(rngs.params(), (cfg.ctx, cfg.width)))
        self.blocks = nnx.List([Block(cfg.width, cfg.heads, rngs) for _ in range(cfg.depth)]) \
            if hasattr(nnx, "List") else [Block(cfg.width, cfg.heads, rngs) for _ in range(cfg.depth)]
        self.ln_f = nnx.LayerNorm(cfg.width, rngs=rngs)
        if not cfg.tied:
            self.unembed = nnx.Linear(cfg.width, vocab, use_bias=False, kernel_init=init, rngs=rngs)

    def __call__(self, tokens_BT):
        T = tokens_BT.shape[1]
        x_BTD = self.embed(tokens_BT) + self.pos[...][:T]
        for blk in self.blocks:
            x_BTD = blk(x_BTD)
        x_BTD = self.ln_f(x_BTD)
        if self.tied:
            return self.embed.attend(x_BTD)
        return self.unembed(x_BTD)


def graphdef(vocab: int, cfg: Config):
    """The model's static structure (no arrays allocated)."""
    gdef, _ = nnx.split(nnx.eval_shape(lambda: Transformer(vocab, cfg, nnx.Rngs(0))))
    return gdef


def init_params(key, vocab: int, cfg: Config):
    """Fresh parameters from `key` (traceable: usable inside jit and vmap)."""
    _, state = nnx.split(Transformer(vocab, cfg, nnx.Rngs(params=key)))
    return state


def make_apply(vocab: int, cfg: Config):
    """apply(params, tokens_BT) -> logits_BTV, a pure function of the parameter state."""
    gdef = graphdef(vocab, cfg)

    def apply(params, tokens_BT):
        return nnx.merge(gdef, params)(tokens_BT)

    return apply


def n_params(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))
