"""An in-process Tune simulator: drives any Ray ``Searcher`` over simulated wall-clock time.

The simulator calls a searcher exactly as Tune's ``SearchGenerator`` does -
``set_search_properties(metric, mode, param_space, num_samples=...)``, ``suggest(trial_id)``,
``on_trial_result`` for every reported step and ``on_trial_complete`` with the last result -
with ``num_workers`` trials in flight (Tune's ``max_concurrent_trials``, i.e. the searcher
wrapped in ``ConcurrencyLimiter``). A Tune trial scheduler sees what Tune's ``TuneController``
shows it: ``on_trial_add``, ``on_trial_result`` for every step (a ``STOP`` ends the trial
there: that result goes to ``on_trial_complete`` of both, never to the searcher's
``on_trial_result``), ``on_trial_complete`` and ``on_trial_error``. Schedulers that pause
trials (HyperBand, PBT) need Tune's trial queue: run them with the real-Tune driver.
Time is simulated: each trial's steps finish at the cumulative runtimes the objective
reports, and an event queue delivers them in time order, as Syne Tune's simulator back-end
does. No Ray runtime is started.
"""

from __future__ import annotations

import copy
import heapq
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from meta_tune.errors import InvalidConfigError
from meta_tune.space import SearchSpace

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.search import Searcher

logger = logging.getLogger(__name__)

#: An objective maps a trial config to its reported steps: one metrics dict per
#: ``tune.report`` call, each holding the cumulative simulated runtime under ``time_key``.
Objective = Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class SimulationConfig:
    """How a simulated tuning run is set up.

    Attributes:
        metric: The metric the searcher optimizes (a key of the objective's steps).
        mode: ``"min"`` or ``"max"``.
        num_trials: Trials to start (Tune's ``num_samples``).
        num_workers: Trials running at once (Tune's ``max_concurrent_trials``).
        time_key: The key of each step holding the cumulative simulated seconds.
        time_budget: Simulated seconds after which the run ends (trials still running
            then are left out); None: the run ends when ``num_trials`` have finished.
    """

    metric: str
    mode: Literal["min", "max"]
    num_trials: int
    num_workers: int = 1
    time_key: str = "time_total_s"
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise InvalidConfigError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.num_trials < 1 or self.num_workers < 1:
            raise InvalidConfigError(
                f"num_trials and num_workers must be >= 1, got {self.num_trials} and {self.num_workers}"
            )
        if self.time_budget is not None and not self.time_budget > 0:
            raise InvalidConfigError(f"time_budget must be > 0 simulated seconds, got {self.time_budget}")


