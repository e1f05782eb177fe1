"""docs/tutorial.py (Jupytext percent) and docs/tutorial.ipynb hold the same cells, and the notebook
runs top to bottom in a fresh kernel in under a minute."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCRIPT, NOTEBOOK = DOCS / "tutorial.py", DOCS / "tutorial.ipynb"


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_script_and_notebook_hold_the_same_cells():
    """After editing one, regenerate the other: ``jupytext --sync docs/tutorial.py``."""
    assert cells(jupytext.read(SCRIPT)) == cells(nbformat.read(NOTEBOOK, as_version=4))


@pytest.mark.slow  # ~10 s: the quick suite stays under 5 minutes on 2 cores
def test_the_notebook_runs_in_under_a_minute(tmp_path, monkeypatch):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel is this venv's Python (its kernel.json says "python": found on PATH)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    outputs = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "max |closed form - autograd|" in outputs and "greedy episode return: 500.0" in outputs, outputs
    assert any(
        "image/png" in output.get("data", {}) for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert len(list((tmp_path / "runs" / "tutorial").glob("*/checkpoint.pt"))) == 1
    print(f"notebook executed in {seconds:.1f} s")
    assert seconds < 60
