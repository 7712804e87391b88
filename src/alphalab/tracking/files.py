"""Thousands of runs' artifacts written while their metrics go into the store: the two are of
equal cost at that scale (about 1 ms a run each here), and threads would share one interpreter
lock, so a forked process writes the files (it only writes files: no TensorFlow, no store) and
reports which runs' files failed. Few runs, or artifacts to upload, are written in this process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from alphalab.config.names import Status

FORK_AT = 256  # runs from which a process of its own writes their files


class Written:
    """What waits for the files (``wait``), and marks the runs whose files failed FAILED."""

    def __init__(self, children: list, write: Callable, pid: int | None = None, pipe=None):
        self.children, self.write, self.pid, self.pipe = children, write, pid, pipe

    def wait(self) -> None:
        """Return once every run's files are written (or known not to be)."""
        if self.pid is None:
            for child in self.children:
                self.write(child)
            return
        with os.fdopen(self.pipe) as reported:
            text = reported.read()
        _, status = os.waitpid(self.pid, 0)
        try:
            failed = json.loads(text) if status == 0 else None
        except ValueError:
            failed = None
        if failed is None:  # the writer died: nothing says which files are whole
            failed = {
                str(i): f"its artifacts could not be written: their writer (pid {self.pid}) died"
                for i, child in enumerate(self.children)
                if child.files is not None
            }
        for index, error in failed.items():
            child = self.children[int(index)]
            child.status, child.error = Status.FAILED, error


def write_files_beside(children: list, write: Callable, folder_of: Callable) -> Written:
    """Start writing ``children``'s files with ``write(child) -> error or None``: in a forked
    process for many runs whose artifacts go to local folders (``folder_of(child)``), else when
    ``wait`` is called."""
    local = all(folder_of(child) is not None for child in children if child.files is not None)
    if len(children) < FORK_AT or not local or not hasattr(os, "fork"):
        return Written(children, write)
    read, sent = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: write, report, and leave without running any cleanup
        code = 1
        try:
            os.close(read)
            failed = {i: error for i, child in enumerate(children) if (error := write(child))}
            with os.fdopen(sent, "w") as report:
                json.dump(failed, report)
            code = 0
        finally:
            os._exit(code)
    os.close(sent)
    return Written(children, write, pid, read)
