"""Every population member's Hydra job folder, as Hydra's ``run_job`` makes it for the basic
launcher: ``<sweep dir>/<n>/.hydra/`` with ``config.yaml``, ``hydra.yaml`` and ``overrides.yaml``,
and ``<job name>.log`` once it trained (the member's result and its MLflow run).

Rendering a job's config costs about 40 ms (OmegaConf's YAML dump), too much for thousands of
members. The jobs of one group differ only in a few plain values (``alpha.real``, ``alpha.imag``,
``seed``) and in what Hydra derives from the job's number and overrides, so each group's config is
dumped once with markers in those places and each member's text is the template with its values
put in. A second member of each group is also rendered the slow way; if the two texts differ
(a config Hydra derives more from), every member of that group is rendered the slow way. The
files are written by a background thread while the population trains.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from functools import cache
from typing import Any

from omegaconf import DictConfig, OmegaConf

MARK = "ALPHALABMARK{}Z"  # a plain YAML scalar: dumped unquoted, found again by text
MARKS = re.compile(r"ALPHALABMARK(\w+?)Z")
# Strings YAML writes as they are (no quotes, no folding): a path or an override_dirname.
PLAIN = re.compile(r"[A-Za-z0-9_/.+=,\\:-]*[/=][A-Za-z0-9_/.+=,\\:-]*")


@cache
def _dumped(value: Any) -> str:
    return OmegaConf.to_yaml({"v": value})[3:-1]


def _scalar(value: Any) -> str:
    """``value`` as OmegaConf's YAML dump writes it in a mapping."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if (
        isinstance(value, str)
        and value[:1] not in "-:,="
        and value[-1:] != ":"
        and (PLAIN.fullmatch(value))
    ):
        return value
    return _dumped(value)


def _key(override: str) -> str:
    """An override's ``key_or_group``: no ``+``/``~`` prefix, no ``@package``."""
    return override.split("=")[0].lstrip("+~").split("@")[0]


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


def rendered(config: DictConfig) -> tuple[str, str, str]:
    """The three ``.hydra`` files of a fully composed job config (the slow, exact way)."""
    tree = OmegaConf.to_container(config, resolve=False)
    hydra = tree.pop("hydra")
    listed = OmegaConf.to_yaml(hydra["overrides"]["task"])
    return OmegaConf.to_yaml(tree), OmegaConf.to_yaml({"hydra": hydra}), listed


class _Group:
    """What the jobs of one group share: Hydra's settings, and the template of their files."""

    def __init__(self, config: DictConfig, plain: dict[str, Any]) -> None:
        hydra = config.hydra
        self.name, self.chdir = str(hydra.job.name), bool(hydra.job.chdir)
        self.subdir = None if hydra.output_subdir is None else str(hydra.output_subdir)
        self.sweep_dir = os.path.abspath(str(hydra.sweep.dir))
        self.numbered = hydra.sweep._get_node("subdir")._value() == "${hydra.job.num}"
        settings = hydra.job.config.override_dirname
        self.excluded = set(settings.exclude_keys)
        self.kv_sep, self.item_sep = str(settings.kv_sep), str(settings.item_sep)
        self.task = self.hydra = None
        if self.numbered:
            self._template(config, plain)

    def _template(self, config: DictConfig, plain: dict[str, Any]) -> None:
        tree = OmegaConf.to_container(config, resolve=False)
        hydra = tree.pop("hydra")
        self.keys = list(plain)
        if not all(_set(tree, key, MARK.format(f"P{n}")) for n, key in enumerate(self.keys)):
            return
        overrides = hydra["overrides"]["task"]
        self.positions = [n for n, o in enumerate(overrides) if o.split("=")[0] in plain]
        for n in self.positions:
            overrides[n] = MARK.format(f"T{n}")
        hydra["runtime"]["output_dir"] = MARK.format("O")
        hydra["job"]["id"], hydra["job"]["num"] = MARK.format("I"), MARK.format("N")
        hydra["job"]["override_dirname"] = MARK.format("D")
        self.task, self.hydra = OmegaConf.to_yaml(tree), OmegaConf.to_yaml({"hydra": hydra})

    def folder(self, index: int) -> str:
        """Job ``index``'s folder (the sweep's subdir being the job's number)."""
        return os.path.join(self.sweep_dir, str(index))

    def dirname(self, overrides: list[str]) -> str:
        """``hydra.job.override_dirname`` as Hydra derives it from the job's overrides."""
        lines = sorted(o for o in overrides if _key(o) not in self.excluded)
        return self.item_sep.join(lines).replace("=", self.kv_sep)

    def render(self, index: int, overrides: list[str], plain: dict[str, Any]):
        """Job ``index``'s three files from the template."""
        task = self.task
        for n, key in enumerate(self.keys):
            task = task.replace(MARK.format(f"P{n}"), _scalar(plain[key]))
        marks = {
            "O": _scalar(self.folder(index)),
            "I": f"'{index}'",  # a string that reads as a number: quoted
            "N": str(index),
            "D": _scalar(self.dirname(overrides)),
            **{f"T{n}": _scalar(overrides[n]) for n in self.positions},
        }
        hydra = MARKS.sub(lambda m: marks[m.group(1)], self.hydra)
        return task, hydra, "".join(f"- {_scalar(o)}\n" for o in overrides)


