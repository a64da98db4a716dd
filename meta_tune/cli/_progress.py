"""Live progress on the terminal: trials (or benchmark runs) done of all, best so far, time left.

Two kinds of work report here:

* Tune runs (``meta-tune run``, ``demo``, ``collect``): one :class:`Progress` per command
  counts the trials of all its runs; :meth:`Progress.callback` gives each run a fresh Tune
  callback. A line per finished trial says how many of all are done, the run's best so far
  and an estimate of the time left; while no trial finishes, a line every ``heartbeat_s``
  says how many are running.
* Benchmark runs (``meta-tune bench``): :class:`BenchProgress` prints what is being prepared
  (priors, curves) and a line per finished (method, task, seed) run, at most one every
  ``every_s`` seconds (the first and the last always).

The time left is a throughput estimate: seconds so far / units done x units left, so it
settles after the first few trials and ignores that the last trials of a run run with
fewer neighbours. Lines go to stderr (results stay alone on stdout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from ray.tune import Callback

if TYPE_CHECKING:
    from meta_tune.bench._run import RunDone

Echo = Callable[[str], None]


def _stderr(line: str) -> None:
    click.echo(line, err=True)


def format_duration(seconds: float) -> str:
    """Seconds as ``45s``, ``3m05s`` or ``1h02m``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def time_left(elapsed_s: float, done: int, total: int) -> float | None:
    """Estimated seconds left: elapsed / done x (total - done); None before anything is done."""
    if done <= 0:
        return None
    return elapsed_s / done * max(0, total - done)


