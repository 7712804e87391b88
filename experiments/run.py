"""``python -m experiments.run``: one training run; ``+sweep=alpha`` for the main job (fixed-alpha
grid against learned alpha); ``+search=random|bayesian|hyperband|grid`` for a keras-tuner search."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from alphalab import app  # noqa: E402
from alphalab.config import register_resolvers  # noqa: E402

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@hydra.main(version_base=None, config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    return app.main(cfg)


if __name__ == "__main__":
    register_resolvers()
    app.preflight_or_exit(CONF_DIR, "config", sys.argv[1:])
    try:
        main()
    except KeyboardInterrupt:
        print("alphalab: interrupted", file=sys.stderr)
        sys.exit(130)
