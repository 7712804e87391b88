"""``python -m experiments.ui`` end to end: a real sweep, the real command, a real browser.

The browser is the system's Chromium driven by Playwright (no Playwright browser download);
every request to a host other than this machine is aborted and fails the test.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from alphalab.tracking.server import descendant_groups, group_members
from tests.browser import CHROMIUM
from tests.conftest import ROOT, cli, error_lines, reset_sigint, run_experiment, store_uri

URL_LINE = re.compile(r"^alphalab: MLflow UI for (?P<uri>\S+) at (?P<url>http://\S+)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("landscape.png", "verdict.png")  # the parent's figures (issue 28)


# --- processes ----------------------------------------------------------------------------------
def live_members(groups: set[int]) -> list[int]:
    """Live processes in any of ``groups``."""
    return [pid for pgid in groups for pid in group_members(pgid)]


def kill_groups(groups: set[int]) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def start_ui(store: str, log: Path) -> tuple[subprocess.Popen, queue.Queue]:
    """``python -m experiments.ui --store STORE --port 0`` as a user runs it; stdout is drained
    into a queue by a thread so the pipe never fills up."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.ui", "--store", store, "--port", "0"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        start_new_session=True,
        preexec_fn=reset_sigint,
    )
    lines: queue.Queue = queue.Queue()

    def drain() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    return process, lines


