"""The tuning histories meta-tune ships, one per trainable family."""

from __future__ import annotations

from pathlib import Path

import pytest

from meta_tune.space import SearchSpace
from meta_tune.store import Store
from meta_tune.trainables import get, names
from meta_tune.tuning import _shipped, fit_prior, load_shipped, shipped_archive

#: The families that ship a tuning history (tabular ships priors learned from YAHPO instead).
HISTORY_FAMILIES = ["image", "meta", "rl", "text"]


def test_the_families_without_a_history_are_those_that_ship_priors_instead() -> None:
    assert [f for f in names() if shipped_archive(f) is not None] == HISTORY_FAMILIES


@pytest.mark.parametrize("family", HISTORY_FAMILIES)
def test_every_family_ships_whole_curves_of_at_least_8_tasks(family: str, tmp_path: Path) -> None:
    archive = shipped_archive(family)
    assert archive is not None and archive.stat().st_size < 20e6
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    counts = load_shipped(store, family)
    tasks = store.list_tasks(family=family)
    assert counts["tasks"] == len(tasks) >= 8
    spec = get(family)
    space = SearchSpace.from_tune(spec.search_space())
    for task in tasks:
        trials = store.trials(task.name)
        assert len(trials) >= 30 and (trials["status"] == "TERMINATED").all()
        # No early stopping: every trial of a task ran the same number of epochs.
        assert trials["training_iteration"].nunique() == 1
        assert len(store.curves(task.name)) == trials["training_iteration"].sum()
        assert task.name.removeprefix(f"{family}/") in spec.tasks
        assert (task.metric, task.mode) == (spec.metric, spec.mode)
        # Made with today's search space: a changed space needs `meta-tune collect` again.
        assert task.space_fingerprint == space.fingerprint
    assert load_shipped(store, family) == {"tasks": 0, "trials": 0, "results": 0}  # once only
    # Out of the box the history gives a prior whose first suggestion is a valid config.
    prior = fit_prior(store.history(family=family), space=spec.search_space(), metric=spec.metric, mode=spec.mode)
    assert len(prior.portfolio) >= 1
    space.validate(prior.portfolio[0])


def test_families_without_a_shipped_history_load_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_shipped, "SHIPPED_DIR", tmp_path / "nothing-shipped")
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    assert shipped_archive("rl") is None
    assert load_shipped(store, "rl") == {"tasks": 0, "trials": 0, "results": 0}


def test_the_main_jobs_task_needs_no_system_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # README command 1 installs Python packages only: the demo's task must not need Debian's data.
    from meta_tune.cli._tuning import DEMO_TASKS
    from meta_tune.trainables.image import load_task

    monkeypatch.setenv("MT_FASHION_MNIST_DIR", str(tmp_path))
    assert len(load_task(DEMO_TASKS["image"]).y_train) > 0


def test_every_family_with_a_history_has_a_demo_task() -> None:
    from meta_tune.cli._tuning import DEMO_TASKS

    assert set(DEMO_TASKS) == set(HISTORY_FAMILIES)
    for family, task in DEMO_TASKS.items():
        assert task in get(family).tasks
