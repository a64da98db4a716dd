"""docs/errors.md is what really happens: each bad input below is run and its error compared.

Every case runs in-process and fast (no Ray runtime is started). When a message changes on
purpose, regenerate the page and review the diff::

    python -m tests.test_errors_doc

The test fails when the page and the library disagree, and when a case ends in a traceback
(an exception that is neither meta-tune's nor click's) instead of a message.
"""

from __future__ import annotations

import difflib
import io
import json
import pickle
import tempfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
REGENERATE = "python -m tests.test_errors_doc"


@dataclass(frozen=True)
class Case:
    """One bad input: a ``meta-tune`` command line or a Python call.

    Attributes:
        input: What was tried, as the table shows it.
        cli: The command's arguments (``{tmp}`` is a fresh folder; ``--store`` is added).
        call: The Python call, given the fresh folder.
        prepare: Builds the files the input points at, in the fresh folder.
    """

    input: str
    cli: tuple[str, ...] | None = None
    call: Callable[[Path], Any] | None = None
    prepare: Callable[[Path], Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """What a case gave: the error class, the exit status (CLI) and the first line of the message."""

    error: str
    exit: str
    message: str
    traceback: bool = False


# ---------------------------------------------------------------------- files the cases use
def experiment_folder(tmp: Path, *, state: str | None = None, payload: bool = False) -> Path:
    """A Tune experiment folder with one finished trial (``state`` replaces its state file)."""
    from tests.store.test_import_safety import crafted_experiment

    if payload:
        return crafted_experiment(tmp, tmp / "marker")
    path = tmp / "experiment"
    (path / "train_t_00000").mkdir(parents=True)
    (path / "train_t_00000" / "result.json").write_text(
        json.dumps({"acc": 0.9, "training_iteration": 1, "trial_id": "t_00000", "config": {"lr": 0.1}}) + "\n"
    )
    entry = [json.dumps({"trial_id": "t_00000", "status": "TERMINATED", "config": {"lr": 0.1}}), "{}"]
    text = json.dumps({"trial_data": [entry], "runner_data": {"_metric": "acc"}}) if state is None else state
    (path / "experiment_state-2026-01-01_00-00-00.json").write_text(text)
    return path


def predictor_file(tmp: Path, *, cut: int | None = None) -> Path:
    from meta_tune.schedulers import CurvePredictor

    path = tmp / "predictor.npz"
    CurvePredictor.parametric(metric="acc", mode="max", max_t=5).save(path)
    if cut is not None:
        path.write_bytes(path.read_bytes()[:cut])
    return path


def curves(steps: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"task": "t", "trial": trial, "training_iteration": s, "acc": trial / 10 + s / 100}
            for trial in range(6)
            for s in range(1, steps + 1)
        ]
    )


def history(space: str) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for task in range(2):
        for trial in range(10):
            rows.append(
                {
                    "task": f"t{task}",
                    "trial_id": str(trial),
                    "status": "TERMINATED",
                    space: float(rng.uniform(1e-4, 1e-1)),
                    "acc": float(rng.random()),
                }
            )
    return pd.DataFrame(rows)


def prior_of_another_space(tmp: Path) -> Any:
    from ray import tune

    from meta_tune.searchers import PriorSearcher

    searcher = PriorSearcher({"width": tune.randint(8, 64)}, metric="acc", mode="max", prior=fitted_prior())
    return searcher.suggest("trial_0")


