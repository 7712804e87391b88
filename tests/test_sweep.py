"""The main job: ``+sweep=alpha`` as real Hydra multiruns into a store in tmp_path."""

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alphalab.entry.sweep_callback import sweep_overrides
from alphalab.results.stats import mean_ci
from tests.conftest import ROOT, all_runs, client, grid_of, read_comparison, split, store_uri

pytestmark = pytest.mark.slow

FAST = ["+sweep=alpha", "+debug=fast"]


def compose_sweep(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from alphalab.config.reader import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return compose("config", overrides=overrides, return_hydra_config=True)


def test_sweep_alpha_composes_a_multirun_over_both_approaches_and_the_grid():
    cfg = compose_sweep(["+sweep=alpha"])
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    jobs = sweep_overrides(cfg)
    approaches = {o for job in jobs for o in job if o.startswith("approach=")}
    assert approaches == {"approach=lambda", "approach=trainable"}
    grid = {(j[1], j[2]) for j in jobs}
    seeds = {o for job in jobs for o in job if o.startswith("seed=")}
    assert len(grid) >= 9 and seeds == {"seed=0", "seed=1", "seed=2"}
    assert len(jobs) == 2 * len(grid) * len(seeds)
    assert cfg.task.folds == 5  # each job cross-validates: its folds train in one population


def test_a_command_line_value_replaces_that_keys_grid():
    from omegaconf import OmegaConf

    cfg = compose_sweep(["+sweep=alpha"])
    # what Hydra records for `python -m experiments.run +sweep=alpha alpha.imag=1,2,3`
    OmegaConf.update(cfg, "hydra.overrides.task", ["+sweep=alpha", "alpha.imag=1,2,3"])
    values = {o for job in sweep_overrides(cfg) for o in job if o.startswith("alpha.imag=")}
    assert values == {"alpha.imag=1", "alpha.imag=2", "alpha.imag=3"}


def sweep(tmp_path: Path, *args: str, wait: bool = True, **popen):
    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        *args,
        f"tracking.uri={store_uri(tmp_path)}",
        f"hydra.sweep.dir={tmp_path / 'hydra'}",
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, **popen)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_seed_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    args = [*FAST, "alpha.real=0.4,0.7", "alpha.imag=1.8,2.3", "seed=0,1"]
    result = sweep(folder, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result


def test_parent_and_one_finished_child_per_job(two_seed_sweep):
    folder, _ = two_seed_sweep
    (parent,), children = split(all_runs(store_uri(folder)))
    assert parent.info.status == "FINISHED"
    grid = grid_of(children)
    assert len(grid) == 2 * 2 * 2 * 2  # approaches x real x imag x seeds
    refits = sorted(
        (c.data.tags["alphalab.arm"], c.data.params["seed"]) for c in children if c not in grid
    )
    assert refits == [("fixed", "0"), ("fixed", "1"), ("learned", "0"), ("learned", "1")]
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert len({c.data.tags["alphalab.job_key"] for c in children}) == len(children)


def test_comparison_csv_matches_the_children(two_seed_sweep):
    folder, _ = two_seed_sweep
    (parent,), children = split(all_runs(store_uri(folder)))
    rows = {row["run_id"]: row for row in read_comparison(folder, parent)}
    assert set(rows) == {c.info.run_id for c in children}
    for child in children:
        row, m, p = rows[child.info.run_id], child.data.metrics, child.data.params
        assert row["approach"] == p["approach"] and row["seed"] == p["seed"]
        assert float(row["start_alpha_real"]) == float(p["alpha_real"])
        assert float(row["start_alpha_imag"]) == float(p["alpha_imag"])
        assert float(row["learned_alpha_real"]) == pytest.approx(m["learned_alpha_real"])
        assert float(row["final_test_loss"]) == pytest.approx(m["final_test_loss"])
        if child.data.tags["alphalab.kind"] == "refit":  # no validation rows: every non-test row
            assert "final_val_loss" not in m and row["kind"] == "refit"
        else:
            assert float(row["final_val_loss"]) == pytest.approx(m["final_val_loss"])
        assert row["status"] == "FINISHED"


def test_best_metrics_are_the_best_groups_means(two_seed_sweep):
    folder, _ = two_seed_sweep
    (parent,), children = split(all_runs(store_uri(folder)))
    for approach, label in (("lambda", "fixed"), ("trainable", "trainable")):
        groups: dict = {}
        for c in grid_of(children):
            if c.data.params["approach"] == approach:
                key = (c.data.params["alpha_real"], c.data.params["alpha_imag"])
                groups.setdefault(key, []).append(c)
        means = {
            k: mean_ci([c.data.metrics["final_val_loss"] for c in v])[0] for k, v in groups.items()
        }
        best_key = min(means, key=means.get)
        m = parent.data.metrics
        assert m[f"best_{label}_val_loss"] == pytest.approx(means[best_key])
        if label == "fixed":
            assert (m["best_fixed_alpha_real"], m["best_fixed_alpha_imag"]) == tuple(
                float(v) for v in best_key
            )
        else:  # the refits' learned alpha, their mean over the seeds
            refits = [c for c in children if c.data.tags.get("alphalab.arm") == "learned"]
            assert {(c.data.params["alpha_real"], c.data.params["alpha_imag"]) for c in refits} == {
                best_key
            }
            learned = [c.data.metrics["learned_alpha_real"] for c in refits]
            assert len(learned) == 2
            assert m["best_trainable_alpha_real"] == pytest.approx(sum(learned) / len(learned))


def test_landscape_png_and_verdict_on_the_parent(two_seed_sweep):
    folder, result = two_seed_sweep
    (parent,), _ = split(all_runs(store_uri(folder)))
    c = client(store_uri(folder))
    from PIL import Image

    for name in ("landscape.png", "verdict.png"):  # the landscape and the forest plot
        png = Path(c.download_artifacts(parent.info.run_id, name, str(folder)))
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name
        with Image.open(png) as image:
            image.verify()
            assert image.size[0] >= 800, name
    note = parent.data.tags["mlflow.note.content"]
    assert re.search(r"\*\*(\w[\w ]* is better|Practically equivalent|Inconclusive)", note)
    assert "Training randomness was not measured" in note or "seeds" in note
    assert "comparison.csv" in note


def test_console_prints_progress_table_and_a_seed_aware_verdict(two_seed_sweep):
    _, result = two_seed_sweep
    out = result.stdout
    assert "[ 16/16]" in out and "left" in out
    # a population's members all end at once: one line for them, no per-job "~0s left" lines
    summary = r"\[ 16/16\] population of (\d+) done: \1 FINISHED; lowest final val_loss"
    assert re.search(summary, out)
    assert "~0s left" not in out and "~0.0s left" not in out
    assert "approach" in out and "learned α" in out
    assert "mean val_loss" in out  # the per-grid-point aggregate over seeds
    assert "The interval covers test rows, seeds" in out and "ROPE ±2%" in out
    assert "refit" in out and "← chosen" in out
    assert "Cost:" in out and "wall time" in out


def test_joblib_workers_on_a_fresh_store_lose_no_runs(tmp_path):
    args = [
        *FAST,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "alpha.real=0.3,0.5,0.7",
        "alpha.imag=2.0",
    ]
    assert not (tmp_path / "mlflow.db").exists()
    result = sweep(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    (parent,), children = split(all_runs(store_uri(tmp_path)))
    assert len(grid_of(children)) == 6 and {c.info.status for c in children} == {"FINISHED"}
    assert parent.info.status == "FINISHED"
    assert len(read_comparison(tmp_path, parent)) == len(children) == 6 + 2  # and 2 refits


def test_a_diverging_job_fails_alone_and_the_sweep_goes_on(tmp_path):
    result = sweep(tmp_path, *FAST, "approach=lambda", "alpha.real=-30,0.5,1.0", "alpha.imag=2.0")
    assert result.returncode == 0, result.stderr[-3000:]
    (parent,), children = split(all_runs(store_uri(tmp_path)))
    failed = [c for c in children if c.info.status == "FAILED"]
    assert len(failed) == 1 and len(grid_of(children)) == 3
    assert failed[0].data.params["alpha_real"] == "-30.0"
    assert "diverged" in failed[0].data.tags["alphalab.error"]
    rows = [r for r in read_comparison(tmp_path, parent) if r["kind"] == "run"]
    assert sorted(r["status"] for r in rows) == ["FAILED", "FINISHED", "FINISHED"]
    assert "did not finish" in result.stdout and "FAILED" in result.stdout
    assert parent.info.status == "FINISHED" and "best_fixed_val_loss" in parent.data.metrics


def finished_runs(db: Path) -> int:
    """Poll with plain sqlite3: an MLflow client here could race the sweep's schema creation."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            query = "SELECT count(*) FROM runs WHERE status = 'FINISHED'"
            return connection.execute(query).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_sweep_resumes_and_runs_every_job_exactly_once(tmp_path):
    # Job by job (the basic launcher); tests/test_population.py kills a population.
    args = [*FAST, "hydra/launcher=basic", "alpha.real=0.3,0.5,0.7,0.9", "alpha.imag=2.0"]
    args.append("sweep.name=resume-me")
    uri = store_uri(tmp_path)
    proc = sweep(
        tmp_path,
        *args,
        wait=False,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            time.sleep(0.5)
            if finished_runs(tmp_path / "mlflow.db") >= 2:
                break
            assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    parents, before = split(all_runs(uri))
    assert len(parents) == 1 and parents[0].info.status == "RUNNING"
    assert 2 <= sum(c.info.status == "FINISHED" for c in before) < 8

    result = sweep(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming sweep 'resume-me'" in result.stdout
    (parent,), children = split(all_runs(uri))
    assert parent.info.run_id == parents[0].info.run_id and parent.info.status == "FINISHED"
    finished = grid_of(c for c in children if c.info.status == "FINISHED")
    keys = [c.data.tags["alphalab.job_key"] for c in finished]
    assert len(keys) == 8 and len(set(keys)) == 8  # every job FINISHED, exactly once
    assert not [c for c in children if c.info.status == "RUNNING"]
    left_running = [c for c in before if c.info.status == "RUNNING"]
    for child in left_running:
        assert client(uri).get_run(child.info.run_id).info.status == "KILLED"
    assert len(read_comparison(tmp_path, parent)) == 8 + 2  # and each arm's refit


def test_compare_prints_the_latest_sweep_in_every_format(two_seed_sweep, capsys):
    from experiments.compare import main

    folder, _ = two_seed_sweep
    (parent,), _ = split(all_runs(store_uri(folder)))
    store = ["--store", store_uri(folder)]
    assert main(store) == 0
    table = capsys.readouterr().out
    assert parent.info.run_name in table and parent.info.run_id in table
    assert main([*store, "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    artifact = Path(
        client(store_uri(folder)).download_artifacts(
            parent.info.run_id, "comparison.csv", str(folder / "dl")
        )
    )
    assert printed == artifact.read_text()
    assert main([parent.info.run_name, *store, "--format", "markdown"]) == 0
    assert capsys.readouterr().out == parent.data.tags["mlflow.note.content"]
    assert main([parent.info.run_id, *store]) == 0  # by run id as well
    assert parent.info.run_id in capsys.readouterr().out


def test_compare_lists_every_sweep(two_seed_sweep, capsys):
    from experiments.compare import main

    folder, _ = two_seed_sweep
    (parent,), _ = split(all_runs(store_uri(folder)))
    assert main(["--list", "--store", store_uri(folder), "--format", "csv"]) == 0
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["name"] == parent.info.run_name and row["run_id"] == parent.info.run_id
    assert row["outcome"] == parent.data.tags["alphalab.verdict"] and row["kind"] == "sweep"
    assert row["status"] == "FINISHED" and row["jobs"] == parent.data.params["jobs"]
    assert main(["--list", "--store", store_uri(folder)]) == 0
    assert parent.info.run_name in capsys.readouterr().out


def test_compare_with_an_unknown_name_says_so_in_one_line(two_seed_sweep):
    from tests.conftest import cli, error_lines

    folder, _ = two_seed_sweep
    result = cli("experiments.compare", "no-such-sweep", "--store", store_uri(folder))
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "no sweep or search named 'no-such-sweep'" in line