class Progress:
    """Trials done of all the trials of a command, over one or more Tune runs.

    Args:
        metric: The metric to show.
        mode: ``"max"`` or ``"min"``: which value is the best so far (None: lines show no best).
        total: Trials of all runs together.
        runs: The number of Tune runs (above 1, lines name the run: ``run 2/6``).
        already_done: Trials finished before this command started (a resumed run); they
            count as done but not in the estimate of the time left.
        echo: Prints a line (default: to stderr).
        clock: Seconds, monotonic (tests pass a fake one).
        heartbeat_s: While no trial finishes, a line at most this often (0: never).
    """

    def __init__(
        self,
        metric: str,
        mode: str | None,
        total: int,
        *,
        runs: int = 1,
        already_done: int = 0,
        echo: Echo = _stderr,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_s: float = 30.0,
    ) -> None:
        if mode not in ("min", "max", None):
            raise ValueError(f"mode must be 'min', 'max' or None, got {mode!r}")
        self.metric, self.mode, self.total, self.runs = metric, mode, total, runs
        self.already_done, self.done, self.errored = already_done, 0, 0
        self.echo, self.clock, self.heartbeat_s = echo, clock, heartbeat_s
        self.started = clock()
        self.last_line = self.started
        self._runs_started = 0

    def callback(self) -> TrialProgress:
        """A fresh Tune callback for the next run (pass it in the run's ``callbacks``)."""
        self._runs_started += 1
        label = f"run {self._runs_started}/{self.runs}" if self.runs > 1 else ""
        return TrialProgress(self.metric, self.total, mode=self.mode, progress=self, label=label)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the progress was created."""
        return self.clock() - self.started

    def eta_s(self) -> float | None:
        """Estimated seconds until every trial is done (None before the first one is)."""
        return time_left(self.elapsed_s, self.done, self.total - self.already_done)

    def summary(self) -> str:
        """``21/96 trials done, 1m12s elapsed, ~5m30s left``."""
        done = self.already_done + self.done
        eta = self.eta_s()
        left = f", ~{format_duration(eta)} left" if eta is not None and done < self.total else ""
        errors = f" ({self.errored} errored)" if self.errored else ""
        return f"{done}/{self.total} trials done{errors}, {format_duration(self.elapsed_s)} elapsed{left}"

    def emit(self, line: str) -> None:
        """Print a line and note when (for the heartbeat)."""
        self.last_line = self.clock()
        self.echo(line)

    def heartbeat(self, running: int) -> None:
        """Print how many trials run, if no line was printed for ``heartbeat_s`` seconds."""
        if self.heartbeat_s > 0 and self.clock() - self.last_line >= self.heartbeat_s:
            self.emit(f"  ... {running} trial(s) running; {self.summary()}")


class TrialProgress(Callback):
    """A Tune callback that prints one line per finished trial, with the counts and time left.

    Built by :meth:`Progress.callback`; built directly (``TrialProgress(metric, total)``), it
    keeps a :class:`Progress` of its own for one run.

    Args:
        metric: The metric to show.
        total: The number of trials of the run (ignored with ``progress``).
        mode: ``"max"`` or ``"min"``: which value is the best so far (None: no best shown).
        progress: The command's progress, shared by its runs.
        label: Names the run in each line (e.g. ``run 2/6``).
    """

    def __init__(
        self,
        metric: str,
        total: int,
        *,
        mode: str | None = None,
        progress: Progress | None = None,
        label: str = "",
    ) -> None:
        self.metric = metric
        self.progress = progress or Progress(metric, mode, total)
        self.mode, self.label = self.progress.mode, label
        self.done, self.best = 0, math.nan

    def _better(self, value: float) -> bool:
        if math.isnan(value) or self.mode is None:
            return False
        if math.isnan(self.best):
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Print the trial's last value of the metric, the run's best so far and the counts."""
        result = trial.last_result or {}
        value = result.get(self.metric, math.nan)
        value = float(value) if isinstance(value, int | float) else math.nan
        if self._better(value):
            self.best = value
        self.done += 1
        self.progress.done += 1
        where = f"[{self.label}] " if self.label else ""
        best = f", best {self.best:.4f}" if self.mode is not None else ""
        self.progress.emit(
            f"  {where}{trial.trial_id}: {self.metric}={value:.4f} after "
            f"{result.get('training_iteration', 0)} epoch(s){best} | {self.progress.summary()}"
        )

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Count an errored trial as done and say so."""
        self.done += 1
        self.progress.done += 1
        self.progress.errored += 1
        where = f"[{self.label}] " if self.label else ""
        self.progress.emit(f"  {where}{trial.trial_id}: errored | {self.progress.summary()}")

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        """Between results: a heartbeat line if nothing was printed for a while."""
        self.progress.heartbeat(sum(1 for t in trials if getattr(t, "status", None) == "RUNNING"))


class BenchProgress:
    """Lines for ``meta-tune bench``: what is being prepared, then runs done of all.

    Args:
        metric: The metric to show.
        every_s: At most one run line this often (the first and the last always print).
        echo: Prints a line (default: to stderr).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __init__(
        self,
        metric: str,
        *,
        every_s: float = 10.0,
        echo: Echo = _stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metric, self.every_s, self.echo, self.clock = metric, every_s, echo, clock
        self.started = self.phase_started = clock()
        self.last_line = -math.inf

    def phase(self, message: str) -> None:
        """Say what the benchmark does next (fitting the prior, the runs, ...)."""
        self.phase_started = self.clock()
        self.echo(f"  {message} ({format_duration(self.phase_started - self.started)} elapsed)")

    def run_done(self, run: RunDone) -> None:
        """A run finished: print a line if it is the first, the last or ``every_s`` passed.

        The time left is estimated from the runs' own time (since the last phase began), not
        from the preparation before them.
        """
        now = self.clock()
        if run.done not in (1, run.total) and now - self.last_line < self.every_s:
            return
        self.last_line = now
        eta = time_left(now - self.phase_started, run.done, run.total)
        left = f", ~{format_duration(eta)} left" if eta is not None and run.done < run.total else ""
        self.echo(
            f"  [{run.done}/{run.total} runs] {run.method} on task {run.task} seed {run.seed}: best "
            f"{self.metric} {run.best:.4g} in {run.trials} trials | "
            f"{format_duration(now - self.started)} elapsed{left}"
        )
