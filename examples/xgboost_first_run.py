"""A first XGBoost tuning run that learns from YAHPO Gym's 119 tasks: meta-tune's shipped prior.

Three modes:

- ``python examples/xgboost_first_run.py``: an existing Tune XGBoost run (the user's own train
  function and search space, in XGBClassifier's names) with ``PriorSearcher`` fed the shipped
  prior; prints the best config (about a minute on 2 CPUs).
- ``python examples/xgboost_first_run.py compare [--seeds 5] [--trials 50] [--jobs 2]``: on each
  task of the tabular family (scikit-learn's iris, wine, breast_cancer, digits), the shipped-prior
  searcher against HyperOpt (and Optuna's TPE, and XGBoost's defaults), 5 seeds: trials and
  wall-clock to reach HyperOpt's 50-trial best validation accuracy. The prior leaves out
  YAHPO's copies of the tuned data (wdbc = breast_cancer, optdigits ~ digits).
- ``python examples/xgboost_first_run.py yahpo [--model xgboost] [--tasks 20] [--seeds 5]``: on
  the prior's YAHPO scenario, leave-one-task-out: the shipped prior refitted without the test
  task against HyperOpt, on the surrogate; regret after 1/5/10/20/50 trials.

Tables are printed as Markdown (docs/shipped_priors.md holds the measured ones).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from ray import tune

# The user's search space, in their own (XGBClassifier's) names.
SPACE = {
    "learning_rate": tune.loguniform(1e-3, 0.5),
    "max_depth": tune.randint(2, 13),
    "subsample": tune.uniform(0.5, 1.0),
    "colsample_bytree": tune.uniform(0.3, 1.0),
    "reg_lambda": tune.loguniform(1e-3, 100.0),
    "min_child_weight": tune.loguniform(1.0, 100.0),
    "n_estimators": tune.lograndint(10, 1001),
}
# The shipped prior's (xgboost.train's) name -> the user's; the other names are the same.
NAMES = {"eta": "learning_rate", "lambda": "reg_lambda", "num_boost_round": "n_estimators"}
# YAHPO's rbv2 tasks are OpenML data ids: 1510 is wdbc (= load_breast_cancer), 28 optdigits (load_digits'
# source). A fair first-run comparison leaves them out of the prior.
SEEN = {"breast_cancer": ["1510"], "digits": ["28"], "iris": [], "wine": []}
TASKS = ["iris", "wine", "breast_cancer", "digits"]
PORTFOLIO: list[str] = []  # compare --portfolio trials: the prior's portfolio chosen per trial


def train_xgboost(config: dict[str, Any]) -> None:
    """The user's existing Tune trainable: XGBoost with early stopping on a validation split."""
    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    dtrain, dval = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_val, label=y_val)
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1,
              "eta": config["learning_rate"], "max_depth": config["max_depth"],
              "subsample": config["subsample"], "colsample_bytree": config["colsample_bytree"],
              "lambda": config["reg_lambda"], "min_child_weight": config["min_child_weight"]}
    booster = xgb.train(params, dtrain, num_boost_round=config["n_estimators"], evals=[(dval, "val")],
                        early_stopping_rounds=20, verbose_eval=False)
    predicted = booster.predict(dval, iteration_range=(0, booster.best_iteration + 1)) > 0.5
    tune.report({"accuracy": float(np.mean(predicted == y_val)), "rounds": booster.best_iteration + 1})


def first_run(samples: int = 12, storage_path: str | None = None) -> tuple[float, dict[str, Any]]:
    """The README's first run: the shipped prior dropped into the Tune run above.

    Returns the best validation accuracy and its config (and prints them). The prior's refit
    for SPACE takes a few seconds the first time and is cached for the next run.
    """
    import meta_tune.priors
    from meta_tune.searchers import PriorSearcher

    prior = meta_tune.priors.shipped("xgboost", space=SPACE, names=NAMES)
    tuner = tune.Tuner(
        train_xgboost,
        param_space=SPACE,
        tune_config=tune.TuneConfig(metric="accuracy", mode="max", num_samples=samples,
                                    search_alg=PriorSearcher(prior=prior, seed=0), reuse_actors=True),
        run_config=tune.RunConfig(verbose=0, storage_path=storage_path),
    )
    best = tuner.fit().get_best_result()
    print(f"best validation accuracy {best.metrics['accuracy']:.4f} with {best.config}")
    return float(best.metrics["accuracy"]), dict(best.config)


