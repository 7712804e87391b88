"""``python -m experiments.dev.notebook``: execute ``examples/quickstart.ipynb`` on a real
Jupyter kernel and save it with its outputs (in a scratch project root, so the project's own
store is untouched)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def main() -> None:
    """Run every cell and write the notebook back."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="alphalab-notebook-") as root:
        os.environ["ALPHALAB_ROOT"] = root
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        path = {"metadata": {"path": str(NOTEBOOK.parents[1])}}
        NotebookClient(notebook, timeout=900, kernel_name="python3", resources=path).execute()
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
