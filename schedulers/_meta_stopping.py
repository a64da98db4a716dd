"""Stop a trial once its learning curve is unlikely to end among the best, as past curves tell.

The rule: after ``min_t`` steps, stop a trial when ``P(final value better than the k-th best
final value so far) < threshold``, the probability coming from a :class:`CurvePredictor`
learned on related tasks' curves (Domhan et al. 2015's extrapolation-based stopping, with the
curve model meta-learned instead of fitted per curve).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ray.tune.result import DEFAULT_METRIC
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from meta_tune._io import atomic_write
from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers._curves import CurvePredictor

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

logger = logging.getLogger(__name__)

_STATE_FORMAT = 2
#: State formats :meth:`MetaStoppingScheduler.restore` reads (1 had no settings nor predictor).
_READABLE_FORMATS = (1, 2)
#: Suffix of the file next to a saved state that holds the base scheduler's own state.
_BASE_SUFFIX = ".base"
#: Suffix of the file next to a saved state that holds a fitted predictor (CurvePredictor.save).
_PREDICTOR_SUFFIX = ".predictor.npz"
#: Modules a base scheduler named in a saved state may be built from on restore.
_BASE_MODULES = ("ray.tune.schedulers", "meta_tune.schedulers")


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
        metric: The metric (default: the predictor's, or Tune's ``TuneConfig(metric=...)``;
            given only a mode, Ray's anonymous ``"_metric"``, which a trainable reports by
            returning or yielding plain numbers, as Ray's schedulers do).
        mode: ``"min"`` or ``"max"`` (same defaults as ``metric``).
        max_t: The step (``training_iteration``) whose value is predicted (default: the
            predictor's).
        min_t: Steps a trial runs before this rule may stop it (default: 3, or ``max_t`` if
            smaller).
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
        min_t: int | None = None,
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
        if min_t is None:
            min_t = min(3, max_t)
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
        self._default_base = base is None
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
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC  # as Ray's schedulers: the metric of plain returned numbers
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
        """Write the scheduler's whole state, as JSON (written atomically) and files beside it.

        At ``checkpoint_path``: the settings (``max_t``, ``min_t``, ``top_k``, ``threshold``,
        metric and mode), each running trial's curve, the finished trials' final values and
        the counters, as plain JSON. A fitted predictor is written by
        :meth:`CurvePredictor.save` to ``checkpoint_path + ".predictor.npz"`` (plain arrays,
        no pickle); a parametric one needs no file. The base scheduler's state is written by
        the base's own ``save`` to ``checkpoint_path + ".base"``: Ray's schedulers pickle
        themselves there (ASHA pickles its ``__dict__``), so :meth:`restore` trusts that one
        file. A base without ``save`` (FIFO) has no state worth keeping; it starts afresh on
        restore.
        """
        base_file = Path(f"{checkpoint_path}{_BASE_SUFFIX}")
        base_saved = False
        if type(self._base) is not FIFOScheduler:  # plain FIFO has no state
            try:
                self._base.save(str(base_file))
                base_saved = True
            except NotImplementedError:
                logger.warning(
                    "%s has no save(); MetaStoppingScheduler saves its own state only, and the base "
                    "scheduler starts afresh on restore.",
                    type(self._base).__name__,
                )
        predictor: dict[str, Any] | None = None
        if self._predictor is not None:
            predictor = {"parametric": self._predictor.is_parametric, "max_t": self._predictor.max_t}
            if not self._predictor.is_parametric:
                self._predictor.save(f"{checkpoint_path}{_PREDICTOR_SUFFIX}")
        state = {
            "class": type(self).__name__,
            "format": _STATE_FORMAT,
            "metric": self._metric,
            "mode": self._mode,
            "settings": {
                "max_t": self._max_t,
                "min_t": self._min_t,
                "top_k": self._top_k,
                "threshold": self._threshold,
            },
            "predictor": predictor,
            "curves": {trial: sorted(curve.items()) for trial, curve in self._curves.items()},
            "finals": self._finals,
            "num_stopped": self._num_stopped,
            "base": {
                "class": type(self._base).__name__,
                "module": type(self._base).__module__,
                "saved": base_saved,
            },
        }
        text = json.dumps(state, allow_nan=False)
        atomic_write(checkpoint_path, lambda f: f.write(text.encode()))

    def restore(self, checkpoint_path: str) -> None:
        """Take the whole state written by :meth:`save`, settings and predictor included.

        As with Ray's schedulers, any instance restores a saved one: a scheduler built with
        defaults (``MetaStoppingScheduler(max_t=1)``) takes the saved settings, metric, mode,
        predictor and base scheduler. A base given to this instance must be of the saved
        base's class; with none given, the saved base (one of Ray's or meta-tune's
        schedulers) is built and restored. Every file is checked before anything is set.
        Restoring the base scheduler calls its own ``restore`` on ``checkpoint_path +
        ".base"``, which for Ray's schedulers unpickles that file: restore only states you
        (or your own runs) wrote. The predictor file is read as plain arrays.

        Raises:
            InvalidConfigError: A file is missing, damaged or not a MetaStoppingScheduler
                state (older meta-tune versions wrote a pickle: save it again), or the state
                was saved with another base scheduler than the one given to this instance.
        """
        try:
            data = Path(checkpoint_path).read_bytes()
        except OSError as err:
            raise InvalidConfigError(
                f"Cannot read a MetaStoppingScheduler state from {checkpoint_path}: {err}."
            ) from err
        if data[:1] == b"\x80":  # the protocol byte that starts every pickle
            raise InvalidConfigError(
                f"{checkpoint_path} is a pickle (as earlier meta-tune versions saved), and "
                "MetaStoppingScheduler.restore reads only the JSON that save writes now, because loading "
                "a pickle can run code. Save the state again."
            )
        try:
            state = json.loads(data)
        except ValueError as err:
            raise InvalidConfigError(
                f"Cannot read a MetaStoppingScheduler state from {checkpoint_path}: it is not the JSON "
                f"file MetaStoppingScheduler.save writes ({err})."
            ) from err
        problem = _state_problem(state)
        if problem is not None:
            raise InvalidConfigError(f"{checkpoint_path} is not a MetaStoppingScheduler state: {problem}.")
        settings = state.get("settings") or {
            "max_t": self._max_t,
            "min_t": self._min_t,
            "top_k": self._top_k,
            "threshold": self._threshold,
        }
        predictor = self._restored_predictor(state, checkpoint_path, settings["max_t"])
        base = self._restored_base(state["base"], checkpoint_path)
        self._base, self._default_base = base, self._default_base and type(base) is FIFOScheduler
        self._predictor = predictor
        self._metric, self._mode = state["metric"], state["mode"]
        self._max_t, self._min_t = int(settings["max_t"]), int(settings["min_t"])
        self._top_k, self._threshold = int(settings["top_k"]), float(settings["threshold"])
        self._curves = {
            trial: {int(step): float(value) for step, value in curve}
            for trial, curve in state["curves"].items()
        }
        self._finals = [float(v) for v in state["finals"]]
        self._num_stopped = int(state["num_stopped"])

    def _restored_predictor(
        self, state: dict[str, Any], checkpoint_path: str, max_t: int
    ) -> CurvePredictor | None:
        """The predictor of a saved state (format 1 saved none: keep this instance's)."""
        if "predictor" not in state:
            return self._predictor
        saved = state["predictor"]
        if saved is None:
            return None
        if saved["parametric"]:
            if not state["metric"] or state["mode"] is None:
                return None  # built on the first trial, once Tune has said the metric
            return CurvePredictor.parametric(metric=state["metric"], mode=state["mode"], max_t=max_t)
        predictor = CurvePredictor.load(f"{checkpoint_path}{_PREDICTOR_SUFFIX}")
        if (predictor.metric, predictor.mode, predictor.max_t) != (state["metric"], state["mode"], max_t):
            raise InvalidConfigError(
                f"{checkpoint_path}{_PREDICTOR_SUFFIX} predicts {predictor.metric!r} ({predictor.mode}) "
                f"at step {predictor.max_t}, but the state beside it tunes {state['metric']!r} "
                f"({state['mode']}) to step {max_t}: the files come from different saves. Save the "
                "scheduler again."
            )
        return predictor

    def _restored_base(self, saved: dict[str, Any], checkpoint_path: str) -> TrialScheduler:
        """The base scheduler of a saved state, its own state restored."""
        base = self._base
        if saved["class"] != type(base).__name__:
            if not self._default_base:
                raise InvalidConfigError(
                    f"{checkpoint_path} was saved with base={saved['class']}, but this scheduler's base is "
                    f"{type(base).__name__}; build it with the same base scheduler, or with none to take "
                    "the saved one."
                )
            base = _build_base(saved, checkpoint_path)
        if saved["saved"]:
            base_file = Path(f"{checkpoint_path}{_BASE_SUFFIX}")
            if not base_file.is_file():
                raise InvalidConfigError(
                    f"{checkpoint_path} was saved with the state of its base {saved['class']} in "
                    f"{base_file}, which is missing; copy it along with the state."
                )
            base.restore(str(base_file))
        return base

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


def _build_base(saved: dict[str, Any], checkpoint_path: str) -> TrialScheduler:
    """A default-built instance of the base scheduler class a saved state names."""
    module, name = saved.get("module"), saved["class"]
    known = isinstance(module, str) and any(module == m or module.startswith(m + ".") for m in _BASE_MODULES)
    if not known:
        raise InvalidConfigError(
            f"{checkpoint_path} was saved with base={name} (module {module!r}), which restore builds "
            f"only from {' or '.join(_BASE_MODULES)}; build the scheduler with base={name}(...) and "
            "restore into it."
        )
    assert isinstance(module, str)
    cls = getattr(importlib.import_module(module), name, None)
    if not (isinstance(cls, type) and issubclass(cls, TrialScheduler)):
        raise InvalidConfigError(f"{checkpoint_path} names base={name}, which {module} has no scheduler of.")
    try:
        return cls()
    except Exception as err:  # a scheduler that needs arguments
        raise InvalidConfigError(
            f"{checkpoint_path} was saved with base={name}, which cannot be built without arguments ({err}); "
            f"build the scheduler with base={name}(...) and restore into it."
        ) from err


def _state_problem(state: Any) -> str | None:
    """What is wrong with a loaded MetaStoppingScheduler state, or None."""
    if not isinstance(state, dict) or state.get("class") != MetaStoppingScheduler.__name__:
        return "it was not written by MetaStoppingScheduler.save"
    if state.get("format") not in _READABLE_FORMATS:
        return f"its format is {state.get('format')!r}, this meta-tune reads {list(_READABLE_FORMATS)}"
    if not isinstance(state.get("metric"), (str, type(None))) or state.get("mode") not in (
        "min",
        "max",
        None,
    ):
        return f"metric {state.get('metric')!r} or mode {state.get('mode')!r} is not valid"
    base = state.get("base")
    if (
        not isinstance(base, dict)
        or not isinstance(base.get("class"), str)
        or not isinstance(base.get("saved"), bool)
    ):
        return "its 'base' entry is not valid"
    curves = state.get("curves")
    if not isinstance(curves, dict) or not all(
        isinstance(curve, list)
        and all(isinstance(p, list) and len(p) == 2 and all(_is_number(x) for x in p) for p in curve)
        for curve in curves.values()
    ):
        return "its 'curves' are not lists of [step, value] pairs"
    if not isinstance(state.get("finals"), list) or not all(_is_number(v) for v in state["finals"]):
        return "its 'finals' are not a list of numbers"
    if not isinstance(state.get("num_stopped"), int):
        return "its 'num_stopped' is not an integer"
    if state["format"] == 1:
        return None
    settings = state.get("settings")
    if not isinstance(settings, dict) or not all(
        isinstance(settings.get(k), int) and not isinstance(settings.get(k), bool)
        for k in ("max_t", "min_t", "top_k")
    ):
        return "its 'settings' do not hold integers max_t, min_t and top_k"
    if not 1 <= settings["min_t"] <= settings["max_t"] or settings["top_k"] < 1:
        return f"its settings are out of range (need 1 <= min_t <= max_t, top_k >= 1): {settings}"
    if not _is_number(settings.get("threshold")) or not 0.0 < settings["threshold"] < 1.0:
        return f"its threshold {settings.get('threshold')!r} is not a probability in (0, 1)"
    predictor = state.get("predictor")
    if predictor is not None and not (
        isinstance(predictor, dict) and isinstance(predictor.get("parametric"), bool)
    ):
        return "its 'predictor' entry is not valid"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
