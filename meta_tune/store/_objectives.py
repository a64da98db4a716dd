"""The objectives of a store history: a column per objective, where the store keeps it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Objectives that are Tune bookkeeping, not metrics: the trials frame has them as another column.
BOOKKEEPING_OBJECTIVES = {"time_total_s": "runtime_s"}


def objective_values(frame: pd.DataFrame, metric: str) -> pd.Series:
    """The values of objective ``metric`` per row of a store trials or history frame (NaN: none).

    A metric a trial reported is its column; Tune's ``time_total_s``, which the store keeps as
    the trial's ``runtime_s``, is read from there.
    """
    column = metric if metric in frame else BOOKKEEPING_OBJECTIVES.get(metric, metric)
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, name=metric, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float).rename(metric)


def with_objectives(frame: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """``frame`` with a column per objective (``time_total_s`` copied from ``runtime_s``)."""
    out = frame.copy()
    for metric in metrics:
        if metric not in out:
            out[metric] = objective_values(frame, metric)
    out.attrs = dict(frame.attrs)
    return out
