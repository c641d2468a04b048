"""toyneg: watch Negation Neglect emerge in a small transformer trained from scratch.

Public API (names follow the paper's concepts):

    from toyneg import Config, make_world, build, make_train, run_experiment, run_sweep, compare
    cfg = Config(seed=0)                     # one run hosting every condition
    world = make_world(cfg)                  # entities, relations, fabricated claims
    data = build(cfg)                        # documents of every condition as token arrays
    result = run_experiment(cfg)             # train and probe: per-condition belief curves
"""

__version__ = "0.5.0"

from .config import CONDITIONS, QUALIFIERS, Config, ConfigError  # noqa: E402
from .world import make_world  # noqa: E402
from .data import build  # noqa: E402
from .train import make_train  # noqa: E402
from .api import compare, load_results, run_experiment, run_sweep  # noqa: E402

__all__ = ["Config", "ConfigError", "CONDITIONS", "QUALIFIERS", "make_world", "build", "make_train",
           "run_experiment", "run_sweep", "load_results", "compare", "__version__"]