class WritesMarker:
    """Unpickling this writes a file: stands for code a hostile file would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "ran"))


def hostile_checkpoint(tmp: Path) -> Any:
    import torch

    from meta_tune.trainables._loop import load_checkpoint

    torch.save({"epoch": 1, "job": WritesMarker(tmp / "marker")}, tmp / "state.pt")
    return load_checkpoint(tmp / "state.pt")


def old_scheduler_state(tmp: Path) -> Any:
    from meta_tune.schedulers import MetaStoppingScheduler

    (tmp / "scheduler.pkl").write_bytes(pickle.dumps({"base": WritesMarker(tmp / "marker")}))
    return MetaStoppingScheduler(max_t=10).restore(str(tmp / "scheduler.pkl"))


def fitted_prior() -> Any:
    from ray import tune

    from meta_tune.priors import fit

    return fit(history("lr"), space={"lr": tune.loguniform(1e-4, 1e-1)}, metric="acc", mode="max")


def searcher_with_mode(mode: str) -> Any:
    from ray import tune

    from meta_tune.searchers import PriorSearcher

    return PriorSearcher({"lr": tune.loguniform(1e-4, 1e-1)}, prior=fitted_prior(), metric="acc", mode=mode)


def searcher_config(name: str, **fields: Any) -> Any:
    from meta_tune import searchers

    return getattr(searchers, name)(**fields)


def grid_search_space() -> Any:
    from ray import tune

    from meta_tune.space import SearchSpace

    return SearchSpace.from_tune({"x": tune.grid_search([1, 2])})


def fit_prior(history_: Any, metric: str = "acc") -> Any:
    from ray import tune

    from meta_tune.priors import fit

    return fit(history_, space={"lr": tune.loguniform(1e-4, 1e-1)}, metric=metric, mode="max")


def read(tmp: Path) -> Any:
    from meta_tune.store import read_experiment

    return read_experiment(tmp / "experiment")


def open_store(url: str) -> Any:
    from meta_tune.store import Store

    return Store(url).list_tasks()


def task_with_another_metric(tmp: Path) -> None:
    """An experiment folder, and a store task ``task`` that records the metric loss."""
    from meta_tune.store import Store

    experiment_folder(tmp)
    Store(f"sqlite:///{tmp / 'store.db'}").create_task("task", metric="loss", mode="min")


def task_objectives(tmp: Path, objectives: list[tuple[str, str]]) -> None:
    """Record ``objectives`` for a store task ``task`` that records the metric loss."""
    from meta_tune.store import Store

    store = Store(f"sqlite:///{tmp / 'store.db'}")
    store.create_task("task", metric="loss", mode="min")
    store.set_objectives("task", objectives)


def load_predictor(path: Path) -> Any:
    from meta_tune.schedulers import CurvePredictor

    return CurvePredictor.load(path)


def fit_predictor(**kwargs: Any) -> Any:
    from meta_tune.schedulers import CurvePredictor

    return CurvePredictor.fit(curves(), **kwargs)


def meta_stopping(**kwargs: Any) -> Any:
    from meta_tune.schedulers import MetaStoppingScheduler

    return MetaStoppingScheduler(**kwargs)


def asha_from_history(**kwargs: Any) -> Any:
    from meta_tune.schedulers import asha_from_history

    return asha_from_history(curves(), **kwargs)


def gpus_without_a_gpu(tmp: Path) -> Any:
    """``meta-tune run``'s check of GPUs per trial, on a machine where torch sees none."""
    from unittest import mock

    import torch

    from meta_tune.store import Store
    from meta_tune.tuning import load_experiment
    from meta_tune.tuning._run import check_experiment

    experiment = load_experiment(None, {
        "trainable.family": "image", "trainable.task": "digits", "resources.gpu": 1, "storage_path": tmp,
    })
    with mock.patch.object(torch.cuda, "device_count", return_value=0):
        check_experiment(experiment, Store(f"sqlite:///{tmp / 'store.db'}"))


def trainable(name: str) -> Any:
    from meta_tune import trainables

    return trainables.get(name)


