"""Store files: damaged, read-only, another application's, brand new; `store check`; concurrent loads."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from meta_tune.cli import main
from meta_tune.errors import StoreError, StoreSchemaError
from meta_tune.store import Store, StoreCallback, check_store
from tests.conftest import REPO_ROOT


def fill(url: str, n_trials: int = 40) -> Store:
    store = Store(url)
    store.create_task("fam/a", metric="acc", mode="max", family="fam")
    for i in range(n_trials):
        config = {"lr": 0.01 * (i + 1), "name": "x" * 200}  # long rows: many pages
        for step in (1, 2, 3):
            store.record_result(
                "fam/a", f"t{i}", training_iteration=step, metrics={"acc": i / 100}, config=config
            )
        store.record_trial("fam/a", f"t{i}", config=config, status="TERMINATED", metrics={"acc": i / 100})
    store.close()
    return store


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(args) or 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A store whose data pages (not its first page) were overwritten with junk."""
    path = tmp_path / "store.db"
    fill(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start + 100 : start + 400] = b"\xa5" * 300
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_store_gives_one_clear_line_and_is_left_unchanged(
    damaged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{damaged}"
    before = digest(damaged)
    with pytest.raises(StoreError, match=r"is damaged and could not be read .*store check") as info:
        Store(url).trials("fam/a")
    assert "\n" not in str(info.value)
    for args in (
        ["store", "ls"],
        ["store", "show", "fam/a"],
        ["store", "export", str(damaged.parent / "x.parquet")],
    ):
        code, out, err = cli(["--store", url, *args], capsys)
        assert code == 1 and err.startswith("Error: ") and err.count("\n") == 1, err
        assert "Traceback" not in out + err
    code, out, err = cli(["--store", url, "store", "check"], capsys)
    assert code == 1 and "integrity_check:" in out and "problem(s)" in out
    assert digest(damaged) == before


def test_a_file_that_is_no_database_gives_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    before = digest(junk)
    code, out, err = cli(["--store", str(junk), "store", "ls"], capsys)
    assert code == 1 and err.count("\n") == 1 and "not a readable SQLite database" in err
    code, out, err = cli(["--store", str(junk), "store", "check"], capsys)
    assert (code == 1 and "cannot be opened as an SQLite database" in out) or "integrity" in out
    assert digest(junk) == before


def test_store_check_reports_schema_counts_and_statuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url, n_trials=3)
    Store(url).record_trial("fam/a", "crashed", config={}, status="ERROR", error="boom")
    code, out, _ = cli(["--store", url, "store", "check"], capsys)
    assert code == 0, out
    assert out.splitlines() == [
        f"store    {url}",
        "schema   version 1 (this meta-tune reads up to 1)",
        "tasks    1",
        "trials   4 (1 ERROR, 3 TERMINATED)",
        "results  9",
        "check    ok",
    ]
    report = check_store(url)
    assert report.ok and (report.tasks, report.trials, report.results) == (1, 4, 9)


@pytest.mark.integration
def test_check_on_postgres(postgres_url: str) -> None:
    fill(postgres_url, n_trials=2)
    report = check_store(postgres_url)
    assert report.ok and report.schema_version == 1 and report.statuses == {"TERMINATED": 2}


# ---------------------------------------------------------------------- another application's database
@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    return path


def test_another_applications_database_is_never_changed(
    foreign: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{foreign}"
    before = digest(foreign)
    for read_only in (False, True):
        with pytest.raises(
            StoreSchemaError, match=r"not a meta-tune store: it holds other tables \(notes\).*store init"
        ):
            Store(url, read_only=read_only)
    for args in (["store", "ls"], ["store", "show", "x"], ["store", "load", "--shipped", "--family", "meta"]):
        code, _, err = cli(["--store", url, *args], capsys)
        assert code == 1 and "not a meta-tune store" in err and err.count("\n") == 1
    code, out, _ = cli(["--store", url, "store", "check"], capsys)
    assert code == 1 and "not a meta-tune store" in out
    assert digest(foreign) == before
    assert sorted(p.name for p in foreign.parent.iterdir()) == ["notes.db"]  # no -wal, no -journal left
    with sqlite3.connect(f"file:{foreign}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    # Asked to, meta-tune adds its tables next to the application's.
    code, out, _ = cli(["--store", url, "store", "init"], capsys)
    assert code == 0 and "is a meta-tune store (schema version 1)" in out
    Store(url).create_task("t")
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]


def test_tables_with_meta_tunes_names_are_never_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, todo TEXT)")
    before = digest(path)
    with pytest.raises(StoreSchemaError, match=r"holds tables with the names meta-tune uses \(tasks\)"):
        Store(str(path), create=True)
    assert digest(path) == before


@pytest.mark.integration
def test_another_applications_postgres_database_is_never_changed(postgres_url: str) -> None:
    import psycopg

    plain = postgres_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY)")
    with pytest.raises(StoreSchemaError, match=r"holds other tables \(orders\)"):
        Store(postgres_url)
    with psycopg.connect(plain) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert tables == ["orders"]
    Store(postgres_url, create=True).create_task("t")
    assert [t.name for t in Store(postgres_url).list_tasks()] == ["t"]


