"""``examples/quickstart.ipynb`` executed top to bottom on a real Jupyter kernel (nbclient and
ipykernel), in a project root of its own, and its verdict checked against the store."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ROOT, all_runs

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_the_quickstart_notebook_runs_on_a_real_kernel(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ALPHALAB_ROOT", str(tmp_path))  # its store and Hydra folders
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    text = {
        i: "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        for i, cell in enumerate(cells)
    }
    verdict_cell = next(i for i, c in enumerate(cells) if "print(verdict.outcome)" in c.source)
    outcome, headline, *arms = text[verdict_cell].splitlines()
    runs = all_runs(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (parent,) = [r for r in runs if r.data.tags.get("alphalab.kind") == "sweep"]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "quickstart"
    assert outcome == parent.data.tags["alphalab.verdict"]
    assert headline in parent.data.tags["mlflow.note.content"]
    assert [line.split()[0] for line in arms] == ["fixed", "learned"]
    # the sweep cell shows the Sweep's HTML (verdict, table, both figures), each plot cell its
    # figure inline: the verdict's forest plot and the landscape
    sweep_cell = next(c for c in cells if "alphalab.sweep(" in c.source)
    html = [o for o in sweep_cell.outputs if "text/html" in o.get("data", {})]
    assert html and html[0]["data"]["text/html"].count("data:image/png;base64,") == 2
    for kind in ("verdict", "landscape"):
        plot_cell = next(c for c in cells if c.source.strip() == f'result.plot("{kind}")')
        assert any("image/png" in o.get("data", {}) for o in plot_cell.outputs), kind
    assert not os.environ.get("MLFLOW_TRACKING_URI")
    learned = parent.data.metrics
    assert (
        abs(
            complex(learned["best_trainable_alpha_real"], learned["best_trainable_alpha_imag"])
            - (0.5 + 2j)
        )
        < 0.1
    )
