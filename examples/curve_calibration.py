"""How well meta-tune's CurvePredictor predicts where lcbench learning curves end.

Fits the predictor on the whole curves of 100 random configs on each of lcbench's 29
meta-train tasks, then scores it on 100 random configs on each of the 5 meta-test tasks: the
coverage of its 80% intervals for the final (epoch 52) validation accuracy, their width and
the error of the median, by prefix length, beside the parametric power-law fallback that uses
no history. Also prints the ASHA settings choose_asha learns from the same curves.
Run: python examples/curve_calibration.py [YAHPO_DIR]; without YAHPO_DIR the data comes from
$MT_YAHPO_DIR, else ../shared/data/yahpo (see meta_tune.bench.find_yahpo_dir).
"""

from __future__ import annotations

import sys

import pandas as pd

from meta_tune.bench import load_scenario, meta_split, random_curves
from meta_tune.schedulers import CurvePredictor, choose_asha


def main(data_dir: str | None = None) -> pd.DataFrame:
    scenario = load_scenario("lcbench", data_dir)
    split = meta_split(scenario)
    metric = scenario.default_metric
    train = random_curves(scenario, list(split.train), n_per_task=100, seed=0, metric=metric)
    test = random_curves(scenario, list(split.test), n_per_task=100, seed=1, metric=metric)
    prefixes = [1, 2, 4, 8, 13, 26, 39, 51]
    learned = CurvePredictor.fit(train, metric=metric, mode="max").calibration(test, prefixes=prefixes)
    fallback = CurvePredictor.parametric(metric=metric, mode="max", max_t=52)
    parametric = fallback.calibration(test, prefixes=prefixes)
    table = learned.merge(parametric, on=["prefix", "n"], suffixes=("", "_parametric"))
    print(f"lcbench {metric} at epoch 52, {len(split.train)} meta-train -> {len(split.test)} meta-test tasks")
    print(table.round(3).to_string(index=False))
    choice = choose_asha(train, metric=metric, mode="max")
    print("\nchoose_asha:", choice.explain())
    print(choice.candidates.round(3).to_string())
    return table


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
