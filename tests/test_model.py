import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from toyneg.model import init_params, make_apply, n_params

from conftest import tiny


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_attention_is_causal(positions):
    cfg = tiny(ctx=16, positions=positions)
    apply = make_apply(50, cfg)
    p = init_params(jax.random.PRNGKey(0), 50, cfg)
    x = jax.random.randint(jax.random.PRNGKey(1), (2, 16), 0, 50)
    y = x.at[:, 9:].set((x[:, 9:] + 7) % 50)  # change only the future
    a, b = apply(p, x), apply(p, y)
    np.testing.assert_allclose(a[:, :9], b[:, :9], atol=1e-5)
    assert not np.allclose(a[:, 9:], b[:, 9:])


def test_tied_embeddings_have_fewer_parameters():
    untied = n_params(init_params(jax.random.PRNGKey(0), 50, tiny()))
    tied = n_params(init_params(jax.random.PRNGKey(0), 50, tiny(tied=True)))
    assert untied - tied == 50 * 32


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_overfits_a_tiny_batch(positions):
    cfg = tiny(ctx=12, width=32, depth=2, positions=positions)
    apply = make_apply(20, cfg)
    params = init_params(jax.random.PRNGKey(0), 20, cfg)
    tok = jax.random.randint(jax.random.PRNGKey(3), (4, 13), 0, 20)

    def loss(p):
        logp = jax.nn.log_softmax(apply(p, tok[:, :-1]))
        return -jnp.take_along_axis(logp, tok[:, 1:, None], -1).mean()

    opt = optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def step(p, s):
        l, g = jax.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, l

    first = float(loss(params))
    for _ in range(300):
        params, state, l = step(params, state)
    assert first > 2.5 and float(l) < 0.05


def test_causal_softmax_equals_masked_softmax_and_its_gradient():
    from toyneg.model import causal_softmax
    s = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 7, 7)) * 5
    mask = jnp.tril(jnp.ones((7, 7), bool))
    ref = lambda x: jax.nn.softmax(jnp.where(mask, x, -jnp.inf), -1)  # noqa: E731
    assert jnp.allclose(causal_softmax(s), ref(s), atol=1e-6)
    w = jax.random.normal(jax.random.PRNGKey(1), s.shape)
    g1 = jax.grad(lambda x: (causal_softmax(x) * w).sum())(s)
    g2 = jax.grad(lambda x: (ref(x) * w).sum())(s)
    assert jnp.allclose(g1, g2, atol=1e-5)


def test_rotary_scores_depend_only_on_the_offset():
    from toyneg.model import rope_tables, rotate
    q = jax.random.normal(jax.random.PRNGKey(0), (8,))
    k = jax.random.normal(jax.random.PRNGKey(1), (8,))
    cos, sin = rope_tables(12, 8)
    x = jnp.broadcast_to(q, (1, 1, 12, 8))
    y = jnp.broadcast_to(k, (1, 1, 12, 8))
    s = rotate(x, cos, sin)[0, 0] @ rotate(y, cos, sin)[0, 0].T  # s[i, j] = q at i . k at j
    np.testing.assert_allclose(s[5, 2], s[9, 6], rtol=1e-4)   # offset 3 both
    np.testing.assert_allclose(s[3, 3], q @ k, rtol=1e-4)     # offset 0: no rotation
    assert not np.isclose(s[5, 2], s[5, 4])


def test_rotary_model_has_no_position_table():
    learned = n_params(init_params(jax.random.PRNGKey(0), 50, tiny()))
    rope = n_params(init_params(jax.random.PRNGKey(0), 50, tiny(positions="rope")))
    assert learned - rope == tiny().ctx * tiny().width
