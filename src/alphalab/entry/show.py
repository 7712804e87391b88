"""``python -m experiments.run +sweep=alpha --cfg job``: the grid a sweep will run, then its
first job's config (Hydra's own ``--cfg`` shows one composition, without the grid, and rejects
a swept key on the command line as ambiguous)."""

from __future__ import annotations

from pathlib import Path

from alphalab.config import ConfigError
from alphalab.entry.preflight import fail, hydra_error_line, sweep_values

CFG_FLAGS = ("--cfg", "-c")


def show_sweep_config(conf_dir: Path, config_name: str, argv: list[str]) -> bool:
    """For ``--cfg job`` on a sweep: print its grid and first job's config, return True;
    anything else is Hydra's to print (False)."""
    flags = [i for i, arg in enumerate(argv) if arg in CFG_FLAGS]
    if not flags or argv[flags[0] + 1 : flags[0] + 2] != ["job"]:
        return False
    at = flags[0]
    overrides = [a for a in argv[:at] + argv[at + 2 :] if a not in ("--multirun", "-m")]
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    from alphalab.config.reader import register_resolvers

    register_resolvers()
    try:
        fixed, sweeps = sweep_values(overrides)
        grid = {key: [text for text, _ in values] for key, values in sweeps.items()}
        first = [f"{key}={texts[0]}" for key, texts in grid.items()]
        with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
            cfg = compose(config_name, overrides=fixed + first, return_hydra_config=True)
            params = cfg.hydra.sweeper.get("params") or {}
            # the same parse as preflight's: Hydra's override grammar, not a split on commas
            _, more = sweep_values([f"{k}={v}" for k, v in params.items() if k not in grid])
            grid.update({key: [text for text, _ in values] for key, values in more.items()})
            if not grid:
                return False
            first = [f"{key}={texts[0]}" for key, texts in grid.items()]
            cfg = compose(config_name, overrides=fixed + first)
    except (HydraException, ConfigError) as exc:
        fail(hydra_error_line(exc))
    jobs = 1
    for texts in grid.values():
        jobs *= len(texts)
    folds = int(OmegaConf.select(cfg, "task.folds") or 1)
    per_job = f", each on {folds} folds ({jobs * folds} fits)" if folds > 1 else ""
    print(f"# a sweep of {jobs} jobs{per_job}, then one refit per arm and seed, over:")
    width = max(len(key) for key in grid)
    for key, texts in grid.items():
        print(f"#   {key:<{width}}  {', '.join(texts)}")
    print("# (a key set on the command line replaces its list)\n# the first job's config:")
    print(OmegaConf.to_yaml(cfg), end="")
    return True