def simulate(
    searcher: Searcher,
    objective: Objective,
    param_space: Mapping[str, Any],
    config: SimulationConfig,
    *,
    scheduler: TrialScheduler | None = None,
) -> pd.DataFrame:
    """Run one simulated tuning run and return its trials in completion order.

    Args:
        searcher: A fresh Ray ``Searcher`` (it is wrapped in ``ConcurrencyLimiter`` when
            ``num_workers > 1``, as ``TuneConfig(max_concurrent_trials=...)`` does).
        objective: Maps a config to its reported steps (see :data:`Objective`).
        param_space: The Tune ``param_space``; its constants are merged into every
            suggested config, as Tune merges them.
        config: Metric, mode, number of trials and workers, time budget.
        scheduler: A fresh Tune trial scheduler that stops trials (FIFO when None); it
            gets the run's metric and mode as ``TuneConfig`` would pass them.

    Returns:
        One row per finished trial, in order of simulated end time: ``trial`` (start
        order), ``trial_id``, ``start_time``, ``end_time``, ``steps``, ``stopped`` (ended
        early by the scheduler), ``error``, the last value of ``config.metric``, and the
        config as ``config/<flattened name>`` columns.

    Raises:
        InvalidConfigError: The searcher or scheduler refused the search properties, or
            the scheduler paused a trial.
    """
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler
    from ray.tune.search import ConcurrencyLimiter, Searcher
    from ray.tune.search.util import _set_search_properties_backwards_compatible

    if config.num_workers > 1:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=config.num_workers)
    accepted = _set_search_properties_backwards_compatible(
        searcher.set_search_properties,
        config.metric,
        config.mode,
        dict(param_space),
        num_samples=config.num_trials,
    )
    if not accepted:  # Tune raises too: the param_space would be silently ignored
        raise InvalidConfigError(
            "The searcher was already given its own search space, so it ignores the param_space "
            "of the simulation; construct it without a space (Tune rejects this case the same way)."
        )
    # Tune passes its TuneController and Trial objects; here there is no controller and the
    # trials are the simulator's own records (schedulers use trial.trial_id), hence Any.
    rule: Any = scheduler if scheduler is not None else FIFOScheduler()
    if not rule.set_search_properties(config.metric, config.mode):
        raise InvalidConfigError(
            f"The scheduler {type(rule).__name__} was built with its own metric or mode; construct it "
            "without them (Tune rejects this case the same way) so that the run's are used."
        )
    constants = _constants(param_space)
    flatten = SearchSpace.from_tune(param_space).flatten

    events: list[tuple[float, int, int, str]] = []  # (time, trial, step, trial_id)
    trials: dict[str, _Trial] = {}
    rows: list[dict[str, Any]] = []
    now, started, free, finished = 0.0, 0, config.num_workers, False

    while True:
        while free > 0 and started < config.num_trials and not finished:
            trial_id = f"sim_{started:05d}"
            suggestion = searcher.suggest(trial_id)
            if suggestion == Searcher.FINISHED:
                finished = True
                break
            if suggestion is None:
                break  # the searcher waits for a running trial to finish
            trial_config = _merge(constants, suggestion)
            trial = _Trial(index=started, trial_id=trial_id, config=trial_config, start=now)
            trials[trial_id] = trial
            rule.on_trial_add(None, trial)
            started += 1
            free -= 1
            try:
                trial.steps = list(objective(copy.deepcopy(trial_config)))
            except Exception as err:  # a failing trial is an ERROR trial, as in Tune
                logger.debug("Trial %s failed: %r", trial_id, err)
                trial.error = repr(err)
            if trial.error is not None or not trial.steps:
                trial.error = trial.error or "the objective reported no result"
                heapq.heappush(events, (now, trial.index, -1, trial_id))
            else:
                time0 = float(trial.steps[0].get(config.time_key, 0.0))
                heapq.heappush(events, (now + time0, trial.index, 0, trial_id))
        if not events:
            if started < config.num_trials and not finished:
                logger.warning(
                    "The searcher suggested nothing while no trial was running; stopping "
                    "after %d of %d trials.",
                    started,
                    config.num_trials,
                )
            break
        now, _, step, trial_id = heapq.heappop(events)
        if config.time_budget is not None and now > config.time_budget:
            break
        trial = trials[trial_id]
        if step < 0:
            rule.on_trial_error(None, trial)
            searcher.on_trial_complete(trial_id, result=None, error=True)
            rows.append(trial.row(config.metric, now, None, flatten))
            free += 1
            continue
        result = _result(trial, step, now, config)
        decision = rule.on_trial_result(None, trial, result)
        if decision == TrialScheduler.PAUSE:
            raise InvalidConfigError(
                f"{type(rule).__name__} paused a trial; the simulator runs schedulers that continue or "
                "stop trials (FIFO, ASHA, MetaStoppingScheduler). Run pausing schedulers (HyperBand, PBT) "
                "with meta_tune.bench.run_tune."
            )
        assert trial.steps is not None
        last = step + 1 == len(trial.steps)
        if decision == TrialScheduler.STOP:
            result["done"] = True
            trial.stopped = not last
        else:
            searcher.on_trial_result(trial_id, result)
        if decision == TrialScheduler.STOP or last:
            rule.on_trial_complete(None, trial, result)
            searcher.on_trial_complete(trial_id, result=result, error=False)
            rows.append(trial.row(config.metric, now, result, flatten))
            free += 1
        else:
            step_time = float(trial.steps[step + 1].get(config.time_key, 0.0))
            heapq.heappush(events, (trial.start + step_time, trial.index, step + 1, trial_id))
    return pd.DataFrame(rows)


@dataclass(eq=False)  # hashed by identity, as schedulers key dicts by trial
class _Trial:
    index: int
    trial_id: str
    config: dict[str, Any]
    start: float
    steps: list[Mapping[str, Any]] | None = None
    error: str | None = None
    stopped: bool = False

    def row(
        self,
        metric: str,
        end: float,
        result: Mapping[str, Any] | None,
        flatten: Callable[[Mapping[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        value = math.nan if result is None else float(result.get(metric, math.nan))
        return {
            "trial": self.index,
            "trial_id": self.trial_id,
            "start_time": self.start,
            "end_time": end,
            "steps": 0 if result is None else result["training_iteration"],
            "stopped": self.stopped,
            "error": self.error,
            metric: value,
            **{f"config/{k}": v for k, v in flatten(self.config).items()},
        }


def _result(trial: _Trial, step: int, now: float, config: SimulationConfig) -> dict[str, Any]:
    """The result dict Tune would hand the searcher for this step."""
    assert trial.steps is not None
    result = dict(trial.steps[step])
    result.update(
        {
            "training_iteration": step + 1,
            config.time_key: now - trial.start,
            "trial_id": trial.trial_id,
            "config": copy.deepcopy(trial.config),
            "done": step + 1 == len(trial.steps),
        }
    )
    return result


def _constants(param_space: Mapping[str, Any]) -> dict[str, Any]:
    """The param_space without its domains (the values Tune merges into every config)."""
    from ray.tune.search.sample import Domain

    out: dict[str, Any] = {}
    for key, value in param_space.items():
        if isinstance(value, Mapping) and "grid_search" not in value:
            out[key] = _constants(value)
        elif not isinstance(value, Domain) and not isinstance(value, Mapping):
            out[key] = copy.deepcopy(value)
    return out


def _merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
