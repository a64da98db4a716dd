"""How a benchmark combines its searchers with the schedulers of meta-tune's registry.

A benchmark method named ``searcher@scheduler`` (e.g. ``hyperopt@asha``) runs the searcher
under the scheduler of that name in ``meta_tune.schedulers.names()``; a bare searcher name runs
under FIFO (no early stopping). Schedulers that learn (``meta_stopping``, ``meta_asha``,
``prior_asha``) learn from the learning curves of random configs on the meta-train tasks
(:func:`random_curves`), the same data for all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pandas as pd

    from meta_tune.schedulers import SchedulerEntry


def split_method(name: str) -> tuple[str, SchedulerEntry]:
    """``"searcher@scheduler"`` -> (searcher name, scheduler entry); no ``@`` means FIFO.

    Raises:
        InvalidConfigError: An unknown scheduler name; the message lists the known ones.
    """
    from meta_tune import schedulers

    searcher, _, scheduler = name.partition("@")
    scheduler = scheduler or "fifo"
    if scheduler not in schedulers.names():
        raise InvalidConfigError(
            f"Unknown scheduler {scheduler!r} in method {name!r}; choose from "
            f"{', '.join(schedulers.names())} (e.g. 'hyperopt@asha')."
        )
    return searcher, schedulers.get(scheduler)


def random_curves(
    scenario: Any, tasks: list[str], *, n_per_task: int, seed: int, metric: str
) -> pd.DataFrame:
    """Whole learning curves of random configs on each task (the data learning schedulers use).

    Returns:
        One row per epoch: ``task``, ``trial``, ``training_iteration`` and ``metric``.
    """
    import pandas as pd

    from meta_tune.space import SearchSpace

    if "epoch" not in scenario.fidelity_params:
        raise InvalidConfigError(
            f"Scenario {scenario.name!r} has no learning curves, so schedulers have nothing to stop; use "
            "schedulers with 'lcbench'."
        )
    space = SearchSpace.from_tune(scenario.param_space())
    frames = []
    for i, task in enumerate(tasks):
        configs = space.sample(np.random.default_rng([seed, i, 1]), n_per_task)
        curve = scenario.curve(task, configs)
        frames.append(
            pd.DataFrame(
                {
                    "task": task,
                    "trial": curve["config"].to_numpy(),
                    "training_iteration": curve["epoch"].to_numpy(),
                    metric: curve[metric].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
