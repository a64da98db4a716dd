"""The trial schedulers a benchmark combines with its searchers, by name.

A benchmark method named ``searcher@scheduler`` (e.g. ``hyperopt@asha``) runs the searcher
under the scheduler; a bare searcher name runs under FIFO (no early stopping). Schedulers that
learn (``meta_stopping``, ``meta_asha``, ``prior_asha``) learn from the learning curves of
random configs on the meta-train tasks (:func:`random_curves`), the same data for all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pandas as pd
    from ray.tune.schedulers import TrialScheduler

    from meta_tune.schedulers import ASHAChoice, CurvePredictor


@dataclass(frozen=True)
class SchedulerContext:
    """What a scheduler factory may use.

    Attributes:
        max_t: Steps of a whole trial (the scenario's epochs).
        predictor: Fitted on the meta-train curves (None for schedulers that do not learn).
        asha: ASHA settings chosen from the meta-train curves (None likewise).
    """

    max_t: int
    predictor: CurvePredictor | None = None
    asha: ASHAChoice | None = None


@dataclass(frozen=True)
class SchedulerMethod:
    """A named way to build a scheduler.

    Attributes:
        name: The name after ``@`` in a method name.
        build: Factory of a fresh scheduler (None: FIFO).
        learns: Whether it needs the meta-train curves.
    """

    name: str
    build: Callable[[SchedulerContext], TrialScheduler | None]
    learns: bool = False


def _asha(context: SchedulerContext) -> TrialScheduler:
    from ray.tune.schedulers import ASHAScheduler

    # Ray's defaults (grace period 1, reduction factor 4), as a user would start.
    return ASHAScheduler(max_t=context.max_t)


def _meta_stopping(base: bool) -> Callable[[SchedulerContext], TrialScheduler]:
    def build(context: SchedulerContext) -> TrialScheduler:
        from meta_tune.schedulers import MetaStoppingScheduler

        assert context.predictor is not None
        return MetaStoppingScheduler(context.predictor, base=_asha(context) if base else None)

    return build


def _prior_asha(context: SchedulerContext) -> TrialScheduler:
    from ray.tune.schedulers import ASHAScheduler

    assert context.asha is not None
    return ASHAScheduler(
        max_t=context.asha.max_t,
        grace_period=context.asha.grace_period,
        reduction_factor=context.asha.reduction_factor,
    )


SCHEDULERS: dict[str, SchedulerMethod] = {
    s.name: s
    for s in [
        SchedulerMethod("fifo", lambda context: None),
        SchedulerMethod("asha", _asha),
        SchedulerMethod("meta_stopping", _meta_stopping(base=False), learns=True),
        SchedulerMethod("meta_asha", _meta_stopping(base=True), learns=True),
        SchedulerMethod("prior_asha", _prior_asha, learns=True),
    ]
}


def split_method(name: str) -> tuple[str, SchedulerMethod]:
    """``"searcher@scheduler"`` -> (searcher name, scheduler); no ``@`` means FIFO.

    Raises:
        InvalidConfigError: An unknown scheduler name; the message lists the known ones.
    """
    searcher, _, scheduler = name.partition("@")
    scheduler = scheduler or "fifo"
    if scheduler not in SCHEDULERS:
        raise InvalidConfigError(
            f"Unknown scheduler {scheduler!r} in method {name!r}; choose from {sorted(SCHEDULERS)} "
            "(e.g. 'hyperopt@asha')."
        )
    return searcher, SCHEDULERS[scheduler]


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


def fit_schedulers(
    curves: pd.DataFrame, *, metric: str, mode: Literal["min", "max"], max_t: int
) -> SchedulerContext:
    """The curve predictor and ASHA choice every learning scheduler of a benchmark shares."""
    from meta_tune.schedulers import CurvePredictor, choose_asha

    return SchedulerContext(
        max_t=max_t,
        predictor=CurvePredictor.fit(curves, metric=metric, mode=mode, max_t=max_t),
        asha=choose_asha(curves, metric=metric, mode=mode, max_t=max_t),
    )