# ---------------------------------------------------------------------- the cases
CASES: list[Case] = [
    # The command line
    Case("`meta-tune run --trainable nope --task x`", cli=("run", "--trainable", "nope", "--task", "x")),
    Case(
        "`meta-tune run --trainable image --task nope`", cli=("run", "--trainable", "image", "--task", "nope")
    ),
    Case(
        "`meta-tune run --task digits --searcher nope`", cli=("run", "--task", "digits", "--searcher", "nope")
    ),
    Case(
        "`meta-tune run --task digits --scheduler pbt`", cli=("run", "--task", "digits", "--scheduler", "pbt")
    ),
    Case("`meta-tune run --task digits --samples 0`", cli=("run", "--task", "digits", "--samples", "0")),
    Case("`meta-tune run` (no experiment file, no --task)", cli=("run",)),
    Case("`meta-tune run missing.yaml`", cli=("run", "{tmp}/missing.yaml")),
    Case(
        "`meta-tune run exp.yaml` (not YAML)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text("trainable: [unclosed"),
    ),
    Case(
        "`meta-tune run exp.yaml` (a misspelt setting)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text("trainable: {family: image, task: digits}\nsampels: 3\n"),
    ),
    Case(
        "`meta-tune run exp.yaml` (an unknown searcher option)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {family: image, task: digits}\nsearcher: {name: transfer_bo, options: {acqusition: pi}}\n"
        ),
    ),
    Case(
        "`meta-tune run exp.yaml` (a domain with bad arguments)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {function: t.py:f, family: f, task: t, space: {lr: {loguniform: [0.1]}}}\n"
            "metric: loss\nmode: min\nscheduler: fifo\n"
        ),
    ),
    Case(
        "`meta-tune run exp.yaml` (the trainable's module is not there)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {function: nowhere.py:train, family: f, task: t, space: {lr: {uniform: [0, 1]}}}\n"
            "metric: loss\nmode: min\nscheduler: fifo\n"
        ),
    ),
    Case(
        "`meta-tune run --task digits --searcher-option xi`",
        cli=("run", "--task", "digits", "--searcher-option", "xi"),
    ),
    Case("`meta-tune submit missing.yaml --address http://HEAD:8265`",
         cli=("submit", "{tmp}/missing.yaml", "--address", "http://127.0.0.1:8265")),
    Case(
        "`meta-tune submit exp.yaml --address ray://HEAD:10001` (a Ray Client address)",
        cli=("submit", "{tmp}/exp.yaml", "--address", "ray://127.0.0.1:10001"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text("trainable: {family: image, task: digits}\n"),
    ),
    Case(
        "`meta-tune submit exp.yaml --address http://127.0.0.1:1` (nothing listens there)",
        cli=("submit", "{tmp}/exp.yaml", "--address", "http://127.0.0.1:1"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text("trainable: {family: image, task: digits}\n"),
    ),
    Case(
        "`meta-tune submit exp.yaml --address http://HEAD:8265` (an unknown scheduler)",
        cli=("submit", "{tmp}/exp.yaml", "--address", "http://127.0.0.1:8265"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {family: image, task: digits}\nscheduler: pbt\n"
        ),
    ),
    Case("`meta-tune --log-level loud store ls`", cli=("--log-level", "loud", "store", "ls")),
    Case(
        "`meta-tune --store foo://bar store ls` (unknown database kind)",
        cli=("--store", "foo://bar", "store", "ls"),
    ),
    Case(
        "`meta-tune --store sqlite:////typo/dir/x.db store ls` (the folder does not exist)",
        cli=("--store", "sqlite:///{tmp}/typo/dir/x.db", "store", "ls"),
    ),
    Case("`meta-tune store show nope` (no such task)", cli=("store", "show", "nope")),
    Case(
        "`meta-tune store import DIR` (DIR does not exist)",
        cli=("store", "import", "{tmp}/missing", "--task", "x"),
    ),
    Case(
        "`meta-tune store import DIR` (no experiment_state-*.json)",
        cli=("store", "import", "{tmp}", "--task", "x"),
    ),
    Case(
        "`meta-tune store import DIR` (experiment_state is not JSON)",
        cli=("store", "import", "{tmp}/experiment", "--task", "x"),
        prepare=lambda tmp: experiment_folder(tmp, state="{cut off"),
    ),
    Case(
        "`meta-tune store import DIR` (crafted folder: cloudpickled code in its state and pickles)",
        cli=("store", "import", "{tmp}/experiment", "--task", "x"),
        prepare=lambda tmp: experiment_folder(tmp, payload=True),
    ),
    Case(
        "`meta-tune store import DIR --mode up`",
        cli=("store", "import", "{tmp}/experiment", "--task", "x", "--mode", "up"),
        prepare=experiment_folder,
    ),
    Case(
        "`meta-tune store import DIR --task T --metric acc` (T records the metric loss)",
        cli=("store", "import", "{tmp}/experiment", "--task", "task", "--metric", "acc"),
        prepare=task_with_another_metric,
    ),
    Case(
        "`meta-tune store load FILE` (FILE is not a Parquet archive)",
        cli=("store", "load", "{tmp}/notes.txt"),
        prepare=lambda tmp: (tmp / "notes.txt").write_text("not parquet"),
    ),
    Case(
        "`meta-tune learn --family nope -o prior.json`",
        cli=("learn", "--family", "nope", "-o", "{tmp}/p.json"),
    ),
    Case("`meta-tune bench --scenario nope`", cli=("bench", "--scenario", "nope", "--out", "{tmp}/bench")),
    # Values out of range, checked before Ray starts (flags and experiment files alike)
    Case("`meta-tune run --task digits --epochs -1`", cli=("run", "--task", "digits", "--epochs", "-1")),
    Case("`meta-tune run --task digits --epochs 0`", cli=("run", "--task", "digits", "--epochs", "0")),
    Case(
        "`meta-tune run --task digits --concurrency 0`", cli=("run", "--task", "digits", "--concurrency", "0")
    ),
    Case(
        "`meta-tune run --task digits --cpus-per-trial 0`",
        cli=("run", "--task", "digits", "--cpus-per-trial", "0"),
    ),
    Case("`meta-tune run --task digits --seed -1`", cli=("run", "--task", "digits", "--seed", "-1")),
    Case(
        "`meta-tune run exp.yaml` (`concurrency: 0` in the file)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {family: image, task: digits}\nconcurrency: 0\n"
        ),
    ),
    Case("`meta-tune collect --concurrency -1`", cli=("collect", "--concurrency", "-1")),
    Case("`meta-tune collect --epochs 0`", cli=("collect", "--epochs", "0")),
    Case("`meta-tune demo --concurrency 0`", cli=("demo", "--concurrency", "0")),
    Case("`meta-tune demo --seeds 0,one`", cli=("demo", "--seeds", "0,one")),
    Case(
        "`meta-tune run --task digits --gpus-per-trial 1` on a machine without a GPU",
        call=lambda tmp: gpus_without_a_gpu(tmp),
    ),
    # Several objectives, checked before Ray starts
    Case(
        "`meta-tune run --task digits --metric accuracy --metric time_total_s --mode max` (one mode, two metrics)",
        cli=("run", "--task", "digits", "--metric", "accuracy", "--metric", "time_total_s", "--mode", "max"),
    ),
    Case(
        "`meta-tune run --task digits --metric accuracy --metric accuracy --mode max --mode max`",
        cli=("run", "--task", "digits", "--metric", "accuracy", "--metric", "accuracy", "--mode", "max",
             "--mode", "max"),
    ),
    Case(
        "`meta-tune run --task digits --metric accuracy --metric time_total_s --mode max --mode min "
        "--searcher hyperopt`",
        cli=("run", "--task", "digits", "--metric", "accuracy", "--metric", "time_total_s", "--mode", "max",
             "--mode", "min", "--searcher", "hyperopt"),
    ),
    Case(
        "`meta-tune run --task digits --metric accuracy --metric time_total_s --mode max --mode min "
        "--scheduler asha`",
        cli=("run", "--task", "digits", "--metric", "accuracy", "--metric", "time_total_s", "--mode", "max",
             "--mode", "min", "--scheduler", "asha"),
    ),
    Case(
        "`meta-tune run exp.yaml` (`mode: [max, min]` with one metric)",
        cli=("run", "{tmp}/exp.yaml"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {family: image, task: digits}\nmetric: accuracy\nmode: [max, min]\n"
        ),
    ),
    # Ray addresses
    Case(
        "`meta-tune run --task digits --address 'not a host'`",
        cli=("run", "--task", "digits", "--address", "not a host"),
    ),
    Case(
        "`meta-tune demo --address http://HEAD:8265` (the dashboard's address)",
        cli=("demo", "--address", "http://127.0.0.1:8265"),
    ),
    Case(
        "`meta-tune run --task digits --address 127.0.0.1:1` (nothing listens there)",
        cli=("run", "--task", "digits", "--address", "127.0.0.1:1"),
    ),
    # Output paths, checked before the work
    Case(
        "`meta-tune run --task digits --results-dir FILE/ray` (FILE is a file)",
        cli=("run", "--task", "digits", "--results-dir", "{tmp}/file/ray"),
        prepare=lambda tmp: (tmp / "file").write_text(""),
    ),
    Case(
        "`meta-tune demo --out FILE/demo` (FILE is a file)",
        cli=("demo", "--out", "{tmp}/file/demo"),
        prepare=lambda tmp: (tmp / "file").write_text(""),
    ),
    Case(
        "`meta-tune collect --out FILE/image.parquet` (FILE is a file)",
        cli=("collect", "--out", "{tmp}/file/image.parquet"),
        prepare=lambda tmp: (tmp / "file").write_text(""),
    ),
    Case(
        "`meta-tune learn --family image -o FILE/prior.json` (FILE is a file)",
        cli=("learn", "--family", "image", "-o", "{tmp}/file/prior.json"),
        prepare=lambda tmp: (tmp / "file").write_text(""),
    ),
    Case(
        "`meta-tune bench --scenario lcbench --out FILE/bench` (FILE is a file)",
        cli=("bench", "--scenario", "lcbench", "--out", "{tmp}/file/bench"),
        prepare=lambda tmp: (tmp / "file").write_text(""),
    ),
    # Task names
    Case(
        "`meta-tune learn --family image --exclude fashion_mnst_n2000 -o prior.json` (misspelt)",
        cli=("learn", "--family", "image", "--exclude", "fashion_mnst_n2000", "-o", "{tmp}/p.json"),
    ),
    Case(
        "`meta-tune collect --exclude image/fashion_mnist_2000` (misspelt)",
        cli=("collect", "--exclude", "image/fashion_mnist_2000"),
    ),
    Case(
        "`meta-tune run exp.yaml` (`prior: {exclude: [cifar10]}`, no such image task)",
        cli=("run", "{tmp}/exp.yaml", "--results-dir", "{tmp}/ray"),
        prepare=lambda tmp: (tmp / "exp.yaml").write_text(
            "trainable: {family: image, task: digits}\nprior: {exclude: [cifar10]}\n"
        ),
    ),
    # The Python API
    Case('`Store("foo://bar")`', call=lambda tmp: open_store("foo://bar")),
    Case(
        '`store.set_objectives("task", [("loss", "min")])` (one objective)',
        call=lambda tmp: task_objectives(tmp, [("loss", "min")]),
    ),
    Case(
        '`store.set_objectives("task", [("acc", "max"), ("loss", "min")])` (the task records the metric loss)',
        call=lambda tmp: task_objectives(tmp, [("acc", "max"), ("loss", "min")]),
    ),
    Case("`read_experiment(DIR)` (no experiment_state-*.json)", call=read),
    Case(
        "`read_experiment(DIR)` (experiment_state is a JSON list)",
        call=read,
        prepare=lambda tmp: experiment_folder(tmp, state="[1, 2]"),
    ),
    Case("`CurvePredictor.load(path)` (no such file)", call=lambda tmp: load_predictor(tmp / "missing.npz")),
    Case(
        "`CurvePredictor.load(path)` (file cut after 300 bytes)",
        call=lambda tmp: load_predictor(predictor_file(tmp, cut=300)),
    ),
    Case(
        "`CurvePredictor.load(path)` (empty file)",
        call=lambda tmp: load_predictor(predictor_file(tmp, cut=0)),
    ),
    Case(
        "`CurvePredictor.load(path)` (a text file)",
        call=lambda tmp: load_predictor(tmp / "notes.txt"),
        prepare=lambda tmp: (tmp / "notes.txt").write_text("max_t = 20"),
    ),
    Case(
        '`CurvePredictor.fit(frame, metric="loss", ...)` (no such column)',
        call=lambda tmp: fit_predictor(metric="loss", mode="min"),
    ),
    Case(
        "`CurvePredictor.fit(frame, max_t=50, ...)` (the curves have 5 steps)",
        call=lambda tmp: fit_predictor(metric="acc", mode="max", max_t=50),
    ),
    Case(
        "`MetaStoppingScheduler(max_t=10, threshold=2)`",
        call=lambda tmp: meta_stopping(max_t=10, threshold=2),
    ),
    Case(
        "`MetaStoppingScheduler(max_t=10, grace_period=2)` (an ASHA option)",
        call=lambda tmp: meta_stopping(max_t=10, grace_period=2),
    ),
    Case(
        "`MetaStoppingScheduler(...).restore(path)` (a pickle, as older versions wrote)",
        call=old_scheduler_state,
    ),
    Case(
        '`asha_from_history(frame, metric="acc", mode="best")`',
        call=lambda tmp: asha_from_history(metric="acc", mode="best"),
    ),
    Case("a trainable resuming from a checkpoint that holds a pickled object", call=hostile_checkpoint),
    Case(
        '`PriorSearcher(space, prior=prior, metric="acc", mode="up")`',
        call=lambda tmp: searcher_with_mode("up"),
    ),
    Case(
        "`PriorSearcher(space, prior=prior)` (a prior fitted for another space)", call=prior_of_another_space
    ),
    Case(
        "`PriorTPESearcherConfig(gamma=2.0)`",
        call=lambda tmp: searcher_config("PriorTPESearcherConfig", gamma=2.0),
    ),
    Case(
        "`PriorSearcherConfig(local_share=1.5)`",
        call=lambda tmp: searcher_config("PriorSearcherConfig", local_share=1.5),
    ),
    Case(
        "`TransferBOConfig(n_random=-1)`", call=lambda tmp: searcher_config("TransferBOConfig", n_random=-1)
    ),
    Case('`SearchSpace.from_tune({"x": tune.grid_search([1, 2])})`', call=lambda tmp: grid_search_space()),
    Case(
        '`meta_tune.priors.fit(frame, metric="loss", ...)` (no such column)',
        call=lambda tmp: fit_prior(history("lr"), metric="loss"),
    ),
    Case('`meta_tune.priors.fit("runs/", ...)` (a folder that is not a Tune experiment)', call=lambda tmp: fit_prior("runs/")),
    Case('`meta_tune.trainables.get("nope")`', call=lambda tmp: trainable("nope")),
]


