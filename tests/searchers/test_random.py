"""RandomSearch: Tune's grid_search walked as Tune's default search does, seeded and restored exactly."""

from __future__ import annotations

from typing import Any

import pytest
from ray import tune

from meta_tune.errors import InvalidConfigError
from meta_tune.searchers import RandomSearch

SPACE: dict[str, Any] = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "net": {"width": tune.grid_search([32, 64, 128]), "act": tune.grid_search(["relu", "tanh"])},
    "epochs": 3,
}


def suggest(searcher: RandomSearch, n: int, start: int = 0) -> list[dict[str, Any]]:
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        assert config is not None
        searcher.on_trial_complete(f"t{i}", {"acc": config["lr"], "training_iteration": 1})
        configs.append(config)
    return configs


def test_the_grid_is_walked_whole_then_again_with_new_draws_of_the_sampled_parameters() -> None:
    searcher = RandomSearch(SPACE, metric="acc", mode="max", seed=0)
    assert searcher.grid_size == 6
    configs = suggest(searcher, 12)
    grid = [(c["net"]["width"], c["net"]["act"]) for c in configs]
    assert grid[:6] == [(w, a) for w in (32, 64, 128) for a in ("relu", "tanh")] and grid[6:] == grid[:6]
    assert len({c["lr"] for c in configs}) == 12 and all(c["epochs"] == 3 for c in configs)


def test_a_restored_search_goes_on_at_the_same_grid_point_with_the_same_draws() -> None:
    searcher = RandomSearch(SPACE, metric="acc", mode="max", seed=4)
    suggest(searcher, 4)
    again = RandomSearch()
    again.set_state(searcher.get_state())
    assert suggest(again, 5, start=4) == suggest(searcher, 5, start=4)


def test_points_to_evaluate_come_first_and_do_not_move_the_grid() -> None:
    point = {"lr": 0.01, "net": {"width": 64, "act": "tanh"}, "epochs": 3}
    configs = suggest(RandomSearch(SPACE, metric="acc", mode="max", points_to_evaluate=[point]), 3)
    assert configs[0] == point and [c["net"]["width"] for c in configs[1:]] == [32, 32]


def test_bad_grids_are_refused_with_where_they_are() -> None:
    with pytest.raises(InvalidConfigError, match="grid_search at net/width needs a non-empty list"):
        RandomSearch({"net": {"width": {"grid_search": []}}})
    with pytest.raises(InvalidConfigError, match=r"grid_search inside the tune\.choice at opt"):
        RandomSearch({"opt": tune.choice([{"lr": tune.grid_search([0.1, 0.2])}, {"lr": 0.3}])})
