import pytest

from toyneg.config import Config, ConfigError, from_dict


@pytest.mark.parametrize("field,value,allowed", [
    ("width", 0, "positive integer"),
    ("heads", 3, "divisor of width"),
    ("placement", "sideways", "'wrap', 'around'"),
    ("conditions", ["negated", "nonsense"], "non-empty list"),
    ("conditions", [], "non-empty list"),
    ("train_spans", ["doctag"], "span names"),
    ("replay", 1.5, "[0.0, 1.0]"),
    ("lr", -1.0, "non-negative"),
    ("name_tokens", 3, "1 or 2"),
    ("n_values", 40, "from 2 to 20"),
    ("finetune_steps", 2.5, "integer"),
    ("positions", "sinusoidal", "'learned', 'rope'"),
    ("claim_denied", "yes", "true or false"),
    ("deny_stated", 1, "true or false"),
])
def test_bad_values_name_the_field_and_what_is_allowed(field, value, allowed):
    with pytest.raises(ConfigError) as e:
        from_dict({field: value})
    assert f"'{field}'" in str(e.value) and allowed in str(e.value)


def test_unknown_field_is_rejected_with_the_allowed_fields():
    with pytest.raises(ConfigError, match="unknown field.*'widht'.*allowed fields"):
        from_dict({"widht": 64})


def test_hash_is_stable_and_sensitive():
    a, b = Config(seed=1), Config(seed=1)
    assert a.run_hash("v") == b.run_hash("v") == "%s" % a.run_hash("v")
    assert a.run_hash("v") != Config(seed=2).run_hash("v")
    assert a.run_hash("v") != a.run_hash("w")  # the version is part of the key


def test_rotary_positions_need_an_even_head_size():
    with pytest.raises(ConfigError, match="'heads'.*even head size"):
        Config(positions="rope", width=36, heads=4)  # head size 9


def test_a_field_at_its_legacy_value_leaves_the_hash_of_older_runs_unchanged():
    import hashlib
    import json
    from toyneg.config import LEGACY
    c = Config(seed=3, answer_format="direct", monitor_frac=0.0, deny_stated=True, pack=False)
    new = tuple(LEGACY)  # every field added since 0.2.0, here at its legacy value
    assert {"pack", "bio_forms", "deny_frac", "forms", "penalty", "repair"} <= set(new)
    old = {k: v for k, v in c.to_dict().items() if k not in new}
    blob = json.dumps({"v": "0.2.0", **old}, sort_keys=True)
    assert c.run_hash("0.2.0") == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert c.run_hash("0.2.0") != c.replace(positions="rope").run_hash("0.2.0")
    assert c.pretrain_key() != c.replace(positions="rope").pretrain_key()
    assert c.pretrain_key() != c.replace(claim_denied=True).pretrain_key()  # a base-corpus field
    assert c.run_hash("0.2.0") != c.replace(answer_format="recite").run_hash("0.2.0")
    assert c.pretrain_key() != c.replace(answer_format="recite").pretrain_key()
    assert c.pretrain_key() != c.replace(monitor_frac=0.1).pretrain_key()
    # the restatement rule: moot for direct answers (hash unchanged), a corpus field for recite
    assert c.run_hash("0.2.0") == c.replace(restate_denials="asked").run_hash("0.2.0")
    r = c.replace(answer_format="recite")
    assert r.run_hash("0.2.0") != r.replace(restate_denials="asked").run_hash("0.2.0")
    assert r.pretrain_key() != r.replace(restate_denials="asked").pretrain_key()
    assert r.static_key() == r.replace(restate_denials="asked").static_key()
    assert c.run_hash("0.2.0") != c.replace(deny_stated=False).run_hash("0.2.0")
    assert c.pretrain_key() != c.replace(deny_stated=False).pretrain_key()  # a world field
    assert c.static_key() == c.replace(deny_stated=False).static_key()  # content, not shapes
    assert c.run_hash("0.2.0") != c.replace(pack=True).run_hash("0.2.0")
    assert c.pretrain_key() != c.replace(pack=True).pretrain_key()
    # which forms bios deny in: content, unless a form brings words or a wrapper's documents
    p = Config(conditions=("positive", "local_own", "after_false", "negated"))
    assert p.static_key() == p.replace(bio_forms=("after_false",)).static_key()
    assert p.static_key() != p.replace(bio_forms=("negated",)).static_key()
    assert p.static_key() != Config(conditions=("positive", "local_own", "local", "negated")).static_key()
    assert p.run_hash("x") != p.replace(bio_forms=("after_false",)).run_hash("x")


def test_static_key_ignores_swept_and_content_fields():
    a = Config()
    assert a.static_key() == Config(seed=3, lr=1e-2, diversity=1, placement="around",
                                    claim_denied=True).static_key()
    assert a.static_key() == Config(conditions=("local",) * 1 + tuple(c for c in a.conditions
                                                                     if c != "local")).static_key()
    assert a.static_key() != Config(width=32).static_key()


def test_pretrain_key_is_shared_by_fine_tuning_settings():
    a = Config()
    assert a.pretrain_key() == Config(ft_lr=1e-2, diversity=2, replay=0.1).pretrain_key()
    assert a.pretrain_key() != Config(seed=1).pretrain_key()
