"""Every bad input is one clear paragraph on stderr, exit code 2, no traceback, and an existing
store left byte-identical: sweep files, `toyneg.run field=value`, --shard, --merge, --compare."""

import hashlib
import os

import pytest

from toyneg import __version__
from toyneg import run as run_cli
from toyneg.probes import METRICS
from toyneg.store import Store
from toyneg.sweep import main
from toyneg.sweepfile import expand, load

HERE = os.path.dirname(__file__)
TINY = open(os.path.join(HERE, "data", "tiny.toml")).read()
BASE = TINY.split("[axes]")[0]  # name, description and [base] of the tiny sweep


def fingerprint(folder) -> dict:
    """Every file under `folder` (and which exist), by content."""
    out = {}
    for d, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """An output folder holding a store of the tiny sweep's runs (hand-made results)."""
    out = tmp_path_factory.mktemp("stored")
    path = out / "tiny.toml"
    path.write_text(TINY)
    store = Store(str(out / "store.sqlite"))
    for c in expand(load(str(path))):
        curve = {m: [0.5, 0.1 * (1 + c.seed)] for m in METRICS}
        store.put(c.run_hash(__version__), "done", c.to_dict(),
                  {"steps": [0, 10], "conditions": {k: curve for k in c.conditions}, "monitor": {},
                   "losses": [None, 1.0], "bad_step": -1}, 1.0)
    store.close()
    (out / "hyp.toml").write_text(TINY + "[hypotheses.h]\na = 'negated'\nb = 'local'\nexpect = 'a > b'\n")
    (out / "junk").mkdir()
    (out / "junk" / "store.sqlite").write_text("not a database")
    return out