# ---------------------------------------------------------------------- running them
def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _name(err: BaseException | None) -> str:
    if err is None:
        return "-"
    module = type(err).__module__
    if module.startswith("click"):
        return f"click.{type(err).__name__}"
    return type(err).__name__


def _is_ours(err: BaseException) -> bool:
    """meta-tune's own errors, click's usage errors, or Python's for an unknown keyword (house style)."""
    from click import ClickException

    from meta_tune.errors import MetaTuneError

    unknown_keyword = isinstance(err, TypeError) and "unexpected keyword argument" in str(err)
    return isinstance(err, (MetaTuneError, ClickException)) or unknown_keyword


def run_case(case: Case, tmp: Path) -> Outcome:
    """Run one case in the fresh folder ``tmp``."""
    from meta_tune.cli import main

    if case.prepare is not None:
        case.prepare(tmp)
    if case.cli is not None:
        args = [arg.replace("{tmp}", str(tmp)) for arg in case.cli]
        if "--store" not in args:
            args = ["--store", f"sqlite:///{tmp / 'store.db'}", *args]
        out, err = io.StringIO(), io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                main(args)
        except SystemExit as exit_:
            cause = exit_.__context__
            errors = [line for line in err.getvalue().splitlines() if line.startswith("Error:")]
            return Outcome(
                _name(cause), str(exit_.code), _first_line(errors[0] if errors else err.getvalue())
            )
        except Exception as error:  # a traceback: what the table must show, and the test refuses
            return Outcome(_name(error), "traceback", _first_line(str(error)), traceback=True)
        return Outcome("none", "0", _first_line(out.getvalue()))
    assert case.call is not None
    try:
        case.call(tmp)
    except Exception as error:
        return Outcome(_name(error), "-", _first_line(str(error)), traceback=not _is_ours(error))
    return Outcome("none", "-", "(no error)")


