"""``python -m experiments.dev.screenshot --store URI --out PATH``: README images from a real sweep.

Starts the MLflow UI on the store, opens the sweep's parent run in headless Chromium and saves the
run page with its verdict; ``--out-runs`` also saves the runs table with the sweep's children
expanded. The server and the browser are always stopped afterwards. A developer's tool: it needs
the checkout (the browser helpers live in ``tests/browser.py``) and the dev dependencies.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from alphalab.entry.defaults import default_experiment
from alphalab.results.compare import NotFound, parents
from alphalab.tracking import names
from alphalab.tracking.server import UIError, running_server
from alphalab.tracking.store import Tracker, resolve_uri, sqlite_path
from tests.browser import (
    CHROMIUM,
    ML_VIEW,
    MODEL_TRAINING_VIEW,
    QUIET_ASSISTANT,
    above_empty_space,
    chromium,
    expand_children,
    headline,
    page_of,
    run_name_link,
    show_full_description,
    tidy_runs_table,
)


def find_sweep(tracker: Tracker, run_id: str | None):
    """The run to show: ``run_id``, else the latest sweep."""
    if run_id:
        return tracker.client.get_run(run_id)
    sweeps = [run for run in parents(tracker) if run.data.tags.get(names.KIND) == "sweep"]
    if not sweeps:
        raise NotFound(f"no sweep in experiment {tracker.experiment_name!r}")
    return sweeps[-1]


def take(
    uri: str,
    out: Path,
    *,
    out_runs: Path | None = None,
    run_id: str | None = None,
    experiment: str,
    executable: str = CHROMIUM,
) -> None:
    """Screenshot the sweep's parent run page (and the runs table, if ``out_runs``)."""
    from playwright.sync_api import expect

    db = sqlite_path(uri)
    if db is not None and not db.exists():  # MLflow would create an empty one
        raise NotFound(f"no store at {db}")
    tracker = Tracker(uri, experiment, create=False)
    run = find_sweep(tracker, run_id)
    eid, rid, name = run.info.experiment_id, run.info.run_id, run.info.run_name
    bold = headline(run.data.tags.get(names.NOTE))
    # the newest child: the UI lists runs newest first and pages them (a sweep has hundreds)
    children = sorted(tracker.children(rid), key=lambda r: r.info.start_time, reverse=True)
    with tempfile.TemporaryDirectory(prefix="alphalab-screenshot-") as tmp:
        tmp = Path(tmp)
        with (
            running_server(uri, log=tmp / "mlflow-ui.log") as url,
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
    """Take the screenshots; one ``alphalab: error:`` line and exit 1 when it cannot."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.dev.screenshot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--store", default=None, help="tracking URI (default: the project's)")
    parser.add_argument("--out", required=True, type=Path, help="PNG of the parent run's page")
    parser.add_argument("--out-runs", type=Path, default=None, help="PNG of the runs table")
    parser.add_argument("--run-id", default=None, help="parent run (default: the latest sweep)")
    parser.add_argument("--experiment", default=default_experiment())
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
    except (UIError, LookupError) as exc:
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