SWEEP_FILES = [  # (sweep file text, what the message must name)
    (BASE + "widht = 3\n", ["'widht'", "allowed fields"]),
    (BASE + "[axes]\nwidth = [-3]\n", ["'width' = -3", "positive integer"]),
    (BASE + "[axes]\nseed = []\n", ["'seed'", "non-empty list"]),
    ("[base\nwidth = 3\n", ["malformed TOML"]),
    (BASE + "[axes]\nplacement = ['wrap', 'diagonal']\n", ["'placement'", "'around'"]),
    (BASE + "lr = nan\n", ["'lr' = nan", "finite"]),
    (BASE + "ft_lr = inf\n", ["'ft_lr' = inf", "finite"]),
    (BASE + "weight_decay = -1.0\n", ["'weight_decay'", "non-negative"]),
    (BASE + "ctx = 8\n", ["'ctx' = 8", "raise 'ctx'"]),
    (BASE + "[axes]\nctx = [104, 40]\n", ["'ctx' = 40", "raise 'ctx'"]),
    (BASE + "name_tokens = 2\nctx = 40\n", ["'ctx' = 40", "sweeps/names2.toml"]),
    ("colour = 'red'\n" + BASE, ["'colour'", "allowed"]),
    (BASE + "[zip]\nlr = [1e-3, 2e-3]\nft_lr = [1e-3]\n", ["[zip]", "same length"]),
    (BASE + "[axes]\nlr = [1e-3]\n[zip]\nlr = [2e-3]\n", ["'lr'", "both [axes] and [zip]"]),
    (BASE + "[axes]\nconditions = [['baseline', 'nonsense']]\n", ["'conditions'", "distinct names"]),
    (BASE + "n_values = 50\n", ["'n_values' = 50", "from 2 to 20"]),
    (BASE + "[axes]\nheads = [3]\n", ["'heads' = 3", "divisor of width"]),
    (BASE + "qa_frac = 0.6\nicl_frac = 0.5\n", ["'qa_frac'", "< 1"]),
    (BASE + "[axes]\nfinetune_steps = [2.5]\n", ["'finetune_steps' = 2.5", "integer"]),
    (BASE + "replay = 1.5\n", ["'replay' = 1.5", "[0.0, 1.0]"]),
    (BASE + "answer_format = 'terse'\n", ["'answer_format'", "'recite'"]),
    (BASE + "restate_denials = 'always'\n", ["'restate_denials'", "'asked'", "'silent'"]),
    (BASE + "[axes]\nseed = [0, -1]\n", ["'seed' = -1", "seed=-1", "non-negative"]),
    # 0.5.0: forms, bio forms, penalty, corrections, repair, phase 2, packing
    (BASE + "penalty = 'unlikelihood'\npenalty_weight = -1.0\n", ["'penalty_weight' = -1.0", "non-negative"]),
    (BASE + "penalty_weight = 0.5\n", ["'penalty_weight' = 0.5", "penalty = \"unlikelihood\""]),
    (BASE + "penalty = 'shame'\n", ["'penalty' = 'shame'", "'unlikelihood'"]),
    (BASE + "corrections = ['truth', 'rumour']\n", ["'corrections'", "'check'"]),
    (BASE + "repair = 'truth_only'\n", ["'repair' = 'truth_only'", "phase2_steps > 0"]),
    (BASE + "repair = 'positive'\nphase2_steps = 10\n", ["'repair' = 'positive'", "does not assert the claim"]),
    (BASE + "repair = 'nostrum'\nphase2_steps = 10\n", ["'repair' = 'nostrum'", "name of a form"]),
    (BASE + "bio_forms = ['truth_only']\n", ["'bio_forms'", "forms that deny"]),
    (BASE + "bio_forms = ['negated']\npack = false\n", ["'bio_forms'", "pack = false"]),
    (BASE + "deny_frac = 1.5\n", ["'deny_frac' = 1.5", "[0.0, 1.0]"]),
    (BASE + "phase2_replay = 0.5\n", ["'phase2_steps'", "phase2_replay"]),
    (BASE + "[forms.x]\nposition = 'sideways'\ncity = ['{x} lives in {v}']\njob = ['{x} works as {v}']\n"
            "sport = ['{x} plays {v}']\n", ["form 'x'", "position 'sideways'"]),
    (BASE + "[forms.y]\nposition = 'after'\ncity = ['{x} lives in {v}']\n", ["form 'y'", "'job'"]),
    # 0.6.0: hypotheses and the seed plan
    (TINY + "[hypotheses.h]\na = 'negated'\nb = 'fiction'\nexpect = 'a > b'\n",
     ["[hypotheses.h]", "side b = 'fiction'", "selects nothing"]),
    (TINY + "[hypotheses.h]\na = 'negated,colour=red'\nb = 'local'\nexpect = 'a > b'\n",
     ["[hypotheses.h]", "'colour' is not an axis"]),
    (TINY + "[hypotheses.h]\na = 'negated'\nb = 'local'\nexpect = 'a > b'\nmetric = 'bliss'\n",
     ["[hypotheses.h]", "metric 'bliss' does not exist", "allowed"]),
    (TINY + "[hypotheses.h]\na = 'negated'\nb = 'local'\nexpect = '|a - b| < 0'\n",
     ["[hypotheses.h]", "margin must be > 0"]),
    (TINY + "[hypotheses.h]\na = 'negated'\nb = 'local'\nexpect = 'a >> b'\n",
     ["[hypotheses.h]", "is not one of"]),
    (TINY + "[hypotheses.h]\na = 'negated'\nb = 'local'\nexpect = 'a > b'\nhalf_width = 0\n",
     ["[hypotheses.h]", "half_width", "(0, 1]"]),
    (TINY + "[hypotheses.h]\na = 'negated'\nb = 'local'\nexpect = 'a > b'\nbet = 1\n",
     ["[hypotheses.h]", "unknown key", "'bet'"]),
    (TINY + "[decide]\nseeds_max = 1\n", ["[decide] seeds_max = 1", "below the 2 seeds"]),
    (TINY + "[decide]\nseeds_step = 0\n", ["[decide] seeds_step", "positive integer"]),
]


def check(code, err, stored, before, needles):
    assert code == 2
    assert "Traceback" not in err
    text = err.strip()
    assert text.startswith("error: ") and "\n\n" not in text, text  # one paragraph
    for n in needles:
        assert n in text, (n, text)
    assert fingerprint(stored) == before  # the store and every other file: byte-identical


