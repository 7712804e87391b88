"""``python -m experiments.run --help``, written from ``conf/`` alone: every config group with
its options, every key with its default, and the launchers (Hydra's own --help is several
times slower and lists only the groups)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

HELP = """\
alphalab: should alpha be a fixed hyperparameter or a learned weight?

usage: python -m experiments.run [+sweep=NAME | +search=NAME] [+debug=fast] [KEY=VALUE ...]

  python -m experiments.run                         one training run, logged to MLflow
  python -m experiments.run +sweep=alpha            the main job: fixed-alpha grid vs learned alpha
                                                    (3 seeds x 5 folds; +debug=fast: a quick try)
  python -m experiments.run +search=NAME            keras-tuner search over alpha
                                                    (NAME: {searches})
  python -m experiments.run --cfg job ...           the composed config and, for a sweep, its grid

config groups (GROUP=OPTION; +GROUP=OPTION for the optional ones):
{groups}

launchers (hydra/launcher=NAME; a sweep's default is population):
  population   a sweep's jobs trained together in one Keras graph;
               hydra.launcher.engine=local|ray|submitit_local|submitit_slurm
  basic        one fit after another    joblib   parallel processes (hydra.launcher.n_jobs=2)
  ray, submitit_local, submitit_slurm   Hydra's own (extras: uv sync --extra ray|slurm)

keys (KEY=VALUE; the default after '='; quote values with spaces or braces in bash,
      e.g. 'task.true_alpha={{real: 0.5, imag: 2.0}}'):
{keys}

your own parts: formula=custom formula.name=my_module.my_formula   model.builder=my_module.build
  task=file task.path=data.csv   task=loader task.loader=my_module.load   (see docs/)
review results: python -m experiments.ui   |   python -m experiments.compare [NAME | --list]
Hydra's own options: --hydra-help
"""

WIDTH = 100


def leaves(node, prefix: str = "") -> dict[str, str]:
    """Every leaf key of a config with its value as text (``task.split: random``)."""
    found: dict[str, str] = {}
    if isinstance(node, DictConfig) and len(node) > 0:
        for key in node:
            if key in ("defaults", "hydra") or str(key).startswith("_"):
                continue
            found.update(leaves(node._get_node(key), f"{prefix}{key}."))
        return found
    if isinstance(node, ListConfig):
        return {prefix[:-1]: ",".join(str(v) for v in node)}
    if isinstance(node, DictConfig):  # an empty mapping
        found[prefix[:-1]] = "{}"
        return found
    value = node._value() if hasattr(node, "_value") else node
    if value is None or isinstance(value, bool):
        found[prefix[:-1]] = {None: "null", True: "true", False: "false"}[value]
    else:
        found[prefix[:-1]] = str(value)
    return found


def group_keys(folder: Path) -> dict[str, str]:
    """The keys a config group's options set, prefixed as they land (``# @package _global_``
    files set keys at the top); the first option's value, or ``...`` where options differ."""
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        prefix = "" if "@package _global_" in path.read_text() else f"{folder.name}."
        for key, value in leaves(OmegaConf.load(path), prefix).items():
            if key.endswith(".name") and prefix and key.count(".") == 1:
                continue  # an option's own name
            found[key] = value if found.get(key, value) == value else "..."
    return found


def help_text(conf_dir: Path) -> str:
    """The app's help, from the conf/ folder alone."""
    groups = []
    for group in sorted(p for p in conf_dir.iterdir() if p.is_dir()):
        options = sorted(f.stem for f in group.glob("*.yaml"))
        groups.append(f"  {group.name:<10} {', '.join(options)}")
    keys = leaves(OmegaConf.load(conf_dir / "config.yaml"))
    for group in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name != "debug"):
        for key, value in group_keys(group).items():
            keys.setdefault(key, value)
    by_section: dict[str, list[str]] = {}
    for key in sorted(keys):
        shown = keys[key] if len(keys[key]) <= 24 else keys[key][:21] + "..."
        by_section.setdefault(key.split(".")[0], []).append(f"{key}={shown}")
    lines = []
    for items in by_section.values():
        line = " "
        for item in items:
            if len(line) + len(item) + 2 > WIDTH:
                lines.append(line.rstrip())
                line = " "
            line += f" {item} "
        lines.append(line.rstrip())
    searches = ", ".join(sorted(f.stem for f in (conf_dir / "search").glob("*.yaml")))
    return HELP.format(groups="\n".join(groups), searches=searches, keys="\n".join(lines))
