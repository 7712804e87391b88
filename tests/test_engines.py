"""Beyond one machine, against the real engines started here on 127.0.0.1: an MLflow tracking
server on PostgreSQL, PostgreSQL directly, a local Ray instance, submitit's executor and
keras-tuner's chief and workers. Every process a test starts is stopped when it ends."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from experiments.dev.measure import ray_engine
from tests.conftest import ROOT, all_runs, cli, client, finished_once, split, store_uri
from tests.servers import (
    finish,
    in_session,
    postgres_cluster,
    slurm_cluster,
    tracking_server,
    wait_for_empty_queue,
)

pytestmark = pytest.mark.slow

FAST = ["+sweep=alpha", "+debug=fast", "alpha.imag=2.0"]
GRID = ["approach=lambda,trainable", "alpha.real=0.4,0.6"]  # 4 jobs
PAIR = ["approach=lambda,trainable", "alpha.real=0.5"]  # 2 jobs: one batch of processes
TIMEOUT = 420


def sweep_in(tmp_path: Path, name: str, *args: str, **env: str) -> str:
    """``python -m experiments.run ARGS`` in its own session; its output once it exits 0."""
    log = tmp_path / f"{name}.log"
    command = ["experiments.run", *args, f"hydra.sweep.dir={tmp_path / name}"]
    with in_session(command, log, ROOT, **env) as process:
        output = finish(process, log, TIMEOUT)
    assert process.returncode == 0, output[-4000:]
    return output


def check_sweep(uri: str, jobs: int, name: str | None = None):
    """One FINISHED parent with ``jobs`` FINISHED children, each job exactly once, none other,
    and a comparison.csv listing exactly them; returns (parent, children)."""
    parent, finished, children = finished_once(uri, jobs, name)
    assert all(c.info.status == "FINISHED" for c in children)  # no run but the FINISHED ones
    return parent, finished


# --- PostgreSQL and an MLflow server on it ----------------------------------------------------
@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def server(postgres, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    backend = postgres.create_database("mlflow_server")
    with tracking_server(backend, folder / "artifacts", folder / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def server_sweep(server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server-sweep")
    args = [*FAST, *GRID, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    args += ["sweep.name=on-server", f"tracking.uri={server}"]
    output = sweep_in(folder, "first", *args)
    return folder, args, output


@pytest.mark.needs("postgresql")
def test_a_parallel_sweep_through_a_server_on_postgresql_lands_every_child_once(
    server, server_sweep
):
    _, _, output = server_sweep
    assert "launcher joblib" in output and "[  4/4]" in output
    assert "View run" not in output  # MLflow's per-run URL lines stay out of the progress
    parent, children = check_sweep(server, 4, "on-server")
    artifact = children[0].info.artifact_uri
    assert artifact.startswith("mlflow-artifacts:/"), artifact  # stored by the server
    assert parent.data.params["provenance.mlflow_version"] == "3.17.2"
    for child in children:
        params = child.data.params
        assert len(params["provenance.git_commit"]) in (40, 7)  # a commit, or "unknown"
        assert params["provenance.uv_lock"].startswith("sha256:")
        assert params["provenance.command"].startswith("python -m experiments.run +sweep=alpha")
        assert "hydra/launcher=joblib" in params["provenance.command"]
        assert len(params["data.digest"]) == 16


@pytest.mark.needs("postgresql")
def test_resume_and_compare_against_the_server(server, server_sweep):
    folder, args, _ = server_sweep
    parent, children = check_sweep(server, 4, "on-server")
    output = sweep_in(folder, "again", *args)
    assert "resuming sweep 'on-server': 4 jobs (4 already finished)" in output
    again, now = check_sweep(server, 4, "on-server")
    assert again.info.run_id == parent.info.run_id
    assert {c.info.run_id for c in now} == {c.info.run_id for c in children}  # none rerun
    result = cli("experiments.compare", "on-server", "--store", server)
    assert result.returncode == 0, result.stderr[-2000:]
    assert parent.info.run_id in result.stdout and "learned α" in result.stdout


@pytest.mark.needs("postgresql")
def test_reproduce_reruns_a_logged_run_and_says_whether_it_matches(server, server_sweep):
    from alphalab.entry.reproduce import reproduce

    _, children = check_sweep(server, 4, "on-server")
    original = next(c for c in children if c.data.params["approach"] == "trainable")
    result = cli("experiments.reproduce", original.info.run_id, "--store", server)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "metrics match" in result.stdout
    runs = [r for r in all_runs(server) if r.data.tags.get("alphalab.reproduces")]
    (rerun,) = [r for r in runs if r.data.tags["alphalab.reproduces"] == original.info.run_id]
    assert rerun.info.run_id != original.info.run_id and rerun.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in rerun.data.tags
    assert rerun.data.metrics["final_val_loss"] == pytest.approx(
        original.data.metrics["final_val_loss"], rel=1e-6
    )
    # a run whose recorded result does not come out again is reported as different
    client(server).log_metric(original.info.run_id, "final_val_loss", 1.2345)
    differs = reproduce(server, original.info.run_id)
    assert not differs.matches
    assert "final_val_loss 1.2345 then" in differs.report()


def population_sweep(
    folder: Path, uri: str, name: str, *args: str, given: str | None = None, **env
) -> dict[str, object]:
    """A FAST+GRID sweep through the population launcher (``args`` say where its populations
    train; ``given``: the tracking.uri as typed, if not ``uri``); its children by job key, each
    checked recorded whole: per-epoch metrics, files."""
    args = (*FAST, *GRID, *args, f"tracking.uri={given or uri}", f"sweep.name={name}")
    args += (f"tracking.artifact_location={folder / 'artifacts'}",)
    output = sweep_in(folder, name, *args, **env)
    assert "launcher population" in output and "[  4/4]" in output, output[-2000:]
    _, children = check_sweep(uri, 4, name)
    for child in children:
        history = client(uri).get_metric_history(child.info.run_id, "val_loss")
        assert [m.step for m in history] == [0, 1, 2]
        assert history[-1].value == pytest.approx(child.data.metrics["final_val_loss"])
        files = {f.path for f in client(uri).list_artifacts(child.info.run_id)}
        assert {"config.yaml", "weights.json"} <= files, files  # a grid job's model: on request
    for number in range(4):  # every member's Hydra job folder
        assert (folder / name / str(number) / ".hydra" / "overrides.yaml").is_file()
    return {c.data.tags["alphalab.job_key"]: c for c in children}


@pytest.fixture(scope="module")
def local_on_server(server, tmp_path_factory) -> dict[str, object]:
    """The local engine's records of the FAST+GRID jobs, through the server."""
    return population_sweep(tmp_path_factory.mktemp("local"), server, "population-server")


