"""Hypervolume of multi-objective searchers on YAHPO rbv2 tasks: random, NSGA-II, MOTPE, ParetoSearcher.

For each scenario and objective pair (accuracy against training time or memory), the
history is 100 random configs on each meta-train task (``random_history``); ParetoSearcher's
Pareto portfolio and its prior (on accuracy, for the let-go rule) are fitted on it once.
Every method then runs a sequential suggest/complete loop of 100 trials on each meta-test
task (``TaskObjective``, no Ray cluster), and the hypervolume of the configs tried so far is
read at 10, 25, 50 and 100 trials.

Hypervolume: per task, 1,000 uniform random configs fix, for each objective, its best and
its worst value; time and memory are compared on a log scale; each objective is scaled so
that the random sample's best is 0 and its worst is 1, and the reference point is the worst,
(1, 1). A hypervolume of 1 is the whole box between the random sample's ideal and nadir
points (a front better than the sample's best can exceed it). The table shows the mean over
tasks and seeds.

Peers are Ray Tune's ``OptunaSearch`` with Optuna's ``NSGAIISampler`` (default population
of 50) and ``TPESampler`` (MOTPE when given several objectives) over the flat space; random
search draws uniform configs. Run:

    python examples/multi_objective_bench.py --seeds 5 [--tasks 8] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

import meta_tune.priors
from meta_tune.bench import TaskObjective, load_scenario, meta_split, random_history
from meta_tune.bench._scenario import Scenario
from meta_tune.priors import hypervolume, pareto_portfolio
from meta_tune.searchers import ParetoSearcher, ParetoSearcherConfig
from meta_tune.space import SearchSpace

BUDGETS = (10, 25, 50, 100)
PAIRS = (("acc", "timetrain"), ("acc", "memory"))
LOG_SCALED = {"timetrain", "memory", "timepredict"}
METHODS = ("random", "nsga2", "motpe", "pareto")


class Scale:
    """A task's objectives mapped to [0, 1] by a random sample: 0 its best, 1 its worst (minimizing)."""

    def __init__(self, scenario: Scenario, task: str, metrics: tuple[str, ...], n: int = 1000) -> None:
        self.metrics = metrics
        self.modes = [scenario.mode(m) for m in metrics]
        configs = SearchSpace.from_tune(scenario.param_space()).sample(np.random.default_rng(12345), n)
        raw = self.oriented(scenario.evaluate(task, configs))
        self.best, self.worst = raw.min(axis=0), raw.max(axis=0)

    def oriented(self, results: list[dict[str, Any]]) -> np.ndarray:
        rows = []
        for r in results:
            row = []
            for m, mode in zip(self.metrics, self.modes):
                v = float(r[m])
                v = np.log(max(v, 1e-12)) if m in LOG_SCALED else v
                row.append(v if mode == "min" else -v)
            rows.append(row)
        return np.asarray(rows)

    def hypervolumes(self, results: list[dict[str, Any]]) -> list[float]:
        scaled = (self.oriented(results) - self.best) / np.maximum(self.worst - self.best, 1e-12)
        return [hypervolume(scaled[:b], np.ones(len(self.metrics))) for b in BUDGETS]


def loop(searcher: Any, objective: TaskObjective, n: int) -> list[dict[str, Any]]:
    """Tune's sequential loop: suggest, evaluate, complete."""
    results = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        (result,) = objective(config)
        searcher.on_trial_complete(f"t{i}", {**result, "training_iteration": 1})
        results.append(result)
    return results


def optuna_peer(kind: str, scenario: Scenario, metrics: tuple[str, ...], seed: int) -> Any:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler = (
        optuna.samplers.NSGAIISampler(seed=seed) if kind == "nsga2" else optuna.samplers.TPESampler(seed=seed)
    )
    return OptunaSearch(
        space=scenario.param_space(conditional=False),
        metric=list(metrics),
        mode=[scenario.mode(m) for m in metrics],
        sampler=sampler,
    )


