"""TransferBOSearcher: acquisitions, RGPE and copula transfer, failures, fidelities and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ray import tune
from ray.tune.search import Searcher

import meta_tune.priors
from meta_tune.bench._methods import MethodContext, get_methods
from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.searchers import TransferBOConfig, TransferBOSearcher
from meta_tune.space import SearchSpace
from meta_tune.testing import SearcherContract
from tests.priors.test_prior import SPACE, loss, make_history
from tests.searchers.test_prior_tpe import CONDITIONAL_SPACE, conditional_loss, conditional_prior  # noqa: F401


@pytest.fixture(scope="module")
def unrelated() -> meta_tune.priors.Prior:
    """The related family with its metric negated: every task is best where the target is worst."""
    history = make_history(seed=1)
    return meta_tune.priors.fit(history.assign(acc=-history["acc"]), space=SPACE, metric="acc", mode="max")


def searcher(prior: meta_tune.priors.Prior, seed: int = 0, **options: Any) -> TransferBOSearcher:
    options.setdefault("max_portfolio", 0)
    bo = TransferBOSearcher(prior=prior, seed=seed, config=TransferBOConfig(**options))
    assert bo.set_search_properties("acc", "max", dict(SPACE))
    return bo


def run(bo: Searcher, n: int, *, start: int = 0, optimum: float = 0.7) -> list[dict[str, Any]]:
    """n sequential trials on the synthetic target (accuracy 1 - loss)."""
    configs = []
    for i in range(start, start + n):
        config = bo.suggest(f"t{i}")
        configs.append(config)
        bo.on_trial_complete(f"t{i}", {"acc": 1 - loss(config, optimum), "training_iteration": 1})
    return configs


class TestTransferBOCopulaThompsonContract(SearcherContract):
    """The contract again through the other transfer and the sampling acquisition."""

    @pytest.fixture(autouse=True)
    def _prior(self, contract_prior: meta_tune.priors.Prior) -> None:
        self.prior = contract_prior

    def make(self, **kwargs: Any) -> Searcher:
        config = TransferBOConfig(transfer="copula", acquisition="thompson")
        return TransferBOSearcher(prior=self.prior, config=config, **kwargs)


def test_proposals_concentrate_in_the_region_the_related_tasks_share(related: meta_tune.priors.Prior) -> None:
    late = [c for seed in range(3) for c in run(searcher(related, seed), 15)[2:]]
    near = np.mean([abs(c["x"] - 0.7) < 0.15 for c in late])
    tanh = np.mean([c["act"] == "tanh" for c in late])
    good_lr = np.mean([1e-3 < c["lr"] < 1e-1 for c in late])
    assert near > 0.7 and tanh > 0.7 and good_lr > 0.7, (near, tanh, good_lr)  # uniform: 0.3, 0.33, 0.5


@pytest.mark.parametrize("transfer", ["rgpe", "copula"])
@pytest.mark.parametrize("acquisition", ["ei", "pi", "ucb", "thompson"])
def test_every_acquisition_and_transfer_finds_the_optimum(
    related: meta_tune.priors.Prior, acquisition: str, transfer: str
) -> None:
    configs = run(searcher(related, 1, acquisition=acquisition, transfer=transfer), 20)
    space = SearchSpace.from_tune(SPACE)
    assert all(space.check(c) is None for c in configs)
    assert len({tuple(sorted(c.items())) for c in configs}) == 20
    # Twenty uniform trials reach 0.10 on average.
    assert min(loss(c) for c in configs) < 0.02


def test_an_unrelated_history_loses_its_weight_to_the_target(
    related: meta_tune.priors.Prior, unrelated: meta_tune.priors.Prior
) -> None:
    bo = searcher(unrelated)
    before = bo.ensemble_weights()
    assert before.none == 0.0 and before.tasks.sum() == pytest.approx(1.0)
    target_share = {"related": [], "unrelated": []}
    for seed in range(3):
        for name, prior in (("related", related), ("unrelated", unrelated)):
            bo = searcher(prior, seed)
            run(bo, 10)
            weights = bo.ensemble_weights()
            assert weights.tasks.sum() + weights.none == pytest.approx(1.0)
            target_share[name].append(weights.none)
    assert np.mean(target_share["unrelated"]) > 0.9, target_share
    assert np.mean(target_share["related"]) < 0.7, target_share


def test_the_copula_prior_mean_is_scaled_away_when_the_history_is_unrelated(
    related: meta_tune.priors.Prior, unrelated: meta_tune.priors.Prior
) -> None:
    shares = {}
    for name, prior in (("related", related), ("unrelated", unrelated)):
        bo = searcher(prior, 2, transfer="copula")
        run(bo, 10)
        shares[name] = bo.ensemble_weights().none
    assert shares["unrelated"] > 0.9 and shares["related"] < 0.5, shares


@pytest.mark.parametrize("transfer", ["rgpe", "copula"])
def test_a_target_unlike_its_history_is_still_optimized(
    related: meta_tune.priors.Prior, transfer: str
) -> None:
    # Every training task is best at x = 0.7; this target's optimum is at x = 0.1.
    best = [
        min(loss(c, 0.1) for c in run(searcher(related, s, transfer=transfer), 30, optimum=0.1))
        for s in range(2)
    ]
    assert np.mean(best) < 0.05, best  # thirty uniform trials reach 0.08 on average


def test_failed_trials_count_as_worse_than_every_finished_one(related: meta_tune.priors.Prior) -> None:
    # The right half of x fails: the searcher learns to stay left of it, near the boundary.
    bo = searcher(related, 0)
    configs = []
    for i in range(25):
        config = bo.suggest(f"t{i}")
        configs.append(config)
        if config["x"] > 0.5:
            bo.on_trial_complete(f"t{i}", error=True)
        else:
            bo.on_trial_complete(f"t{i}", {"acc": 1 - loss(config), "training_iteration": 1})
    late = configs[-10:]
    assert np.mean([c["x"] <= 0.5 for c in late]) >= 0.7, [round(c["x"], 2) for c in late]
    assert max(c["x"] for c in configs if c["x"] <= 0.5) > 0.4


def test_the_gp_models_the_highest_fidelity_reached_by_enough_trials(related: meta_tune.priors.Prior) -> None:
    # Trials stopped early report the opposite of their final value; once five trials have
    # reached the full fidelity (3), the GP leaves the stopped ones out.
    bo = searcher(related, 0, min_fidelity_points=5)
    configs = []
    for i in range(30):
        config = bo.suggest(f"t{i}")
        configs.append(config)
        value = loss(config)
        if i % 3 == 2 or i < 5:
            bo.on_trial_complete(f"t{i}", {"acc": 1 - value, "training_iteration": 3})
        else:
            bo.on_trial_complete(f"t{i}", {"acc": value, "training_iteration": 1})
    assert bo.incumbent() is not None and bo.incumbent().iteration == 3
    late = configs[-10:]
    assert np.mean([abs(c["x"] - 0.7) < 0.15 for c in late]) > 0.6, [round(c["x"], 2) for c in late]


@pytest.mark.parametrize(("transfer", "acquisition"), [("rgpe", "ei"), ("copula", "thompson")])
def test_a_resumed_run_continues_exactly_like_an_uninterrupted_one(
    related: meta_tune.priors.Prior, tmp_path: Path, transfer: str, acquisition: str
) -> None:
    def fresh() -> TransferBOSearcher:
        config = TransferBOConfig(max_portfolio=3, transfer=transfer, acquisition=acquisition)
        return TransferBOSearcher(prior=related, seed=5, config=config)

    original = fresh()
    original.set_search_properties("acc", "max", dict(SPACE))
    run(original, 13)  # past the portfolio, weights and hyperparameters fitted several times
    pending = [original.suggest("p0"), original.suggest("p1")]
    original.save(str(tmp_path / "state.pkl"))
    restored = fresh()
    restored.restore(str(tmp_path / "state.pkl"))
    for bo in (original, restored):
        for trial_id, config in zip(("p0", "p1"), pending):
            bo.on_trial_complete(trial_id, {"acc": 1 - loss(config), "training_iteration": 1})
    assert run(restored, 10, start=20) == run(original, 10, start=20)
    assert np.array_equal(restored.ensemble_weights().tasks, original.ensemble_weights().tasks)


def test_points_to_evaluate_then_the_portfolio_then_bayesian_optimization(
    related: meta_tune.priors.Prior,
) -> None:
    point = {"x": 0.5, "lr": 0.001, "act": "relu", "layers": 2}
    bo = TransferBOSearcher(
        prior=related, points_to_evaluate=[point], config=TransferBOConfig(max_portfolio=3)
    )
    bo.set_search_properties("acc", "max", dict(SPACE))
    first = run(bo, 8)
    assert first[0] == {**point, "epochs": 5}
    assert first[1] == related.portfolio[0]
    # From two finished trials on, the GP decides: the rest of the portfolio are candidates.
    assert bo.remaining_portfolio() == [c for c in related.portfolio[1:3] if c not in first]
    assert all(c not in first[:2] for c in first[2:])
    assert len({str(c) for c in first}) == len(first)


def test_the_portfolio_competes_in_the_acquisition_once_the_gp_takes_over(
    related: meta_tune.priors.Prior,
) -> None:
    """A portfolio config the GP rates best is suggested by the acquisition, and only once."""
    config = TransferBOConfig(max_portfolio=16, xi=0.0, uniform_slot=None)
    bo = TransferBOSearcher(prior=related, config=config, seed=1)
    bo.set_search_properties("acc", "max", dict(SPACE))
    first = run(bo, 12)
    assert first[:2] == related.portfolio[:2]
    served = [c for c in first[2:] if c in related.portfolio]
    assert served and all(c not in bo.remaining_portfolio() for c in served)


@pytest.mark.parametrize("transfer", ["rgpe", "copula"])
def test_conditional_parameters_appear_only_where_active(
    conditional_prior: meta_tune.priors.Prior,  # noqa: F811
    transfer: str,
) -> None:
    space = SearchSpace.from_tune(CONDITIONAL_SPACE)
    bo = TransferBOSearcher(prior=conditional_prior, seed=0, config=TransferBOConfig(transfer=transfer))
    bo.set_search_properties("loss", "min", dict(CONDITIONAL_SPACE), num_samples=25)
    configs = []
    for i in range(25):
        config = bo.suggest(f"t{i}")
        configs.append(config)
        bo.on_trial_complete(f"t{i}", {"loss": conditional_loss(config), "training_iteration": 1})
    for config in configs:
        assert space.check(config) is None, config
        assert ("momentum" in config["opt"]) == (config["opt"]["name"] == "sgd")
    assert min(conditional_loss(c) for c in configs) < 0.02


def test_bad_settings_and_an_incompatible_prior_are_refused(related: meta_tune.priors.Prior) -> None:
    with pytest.raises(
        InvalidConfigError, match=r"acquisition='lcb' is not one of \['ei', 'pi', 'ucb', 'thompson'\]"
    ):
        TransferBOConfig(acquisition="lcb")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"transfer='tst' is not one of \['rgpe', 'copula'\]"):
        TransferBOConfig(transfer="tst")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"max_task_points=1 is out of range"):
        TransferBOConfig(max_task_points=1)
    with pytest.raises(InvalidConfigError, match=r"local_scale=0 is out of range"):
        TransferBOConfig(local_scale=0)
    with pytest.raises(InvalidConfigError, match="n_random, n_prior and n_local are all 0"):
        TransferBOConfig(n_random=0, n_prior=0, n_local=0)
    with pytest.raises(InvalidConfigError, match=r"prior must be a meta_tune\.priors\.Prior, got str"):
        TransferBOSearcher(prior="prior.json")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"config must be a TransferBOConfig, got dict"):
        TransferBOSearcher(prior=related, config={"acquisition": "ei"})  # type: ignore[arg-type]
    other = {**SPACE, "momentum": tune.uniform(0, 1)}
    with pytest.raises(IncompatibleSearchSpaceError, match=r"missing from the prior \['momentum'\]"):
        TransferBOSearcher(other, prior=related, metric="acc", mode="max")


def test_the_benchmark_runs_it_as_transfer_bo(related: meta_tune.priors.Prior) -> None:
    (method,) = get_methods("transfer_bo")
    assert method.transfer and not method.flat
    context = MethodContext(param_space=SPACE, flat_space=SPACE, seed=3, num_trials=10, prior=related)
    assert isinstance(method.build(context), TransferBOSearcher)