def outcomes() -> list[tuple[Case, Outcome]]:
    results = []
    for case in CASES:
        with tempfile.TemporaryDirectory(prefix="mt-errors-") as folder:
            tmp = Path(folder).resolve()
            outcome = run_case(case, tmp)
            marker = (tmp / "marker").exists()
        message = outcome.message.replace(str(tmp), "<tmp>")
        if marker:
            message += " [CODE FROM THE INPUT RAN]"
        results.append((case, Outcome(outcome.error, outcome.exit, message, outcome.traceback)))
    return results


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: list[tuple[Case, Outcome]]) -> str:
    lines = [
        "# Errors: what each bad input gets",
        "",
        "Each row is a bad input that was tried and what it really gets today: the error class, the",
        "exit status of the `meta-tune` command (1: meta-tune's message, 2: a usage error; `-` for a",
        "Python call) and the first line of the message. `<tmp>` stands for the folder the input lay in.",
        "",
        f"This page is generated and checked by `tests/test_errors_doc.py`; regenerate it with `{REGENERATE}`.",
        "",
        "| # | where | input | error | exit | message (first line) |",
        "|---|---|---|---|---|---|",
    ]
    for number, (case, outcome) in enumerate(rows, start=1):
        where = "CLI" if case.cli is not None else "Python"
        lines.append(
            f"| {number} | {where} | {_cell(case.input)} | {outcome.error} | {outcome.exit} | "
            f"{_cell(outcome.message)} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- the tests
@pytest.fixture(scope="module")
def rows() -> list[tuple[Case, Outcome]]:
    return outcomes()


def test_every_case_ends_in_a_message_and_runs_no_code_from_the_input(
    rows: list[tuple[Case, Outcome]],
) -> None:
    bad = [f"{case.input}: {outcome.error}: {outcome.message}" for case, outcome in rows if outcome.traceback]
    assert not bad, "these inputs end in a traceback:\n" + "\n".join(bad)
    ran = [case.input for case, outcome in rows if "CODE FROM THE INPUT RAN" in outcome.message]
    assert not ran, f"code from these inputs ran: {ran}"


def test_docs_errors_md_is_what_happens(rows: list[tuple[Case, Outcome]]) -> None:
    assert len(rows) >= 15
    expected = render(rows)
    actual = DOC.read_text() if DOC.is_file() else ""
    diff = "".join(
        difflib.unified_diff(actual.splitlines(True), expected.splitlines(True), "docs/errors.md", "now")
    )
    assert actual == expected, f"docs/errors.md is out of date; regenerate it with `{REGENERATE}`:\n{diff}"


if __name__ == "__main__":
    DOC.write_text(render(outcomes()))
    print(f"Wrote {DOC}")  # noqa: T201
