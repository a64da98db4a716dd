"""Random search with Tune's ``grid_search``, as a seeded, resumable meta-tune searcher."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from meta_tune.searchers._base import MetaSearcher
from meta_tune.space import GridAxis, grid_axes, set_at, without_grid


class RandomSearch(MetaSearcher):
    """Random search and grid search, as Tune's default search does, seeded and resumable.

    Every active parameter is sampled independently; a ``tune.grid_search([...])`` in the
    space is walked instead: suggestion ``i`` takes grid point ``i mod G`` of the ``G``
    combinations of all grid axes (``itertools.product`` in the space's order, the last
    axis fastest), so ``num_samples = G`` runs the grid once and ``k * G`` runs it ``k``
    times with other random draws of the sampled parameters. (Tune's default search runs
    ``num_samples`` times the grid; a searcher gets ``num_samples`` suggestions in all.)

    Unlike Tune's default search it reads conditional spaces the way meta-tune's other
    searchers do, saves and restores its state as JSON, and is the ``random`` of the registry.

    Example:
        >>> from ray import tune
        >>> space = {"lr": tune.loguniform(1e-4, 1e-1), "width": tune.grid_search([32, 64, 128])}
        >>> tune.TuneConfig(search_alg=RandomSearch(seed=0), num_samples=6)  # the grid twice
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
        self._grid: list[GridAxis] = []
        self._proposed = 0
        super().__init__(space, metric=metric, mode=mode, points_to_evaluate=points_to_evaluate, seed=seed)

    @property
    def grid_size(self) -> int:
        """The number of grid points (1 without ``grid_search``)."""
        return math.prod(len(values) for _, values in self._grid)

    def _set_space(self, param_space: Mapping[str, Any]) -> None:
        self._grid = grid_axes(param_space)
        super()._set_space(without_grid(param_space, self._grid))

    def _propose(self) -> dict[str, Any]:
        config = self.space.sample(self._rng, 1)[0]
        # Grid point i mod G in itertools.product order (the last axis fastest), by mixed radix.
        index = self._proposed % self.grid_size
        for path, values in reversed(self._grid):
            index, digit = divmod(index, len(values))
            set_at(config, path, copy.deepcopy(values[digit]))
        self._proposed += 1
        return config

    def _extra_state(self) -> dict[str, Any]:
        return {"grid": [[path, values] for path, values in self._grid], "proposed": self._proposed}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._grid = [(list(path), list(values)) for path, values in state.get("grid", [])]
        self._proposed = int(state.get("proposed", 0))