def wait_for_url(lines: queue.Queue, log: Path, timeout: float = 90.0) -> tuple[str, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            pytest.fail(f"experiments.ui ended early: {seen} {log.read_text()[-2000:]}")
        seen.append(line)
        if match := URL_LINE.match(line):
            return match["url"], seen
    pytest.fail(f"no URL line from experiments.ui within {timeout} s: {seen}")


# --- the store ------------------------------------------------------------------------------------
def sweep_in_store(uri: str):
    """The sweep's parent run and its children, as the store has them."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("alphalab")
    parents = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`alphalab.kind` = 'sweep'"
    )
    assert len(parents) == 1
    parent = parents[0]
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    return experiment.experiment_id, parent, children


def logged_size(uri: str, run_id: str, name: str, folder: Path) -> tuple[int, int]:
    """The pixel size of an artifact image as the store holds it."""
    from mlflow.tracking import MlflowClient
    from PIL import Image

    local = MlflowClient(tracking_uri=uri).download_artifacts(run_id, name, str(folder))
    with Image.open(local) as image:
        assert image.size[0] > 300 and image.size[1] > 200, image.size
        return image.size


def assert_png(path: Path, min_bytes: int = 20_000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, f"{path} is only {len(data)} bytes"


# --- tests --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.needs("chromium")
def test_ui_shows_a_real_sweep_in_a_browser(tmp_path: Path) -> None:
    # No skip: the test session installs Debian's Chromium (tests/provision.py), or stops at
    # once saying what to install; a missing browser here is a failure.
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium"
    import playwright.sync_api as playwright_api

    from tests.browser import (
        QUIET_ASSISTANT,
        chromium,
        expand_children,
        headline,
        page_of,
        run_name_link,
    )

    expect = playwright_api.expect

    # a. a small real sweep
    done = run_experiment(
        tmp_path, "+sweep=alpha", "+debug=fast", "alpha.real=0.4,0.6", "alpha.imag=2.0"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    uri = store_uri(tmp_path)
    experiment_id, parent, children = sweep_in_store(uri)
    parent_name = parent.info.run_name
    assert re.fullmatch(r"alpha-\d{8}-\d{6}", parent_name), parent_name
    child_names = sorted(child.info.run_name for child in children)
    assert len(set(child_names)) == 6, child_names  # 4 runs and each arm's refit, each named
    bold = headline(parent.data.tags.get("mlflow.note.content"))
    pattern = r"(Learned alpha is better|Fixed alpha is better|Practically equiv|Inconclusive)"
    assert bold and re.match(pattern, bold), bold

    # b. the command a user runs
    log = tmp_path / "ui.stderr"
    process, lines = start_ui(uri, log)
    groups: set[int] = {process.pid}
    blocked: list[str] = []
    try:
        url, printed = wait_for_url(lines, log)
        assert url.startswith("http://127.0.0.1:")
        assert f"#/experiments/{experiment_id}/" in url, url
        assert printed[-1].endswith("Ctrl-C to stop"), printed
        groups = descendant_groups(process.pid)
        assert len(groups) == 2, "the UI server should run in its own process group"

        # c. the browser: the printed link, the runs table, the parent run, its artifacts
        with chromium(
            tmp_path / "chromium", preferences=QUIET_ASSISTANT, blocked=blocked
        ) as context:
            page = page_of(context)
            page.goto(url)
            expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
            parent_link = run_name_link(page, parent_name)
            expect(parent_link).to_be_visible()
            # Children are nested under their parent, collapsed until its toggle is clicked.
            expect(run_name_link(page, child_names[0])).to_be_hidden()
            expand_children(page, parent_name)
            for name in child_names:
                expect(run_name_link(page, name)).to_be_visible()
            runs_png = tmp_path / "runs.png"
            page.screenshot(path=str(runs_png))

            parent_link.click()
            expect(page).to_have_url(re.compile(f"#/experiments/{experiment_id}/runs/"))
            assert parent.info.run_id in page.url
            expect(page.get_by_role("heading", name=parent_name, exact=True)).to_be_visible()
            expect(page.get_by_text(bold, exact=True)).to_be_visible()
            for name in child_names:  # "Child runs" in the "About this run" panel
                expect(run_name_link(page, name)).to_be_visible()
            run_png = tmp_path / "parent-run.png"
            page.screenshot(path=str(run_png))

            page.get_by_role("tab", name="Artifacts").click()
            tree = page.get_by_test_id("artifact-tree-node")
            for artifact in ("comparison.csv", "landscape.png", "verdict.png", "verdict.md"):
                expect(tree.filter(has_text=artifact)).to_be_visible()
            for figure in FIGURES:  # each one's preview shows the image, not a broken one
                tree.filter(has_text=figure).click()
                image = page.get_by_role("img", name=figure)
                expect(image).to_be_visible()
                loaded = "img => img.complete && img.naturalWidth > 0"
                page.wait_for_function(loaded, arg=image.element_handle())
                width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
                assert (width, height) == logged_size(uri, parent.info.run_id, figure, tmp_path)
                page.screenshot(path=str(tmp_path / f"artifact-{figure}"))

        assert blocked == [], f"the UI tried to reach other hosts: {blocked}"
        for png in (runs_png, run_png, *(tmp_path / f"artifact-{f}" for f in FIGURES)):
            assert_png(png)

        # d. Ctrl-C stops the server and every process it started
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0, log.read_text()[-2000:]
        assert live_members(groups) == []
        assert error_lines(log.read_text()) == []
        rest = []
        while (line := lines.get(timeout=5)) is not None:
            rest.append(line)
        assert rest[-1:] == ["alphalab: MLflow UI stopped"], rest
    finally:
        if process.poll() is None:
            process.kill()
        kill_groups(groups)
        process.wait(timeout=10)


def test_ui_on_a_taken_port_fails_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("experiments.ui", "--store", store_uri(tmp_path), "--port", str(port))
    assert done.returncode == 1, done
    errors = error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("alphalab: error:") and str(port) in errors[0], errors
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists(), "a taken port must not create the store"


def test_ui_creates_a_missing_sqlite_store_before_the_server_starts(tmp_path: Path) -> None:
    from alphalab.tracking.server import experiment_id, prepare_store

    uri = store_uri(tmp_path / "new")
    assert prepare_store(uri, "alphalab") is True
    assert (tmp_path / "new" / "mlflow.db").exists()
    assert experiment_id(uri, "alphalab") is not None
    assert prepare_store(uri, "alphalab") is False
