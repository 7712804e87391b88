"""``python -m experiments.run``: one training run; ``+sweep=alpha`` for the main job (fixed-alpha
grid against learned alpha); ``+search=random|bayesian|hyperband|grid`` for a keras-tuner search."""

import os
import shlex
import sys

import hydra
from omegaconf import DictConfig

from alphalab.config.paths import conf_dir
from alphalab.config.reader import register_resolvers
from alphalab.engine.provenance import COMMAND_ENV
from alphalab.entry import run
from alphalab.entry.preflight import preflight_or_exit
from alphalab.entry.show import show_sweep_config


@hydra.main(version_base=None, config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float:
    """Hydra's entry: compose, then hand the config to alphalab."""
    return run.main(cfg)


if __name__ == "__main__":
    # recorded by every run (provenance.command), also in a sweep's other processes
    os.environ.setdefault(
        COMMAND_ENV, shlex.join(["python", "-m", "experiments.run", *sys.argv[1:]])
    )
    register_resolvers()
    if show_sweep_config(conf_dir(), "config", sys.argv[1:]):
        sys.exit(0)
    preflight_or_exit(conf_dir(), "config", sys.argv[1:])
    try:
        main()
    except KeyboardInterrupt:
        print("alphalab: interrupted", file=sys.stderr)
        sys.exit(130)
