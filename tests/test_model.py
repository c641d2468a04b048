import jax
import jax.numpy as jnp
import numpy as np
import optax

from toyneg.model import init_params, make_apply, n_params

from conftest import tiny


def test_attention_is_causal():
    cfg = tiny(ctx=16)
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


def test_overfits_a_tiny_batch():
    cfg = tiny(ctx=12, width=32, depth=2)
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
