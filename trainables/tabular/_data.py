"""Tabular classification data: scikit-learn's bundled datasets or the user's CSV, never downloaded."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meta_tune.errors import InvalidConfigError

logger = logging.getLogger(__name__)

VAL_FRACTION = 0.25
SPLIT_SEED = 0  # the train/validation split and the folds are the same for every trial, whatever its seed
#: Column names taken as the label of a CSV (else its last column).
LABEL_COLUMNS = ("label", "target", "class", "y")

#: The built-in tasks: scikit-learn's bundled classification datasets.
TASKS: dict[str, str] = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
}


@dataclass(frozen=True)
class TabularData:
    """A classification dataset: float32 features ``(n, d)`` and labels ``0..k-1``.

    Attributes:
        x: The features (NaN where a CSV cell was empty).
        y: The labels, int64.
        num_classes: ``k``.
        name: The task name or path.
    """

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    name: str

    def holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """(train indices, validation indices): a stratified split, the same for every trial."""
        from sklearn.model_selection import train_test_split

        index = np.arange(len(self.y))
        train, val = train_test_split(index, test_size=VAL_FRACTION, stratify=self.y, random_state=SPLIT_SEED)
        return np.sort(train), np.sort(val)

    def folds(self, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """``k`` stratified cross-validation folds as (train indices, validation indices)."""
        from sklearn.model_selection import StratifiedKFold

        smallest = int(np.bincount(self.y).min())
        if not 2 <= k <= smallest:
            raise InvalidConfigError(
                f"cv={k} folds do not fit task {self.name!r}: its smallest class has {smallest} rows; "
                f"use 2 <= cv <= {smallest}, or cv=0 for one validation split."
            )
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=SPLIT_SEED)
        return list(splitter.split(self.x, self.y))


def load_task(task: str) -> TabularData:
    """The data of a built-in task (see :data:`TASKS`) or of the user's CSV file.

    A CSV needs a header row; its label is the column named ``label``, ``target``, ``class``
    or ``y`` (else the last column), text columns are one-hot encoded and empty cells are
    NaN (models that cannot take NaN impute the training median).

    Raises:
        InvalidConfigError: The task is unknown, or the CSV is unreadable or has one class.
    """
    return _load_cached(task)


@functools.lru_cache(maxsize=8)  # Ray reuses worker processes across trials
def _load_cached(task: str) -> TabularData:
    if task in TASKS:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, TASKS[task])()
        return TabularData(np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target, dtype=np.int64),
                           int(np.max(bunch.target)) + 1, task)
    path = Path(task).expanduser()
    if not path.is_file():
        raise InvalidConfigError(
            f"Unknown tabular task {task!r}: neither a built-in task ({', '.join(TASKS)}) nor an existing "
            "CSV file of your own (a header row, one row per example, a 'label' column or the label last)."
        )
    return _read_csv(path)


def _read_csv(path: Path) -> TabularData:
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise InvalidConfigError(f"Cannot read the CSV {path}: {err}") from err
    label = next((c for c in frame.columns if str(c).lower() in LABEL_COLUMNS), frame.columns[-1])
    frame = frame.dropna(subset=[label])
    classes, y = np.unique(frame[label].astype(str), return_inverse=True)
    if len(classes) < 2 or frame.shape[1] < 2:
        raise InvalidConfigError(
            f"The CSV {path} needs at least one feature column and two classes in its label column "
            f"{label!r}; it has {frame.shape[1] - 1} features and the classes {list(classes)}."
        )
    features = pd.get_dummies(frame.drop(columns=[label]), dummy_na=False, dtype=np.float32)
    logger.info("Read %s: %d rows, %d features, label %r with %d classes", path, len(frame),
                features.shape[1], label, len(classes))
    return TabularData(features.to_numpy(dtype=np.float32), y.astype(np.int64), len(classes), str(path))


__all__ = ["LABEL_COLUMNS", "SPLIT_SEED", "TASKS", "VAL_FRACTION", "TabularData", "load_task"]