@pytest.mark.parametrize("text,needles", SWEEP_FILES, ids=range(len(SWEEP_FILES)))
def test_bad_sweep_file(tmp_path, capsys, stored, text, needles):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    before = fingerprint(stored)
    for extra in ([], ["--dry-run"]):
        code = main([str(path), "--out", str(stored), *extra])
        check(code, capsys.readouterr().err, stored, before, needles + [str(path)])


FLAGS = [  # (arguments after the sweep file, what the message must name)
    (["nosuch_sweep"], ["nosuch_sweep", "canonical sweeps", "'default'"]),
    (["{tiny}", "--shard", "3/2"], ["--shard '3/2'", "0 <= I < N"]),
    (["{tiny}", "--shard", "half"], ["--shard 'half'", "I/N"]),
    (["{tiny}", "--out", "{out}/junk"], ["--out", "is not a toyneg store", "choose another"]),
    (["{tiny}", "--merge", "{out}/missing"], ["--merge", "does not exist", "finished shards"]),
    (["{tiny}", "--merge", "{out}/junk"], ["--merge", "is not a toyneg store", "finished shards"]),
    (["{tiny}", "--compare", "local", "colour=red"], ["'colour' is not a varying axis", "diversity"]),
    (["{tiny}", "--compare", "local", "negated", "--metric", "nonsense"], ["'nonsense'", "allowed"]),
    (["{tiny}", "--compare", "local", "corrected"], ["'corrected' matches no stored run"]),
    (["{tiny}", "--compare", "local", "negated", "--out", "{out}/junk"], ["--compare", "not a toyneg store"]),
    (["{tiny}", "--compare", "local", "negated", "--out", "{out}/none"], ["--compare", "does not exist", "run the sweep first"]),
    (["{tiny}", "--compare", "local", "negated"], ["failed the validity gate", "--allow-invalid"]),
    (["{tiny}", "--lanes", "0"], ["--lanes 0", "positive number"]),
    (["{hyp}", "--until-decided", "--budget", "0"], ["--budget 0", "positive number of minutes"]),
    (["{hyp}", "--until-decided", "--budget", "-5"], ["--budget -5", "positive number of minutes"]),
    (["{tiny}", "--until-decided"], ["--until-decided", "states no hypotheses"]),
    (["{hyp}", "--until-decided"], ["--until-decided", "no seeds to add", "seeds_max"]),
    (["{hyp}", "--dry-run", "--pilot", "{out}/nowhere"], ["--pilot", "no store.sqlite"]),
    (["{hyp}", "--budget", "5"], ["--budget limits --until-decided"]),
]


@pytest.mark.parametrize("args,needles", FLAGS, ids=range(len(FLAGS)))
def test_bad_flag(capsys, stored, args, needles):
    before = fingerprint(stored)
    fill = lambda a: a.format(tiny=stored / "tiny.toml", out=stored, hyp=stored / "hyp.toml")  # noqa: E731
    argv = [fill(a) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(stored)]
    code = main(argv)
    check(code, capsys.readouterr().err, stored, before, [fill(n) for n in needles])


RUN_ARGS = [
    (["width=-1"], ["'width' = -1", "positive integer"]),
    (["lr=NaN"], ["'lr' = nan", "finite"]),
    (["ctx=8", "n_entities=16", "n_readers=16", "n_claims=2"], ["'ctx' = 8", "raise 'ctx'"]),
    (["widht=3"], ["'widht'", "allowed fields"]),
    (["width"], ["'width' is not field=value", "fields:"]),
]


@pytest.mark.parametrize("args,needles", RUN_ARGS, ids=range(len(RUN_ARGS)))
def test_bad_single_run_argument(tmp_path, capsys, stored, args, needles):
    before = fingerprint(stored)
    code = run_cli.main(args + ["--json", str(tmp_path / "run.json")])
    check(code, capsys.readouterr().err, stored, before, needles)
    assert not (tmp_path / "run.json").exists()


def test_the_battery_covers_at_least_twenty_bad_inputs():
    assert len(SWEEP_FILES) + len(FLAGS) + len(RUN_ARGS) >= 20
