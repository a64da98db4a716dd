"""A prior learns from a Tune experiment folder someone sent: plain files only, finished trials only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ray import tune

import meta_tune.priors
from tests.store.test_import_safety import crafted_experiment

SPACE = {"lr": tune.loguniform(1e-3, 10.0), "model": {"width": tune.choice([4, 8, 16, 32])}}


@pytest.mark.filterwarnings("ignore:The history and the target space differ")
def test_a_prior_from_an_experiment_folder_runs_nothing_in_it_and_skips_what_did_not_finish(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "marker"
    folder = crafted_experiment(tmp_path, marker)
    prior = meta_tune.priors.fit(str(folder), space=SPACE, metric="acc", mode="max", portfolio_size=2)
    assert not marker.exists()
    (task,) = prior.tasks
    assert task.name == "experiment"
    # Three trials finished; the one that reported 0.99 and then raised, and the running one, do not count.
    assert sorted(np.round(-task.loss, 2)) == [0.8, 0.85, 0.95]
    best = prior.portfolio[0]
    assert best["model"] == {"width": 16} and abs(best["lr"] - 0.3) < 1e-9
    # A Path works the same, and so does anything with an experiment_path (an ExperimentAnalysis).
    again = meta_tune.priors.fit(folder, space=SPACE, metric="acc", mode="max", portfolio_size=2)
    assert again.portfolio == prior.portfolio
    assert not marker.exists()