# ------------------------------------------------------------------------- compare
def _evaluate(task: str, seed: int) -> Callable[[dict[str, Any]], float]:
    """A config in the user's names -> validation accuracy of the tabular family's XGBoost."""
    from meta_tune.trainables.tabular import TabularJob

    back = {user: library for library, user in NAMES.items()}

    def evaluate(config: dict[str, Any]) -> float:
        library = {back.get(k, k): v for k, v in config.items()}
        job = TabularJob({"model": "xgboost", **library, "task": task, "epochs": 1, "seed": seed})
        return float(job.train_epoch(0)["accuracy"])

    return evaluate


def _searcher(method: str, seed: int, task: str) -> tuple[Any, float]:
    """A fresh searcher on SPACE and the seconds it took to build (the prior's refit included)."""
    start = time.perf_counter()
    if method == "prior":
        import meta_tune.priors
        from meta_tune.searchers import PriorSearcher

        options = {"portfolio_objective": PORTFOLIO[0]} if PORTFOLIO else {}
        prior = meta_tune.priors.shipped("xgboost", space=SPACE, names=NAMES, exclude=SEEN[task], **options)
        searcher: Any = PriorSearcher(prior=prior, seed=seed)
        searcher.set_search_properties("accuracy", "max", SPACE)
    elif method == "hyperopt":
        from ray.tune.search.hyperopt import HyperOptSearch

        searcher = HyperOptSearch(SPACE, metric="accuracy", mode="max", random_state_seed=seed)
    else:
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed)
        searcher = OptunaSearch(SPACE, metric="accuracy", mode="max", sampler=sampler)
    return searcher, time.perf_counter() - start


def _trace(
    method: str, task: str, seed: int, trials: int, stop_at: float | None = None
) -> list[tuple[float, float]]:
    """(accuracy, seconds since the start) per trial; stops early once ``stop_at`` is reached."""
    evaluate = _evaluate(task, seed)
    searcher, elapsed = _searcher(method, seed, task)
    trace = []
    for i in range(trials):
        start = time.perf_counter()
        config = searcher.suggest(f"t{i}")
        accuracy = evaluate(config)
        seconds = time.perf_counter() - start
        searcher.on_trial_complete(f"t{i}", {"accuracy": accuracy, "time_total_s": seconds,
                                             "training_iteration": 1})
        elapsed += time.perf_counter() - start
        trace.append((accuracy, elapsed))
        if stop_at is not None and accuracy >= stop_at:
            break
    return trace


def _reach(trace: list[tuple[float, float]], target: float) -> tuple[float, float]:
    """(trials, seconds) until the trace first reaches ``target``; NaN if it never does."""
    for i, (accuracy, seconds) in enumerate(trace):
        if accuracy >= target - 1e-12:
            return float(i + 1), seconds
    return float("nan"), float("nan")


def _one_seed(
    task: str, seed: int, trials: int, optuna: bool, portfolio: str | None = None
) -> dict[str, Any]:
    import torch

    PORTFOLIO[:] = [portfolio] if portfolio else []
    torch.set_num_threads(1)  # TabularJob gives XGBoost torch's thread count: one core per process
    hyperopt = _trace("hyperopt", task, seed, trials)
    target = max(a for a, _ in hyperopt)
    row: dict[str, Any] = {"task": task, "seed": seed, "target": target}
    row["hyperopt_trials"], row["hyperopt_s"] = _reach(hyperopt, target)
    prior = _trace("prior", task, seed, trials, stop_at=target)
    row["prior_trials"], row["prior_s"] = _reach(prior, target)
    row["prior_best5"] = max(a for a, _ in prior[:5])
    row["hyperopt_best5"] = max(a for a, _ in hyperopt[:5])
    if optuna:
        tpe = _trace("optuna", task, seed, trials, stop_at=target)
        row["optuna_trials"], row["optuna_s"] = _reach(tpe, target)
    defaults = {"learning_rate": 0.3, "max_depth": 6, "subsample": 1.0, "colsample_bytree": 1.0,
                "reg_lambda": 1.0, "min_child_weight": 1.0, "n_estimators": 100}  # XGBClassifier's
    row["defaults"] = _evaluate(task, seed)(defaults)
    return row