def build(
    method: str,
    scenario: Scenario,
    metrics: tuple[str, ...],
    seed: int,
    *,
    prior: meta_tune.priors.Prior,
    portfolio: list[dict[str, Any]],
) -> Any:
    """A fresh searcher of ``method`` for one run."""
    if method.startswith("pareto"):  # pareto_nsga2: NSGA-II after the portfolio
        modes = [scenario.mode(m) for m in metrics]
        config = ParetoSearcherConfig(continuation="nsga2" if method == "pareto_nsga2" else "motpe")
        return ParetoSearcher(
            prior=prior, portfolio=portfolio, metric=list(metrics), mode=modes, seed=seed, config=config
        )
    return optuna_peer(method, scenario, metrics, seed)


def _tasks(test: list[str], args: argparse.Namespace, scenario: str) -> list[str]:
    """The meta-test tasks to run: ``--task-ids`` (meta-test tasks all), else the first ``--tasks``."""
    if args.task_ids is None:
        return test[: args.tasks]
    listed = [t.strip() for t in args.task_ids.split(",") if t.strip()]
    unknown = [t for t in listed if t not in test]
    if unknown:
        raise SystemExit(f"--task-ids {unknown} are not meta-test tasks of {scenario}; they are {test}")
    return listed


def markdown(table: pd.DataFrame) -> str:
    """The table as a Markdown table (index columns first)."""
    head = [*table.index.names, *[str(c) for c in table.columns]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for index, row in table.iterrows():
        cells = [*index, *[f"{v:.3f}" for v in row]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def summary(frame: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Mean hypervolume per scenario, objectives and method (rows) and budget (columns)."""
    table = frame.pivot_table(
        index=["scenario", "objectives", "method"], columns="trials", values="hv", aggfunc="mean"
    )
    return table.reindex(methods, level="method")


def main() -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="rbv2_xgboost,rbv2_rpart")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed+seeds-1"
    )
    parser.add_argument("--tasks", type=int, default=None, help="the first N meta-test tasks (default: all)")
    parser.add_argument("--task-ids", default=None, help="instead: these meta-test tasks, comma-separated")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING)
    methods = args.methods.split(",")
    rows = []
    for name in args.scenarios.split(","):
        scenario = load_scenario(name, args.data_dir)
        split = meta_split(scenario)
        space = scenario.param_space()
        history = random_history(scenario, list(split.train), n_per_task=100, seed=0)
        tasks = _tasks(list(split.test), args, name)
        for metrics in PAIRS:
            modes = [scenario.mode(m) for m in metrics]
            start = time.perf_counter()
            keep = [c for c in history.columns if c not in (*scenario.metrics, "runtime") or c in metrics]
            frame = history[keep].copy()
            frame.attrs["metrics"] = list(metrics)
            prior = meta_tune.priors.fit(frame, space=space, metric=metrics[0], mode=modes[0])
            portfolio = pareto_portfolio(
                frame, SearchSpace.from_tune(space), metrics=metrics, modes=modes, size=20
            )
            fit_s = time.perf_counter() - start
            for task in tasks:
                scale = Scale(scenario, task, metrics)
                objective = TaskObjective(scenario, task)
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    for method in methods:
                        if method == "random":
                            configs = SearchSpace.from_tune(space).sample(
                                np.random.default_rng([seed, 7]), args.trials
                            )
                            results = scenario.evaluate(task, configs)
                        else:
                            searcher = build(
                                method, scenario, metrics, seed, prior=prior, portfolio=portfolio
                            )
                            if method.startswith("pareto"):
                                searcher.set_search_properties(None, None, space, num_samples=args.trials)
                            results = loop(searcher, objective, args.trials)
                        for budget, hv in zip(BUDGETS, scale.hypervolumes(results)):
                            rows.append(
                                {
                                    "scenario": name,
                                    "objectives": f"{metrics[0]} max, {metrics[1]} min",
                                    "method": method,
                                    "task": task,
                                    "seed": seed,
                                    "trials": budget,
                                    "hv": hv,
                                }
                            )
            print(f"{name} {metrics}: prior and Pareto portfolio fitted in {fit_s:.1f} s", flush=True)
            print(markdown(summary(pd.DataFrame(rows), methods)), flush=True)
    frame = pd.DataFrame(rows)
    table = summary(frame, methods)
    n_tasks = frame.groupby(["scenario"])["task"].nunique().to_dict()
    print(
        f"Mean hypervolume over tasks {n_tasks} x {args.seeds} seeds "
        "(1 = the random sample's ideal-nadir box):"
    )
    print(markdown(table))
    return frame


if __name__ == "__main__":
    main()
