"""The population launcher: a sweep trained as one Keras graph, every job as it would be alone.

Stated tolerance: a member's per-epoch and final losses agree with the same job run alone within
1e-5 (relative), its learned alpha and weights within 1e-6 (absolute). float32 reductions over
(batch, K) sum in another order than over (batch, 1); measured differences are about 2e-7.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from alphalab.config.parse import run_spec
from alphalab.engine.record import Job
from alphalab.engine.runs import run_job, run_jobs
from alphalab.tracking.parent import ParentRun
from alphalab.tracking.store import tracker_for
from tests.conftest import all_runs, client, compose, grid_of, reset_sigint, store_uri
from tests.test_sweep import sweep

LOSS_RTOL, ALPHA_ATOL = 1e-5, 1e-6
# integer values too: a member derived from a composed job must record them as Hydra parses them
GRID = ["+debug=fast", "alpha.real=0.4,0.8", "alpha.imag=2,3", "model.head=gain"]
VOLATILE_METRICS = {"train_seconds"}


def same_job(params: dict) -> dict:
    """A job's params without those that say where and how it was launched (store, command)."""
    return {
        k: v for k, v in params.items() if k != "tracking.uri" and not k.startswith("provenance.")
    }


def children_by_key(folder: Path) -> dict[str, object]:
    runs = all_runs(store_uri(folder))
    children = grid_of(r for r in runs if "mlflow.parentRunId" in r.data.tags)
    return {c.data.tags["alphalab.job_key"]: c for c in children}


def job_folder(folder: Path, number: int) -> dict[str, object]:
    """Job ``number``'s ``.hydra`` files as data, without what says where and how it was launched
    (folders, the launcher, the parent run handed to the jobs)."""
    from omegaconf import OmegaConf

    here = str(folder)
    files = {}
    for name in ("config", "hydra", "overrides"):
        text = (folder / "hydra" / str(number) / ".hydra" / f"{name}.yaml").read_text()
        files[name] = OmegaConf.to_container(OmegaConf.create(text.replace(here, "<here>")))
    hydra = files["hydra"]["hydra"]
    assert hydra["runtime"]["output_dir"] == f"<here>/hydra/{number}"
    hydra.pop("launcher"), hydra["overrides"].pop("hydra"), hydra["job"].pop("env_set")
    hydra["runtime"]["choices"].pop("hydra/launcher")
    return files


def weights(folder: Path, run) -> dict[str, list]:
    local = client(store_uri(folder)).download_artifacts(
        run.info.run_id, "weights.json", str(folder / "dl" / run.info.run_id)
    )
    return json.loads(Path(local).read_text())


