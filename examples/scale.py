"""What a large cluster would stress, measured on this machine: searchers, prior fitting, the store.

Three parts, each printing one table (milliseconds, seconds, MiB), each figure quoted against a
peer measured in the same run:

``searchers``
    Every meta-tune searcher and Ray's ``HyperOptSearch`` and Tune's random search (the
    peers) run one long tuning run on a YAHPO rbv2_xgboost meta-test task (the surrogate is the
    objective; its calls are not timed): ``--in-flight`` suggestions before the first
    completion, then complete-the-oldest / suggest-one, up to ``--trials`` trials. The
    meta-tune searchers share one prior, fitted on the 97 meta-train tasks x 100 random
    configs with their runtimes (so they are cost-aware, as in docs/benchmarks.md). Per-call
    median and p99 of ``suggest`` and ``on_trial_complete`` while 50-100% of each checkpoint's
    trials are done (100, 1,000, 10,000). A searcher that passes ``--cap-s`` seconds of wall
    clock is stopped; its later checkpoints are extrapolated from the growth of its per-trial
    cost (a power law fitted to its last doublings) and marked so.
``fit``
    ``meta_tune.priors.fit`` on histories of TASKSxTRIALS random configs with runtimes (the
    cost model is fitted), each in its own subprocess: fit time, peak RSS (``VmHWM``) before
    fitting (history loaded) and after, the first ``task_weights`` call a searcher makes, and
    plain pandas' best-config-per-task on the same frame as the peer. The rbv2_xgboost
    surrogate gives each task's results; beyond its 119 tasks, task ``k`` is a copy of task
    ``k mod 119`` under its own name (same sizes, so the same work).
``store``
    ``--drivers`` processes write trials with learning curves through ``StoreCallback`` (its
    ``on_trial_result`` / ``on_trial_complete``, so the same ``Store`` calls a Tune run makes),
    each into its own task of one database, against one driver, on PostgreSQL (a throwaway
    server started here, or ``--postgres-url``) and on SQLite.

Run: ``python examples/scale.py`` (all parts, ~20-25 min on 2 cores), ``--quick`` (a minute or
two), ``--parts fit,store``, ``--csv-dir DIR``; ``--help`` lists the sizes and caps.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import math
import os
import pwd
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger("scale")

SCENARIO = "rbv2_xgboost"
METRIC = "acc"
CHECKPOINTS = (100, 1_000, 10_000)
SEARCHERS = (
    "PriorSearcher",
    "PriorTPESearcher",
    "PriorEvolutionSearcher",
    "TransferBOSearcher",
    "HyperOptSearch",
    "random",
)
PEER = "HyperOptSearch"
FIT_SIZES = "10x100,100x100,100x1000,1000x100,1000x1000"


# ---------------------------------------------------------------------------------- searchers
class TuneRandomSearch:
    """Tune's random search as a Searcher: each config drawn by Tune's own variant generator."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._space: dict[str, Any] = {}

    def set_search_properties(self, metric: str, mode: str, config: dict[str, Any], **spec: Any) -> bool:
        self._space = config
        return True

    def suggest(self, trial_id: str) -> dict[str, Any]:
        from ray.tune.search.variant_generator import generate_variants

        _, config = next(generate_variants(self._space, random_state=self._rng))
        return config

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Random search learns nothing."""


class CallLog:
    """Every timed call of one searcher: which kind, how many trials were done, how long."""

    def __init__(self, kind: list[str], done: list[int], seconds: list[float]) -> None:
        self.kind, self.done, self.seconds = kind, done, seconds
        self.wall_s = 0.0
        self.finished = 0
        self.capped = False

    def add(self, kind: str, done: int, seconds: float) -> None:
        """Log one call."""
        self.kind.append(kind)
        self.done.append(done)
        self.seconds.append(seconds)

    def frame(self) -> pd.DataFrame:
        """The calls as a table (kind, done, seconds)."""
        return pd.DataFrame({"kind": self.kind, "done": self.done, "seconds": self.seconds})


def run_searcher(
    searcher: Any,
    space: dict[str, Any],
    objective: Callable[[dict[str, Any]], tuple[float, float]],
    *,
    trials: int,
    in_flight: int,
    cap_s: float,
    name: str,
) -> CallLog:
    """Drive ``searcher`` as Tune would with ``in_flight`` trials running; time every call."""
    searcher.set_search_properties(METRIC, "max", space, num_samples=trials)
    log = CallLog([], [], [])
    running: list[tuple[str, float, float]] = []  # FIFO: (trial id, value, runtime)
    suggested = done = 0
    start = time.perf_counter()
    next_report = start + 30

    def suggest() -> None:
        nonlocal suggested
        trial_id = f"t{suggested}"
        t0 = time.perf_counter()
        config = searcher.suggest(trial_id)
        log.add("suggest", done, time.perf_counter() - t0)
        value, runtime = objective(config)
        running.append((trial_id, value, runtime))
        suggested += 1

    for _ in range(min(in_flight, trials)):
        suggest()
    while running:
        trial_id, value, runtime = running.pop(0)
        result = {METRIC: value, "training_iteration": 1, "time_total_s": runtime}
        t0 = time.perf_counter()
        searcher.on_trial_complete(trial_id, result)
        log.add("complete", done, time.perf_counter() - t0)
        done += 1
        now = time.perf_counter()
        if now - start > cap_s:
            log.capped = True
            logger.info("%s: stopped at the %.0f s cap after %d trials", name, cap_s, done)
            break
        if now > next_report:
            logger.info("%s: %d trials done, %.0f s", name, done, now - start)
            next_report = now + 30
        if suggested < trials:
            suggest()
    log.wall_s, log.finished = time.perf_counter() - start, done
    return log


def _window(frame: pd.DataFrame, kind: str, lo: float, hi: float) -> np.ndarray:
    rows = frame[(frame["kind"] == kind) & (frame["done"] >= lo) & (frame["done"] < hi)]
    return rows["seconds"].to_numpy() * 1e3


def growth(frame: pd.DataFrame, kind: str, stat: Callable[[np.ndarray], float]) -> tuple[float, float]:
    """A power law ``ms = c * done ** k`` fitted to ``stat`` of the calls in the last doublings.

    Returns ``(c, k)``. The doublings are the calls made while ``done`` was in ``[2^j, 2^j+1)``,
    from 64 trials done (past the in-flight start and, mostly, the portfolio), at most the
    last four with at least 16 calls each.
    """
    top = int(frame["done"].max())
    points = []
    for j in range(6, max(6, top.bit_length())):
        calls = _window(frame, kind, 2**j, 2 ** (j + 1))
        if len(calls) >= 16:
            points.append((math.log(1.5 * 2**j), math.log(max(stat(calls), 1e-6))))
    points = points[-4:]
    if len(points) < 2:  # too few doublings to see a growth: the cost is held flat
        return stat(_window(frame, kind, top / 2, top + 1)), 0.0
    xs, ys = np.array(points).T
    k = max(0.0, float(np.polyfit(xs, ys, 1)[0]))  # costs that look like they fall are held flat
    return math.exp(float(np.mean(ys - k * xs))), k


def _median(calls: np.ndarray) -> float:
    return float(np.median(calls))


def _mean(calls: np.ndarray) -> float:
    return float(np.mean(calls))


def searcher_rows(name: str, log: CallLog, checkpoints: Sequence[int]) -> list[dict[str, Any]]:
    """One row per checkpoint: measured while reached, extrapolated past the cap."""
    frame = log.frame()
    rows = []
    # Medians extrapolate the typical call; means (which carry the rare slow calls, such as a
    # periodic refit) extrapolate the total.
    medians = {kind: growth(frame, kind, _median) for kind in ("suggest", "complete")}
    means = {kind: growth(frame, kind, _mean) for kind in ("suggest", "complete")}
    total_ms = frame["seconds"].sum() * 1e3
    for n in checkpoints:
        row: dict[str, Any] = {"searcher": name, "trials_done": n}
        if log.finished >= n:
            before = frame[frame["done"] < n]
            for kind in ("suggest", "complete"):
                calls = _window(frame, kind, n / 2, n)
                row[f"{kind}_median_ms"] = float(np.median(calls))
                row[f"{kind}_p99_ms"] = float(np.percentile(calls, 99))
            row["searcher_s"] = float(before["seconds"].sum())
            row["measured"] = "yes"
        else:
            m = log.finished
            extra_ms = 0.0
            for kind in ("suggest", "complete"):
                c, k = medians[kind]
                row[f"{kind}_median_ms"] = c * n**k
                row[f"{kind}_p99_ms"] = float("nan")
                # the calls from m to n trials done, one of each kind per trial: integral of c x^k
                c, k = means[kind]
                extra_ms += c * (n ** (k + 1) - m ** (k + 1)) / (k + 1)
            row["searcher_s"] = (total_ms + extra_ms) / 1e3
            row["measured"] = (
                f"extrapolated from {m} (k={medians['suggest'][1]:.2f} / {medians['complete'][1]:.2f})"
            )
        rows.append(row)
    return rows


def part_searchers(args: argparse.Namespace) -> pd.DataFrame:
    """Part 1: per-call cost of each searcher with ``in_flight`` trials in flight, up to ``trials``."""
    from ray.tune.search.hyperopt import HyperOptSearch

    import meta_tune.priors
    from meta_tune.bench import TaskObjective, load_scenario, meta_split
    from meta_tune.bench._methods import random_history
    from meta_tune.searchers import (
        PriorEvolutionSearcher,
        PriorSearcher,
        PriorTPESearcher,
        TransferBOSearcher,
    )

    scenario = load_scenario(SCENARIO, args.yahpo_dir)
    split = meta_split(scenario)
    t0 = time.perf_counter()
    train = list(split.train)[: args.prior_tasks]
    history = _history_frame(random_history(scenario, train, n_per_task=100, seed=args.seed), scenario)
    prior = meta_tune.priors.fit(history, space=scenario.param_space(), metric=METRIC, mode="max")
    logger.info(
        "searchers: prior fitted on %d tasks x 100 trials in %.1f s; target task %s",
        len(train),
        time.perf_counter() - t0,
        split.test[0],
    )
    task = TaskObjective(scenario, split.test[0])

    def objective(config: dict[str, Any]) -> tuple[float, float]:
        last = task(config)[-1]
        return float(last[METRIC]), float(last["runtime"])

    space, flat = scenario.param_space(), scenario.param_space(conditional=False)
    seed = args.seed
    builders: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
        "PriorSearcher": lambda: (PriorSearcher(prior=prior, seed=seed), space),
        "PriorTPESearcher": lambda: (PriorTPESearcher(prior=prior, seed=seed), space),
        "PriorEvolutionSearcher": lambda: (PriorEvolutionSearcher(prior=prior, seed=seed), space),
        "TransferBOSearcher": lambda: (TransferBOSearcher(prior=prior, seed=seed), space),
        "HyperOptSearch": lambda: (HyperOptSearch(random_state_seed=seed), flat),
        "random": lambda: (TuneRandomSearch(seed), flat),
    }
    unknown = [n for n in args.searchers if n not in builders]
    if unknown:
        raise SystemExit(f"Unknown searcher(s) {unknown}; choose from {list(builders)}")
    checkpoints = [n for n in CHECKPOINTS if n < args.trials] + [args.trials]
    rows: list[dict[str, Any]] = []
    for name in args.searchers:
        searcher, param_space = builders[name]()
        logger.info(
            "searchers: %s, %d trials, %d in flight, cap %.0f s",
            name,
            args.trials,
            args.in_flight,
            args.cap_s,
        )
        log = run_searcher(
            searcher,
            param_space,
            objective,
            trials=args.trials,
            in_flight=args.in_flight,
            cap_s=args.cap_s,
            name=name,
        )
        logger.info("searchers: %s done: %d trials in %.1f s", name, log.finished, log.wall_s)
        rows += searcher_rows(name, log, checkpoints)
    table = pd.DataFrame(rows)
    peer = table[table["searcher"] == PEER].set_index("trials_done")["searcher_s"]
    table[f"vs_{PEER}"] = [
        s / peer[n] if n in peer.index else float("nan")
        for s, n in zip(table["searcher_s"], table["trials_done"])
    ]
    return table


# ---------------------------------------------------------------------------------- prior fitting
def _history_frame(history: pd.DataFrame, scenario: Any) -> pd.DataFrame:
    """The columns a prior learns from: parameters, the metric and the runtime (as ``runtime_s``)."""
    keep = [c for c in history.columns if c not in scenario.metrics or c == METRIC]
    return history[keep].rename(columns={"runtime": "runtime_s"})


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        tasks, _, trials = part.strip().partition("x")
        if not tasks.isdigit() or not trials.isdigit() or int(tasks) < 1 or int(trials) < 2:
            raise SystemExit(f"--sizes takes TASKSxTRIALS,... (e.g. 10x100,1000x1000), got {part!r}")
        sizes.append((int(tasks), int(trials)))
    return sizes


def fit_history(
    scenario: Any, tasks: int, trials: int, seed: int, cache: dict[int, pd.DataFrame]
) -> pd.DataFrame:
    """``tasks`` x ``trials`` random configs and their results (tasks past the scenario's cycle)."""
    from meta_tune.bench._methods import random_history

    names = list(scenario.tasks)
    base = cache.get(trials)
    have = 0 if base is None else base["task"].nunique()
    need = min(tasks, len(names))
    if have < need:
        fresh = random_history(scenario, names[have:need], n_per_task=trials, seed=seed + have)
        fresh = _history_frame(fresh, scenario)
        base = fresh if base is None else pd.concat([base, fresh], ignore_index=True)
        cache[trials] = base
    assert base is not None
    groups = dict(tuple(base.groupby("task", sort=False)))
    frames = []
    for k in range(tasks):
        source = names[k % len(names)]
        frame = groups[source]
        frames.append(frame.assign(task=f"{source}#{k // len(names)}") if k >= len(names) else frame)
    return pd.concat(frames, ignore_index=True)


def peak_rss_mib() -> float:
    """This process's peak resident memory (``VmHWM``), MiB.

    Not ``ru_maxrss``: Linux carries it over ``exec`` from the parent, so a small child
    would report the parent's size.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_worker(path: str) -> None:
    """In a subprocess: fit a prior on the history in ``path``; print timings and peak RSS as JSON."""
    import meta_tune.priors
    from meta_tune.bench import load_scenario

    space = load_scenario(SCENARIO, os.environ.get("MT_SCALE_YAHPO") or None).param_space()
    history = pd.read_parquet(path)
    rss_before = peak_rss_mib()
    t0 = time.perf_counter()
    best = history.loc[history.groupby("task", sort=False)[METRIC].idxmax()]
    pandas_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    prior = meta_tune.priors.fit(history, space=space, metric=METRIC, mode="max")
    prior.sample(1, np.random.default_rng(0))  # the density too: the prior a searcher gets
    fit_s = time.perf_counter() - t0
    configs = prior.portfolio[:10] + prior.sample(10, np.random.default_rng(1))
    values = np.linspace(0.7, 0.9, len(configs))
    t0 = time.perf_counter()
    prior.task_weights(configs, list(values))
    weights_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "pandas_s": pandas_s,
                "task_weights_s": weights_s,
                "rss_before_mib": rss_before,
                "peak_rss_mib": peak_rss_mib(),
                "tasks": len(prior.task_names),
                "rows": len(history),
                "best_rows": len(best),
                "cost_model": prior.cost_model is not None,
            }
        )
    )


def part_fit(args: argparse.Namespace) -> pd.DataFrame:
    """Part 2: prior fitting time and memory by history size, one subprocess per size."""
    from meta_tune.bench import load_scenario

    scenario = load_scenario(SCENARIO, args.yahpo_dir)
    cache: dict[int, pd.DataFrame] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="mt-scale-") as tmp:
        for tasks, trials in parse_sizes(args.sizes):
            row: dict[str, Any] = {"tasks": tasks, "trials_per_task": trials}
            t0 = time.perf_counter()
            history = fit_history(scenario, tasks, trials, args.seed, cache)
            path = Path(tmp) / f"history_{tasks}x{trials}.parquet"
            history.to_parquet(path)
            row["history_mib"] = history.memory_usage(deep=True).sum() / 2**20
            del history
            logger.info(
                "fit: %dx%d history ready in %.1f s; fitting", tasks, trials, time.perf_counter() - t0
            )
            env = {**os.environ, "MT_SCALE_YAHPO": str(args.yahpo_dir or "")}
            try:
                done = subprocess.run(
                    [sys.executable, __file__, "--fit-worker", str(path)],
                    capture_output=True,
                    text=True,
                    timeout=args.fit_timeout,
                    env=env,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                row["status"] = f"timeout after {args.fit_timeout:.0f} s"
                logger.warning("fit: %dx%d did not finish in %.0f s", tasks, trials, args.fit_timeout)
            else:
                if done.returncode != 0:
                    why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
                    row["status"] = f"failed: {why}"
                    logger.warning("fit: %dx%d failed: %s", tasks, trials, why)
                else:
                    row.update(json.loads(done.stdout.strip().splitlines()[-1]))
                    row["status"] = "ok"
                    row["fit_vs_pandas"] = row["fit_s"] / max(row["pandas_s"], 1e-9)
                    logger.info(
                        "fit: %dx%d: %.1f s, peak RSS %.0f MiB",
                        tasks,
                        trials,
                        row["fit_s"],
                        row["peak_rss_mib"],
                    )
            path.unlink(missing_ok=True)
            rows.append(row)
    table = pd.DataFrame(rows)
    columns = [
        "tasks",
        "trials_per_task",
        "status",
        "fit_s",
        "pandas_s",
        "fit_vs_pandas",
        "task_weights_s",
        "history_mib",
        "rss_before_mib",
        "peak_rss_mib",
    ]
    return table.reindex(columns=columns)


# ---------------------------------------------------------------------------------- store
def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server's commands as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-c", " ".join(f"'{c}'" for c in command)]


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throwaway PostgreSQL server (as tests/store/conftest.py starts one); None where it cannot run."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        logger.warning("store: no PostgreSQL binaries (apt-get install postgresql) and no --postgres-url")
        yield None
        return
    bin_dir = Path(binaries[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="mt-scale-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
        start = [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ]
        subprocess.run(_as_postgres(start), check=True, capture_output=True)
        logger.info("store: started PostgreSQL %s on port %d", bin_dir.parent.name, port)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(data, ignore_errors=True)


def _new_database(server: str) -> str:
    import psycopg

    name = f"mt_scale_{uuid.uuid4().hex[:10]}"
    base = server.replace("postgresql+psycopg://", "postgresql://").rstrip("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rstrip('/')}/{name}"


def store_driver(url: str, driver: int, *, trials: int, steps: int, start_at: float, out: Any) -> None:
    """One Tune driver's writes: a StoreCallback fed ``trials`` trials of ``steps`` results each."""
    from meta_tune.store import StoreCallback

    callback = StoreCallback(url, task=f"scale/driver{driver}", metric=METRIC, mode="max", family="scale")
    callback.setup()
    latencies = []
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    for i in range(trials):
        config = {"lr": 10 ** -(1 + i % 4), "width": 2 ** (4 + i % 5), "seed": i}
        trial = SimpleNamespace(
            trial_id=f"d{driver}_{i:06d}", config=config, last_result=None, status="RUNNING"
        )
        for step in range(1, steps + 1):
            result = {
                METRIC: 0.5 + step / (2 * steps),
                "training_iteration": step,
                "time_total_s": 1.5 * step,
                "loss": 1.0 / step,
                "trial_id": trial.trial_id,
                "config": config,
            }
            trial.last_result = result
            s = time.perf_counter()
            callback.on_trial_result(step, [trial], trial, result)
            latencies.append(time.perf_counter() - s)
        trial.status = "TERMINATED"
        s = time.perf_counter()
        callback.on_trial_complete(steps, [trial], trial)
        latencies.append(time.perf_counter() - s)
    out.put((driver, t0, time.perf_counter(), latencies))


def run_drivers(url: str, drivers: int, trials: int, steps: int) -> dict[str, Any]:
    """Start ``drivers`` writer processes at once; their total throughput and write latencies."""
    import multiprocessing

    from meta_tune.store import Store

    Store(url, create=True).close()  # the tables exist before the drivers race to make them
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 2.0 + 0.3 * drivers  # every driver imported and connected before
    procs = [
        context.Process(
            target=store_driver,
            args=(url, d),
            kwargs=dict(trials=trials, steps=steps, start_at=start_at, out=queue),
        )
        for d in range(drivers)
    ]
    for p in procs:
        p.start()
    reports = [queue.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError(f"a store driver failed (exit codes {[p.exitcode for p in procs]})")
    wall = max(r[2] for r in reports) - min(r[1] for r in reports)
    latencies = np.concatenate([r[3] for r in reports]) * 1e3
    with Store(url, read_only=True) as store:
        counts = [store.counts(f"scale/driver{d}") for d in range(drivers)]
    return {
        "wall_s": wall,
        "trials": sum(c["trials"] for c in counts),
        "results": sum(c["results"] for c in counts),
        "write_median_ms": float(np.median(latencies)),
        "write_p99_ms": float(np.percentile(latencies, 99)),
    }


def statements_per_write(url: str) -> tuple[float, float]:
    """SQL statements one ``record_result`` and one ``record_trial`` send (a probe on a fresh task)."""
    from sqlalchemy import event

    from meta_tune.store import Store

    with Store(url, create=True) as store:
        store.create_task("scale/probe", metric=METRIC, mode="max")
        count = [0]
        store._session().close()  # the engine exists (opened lazily)
        engine = store._engine
        event.listen(engine, "before_cursor_execute", lambda *a: count.__setitem__(0, count[0] + 1))
        store.record_result(
            "scale/probe", "p", training_iteration=1, metrics={METRIC: 0.5}, config={"x": 1}, run_id="r"
        )
        per_result = count[0]
        count[0] = 0
        store.record_trial(
            "scale/probe",
            "p",
            config={"x": 1},
            status="TERMINATED",
            metrics={METRIC: 0.5},
            last_iteration=1,
            run_id="r",
        )
        return float(per_result), float(count[0])


def part_store(args: argparse.Namespace) -> pd.DataFrame:
    """Part 3: write throughput of 1 and ``drivers`` drivers, PostgreSQL and SQLite."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mt-scale-store-") as tmp, _postgres(args) as server:
        backends: list[tuple[str, Callable[[], str]]] = []
        if server is not None:
            backends.append(("postgresql", lambda: _new_database(server)))
        backends.append(("sqlite", lambda: f"sqlite:///{Path(tmp) / uuid.uuid4().hex[:8]}.db"))
        for backend, new_url in backends:
            per_result, per_trial = statements_per_write(new_url())
            for drivers in sorted({1, args.drivers}):
                logger.info(
                    "store: %s, %d driver(s) x %d trials x %d results",
                    backend,
                    drivers,
                    args.trials_per_driver,
                    args.results_per_trial,
                )
                row = {
                    "backend": backend,
                    "drivers": drivers,
                    **run_drivers(new_url(), drivers, args.trials_per_driver, args.results_per_trial),
                }
                row["trials_per_s"] = row["trials"] / row["wall_s"]
                row["results_per_s"] = row["results"] / row["wall_s"]
                row["statements_per_result"], row["statements_per_trial_end"] = per_result, per_trial
                logger.info("store: %s, %d driver(s): %.0f results/s", backend, drivers, row["results_per_s"])
                rows.append(row)
    table = pd.DataFrame(rows)
    one = table[table["drivers"] == 1].set_index("backend")["results_per_s"]
    table["vs_1_driver"] = table["results_per_s"] / table["backend"].map(one)
    pg = table[table["backend"] == "postgresql"].set_index("drivers")["results_per_s"]
    table["vs_postgresql"] = [
        r / pg[d] if d in pg.index else float("nan") for r, d in zip(table["results_per_s"], table["drivers"])
    ]
    return table


@contextmanager
def _postgres(args: argparse.Namespace) -> Iterator[str | None]:
    if args.no_postgres:
        yield None
    elif args.postgres_url:
        yield args.postgres_url
    else:
        with postgres_server() as url:
            yield url


# ---------------------------------------------------------------------------------- main
PARTS: dict[str, Callable[[argparse.Namespace], pd.DataFrame]] = {
    "searchers": part_searchers,
    "fit": part_fit,
    "store": part_store,
}
TITLES = {
    "searchers": "Searcher cost per call (ms) and searcher seconds to reach each number of trials done",
    "fit": "Prior fitting: seconds and peak RSS (MiB) by history size (tasks x trials per task)",
    "store": "Store writes through StoreCallback: total throughput of N drivers",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", default="searchers,fit,store", help="comma-separated: searchers, fit, store"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a minute or two")
    parser.add_argument(
        "--yahpo-dir", default=None, help="YAHPO data (default: $MT_YAHPO_DIR or ../shared/data/yahpo)"
    )
    parser.add_argument("--csv-dir", default=None, help="also write each table as DIR/<part>.csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--searchers", default=",".join(SEARCHERS))
    parser.add_argument(
        "--prior-tasks", type=int, default=None, help="meta-train tasks the searchers' prior learns from (97)"
    )
    parser.add_argument("--trials", type=int, default=None, help="trials per searcher run (10,000)")
    parser.add_argument("--in-flight", type=int, default=64, help="trials running at once (64)")
    parser.add_argument("--cap-s", type=float, default=None, help="wall-clock cap per searcher, s (150)")
    parser.add_argument("--sizes", default=None, help=f"TASKSxTRIALS,... ({FIT_SIZES})")
    parser.add_argument(
        "--fit-timeout", type=float, default=1200.0, help="seconds per fit before it counts as too slow"
    )
    parser.add_argument("--drivers", type=int, default=8)
    parser.add_argument("--trials-per-driver", type=int, default=None, help="(100)")
    parser.add_argument(
        "--results-per-trial", type=int, default=None, help="learning-curve steps per trial (10)"
    )
    parser.add_argument("--postgres-url", default=None, help="a PostgreSQL server to create databases on")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--fit-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "trials": 300 if quick else 10_000,
        "cap_s": 10.0 if quick else 150.0,
        "sizes": "10x100,100x100" if quick else FIT_SIZES,
        "trials_per_driver": 20 if quick else 100,
        "results_per_trial": 5 if quick else 10,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.yahpo_dir is None and not os.environ.get("MT_YAHPO_DIR"):
        args.yahpo_dir = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "yahpo")
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    args.searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    bad = [p for p in args.parts if p not in PARTS]
    if bad:
        parser.error(f"unknown part(s) {bad}; choose from {list(PARTS)}")
    if args.trials < 2 or args.in_flight < 1 or args.drivers < 1:
        parser.error("--trials must be >= 2, --in-flight and --drivers >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Run the chosen parts; print and return one table per part."""
    args = parse_args(argv)
    if args.fit_worker:
        fit_worker(args.fit_worker)
        return {}
    tables = {}
    for part in args.parts:
        t0 = time.perf_counter()
        table = PARTS[part](args)
        tables[part] = table
        print(f"\n{TITLES[part]} ({time.perf_counter() - t0:.0f} s):")
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 40):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        if args.csv_dir:
            Path(args.csv_dir).mkdir(parents=True, exist_ok=True)
            table.to_csv(Path(args.csv_dir) / f"{part}.csv", index=False)
    return tables


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logger.setLevel(logging.INFO)
    main()
