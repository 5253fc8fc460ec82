"""The notebooks run top to bottom on tiny data (inputs passed by environment variables) and are committed clean."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from fixtures.evaluation.tiny import SUITE, tiny_dataset, tiny_model
from nbclient import NotebookClient

from pipelines import evaluate as ev
from pipelines.params import PipelineParams, override

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory: pytest.TempPathFactory, pipeline_params: PipelineParams) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("notebooks")
    dataset = tiny_dataset(tmp / "dataset.parquet")
    model = tiny_model(dataset, tmp / "model")
    params = override(pipeline_params, {"evaluate.min_subgroup_size": 2, "evaluate.clean_mail": False,
                                        "evaluate.written_eval": False, "evaluate.planted_max_texts": 0})
    ev.evaluate(model, dataset, SUITE, tmp / "reports", params, log_to_mlflow=False)
    return {
        "MAILGUARD_PREDICTIONS": str(tmp / "reports" / "predictions_test.jsonl"),
        "MAILGUARD_MODEL": str(model),
        "MAILGUARD_DATASET": str(dataset),
        "MAILGUARD_USE_CLEAN_MAIL": "0",
        "MPLBACKEND": "Agg",
    }


def test_both_notebooks_exist() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"error_analysis.ipynb", "threshold_tuning.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_tiny_data(
    path: Path, tiny_inputs: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in tiny_inputs.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # never the real store
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