@pytest.mark.slow
def test_population_and_basic_launcher_record_the_same_jobs(tmp_path):
    pop, basic = tmp_path / "population", tmp_path / "basic"
    a = sweep(pop, "+sweep=alpha", *GRID)
    b = sweep(basic, "+sweep=alpha", *GRID, "hydra/launcher=basic")
    assert a.returncode == 0 and b.returncode == 0, (a.stderr[-2000:], b.stderr[-2000:])
    assert "launcher population" in a.stdout and "launcher basic" in b.stdout
    together, alone = children_by_key(pop), children_by_key(basic)
    assert len(together) == 8 and set(together) == set(alone)
    # each member's job folder is the one Hydra's basic launcher makes for the same job
    for number in range(8):
        assert job_folder(pop, number) == job_folder(basic, number)
    logged = [
        (pop / "hydra" / str(n) / "run.log").read_text().split("MLflow run ")[1][:32]
        for n in range(8)
    ]
    assert sorted(logged) == sorted(c.info.run_id for c in together.values())  # its run, once
    c_pop, c_basic = client(store_uri(pop)), client(store_uri(basic))
    for key, member in together.items():
        single = alone[key]
        assert member.info.status == single.info.status == "FINISHED"
        assert same_job(member.data.params) == same_job(single.data.params)
        assert member.data.tags["alphalab.population"] == "8"
        m, s = member.data.metrics, single.data.metrics
        assert set(m) == set(s)
        for name in set(m) - VOLATILE_METRICS:
            if name.startswith("learned_alpha") or name == "alpha_error":
                assert m[name] == pytest.approx(s[name], abs=ALPHA_ATOL), name
            else:
                assert m[name] == pytest.approx(s[name], rel=LOSS_RTOL), name
        for name in ("loss", "val_loss", "alpha_real", "alpha_imag"):
            history = [x.value for x in c_pop.get_metric_history(member.info.run_id, name)]
            expected = [x.value for x in c_basic.get_metric_history(single.info.run_id, name)]
            np.testing.assert_allclose(history, expected, rtol=LOSS_RTOL, atol=ALPHA_ATOL)
        got, want = weights(pop, member), weights(basic, single)
        assert list(got) == list(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=ALPHA_ATOL)
    # a grid job keeps no model.keras: its model is built on request, and the member's is the
    # basic launcher's job's: same alpha in its config, same weights
    from alphalab.config.spec import TrackingSpec
    from alphalab.results.compare import load_run_model

    trackers = {
        where: tracker_for(TrackingSpec(store_uri(folder), "alphalab", None))
        for where, folder in (("pop", pop), ("basic", basic))
    }
    for key, member in together.items():
        single = alone[key]
        got, want = (
            load_run_model(trackers[where], run.info.run_id, str(tmp_path / "m" / where))
            for run, where in ((member, "pop"), (single, "basic"))
        )
        layer = got.get_layer("alpha")
        start = layer.arguments if hasattr(layer, "arguments") else vars(layer)  # Lambda or not
        assert (start["alpha_real"], start["alpha_imag"]) == (
            float(member.data.params["alpha_real"]),
            float(member.data.params["alpha_imag"]),
        )
        for a, b in zip(got.get_weights(), want.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, atol=ALPHA_ATOL)


def _population(folder: Path, alphas: list[tuple[str, float, float]], *extra: str):
    """Train ``alphas`` as one population in process, into a store in ``folder``."""
    extra = (*extra, f"tracking.uri={store_uri(folder)}")
    specs = [
        run_spec(compose([f"approach={a}", f"alpha.real={r}", f"alpha.imag={i}", *extra]))
        for a, r, i in alphas
    ]
    tracker = tracker_for(specs[0].tracking)
    parent = ParentRun.open(tracker, "population", "sweep", {"test": 1})
    return run_jobs([Job(spec) for spec in specs], parent_id=parent.run_id)


HEALTHY = [("lambda", 0.4, 2.0), ("trainable", 0.4, 2.0), ("trainable", 1.0, 1.5)]


def test_a_diverging_member_fails_alone(tmp_path):
    # exp(-alpha_real * x) overflows float32 for alpha_real = -30 and x up to 6
    bad = [("lambda", -30.0, 2.0), ("trainable", -30.0, 2.0)]
    common = ["+debug=fast", "model.head=gain"]
    without = _population(tmp_path / "a", HEALTHY, *common)
    mixed = _population(tmp_path / "b", bad[:1] + HEALTHY + bad[1:], *common)
    failed = [r for r in mixed if r.status == "FAILED"]
    assert len(failed) == 2 and all("diverged" in r.error for r in failed)
    healthy = [r for r in mixed if r.status == "FINISHED"]
    assert len(healthy) == 3
    for got, want in zip(healthy, without, strict=True):
        assert got.final_val_loss == pytest.approx(want.final_val_loss, rel=LOSS_RTOL)
        assert got.learned_alpha.distance(want.learned_alpha) <= ALPHA_ATOL
    runs = {r.info.run_id: r for r in all_runs(store_uri(tmp_path / "b"))}
    for result in failed:
        run = runs[result.run_id]
        assert run.info.status == "FAILED" and "diverged" in run.data.tags["alphalab.error"]


