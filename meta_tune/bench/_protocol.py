"""The benchmark protocol: meta-train/meta-test splits, seeds, normalized regret, aggregates.

Split. Each scenario's tasks are split once and for all: a task goes to meta-train when
``u = int(sha256(f"{scenario}:{task}")[:8 bytes], big-endian) / 2**64`` is below 0.8, to
meta-test otherwise. Nothing random is stored, and the split never changes when tasks are
added. Methods learn from meta-train tasks and are scored on meta-test tasks. Sizes
(meta-train/meta-test): rbv2_xgboost 97/22, rbv2_rpart 96/21, lcbench 29/5, iaml_glmnet 1/3.

Seeds. Run ``seed`` of a method on a task uses :func:`derive_seed`:
``int(sha256(f"{base_seed}:{scenario}:{task}:{seed}")[:8 bytes], big-endian) % (2**31 - 1)``,
so that random starts differ across tasks and repeat across processes.

Regret. For a task and a metric, ``best`` and ``worst`` are the best and worst clipped
surrogate values over a fixed random sample of configs (10,000 by default, drawn with
``SearchSpace.sample`` under a fixed seed, at the maximal fidelity; the same configs for
every task), as HPO-B does. The normalized regret of a value ``v`` is
``(best - v) / (best - worst)`` for a maximized metric and ``(v - best) / (worst - best)``
for a minimized one, clipped to ``[0, 1]``: an optimizer can find a config better than
every sampled one (regret 0, not negative) or worse than every sampled one (regret 1).
The sample's statistics are cached on disk (see :func:`metric_bounds`).

Saturation. On some tasks the surrogate predicts the best possible value (``acc >= 1``)
for many configs, so that regret 0 is easy to reach. A task counts as saturated when at
least 1% of the random sample's raw predictions reach the metric's best possible value;
:func:`saturated_tasks` lists them so that reports can show results with and without them.
With the default sample, 22 of rbv2_xgboost's 119 tasks saturate on ``acc`` (4 of its
meta-test tasks: 32, 554, 40996, 41162); no task of the other scenarios saturates on its
default metric.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from meta_tune._io import CACHE_ENV, cache_root
from meta_tune.bench._scenario import Scenario
from meta_tune.bench._scenarios import SCENARIOS
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

TRAIN_FRACTION = 0.8
TRIAL_BUDGETS = (1, 5, 10, 25, 50, 100)
#: Simulated-time budgets the tables report, in multiples of the task's median random-config runtime.
TIME_BUDGETS = (1, 2, 5, 10, 20, 50)
SAMPLE_SIZE = 10_000
SATURATION_THRESHOLD = 0.01

_CACHE_FORMAT = 1
_SEED_MODULUS = 2**31 - 1  # derived seeds fit every library's seed type (int32 included)
_RUN = ["method", "task", "seed"]
_warned_cache: set[str] = set()


# ---------------------------------------------------------------------- split and seeds
@dataclass(frozen=True)
class MetaSplit:
    """The fixed meta-train/meta-test split of one scenario's tasks (see the module doc)."""

    scenario: str
    train: tuple[str, ...]
    test: tuple[str, ...]


def meta_split(scenario: str | Scenario) -> MetaSplit:
    """The fixed meta-train/meta-test split of a scenario (about 80/20, by a hash).

    Needs no data files: the task lists are part of meta-tune.

    Args:
        scenario: A scenario or its name.

    Returns:
        The split; both task tuples keep the scenario's task order.

    Raises:
        InvalidConfigError: The scenario name is unknown.
    """
    name = _scenario_name(scenario)
    tasks = SCENARIOS[name].tasks
    train = tuple(t for t in tasks if _unit_hash(f"{name}:{t}") < TRAIN_FRACTION)
    chosen = set(train)
    test = tuple(t for t in tasks if t not in chosen)
    return MetaSplit(scenario=name, train=train, test=test)


