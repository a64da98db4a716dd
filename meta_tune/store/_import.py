"""Read a Tune experiment folder from its plain files, without running anything from it.

Ray Tune's own loaders (``ray.tune.ExperimentAnalysis``, ``Tuner.restore``) unpickle
``CLOUDPICKLE_FALLBACK`` entries of ``experiment_state-*.json`` and the ``*.pkl`` files of a
run folder, so loading a folder someone sent runs their code. This module reads only plain
text:

* the newest ``experiment_state-*.json``, parsed with :func:`json.loads` (embedded
  ``CLOUDPICKLE_FALLBACK`` blobs stay opaque strings and are dropped): each trial's id,
  status, config, folder and error file name, and the experiment's metric;
* in each trial folder, ``params.json`` (the config), ``result.json`` (one JSON result per
  line; ``progress.csv`` when it is missing) and ``error.txt``.

Pickled files (``tuner.pkl``, ``params.pkl``, ``error.pkl``, searcher states) and
checkpoints are never opened. Files that lie outside the experiment folder (through ``..``
in a recorded path or a symbolic link) are not read either.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from meta_tune.errors import StoreError
from meta_tune.store._frames import clean_metrics

if TYPE_CHECKING:
    import pandas as pd

    from meta_tune.store._store import Store

logger = logging.getLogger(__name__)

#: Tune statuses of a trial that ended; other trials are imported as RUNNING (results only).
FINISHED = ("TERMINATED", "ERROR")
_FALLBACK = "CLOUDPICKLE_FALLBACK"
_ERROR_TAIL = 20_000
_NO_ERROR_FILE = "the trial errored (no error file was written)"


@dataclass
class TrialFiles:
    """What the plain files of an experiment say about one trial.

    Attributes:
        trial_id: Tune's trial id.
        config: The trial's config (nested, as Tune passed it to the trainable).
        status: ``"TERMINATED"``, ``"ERROR"`` or ``"RUNNING"`` (any other Tune status, or
            no status recorded: the trial did not finish as far as the files tell).
        results: The reported results, in order (bookkeeping keys included).
        last_result: The trial's last result (the last of ``results``, else the one the
            experiment state recorded).
        error: The text of the trial's error file when it errored.
    """

    trial_id: str
    config: dict[str, Any]
    status: str
    results: list[dict[str, Any]] = field(default_factory=list)
    last_result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class ExperimentFiles:
    """A Tune experiment folder as its plain files describe it.

    Attributes:
        path: The folder.
        metric: The metric Tune ran with (``TuneConfig(metric=...)``), if recorded.
        trials: One entry per trial, in the experiment's order.
    """

    path: Path
    metric: str | None
    trials: list[TrialFiles]


# ---------------------------------------------------------------------- public entry points
def read_experiment(path: str | os.PathLike[str], *, task: str | None = None) -> pd.DataFrame:
    """The trials of a Tune experiment folder as a history frame, read without unpickling.

    The frame has the columns of :meth:`meta_tune.Store.trials` (``task``, ``trial_id``,
    ``status``, one column per flattened hyperparameter, the numeric metrics of each
    trial's last result, ``training_iteration``, ``runtime_s``, ``error``) and equals what
    ``Store.import_experiment(path, task=task)`` followed by ``Store.trials(task)`` gives.
    Trials that did not finish have status ``RUNNING``; trials with no result and no end
    are left out. Only plain files are read (see :mod:`meta_tune.store._import`), so a
    folder from someone else cannot run code here.

    Args:
        path: The folder Tune wrote (``<storage_path>/<experiment name>``).
        task: The ``task`` column (default: the folder's name).

    Returns:
        One row per trial.

    Raises:
        StoreError: ``path`` is not a Tune experiment folder or its state file is not JSON.

    Example:
        >>> history = read_experiment("~/ray_results/my_experiment")  # doctest: +SKIP
        >>> history[history["status"] == "TERMINATED"]  # doctest: +SKIP
    """
    from meta_tune.store._frames import trials_frame

    experiment = scan_experiment(Path(path).expanduser())
    name = task if task is not None else experiment.path.name
    rows = []
    for trial in experiment.trials:
        if trial.status in FINISHED:
            last = trial.last_result
            row = SimpleNamespace(
                trial_id=trial.trial_id,
                status=trial.status,
                config=json.dumps(trial.config),
                metrics=json.dumps(clean_metrics(last)) if last else None,
                last_iteration=_int(last.get("training_iteration")),
                runtime_s=_float(last.get("time_total_s")),
                error=trial.error,
            )
        elif trial.results:
            row = SimpleNamespace(
                trial_id=trial.trial_id,
                status="RUNNING",
                config=json.dumps(trial.config),
                metrics=None,
                last_iteration=max(_step(r) for r in trial.results),
                runtime_s=None,
                error=None,
            )
        else:
            continue
        rows.append((name, row))
    return trials_frame(rows)


def import_experiment(
    store: Store, path: Path, *, task: str, metric: str | None, mode: str | None, family: str | None
) -> dict[str, int]:
    """Record every trial and result of the experiment at ``path``; see ``Store.import_experiment``.

    Reads only plain files (see :func:`scan_experiment`); importing twice adds nothing.
    """
    experiment = scan_experiment(path)
    if metric is None and experiment.metric is not None:
        # The experiment's own metric names a new task; an existing task keeps its own.
        try:
            store.get_task(task)
        except StoreError:
            metric = experiment.metric
    store.create_task(task, metric=metric, mode=mode, family=family, exist_ok=True)
    before = store.counts(task)
    for trial in experiment.trials:
        for result in trial.results:
            store.record_result(
                task,
                trial.trial_id,
                training_iteration=_step(result),
                time_total_s=_float(result.get("time_total_s")),
                metrics=clean_metrics(result),
                config=trial.config,
            )
        if trial.status in FINISHED:
            last = trial.last_result
            store.record_trial(
                task,
                trial.trial_id,
                config=trial.config,
                status=trial.status,
                metrics=clean_metrics(last) if last else None,
                error=trial.error,
                runtime_s=_float(last.get("time_total_s")),
                last_iteration=_int(last.get("training_iteration")),
            )
    after = store.counts(task)
    counts = {k: after[k] - before[k] for k in after}
    logger.info("Imported %s into %r: %s", path, task, counts)
    return counts


def scan_experiment(path: Path) -> ExperimentFiles:
    """Read an experiment folder's plain files (never a pickle; see the module docstring).

    Raises:
        StoreError: ``path`` holds no ``experiment_state-*.json``, or the newest one is not
            a JSON experiment state.
    """
    states = sorted(path.glob("experiment_state-*.json")) if path.is_dir() else []
    if not states:
        raise StoreError(
            f"{path} is not a Tune experiment directory (it holds no experiment_state-*.json). "
            "Point at the folder Tune wrote, e.g. ~/ray_results/<experiment name>."
        )
    root = path.resolve()
    state_file = states[-1]  # named by start time: the newest session's state
    entries, metric = _read_state(state_file, root)
    folders = _trial_folders(root)
    trials: list[TrialFiles] = []
    seen: set[str] = set()
    for entry in entries:
        trial_id = entry["trial_id"]
        if trial_id in seen:
            continue
        seen.add(trial_id)
        folder = entry["folder"] or folders.get(trial_id)
        trials.append(_trial(trial_id, folder, root, entry))
    for trial_id, folder in folders.items():
        if trial_id not in seen:
            # Written after the last experiment checkpoint: only the trial's own files know it.
            seen.add(trial_id)
            trials.append(_trial(trial_id, folder, root, None))
    return ExperimentFiles(path=path, metric=metric, trials=trials)


# ---------------------------------------------------------------------- the experiment state
def _read_state(state_file: Path, root: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The trials an experiment state lists (plain fields only) and the experiment's metric."""
    try:
        document = json.loads(state_file.read_text(errors="replace"))
    except (OSError, ValueError, RecursionError) as err:
        raise StoreError(
            f"Cannot read the Tune experiment state {state_file}: {err}. The file must be the JSON "
            "Ray Tune writes; a run killed while writing it leaves it damaged, restore it from a copy."
        ) from err
    if not isinstance(document, dict) or not isinstance(document.get("trial_data"), list):
        raise StoreError(
            f"{state_file} is not a Ray Tune experiment state (a JSON object with a 'trial_data' list)."
        )
    runner = document.get("runner_data")
    metric = runner.get("_metric") if isinstance(runner, dict) else None
    entries = []
    for number, item in enumerate(document["trial_data"]):
        try:
            entry = _state_entry(item, root)
        except RecursionError:  # nested deeper than any config Tune writes
            entry = None
        if entry is None:
            logger.warning("Skipping trial entry %d of %s: not a Tune trial state.", number, state_file)
        else:
            entries.append(entry)
    return entries, metric if isinstance(metric, str) and metric else None


def _state_entry(item: Any, root: Path) -> dict[str, Any] | None:
    """One ``trial_data`` entry: ``[trial state JSON, run metadata JSON]``, both plain text."""
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        return None
    try:
        state = json.loads(item[0])
        meta = json.loads(item[1]) if len(item) > 1 and isinstance(item[1], str) else {}
    except (ValueError, RecursionError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("trial_id"), str):
        return None
    meta = meta if isinstance(meta, dict) else {}
    config = _plain(state.get("config"))
    logdir = state.get("relative_logdir")
    error_name = meta.get("error_filename")
    last = _plain(meta.get("last_result"))
    return {
        "trial_id": state["trial_id"],
        "status": state.get("status") if isinstance(state.get("status"), str) else None,
        "config": config if isinstance(config, dict) and not _has_fallback(state.get("config")) else None,
        "folder": _inside(root, root / logdir) if isinstance(logdir, str) and logdir else None,
        "error_name": error_name if isinstance(error_name, str) else None,
        "last_result": last if isinstance(last, dict) else {},
    }


def _plain(value: Any) -> Any:
    """``value`` with every ``CLOUDPICKLE_FALLBACK`` blob dropped (never decoded)."""
    if isinstance(value, dict):
        if value.get("_type") == _FALLBACK:
            return None
        return {k: _plain(v) for k, v in value.items() if not _is_fallback(v)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_fallback(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_type") == _FALLBACK


def _has_fallback(value: Any) -> bool:
    if _is_fallback(value):
        return True
    if isinstance(value, dict):
        return any(_has_fallback(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_fallback(v) for v in value)
    return False


# ---------------------------------------------------------------------- trial folders
def _inside(root: Path, path: Path) -> Path | None:
    """``path`` resolved, if it lies inside ``root`` (no ``..`` or links leading out)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return None
    return resolved if resolved.is_relative_to(root) else None


def _trial_folders(root: Path) -> dict[str, Path]:
    """Trial folders by trial id (from the id each folder's first result names)."""
    folders: dict[str, Path] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        inside = _inside(root, folder)
        if inside is None:
            continue
        results = _results(inside, root, first_only=True)
        trial_id = results[0].get("trial_id") if results else None
        if isinstance(trial_id, str) and trial_id not in folders:
            folders[trial_id] = inside
    return folders


def _trial(trial_id: str, folder: Path | None, root: Path, entry: dict[str, Any] | None) -> TrialFiles:
    """Everything the files tell about one trial; ``entry`` is its experiment-state entry."""
    results = _results(folder, root) if folder is not None else []
    results = [r for r in results if r.get("trial_id", trial_id) == trial_id and _step(r) >= 0]
    config = (entry or {}).get("config")
    if config is None and folder is not None:
        config = _json_file(folder / "params.json", root)
    if not isinstance(config, dict):
        last_config = results[-1].get("config") if results else None
        config = last_config if isinstance(last_config, dict) else {}
    error_file = folder / _basename((entry or {}).get("error_name")) if folder is not None else None
    if entry is not None:
        status = entry["status"] if entry["status"] in FINISHED else "RUNNING"
    else:
        has_error = error_file is not None and _inside(root, error_file) is not None and error_file.is_file()
        status = "ERROR" if has_error else "RUNNING"
    error = None
    if status == "ERROR":
        error = _text_file(error_file, root) if error_file is not None else None
        error = error if error is not None else _NO_ERROR_FILE
    last = results[-1] if results else (entry or {}).get("last_result") or {}
    return TrialFiles(
        trial_id=trial_id, config=config, status=status, results=results, last_result=last, error=error
    )


def _basename(name: Any) -> str:
    """The error file's name as recorded (no folders), else Tune's default ``error.txt``."""
    if isinstance(name, str) and name and Path(name).name == name:
        return name
    return "error.txt"


def _text_file(path: Path, root: Path) -> str | None:
    inside = _inside(root, path)
    if inside is None or not inside.is_file():
        return None
    try:
        return inside.read_text(errors="replace")[-_ERROR_TAIL:]
    except OSError:
        return None


def _json_file(path: Path, root: Path) -> Any:
    text = _text_file(path, root)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        logger.warning("Ignoring %s: not valid JSON.", path)
        return None


def _results(folder: Path, root: Path, *, first_only: bool = False) -> list[dict[str, Any]]:
    """The trial's results: result.json (one JSON object per line), else progress.csv."""
    path = _inside(root, folder / "result.json")
    if path is not None and path.is_file():
        results = []
        with path.open(errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    result = json.loads(line)
                except (ValueError, RecursionError):
                    logger.warning("Skipping a malformed line of %s (a run killed mid-write).", path)
                    continue
                if isinstance(result, dict):
                    results.append(result)
                    if first_only:
                        break
        return results
    path = _inside(root, folder / "progress.csv")
    if path is not None and path.is_file():
        with path.open(newline="", errors="replace") as f:
            rows = [
                {k: _csv_value(v) for k, v in row.items() if k and not k.startswith("config/") and v}
                for row in csv.DictReader(f)
            ]
        return rows[:1] if first_only else rows
    return []


def _csv_value(text: str) -> Any:
    """A progress.csv cell as the JSON value it was (number, bool or text)."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _step(result: dict[str, Any]) -> int:
    value = _int(result.get("training_iteration"))
    return -1 if value is None else value


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
