"""Collect tuning histories: random search with full learning curves on each task of a family."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meta_tune.store import Store
from meta_tune.trainables import TrainableSpec
from meta_tune.tuning._experiment import TrainableSection
from meta_tune.tuning._run import RunOutcome, tune_task

if TYPE_CHECKING:
    from ray.tune import Callback

logger = logging.getLogger(__name__)


def collect(
    spec: TrainableSpec,
    tasks: Sequence[str],
    *,
    samples: int,
    store: Store,
    storage_path: Path,
    epochs: int | None = None,
    seed: int = 0,
    concurrency: int = 2,
    on_task_done: Callable[[str, RunOutcome], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    make_callbacks: Callable[[], Sequence[Callback]] | None = None,
) -> list[RunOutcome]:
    """Run random search without early stopping on each task and record it as ``<family>/<task>``.

    With ``epochs`` other than the family's standard ones, the tasks are recorded as
    ``<family>@e<epochs>/<task>`` in the family ``<family>@e<epochs>`` instead, apart from
    the standard-length history.

    Every trial runs all its epochs, so the store gets whole learning curves (what priors
    and curve-based stopping learn from). Tasks already holding ``samples`` finished trials
    are skipped and a task with fewer gets only the missing trials, so an interrupted
    collection continues where it stopped (nothing recorded is deleted).

    Args:
        spec: The trainable family.
        tasks: Its tasks to run.
        samples: Trials per task.
        store: Where to record.
        storage_path: Tune's storage path.
        epochs: Epochs per trial (default: the family's).
        seed: Seeds the random search (each task gets ``seed`` + its index).
        concurrency: Trials at once.
        on_task_done: Called after each task with its outcome.
        on_plan: Called once before the first run with the trials and the runs still to do
            (after skipping what the store holds already).
        make_callbacks: Tune callbacks for each run (e.g. progress), made fresh per run.
    """
    outcomes = []
    for task in tasks:
        spec.check_task(task)
    plan = []
    for index, task in enumerate(tasks):
        # Other than the family's standard epochs: recorded apart, as <family>@e<epochs>/<task>.
        section = TrainableSection.model_validate({"family": spec.name, "task": task, "epochs": epochs})
        name, family = section.store_task, section.store_family
        finished = 0
        if any(t.name == name for t in store.list_tasks(family)):
            done = store.trials(name)
            finished = int((done["status"] == "TERMINATED").sum())
        if finished >= samples:
            logger.info("Skipping %s: it already has %d finished trials", name, finished)
            continue
        plan.append((index, task, name, family, finished))
    if on_plan is not None:
        on_plan(sum(samples - finished for *_, finished in plan), len(plan))
    for index, task, name, family, finished in plan:
        # An interrupted collection keeps what it recorded and runs only the missing trials.
        outcome = tune_task(spec, task, searcher="random", scheduler="fifo", samples=samples - finished,
                            epochs=epochs, seed=seed + 1000 * index + finished, store=store, store_task=name,
                            family=family, concurrency=concurrency, storage_path=storage_path,
                            callbacks=make_callbacks() if make_callbacks is not None else ())
        outcomes.append(outcome)
        if on_task_done is not None:
            on_task_done(task, outcome)
    return outcomes