@pytest.mark.needs("postgresql")
def test_the_population_launcher_records_every_member_on_postgresql_and_through_a_server(
    postgres, local_on_server, tmp_path
):
    """The sweeps' default launcher: its bulk SQL on PostgreSQL itself, its threads over HTTP."""
    direct = population_sweep(tmp_path, postgres.create_database("population"), "direct")
    for children in (direct, local_on_server):
        assert {c.data.tags["alphalab.population"] for c in children.values()} == {"4"}


def same_records(got: dict, want: dict) -> None:
    """Two engines' records of the same jobs: the same metrics (within the population's
    stated tolerance, test_population.py) and the same params but for the command."""
    assert set(got) == set(want)
    for key, run in got.items():
        other = want[key]
        assert set(run.data.metrics) == set(other.data.metrics)
        for name in set(run.data.metrics) - {"train_seconds", "sweep_progress"}:
            assert run.data.metrics[name] == pytest.approx(
                other.data.metrics[name], rel=1e-5, abs=1e-6
            ), name
        assert where_and_how(run.data.params) == where_and_how(other.data.params)


def where_and_how(params: dict) -> dict:
    """A run's params without those that say where and how it was launched."""
    launch = ("provenance.", "sweep.name", "tracking.uri", "tracking.artifact_location")
    return {k: v for k, v in params.items() if not k.startswith(launch)}


@pytest.fixture
def ray_temp():
    """Ray's session folder (its socket paths must stay short), removed afterwards; asserts that
    no Ray process of it is left."""
    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    yield folder
    left = subprocess.run(["pgrep", "-f", folder], capture_output=True, text=True).stdout.split()
    shutil.rmtree(folder, ignore_errors=True)
    assert not left, f"Ray processes left behind: {left}"


@pytest.mark.needs("postgresql")
def test_populations_train_as_ray_tasks_and_record_as_the_local_engine(
    server, local_on_server, ray_temp, tmp_path
):
    engine = [*ray_engine(ray_temp), "hydra.launcher.max_members=3"]  # shards of 3 and 1
    children = population_sweep(tmp_path, server, "population-ray", *engine)
    sizes = sorted(c.data.tags.get("alphalab.population", "-") for c in children.values())
    assert sizes == ["-", "3", "3", "3"]  # the shard's size (a shard of one: a run alone)
    same_records(children, local_on_server)
    output = (tmp_path / "population-ray.log").read_text()
    assert "Started a local Ray instance" in output and "(run_shard pid=" in output