def derive_seed(base_seed: int, scenario: str | Scenario, task: str | int, seed: int) -> int:
    """A seed for one (task, seed) run, so that random starts do not repeat across tasks.

    A stable hash (SHA-256) of all four values: the same arguments give the same seed in
    every process and on every platform.

    Args:
        base_seed: The seed of the whole benchmark run.
        scenario: A scenario or its name.
        task: The task id.
        seed: The repetition index (0, 1, ...).

    Returns:
        An integer in ``[0, 2**31 - 1)``, accepted as a seed by numpy, Ray Tune, hyperopt,
        Optuna and Nevergrad.

    Raises:
        InvalidConfigError: ``base_seed`` or ``seed`` is not an integer.
    """
    for arg, value in (("base_seed", base_seed), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidConfigError(f"derive_seed: {arg} must be an integer, got {value!r}.")
    name = scenario.name if isinstance(scenario, Scenario) else str(scenario)
    digest = hashlib.sha256(f"{int(base_seed)}:{name}:{task}:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _SEED_MODULUS


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def _scenario_name(scenario: str | Scenario) -> str:
    name = scenario.name if isinstance(scenario, Scenario) else scenario
    if name not in SCENARIOS:
        raise InvalidConfigError(f"Unknown YAHPO scenario {name!r}. meta-tune supports {sorted(SCENARIOS)}.")
    return name


# ---------------------------------------------------------------------- bounds and regret
@dataclass(frozen=True)
class MetricBounds:
    """Best and worst value of a metric on one task, from a fixed random sample.

    Attributes:
        scenario: The scenario name.
        task: The task id.
        metric: The metric name.
        mode: ``"max"`` or ``"min"``: whether larger or smaller values are better.
        best: The best clipped value in the sample.
        worst: The worst clipped value in the sample.
        saturated_fraction: The fraction of the sample whose raw (unclipped) prediction
            reaches the metric's best possible value (e.g. ``acc >= 1``).
        median_runtime: The median simulated runtime (seconds) of the sampled configs, a
            natural time unit for the task.
        n_samples: The sample size.
        seed: The seed of the sample.
    """

    scenario: str
    task: str
    metric: str
    mode: Literal["min", "max"]
    best: float
    worst: float
    saturated_fraction: float
    median_runtime: float
    n_samples: int
    seed: int

    def regret(self, values: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Normalized regret of metric values, clipped to ``[0, 1]`` (NaN stays NaN).

        Args:
            values: Metric values found on this task.

        Returns:
            ``(best - v) / (best - worst)`` (sign-aware for minimized metrics), as an array
            of the shape of ``values``. If ``best == worst`` the regret is 0 for values at
            least as good as ``best`` and 1 otherwise.
        """
        v = np.asarray(values, dtype=np.float64)
        gain = (self.best - v) if self.mode == "max" else (v - self.best)
        gap = abs(self.best - self.worst)
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = gain / gap if gap > 0 else np.where(gain > 0, 1.0, 0.0)
        return np.where(np.isnan(v), np.nan, np.clip(raw, 0.0, 1.0))


def metric_bounds(
    scenario: Scenario,
    metric: str | None = None,
    *,
    tasks: Iterable[str | int] | None = None,
    n_samples: int = SAMPLE_SIZE,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, MetricBounds]:
    """Estimate each task's best and worst value of a metric from a random sample.

    The sample is ``SearchSpace.from_tune(scenario.param_space()).sample(
    np.random.default_rng(seed), n_samples)``, evaluated at the maximal fidelity; the same
    configs serve every task. The statistics of every metric of a task are computed in one
    surrogate call and cached in one JSON file per task under
    ``<cache>/yahpo/<scenario>/bounds-v1/n<n>-seed<seed>-model<hash>-sample<hash>/``, keyed
    by the sample size, the seed, the SHA-256 of model.onnx and of the encoded sample (so
    a changed sampler or surrogate never reuses stale numbers). ``<cache>`` is
    ``cache_dir``, else meta-tune's cache folder (``$MT_CACHE_DIR``, else
    ``~/.cache/meta_tune``). Files are written atomically; an unwritable cache only logs a
    warning.

    Args:
        scenario: The scenario.
        metric: The metric; defaults to ``scenario.default_metric``.
        tasks: The tasks; defaults to all of the scenario's tasks.
        n_samples: The sample size.
        seed: The seed of the sample.
        cache_dir: The cache root (see above).

    Returns:
        A dict from task id to its bounds, in the order of ``tasks``.

    Raises:
        InvalidConfigError: The metric or a task is unknown, or ``n_samples < 2``.
    """
    metric = scenario.default_metric if metric is None else metric
    mode = scenario.mode(metric)
    task_ids = list(scenario.tasks if tasks is None else [str(t) for t in tasks])
    for task in task_ids:
        scenario._task_code(task)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise InvalidConfigError(f"n_samples must be an integer >= 2, got {n_samples!r}.")

    sample: tuple[np.ndarray, np.ndarray, str] | None = None
    result: dict[str, MetricBounds] = {}
    folder: Path | None = None
    for task in task_ids:
        if sample is None:
            sample = _sample_inputs(scenario, n_samples, seed)
            key = f"n{n_samples}-seed{seed}-model{scenario.model_sha256[:12]}-sample{sample[2][:12]}"
            folder = _cache_root(cache_dir) / "yahpo" / scenario.name / f"bounds-v{_CACHE_FORMAT}" / key
        assert folder is not None
        path = folder / f"{task}.json"
        stats = _read_stats(path, scenario)
        if stats is None:
            stats = _task_stats(scenario, task, sample[0], sample[1])
            _write_json(
                path,
                {
                    "format": _CACHE_FORMAT,
                    "scenario": scenario.name,
                    "task": task,
                    "n_samples": n_samples,
                    "seed": seed,
                    "model_sha256": scenario.model_sha256,
                    "sample_sha256": sample[2],
                    "metrics": stats,
                },
            )
        entry = stats[metric]
        result[task] = MetricBounds(
            scenario=scenario.name,
            task=task,
            metric=metric,
            mode=mode,
            best=entry["best"],
            worst=entry["worst"],
            saturated_fraction=entry["saturated_fraction"],
            median_runtime=entry["median_runtime"],
            n_samples=n_samples,
            seed=seed,
        )
    return result


def saturated_tasks(
    bounds: Mapping[str, MetricBounds], *, threshold: float = SATURATION_THRESHOLD
) -> list[str]:
    """The tasks on which the surrogate saturates (see the module docstring).

    Args:
        bounds: The bounds from :func:`metric_bounds`.
        threshold: The smallest fraction of the random sample at the metric's best possible
            value that makes a task saturated.

    Returns:
        The saturated task ids, in the order of ``bounds``.
    """
    return [task for task, b in bounds.items() if b.saturated_fraction >= threshold]


def _sample_inputs(scenario: Scenario, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    from meta_tune.space import SearchSpace

    configs = SearchSpace.from_tune(scenario.param_space()).sample(np.random.default_rng(seed), n)
    x_cat, x_cont = scenario._encode(configs)
    digest = hashlib.sha256(x_cat.tobytes() + x_cont.tobytes()).hexdigest()
    return x_cat, x_cont, digest


def _task_stats(
    scenario: Scenario, task: str, x_cat: np.ndarray, x_cont: np.ndarray
) -> dict[str, dict[str, float]]:
    raw = scenario._predict(scenario._task_code(task), x_cat, x_cont, scenario._fidelity_columns(None))
    clipped = scenario._clip(raw)
    median_runtime = float(np.median(clipped[:, scenario.metrics.index(scenario.runtime_metric)]))
    stats = {}
    for j, metric in enumerate(scenario.metrics):
        lower, upper = scenario.metric_range(metric)
        if scenario.mode(metric) == "max":
            best, worst = clipped[:, j].max(), clipped[:, j].min()
            saturated = np.mean(raw[:, j] >= upper) if math.isfinite(upper) else 0.0
        else:
            best, worst = clipped[:, j].min(), clipped[:, j].max()
            saturated = np.mean(raw[:, j] <= lower) if math.isfinite(lower) else 0.0
        stats[metric] = {
            "best": float(best),
            "worst": float(worst),
            "saturated_fraction": float(saturated),
            "median_runtime": median_runtime,
            "lower": lower,
            "upper": upper,
        }
    return stats


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_root()


def _read_stats(path: Path, scenario: Scenario) -> dict[str, dict[str, float]] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        stats = data["metrics"]
        if data["format"] != _CACHE_FORMAT or set(stats) != set(scenario.metrics):
            raise ValueError("unexpected format")
        if any([stats[m]["lower"], stats[m]["upper"]] != list(scenario.metric_range(m)) for m in stats):
            logger.debug("Recomputing %s: the valid ranges of the metrics have changed.", path)
            return None
        fields = ("best", "worst", "saturated_fraction", "median_runtime", "lower", "upper")
        return {m: {f: float(stats[m][f]) for f in fields} for m in scenario.metrics}
    except (OSError, ValueError, KeyError, TypeError) as err:
        logger.warning("Ignoring the unreadable cache file %s (%s); recomputing it.", path, err)
        return None


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
            json.dump(data, tmp, indent=1, sort_keys=True)
        os.replace(tmp.name, path)
    except OSError as err:
        folder = str(path.parent)
        if folder not in _warned_cache:
            _warned_cache.add(folder)
            logger.warning(
                "Cannot write the benchmark cache in %s (%s); results are not cached. "
                "Set %s to a writable folder.",
                folder,
                err,
                CACHE_ENV,
            )


# ---------------------------------------------------------------------- aggregation
def regret_table(
    trajectories: pd.DataFrame,
    bounds: Mapping[str, MetricBounds],
    *,
    budgets: Sequence[float] = TRIAL_BUDGETS,
    by: Literal["trials", "time"] = "trials",
    time_unit: Literal["seconds", "median_runtime"] = "seconds",
) -> pd.DataFrame:
    """The normalized regret of the incumbent of every run at every budget.

    A run is one ``(method, task, seed)``. Trajectories are in long format, one row per
    finished trial, with columns ``method``, ``task``, ``seed``, ``trial`` (the order in
    which the searcher suggested it), ``end_time`` (simulated seconds from the run's start
    to the trial's end), the metric of ``bounds`` (e.g. ``acc``) and any others (``config``).
    A missing metric value (a failed trial) counts as regret 1.

    With ``by="trials"``, the value at budget ``b`` is the regret of the best of the run's
    first ``b`` trials, and NaN if the run has fewer than ``b`` trials. With ``by="time"``,
    it is the regret of the best trial that ended by time ``b`` (1 if none had), where ``b``
    is in seconds, or in multiples of the task's median random-config runtime with
    ``time_unit="median_runtime"`` (so that cheap and costly tasks can be averaged).

    Args:
        trajectories: The trials, as described above.
        bounds: Bounds of every task in ``trajectories`` (from :func:`metric_bounds`).
        budgets: The budgets (trial counts or times).
        by: ``"trials"`` or ``"time"``.
        time_unit: The unit of time budgets.

    Returns:
        A DataFrame with columns ``method``, ``task``, ``seed``, ``budget``, ``regret``,
        one row per run and budget.

    Raises:
        InvalidConfigError: A column is missing, a task has no bounds, the bounds mix
            metrics, or ``by``/``time_unit`` is not one of the accepted values.
    """
    import pandas as pd

    if by not in ("trials", "time"):
        raise InvalidConfigError(f"by must be 'trials' or 'time', got {by!r}.")
    if time_unit not in ("seconds", "median_runtime"):
        raise InvalidConfigError(f"time_unit must be 'seconds' or 'median_runtime', got {time_unit!r}.")
    if not bounds:
        raise InvalidConfigError("bounds is empty; compute it with metric_bounds(scenario, metric).")
    metrics = {b.metric for b in bounds.values()}
    if len(metrics) != 1:
        raise InvalidConfigError(
            f"bounds mixes the metrics {sorted(metrics)}; pass the bounds of one metric."
        )
    metric = metrics.pop()
    order = "trial" if by == "trials" else "end_time"
    needed = [*_RUN, order, metric]
    missing = [c for c in needed if c not in trajectories.columns]
    if missing:
        raise InvalidConfigError(
            f"The trajectories lack the column(s) {missing}; they need {needed} (one row per trial)."
        )
    df = trajectories[list(dict.fromkeys(needed))].copy()
    df["task"] = df["task"].astype(str)
    unknown = sorted(set(df["task"]) - set(bounds))
    if unknown:
        raise InvalidConfigError(
            f"No bounds for task(s) {unknown[:10]}; compute them with metric_bounds(..., tasks=...)."
        )

    budgets_arr = np.asarray(list(budgets), dtype=np.float64)
    rows: list[tuple[Any, ...]] = []
    for (method, task, seed), run in df.sort_values(order, kind="stable").groupby(_RUN, sort=True):
        b = bounds[task]
        regret = np.nan_to_num(b.regret(run[metric].to_numpy(np.float64)), nan=1.0)
        incumbent = np.minimum.accumulate(regret)
        if by == "trials":
            values = [float(incumbent[int(k) - 1]) if len(incumbent) >= k else math.nan for k in budgets_arr]
        else:
            scale = b.median_runtime if time_unit == "median_runtime" else 1.0
            ends = run["end_time"].to_numpy(np.float64) / scale
            idx = np.searchsorted(ends, budgets_arr, side="right") - 1
            values = [float(incumbent[i]) if i >= 0 else 1.0 for i in idx]
        rows.extend((method, task, seed, budget, value) for budget, value in zip(budgets, values))
    return pd.DataFrame(rows, columns=[*_RUN, "budget", "regret"])


def summarize_regret(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and median normalized regret and mean rank of each method at each budget.

    Ranks compare the methods on the same task, seed and budget (1 is best, ties share the
    average rank); rows with a NaN regret (a run shorter than the budget) are left out.

    Args:
        table: The output of :func:`regret_table`.

    Returns:
        A DataFrame with columns ``method``, ``budget``, ``mean_regret``,
        ``median_regret``, ``mean_rank`` and ``n`` (the number of runs).

    Raises:
        InvalidConfigError: A column of :func:`regret_table`'s output is missing.
    """
    needed = [*_RUN, "budget", "regret"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InvalidConfigError(f"The table lacks the column(s) {missing}; pass the output of regret_table.")
    df = table.dropna(subset=["regret"]).copy()
    df["rank"] = df.groupby(["task", "seed", "budget"])["regret"].rank(method="average")
    grouped = df.groupby(["method", "budget"], sort=True)
    summary = grouped.agg(
        mean_regret=("regret", "mean"),
        median_regret=("regret", "median"),
        mean_rank=("rank", "mean"),
        n=("regret", "size"),
    )
    return summary.reset_index()
