"""Predict where a learning curve ends from its first steps, learned from related tasks' curves.

:class:`CurvePredictor` is a conditional density estimate of a trial's final metric given its
curve prefix. For every prefix length ``t`` it describes each training curve by three
features of its first ``t`` steps (the last value, the best value so far and the recent
slope) and keeps the change from step ``t`` to the end. A new prefix is matched with its
nearest training prefixes of the same length, and their changes, added to its own last value,
are samples of its final value (a k-nearest-neighbour conditional density; cf. the learning
curve extrapolation of Domhan et al. 2015 and the meta-learned curve priors of LC-PFN, Adriaensen
et al. 2023). With no history at all, :meth:`CurvePredictor.parametric` fits a saturating
power law to the prefix itself.

Values are handled oriented so that lower is better (a ``mode="max"`` metric is negated
inside and turned back in every output), as everywhere in meta-tune.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from meta_tune._io import atomic_write
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

    from meta_tune.store import Store

logger = logging.getLogger(__name__)

_FORMAT = 1
_SLOPE_WINDOW = 3
#: Power-law exponents tried by the parametric fallback, ``y(t) = c + a * t**-alpha``.
_ALPHAS = (0.25, 0.5, 1.0, 2.0)
#: Points of the parametric fallback's predictive distribution.
_PARAMETRIC_SAMPLES = 64


@dataclass(frozen=True)
class FinalDistribution:
    """Samples of a trial's final metric (in the metric's own units and direction).

    Attributes:
        samples: Sorted samples of the final value.
        mode: ``"min"`` or ``"max"``: which direction is better.
    """

    samples: np.ndarray
    mode: Literal["min", "max"]

    def quantile(self, q: float | Sequence[float]) -> np.ndarray:
        """Quantiles of the final value (``q`` in [0, 1])."""
        return np.quantile(self.samples, q)

    @property
    def median(self) -> float:
        """The median final value."""
        return float(np.median(self.samples))

    def interval(self, level: float = 0.8) -> tuple[float, float]:
        """The central interval holding the final value with probability ``level``."""
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def prob_better(self, threshold: float) -> float:
        """P(final strictly better than ``threshold``), smoothed.

        The smoothing (``(hits + 0.5) / (n + 1)``) keeps the probability off 0 and 1, so a
        handful of samples never makes a stopping rule certain.
        """
        hits = self.samples < threshold if self.mode == "min" else self.samples > threshold
        return float((np.count_nonzero(hits) + 0.5) / (len(self.samples) + 1))


class CurvePredictor:
    """Predicts the distribution of a trial's final metric from its partial learning curve.

    Build it with :meth:`fit` from past curves (a DataFrame or a :class:`~meta_tune.Store`),
    or with :meth:`parametric` when there is no history. See the module docstring for the
    model.

    Args:
        curves: Training curves, oriented to minimize, ``(n_curves, max_t)``; None for the
            parametric predictor.
        metric: The metric the curves hold.
        mode: ``"min"`` or ``"max"``.
        max_t: The final step (``training_iteration``) whose value is predicted.
        tasks: The task of each training curve.
        neighbors: Training prefixes each prediction is made from (default: a fifteenth
            of the curves, between 30 and 200; about 200 gave calibrated 80% intervals on
            lcbench's meta-test tasks).

    Example:
        >>> predictor = CurvePredictor.fit(curves, metric="val_accuracy", mode="max")  # doctest: +SKIP
        >>> predictor.predict([61.0, 70.2, 74.9]).interval(0.8)  # doctest: +SKIP
        (76.1, 83.0)
    """

    def __init__(
        self,
        curves: np.ndarray | None,
        *,
        metric: str,
        mode: Literal["min", "max"],
        max_t: int,
        tasks: Sequence[str] | None = None,
        neighbors: int | None = None,
    ) -> None:
        _check_mode(mode)
        if max_t < 2:
            raise InvalidConfigError(f"max_t must be >= 2 steps to predict anything, got {max_t}.")
        if neighbors is not None and neighbors < 1:
            raise InvalidConfigError(f"neighbors must be >= 1, got {neighbors}.")
        if curves is not None:
            curves = np.asarray(curves, dtype=np.float64)
            if curves.ndim != 2 or curves.shape[1] != max_t or len(curves) == 0:
                raise InvalidConfigError(
                    f"curves must have shape (n_curves >= 1, max_t={max_t}), got {curves.shape}."
                )
            if not np.isfinite(curves).all():
                raise InvalidConfigError("curves hold NaN or infinite values; drop those curves first.")
        self.metric, self.mode, self.max_t = metric, mode, int(max_t)
        if neighbors is None:
            neighbors = 0 if curves is None else int(np.clip(len(curves) // 15, 30, 200))
        self.neighbors = int(neighbors)
        self._curves = curves
        self._tasks = list(tasks) if tasks is not None else None
        self._models: dict[int, tuple[NearestNeighbors, np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(
        cls,
        curves: pd.DataFrame | Store,
        *,
        metric: str,
        mode: Literal["min", "max"],
        max_t: int | None = None,
        family: str | None = None,
        tasks: Iterable[str] | None = None,
        neighbors: int | None = None,
    ) -> CurvePredictor:
        """Learn from the learning curves of past trials.

        Args:
            curves: A DataFrame with one row per reported step (columns ``task``, ``trial``
                or ``trial_id``, ``training_iteration`` and ``metric``), or a store whose
                tasks' curves are read (``family``/``tasks`` select them).
            metric: The metric column.
            mode: ``"min"`` or ``"max"``.
            max_t: The final step to predict (default: the length most curves reach).
                Curves shorter than ``max_t`` (stopped early) are not used; longer ones are
                cut at ``max_t``.
            family: With a store: only tasks of this family.
            tasks: Only these tasks.
            neighbors: Training prefixes each prediction is made from (see the class).

        Raises:
            InvalidConfigError: A column is missing, or no curve reaches ``max_t``.
        """
        _check_mode(mode)
        frame = _curves_frame(curves, family=family, tasks=tasks)
        matrix, names = curve_matrix(frame, metric=metric, max_t=max_t)
        sign = 1.0 if mode == "min" else -1.0
        logger.info(
            "CurvePredictor: %d curves of %d steps from %d tasks.",
            len(matrix),
            matrix.shape[1],
            len(set(names)),
        )
        return cls(
            sign * matrix, metric=metric, mode=mode, max_t=matrix.shape[1], tasks=names, neighbors=neighbors
        )

    @classmethod
    def parametric(cls, *, metric: str, mode: Literal["min", "max"], max_t: int) -> CurvePredictor:
        """A predictor without history: a saturating power law fitted to each prefix.

        It needs three steps to say anything; before that its prediction is so wide that no
        stopping rule acts on it.
        """
        return cls(None, metric=metric, mode=mode, max_t=max_t)

    @property
    def is_parametric(self) -> bool:
        """Whether this predictor has no training curves (see :meth:`parametric`)."""
        return self._curves is None

    # ------------------------------------------------------------------ prediction
    def predict(self, prefix: Sequence[float]) -> FinalDistribution:
        """The distribution of the value at step ``max_t`` given the first steps.

        Args:
            prefix: The metric at steps 1, 2, ..., t (``t >= 1``), in the metric's units.

        Raises:
            InvalidConfigError: The prefix is empty or holds NaN/inf.
        """
        values = np.asarray(prefix, dtype=np.float64)
        if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
            raise InvalidConfigError(
                f"prefix must be a non-empty sequence of finite metric values, got {list(prefix)[:10]}."
            )
        sign = 1.0 if self.mode == "min" else -1.0
        samples = self._loss_samples(sign * values[None, :])[0]
        return FinalDistribution(samples=np.sort(sign * samples), mode=self.mode)

    def _loss_samples(self, losses: np.ndarray) -> np.ndarray:
        """Samples of the final loss for prefixes of one length, ``(n, t) -> (n, k)``."""
        t = losses.shape[1]
        if t >= self.max_t:
            return losses[:, [self.max_t - 1]]
        if self._curves is None:
            return np.stack([_power_law_samples(row, self.max_t) for row in losses])
        nn, changes, mean, scale = self._model(t)
        k = min(self.neighbors, len(changes))
        _, idx = nn.kneighbors((_features(losses) - mean) / scale, n_neighbors=k)
        return losses[:, -1:] + changes[idx]

    def _model(self, t: int) -> tuple[NearestNeighbors, np.ndarray, np.ndarray, np.ndarray]:
        """The neighbour index of prefix length ``t`` (built on first use, then cached)."""
        if t not in self._models:
            from sklearn.neighbors import NearestNeighbors

            assert self._curves is not None
            features = _features(self._curves[:, :t])
            mean = features.mean(axis=0)
            scale = features.std(axis=0)
            scale[scale <= 1e-12] = 1.0
            nn = NearestNeighbors().fit((features - mean) / scale)
            self._models[t] = (nn, self._curves[:, -1] - self._curves[:, t - 1], mean, scale)
        return self._models[t]

    # ------------------------------------------------------------------ evaluation
    def calibration(
        self,
        curves: pd.DataFrame,
        *,
        prefixes: Sequence[int] | None = None,
        level: float = 0.8,
    ) -> pd.DataFrame:
        """How well the predictor does on held-out curves, by prefix length.

        Args:
            curves: Held-out curves (same columns as for :meth:`fit`); curves shorter than
                ``max_t`` are skipped.
            prefixes: Prefix lengths to score (default: about ten from 1 to ``max_t - 1``).
            level: The central interval whose coverage is measured.

        Returns:
            One row per prefix length: ``prefix``, ``coverage`` (fraction of final values
            inside the ``level`` interval; ``level`` when calibrated), ``width`` (mean
            interval width), ``mae`` (mean absolute error of the median) and ``n``.
        """
        matrix, _ = curve_matrix(curves, metric=self.metric, max_t=self.max_t)
        if prefixes is None:
            prefixes = sorted({round(float(x)) for x in np.geomspace(1, self.max_t - 1, 10)})
        sign = 1.0 if self.mode == "min" else -1.0
        final = matrix[:, -1]
        rows = []
        for t in prefixes:
            if not 1 <= t < self.max_t:
                raise InvalidConfigError(f"prefix lengths must lie in [1, {self.max_t - 1}], got {t}.")
            # Every held-out prefix of this length at once: the samples predict() would give.
            samples = sign * self._loss_samples(sign * matrix[:, :t])
            lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=1)
            rows.append(
                {
                    "prefix": t,
                    "coverage": float(np.mean((lo <= final) & (final <= hi))),
                    "width": float(np.mean(hi - lo)),
                    "mae": float(np.mean(np.abs(np.median(samples, axis=1) - final))),
                    "n": len(matrix),
                }
            )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the predictor to one ``.npz`` file (written atomically)."""
        header = {
            "format": _FORMAT,
            "metric": self.metric,
            "mode": self.mode,
            "max_t": self.max_t,
            "neighbors": None if self._curves is None else self.neighbors,
            "tasks": self._tasks,
        }
        arrays: dict[str, Any] = {"header": np.array(json.dumps(header))}
        if self._curves is not None:
            arrays["curves"] = self._curves

        def write(f: IO[bytes]) -> None:
            np.savez_compressed(f, **arrays)

        atomic_write(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CurvePredictor:
        """Read a predictor written by :meth:`save` (the file is only read, never changed).

        The file is read as plain arrays (no pickle), so a damaged or hostile file can only
        fail to load.

        Raises:
            InvalidConfigError: The file is missing, truncated, damaged or not a meta-tune
                curve predictor; one message names the file and what is wrong.
        """
        try:
            header, curves = _read_npz(path)
        except FileNotFoundError as err:
            raise InvalidConfigError(
                f"No curve predictor at {path}: the file does not exist. Write one with "
                "CurvePredictor.fit(...).save(path)."
            ) from err
        except _DAMAGED as err:
            raise InvalidConfigError(
                f"Cannot read a curve predictor from {path}: the file is truncated, damaged or not an "
                f".npz written by CurvePredictor.save ({type(err).__name__}: {err}). Save it again."
            ) from err
        problem = _header_problem(header, curves)
        if problem is not None:
            raise InvalidConfigError(
                f"{path} is not a valid meta-tune curve predictor (format {_FORMAT}): {problem}. "
                "Save it again with CurvePredictor.save."
            )
        try:
            return cls(
                curves,
                metric=header["metric"],
                mode=header["mode"],
                max_t=header["max_t"],
                tasks=header["tasks"],
                neighbors=header["neighbors"],
            )
        except InvalidConfigError as err:
            raise InvalidConfigError(f"{path} is not a valid meta-tune curve predictor: {err}") from err

    def __repr__(self) -> str:
        source = "parametric" if self._curves is None else f"{len(self._curves)} curves"
        return f"CurvePredictor({self.metric!r}, mode={self.mode!r}, max_t={self.max_t}, {source})"


# ---------------------------------------------------------------------- helpers
def curve_matrix(
    curves: pd.DataFrame, *, metric: str, max_t: int | None = None
) -> tuple[np.ndarray, list[str]]:
    """Curves as a ``(n_curves, max_t)`` matrix (metric units) and the task of each curve.

    Each ``(task, trial)`` pair is one curve, its values ordered by ``training_iteration``
    (a step reported twice, e.g. by a trial restored from a checkpoint, keeps its last
    value). Curves with a gap, a non-finite value or fewer than ``max_t`` steps are dropped.

    Raises:
        InvalidConfigError: A column is missing, or no curve reaches ``max_t``.
    """
    trial_col = "trial" if "trial" in curves.columns else "trial_id"
    needed = ["task", trial_col, "training_iteration", metric]
    missing = [c for c in needed if c not in curves.columns]
    if missing:
        raise InvalidConfigError(
            f"The curves lack the column(s) {missing}; they need one row per reported step with "
            f"'task', 'trial' (or 'trial_id'), 'training_iteration' and {metric!r}."
        )
    frame = curves[needed].copy()
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    frame = frame.drop_duplicates(subset=["task", trial_col, "training_iteration"], keep="last")
    lengths = frame.groupby(["task", trial_col])["training_iteration"].max()
    if lengths.empty:
        raise InvalidConfigError("The curves are empty.")
    if max_t is None:
        max_t = int(lengths.mode().max())
    if max_t < 2:
        raise InvalidConfigError(f"Curves need at least 2 steps to learn from; the longest has {max_t}.")
    frame = frame[frame["training_iteration"].between(1, max_t)]
    wide = frame.pivot_table(
        index=["task", trial_col], columns="training_iteration", values=metric, aggfunc="last", dropna=False
    )
    wide = wide.reindex(columns=range(1, max_t + 1))
    complete = np.isfinite(wide.to_numpy(np.float64)).all(axis=1)
    dropped = int((~complete).sum())
    if not complete.any():
        raise InvalidConfigError(
            f"No curve has a finite {metric!r} at every step 1..{max_t}; pass max_t= no longer than "
            "the curves (or curves of whole trials)."
        )
    if dropped:
        logger.info("Skipped %d curves that are shorter than %d steps or have gaps or NaN.", dropped, max_t)
    wide = wide[complete]
    return wide.to_numpy(np.float64), [str(t) for t in wide.index.get_level_values("task")]


def _curves_frame(
    curves: pd.DataFrame | Store, *, family: str | None, tasks: Iterable[str] | None
) -> pd.DataFrame:
    if isinstance(curves, pd.DataFrame):
        frame = curves
        if tasks is not None:
            frame = frame[frame["task"].astype(str).isin({str(t) for t in tasks})]
        return frame
    from meta_tune.store import Store

    if not isinstance(curves, Store):
        raise InvalidConfigError(
            "curves must be a DataFrame of learning curves or a meta_tune.Store, got "
            f"{type(curves).__name__}."
        )
    names = [t.name for t in curves.list_tasks(family)]
    if tasks is not None:
        wanted = set(tasks)
        names = [n for n in names if n in wanted]
    if not names:
        raise InvalidConfigError(
            f"The store {curves} has no tasks{f' in family {family!r}' if family else ''} "
            "to learn curves from."
        )
    return pd.concat([curves.curves(name) for name in names], ignore_index=True)


def _features(prefixes: np.ndarray) -> np.ndarray:
    """Last value, best so far and recent slope of each prefix (rows), all oriented to minimize."""
    t = prefixes.shape[1]
    window = min(_SLOPE_WINDOW, t - 1)
    slope = (prefixes[:, -1] - prefixes[:, -1 - window]) / window if window > 0 else np.zeros(len(prefixes))
    return np.column_stack([prefixes[:, -1], prefixes.min(axis=1), slope])


def _power_law_samples(loss: np.ndarray, max_t: int) -> np.ndarray:
    """Samples of the final value from a power law ``c + a * t**-alpha`` fitted to the prefix."""
    t = len(loss)
    spread = float(np.ptp(loss)) if t > 1 else 0.0
    if t < 3:
        # Too short to fit: centred on the last value and wide enough to never decide.
        width = max(10.0 * spread, 10.0 * abs(loss[-1]), 1.0)
        return loss[-1] + width * _normal_grid()
    steps = np.arange(1, t + 1, dtype=np.float64)
    best: tuple[float, float, float] | None = None
    for alpha in _ALPHAS:
        design = np.column_stack([np.ones(t), steps**-alpha])
        coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
        sse = float(np.sum((design @ coef - loss) ** 2))
        prediction = float(coef[0] + coef[1] * max_t**-alpha)
        if best is None or sse < best[0]:
            best = (sse, prediction, alpha)
    assert best is not None
    sse, prediction, _ = best
    noise = math.sqrt(sse / max(t - 2, 1))
    # Uncertainty grows with the share of the curve still unseen and with how far the fit
    # extrapolates beyond the last value.
    unseen = 1.0 - t / max_t
    sigma = noise * math.sqrt(unseen * (1.0 + max_t / t)) + unseen * abs(prediction - loss[-1]) + 1e-12
    return prediction + sigma * _normal_grid()


def _normal_grid() -> np.ndarray:
    """Evenly spaced quantiles of a standard normal (a deterministic sample)."""
    from scipy.stats import norm

    return norm.ppf((np.arange(_PARAMETRIC_SAMPLES) + 0.5) / _PARAMETRIC_SAMPLES)


#: What reading a damaged ``.npz`` can raise: zip and zlib errors, a short read, a bad header.
_DAMAGED = (
    OSError,
    EOFError,
    ValueError,
    LookupError,
    TypeError,
    ArithmeticError,
    MemoryError,
    RuntimeError,  # zipfile: an "encrypted" or unknown-compression member (a flipped flag)
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
)


def _read_npz(path: str | os.PathLike[str]) -> tuple[Any, np.ndarray | None]:
    """The JSON header and the curves array of a predictor file (pickles are refused)."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if not magic:
        raise EOFError("the file is empty")
    if magic.startswith(b"\x93NUMPY"):
        raise ValueError("it holds a single .npy array, not an .npz archive")
    if not magic.startswith(b"PK\x03\x04"):
        raise ValueError(f"it is not a zip archive (it starts with {magic!r})")
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError("it holds a single .npy array, not an .npz archive")
    with data:
        names = set(data.files)
        if "header" not in names:
            raise KeyError(f"no 'header' array (it holds {sorted(names)})")
        header = json.loads(str(data["header"]))
        curves = np.asarray(data["curves"]) if "curves" in names else None
    return header, curves


def _header_problem(header: Any, curves: np.ndarray | None) -> str | None:
    """What is wrong with a loaded header and curves array, or None."""
    if not isinstance(header, dict):
        return f"its header is {type(header).__name__}, not a JSON object"
    if header.get("format") != _FORMAT:
        return f"its format is {header.get('format')!r}"
    missing = [k for k in ("metric", "mode", "max_t", "neighbors", "tasks") if k not in header]
    if missing:
        return f"its header lacks {missing}"
    if not isinstance(header["metric"], str):
        return f"metric is {header['metric']!r}, not a string"
    if header["mode"] not in ("min", "max"):
        return f"mode is {header['mode']!r}, not 'min' or 'max'"
    for key in ("max_t", "neighbors"):
        value = header[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{key} is {value!r}, not an integer"
    if header["max_t"] is None:
        return "max_t is missing"
    tasks = header["tasks"]
    if tasks is not None and (not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks)):
        return "tasks is not a list of task names"
    if (curves is None) != (header["neighbors"] is None):
        return "the header and the arrays disagree on whether it holds curves (incomplete file)"
    if curves is not None:
        if curves.dtype != np.float64:
            return f"its curves are {curves.dtype}, not float64"
        if tasks is not None and len(tasks) != len(curves):
            return f"it names {len(tasks)} tasks for {len(curves)} curves"
    return None


def _check_mode(mode: str) -> None:
    if mode not in ("min", "max"):
        raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}.")
