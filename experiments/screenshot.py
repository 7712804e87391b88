"""``python -m experiments.screenshot --store URI --out PATH``: README images from a real sweep.

Starts the MLflow UI on the store (``alphalab.ui``), opens the sweep's parent run in headless
Chromium and saves the run page with its verdict; ``--out-runs`` also saves the runs table with
the sweep's children expanded. The server and the browser are always stopped afterwards.

Needs ``playwright`` (a dev dependency) and a Chromium binary (``--chromium``, default
``$ALPHALAB_CHROMIUM`` or /usr/bin/chromium); Playwright's own browser download is not used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from alphalab import ui
from alphalab.tracking import (
    ALPHA_ERROR,
    FINAL_VAL_LOSS,
    LEARNED_IMAG,
    LEARNED_REAL,
    TAG_KIND,
    TAG_NOTE,
    TAG_PARENT,
    resolve_uri,
    sqlite_path,
)

CHROMIUM = os.environ.get("ALPHALAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 1000}
UI_TIMEOUT_MS = 45_000  # MLflow's React app takes several seconds to load on a small machine

# MLflow UI preferences (its localStorage, key ``<name>_v<version>``, JSON values).
# The assistant panel opens by itself on a first visit and takes a third of the page.
QUIET_ASSISTANT = {
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true",
    "mlflow.assistant.panelOpen_v1": "false",
}
# "Model training" view (runs table) instead of the GenAI view, on every page.
MODEL_TRAINING_VIEW = {"mlflow.workflowType_v1": json.dumps("machine_learning")}
ML_VIEW = "?workflowType=machine_learning"

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


# --- browser ----------------------------------------------------------------------------------
@contextmanager
def chromium(
    user_data_dir: Path,
    *,
    preferences: dict[str, str] | None = None,
    blocked: list[str] | None = None,
    executable: str = CHROMIUM,
) -> Iterator:
    """A headless Chromium context that only talks to this machine.

    Playwright refuses ``--user-data-dir`` in ``args``, so the profile is a persistent context.
    Requests to any other host are aborted (and their URLs appended to ``blocked``).
    """
    from playwright.sync_api import expect, sync_playwright

    def local_only(route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in _LOCAL_HOSTS:
            route.continue_()
        else:
            if blocked is not None:
                blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            service_workers="block",
        )
        try:
            context.route("**/*", local_only)
            if preferences:
                items = json.dumps(preferences)
                context.add_init_script(
                    f"for (const [k, v] of Object.entries({items})) localStorage.setItem(k, v);"
                )
            # Both clocks: actions wait on the context's timeout, ``expect`` on its own (5 s).
            context.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            yield context
        finally:
            context.close()


def page_of(context):
    return context.pages[0] if context.pages else context.new_page()


# --- MLflow UI pages ----------------------------------------------------------------------------
def headline(note: str | None) -> str | None:
    """The verdict's bold headline (``**Learned alpha wins: ...**``) in a run's description."""
    found = re.search(r"\*\*(.+?)\*\*", note or "")
    return found.group(1).strip() if found else None


def run_name_link(page, name: str):
    return page.get_by_role("link", name=name, exact=True)


def expand_children(page, parent_name: str) -> None:
    """Expand a parent run in the runs table.

    MLflow nests child runs under their parent, collapsed; the toggle is an unlabeled icon
    button in the parent's Run Name cell.
    """
    from playwright.sync_api import expect

    row = page.get_by_role("row").filter(has=run_name_link(page, parent_name))
    toggle = row.locator("button[data-component-id*='runnamecellrenderer']")
    expect(toggle).to_have_count(1)
    toggle.click()


def toggle_columns(page, titles: list[str]) -> list[str]:
    """Tick or untick columns in the runs table's "Columns" menu; return the titles not found.

    The menu is a tree of checkboxes filtered by its search box; a title is ticked by clicking
    the checkbox of its tree node (the title itself does not toggle it).
    """
    from playwright.sync_api import Error as PlaywrightError

    missing = []
    page.get_by_role("button", name="Columns", exact=True).click()  # not "Show more columns"
    search = page.get_by_placeholder("Search columns")
    for title in titles:
        search.fill(title)
        node = page.locator(".du-bois-light-tree-treenode").filter(
            has=page.get_by_text(title, exact=True)
        )
        try:
            node.locator(".du-bois-light-tree-checkbox").click(timeout=3_000)
        except PlaywrightError:
            missing.append(title)
    search.fill("")
    page.keyboard.press("Escape")
    return missing


def autosize_column(page, col_id: str) -> None:
    """Fit a runs-table column to its content (AG Grid: double-click the header's resize grip)."""
    page.locator(f'.ag-header-cell[col-id="{col_id}"] .ag-header-cell-resize').dblclick()


def tidy_runs_table(page) -> None:
    """README view: alphalab's result metrics instead of Dataset/Source/Models, full run names.

    Metric columns keep their default width: fitted to full float digits they overflow the page.
    """
    toggle_columns(page, ["Dataset", "Source", "Models"])
    toggle_columns(page, [FINAL_VAL_LOSS, LEARNED_REAL, LEARNED_IMAG, ALPHA_ERROR])
    autosize_column(page, "attributes.`Run Name`")
    page.mouse.move(0, 0)  # no hover highlight in the picture


def above_empty_space(page, margin: int = 24) -> dict[str, float]:
    """The page down to its last table row: a short runs table leaves the rest blank."""
    bottom = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[role=row]')]"
        ".map(row => row.getBoundingClientRect().bottom))"
    )
    height = min(VIEWPORT["height"], max(200, bottom + margin))
    return {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}


