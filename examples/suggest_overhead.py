"""How long suggest() takes, for meta-tune's searchers against HyperOptSearch, on rbv2_xgboost.

The prior is fitted on 97 meta-train tasks x 100 random configs with their runtimes (so the
searchers are cost-aware, as in a benchmark); each searcher then runs
200 sequential trials on a meta-test task and every suggest() and on_trial_complete() call
is timed. Prints a table (milliseconds).
Run: python examples/suggest_overhead.py [YAHPO_DIR] [SEARCHERS], SEARCHERS a comma-separated
subset of PriorSearcher,TransferBOSearcher,HyperOptSearch (default: all three). Without
YAHPO_DIR the data comes from $MT_YAHPO_DIR, else ../shared/data/yahpo (see
meta_tune.bench.find_yahpo_dir).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from ray.tune.search.hyperopt import HyperOptSearch

import meta_tune.priors
from meta_tune.bench import TaskObjective, load_scenario, meta_split, random_history
from meta_tune.searchers import PriorSearcher, TransferBOSearcher


def timings(searcher: object, objective: TaskObjective, space: dict, metric: str, n: int) -> dict[str, float]:
    searcher.set_search_properties(metric, "max", space, num_samples=n)  # type: ignore[attr-defined]
    suggest, complete = [], []
    for i in range(n):
        start = time.perf_counter()
        config = searcher.suggest(f"t{i}")  # type: ignore[attr-defined]
        suggest.append(time.perf_counter() - start)
        last = objective(config)[-1]
        result = {**last, "training_iteration": 1, "time_total_s": last["runtime"]}
        start = time.perf_counter()
        searcher.on_trial_complete(f"t{i}", result)  # type: ignore[attr-defined]
        complete.append(time.perf_counter() - start)
    s, c = np.array(suggest) * 1e3, np.array(complete) * 1e3
    return {
        "suggest median": np.median(s),
        "suggest p99": np.percentile(s, 99),
        "suggest max": np.max(s),
        "complete median": np.median(c),
        "complete p99": np.percentile(c, 99),
    }


def main(
    data_dir: str | None = None,
    n: int = 200,
    searchers: str = "PriorSearcher,TransferBOSearcher,HyperOptSearch",
) -> pd.DataFrame:
    scenario = load_scenario("rbv2_xgboost", data_dir)
    split = meta_split(scenario)
    history = random_history(scenario, list(split.train), n_per_task=100, seed=0)
    history = history[[c for c in history.columns if c not in scenario.metrics or c == "acc"]]
    history = history.rename(columns={"runtime": "runtime_s"})  # the cost model learns from it
    prior = meta_tune.priors.fit(history, space=scenario.param_space(), metric="acc", mode="max")
    objective = TaskObjective(scenario, split.test[0])
    space, flat = scenario.param_space(), scenario.param_space(conditional=False)
    builders = {
        "PriorSearcher": lambda: (PriorSearcher(prior=prior, seed=0), space),
        "TransferBOSearcher": lambda: (TransferBOSearcher(prior=prior, seed=0), space),
        "HyperOptSearch": lambda: (HyperOptSearch(random_state_seed=0), flat),
    }
    rows = {}
    for name in searchers.split(","):
        searcher, param_space = builders[name]()
        rows[name] = timings(searcher, objective, param_space, "acc", n)
    table = pd.DataFrame(rows).T.round(2)
    print(f"{len(split.train)} training tasks, {n} target trials (milliseconds per call):")
    print(table.to_string())
    return table


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) > 1:
        main(args[0], searchers=args[1])
    else:
        main(args[0] if args else None)