def test_new_and_empty_files_become_stores_without_friction(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    Store(str(empty)).create_task("a")
    Store(str(tmp_path / "new.db")).create_task("b")
    assert [t.name for t in Store(str(empty)).list_tasks()] == ["a"]
    assert [t.name for t in Store(str(tmp_path / "new.db")).list_tasks()] == ["b"]
    missing = tmp_path / "missing.db"
    assert Store(str(missing), read_only=True).list_tasks() == []  # reads as empty, creates nothing
    assert not missing.exists()
    with pytest.raises(StoreError, match=r"Cannot create the task 'x': the store .* is read-only"):
        Store(str(missing), read_only=True).create_task("x")
    with pytest.raises(StoreSchemaError, match="holds no meta-tune store and create=False"):
        Store(str(missing), create=False)


def test_a_store_in_a_missing_folder_is_one_clear_error_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = tmp_path / "typo" / "dir"
    url = f"sqlite:///{typo / 'x.db'}"
    message = rf"the folder {re.escape(str(typo))} does not exist\. .*mkdir -p {re.escape(str(typo))}"
    for args in (
        ["store", "ls"],
        ["store", "show", "t"],
        ["learn", "--family", "f", "-o", str(tmp_path / "p.json")],
        ["store", "load", "--shipped"],
    ):
        code, out, err = cli(["--store", url, *args], capsys)
        assert code == 1 and err.count("\n") == 1 and re.search(message, err), (args, err)
        assert "Traceback" not in out + err
    for kwargs in ({}, {"read_only": True}, {"create": True}):
        with pytest.raises(StoreError, match=message):
            Store(url, **kwargs)
    with pytest.raises(StoreError, match=message):
        StoreCallback(url, task="t")
    assert not (tmp_path / "typo").exists()
    a_file = tmp_path / "a-file"
    a_file.touch()
    with pytest.raises(StoreError, match=rf"the folder {re.escape(str(a_file))} is not a folder"):
        Store(str(a_file / "x.db"))
    # Only the default store's own folder, ~/.meta_tune, is made (on first use).
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MT_STORE", raising=False)
    (tmp_path / "home").mkdir()
    assert Store(read_only=True).list_tasks() == []
    assert not (tmp_path / "home" / ".meta_tune").exists()
    Store().create_task("t")
    assert (tmp_path / "home" / ".meta_tune" / "store.db").is_file()


# ---------------------------------------------------------------------- read-only files and folders
@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="mt-ro-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder, ignore_errors=True)


def _drop_file_override() -> None:
    """In the child, before exec: root loses the right to ignore file permissions (like any user)."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def as_user(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` without the power to write read-only files (root has it otherwise)."""
    env = {**os.environ, "HOME": str(home), "MT_STORE": ""}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
        preexec_fn=_drop_file_override,
    )  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_stores_are_readable_by_every_read_command(shared_dir: Path, what: str) -> None:
    store_dir = shared_dir / "store"
    store_dir.mkdir()
    path = store_dir / "store.db"
    fill(f"sqlite:///{path}", n_trials=5)
    out_dir = shared_dir / "out"
    out_dir.mkdir()
    out_dir.chmod(0o777)
    path.chmod(0o444)
    if what == "folder":
        store_dir.chmod(0o555)
    before, listing = digest(path), sorted(p.name for p in store_dir.iterdir())
    url = f"sqlite:///{path}"
    code = f"""
import sys
from meta_tune.cli import main
from meta_tune.store import Store
print(len(Store({url!r}).history()), len(Store({url!r}).curves("fam/a")))
for args in (["store", "ls"], ["store", "show", "fam/a"], ["store", "export", {str(out_dir / "x.parquet")!r}],
             ["store", "check"]):
    try:
        main(["--store", {url!r}, *args])
    except SystemExit as exit_info:
        print("exit", exit_info.code)
try:
    main(["--store", {url!r}, "store", "load", "--shipped", "--family", "meta"])
except SystemExit as exit_info:
    print("load exit", exit_info.code)
"""
    done = as_user(code, shared_dir)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "5 15"
    assert any(re.match(r"fam/a\s+fam\s+acc\s+max\s+5", line) for line in lines)
    assert "check    ok" in lines and "load exit 1" in lines and "exit 1" not in lines, done.stdout
    assert (out_dir / "x.parquet").is_file()
    assert "read-only" in done.stderr and done.stderr.count("Error:") == 1 and "Traceback" not in done.stderr
    assert digest(path) == before and sorted(p.name for p in store_dir.iterdir()) == listing


# ---------------------------------------------------------------------- concurrent loads
@pytest.mark.integration
def test_concurrent_loads_of_the_shipped_histories_count_each_task_once(store_url: str) -> None:
    from meta_tune.tuning import SHIPPED_DIR

    expected = Store(f"sqlite:///{tempfile.mkdtemp()}/one.db")
    totals = {"tasks": 0, "trials": 0, "results": 0}
    for archive in sorted(SHIPPED_DIR.glob("*.parquet")):
        for key, value in expected.load_archive(archive).items():
            totals[key] += value
    command = [sys.executable, "-c", "from meta_tune.cli import main; main()", "--store", store_url,
               "store", "load", "--shipped"]  # fmt: skip
    processes = [
        subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    reported = {"tasks": 0, "trials": 0, "results": 0}
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        for value, key in re.findall(r"(\d+) new (tasks|trials|results)", out):
            reported[key] += int(value)
    assert reported == totals
    store = Store(store_url)
    assert len(store.list_tasks()) == totals["tasks"]
    assert sum(store.counts(t.name)["trials"] for t in store.list_tasks()) == totals["trials"]