def show_full_description(page) -> None:
    """Long descriptions are folded after a few lines behind "Show more"."""
    more = page.get_by_role("button", name="Expand description")
    if more.count():
        more.click()


# --- the command --------------------------------------------------------------------------------
def find_sweep(uri: str, experiment: str, run_id: str | None):
    """The run to show: ``run_id``, else the latest run tagged as a sweep."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    db = sqlite_path(uri)
    if db is not None and not db.exists():  # MLflow would create an empty one
        raise ui.UIError(f"no store at {db}")
    client = MlflowClient(tracking_uri=uri)
    if run_id:
        try:
            return client.get_run(run_id)
        except MlflowException as exc:
            raise ui.UIError(f"no run {run_id!r} in {uri}: {exc.message}") from None
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ui.UIError(f"no experiment {experiment!r} in {uri}")
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`{TAG_KIND}` = 'sweep'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise ui.UIError(f"no sweep run (tag {TAG_KIND}=sweep) in experiment {experiment!r}")
    return runs[0]


def children_of(uri: str, run) -> list:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri).search_runs(
        [run.info.experiment_id], filter_string=f"tags.`{TAG_PARENT}` = '{run.info.run_id}'"
    )


def take(
    uri: str,
    out: Path,
    *,
    out_runs: Path | None = None,
    run_id: str | None = None,
    experiment: str = ui.DEFAULT_EXPERIMENT,
    executable: str = CHROMIUM,
) -> None:
    from playwright.sync_api import expect

    run = find_sweep(uri, experiment, run_id)
    eid, rid, name = run.info.experiment_id, run.info.run_id, run.info.run_name
    bold = headline(run.data.tags.get(TAG_NOTE))
    children = children_of(uri, run)
    with tempfile.TemporaryDirectory(prefix="alphalab-screenshot-") as tmp:
        tmp = Path(tmp)
        with (
            ui.running_server(uri, log=tmp / "mlflow-ui.log") as url,
            chromium(
                tmp / "chromium",
                preferences={**QUIET_ASSISTANT, **MODEL_TRAINING_VIEW},
                executable=executable,
            ) as context,
        ):
            page = page_of(context)
            if out_runs is not None:
                page.goto(f"{url}#/experiments/{eid}/runs{ML_VIEW}")
                expect(run_name_link(page, name)).to_be_visible()
                if children:
                    expand_children(page, name)
                    expect(run_name_link(page, children[0].info.run_name)).to_be_visible()
                tidy_runs_table(page)
                out_runs.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out_runs), clip=above_empty_space(page))
            page.goto(f"{url}#/experiments/{eid}/runs/{rid}{ML_VIEW}")
            expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
            if bold:
                expect(page.get_by_text(bold, exact=True)).to_be_visible()
            show_full_description(page)
            if children:  # the "About this run" panel has loaded too
                expect(run_name_link(page, children[0].info.run_name)).to_be_visible()
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.screenshot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--store", default=None, help="tracking URI (default: the project's)")
    parser.add_argument("--out", required=True, type=Path, help="PNG of the parent run's page")
    parser.add_argument("--out-runs", type=Path, default=None, help="PNG of the runs table")
    parser.add_argument("--run-id", default=None, help="parent run (default: the latest sweep)")
    parser.add_argument("--experiment", default=ui.DEFAULT_EXPERIMENT)
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium binary (%(default)s)")
    args = parser.parse_args(argv)

    # Keep the server (which forwards the UI's usage telemetry) off the network.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from playwright.sync_api import Error as PlaywrightError

    uri = resolve_uri(args.store)
    try:
        take(
            uri,
            args.out,
            out_runs=args.out_runs,
            run_id=args.run_id,
            experiment=args.experiment,
            executable=args.chromium,
        )
    except ui.UIError as exc:
        print(f"alphalab: error: {exc}", file=sys.stderr)
        return 1
    except PlaywrightError as exc:  # the UI did not show what was expected (in time)
        print(f"alphalab: error: in the browser: {exc.message.splitlines()[0]}", file=sys.stderr)
        return 1
    for path in (args.out, args.out_runs):
        if path is not None:
            print(f"alphalab: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