@pytest.mark.needs("postgresql")
def test_a_killed_ray_worker_stops_the_sweep_in_one_line_and_the_same_command_finishes_it(
    server, ray_temp, tmp_path
):
    args = [*FAST, *GRID, "train.epochs=150", *ray_engine(ray_temp)]
    args += ["hydra.launcher.max_members=2", f"tracking.uri={server}", "sweep.name=ray-killed"]
    log = tmp_path / "killed.log"
    command = ["experiments.run", *args, f"hydra.sweep.dir={tmp_path / 'killed'}"]
    with in_session(command, log, ROOT) as p:
        deadline, pids = time.monotonic() + TIMEOUT, []
        while not pids:  # a shard's worker is training
            assert p.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
            pids = re.findall(r"\(run_shard pid=(\d+)\).* epoch \d+/150", log.read_text())
        os.kill(int(pids[0]), signal.SIGKILL)
        output = finish(p, log, TIMEOUT)
    assert p.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    (line,) = [x for x in output.splitlines() if "sweep 'ray-killed' stopped" in x]
    assert "Ray task" in line and "did not finish" in line, line
    assert line.endswith("resume with the same command plus sweep.name=ray-killed"), line

    sweep_in(tmp_path, "resumed", *args)  # the same command again
    finished_once(server, 4, "ray-killed")  # the dead shard's runs KILLED, none RUNNING


@pytest.mark.needs("postgresql")
def test_a_search_compare_and_the_ui_directly_on_postgresql(postgres, tmp_path):
    uri = postgres.create_database("direct")  # fresh: the search's process migrates it
    args = ["+search=random", "+debug=fast", "search.max_trials=2", "search.name=pg-search"]
    args += [f"tracking.uri={uri}", f"search.directory={tmp_path / 'kt'}"]
    args += [f"tracking.artifact_location={tmp_path / 'artifacts'}", f"hydra.run.dir={tmp_path}"]
    output = sweep_in(tmp_path, "search", *args)
    assert "best" in output
    (parent,), children = split(all_runs(uri))
    assert parent.info.status == "FINISHED"
    kinds = sorted(c.data.tags["alphalab.kind"] for c in children)
    assert kinds == ["reference", "trial", "trial"]
    assert all(str(tmp_path / "artifacts") in c.info.artifact_uri for c in children)
    result = cli("experiments.compare", "pg-search", "--store", uri)
    assert result.returncode == 0 and parent.info.run_id in result.stdout

    log = tmp_path / "ui.log"
    with in_session(["experiments.ui", "--store", uri, "--port", "0"], log, ROOT) as ui:
        deadline = time.monotonic() + 120
        while "MLflow UI for" not in log.read_text():
            assert ui.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        line = next(x for x in log.read_text().splitlines() if "MLflow UI for" in x)
        assert "***@" in line and postgres.url("direct") not in line  # no password printed
        base = line.split(" at ")[1].split("#")[0]
        query = "ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=alphalab"
        with urllib.request.urlopen(base + query, timeout=10) as answer:
            assert b'"name": "alphalab"' in answer.read().replace(b'":"', b'": "')


# --- Ray, submitit ------------------------------------------------------------------------------
@pytest.mark.needs("postgresql")
def test_ray_runs_a_sweep_on_a_local_instance(server, tmp_path):
    uri = server  # jobs on a cluster log to a tracking server
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    args = [*FAST, *GRID, "hydra/launcher=ray", f"tracking.uri={uri}", "sweep.name=on-ray"]
    args += [
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
    ]
    args += [f"+hydra.launcher.ray.init._temp_dir={ray_tmp}"]
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    try:
        output = sweep_in(tmp_path, "ray", *args, **env)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert "launcher ray" in output and "Started a local Ray instance" in output
    parent, children = check_sweep(uri, 4, "on-ray")
    assert parent.data.tags["alphalab.verdict"] in {"learned", "equivalent", "inconclusive"}
    assert {c.data.params["provenance.command"] for c in children} == {
        parent.data.params["provenance.command"]
    }


@pytest.fixture(scope="module")
def slurm():
    """A one-node SLURM for the module's tests."""
    with slurm_cluster(cpus=2) as env:
        yield env


