"""The examples in examples/ run as the README says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from meta_tune.store import Store
from tests.conftest import REPO_ROOT


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
@pytest.mark.slow
def test_prior_searcher_example_learns_from_related_tasks(ray_session: None, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    best = load("prior_searcher").main(url, trials=4)
    assert best > 0.9
    tasks = [t.name for t in Store(url).list_tasks(family="sgd-digits")]
    assert tasks == ["sgd/digits[3, 8]", "sgd/digits[4, 9]", "sgd/digits[1, 7]", "sgd/digits[5, 6]"]
    assert len(Store(url).trials("sgd/digits[5, 6]")) == 4


def test_curve_calibration_example_reports_calibrated_intervals(yahpo_dir: Path) -> None:
    table = load("curve_calibration").main(str(yahpo_dir))
    assert table["coverage"].between(0.7, 0.97).all(), table
    assert table["width"].is_monotonic_decreasing
    # Learning from related tasks beats the history-free power law at every prefix length.
    assert (table["mae"] <= table["mae_parametric"]).all()