def compare(
    seeds: int, trials: int, jobs: int, *, optuna: bool, out: str | None = None, portfolio: str | None = None
) -> pd.DataFrame:
    """Per task and seed: HyperOpt's best after ``trials`` and what the others need to reach it.

    Each (task, seed) row is printed as it finishes (and, with ``out``, the CSV rewritten).
    """
    runs = [(task, seed, trials, optuna, portfolio) for task in TASKS for seed in range(seeds)]
    rows = []
    with ProcessPoolExecutor(jobs) as pool:
        for row in pool.map(_one_seed, *zip(*runs)):
            rows.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
            if out:
                pd.DataFrame(rows).to_csv(out, index=False)
    frame = pd.DataFrame(rows)
    columns = {
        "target": "HyperOpt's best (mean)",
        "hyperopt_trials": "HyperOpt: trials to it",
        "hyperopt_s": "HyperOpt: s to it",
        "prior_trials": "shipped prior: trials",
        "prior_s": "shipped prior: s",
        "prior_best5": "shipped prior: best of 5",
        "hyperopt_best5": "HyperOpt: best of 5",
        "defaults": "XGBoost defaults",
        **({"optuna_trials": "Optuna TPE: trials", "optuna_s": "Optuna TPE: s"} if optuna else {}),
    }
    summary = frame.groupby("task", sort=False)[list(columns)].mean().rename(columns=columns)
    reached = frame.groupby("task", sort=False)["prior_trials"].apply(lambda s: f"{s.notna().sum()}/{len(s)}")
    summary.insert(3, "shipped prior: seeds reaching it", reached)
    print(markdown(frame.round(4)))
    print()
    print(markdown(summary.round(3).reset_index()))
    return frame


# ------------------------------------------------------------------------- yahpo
def yahpo(n_tasks: int, seeds: int, trials: int, model: str = "xgboost") -> pd.DataFrame:
    """Leave-one-task-out on the model's scenario: the prior without the test task vs HyperOpt."""
    from ray.tune.search.hyperopt import HyperOptSearch

    import meta_tune.priors
    from meta_tune.bench import load_scenario
    from meta_tune.priors._shipped import MODELS
    from meta_tune.searchers import PriorSearcher
    from meta_tune.space import SearchSpace

    spec = MODELS[model]
    scenario = load_scenario(spec.scenario)
    space = spec.space()
    tasks = list(scenario.tasks)[:: max(1, len(scenario.tasks) // n_tasks)][:n_tasks]
    rows = []
    for task in tasks:
        prior = meta_tune.priors.shipped(model, exclude=[task])
        # The task's best and worst over 2,000 random configs normalize the regret.
        reference = SearchSpace.from_tune(space).sample(np.random.default_rng(123), 2000)
        results = scenario.evaluate(task, [spec.to_source(c) for c in reference])
        accs = [r[spec.source_metric] * spec.metric_scale for r in results]
        lo, hi = min(accs), max(accs)
        for seed in range(seeds):
            for method in ("prior", "hyperopt"):
                searcher: Any = (PriorSearcher(prior=prior, seed=seed) if method == "prior"
                                 else HyperOptSearch(metric="accuracy", mode="max", random_state_seed=seed))
                searcher.set_search_properties("accuracy", "max", space)
                best, elapsed = -np.inf, 0.0
                for i in range(trials):
                    config = searcher.suggest(f"t{i}")
                    result = scenario.evaluate(task, [spec.to_source(config)])[0]
                    elapsed += result["runtime"]
                    accuracy = result[spec.source_metric] * spec.metric_scale
                    best = max(best, accuracy)
                    searcher.on_trial_complete(f"t{i}", {"accuracy": accuracy,
                                                         "time_total_s": result["runtime"],
                                                         "training_iteration": 1})
                    if i + 1 in (1, 5, 10, 20, 50, trials):
                        rows.append({"task": task, "seed": seed, "method": method, "trials": i + 1,
                                     "regret": max(0.0, (hi - best) / max(hi - lo, 1e-12)),
                                     "simulated_s": elapsed})
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(index="method", columns="trials", values="regret", aggfunc="mean")
    print(f"{spec.scenario}, leave-one-task-out, {len(tasks)} tasks x {seeds} seeds: mean normalized regret")
    print(markdown(table.round(4).reset_index()))
    return frame


def markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join("-" if pd.isna(v) else str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([head, rule, *rows])


def main() -> None:
    """Parse the mode and run it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "compare", "yahpo"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--datasets", default=",".join(TASKS), help="compare: the tabular tasks.")
    parser.add_argument("--no-optuna", action="store_true")
    parser.add_argument("--portfolio", choices=["time", "trials"], default=None,
                        help="compare: the prior's portfolio objective [default: time].")
    parser.add_argument("--model", default="xgboost", help="yahpo: xgboost, decision_tree or mlp.")
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--out", default=None, help="Also write the per-seed rows to this CSV.")
    args = parser.parse_args()
    logging.basicConfig(level="WARNING")
    TASKS[:] = args.datasets.split(",")
    if args.mode == "run":
        first_run(args.samples)
        return
    if args.mode == "compare":
        frame = compare(args.seeds, args.trials, args.jobs, optuna=not args.no_optuna, out=args.out,
                        portfolio=args.portfolio)
    else:
        frame = yahpo(args.tasks, args.seeds, args.trials, args.model)
    if args.out:
        frame.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
