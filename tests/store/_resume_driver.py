"""A Tune driver that a test kills with SIGKILL and starts again: it resumes its run each time.

Run from the repository root (``python -m tests.store._resume_driver ...``). It connects to the
Ray cluster at ``--address``, starts the run ``--name`` under ``--root`` or resumes it
(``meta_tune.tuning.restore_or_start``), records every trial with ``StoreCallback`` and, when
the run ends, writes Tune's view of every trial to ``<root>/<name>.tune.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from ray import tune

SPACE = {
    "x": tune.uniform(0.0, 1.0),
    "lr": tune.loguniform(1e-4, 1.0),
    "act": tune.choice(["relu", "tanh", "gelu"]),
    "model": {"layers": tune.randint(1, 9)},
    "epochs": 3,
    "sleep": 0.12,
}


def tiny(config: dict[str, Any]) -> None:
    """Reports a score each epoch; configs with x > 0.9 fail in their second epoch."""
    for epoch in range(1, config["epochs"] + 1):
        time.sleep(config["sleep"])
        if epoch == 2 and config["x"] > 0.9:
            raise ValueError("x is too large")
        score = 1 - 3 * (config["x"] - 0.7) ** 2 - (math.log10(config["lr"]) + 2) ** 2 / 8
        tune.report({"score": score * epoch / config["epochs"], "extra": {"epoch": epoch}})


def history() -> Any:
    """A small seeded tuning history of related tasks for the prior searcher."""
    import numpy as np
    import pandas as pd

    from meta_tune.space import SearchSpace, flatten

    rng = np.random.default_rng(0)
    space = SearchSpace.from_tune(SPACE)
    rows = []
    for task in range(4):
        for config in space.sample(rng, 25):
            score = 1 - 3 * (config["x"] - 0.68) ** 2 - (math.log10(config["lr"]) + 2) ** 2 / 8
            rows.append({"task": f"t{task}", **flatten(config), "score": score + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def searcher(name: str, seed: int) -> Any:
    from ray.tune.search import ConcurrencyLimiter

    if name == "random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        return BasicVariantGenerator(random_state=seed, max_concurrent=2)
    if name == "hyperopt":
        from ray.tune.search.hyperopt import HyperOptSearch

        return ConcurrencyLimiter(HyperOptSearch(random_state_seed=seed), max_concurrent=2)
    import meta_tune.priors
    from meta_tune.searchers import PriorSearcher

    prior = meta_tune.priors.fit(history(), space=SPACE, metric="score", mode="max", portfolio_size=4)
    return ConcurrencyLimiter(PriorSearcher(prior=prior, seed=seed), max_concurrent=2)


def main() -> None:
    import ray

    from meta_tune.store import StoreCallback, restore_or_start

    parser = argparse.ArgumentParser()
    for option in ("--root", "--name", "--store", "--searcher", "--address"):
        parser.add_argument(option, required=True)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.root)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("meta_tune").addHandler(handler)
    logging.getLogger("meta_tune").setLevel(logging.INFO)
    logging.getLogger("meta_tune").info("driver of %s started", args.name)
    ray.init(address=args.address, log_to_driver=False, configure_logging=False)

    # A quarter CPU per trial: three drivers share the test's 2-CPU cluster, 2 trials each.
    trainable = tune.with_resources(tiny, {"cpu": 0.25})

    def start() -> tune.Tuner:
        return tune.Tuner(
            trainable,
            param_space=SPACE,
            tune_config=tune.TuneConfig(
                metric="score",
                mode="max",
                num_samples=args.samples,
                search_alg=searcher(args.searcher, args.seed),
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=args.name,
                storage_path=str(root),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
                callbacks=[StoreCallback(args.store, task=args.name, metric="score", mode="max")],
            ),
        )

    tuner = restore_or_start(root / args.name, trainable, start=start)
    logging.getLogger("meta_tune").info("fit")
    grid = tuner.fit()
    trials = [
        {
            "trial_id": t.trial_id,
            "status": t.status,
            "config": t.config,
            "score": (t.last_result or {}).get("score"),
            "iteration": (t.last_result or {}).get("training_iteration"),
        }
        for t in grid._experiment_analysis.trials
    ]
    out = root / f"{args.name}.tune.json"
    out.with_suffix(".tmp").write_text(json.dumps(trials))
    out.with_suffix(".tmp").replace(out)


if __name__ == "__main__":
    main()