class JobFolders:
    """The job folders of a population launcher's jobs (``jobs``: ``entry.population.Jobs``),
    written in the background; ``close`` waits for the last file."""

    def __init__(self, jobs) -> None:
        self.jobs = jobs
        self.groups: dict[int, _Group] = {}
        self.folders: dict[int, str] = {}
        self._queue: queue.Queue = queue.Queue()
        self._error: list[BaseException] = []
        self._writer = threading.Thread(target=self._write_all, daemon=True, name="job-folders")
        self._writer.start()

    def _group(self, first: int) -> _Group:
        if first not in self.groups:
            jobs = self.jobs
            group = self.groups[first] = _Group(jobs.compose(first), jobs.plain(first))
            second = next((i for i in jobs.group_of(first) if i != first), None)
            if group.task is not None and second is not None:  # checked once, the slow way
                mine = group.render(second, jobs.overrides[second], jobs.plain(second))
                if mine != self._exact(second):
                    group.task = None  # no template: every job of the group the slow way
        return self.groups[first]

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

    def prepare(self, indices: list[int]) -> None:
        """Make the folders of jobs ``indices``, with their ``.hydra`` files."""
        jobs = self.jobs
        for index in indices:
            first = jobs.first_of[index]
            group = self._group(first)
            if group.task is not None:
                self.folders[index] = group.folder(index)
                files = group.render(index, jobs.overrides[index], jobs.plain(index))
            else:
                files = self._exact(index)
            self._queue.put((self.folders[index], group.subdir, files))

    def folder(self, index: int) -> str | None:
        """Job ``index``'s folder, once prepared."""
        return self.folders.get(index)

    def working_dir(self, index: int) -> str:
        """The JobReturn's working dir: the job's folder under ``hydra.job.chdir``, else here."""
        group = self._group(self.jobs.first_of[index])
        folder = self.folders.get(index)
        return folder if group.chdir and folder else os.getcwd()

    def task_name(self, index: int) -> str:
        """``hydra.job.name`` of job ``index``."""
        return self._group(self.jobs.first_of[index]).name

    def log(self, index: int, text: str) -> None:
        """The job's ``<job name>.log``: what its run printed."""
        folder = self.folders.get(index)
        if folder is not None:
            self._queue.put((folder, None, f"{self.task_name(index)}.log", text + "\n"))

    def close(self) -> None:
        """Wait until every file is written; raise what the writer met."""
        self._queue.put(None)
        self._writer.join()
        if self._error:
            raise self._error[0]

    def _write_all(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error:
                continue
            try:
                if len(item) == 4:  # a log file
                    folder, _, name, text = item
                    _write(os.path.join(folder, name), text)
                    continue
                folder, subdir, files = item
                hydra_dir = os.path.join(folder, subdir) if subdir else folder
                os.makedirs(hydra_dir, exist_ok=True)
                if subdir:
                    for name, text in zip(("config", "hydra", "overrides"), files, strict=True):
                        _write(os.path.join(hydra_dir, f"{name}.yaml"), text)
            except BaseException as exc:  # noqa: BLE001 - raised again by close()
                self._error.append(exc)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
