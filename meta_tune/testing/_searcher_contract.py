"""The behaviour every searcher owes Tune, as a pytest suite to subclass."""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from ray import tune
from ray.tune.search import ConcurrencyLimiter, Searcher

from meta_tune.space import SearchSpace, flatten

#: A space with every kind of parameter, a constant and a conditional sub-space.
CONTRACT_SPACE: dict[str, Any] = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "dropout": tune.uniform(0.0, 0.5),
    "layers": tune.randint(1, 5),
    "act": tune.choice(["relu", "tanh"]),
    "epochs": 3,
    "opt": tune.choice([{"name": "sgd", "momentum": tune.uniform(0.0, 0.99)}, {"name": "adam"}]),
}


def objective(config: Mapping[str, Any]) -> float:
    """A deterministic loss with its optimum inside the space."""
    flat = flatten(config)
    return float(
        (math.log10(flat["lr"]) + 2) ** 2
        + (flat["dropout"] - 0.2) ** 2
        + 0.1 * flat["layers"]
        + 0.3 * (flat["act"] == "relu")
        + 0.2 * (flat["opt/name"] == "adam")
    )


class SearcherContract:
    """Tests run against ``make()``; subclasses say how to build the searcher under test."""

    def make(
        self,
        *,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        seed: int = 0,
    ) -> Searcher:
        """Build the searcher under test (a fresh one on every call)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def configured(
        self,
        *,
        seed: int = 0,
        metric: str = "loss",
        mode: str = "min",
        points: list[dict[str, Any]] | None = None,
        num_samples: int = 30,
    ) -> Searcher:
        searcher = self.make(points_to_evaluate=points, seed=seed)
        assert searcher.set_search_properties(metric, mode, dict(CONTRACT_SPACE), num_samples=num_samples)
        return searcher

    @staticmethod
    def run(
        searcher: Searcher, n: int, *, sign: float = 1.0, start: int = 0, metric: str = "loss"
    ) -> list[dict[str, Any]]:
        configs = []
        for i in range(start, start + n):
            trial_id = f"t{i:03d}"
            config = searcher.suggest(trial_id)
            assert config is not None and config != Searcher.FINISHED
            configs.append(config)
            result = {metric: sign * objective(config), "training_iteration": 1}
            searcher.on_trial_result(trial_id, result)
            searcher.on_trial_complete(trial_id, result)
        return configs

    # ------------------------------------------------------------------ the contract
    def test_suggestions_are_valid_configs_of_native_types(self) -> None:
        space = SearchSpace.from_tune(CONTRACT_SPACE)
        for config in self.run(self.configured(), 30):
            assert space.check(space.complete(config)) is None, config
            flat = flatten(config)
            assert type(flat["layers"]) is int and type(flat["lr"]) is float

    def test_same_seed_same_sequence_other_seed_other_sequence(self) -> None:
        first = self.run(self.configured(seed=1), 12)
        assert self.run(self.configured(seed=1), 12) == first
        assert self.run(self.configured(seed=2), 12) != first

    def test_nan_inf_missing_and_errored_results_do_not_break_it(self) -> None:
        searcher = self.configured()
        bad_results: list[dict[str, Any] | None] = [
            {"loss": float("nan")},
            {"loss": float("inf")},
            {"loss": float("-inf")},
            None,
        ]
        for i, result in enumerate(bad_results):
            assert searcher.suggest(f"bad{i}") is not None
            searcher.on_trial_complete(f"bad{i}", result, error=result is None)
        self.run(searcher, 8)

    def test_state_round_trip_continues_exactly(self, tmp_path: Path) -> None:
        original = self.configured(seed=3)
        self.run(original, 8)
        original.save(str(tmp_path / "state.pkl"))
        restored = self.make(seed=3)
        restored.restore(str(tmp_path / "state.pkl"))
        assert self.run(restored, 6, start=8) == self.run(original, 6, start=8)

    def test_a_result_without_the_metric_is_explained(self) -> None:
        searcher = self.configured()
        assert searcher.suggest("m0") is not None
        with pytest.raises((RuntimeError, ValueError), match=r"metric `?'?loss"):
            searcher.on_trial_complete("m0", {"accuracy": 0.9, "training_iteration": 1})

    def test_missing_space_metric_or_mode_is_explained(self) -> None:
        with pytest.raises(RuntimeError, match="no search space has been defined"):
            self.make(metric="loss", mode="min").suggest("t0")
        with pytest.raises(
            RuntimeError, match=r"the `metric` \(None\) or `mode` \(None\) parameters have not been set"
        ):
            self.make(space=dict(CONTRACT_SPACE)).suggest("t0")

    def test_points_to_evaluate_come_first_in_order(self) -> None:
        space = SearchSpace.from_tune(CONTRACT_SPACE)
        points = [space.sample(__import__("numpy").random.default_rng(i), 1)[0] for i in range(3)]
        configs = self.run(self.configured(points=points), 5)
        assert [space.complete(c) for c in configs[:3]] == points

    def test_max_mode_mirrors_min_mode(self) -> None:
        # The negated loss under another name: a prior fitted to minimize "loss" refuses mode="max" on "loss".
        as_min = self.run(self.configured(seed=4, mode="min"), 12)
        as_max = self.run(self.configured(seed=4, metric="score", mode="max"), 12, sign=-1.0, metric="score")
        assert as_max == as_min

    def test_runs_trials_side_by_side_under_concurrency_limiter(self) -> None:
        limited = ConcurrencyLimiter(self.configured(), max_concurrent=4)
        assert all(limited.suggest(f"c{i}") is not None for i in range(4))
        assert limited.suggest("c4") is None
        limited.on_trial_complete("c0", {"loss": 1.0, "training_iteration": 1})
        assert limited.suggest("c5") is not None

    def test_parallel_suggestions_differ_and_stay_valid(self) -> None:
        limited = ConcurrencyLimiter(self.configured(seed=1), max_concurrent=4)
        space = SearchSpace.from_tune(CONTRACT_SPACE)

        def suggest(trial_id: str) -> dict[str, Any]:
            config = limited.suggest(trial_id)
            assert config is not None
            return config

        configs = {f"c{i:02d}": suggest(f"c{i:02d}") for i in range(4)}
        for step in range(4, 16):  # finish the oldest trial, start a new one
            oldest = min(configs)
            result = {"loss": objective(configs.pop(oldest)), "training_iteration": 1}
            limited.on_trial_complete(oldest, result)
            configs[f"c{step:02d}"] = suggest(f"c{step:02d}")
            assert all(space.check(c) is None for c in configs.values())
            assert len({tuple(sorted(flatten(c).items())) for c in configs.values()}) == 4

    def test_accepts_trials_stopped_early_by_a_scheduler(self) -> None:
        # As ASHA stops them: done at a low training_iteration, the last result never seen.
        searcher = self.configured()
        for i in range(6):
            config = searcher.suggest(f"s{i}")
            assert config is not None
            if i % 2:
                searcher.on_trial_result(f"s{i}", {"loss": objective(config), "training_iteration": 1})
            searcher.on_trial_complete(
                f"s{i}", {"loss": objective(config) + 1, "training_iteration": 1 + i % 2}
            )
        self.run(searcher, 4, start=10)

    def test_state_is_picklable(self) -> None:
        searcher = self.configured()
        self.run(searcher, 3)
        pickle.loads(pickle.dumps(searcher.get_state()))
