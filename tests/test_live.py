"""A population shows its progress and logs its epochs while it trains: progress lines arrive
as the fit runs (read from the command's output as it comes), and the store holds RUNNING
children's per-epoch metrics before the fit ends, with every epoch exactly once afterwards."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import threading
import time

import pytest

from alphalab.tracking.curves import kept_step
from tests.conftest import ONE_SPLIT
from tests.test_sweep import sweep

EPOCHS = 150
LINE = re.compile(
    r"population 1 \(32 runs; .*\): epoch (\d+)/(\d+), (\d+) live, lowest val_loss so far"
)


def _running_epochs(db) -> int:
    """How many per-epoch val_loss rows RUNNING children have in the store now."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as con:
            (count,) = con.execute(
                "SELECT COUNT(*) FROM metrics m JOIN runs r ON m.run_uuid = r.run_uuid "
                "JOIN latest_metrics l ON l.run_uuid = r.run_uuid AND l.key = 'val_loss' "
                "WHERE r.status = 'RUNNING' AND m.key = 'val_loss' "
                "AND r.run_uuid IN (SELECT run_uuid FROM tags WHERE key = 'mlflow.parentRunId')"
            ).fetchone()
        return count
    except sqlite3.OperationalError:  # not created yet, or locked this instant
        return 0


@pytest.mark.slow
def test_progress_and_metrics_arrive_while_the_population_trains(tmp_path):
    proc = sweep(
        tmp_path,
        "+sweep=alpha",
        *ONE_SPLIT,
        f"train.epochs={EPOCHS}",
        wait=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: list[tuple[float, int, bool]] = []  # (when read, epoch, the command still running)
    stored: list[int] = []
    done = threading.Event()

    def poll_store():
        while not done.is_set():
            count = _running_epochs(tmp_path / "mlflow.db")
            if count:
                stored.append(count)
            time.sleep(0.1)

    poller = threading.Thread(target=poll_store)
    poller.start()
    out = []
    try:
        for line in proc.stdout:
            out.append(line)
            match = LINE.search(line)
            if match:
                seen.append((time.monotonic(), int(match[1]), proc.poll() is None))
        proc.wait(timeout=600)
    finally:
        done.set()
        poller.join()
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr[-3000:]
    epochs = [epoch for _, epoch, _ in seen]
    assert epochs[0] <= 2 and epochs[-1] == EPOCHS, "".join(out)[-3000:]
    assert epochs == sorted(epochs) and len(set(epochs)) >= 3
    assert all(running for _, _, running in seen)
    assert seen[-1][0] - seen[0][0] >= 1.0  # lines came as the fit ran, not all at its end
    assert stored and max(stored) >= 32  # RUNNING children had epochs (and a latest value)
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        counts = con.execute(
            "SELECT r.status, COUNT(*) FROM metrics m JOIN runs r ON m.run_uuid = r.run_uuid "
            "JOIN tags t ON t.run_uuid = r.run_uuid "
            "AND t.key = 'alphalab.kind' AND t.value = 'run' "
            "WHERE m.key IN ('loss', 'val_loss') GROUP BY r.run_uuid, m.key"
        ).fetchall()
        latest = con.execute(
            "SELECT COUNT(*) FROM latest_metrics l JOIN metrics m ON m.run_uuid = l.run_uuid "
            "AND m.key = l.key AND m.step = l.step WHERE l.key = 'val_loss' AND m.step = ?",
            (EPOCHS - 1,),
        ).fetchone()[0]
    kept = sum(kept_step(step, EPOCHS - 1) for step in range(EPOCHS))  # a grid job's curves
    assert len(counts) == 64 and {row for row in counts} == {("FINISHED", kept)}
    assert latest == 32  # each child's latest val_loss is its last epoch's
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        progress = [
            value
            for (value,) in con.execute(
                "SELECT value FROM metrics WHERE key = 'sweep_progress' ORDER BY step"
            )
        ]
    assert progress and progress == sorted(progress) and 0 < progress[-1] < 1  # the parent's


LINE_OF_ANY = re.compile(r"population 1 \(\d+ runs; .*\): epoch (\d+)/(\d+),")


def test_the_first_line_and_live_metrics_come_in_the_first_third_of_the_fit(tmp_path, monkeypatch):
    """In process, counted in epochs rather than seconds: after the first third of a
    population's epochs, a progress line has been printed and its RUNNING children hold
    per-epoch metrics in the store (the watch's write is waited for once it is made, so
    this says when the watch writes, not how fast the store is)."""
    import io

    from alphalab.config.parse import run_spec
    from alphalab.engine.progress import SweepProgress
    from alphalab.engine.record import Job
    from alphalab.engine.runs import run_jobs
    from alphalab.engine.watch import Watch
    from alphalab.tracking.parent import ParentRun
    from alphalab.tracking.store import tracker_for
    from tests.conftest import compose, store_uri

    epochs = 12
    common = ["+debug=fast", f"train.epochs={epochs}", f"tracking.uri={store_uri(tmp_path)}"]
    alphas = [("lambda", 0.4, 2.0), ("lambda", 1.0, 1.5), ("trainable", 0.4, 2.0)]
    specs = [
        run_spec(compose([f"approach={a}", f"alpha.real={r}", f"alpha.imag={i}", *common]))
        for a, r, i in alphas
    ]
    parent = ParentRun.open(tracker_for(specs[0].tracking), "live", "sweep", {"test": 1})
    stream = io.StringIO()
    seen: list[tuple[int, int, int]] = []  # (epoch, lines printed, live val_loss rows stored)
    watched = Watch.__call__

    def call(self, epoch, members):
        watched(self, epoch, members)
        if self.pending is not None:
            self.pending.result()  # what the watch has written by now is in the store
        lines = len(LINE_OF_ANY.findall(stream.getvalue()))
        seen.append((epoch, lines, _running_epochs(tmp_path / "mlflow.db")))

    monkeypatch.setattr(Watch, "__call__", call)
    progress = SweepProgress(len(specs), stream=stream, live=False)
    results = run_jobs([Job(spec) for spec in specs], parent_id=parent.run_id, progress=progress)
    assert [r.status for r in results] == ["FINISHED"] * len(specs)
    assert [epoch for epoch, _, _ in seen] == list(range(1, epochs + 1))
    third = [(lines, stored) for epoch, lines, stored in seen if epoch <= epochs // 3]
    assert third[-1][0] >= 1, stream.getvalue()  # a line within the first third
    assert third[-1][1] >= len(specs), seen  # every child's first epochs, while RUNNING
    assert LINE_OF_ANY.findall(stream.getvalue())[-1] == (str(epochs), str(epochs))
