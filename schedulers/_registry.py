"""Every trial scheduler by name: the one table ``meta-tune run``, ``bench`` and experiment files read.

Schedulers that learn (``meta_stopping``, ``meta_asha``, ``prior_asha``) learn from the
learning curves of past trials on related tasks; :meth:`SchedulerArgs.learn` fits what they
share once, so one benchmark or run can build many of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from meta_tune._options import OptionSpec, check_options
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pandas as pd
    from ray.tune.schedulers import TrialScheduler

    from meta_tune.schedulers._curves import CurvePredictor
    from meta_tune.schedulers._prior_asha import ASHAChoice

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerArgs:
    """What every scheduler factory gets (metric and mode come from the ``TuneConfig``).

    Attributes:
        max_t: Steps (``training_iteration``) of a whole trial.
        predictor: Final-value predictor learned from related tasks' curves (None: none).
        asha: ASHA settings chosen from those curves (None: none).
    """

    max_t: int
    predictor: CurvePredictor | None = None
    asha: ASHAChoice | None = None

    def learn(self, curves: pd.DataFrame, *, metric: str, mode: Literal["min", "max"]) -> SchedulerArgs:
        """These args with the predictor and ASHA settings learned from ``curves``.

        Args:
            curves: One row per reported step of past trials on related tasks (``task``,
                ``trial`` or ``trial_id``, ``training_iteration``, the metric).
            metric: The metric.
            mode: ``"min"`` or ``"max"``.
        """
        from meta_tune.schedulers._curves import CurvePredictor
        from meta_tune.schedulers._prior_asha import choose_asha

        return replace(
            self,
            predictor=CurvePredictor.fit(curves, metric=metric, mode=mode, max_t=self.max_t),
            asha=choose_asha(curves, metric=metric, mode=mode, max_t=self.max_t),
        )


@dataclass(frozen=True)
class SchedulerEntry:
    """A scheduler by name.

    Attributes:
        name: The name in ``meta-tune run --scheduler``, experiment files and benchmarks.
        summary: One line for help texts and the docs.
        make: ``make(args, options)`` builds a fresh scheduler (None: FIFO) from checked options.
        learns: Whether it learns from the learning curves of related tasks.
        options: ``name -> (type, default)`` of the options it takes.
    """

    name: str
    summary: str
    make: Callable[[SchedulerArgs, dict[str, Any]], TrialScheduler]
    learns: bool = False
    options: Mapping[str, OptionSpec] = field(default_factory=dict)

    def check_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """The given options with their types checked and converted.

        Raises:
            InvalidConfigError: An unknown option or a wrong type; the message names it and
                lists the valid ones.
        """
        return check_options(f"scheduler {self.name!r}", self.options, options)

    def build(self, args: SchedulerArgs, options: Mapping[str, Any] | None = None) -> TrialScheduler:
        """A fresh scheduler (options checked first).

        Raises:
            InvalidConfigError: Bad options, or no learned curves for ``prior_asha``.
        """
        return self.make(args, self.check_options(options))


_ASHA_OPTIONS: dict[str, OptionSpec] = {"grace_period": (int, 1), "reduction_factor": (float, 4)}
_STOPPING_OPTIONS: dict[str, OptionSpec] = {"min_t": (int, 3), "top_k": (int, 3), "threshold": (float, 0.05)}


def _fifo(args: SchedulerArgs, options: dict[str, Any]) -> TrialScheduler:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


def _asha(args: SchedulerArgs, options: dict[str, Any]) -> TrialScheduler:
    from ray.tune.schedulers import ASHAScheduler

    # Ray's defaults (grace period 1, reduction factor 4), as a user would start.
    return ASHAScheduler(time_attr="training_iteration", max_t=args.max_t, **options)


def _hyperband(args: SchedulerArgs, options: dict[str, Any]) -> TrialScheduler:
    from ray.tune.schedulers import HyperBandScheduler

    return HyperBandScheduler(time_attr="training_iteration", max_t=args.max_t, **options)


def _meta_stopping(base: bool) -> Callable[[SchedulerArgs, dict[str, Any]], TrialScheduler]:
    def make(args: SchedulerArgs, options: dict[str, Any]) -> TrialScheduler:
        from meta_tune.schedulers._meta_stopping import MetaStoppingScheduler

        asha = {k: options.pop(k) for k in _ASHA_OPTIONS if k in options}
        # A short run (max_t below the default min_t) stops nothing early rather than failing.
        options.setdefault("min_t", min(_STOPPING_OPTIONS["min_t"][1], args.max_t))
        if args.predictor is None:
            logger.info(
                "No learning curves of related tasks: MetaStoppingScheduler fits a power law per trial."
            )
        return MetaStoppingScheduler(
            args.predictor,
            max_t=None if args.predictor is not None else args.max_t,
            base=_asha(args, asha) if base else None,
            **options,
        )

    return make


def _prior_asha(args: SchedulerArgs, options: dict[str, Any]) -> TrialScheduler:
    from ray.tune.schedulers import ASHAScheduler

    if args.asha is None:
        raise InvalidConfigError(
            "Scheduler 'prior_asha' chooses ASHA's settings from the learning curves of related tasks, "
            "and there are none: record runs of related tasks first, or pick 'asha'."
        )
    logger.info("prior_asha: %s", args.asha.explain())
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=args.asha.max_t,
        grace_period=args.asha.grace_period,
        reduction_factor=args.asha.reduction_factor,
    )


_ENTRIES: dict[str, SchedulerEntry] = {
    e.name: e
    for e in [
        SchedulerEntry("fifo", "no early stopping: every trial runs to the end", _fifo),
        SchedulerEntry(
            "asha", "Ray's ASHAScheduler (asynchronous successive halving)", _asha, options=_ASHA_OPTIONS
        ),
        SchedulerEntry(
            "hyperband",
            "Ray's HyperBandScheduler (pauses and resumes trials)",
            _hyperband,
            options={"reduction_factor": (float, 3)},
        ),
        SchedulerEntry(
            "meta_stopping",
            "MetaStoppingScheduler: stops a trial once past curves say it will not reach the top-k",
            _meta_stopping(base=False),
            learns=True,
            options=_STOPPING_OPTIONS,
        ),
        SchedulerEntry(
            "meta_asha",
            "MetaStoppingScheduler over ASHA: ASHA's rungs plus the learned stopping rule",
            _meta_stopping(base=True),
            learns=True,
            options={**_STOPPING_OPTIONS, **_ASHA_OPTIONS},
        ),
        SchedulerEntry(
            "prior_asha",
            "ASHA with grace period and reduction factor chosen from past curves (asha_from_history)",
            _prior_asha,
            learns=True,
        ),
    ]
}


def names() -> list[str]:
    """The registered scheduler names, in the registry's order."""
    return list(_ENTRIES)


def get(name: str) -> SchedulerEntry:
    """The entry of ``name``.

    Raises:
        InvalidConfigError: An unknown name; the message lists the valid ones.
    """
    try:
        return _ENTRIES[name]
    except KeyError:
        raise InvalidConfigError(f"Unknown scheduler {name!r}; choose from {', '.join(_ENTRIES)}.") from None


def build(
    name: str, *, max_t: int, options: Mapping[str, Any] | None = None, **learned: Any
) -> TrialScheduler:
    """A fresh scheduler by name.

    Example:
        >>> from meta_tune import schedulers
        >>> type(schedulers.build("asha", max_t=10)).__name__
        'AsyncHyperBandScheduler'

    Args:
        name: One of :func:`names`.
        max_t: Steps of a whole trial.
        options: The scheduler's options (``get(name).options``).
        **learned: ``predictor`` and ``asha`` (see :class:`SchedulerArgs`).

    Raises:
        InvalidConfigError: Unknown name or option.
    """
    return get(name).build(SchedulerArgs(max_t=max_t, **learned), options)
