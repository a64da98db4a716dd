"""The bookkeeping every meta-tune searcher shares, written once.

A subclass implements ``_propose()`` (and, if it keeps state of its own, ``_extra_state``
/ ``_load_extra_state``); this base class handles the Ray ``Searcher`` protocol around it:
search properties, the "undefined" errors, ``points_to_evaluate`` first (FIFO), the live
trials, observations with their fidelity, the failure policy, and save/restore.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ray.tune.search import UNDEFINED_METRIC_MODE, UNDEFINED_SEARCH_SPACE, Searcher

from meta_tune._io import atomic_write
from meta_tune.errors import InvalidConfigError
from meta_tune.space import SearchSpace

logger = logging.getLogger(__name__)

_STATE_FORMAT = "meta-tune-searcher-1"


@dataclass(frozen=True)
class Observation:
    """One finished (or early-stopped) trial of the target task.

    Attributes:
        config: The trial's config as suggested.
        value: The metric, oriented so that lower is better; None for a failed trial.
        iteration: The ``training_iteration`` the value was reported at (its fidelity).
        seconds: What the trial cost up to there (Tune's ``time_total_s``); None if unknown.
    """

    config: dict[str, Any]
    value: float | None
    iteration: int
    seconds: float | None = None


class MetaSearcher(Searcher):
    """Base class of meta-tune's searchers (see the module docstring).

    **Failure policy**: a trial that errored, or whose metric is missing, NaN or infinite,
    is kept as a *failed* observation (``value=None``); searchers never propose it again
    and model-based ones treat it as worse than every finished trial.

    **Multi-fidelity**: a trial stopped early by a scheduler (ASHA) arrives at
    ``on_trial_complete`` with a ``training_iteration`` below the others, and its last
    result may never have reached ``on_trial_result``; its value is recorded with that
    iteration, and :meth:`incumbent` only compares trials of the highest fidelity seen.

    Custom searchers run one trial at a time in Tune unless wrapped in
    ``ConcurrencyLimiter`` or given ``TuneConfig(max_concurrent_trials=N)``.
    """

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        *,
        metric: str | None = None,
        mode: Literal["min", "max"] | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        seed: int = 0,
    ) -> None:
        if mode not in (None, "min", "max"):
            raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}")
        super().__init__(metric=metric, mode=mode)
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._space: SearchSpace | None = None
        self._points = [dict(p) for p in points_to_evaluate or []]
        self._live: dict[str, dict[str, Any]] = {}
        self._last_result: dict[str, tuple[float | None, int, float | None]] = {}
        self._observations: list[Observation] = []
        self._num_samples: int | None = None
        if space is not None:
            self._set_space(space)

    # ------------------------------------------------------------------ Ray protocol
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take the Tuner's metric, mode and param_space; False if a space was given already."""
        if self._space is not None:
            return False
        if metric and self._metric is None:
            self._metric = metric
        if mode and self._mode is None:
            if mode not in ("min", "max"):
                raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}")
            self._mode = mode
        if spec.get("num_samples"):
            self._num_samples = int(spec["num_samples"])
        self._set_space(config)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next config: ``points_to_evaluate`` first, then the algorithm's proposal."""
        if self._space is None:
            raise RuntimeError(UNDEFINED_SEARCH_SPACE.format(cls=type(self).__name__, space="space"))
        if not self._metric or not self._mode:
            raise RuntimeError(
                UNDEFINED_METRIC_MODE.format(cls=type(self).__name__, metric=self._metric, mode=self._mode)
            )
        self._prepare()
        config = self._points.pop(0) if self._points else self._propose()
        self._live[trial_id] = config
        logger.debug("%s suggests %s for trial %s", type(self).__name__, config, trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Remember the trial's latest value (a stopped trial's final result may not come)."""
        if trial_id in self._live and self._metric in result:
            self._last_result[trial_id] = (
                self._value(result),
                int(result.get("training_iteration", 0)),
                _seconds(result),
            )

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record the finished trial as an observation (failed ones too, see the class docstring)."""
        config = self._live.pop(trial_id, None)
        last = self._last_result.pop(trial_id, (None, 0, None))
        if config is None:
            return
        seconds = last[2] if result is None or _seconds(result) is None else _seconds(result)
        if error:
            value, iteration = None, last[1]
        elif result is not None:
            if self._metric not in result:
                self._live[trial_id] = config  # nothing is lost if the caller fixes the metric
                raise InvalidConfigError(
                    f"{type(self).__name__} expected the metric {self._metric!r} in the last result of trial "
                    f"{trial_id}, but it has only {sorted(result)}. Report it with tune.report({{...}}), or "
                    "fix the metric name given to TuneConfig or the searcher."
                )
            value, iteration = self._value(result), int(result.get("training_iteration", last[1]))
        else:
            value, iteration = last[0], last[1]
        self._observations.append(
            Observation(config=config, value=value, iteration=iteration, seconds=seconds)
        )
        self._observe(self._observations[-1])

    # ------------------------------------------------------------------ for subclasses
    @property
    def space(self) -> SearchSpace:
        """The search space (set by the constructor or by Tune)."""
        assert self._space is not None
        return self._space

    @property
    def observations(self) -> list[Observation]:
        """The target task's finished trials so far, in completion order."""
        return list(self._observations)

    def incumbent(self) -> Observation | None:
        """The best successful observation among those of the highest fidelity seen."""
        done = [o for o in self._observations if o.value is not None]
        if not done:
            return None
        top = max(o.iteration for o in done)
        return min((o for o in done if o.iteration == top), key=lambda o: o.value)  # type: ignore[arg-type,return-value]

    def _seen(self, config: Mapping[str, Any]) -> bool:
        return any(o.config == config for o in self._observations) or config in self._live.values()

    def _propose(self) -> dict[str, Any]:
        raise NotImplementedError

    def _observe(self, observation: Observation) -> None:
        """Hook called after each new observation."""

    def _prepare(self) -> None:
        """Hook called at every suggestion, once metric, mode and space are known (cheap after the first)."""

    def _on_space(self) -> None:
        """Hook called once the space is known (build the backend here)."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``_extra_state`` returned."""

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        """Plain data (and the RNG state) from which :meth:`set_state` resumes exactly.

        The state is a copy: the searcher and the state do not change each other afterwards.
        """
        return copy.deepcopy(
            {
                "class": type(self).__name__,
                "metric": self._metric,
                "mode": self._mode,
                "seed": self._seed,
                "rng": self._rng.bit_generator.state,
                "space": None if self._space is None else self._space.to_json(),
                "points": self._points,
                "live": self._live,
                "last_result": self._last_result,
                "observations": [(o.config, o.value, o.iteration, o.seconds) for o in self._observations],
                "num_samples": self._num_samples,
                "extra": self._extra_state(),
            }
        )

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`get_state` output (a copy of it is taken)."""
        state = copy.deepcopy(state)
        if state.get("class") != type(self).__name__:
            raise InvalidConfigError(
                f"This state was saved by {state.get('class')!r}; restore it into that searcher, "
                f"not a {type(self).__name__}."
            )
        self._metric, self._mode, self._seed = state["metric"], state["mode"], state["seed"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._points, self._live, self._last_result = state["points"], state["live"], state["last_result"]
        self._observations = [Observation(*o) for o in state["observations"]]
        self._num_samples = state["num_samples"]
        self._space = None if state["space"] is None else SearchSpace.from_json(state["space"])
        if self._space is not None:
            self._on_space()
        self._load_extra_state(state["extra"])

    def save(self, checkpoint_path: str) -> None:
        """Write the state to ``checkpoint_path`` as JSON (Tune calls this for experiment checkpoints).

        Plain data only, written through a temporary file: restoring runs no code, and a
        crash never leaves half a state.
        """
        document = json.dumps({"format": _STATE_FORMAT, "state": self.get_state()}, default=_plain)
        atomic_write(checkpoint_path, lambda f: f.write(document.encode()))

    def restore(self, checkpoint_path: str) -> None:
        """Read a state written by :meth:`save`.

        Raises:
            InvalidConfigError: The file is not a meta-tune searcher state (a pickle, as older
                meta-tune versions wrote, is refused without being read).
        """
        data = Path(checkpoint_path).read_bytes()
        if data[:1] == b"\x80":
            raise InvalidConfigError(
                f"{checkpoint_path} is a pickled searcher state (older meta-tune versions wrote these); it "
                "is not read, because unpickling runs code. Start the run again, or restore it with the "
                "meta-tune version that wrote it."
            )
        try:
            document = json.loads(data)
            state = document["state"] if document.get("format") == _STATE_FORMAT else None
        except (ValueError, AttributeError, KeyError) as err:
            raise InvalidConfigError(f"{checkpoint_path} is not a meta-tune searcher state: {err}") from err
        if not isinstance(state, dict):
            raise InvalidConfigError(
                f"{checkpoint_path} is not a meta-tune searcher state of format {_STATE_FORMAT}."
            )
        self.set_state(state)

    # ------------------------------------------------------------------ internals
    def _set_space(self, param_space: Mapping[str, Any]) -> None:
        self._space = SearchSpace.from_tune(param_space)
        self._points = [self._space.complete(point) for point in self._points]
        for point in self._points:
            why = self._space.check(point)
            if why is not None:
                raise InvalidConfigError(
                    f"points_to_evaluate holds a config that is not in the search space, at {why}. "
                    f"Config: {point}"
                )
        self._on_space()

    def _value(self, result: Mapping[str, Any]) -> float | None:
        """The result's metric, oriented to minimize; None if missing, NaN or infinite."""
        raw = result.get(self._metric) if self._metric else None
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        return value if self._mode == "min" else -value


def _seconds(result: Mapping[str, Any]) -> float | None:
    """Tune's ``time_total_s`` of a result, if it is a positive finite number."""
    try:
        seconds = float(result["time_total_s"])
    except (KeyError, TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _plain(value: Any) -> Any:
    """JSON for the numpy scalars and arrays a state may hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"A searcher state holds a {type(value).__name__}, which is not plain data: {value!r}")
