"""The demo's tables and plot agree: one best-so-far step function over every seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meta_tune.tuning._compare import (
    RANGE_LABEL,
    best_at_seconds,
    comparison_figure,
    comparison_tables,
    seeds_with_result,
    write_tables,
)


def _runs() -> pd.DataFrame:
    """Prior: seed 0 finishes a good trial at 1 s, seeds 1 and 2 their first (worse) ones at 5 s."""
    rows = []
    timelines = {
        ("prior", 0): [(1.0, 0.9), (6.0, 0.9)],
        ("prior", 1): [(5.0, 0.5), (8.0, 0.7)],
        ("prior", 2): [(5.0, 0.5), (9.0, 0.6)],
        ("hyperopt", 0): [(2.0, 0.6), (7.0, 0.8)],
        ("hyperopt", 1): [(2.0, 0.4), (7.0, 0.5)],
        ("hyperopt", 2): [(3.0, 0.7), (10.0, 0.7)],
    }
    for (searcher, seed), points in timelines.items():
        for n, (t, best) in enumerate(points, start=1):
            rows.append({"searcher": searcher, "seed": seed, "n": n, "finished_s": t, "best": best})
    return pd.DataFrame(rows)


def test_a_mean_needs_every_seed_so_the_row_never_falls() -> None:
    runs = _runs()
    budgets = [1.5, 5.0, 8.0, 10.0]
    table = best_at_seconds(runs, budgets)
    # At 1.5 s only prior's seed 0 is done: no mean (before: 0.9, which then fell to 0.63).
    assert np.isnan(table.loc["prior", "2 s"])
    assert table.loc["prior"].iloc[1:].tolist() == pytest.approx([(0.9 + 0.5 + 0.5) / 3, (0.9 + 0.7 + 0.5) / 3,
                                                                  (0.9 + 0.7 + 0.6) / 3])  # fmt: skip
    assert table.loc["prior"].dropna().is_monotonic_increasing
    counts = seeds_with_result(runs, budgets)
    assert counts.loc["prior"].tolist() == [1, 3, 3, 3]
    assert counts.loc["hyperopt"].tolist() == [0, 3, 3, 3]


def test_labels_of_short_budgets_stay_apart() -> None:
    assert list(best_at_seconds(_runs(), [0.25, 0.5, 1.2, 12.0]).columns) == [
        "0.25 s",
        "0.5 s",
        "1 s",
        "12 s",
    ]


def test_the_plot_draws_the_tables_numbers() -> None:
    pytest.importorskip("matplotlib")
    runs = _runs()
    fig = comparison_figure(runs, "accuracy", "image/digits")
    ax_n, ax_t = fig.axes
    lines = ax_t.get_lines()
    assert [line.get_label() for line in lines] == ["prior", "hyperopt"]
    for line in lines:
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata(), dtype=float)
        assert line.get_drawstyle() == "steps-post"
        table = best_at_seconds(runs, list(x)).loc[line.get_label()].to_numpy(dtype=float)
        np.testing.assert_array_equal(y, table)
        # Nothing is drawn before every seed has a finished trial (prior: 5 s), then all of it is.
        start = {"prior": 5.0, "hyperopt": 3.0}[line.get_label()]
        assert np.isnan(y[x < start]).all() and not np.isnan(y[x >= start]).any()
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["prior", "hyperopt", RANGE_LABEL]
    assert "3 seed(s)" in legend.get_title().get_text()
    assert fig.get_suptitle() == "image/digits"
    assert ax_n.get_title() and ax_t.get_title() and "wall-clock" in ax_t.get_xlabel()
    assert len(ax_n.collections) == len(ax_t.collections) == 2  # one band per searcher and panel


def test_tables_are_saved_as_csv_and_markdown(tmp_path: Path) -> None:
    tables = comparison_tables(_runs(), metric="accuracy", mode="max", trial_budgets=[1, 2],
                               seconds=[1.5, 10.0])  # fmt: skip
    assert [t.name for t in tables] == ["best_after_trials", "best_after_seconds", "trials_to_reach"]
    paths = write_tables(tables, tmp_path / "demo")
    assert sorted(p.name for p in paths) == sorted(f"{t.name}.{ext}" for t in tables for ext in ("csv", "md"))
    seconds = pd.read_csv(tmp_path / "demo" / "best_after_seconds.csv")
    assert list(seconds.columns) == ["seconds", "prior", "prior seeds", "hyperopt", "hyperopt seeds"]
    assert seconds["prior seeds"].tolist() == [1, 3] and np.isnan(seconds.loc[0, "prior"])
    markdown = (tmp_path / "demo" / "best_after_seconds.md").read_text().splitlines()
    assert markdown[0] == tables[1].caption and "every seed" in markdown[0]
    assert markdown[2] == "| seconds | prior | prior seeds | hyperopt | hyperopt seeds |"
    assert markdown[4] == "| 1.5 | - | 1 | - | 0 |"
    trials = pd.read_csv(tmp_path / "demo" / "best_after_trials.csv")
    assert trials.set_index("searcher").loc["hyperopt", "2 trials"] == pytest.approx((0.8 + 0.5 + 0.7) / 3)


def test_the_demos_prior_learns_from_runs_of_its_own_length_when_the_store_has_them(tmp_path: Path) -> None:
    from meta_tune import trainables
    from meta_tune.store import Store
    from meta_tune.tuning._compare import held_out_history

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    for family in ("image", "image@e2"):
        for task in ("digits", "mnist5k"):
            store.create_task(f"{family}/{task}", family=family, metric="accuracy", mode="max")
            store.record_trial(f"{family}/{task}", "t0", config={"lr": 0.1}, status="TERMINATED",
                               metrics={"accuracy": 0.5})
    image = trainables.get("image")
    assert set(held_out_history(store, image, "digits")["task"]) == {"image/mnist5k"}
    assert set(held_out_history(store, image, "digits", epochs=2)["task"]) == {"image@e2/mnist5k"}
    # No history of that length: the standard one, still without the held-out task.
    assert set(held_out_history(store, image, "digits", epochs=3)["task"]) == {"image/mnist5k"}
