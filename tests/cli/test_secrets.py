"""No store password in any output: CLI stdout/stderr, log lines (debug included), error messages.

The CLI runs with a password in the store URL against a port where nothing listens, a
PostgreSQL server with a wrong database name, and a working database; every line it prints
or logs is searched for the password (as typed, URL-encoded and decoded).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from meta_tune.cli import main
from meta_tune.store import Store, mask_url
from meta_tune.store._url import scrub
from tests.conftest import REPO_ROOT
from tests.store.conftest import _free_port, postgres_server, postgres_url  # noqa: F401 - the fixtures

PASSWORD = "p@ss:w/rd-Sesame42"
ENCODED = quote(PASSWORD, safe="")
FORMS = (PASSWORD, ENCODED, "Sesame42")


def _with_password(url: str) -> str:
    """``postgresql+psycopg://postgres@host:port/db`` with the password set."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{ENCODED}@{host}"


@pytest.fixture(params=["refused", "wrong-database", "working"])
def target(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(kind, URL with the password) of the three servers the CLI is pointed at."""
    if request.param == "refused":
        return "refused", f"postgresql+psycopg://tuner:{ENCODED}@127.0.0.1:{_free_port()}/meta_tune"
    server = request.getfixturevalue("postgres_server")
    if request.param == "wrong-database":
        return "wrong-database", _with_password(f"{server}/no_such_database")
    return "working", _with_password(request.getfixturevalue("postgres_url"))


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(["--log-level", "debug", *args]) or 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _assert_no_secret(text: str) -> None:
    for form in FORMS:
        assert form not in text, f"the password ({form!r}) is in the output:\n{text[-5000:]}"


def test_masking_hides_every_form_of_the_password() -> None:
    url = f"postgresql+psycopg://tuner:{ENCODED}@db-host:5432/meta_tune?sslpassword=Sesame42&app=x"
    assert mask_url(url) == "postgresql+psycopg://tuner:***@db-host:5432/meta_tune?sslpassword=***&app=x"
    assert mask_url("sqlite:////home/me/.meta_tune/store.db") == "sqlite:////home/me/.meta_tune/store.db"
    message = f"could not connect as tuner with {PASSWORD} ({ENCODED}) to {url}"
    _assert_no_secret(scrub(message, url))


@pytest.mark.integration
def test_no_command_prints_or_logs_the_password(
    target: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import meta_tune.tuning

    kind, url = target
    caplog.set_level(logging.DEBUG)
    archive = tmp_path / "out.parquet"
    outputs = [
        _run_cli(["--store", url, *args], capsys)
        for args in (
            ["store", "ls"],
            ["store", "load", "--shipped", "--family", "meta"],
            ["store", "check"],
            ["store", "ls"],
            ["store", "show", "meta/sinusoid_5shot"],
            ["store", "export", str(archive)],
            ["store", "init"],
        )
    ]
    # run and collect: everything up to the Tune run, which is replaced by a stub here.
    monkeypatch.setattr(meta_tune.tuning, "tune_task", _fake_run)
    monkeypatch.setattr(meta_tune.tuning, "collect", lambda *a, **k: [])
    monkeypatch.setattr(meta_tune.tuning, "ray_runtime", _no_ray)
    monkeypatch.setenv("MT_STORE", url)  # the URL from the environment this time
    for args in (
        ["run", "--trainable", "meta", "--task", "sinusoid_5shot_freq", "--searcher", "random"],
        ["collect", "--trainable", "meta", "--tasks", "sinusoid_5shot_freq", "--samples", "1"],
    ):
        outputs.append(_run_cli([*args, "--results-dir", str(tmp_path / "ray")], capsys))
    if kind == "working":
        outputs.append((0, repr(Store(url)) + str(Store(url, read_only=True))))
    text = "\n".join(out for _, out in outputs) + "\n" + caplog.text
    _assert_no_secret(text)
    codes = [code for code, _ in outputs]
    assert "Traceback" not in text
    if kind == "working":
        assert codes == [0] * len(codes), text[-5000:]
        assert "recording into postgresql+psycopg://postgres:***@127.0.0.1" in text
        assert "Loaded into postgresql+psycopg://postgres:***@127.0.0.1" in text
    else:
        assert codes == [1] * len(codes), text[-5000:]  # one "Error: ..." line each
        assert ":***@127.0.0.1" in text


@pytest.mark.integration
def test_a_real_process_shows_no_password_in_stdout_or_stderr(postgres_server: str) -> None:  # noqa: F811
    """The same in a subprocess: nothing a library writes to the terminal by itself either."""
    urls = [
        f"postgresql+psycopg://tuner:{ENCODED}@127.0.0.1:{_free_port()}/meta_tune",
        _with_password(f"{postgres_server}/no_such_database"),
    ]
    for url in urls:
        done = subprocess.run(
            [sys.executable, "-c", "from meta_tune.cli import main; main()", "--log-level", "debug",
             "--store", url, "store", "ls"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1
        _assert_no_secret(done.stdout + done.stderr)
        assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr


class _Outcome:
    wall_s, best, best_config = 1.0, 0.5, {"lr": 0.1}


def _fake_run(*args: Any, **kwargs: Any) -> _Outcome:
    return _Outcome()


class _no_ray:  # stands in for the ray_runtime context manager
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