@pytest.mark.needs("slurm")
def test_submitit_slurm_runs_a_sweep_on_a_one_node_slurm(slurm, tmp_path):
    uri = store_uri(tmp_path)
    args = [*FAST, *PAIR, "hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug"]
    args += ["hydra.launcher.timeout_min=10", "hydra.launcher.cpus_per_task=1"]
    output = sweep_in(
        tmp_path, "slurm", *args, f"tracking.uri={uri}", SLURM_CONF=slurm["SLURM_CONF"]
    )
    assert wait_for_empty_queue(slurm, timeout=30)  # every job left SLURM's queue
    assert "launcher submitit_slurm" in output
    parent, children = check_sweep(uri, 2)
    assert len({c.data.params["provenance.command"] for c in children}) == 1
    # each job's own config carries the sweep (jobs on other machines get it only this way)
    from omegaconf import OmegaConf

    job = OmegaConf.load(tmp_path / "slurm" / "0" / ".hydra" / "hydra.yaml")
    handed = job.hydra.job.env_set
    assert parent.info.run_id in handed.ALPHALAB_SWEEP and uri in handed.ALPHALAB_SWEEP
    assert handed.ALPHALAB_COMMAND.startswith("python -m experiments.run +sweep=alpha")
    logs = list((tmp_path / "slurm" / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2  # one submitit job per sweep job


@pytest.mark.needs("slurm", "postgresql")
def test_populations_train_as_slurm_array_tasks_and_record_as_the_local_engine(
    slurm, local_on_server, tmp_path
):
    engine = ["hydra.launcher.engine=submitit_slurm", "hydra.launcher.max_members=2"]
    engine += ["+hydra.launcher.submitit.slurm_partition=debug"]
    engine += [
        "+hydra.launcher.submitit.timeout_min=10",
        "+hydra.launcher.submitit.cpus_per_task=1",
    ]
    uri = store_uri(tmp_path)  # one SQLite file: the node shares this machine's disk
    # typed relative to the folder the command starts in, as MLflow's docs write it: the
    # array tasks must write to the same file, whatever folder SLURM starts them in
    relative = f"sqlite:///{os.path.relpath(tmp_path / 'mlflow.db', ROOT)}"
    children = population_sweep(
        tmp_path,
        uri,
        "population-slurm",
        *engine,
        given=relative,
        SLURM_CONF=slurm["SLURM_CONF"],
    )
    assert wait_for_empty_queue(slurm, timeout=30)
    assert {c.data.tags["alphalab.population"] for c in children.values()} == {"2"}
    same_records(children, local_on_server)
    logs = list((tmp_path / "population-slurm" / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2, logs  # one array task per shard


# --- keras-tuner's chief and workers ------------------------------------------------------------
@pytest.mark.needs("postgresql")
def test_a_distributed_search_logs_every_trial_once_under_one_parent(server, tmp_path):
    from alphalab.tracking.server import free_port

    trials = 6
    args = ["experiments.run", "+search=random", "+debug=fast", "search.name=distributed"]
    args += [f"search.max_trials={trials}", "search.population=3", f"tracking.uri={server}"]
    args += [f"search.directory={tmp_path / 'kt'}", f"hydra.run.dir={tmp_path / 'h'}"]
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    roles = ("chief", "tuner0", "tuner1")
    with (
        in_session(args, tmp_path / "chief.log", ROOT, KERASTUNER_TUNER_ID="chief", **oracle) as c,
        in_session(args, tmp_path / "w0.log", ROOT, KERASTUNER_TUNER_ID="tuner0", **oracle) as w0,
        in_session(args, tmp_path / "w1.log", ROOT, KERASTUNER_TUNER_ID="tuner1", **oracle) as w1,
    ):
        outputs = {
            role: finish(process, tmp_path / f"{name}.log", TIMEOUT)
            for role, process, name in zip(roles, (c, w0, w1), ("chief", "w0", "w1"), strict=True)
        }
        codes = {role: p.returncode for role, p in zip(roles, (c, w0, w1), strict=True)}
    assert codes == dict.fromkeys(roles, 0), outputs
    assert "serving the oracle at 127.0.0.1" in outputs["chief"]
    runs = all_runs(server)
    (parent,) = [r for r in runs if r.data.tags.get("alphalab.sweep_name") == "distributed"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trial_runs = [c for c in children if c.data.tags["alphalab.kind"] == "trial"]
    references = [c for c in children if c.data.tags["alphalab.kind"] == "reference"]
    assert sorted(c.data.tags["alphalab.trial_id"] for c in trial_runs) == [
        str(i) for i in range(trials)
    ]  # every trial a child, exactly once
    assert len(references) == 1 and parent.info.status == "FINISHED"
    assert {c.info.status for c in children} == {"FINISHED"}
    for worker in ("tuner0", "tuner1"):
        assert f"worker {worker} done" in outputs[worker]
    lines = [line for w in ("tuner0", "tuner1") for line in outputs[w].splitlines()]
    assert sum(line.startswith("[trial ") for line in lines) == trials  # by the workers
    # each worker asked the chief's oracle for up to 3 trials at once and trained them together
    sizes = [int(c.data.tags["alphalab.population"]) for c in trial_runs]
    assert max(sizes) > 1 and set(sizes) <= {1, 2, 3}
    assert "[trial " not in outputs["chief"]  # the chief serves the oracle, runs no trial
    assert os.path.isdir(tmp_path / "kt" / "workers" / "distributed" / "tuner0")
