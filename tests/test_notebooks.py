"""The tutorial notebooks run top to bottom without error, and are committed without outputs.

Each notebook runs in a fresh ``python3`` kernel with ``notebooks/`` as its working directory,
as Jupyter opens it; the notebooks find the package whether it is installed or not. Patient
and sample counts are small (set in one cell at the top of each notebook), so each takes
well under two minutes. Deselect with ``-m 'not slow'``; run alone with
``python -m pytest tests/test_notebooks.py`` or ``python -m pytest --nbmake notebooks/``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_quickstart", "02_testing_frequency", "03_uncertainty", "04_validation")
CELL_TIMEOUT = 300  # seconds per cell


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell, with its traceback


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_clean(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {i}: strip outputs before committing"
            assert cell.execution_count is None, f"{name} cell {i}: strip execution counts"
