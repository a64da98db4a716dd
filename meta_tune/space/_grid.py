"""Tune's ``grid_search`` axes of a param_space: where they are, and the space without them.

meta-tune's searchers sample a :class:`~meta_tune.space.SearchSpace`, which has no grid;
``RandomSearch`` walks the grid itself, and the store and the experiment files see each
axis as the ``tune.choice`` of the values it may take.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from meta_tune.errors import InvalidConfigError

#: Where a ``grid_search`` sits in a param_space (dict keys and list indices) and its values.
GridAxis = tuple[list[str | int], list[Any]]


def grid_axes(param_space: Any, path: list[str | int] | None = None) -> list[GridAxis]:
    """Every ``{"grid_search": [...]}`` of a param_space (in nested dicts and lists), in order.

    Raises:
        InvalidConfigError: An empty grid, or one inside a ``tune.choice`` (a conditional
            branch cannot be walked as a grid: give its values to the choice).
    """
    path = path or []
    if isinstance(param_space, Mapping):
        if set(param_space) == {"grid_search"}:
            values = param_space["grid_search"]
            if not isinstance(values, list) or not values:
                where = "/".join(map(str, path)) or "the top"
                raise InvalidConfigError(f"grid_search at {where} needs a non-empty list of values.")
            return [(path, list(values))]
        return [axis for key, value in param_space.items() for axis in grid_axes(value, [*path, str(key)])]
    if isinstance(param_space, list):
        return [axis for i, value in enumerate(param_space) for axis in grid_axes(value, [*path, i])]
    from ray.tune.search.sample import Categorical  # here: importing meta_tune.space stays light

    if isinstance(param_space, Categorical) and grid_axes(list(param_space.categories), path):
        raise InvalidConfigError(
            f"A grid_search inside the tune.choice at {'/'.join(map(str, path))} cannot be walked as a "
            "grid; list its values in the choice instead."
        )
    return []


def without_grid(param_space: Mapping[str, Any], axes: list[GridAxis]) -> dict[str, Any]:
    """The param_space with each grid axis as a ``tune.choice`` over its values (what it may hold)."""
    from ray import tune

    space = copy.deepcopy(dict(param_space))
    for path, values in axes:
        set_at(space, path, tune.choice(values))
    return space


def set_at(node: Any, path: Sequence[str | int], value: Any) -> None:
    """Put ``value`` at ``path`` (dict keys and list indices) inside ``node``."""
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