def test_a_users_model_in_a_population_trains_as_alone(tmp_path):
    common = ["+debug=fast", "model.builder=tests.user_models.with_offset_branch"]
    store = store_uri(tmp_path)
    together = _population(tmp_path, HEALTHY, *common)
    elsewhere = f"tracking.uri={store_uri(tmp_path / 'alone')}"
    for (approach, real, imag), member in zip(HEALTHY, together, strict=True):
        alpha = [f"approach={approach}", f"alpha.real={real}", f"alpha.imag={imag}"]
        alone = run_job(run_spec(compose([*alpha, *common, elsewhere])))
        assert member.final_val_loss == pytest.approx(alone.final_val_loss, rel=LOSS_RTOL)
        assert member.learned_alpha.distance(alone.learned_alpha) <= ALPHA_ATOL
    runs = all_runs(store)
    trainable = next(r for r in runs if r.data.params.get("approach") == "trainable")
    local = client(store).download_artifacts(trainable.info.run_id, "weights.json", str(tmp_path))
    names = set(json.loads(Path(local).read_text()))
    assert {"alpha/kernel", "branch_out/kernel", "branch_hidden/kernel"} <= names


def test_a_model_with_regularisers_trains_job_by_job(tmp_path):
    common = ["+debug=fast", "model.builder=tests.user_models.regularised"]
    together = _population(tmp_path, HEALTHY[1:], *common)
    runs = {r.info.run_id: r for r in all_runs(store_uri(tmp_path))}
    for (approach, real, imag), member in zip(HEALTHY[1:], together, strict=True):
        assert "alphalab.population" not in runs[member.run_id].data.tags
        alpha = [f"approach={approach}", f"alpha.real={real}", f"alpha.imag={imag}"]
        elsewhere = f"tracking.uri={store_uri(tmp_path / 'alone')}"
        alone = run_job(run_spec(compose([*alpha, *common, elsewhere])))
        assert member.final_val_loss == pytest.approx(alone.final_val_loss, rel=LOSS_RTOL)


def statuses(db: Path) -> dict[str, int]:
    """The statuses of a sweep's or search's own children (jobs, trials, the reference; not the
    refits that follow them), with plain sqlite3 (an MLflow client could race the schema
    creation)."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            query = (
                "SELECT status, count(*) FROM runs JOIN tags USING (run_uuid) "
                "WHERE tags.key = 'alphalab.kind' "
                "AND tags.value IN ('run', 'refine', 'trial', 'reference') GROUP BY status"
            )
            return dict(connection.execute(query).fetchall())
    except sqlite3.Error:
        return {}


def interrupt_when_running(folder: Path, args: list[str], sig: int) -> subprocess.Popen:
    """Start the sweep; once its population's children are open (RUNNING), send ``sig``."""
    proc = sweep(
        folder, *args, wait=False, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=reset_sigint,
    )  # fmt: skip
    deadline = time.time() + 300
    try:
        while time.time() < deadline and statuses(folder / "mlflow.db").get("RUNNING", 0) < 4:
            time.sleep(0.2)
            assert proc.poll() is None, "the sweep ended before it could be interrupted"
        (os.killpg if sig == signal.SIGKILL else os.kill)(proc.pid, sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    return proc


@pytest.mark.slow
def test_interrupted_and_killed_populations_resume_every_job_exactly_once(tmp_path):
    args = ["+sweep=alpha", "+debug=fast", "train.epochs=300", "alpha.real=0.3,0.7"]
    args += ["alpha.imag=1.5,2.5", "sweep.name=pop-resume"]
    ctrl_c = interrupt_when_running(tmp_path, args, signal.SIGINT)
    assert ctrl_c.returncode == 130
    assert statuses(tmp_path / "mlflow.db") == {"KILLED": 8}  # Ctrl-C: every open child KILLED
    killed = interrupt_when_running(tmp_path, args, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert statuses(tmp_path / "mlflow.db") == {"KILLED": 8, "RUNNING": 8}
    done = sweep(tmp_path, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming sweep 'pop-resume'" in done.stdout
    assert statuses(tmp_path / "mlflow.db") == {"KILLED": 16, "FINISHED": 8}
    runs = all_runs(store_uri(tmp_path))
    children = grid_of(r for r in runs if "mlflow.parentRunId" in r.data.tags)
    keys = [c.data.tags["alphalab.job_key"] for c in children if c.info.status == "FINISHED"]
    assert len(keys) == 8 and len(set(keys)) == 8  # every job FINISHED, exactly once
