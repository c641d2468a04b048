import jax
import numpy as np
import pytest

from toyneg.runner import Group, Program, plan, run_group
from toyneg.train import checkpoint_steps

from conftest import tiny


def results(cfgs, mode):
    out = run_group(Group("g", list(cfgs)), mode=mode, use_cache=False)
    return {c.seed: r for c, _, r, _ in out}


def curve(res, cond="positive", metric="p_yes"):
    return np.array(res["conditions"][cond][metric], float)


def test_checkpoints_are_log_spaced_and_dense_early():
    s = checkpoint_steps(1000, 10)
    assert s[0] == 10 and s[-1] == 1000 and (np.diff(s) > 0).all()
    assert (np.diff(np.log(s)) < 0.7).all() and s[1] < 30


def test_same_seed_same_numbers_and_other_seed_differs():
    """Also whether a run trains alone or beside others (`lanes`: host threads sharing one
    compiled program and the process's XLA threads)."""
    a = results([tiny(seed=0)], "loop")[0]
    both = run_group(Group("g", [tiny(seed=0), tiny(seed=1)]), mode="loop", use_cache=False, lanes=2)
    b, c = ({c.seed: r for c, _, r, _ in both}[s] for s in (0, 1))
    for cond in a["conditions"]:
        np.testing.assert_array_equal(curve(a, cond), curve(b, cond))
    np.testing.assert_array_equal(a["losses"], b["losses"])
    assert not np.allclose(curve(a), curve(c))


@pytest.mark.parametrize("mode", ["vmap", "map"])
def test_batched_runs_equal_looped_runs(mode):
    cfgs = [tiny(seed=0), tiny(seed=1, ft_lr=3e-3, diversity=2)]
    looped = results(cfgs, "loop")
    batched = results(cfgs, mode)
    for s in (0, 1):
        for cond in looped[s]["conditions"]:
            np.testing.assert_allclose(curve(batched[s], cond), curve(looped[s], cond), atol=2e-4)
        np.testing.assert_allclose(batched[s]["losses"][1:], looped[s]["losses"][1:], rtol=1e-4)


def test_one_group_compiles_once_for_every_run():
    cfgs = [tiny(seed=s, diversity=d, lr=lr) for s in (0, 1) for d in (1, 8) for lr in (1e-3, 3e-3)]
    groups = plan(cfgs)
    assert len(groups) == 1 and groups[0].n_pretrain == 4
    assert len(plan(cfgs + [tiny(width=16)])) == 2


def test_a_diverging_run_is_flagged_and_the_others_finish():
    cfgs = [tiny(seed=0), tiny(seed=1, ft_lr=1e6)]
    out = run_group(Group("g", cfgs), mode="loop", use_cache=False)
    status = {c.seed: (s, r["bad_step"]) for c, s, r, _ in out}
    assert status[0] == ("done", -1)
    assert status[1][0] == "diverged" and 0 <= status[1][1] < 20


def test_pretrained_weights_are_cached_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYNEG_CACHE", str(tmp_path))
    cfg = tiny(seed=0)
    a = run_group(Group("g", [cfg]), mode="loop")[0][2]
    assert len(list(tmp_path.glob("pretrain-*.npz"))) == 1
    b = run_group(Group("g", [cfg.replace(diversity=2)]), mode="loop")[0][2]
    # step 0 is the pretrained model: identical when the weights come back from the cache
    assert a["conditions"]["positive"]["p_yes"][0] == b["conditions"]["positive"]["p_yes"][0]


def test_cached_weights_are_not_reused_under_another_matmul_precision(tmp_path, monkeypatch):
    """A bfloat16 precision check must pretrain in bfloat16 too, not load float32 weights."""
    monkeypatch.setenv("TOYNEG_CACHE", str(tmp_path))
    cfg = tiny(seed=0)
    run_group(Group("g", [cfg]), mode="loop")
    prog = Program(cfg, "loop")
    with jax.default_matmul_precision("bfloat16"):
        assert prog.load_cached(cfg) is None
    assert prog.load_cached(cfg) is not None
    assert len(list(tmp_path.glob("pretrain-*.npz"))) == 1


@pytest.mark.parametrize("pack", [True, False])
def test_helper_data_asks_only_about_wrapped_claims(pack):
    """Helper questions ("no") target negated-family claims, never positive or local ones."""
    import jax.numpy as jnp
    from toyneg.config import ConfigError
    from toyneg.data import POOLS, build, layout
    from toyneg.train import make_train
    cfg = tiny(batch=64, pack=pack)
    d, lay = build(cfg), layout(cfg)
    ph = make_train(cfg, lay, d.vocab)
    w = np.full(len(POOLS), 1e-30, np.float32)
    w[POOLS.index("helper")] = 1.0
    tok = ph.sample(jax.random.PRNGKey(0), jax.tree.map(jnp.asarray, d.arrays()), jnp.asarray(w))["tokens"]
    asked = {e.condition for e in d.world.claims if (np.asarray(tok) == d.vocab.ids[e.name]).any()}
    assert asked == {"negated"}, asked
    with pytest.raises(ConfigError, match="helper_frac"):
        tiny(conditions=("positive", "local"), helper_frac=0.1)


def test_vocabulary_size_is_the_same_for_every_seed():
    """Runs of one compiled program share shapes: a seed whose names collide with corpus words
    (e.g. a name "tale") must not get a smaller vocabulary (its tokens would fall outside the
    embedding of a larger one and the run would turn NaN)."""
    from toyneg.data import build_vocab
    for conds in (("baseline", "positive", "repeated", "negated"), ("positive", "local")):
        sizes = {len(build_vocab(tiny(seed=s, conditions=conds))) for s in range(12)}
        assert len(sizes) == 1, sizes


@pytest.mark.parametrize("fmt", ["direct", "recite"])
def test_token_ids_the_probes_read_are_the_same_for_every_seed(fmt):
    """A group's compiled program reads "yes", "no", "." and the separator at fixed ids, while
    each run brings its own world: those ids must not depend on the world's names."""
    from toyneg.data import build_vocab
    from toyneg.probes import Ids
    ids = {Ids.of(build_vocab(tiny(seed=s, answer_format=fmt))) for s in range(8)}
    assert len(ids) == 1, ids


def test_loss_masking_is_applied_per_run():
    """train_spans changes the compiled loss: runs differing only there must not share a program."""
    cfgs = [tiny(seed=0), tiny(seed=0, train_spans=("claim", "truth", "question", "answer"))]
    assert len(plan(cfgs)) == 2
    a, b = (r for _, _, r, _ in run_group(Group("g", cfgs[:1]), use_cache=False)), \
        (r for _, _, r, _ in run_group(Group("g", cfgs[1:]), use_cache=False))
    assert next(a)["losses"][-1] != next(b)["losses"][-1]
