"""Driving the MLflow UI in headless Chromium: the browser test's helpers, also used by the
README screenshot tool (``python -m experiments.dev.screenshot``).

Playwright drives the system's Chromium (``$ALPHALAB_CHROMIUM``, default /usr/bin/chromium);
Playwright's own browser download is not used.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from alphalab.tracking import names

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
    """The context's page (a persistent context opens with one)."""
    return context.pages[0] if context.pages else context.new_page()


# --- MLflow UI pages ----------------------------------------------------------------------------
def headline(note: str | None) -> str | None:
    """The verdict's bold headline (``**Learned alpha wins: ...**``) in a run's description."""
    found = re.search(r"\*\*(.+?)\*\*", note or "")
    return found.group(1).strip() if found else None


def run_name_link(page, name: str):
    """The link to a run, by its name, in the runs table or a run page."""
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
    metrics = [names.FINAL_VAL_LOSS, names.LEARNED_REAL, names.LEARNED_IMAG, names.ALPHA_ERROR]
    toggle_columns(page, metrics)
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
