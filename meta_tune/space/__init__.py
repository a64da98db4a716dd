"""Tune search spaces as typed parameters with a unit-cube encoding.

Every meta-tune searcher and prior reads a Tune ``param_space`` through
:class:`SearchSpace`: flat "/"-joined parameter names, every Tune domain (conditional
sub-spaces included), an encoding to and from ``[0, 1]^d``, JSON and a fingerprint.
"""

from __future__ import annotations

from meta_tune.space._flatten import flatten, unflatten
from meta_tune.space._grid import GridAxis, grid_axes, set_at, without_grid
from meta_tune.space._params import (
    CategoricalEncoding,
    CategoricalParam,
    FloatParam,
    IntParam,
    NormalParam,
    Param,
)
from meta_tune.space._space import SearchSpace

__all__ = [
    "CategoricalEncoding",
    "CategoricalParam",
    "FloatParam",
    "GridAxis",
    "IntParam",
    "NormalParam",
    "Param",
    "SearchSpace",
    "flatten",
    "grid_axes",
    "set_at",
    "unflatten",
    "without_grid",
]
