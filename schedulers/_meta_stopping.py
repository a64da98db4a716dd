"""Stop a trial once its learning curve is unlikely to end among the best, as past curves tell.

The rule: after ``min_t`` steps, stop a trial when ``P(final value better than the k-th best
final value so far) < threshold``, the probability coming from a :class:`CurvePredictor`
learned on related tasks' curves (Domhan et al. 2015's extrapolation-based stopping, with the
curve model meta-learned instead of fitted per curve).
"""

from __future__ import annotations

import logging
import math
import pickle
from typing import TYPE_CHECKING, Any, Literal

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers._curves import CurvePredictor

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

logger = logging.getLogger(__name__)


class MetaStoppingScheduler(FIFOScheduler):
    """Meta-learned early stopping, alone or on top of another scheduler (e.g. ASHA).

    Every reported result goes first to ``base`` (FIFO when None); a ``STOP`` or ``PAUSE``
    from it stands. When ``base`` says ``CONTINUE``, the trial is stopped if it has run
    ``min_t`` steps and the predictor gives it less than ``threshold`` probability of ending
    better than the ``top_k``-th best final value among trials that ran to ``max_t``. Until
    ``top_k`` trials have finished, only ``base`` decides. Pausing schedulers (HyperBand,
    PBT) work as ``base``: trial choice is theirs, and a resumed trial's curve continues
    where it left off (a step reported again overwrites the old value).

    Args:
        predictor: Learned from past curves (:meth:`CurvePredictor.fit`); None uses
            :meth:`CurvePredictor.parametric` (needs ``max_t``).
        metric: The metric (default: the predictor's, or Tune's ``TuneConfig(metric=...)``).
        mode: ``"min"`` or ``"max"`` (same defaults as ``metric``).
        max_t: The step (``training_iteration``) whose value is predicted (default: the
            predictor's).
        min_t: Steps a trial runs before this rule may stop it.
        top_k: Rank among finished trials a trial must be likely to beat.
        threshold: Stop when the probability of beating it falls below this.
        base: A scheduler to combine with (``ASHAScheduler(...)``, ``HyperBandScheduler``).

    Example:
        >>> predictor = CurvePredictor.fit(store, metric="acc", mode="max", family="image")  # doctest: +SKIP
        >>> scheduler = MetaStoppingScheduler(predictor, base=ASHAScheduler(max_t=20))  # doctest: +SKIP
        >>> tune.TuneConfig(scheduler=scheduler, metric="acc", mode="max")  # doctest: +SKIP
    """

    def __init__(
        self,
        predictor: CurvePredictor | None = None,
        *,
        metric: str | None = None,
        mode: Literal["min", "max"] | None = None,
        max_t: int | None = None,
        min_t: int = 3,
        top_k: int = 3,
        threshold: float = 0.05,
        base: TrialScheduler | None = None,
    ) -> None:
        super().__init__()
        if predictor is None:
            if max_t is None:
                raise InvalidConfigError(
                    "MetaStoppingScheduler needs max_t= when no predictor is given (the step whose "
                    "value the parametric curve fit predicts)."
                )
        else:
            for name, given, learned in (
                ("metric", metric, predictor.metric),
                ("mode", mode, predictor.mode),
            ):
                if given is not None and given != learned:
                    raise InvalidConfigError(
                        f"{name}={given!r} conflicts with the predictor, which was fitted for "
                        f"{name}={learned!r}; pass the same {name} or refit the predictor."
                    )
            if max_t is not None and max_t != predictor.max_t:
                raise InvalidConfigError(
                    f"max_t={max_t} conflicts with the predictor's max_t={predictor.max_t}; leave max_t "
                    "out or refit the predictor with CurvePredictor.fit(..., max_t=...)."
                )
            metric, mode, max_t = predictor.metric, predictor.mode, predictor.max_t
        if mode not in (None, "min", "max"):
            raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}.")
        assert max_t is not None
        if not 1 <= min_t <= max_t:
            raise InvalidConfigError(f"min_t must lie in [1, max_t={max_t}], got {min_t}.")
        if top_k < 1:
            raise InvalidConfigError(f"top_k must be >= 1, got {top_k}.")
        if not 0.0 < threshold < 1.0:
            raise InvalidConfigError(f"threshold is a probability in (0, 1), got {threshold}.")
        self._predictor = predictor
        self._metric, self._mode = metric, mode
        self._max_t, self._min_t, self._top_k, self._threshold = int(max_t), min_t, top_k, threshold
        self._base: TrialScheduler = base if base is not None else FIFOScheduler()
        self._curves: dict[str, dict[int, float]] = {}
        self._finals: list[float] = []  # oriented to minimize
        self._num_stopped = 0

    # ------------------------------------------------------------------ Tune protocol
    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take the Tuner's metric and mode where none was set; False on a conflict."""
        if (self._metric and metric and metric != self._metric) or (
            self._mode and mode and mode != self._mode
        ):
            return False
        if mode not in (None, "min", "max"):
            raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}.")
        self._metric = self._metric or metric
        self._mode = self._mode or mode  # type: ignore[assignment]
        return self._base.set_search_properties(self._metric, self._mode, **spec)

    @property
    def metric(self) -> str | None:
        """The metric the rule acts on."""
        return self._metric

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        """Register a new trial (with ``base`` too)."""
        if not self._metric or not self._mode:
            raise InvalidConfigError(
                f"MetaStoppingScheduler has no metric ({self._metric}) or mode ({self._mode}); pass them "
                "to the scheduler or to tune.TuneConfig(metric=..., mode=...)."
            )
        if self._predictor is None:
            self._predictor = CurvePredictor.parametric(
                metric=self._metric, mode=self._mode, max_t=self._max_t
            )
        self._curves.setdefault(trial.trial_id, {})
        self._base.on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """``base``'s decision, turned into ``STOP`` when the curve is unlikely to end well."""
        decision = self._base.on_trial_result(tune_controller, trial, result)
        step, value = self._record(trial.trial_id, result)
        if decision != TrialScheduler.CONTINUE or step is None or value is None:
            return decision
        if step < self._min_t or step >= self._max_t or len(self._finals) < self._top_k:
            return decision
        reference = sorted(self._finals)[self._top_k - 1]
        assert self._predictor is not None
        prefix = self._prefix(trial.trial_id, step)
        if prefix is None:
            return decision
        sign = 1.0 if self._mode == "min" else -1.0
        chance = self._predictor.predict(prefix).prob_better(sign * reference)
        if chance < self._threshold:
            self._num_stopped += 1
            logger.debug(
                "Stopping trial %s at step %d: P(final better than the #%d final %s) = %.3f < %s.",
                trial.trial_id,
                step,
                self._top_k,
                sign * reference,
                chance,
                self._threshold,
            )
            return TrialScheduler.STOP
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> None:
        """Keep the final value of a trial that ran to ``max_t`` (the reference of the rule)."""
        step, _ = self._record(trial.trial_id, result)
        curve = self._curves.pop(trial.trial_id, {})
        if step is not None and step >= self._max_t and self._max_t in curve:
            sign = 1.0 if self._mode == "min" else -1.0
            self._finals.append(sign * curve[self._max_t])
        self._base.on_trial_complete(tune_controller, trial, result)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        """Forget an errored trial."""
        self._curves.pop(trial.trial_id, None)
        self._base.on_trial_error(tune_controller, trial)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """Forget a trial removed while pending or paused."""
        self._curves.pop(trial.trial_id, None)
        self._base.on_trial_remove(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        """``base`` chooses (FIFO by default)."""
        return self._base.choose_trial_to_run(tune_controller)

    def debug_string(self) -> str:
        """A status line for Tune's progress output."""
        return (
            f"Using MetaStopping (top {self._top_k}, threshold {self._threshold}): "
            f"{self._num_stopped} stopped early, {len(self._finals)} finished; "
            f"base: {self._base.debug_string()}"
        )

    # ------------------------------------------------------------------ state
    def save(self, checkpoint_path: str) -> None:
        """Write the scheduler's state (curves, finals, the base scheduler) to a file."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self._state(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Read a state written by :meth:`save`."""
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        if state.get("class") != type(self).__name__:
            raise InvalidConfigError(f"{checkpoint_path} was not saved by a MetaStoppingScheduler.")
        self._metric, self._mode = state["metric"], state["mode"]
        self._curves, self._finals, self._num_stopped = state["curves"], state["finals"], state["num_stopped"]
        self._base = pickle.loads(state["base"])

    def _state(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "metric": self._metric,
            "mode": self._mode,
            "curves": self._curves,
            "finals": self._finals,
            "num_stopped": self._num_stopped,
            "base": pickle.dumps(self._base),
        }

    # ------------------------------------------------------------------ internals
    def _record(self, trial_id: str, result: dict[str, Any]) -> tuple[int | None, float | None]:
        """Store the result's metric at its step; (step, value) or None where missing/NaN."""
        step = result.get("training_iteration")
        if step is None or self._metric is None:
            return None, None
        try:
            value = float(result[self._metric])
        except (KeyError, TypeError, ValueError):
            return int(step), None
        if not math.isfinite(value):
            return int(step), None
        self._curves.setdefault(trial_id, {})[int(step)] = value
        return int(step), value

    def _prefix(self, trial_id: str, step: int) -> list[float] | None:
        """The trial's values at steps 1..step, or None if a step is missing (e.g. a NaN)."""
        curve = self._curves.get(trial_id, {})
        if any(s not in curve for s in range(1, step + 1)):
            return None
        return [curve[s] for s in range(1, step + 1)]
