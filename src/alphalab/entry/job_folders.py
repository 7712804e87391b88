"""Every population member's Hydra job folder, as Hydra's ``run_job`` makes it for the basic
launcher: ``<sweep dir>/<n>/.hydra/`` with ``config.yaml``, ``hydra.yaml`` and ``overrides.yaml``
before the fit, and ``<job name>.log`` after it (the member's result and its MLflow run).

Rendering a job's config costs about 40 ms (OmegaConf's YAML dump), too much for thousands of
members. The jobs of one group differ only in a few plain values (``alpha.real``, ``alpha.imag``,
``seed``) and in what Hydra derives from the job's number and overrides, so each group's config is
dumped once with markers in those places and each member's text is the template with its values
put in. A second member of each group is also rendered the slow way; if the two texts differ
(a config Hydra derives more from), every member of that group is rendered the slow way.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

MARK = "ALPHALABMARK{}Z"  # a plain YAML scalar: dumped unquoted, found again by text


@cache
def _scalar(value: Any) -> str:
    """``value`` as OmegaConf's YAML dump writes it in a mapping."""
    return OmegaConf.to_yaml({"v": value})[3:-1]


def _key(override: str) -> str:
    """An override's ``key_or_group``: no ``+``/``~`` prefix, no ``@package``."""
    return override.split("=")[0].lstrip("+~").split("@")[0]


def _dirname(overrides: list[str], config: DictConfig) -> str:
    """``hydra.job.override_dirname`` as Hydra derives it from the job's overrides."""
    settings = config.hydra.job.config.override_dirname
    excluded = set(settings.exclude_keys)
    lines = sorted(o for o in overrides if _key(o) not in excluded)
    return re.sub("[=]", settings.kv_sep, settings.item_sep.join(lines))


def _set(tree: dict, dotted: str, value: Any) -> bool:
    *path, last = dotted.split(".")
    for key in path:
        tree = tree.get(key)
        if not isinstance(tree, dict):
            return False
    if last not in tree:
        return False
    tree[last] = value
    return True


def fast_folder(config: DictConfig, index: int) -> str | None:
    """Job ``index``'s folder when the sweep's subdir is Hydra's default, the job's number
    (None otherwise: then only the job's own composition can say)."""
    sweep = config.hydra.sweep
    if sweep._get_node("subdir")._value() != "${hydra.job.num}":
        return None
    return os.path.abspath(os.path.join(str(sweep.dir), str(index)))


def rendered(config: DictConfig) -> tuple[str, str, str]:
    """The three ``.hydra`` files of a fully composed job config (the slow, exact way)."""
    tree = OmegaConf.to_container(config, resolve=False)
    hydra = tree.pop("hydra")
    listed = OmegaConf.to_yaml(hydra["overrides"]["task"])
    return OmegaConf.to_yaml(tree), OmegaConf.to_yaml({"hydra": hydra}), listed


class _Template:
    """One group's three files with markers where its members differ."""

    def __init__(self, config: DictConfig, plain: dict[str, Any]) -> None:
        self.config = config
        tree = OmegaConf.to_container(config, resolve=False)
        hydra = tree.pop("hydra")
        self.keys = list(plain)
        self.ok = all(_set(tree, key, MARK.format(f"P{n}")) for n, key in enumerate(self.keys))
        overrides = list(hydra["overrides"]["task"])
        self.positions = [n for n, o in enumerate(overrides) if o.split("=")[0] in plain]
        for n in self.positions:
            hydra["overrides"]["task"][n] = MARK.format(f"T{n}")
        hydra["runtime"]["output_dir"] = MARK.format("O")
        hydra["job"]["id"], hydra["job"]["num"] = MARK.format("I"), MARK.format("N")
        hydra["job"]["override_dirname"] = MARK.format("D")
        self.task, self.hydra = OmegaConf.to_yaml(tree), OmegaConf.to_yaml({"hydra": hydra})

    def render(self, index: int, overrides: list[str], plain: dict[str, Any], folder: str):
        task = self.task
        for n, key in enumerate(self.keys):
            task = task.replace(MARK.format(f"P{n}"), _scalar(plain[key]))
        marks = {
            "O": _scalar(folder),
            "I": _scalar(str(index)),
            "N": _scalar(index),
            "D": _scalar(_dirname(overrides, self.config)),
            **{f"T{n}": _scalar(overrides[n]) for n in self.positions},
        }
        hydra = re.sub(r"ALPHALABMARK(\w+?)Z", lambda m: marks[m.group(1)], self.hydra)
        listed = "".join(f"- {_scalar(o)}\n" for o in overrides)
        return task, hydra, listed


def write(folder: str, files: tuple[str, str, str], subdir: str = ".hydra") -> None:
    """Write a job's ``.hydra`` files into ``folder`` (as Hydra's ``_save_config`` does)."""
    hydra_dir = Path(folder, subdir)
    hydra_dir.mkdir(parents=True, exist_ok=True)
    for name, text in zip(("config.yaml", "hydra.yaml", "overrides.yaml"), files, strict=True):
        (hydra_dir / name).write_text(text)


class JobFolders:
    """The job folders of a population launcher's jobs (``jobs``: ``entry.population.Jobs``)."""

    def __init__(self, jobs) -> None:
        self.jobs = jobs
        self.templates: dict[int, _Template | None] = {}
        self.folders: dict[int, str] = {}

    def _template(self, first: int) -> _Template | None:
        """The group's template, None where only the slow way is right."""
        if first not in self.templates:
            jobs, config = self.jobs, self.jobs.compose(first)
            template = None
            if fast_folder(config, first) is not None:
                template = _Template(config, jobs.plain(first))
                second = next((i for i in jobs.group_of(first) if i != first), None)
                if not template.ok or (
                    second is not None and self._fast(template, second) != self._exact(second)
                ):  # checked once against the slow way
                    template = None
            self.templates[first] = template
        return self.templates[first]

    def _exact(self, index: int) -> tuple[str, str, str]:
        """Job ``index``'s files from its own composition, its folder as ``run_job`` finds it."""
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import open_dict, read_write

        config = self.jobs.compose(index)
        before = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(config)  # ${hydra:...} in the subdir resolves
        try:
            subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
            folder = os.path.abspath(os.path.join(str(config.hydra.sweep.dir), subdir))
        finally:
            HydraConfig.instance().cfg = before
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = folder
        self.folders[index] = folder
        return rendered(config)

    def _fast(self, template: _Template, index: int) -> tuple[str, str, str]:
        folder = fast_folder(template.config, index)
        self.folders[index] = folder
        return template.render(index, self.jobs.overrides[index], self.jobs.plain(index), folder)

    def prepare(self, indices: list[int]) -> None:
        """Write the ``.hydra`` files of jobs ``indices`` (before they train)."""
        for index in indices:
            first = self.jobs.first_of[index]
            template = self._template(first)
            files = self._exact(index) if template is None else self._fast(template, index)
            subdir = self.jobs.compose(first).hydra.output_subdir
            if subdir is not None:
                write(self.folders[index], files, str(subdir))
            else:
                Path(self.folders[index]).mkdir(parents=True, exist_ok=True)

    def folder(self, index: int) -> str | None:
        """Job ``index``'s folder, once prepared."""
        return self.folders.get(index)

    def log(self, index: int, text: str) -> None:
        """The job's ``<job name>.log``: what its run printed."""
        folder = self.folders.get(index)
        if folder is not None:
            name = self.jobs.compose(self.jobs.first_of[index]).hydra.job.name
            Path(folder, f"{name}.log").write_text(text + "\n")
