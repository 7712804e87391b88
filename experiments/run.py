"""``python -m experiments.run``: one training run; ``+sweep=alpha`` for the main job (fixed-alpha
grid against learned alpha); ``+search=random|bayesian|hyperband|grid`` for a keras-tuner search."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from alphalab.config.parse import register_resolvers  # noqa: E402
from alphalab.config.paths import conf_dir  # noqa: E402
from alphalab.entry import run  # noqa: E402
from alphalab.entry.preflight import preflight_or_exit  # noqa: E402


@hydra.main(version_base=None, config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float:
    """Hydra's entry: compose, then hand the config to alphalab."""
    return run.main(cfg)


if __name__ == "__main__":
    register_resolvers()
    preflight_or_exit(conf_dir(), "config", sys.argv[1:])
    try:
        main()
    except KeyboardInterrupt:
        print("alphalab: interrupted", file=sys.stderr)
        sys.exit(130)
