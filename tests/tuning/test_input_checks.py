"""Bad input is refused before any work: one line naming the value and what is valid."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ray import tune

import meta_tune.tuning
from meta_tune.errors import InvalidConfigError
from meta_tune.store import Store
from meta_tune.tuning import Experiment, load_experiment
from meta_tune.tuning._run import check_experiment, check_reachable, task_names
from tests.conftest import REPO_ROOT
from tests.tuning.conftest import invoke

SPACE = {"lr": tune.loguniform(1e-4, 1e-1)}


# ---------------------------------------------------------------------------- ranges
@pytest.mark.parametrize(
    ("flag", "value", "place", "expected"),
    [
        ("--epochs", "-1", "trainable.epochs", "-1 is out of range: it must be >= 1"),
        ("--epochs", "0", "trainable.epochs", "0 is out of range: it must be >= 1"),
        ("--concurrency", "0", "concurrency", "0 is out of range: it must be >= 1"),
        ("--concurrency", "-1", "concurrency", "-1 is out of range: it must be >= 1"),
        ("--cpus-per-trial", "0", "resources.cpu", "0 is out of range: it must be > 0"),
        ("--cpus-per-trial", "-1", "resources.cpu", "-1 is out of range: it must be > 0"),
        ("--seed", "-1", "seed", "-1 is out of range: it must be >= 0"),
    ],
)
def test_run_refuses_out_of_range_flags_and_files_with_the_same_message(
    tmp_path: Path, flag: str, value: str, place: str, expected: str
) -> None:
    code, output = invoke(tmp_path, "run", "--task", "digits", flag, value, "--dry-run")
    assert code == 1 and f"{place} ({flag}): {expected}" in output
    # The same value in an experiment file gets the same check, naming its place in the file.
    *parents, key = place.split(".")
    text = f"{key}: {value}\n"
    for parent in reversed(parents):
        text = f"{parent}:\n" + "".join(f"  {line}\n" for line in text.splitlines())
    if parents == ["trainable"]:
        text = text.replace("trainable:\n", "trainable:\n  family: image\n  task: digits\n")
    else:
        text = "trainable: {family: image, task: digits}\n" + text
    (tmp_path / "exp.yaml").write_text(text)
    with pytest.raises(InvalidConfigError, match=rf"exp.yaml: {place}: {expected}$"):
        load_experiment(tmp_path / "exp.yaml")


@pytest.mark.parametrize("command", ["collect", "demo"])
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--epochs", "0"), "trainable.epochs (--epochs): 0 is out of range"),
        (("--concurrency", "0"), "concurrency (--concurrency): 0 is out of range"),
        (("--concurrency", "-1"), "concurrency (--concurrency): -1 is out of range"),
        (("--samples", "0"), "0 is not in the range x>=1"),
        (("--address", "not a host"), "'not a host' is not a Ray address: use auto"),
    ],
)
def test_collect_and_demo_check_their_options_before_ray_starts(
    tmp_path: Path, no_ray: None, command: str, args: tuple[str, ...], expected: str
) -> None:
    code, output = invoke(tmp_path, command, *args, "--results-dir", str(tmp_path / "ray"))
    assert code != 0 and expected in output


def test_demo_refuses_seeds_that_are_not_integers(tmp_path: Path, no_ray: None) -> None:
    code, output = invoke(tmp_path, "demo", "--seeds", "0,one")
    assert code == 2 and "'0,one' is not a comma-separated list of integers" in output
    code, output = invoke(tmp_path, "demo", "--seeds", "0,-1")
    assert code == 1 and "seed (--seed): -1 is out of range: it must be >= 0" in output


# ---------------------------------------------------------------------------- addresses
@pytest.mark.parametrize("address", ["not a host", "head", "head:0", "head:70000", "http://head:8265", "ray://"])
def test_malformed_addresses_are_refused_naming_the_valid_forms(tmp_path: Path, address: str) -> None:
    code, output = invoke(tmp_path, "run", "--task", "digits", "--address", address, "--dry-run")
    assert code == 1
    assert f"address (--address): {address!r} is not a Ray address: use auto" in output
    assert "HOST:PORT" in output and "ray://HOST:PORT" in output


@pytest.mark.parametrize("address", ["auto", "10.0.0.7:6379", "head-1.example.org:6379", "ray://[::1]:10001"])
def test_well_formed_addresses_pass_the_schema(address: str) -> None:
    experiment = load_experiment(None, {"trainable.family": "image", "trainable.task": "digits", "address": address})
    assert experiment.address == address


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_an_address_where_nothing_listens_fails_fast_before_anything_runs(
    tmp_path: Path, no_ray: None, closed_port: int
) -> None:
    started = time.monotonic()
    for command in (["run", "--task", "digits"], ["collect"], ["demo"]):
        code, output = invoke(tmp_path, *command, "--address", f"127.0.0.1:{closed_port}",
                              "--results-dir", str(tmp_path / "ray"))
        assert code == 1 and f"no Ray cluster answers at 127.0.0.1:{closed_port}" in output
        assert "Tuning" not in output and "Collecting" not in output
    assert time.monotonic() - started < 30


def test_a_port_that_answers_passes_the_reachability_check(listening_port: int) -> None:
    check_reachable(f"127.0.0.1:{listening_port}", timeout_s=2)
    check_reachable(f"ray://127.0.0.1:{listening_port}", timeout_s=2)


# ---------------------------------------------------------------------------- GPUs
def test_gpus_per_trial_without_a_gpu_is_refused_before_ray_starts(
    tmp_path: Path, no_ray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    code, output = invoke(tmp_path, "run", "--task", "digits", "--searcher", "random", "--gpus-per-trial", "1",
                          "--results-dir", str(tmp_path / "ray"))
    assert code == 1
    assert "resources.gpu (--gpus-per-trial) is 1, but this machine has 0 GPU(s)" in output
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    code, output = invoke(tmp_path, "run", "--task", "digits", "--searcher", "random", "--gpus-per-trial", "2",
                          "--results-dir", str(tmp_path / "ray"))
    assert code == 1 and "is 2, but this machine has 1 GPU(s)" in output


# ---------------------------------------------------------------------------- output paths
def _unwritable(tmp_path: Path) -> Path:
    """A path that cannot be a folder: its parent is a file (works as root too)."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "out"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("run", "--task", "digits", "--searcher", "random", "--results-dir", "{bad}"), "--results-dir"),
        (("collect", "--results-dir", "{bad}"), "--results-dir"),
        (("collect", "--out", "{bad}/history.parquet"), "--out"),
        (("demo", "--results-dir", "{bad}"), "--results-dir"),
        (("demo", "--out", "{bad}"), "--out"),
        (("learn", "--family", "image", "-o", "{bad}/prior.json"), "-o/--out"),
        (("learn", "--family", "image", "-o", "{tmp}/prior.json", "--plot", "{bad}/prior.png"), "--plot"),
        (("bench", "--scenario", "lcbench", "--out", "{bad}"), "--out"),
    ],
)
def test_unwritable_outputs_are_refused_before_the_work(
    tmp_path: Path, no_ray: None, args: tuple[str, ...], flag: str
) -> None:
    bad = _unwritable(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code, output = invoke(tmp_path, *(a.replace("{bad}", str(bad)).replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 1, output
    assert re.search(rf"{re.escape(flag)}\)?: cannot write to the folder", output), output
    assert f"{tmp_path / 'a-file'} is a file" in output
    assert [p for p in sorted(tmp_path.rglob("*")) if not p.name.startswith("store.db")] == before


def test_the_writability_check_leaves_no_file_and_no_folder(tmp_path: Path) -> None:
    from meta_tune.tuning._paths import check_writable_file, check_writable_folder

    check_writable_folder(tmp_path / "new" / "deeper", "--out")
    check_writable_file(tmp_path / "new" / "prior.json", "-o")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "folder").mkdir()
    with pytest.raises(InvalidConfigError, match=r"-o: .*folder is a folder; give a file name"):
        check_writable_file(tmp_path / "folder", "-o")


# ---------------------------------------------------------------------------- task names
def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    rng = np.random.default_rng(0)
    for task in ("fashion_mnist_n2000", "fashion_mnist_n4000", "digits"):
        name = f"mlp/{task}"
        store.create_task(name, metric="acc", mode="max", family="mlp", space=SPACE)
        for i in range(10):
            lr = float(10 ** rng.uniform(-4, -1))
            store.record_trial(name, f"x{i}", config={"lr": lr}, status="TERMINATED",
                               metrics={"acc": 1 - abs(np.log10(lr) + 2) / 3})
    return store


def test_task_names_follow_run_task_rules_and_unknown_ones_list_close_matches_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert task_names(store, "mlp", ["fashion_mnist_n2000", "mlp/digits"], what="--exclude") == [
        "mlp/fashion_mnist_n2000", "mlp/digits"
    ]
    with pytest.raises(InvalidConfigError) as caught:
        task_names(store, "mlp", ["fashion_mnst_n2000"], what="--exclude")
    assert str(caught.value) == (
        "--exclude: unknown mlp task 'fashion_mnst_n2000': did you mean fashion_mnist_n2000 or "
        "fashion_mnist_n4000? Known tasks: fashion_mnist_n2000, fashion_mnist_n4000, digits."
    )
    # A built-in family's tasks are known before they have runs in the store.
    assert task_names(store, "image", ["fashion_mnist"], what="--exclude") == ["image/fashion_mnist"]
    assert task_names(store, "image@e2", ["digits"], what="--exclude") == ["image@e2/digits"]


@pytest.mark.parametrize("name", ["fashion_mnist_n2000", "mlp/fashion_mnist_n2000"])
def test_learn_excludes_a_task_named_either_way(tmp_path: Path, name: str) -> None:
    _store(tmp_path)
    code, output = invoke(tmp_path, "learn", "--family", "mlp", "--exclude", name, "-o", str(tmp_path / "p.json"))
    assert code == 0, output
    assert "from 20 trials of 2 mlp tasks" in output and "Left out: mlp/fashion_mnist_n2000." in output


def test_learn_says_when_an_excluded_task_has_no_runs(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.create_task("image/digits", metric="accuracy", mode="max", family="image", space=SPACE)
    store.record_trial("image/digits", "x0", config={"lr": 0.01}, status="TERMINATED", metrics={"accuracy": 0.9})
    code, output = invoke(tmp_path, "learn", "--family", "image", "--exclude", "image/fashion_mnist",
                          "-o", str(tmp_path / "p.json"))
    assert code == 0, output
    assert "Left out: image/fashion_mnist (no runs in the store)." in output


def test_learn_refuses_an_exclude_that_names_no_task(tmp_path: Path) -> None:
    _store(tmp_path)
    code, output = invoke(tmp_path, "learn", "--family", "mlp", "--exclude", "image/fashion_mnist",
                          "-o", str(tmp_path / "p.json"))
    assert code == 1 and "--exclude: unknown mlp task 'image/fashion_mnist'" in output
    assert not (tmp_path / "p.json").exists()


def test_collect_excludes_by_either_name_and_refuses_unknown_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import nullcontext

    ran: list[list[str]] = []
    monkeypatch.setattr(meta_tune.tuning, "ray_runtime", lambda *a, **k: nullcontext())
    monkeypatch.setattr(meta_tune.tuning, "collect", lambda spec, names, **kw: ran.append(list(names)))
    args = ("collect", "--tasks", "digits,digits_0to4,fashion_mnist_n2000", "--results-dir", str(tmp_path))
    code, output = invoke(tmp_path, *args, "--exclude", "image/fashion_mnist_n2000,digits_0to4")
    assert code == 0, output
    assert ran == [["digits"]]
    code, output = invoke(tmp_path, *args, "--exclude", "fashion_mnist_n200")
    assert code == 1 and "--exclude: unknown image task 'fashion_mnist_n200': did you mean" in output
    assert len(ran) == 1


def test_prior_exclude_is_checked_before_ray_and_resolved_like_exclude(tmp_path: Path) -> None:
    from meta_tune.tuning._run import _related_tasks

    store = _store(tmp_path)

    def experiment(exclude: list[str]) -> Experiment:
        return Experiment.model_validate({
            "trainable": {"family": "image", "task": "digits"}, "prior": {"family": "mlp", "exclude": exclude},
            "storage_path": tmp_path / "ray",
        })

    with pytest.raises(InvalidConfigError, match=r"prior.exclude: unknown mlp task 'fashion': did you mean fashion_mnist_n4000 or fashion_mnist_n2000\? Known"):
        check_experiment(experiment(["fashion"]), store)
    assert _related_tasks(experiment(["fashion_mnist_n2000"]), store) == ("mlp", ["mlp/fashion_mnist_n4000",
                                                                                   "mlp/digits"])


# ---------------------------------------------------------------------------- epochs
def test_other_than_standard_epochs_are_recorded_apart_from_the_familys_history() -> None:
    def section(**trainable: Any) -> Any:
        return load_experiment(None, {f"trainable.{k}": v for k, v in trainable.items()}).trainable

    short = section(family="image", task="fashion_mnist_n2000", epochs=2)
    assert (short.store_task, short.store_family) == ("image@e2/fashion_mnist_n2000", "image@e2")
    standard = section(family="image", task="fashion_mnist_n2000", epochs=6)  # the shipped history's 6
    assert (standard.store_task, standard.store_family) == ("image/fashion_mnist_n2000", "image")
    assert section(family="image", task="digits").store_task == "image/digits"
    # The shipped text history has 5 epochs per trial, the text family's trials 10 by default.
    assert section(family="text", task="bbc").store_task == "text@e10/bbc"
    assert section(family="text", task="bbc", epochs=5).store_task == "text/bbc"
    # A user trainable's runs are recorded under its own family and task, whatever max_t says.
    user = load_experiment(REPO_ROOT / "examples" / "experiments" / "sgd_digits.yaml").trainable
    assert user.store_task == f"{user.family}/{user.task}"


def test_collect_with_other_epochs_says_where_it_records_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import nullcontext

    recorded: list[Any] = []
    monkeypatch.setattr(meta_tune.tuning, "ray_runtime", lambda *a, **k: nullcontext())
    monkeypatch.setattr(meta_tune.tuning, "collect", lambda *a, **k: recorded.append(k["epochs"]))
    code, output = invoke(tmp_path, "collect", "--trainable", "text", "--tasks", "bbc", "--results-dir",
                          str(tmp_path))
    assert code == 0, output
    assert "10 epochs per trial differ from the 5 of the text history: trials are recorded as text@e10/bbc" in output
    assert "(--epochs 5 records with it)" in output
    code, output = invoke(tmp_path, "collect", "--trainable", "text", "--tasks", "bbc", "--epochs", "5",
                          "--results-dir", str(tmp_path))
    assert code == 0 and "differ" not in output and recorded == [None, 5]



# ---------------------------------------------------------------------------- the demo's plot
def test_the_demo_without_matplotlib_says_so_first_and_still_gives_its_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from contextlib import nullcontext

    import pandas as pd

    runs = pd.DataFrame({
        "searcher": ["prior"] * 3 + ["hyperopt"] * 3, "seed": [0] * 6, "n": [1, 2, 3] * 2,
        "finished_s": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5], "best": [0.8, 0.9, 0.9, 0.5, 0.7, 0.85],
    })
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not installed
    monkeypatch.setattr(meta_tune.tuning, "ray_runtime", lambda *a, **k: nullcontext())
    monkeypatch.setattr(meta_tune.tuning, "compare", lambda *a, **k: runs)
    code, output = invoke(tmp_path, "demo", "--samples", "3", "--out", str(tmp_path / "demo"))
    assert code == 0, output
    assert output.index("matplotlib is not installed, so the demo saves no plot") < output.index("Tuning")
    assert "Best accuracy after n trials" in output and (tmp_path / "demo" / "runs.csv").is_file()
    assert not (tmp_path / "demo" / "comparison.png").exists()
