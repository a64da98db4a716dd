"""Load a YAHPO Gym scenario and evaluate its surrogate with onnxruntime."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from meta_tune._imports import require
from meta_tune.bench._data_dir import DATA_SOURCE as _DATA_SOURCE
from meta_tune.bench._data_dir import find_yahpo_dir
from meta_tune.bench._scenarios import OUTPUT_RANGES, SCENARIOS, ScenarioInfo
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

RUNTIME_KEY = "runtime"
DATA_FILES = ("config_space.json", "encoding.json", "model.onnx")

_NA = "#na#"
# Tolerance of the bound checks, relative to the width of the range: config_space.json
# stores bounds such as 0.00010000000000000009, and a config at 1e-4 is meant to be valid.
_BOUND_TOL = 1e-9


@dataclass(frozen=True)
class _Hyper:
    """One hyperparameter of config_space.json (search, fidelity or task parameter)."""

    name: str
    kind: Literal["float", "int", "cat"]
    lower: float = 0.0
    upper: float = 0.0
    log: bool = False
    choices: tuple[str, ...] = ()
    parent: str | None = None
    parent_values: frozenset[str] = frozenset()


def load_scenario(name: str, data_dir: str | os.PathLike[str] | None = None) -> Scenario:
    """Load one YAHPO Gym scenario (its search space and its surrogate model).

    The ONNX session is created on the first evaluation and kept; loading the same
    scenario from the same folder again returns the same object.

    Args:
        name: One of ``"rbv2_xgboost"``, ``"rbv2_rpart"``, ``"lcbench"``, ``"iaml_glmnet"``.
        data_dir: The folder that holds one sub-folder per scenario (the root of the
            ``yahpo_data`` v1.0.2 release). Defaults to the environment variable
            ``MT_YAHPO_DIR``, then ``../shared/data/yahpo`` (see :func:`find_yahpo_dir`).

    Returns:
        The scenario.

    Raises:
        InvalidConfigError: The name is unknown, no data folder is given, or a data file
            is missing or does not match the layout meta-tune expects; the message names
            the file and says where the data comes from.

    Example:
        >>> scenario = load_scenario("lcbench")  # doctest: +SKIP
        >>> scenario.evaluate("167168", [{"batch_size": 64, "learning_rate": 0.01,
        ...     "momentum": 0.9, "weight_decay": 1e-4, "num_layers": 2, "max_units": 256,
        ...     "max_dropout": 0.1}])[0]["val_accuracy"]  # doctest: +SKIP
        75.515...
    """
    if name not in SCENARIOS:
        raise InvalidConfigError(f"Unknown YAHPO scenario {name!r}. meta-tune supports {sorted(SCENARIOS)}.")
    root = find_yahpo_dir(data_dir)
    key = (name, root)
    with _LOADED_LOCK:
        scenario = _LOADED.get(key)
        if scenario is None:
            scenario = Scenario(SCENARIOS[name], data_dir=root)
            _LOADED[key] = scenario
    return scenario


_LOADED: dict[tuple[str, Path], Scenario] = {}
_LOADED_LOCK = threading.Lock()


class Scenario:
    """A YAHPO Gym scenario: tasks, a Tune search space and a batched surrogate objective.

    Get one with :func:`load_scenario`. Each task (an OpenML task id, as a string) is one
    tuning problem; every task shares the search space of :meth:`param_space`. Evaluations
    run at the maximal fidelity unless told otherwise (``trainsize=1`` for ``rbv2_*`` and
    ``iaml_glmnet``, ``epoch=52`` for ``lcbench``); the ``rbv2_*`` repetition ``repl`` is
    always 10. Outputs are clipped to their valid range (scores to ``[0, 1]``, lcbench's
    ``val_accuracy`` to ``[0, 100]`` percent, times to at least 1 ms) and the simulated
    cost of the evaluation, in seconds, is repeated under the key ``"runtime"``.

    Configs may be nested as Tune produces them from :meth:`param_space` (``rbv2_xgboost``
    nests its booster-dependent parameters under ``"booster"``), flattened with ``"/"``
    (``meta_tune.space.flatten``), or flat with YAHPO's own names: only the last part of
    each key counts. Values of parameters that are inactive in a config (``eta`` when the
    booster is ``gblinear``) are ignored, as YAHPO does.

    Example:
        >>> from meta_tune.bench import load_scenario
        >>> scenario = load_scenario("rbv2_xgboost")  # doctest: +SKIP
        >>> space = scenario.param_space()  # doctest: +SKIP
        >>> results = scenario.evaluate("1489", [config_a, config_b])  # doctest: +SKIP
        >>> results[0]["acc"], results[0]["runtime"]  # doctest: +SKIP
        (0.87..., 12.3...)

    References:
        Pfisterer, Schneider, Moosbauer, Binder, Bischl. "YAHPO Gym - An Efficient
        Multi-Objective Multi-Fidelity Benchmark for Hyperparameter Optimization".
        AutoML Conference 2022.
    """

    def __init__(self, info: ScenarioInfo, *, data_dir: Path) -> None:
        self._info = info
        self._dir = data_dir / info.name
        for file in DATA_FILES:
            if not (self._dir / file).is_file():
                hint = ""
                if (data_dir / file).is_file():
                    hint = f" {str(data_dir)!r} looks like one scenario's folder; pass its parent."
                raise InvalidConfigError(
                    f"The YAHPO data of scenario {info.name!r} is incomplete: "
                    f"{str(self._dir / file)!r} is missing.{hint} {_DATA_SOURCE}"
                )
        self._hypers = _read_config_space(self._dir / "config_space.json", info)
        self._encoding = _read_encoding(self._dir / "encoding.json", info, self._hypers)
        self._task_codes = {t: self._encoding[info.instance_param][t] for t in info.tasks}

        fixed = dict(info.fixed_fidelity)
        self._fidelity_params = tuple(p for p in info.fidelity_params if p not in fixed)
        self._max_fidelity: dict[str, float | int] = {
            p: _native(self._hypers[p], self._hypers[p].upper) for p in self._fidelity_params
        }
        self._fixed_fidelity: dict[str, float | int] = fixed

        not_search = {info.instance_param, *info.fidelity_params}
        # Parents before children, so a child's activity is known when it is encoded.
        search = [self._hypers[n] for n in (*info.x_cont, *info.x_cat) if n not in not_search]
        self._search = sorted(search, key=lambda h: _depth(h, self._hypers))
        self._known = frozenset(h.name for h in self._search)
        self._cont_index = {n: i for i, n in enumerate(info.x_cont)}
        self._cat_index = {n: i for i, n in enumerate(info.x_cat)}
        # For each conditional parameter: is it active, indexed by the parent's integer code.
        self._active_by_code: dict[str, np.ndarray] = {}
        for h in self._search:
            if h.parent is not None:
                parent_codes = self._encoding[h.parent]
                table = np.zeros(max(parent_codes.values()) + 1, bool)
                table[[parent_codes[v] for v in h.parent_values]] = True
                self._active_by_code[h.name] = table
        self._checked_bounds = {
            h.name: (h.lower - _BOUND_TOL * (h.upper - h.lower), h.upper + _BOUND_TOL * (h.upper - h.lower))
            for h in self._search
            if h.kind != "cat"
        }
        self._lower = np.array([OUTPUT_RANGES[o][0] for o in info.outputs])
        self._upper = np.array([OUTPUT_RANGES[o][1] for o in info.outputs])
        self._runtime_col = info.outputs.index(info.runtime_output)
        self._session: Any = None
        self._session_lock = threading.Lock()
        self._model_sha256: str | None = None

    # ------------------------------------------------------------------ description
    @property
    def name(self) -> str:
        """The scenario name, e.g. ``"rbv2_xgboost"``."""
        return self._info.name

    @property
    def data_dir(self) -> Path:
        """The folder of this scenario's data files."""
        return self._dir

    @property
    def tasks(self) -> tuple[str, ...]:
        """The task ids (OpenML task ids as strings), in YAHPO's order."""
        return self._info.tasks

    @property
    def metrics(self) -> tuple[str, ...]:
        """The surrogate's outputs, in the model's order (``"runtime"`` is added to results)."""
        return self._info.outputs

    @property
    def default_metric(self) -> str:
        """The metric the benchmark tunes by default (``acc``, ``val_accuracy``, ``mmce``)."""
        return self._info.default_metric

    @property
    def runtime_metric(self) -> str:
        """The output that is the simulated cost of an evaluation in seconds."""
        return self._info.runtime_output

    @property
    def fidelity_params(self) -> tuple[str, ...]:
        """The fidelity parameters one may set in ``evaluate(..., fidelity=...)``."""
        return self._fidelity_params

    @property
    def max_fidelity(self) -> dict[str, float | int]:
        """The fidelity used when none is given: each fidelity parameter at its maximum."""
        return dict(self._max_fidelity)

    @property
    def model_sha256(self) -> str:
        """The SHA-256 of ``model.onnx``, identifying the surrogate (e.g. in caches)."""
        if self._model_sha256 is None:
            self._model_sha256 = hashlib.sha256((self._dir / "model.onnx").read_bytes()).hexdigest()
        return self._model_sha256

    def mode(self, metric: str) -> Literal["min", "max"]:
        """Whether ``metric`` is minimized (``"min"``) or maximized (``"max"``), as in Tune."""
        self._check_metric(metric)
        return "min" if metric in self._info.minimize else "max"

    def metric_range(self, metric: str) -> tuple[float, float]:
        """The valid range of ``metric``; surrogate outputs are clipped into it."""
        self._check_metric(metric)
        return OUTPUT_RANGES[metric]

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, tasks={len(self.tasks)}, data_dir={str(self._dir)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its files on unpickling (the ONNX session cannot be pickled).
        return (load_scenario, (self.name, self._dir.parent))

    # ------------------------------------------------------------------ search space
    def param_space(self, *, conditional: bool = True) -> dict[str, Any]:
        """The Tune ``param_space`` of the scenario's hyperparameters.

        Log-scaled parameters use ``tune.loguniform``/``tune.lograndint``; integer upper
        bounds are inclusive in YAHPO and passed to Tune as ``upper + 1``. The task id and
        the fidelity parameters are not part of the space. A parameter that is active only
        for some values of a categorical parent is nested in a ``tune.choice`` over dicts,
        one dict per parent value, holding the parent's value under its own name; for
        ``rbv2_xgboost``::

            {"nrounds": ..., "alpha": ..., "lambda": ..., "subsample": ...,
             "num.impute.selected.cpo": tune.choice([...]),
             "booster": tune.choice([
                 {"booster": "gblinear"},
                 {"booster": "gbtree", "eta": ..., "gamma": ..., "max_depth": ...,
                  "min_child_weight": ..., "colsample_bytree": ..., "colsample_bylevel": ...},
                 {"booster": "dart", <the gbtree parameters>, "rate_drop": ..., "skip_drop": ...},
             ])}

        so a config flattens to ``booster/booster``, ``booster/eta``, ... (the gbtree and dart
        parameters with identical ranges share one name in ``meta_tune.space``).

        Tune's random search and meta-tune's searchers read this conditional space. Tune's
        converters for HyperOpt, Optuna and Nevergrad do not accept a parameter that sits in
        several categories of one choice (HyperOpt raises ``DuplicateLabel``); give them
        ``conditional=False``: one flat dict holding every parameter, whose values
        :meth:`evaluate` ignores where they are inactive.

        Args:
            conditional: Nest conditional parameters as above (True) or list every
                parameter at the top level (False). The same for scenarios without
                conditions.

        Returns:
            A fresh dict of Tune domains.
        """
        from ray import tune

        def domain(h: _Hyper) -> Any:
            if h.kind == "cat":
                return tune.choice(list(h.choices))
            lower, upper = _tidy(h.lower), _tidy(h.upper)
            if h.kind == "int":
                return (tune.lograndint if h.log else tune.randint)(int(lower), int(upper) + 1)
            return (tune.loguniform if h.log else tune.uniform)(lower, upper)

        children: dict[str, list[_Hyper]] = {}
        for h in self._search:
            if h.parent is not None:
                children.setdefault(h.parent, []).append(h)

        if not conditional:
            return {h.name: domain(h) for h in self._search}

        def node(h: _Hyper) -> Any:
            kids = children.get(h.name)
            if not kids:
                return domain(h)
            return tune.choice(
                [
                    {h.name: value, **{k.name: node(k) for k in kids if value in k.parent_values}}
                    for value in h.choices
                ]
            )

        return {h.name: node(h) for h in self._search if h.parent is None}

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        task: str | int,
        configs: Sequence[Mapping[str, Any]],
        fidelity: Mapping[str, float] | None = None,
    ) -> list[dict[str, float]]:
        """Predict the metrics and the simulated runtime of configs on one task.

        All configs go to the surrogate in one batch; one config costs ~0.1 ms.

        Args:
            task: The task id (an element of :attr:`tasks`; an int is accepted).
            configs: The configs (see the class docstring for the accepted shapes).
            fidelity: Values of some :attr:`fidelity_params`, e.g. ``{"epoch": 10}`` or
                ``{"trainsize": 0.25}``; the others stay at :attr:`max_fidelity`.

        Returns:
            One dict per config: every output of :attr:`metrics`, clipped to its valid
            range, and ``"runtime"``, the simulated cost in seconds.

        Raises:
            InvalidConfigError: The task, a config or the fidelity is not valid; the
                message names the config's index and the parameter.
        """
        clipped = self._evaluate_array(task, configs, fidelity)
        names = (*self._info.outputs, RUNTIME_KEY)
        rows = np.concatenate([clipped, clipped[:, [self._runtime_col]]], axis=1).tolist()
        return [dict(zip(names, row)) for row in rows]

    def curve(self, task: str | int, configs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Predict the whole learning curve (every epoch) of configs on one task.

        Only for scenarios with an ``epoch`` fidelity (``lcbench``). One surrogate call
        covers every config and epoch. Row ``epoch == e`` equals ``evaluate(task, [config],
        {"epoch": e})``; ``runtime`` is the cumulative time to train up to that epoch (the
        surrogate predicts it per epoch, so it may dip slightly from one epoch to the next;
        a replay should wait ``max(0, difference)``).

        Args:
            task: The task id.
            configs: The configs.

        Returns:
            A long DataFrame with columns ``config`` (the index into ``configs``),
            ``epoch`` (1, 2, ...), every output of :attr:`metrics`, and ``runtime``.

        Raises:
            InvalidConfigError: The scenario has no epoch fidelity, or a config or the task
                is not valid.
        """
        import pandas as pd

        if "epoch" not in self._fidelity_params:
            raise InvalidConfigError(
                f"Scenario {self.name!r} has no learning curves: its fidelity is "
                f"{self._fidelity_params}, not 'epoch'. Use evaluate(task, configs, "
                "fidelity=...) for single fidelity values, or a scenario such as 'lcbench'."
            )
        code = self._task_code(task)
        x_cat, x_cont = self._encode(configs)
        n = len(x_cat)
        epochs = np.arange(1, int(self._max_fidelity["epoch"]) + 1)
        x_cat = np.repeat(x_cat, len(epochs), axis=0)
        x_cont = np.repeat(x_cont, len(epochs), axis=0)
        x_cont[:, self._cont_index["epoch"]] = np.tile(epochs, n)
        fidelity = self._fidelity_columns(None, skip=("epoch",))
        clipped = self._clip(self._predict(code, x_cat, x_cont, fidelity))
        columns: dict[str, Any] = {
            "config": np.repeat(np.arange(n), len(epochs)),
            "epoch": np.tile(epochs, n),
        }
        columns.update({name: clipped[:, j] for j, name in enumerate(self._info.outputs)})
        columns[RUNTIME_KEY] = clipped[:, self._runtime_col]
        return pd.DataFrame(columns)

    # ------------------------------------------------------------------ package internals
    def _encode(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Encode configs as the surrogate's inputs (task and fidelity columns left at 0).

        Args:
            configs: The configs.

        Returns:
            ``(x_cat, x_cont)``: int32 codes from encoding.json (``"#na#"`` for inactive
            categoricals) and float32 raw values (0 for inactive numerics), columns in the
            model's input order.

        Raises:
            InvalidConfigError: A config is not valid.
        """
        if isinstance(configs, Mapping) or not isinstance(configs, Sequence):
            raise InvalidConfigError(
                f"configs must be a list of config dicts, got {type(configs).__name__}; "
                "wrap a single config as [config]."
            )
        n = len(configs)
        leaves = [self._leaves(config, i) for i, config in enumerate(configs)]
        x_cat = np.zeros((n, len(self._info.x_cat)), np.int32)
        x_cont = np.zeros((n, len(self._info.x_cont)), np.float32)
        codes: dict[str, np.ndarray] = {}
        for h in self._search:
            column = [leaf.get(h.name) for leaf in leaves]
            # None: every config has the parameter active (no parent), the common case.
            active = None if h.parent is None else self._active_by_code[h.name][codes[h.parent]]
            if any(v is None for v in column):
                missing = np.fromiter((v is None for v in column), bool, n)
                bad = missing if active is None else missing & active
                if bad.any():
                    self._raise_missing(h, int(np.argmax(bad)), configs)
            if h.kind == "cat":
                code = self._categorical_column(h, column, active, configs)
                codes[h.name] = code
                x_cat[:, self._cat_index[h.name]] = code
            else:
                x_cont[:, self._cont_index[h.name]] = self._numeric_column(h, column, active, configs)
        return x_cat, x_cont

    def _raise_missing(self, h: _Hyper, i: int, configs: Sequence[Mapping[str, Any]]) -> None:
        why = "" if h.parent is None else f" (active when {h.parent} is in {sorted(h.parent_values)})"
        raise InvalidConfigError(
            f"Config {i} of {self.name} has no value for {h.name!r}{why}. Config: {configs[i]!r}"
        )

    def _categorical_column(
        self, h: _Hyper, column: list[Any], active: np.ndarray | None, configs: Sequence[Mapping[str, Any]]
    ) -> np.ndarray:
        mapping = self._encoding[h.name]
        code = np.fromiter(
            (mapping.get(v, -1) if isinstance(v, str) else -1 for v in column), np.int32, len(column)
        )
        bad = code < 0 if active is None else active & (code < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidConfigError(
                f"Config {i} of {self.name} has {h.name}={column[i]!r}; the choices are "
                f"{list(h.choices)}. Config: {configs[i]!r}"
            )
        if active is not None:
            code[~active] = mapping[_NA]
        return code

    def _numeric_column(
        self, h: _Hyper, column: list[Any], active: np.ndarray | None, configs: Sequence[Mapping[str, Any]]
    ) -> np.ndarray:
        try:
            values = np.array(column, dtype=np.float64)
        except (TypeError, ValueError):  # None (inactive) or not a number
            values = np.array([0.0 if v is None else _to_float(v) for v in column])
        if values.ndim != 1:
            values = np.array([_to_float(v) for v in column])
        lower, upper = self._checked_bounds[h.name]
        if active is not None:
            values[~active] = 0.0
        inside = (values >= lower) & (values <= upper)
        if not inside.all():
            bad = ~inside if active is None else active & ~inside
            if bad.any():
                i = int(np.argmax(bad))
                raise InvalidConfigError(
                    f"Config {i} of {self.name} has {h.name}={_config_value(configs[i], h.name)!r}; "
                    f"it must be a number in [{h.lower:.6g}, {h.upper:.6g}]. Config: {configs[i]!r}"
                )
        return values

    def _leaves(self, config: Any, index: int) -> dict[str, Any]:
        if not isinstance(config, Mapping):
            raise InvalidConfigError(
                f"Config {index} is a {type(config).__name__}, not a dict of parameter values: {config!r}"
            )
        leaves: dict[str, Any] = {}
        _collect_leaves(config, leaves, index)
        if not leaves.keys() <= self._known:
            unknown = sorted(leaves.keys() - self._known)
            raise InvalidConfigError(self._unknown_message(unknown, index, config))
        return leaves

    def _unknown_message(self, unknown: list[str], index: int, config: Mapping[str, Any]) -> str:
        fidelity = [u for u in unknown if u in self._info.fidelity_params]
        if fidelity:
            return (
                f"Config {index} of {self.name} sets the fidelity parameter(s) {fidelity}; pass "
                f"them as evaluate(task, configs, fidelity={{...}}) instead (settable: "
                f"{list(self._fidelity_params)}; fixed: {self._fixed_fidelity}). Config: {config!r}"
            )
        if self._info.instance_param in unknown:
            return (
                f"Config {index} of {self.name} sets the task id {self._info.instance_param!r}; "
                f"pass the task as the first argument of evaluate instead. Config: {config!r}"
            )
        return (
            f"Config {index} of {self.name} has unknown parameter(s) {unknown}; the parameters "
            f"are {sorted(self._known)}. Config: {config!r}"
        )

    def _task_code(self, task: str | int) -> int:
        code = self._task_codes.get(str(task))
        if code is None:
            raise InvalidConfigError(
                f"Unknown task {task!r} for scenario {self.name!r}; its {len(self.tasks)} tasks "
                f"are OpenML task ids such as {list(self.tasks[:5])} (see Scenario.tasks)."
            )
        return code

    def _check_metric(self, metric: str) -> None:
        if metric not in self._info.outputs:
            raise InvalidConfigError(
                f"Unknown metric {metric!r} for scenario {self.name!r}; its metrics are "
                f"{list(self._info.outputs)}."
            )

    def _fidelity_columns(
        self, fidelity: Mapping[str, float] | None, *, skip: tuple[str, ...] = ()
    ) -> dict[int, float]:
        if fidelity is not None and not isinstance(fidelity, Mapping):
            raise InvalidConfigError(
                f"fidelity must be a dict such as {self._max_fidelity}, got {type(fidelity).__name__}."
            )
        values: dict[str, float] = {**self._max_fidelity, **self._fixed_fidelity}
        for name, value in (fidelity or {}).items():
            if name not in self._fidelity_params:
                fixed = ""
                if name in self._fixed_fidelity:
                    fixed = f" ({name} is fixed at {self._fixed_fidelity[name]})"
                raise InvalidConfigError(
                    f"{name!r} is not a fidelity parameter of {self.name}{fixed}; the fidelity "
                    f"parameters are {list(self._fidelity_params)}."
                )
            h = self._hypers[name]
            number = _to_float(value)
            if not (h.lower <= number <= h.upper) or (h.kind == "int" and not number.is_integer()):
                kind = "an integer" if h.kind == "int" else "a number"
                raise InvalidConfigError(
                    f"Fidelity {name}={value!r} of {self.name} must be {kind} in [{h.lower:g}, {h.upper:g}]."
                )
            values[name] = number
        return {self._cont_index[k]: v for k, v in values.items() if k not in skip}

    def _get_session(self) -> Any:
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    self._session = _make_session(self._dir / "model.onnx", self._info)
        return self._session

    def _predict(
        self, task_code: int, x_cat: np.ndarray, x_cont: np.ndarray, fidelity: Mapping[int, float]
    ) -> np.ndarray:
        """Run the surrogate; fills the task and fidelity columns in place. Raw float64 outputs."""
        x_cat[:, self._cat_index[self._info.instance_param]] = task_code
        for column, value in fidelity.items():
            x_cont[:, column] = value
        session = self._get_session()
        out = session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]
        return np.asarray(out, dtype=np.float64)

    def _clip(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(raw, self._lower, self._upper)

    def _evaluate_array(
        self, task: str | int, configs: Sequence[Mapping[str, Any]], fidelity: Mapping[str, float] | None
    ) -> np.ndarray:
        code = self._task_code(task)
        columns = self._fidelity_columns(fidelity)
        x_cat, x_cont = self._encode(configs)
        if len(x_cat) == 0:
            return np.zeros((0, len(self._info.outputs)))
        return self._clip(self._predict(code, x_cat, x_cont, columns))


def _config_value(config: Mapping[str, Any], name: str) -> Any:
    """The value of leaf ``name`` in a (possibly nested) config, for error messages."""
    leaves: dict[str, Any] = {}
    try:
        _collect_leaves(config, leaves, 0)
    except InvalidConfigError:
        return None
    return leaves.get(name)


def _collect_leaves(config: Mapping[str, Any], out: dict[str, Any], index: int) -> None:
    for key, value in config.items():
        if isinstance(value, Mapping):
            _collect_leaves(value, out, index)
            continue
        leaf = key.rpartition("/")[2] if isinstance(key, str) else key
        if leaf in out:
            raise InvalidConfigError(
                f"Config {index} gives parameter {leaf!r} twice (keys are matched by their last "
                f"part, here of {key!r}). Config: {config!r}"
            )
        out[leaf] = value


def _depth(h: _Hyper, hypers: Mapping[str, _Hyper]) -> int:
    """How many conditions lie above a hyperparameter (0 for an unconditional one)."""
    depth = 0
    while h.parent is not None:
        depth += 1
        if depth > len(hypers):
            raise InvalidConfigError(f"The conditions of {h.name!r} in config_space.json form a cycle.")
        h = hypers[h.parent]
    return depth


def _to_float(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _tidy(bound: float) -> float:
    """Round a bound to 12 significant digits (0.00010000000000000009 -> 0.0001)."""
    return float(f"{bound:.12g}")


def _native(h: _Hyper, value: float) -> float | int:
    return int(value) if h.kind == "int" else float(value)


def _make_session(path: Path, info: ScenarioInfo) -> Any:
    ort = require("onnxruntime", extra="bench")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape[-1] for i in session.get_inputs()}
    expected = {"x_cat": len(info.x_cat), "x_cont": len(info.x_cont)}
    outputs = session.get_outputs()
    if shapes != expected or len(outputs) != 1 or outputs[0].shape[-1] != len(info.outputs):
        raise InvalidConfigError(
            f"{str(path)!r} does not have the layout of YAHPO Gym v1.0.2's {info.name} surrogate "
            f"(inputs {shapes}, expected {expected}; {outputs[0].shape[-1]} outputs, expected "
            f"{len(info.outputs)}). {_DATA_SOURCE}"
        )
    logger.debug("Loaded the %s surrogate from %s", info.name, path)
    return session


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InvalidConfigError(f"Cannot read {str(path)!r} ({err}). {_DATA_SOURCE}") from err


def _read_config_space(path: Path, info: ScenarioInfo) -> dict[str, _Hyper]:
    data = _read_json(path)
    conditions: dict[str, tuple[str, frozenset[str]]] = {}
    try:
        for cond in data.get("conditions", []):
            if cond["type"] == "EQ":
                conditions[cond["child"]] = (cond["parent"], frozenset({str(cond["value"])}))
            elif cond["type"] == "IN":
                conditions[cond["child"]] = (cond["parent"], frozenset(str(v) for v in cond["values"]))
            else:
                raise InvalidConfigError(
                    f"{str(path)!r} has a condition of type {cond['type']!r}; meta-tune reads only "
                    f"EQ and IN conditions (those of YAHPO Gym v1.0.2). {_DATA_SOURCE}"
                )
        hypers: dict[str, _Hyper] = {}
        for hp in data["hyperparameters"]:
            name = hp["name"]
            parent, values = conditions.get(name, (None, frozenset()))
            if hp["type"] == "categorical":
                hypers[name] = _Hyper(
                    name,
                    "cat",
                    choices=tuple(str(c) for c in hp["choices"]),
                    parent=parent,
                    parent_values=values,
                )
            elif hp["type"] in ("uniform_float", "uniform_int"):
                hypers[name] = _Hyper(
                    name,
                    "float" if hp["type"] == "uniform_float" else "int",
                    lower=float(hp["lower"]),
                    upper=float(hp["upper"]),
                    log=bool(hp.get("log", False)),
                    parent=parent,
                    parent_values=values,
                )
            else:
                raise InvalidConfigError(
                    f"{str(path)!r}: hyperparameter {name!r} has type {hp['type']!r}; meta-tune reads "
                    f"uniform_float, uniform_int and categorical. {_DATA_SOURCE}"
                )
    except (KeyError, TypeError) as err:
        raise InvalidConfigError(
            f"{str(path)!r} is not a ConfigSpace JSON file ({err!r}). {_DATA_SOURCE}"
        ) from err
    needed = [n for n in (*info.x_cat, *info.x_cont) if n != info.instance_param]
    missing = [n for n in needed if n not in hypers]
    if missing:
        raise InvalidConfigError(
            f"{str(path)!r} lacks the hyperparameter(s) {missing} of the {info.name} surrogate. "
            f"{_DATA_SOURCE}"
        )
    for child, (parent, _) in conditions.items():
        if parent not in hypers or hypers[parent].kind != "cat" or child not in hypers:
            raise InvalidConfigError(
                f"{str(path)!r}: the condition of {child!r} refers to {parent!r}, which is not a "
                f"categorical hyperparameter. {_DATA_SOURCE}"
            )
    return hypers


def _read_encoding(path: Path, info: ScenarioInfo, hypers: Mapping[str, _Hyper]) -> dict[str, dict[str, int]]:
    data = _read_json(path)
    for name in info.x_cat:
        mapping = data.get(name) if isinstance(data, Mapping) else None
        values = info.tasks if name == info.instance_param else hypers[name].choices
        if not isinstance(mapping, Mapping) or _NA not in mapping or any(v not in mapping for v in values):
            absent = [v for v in (_NA, *values) if not isinstance(mapping, Mapping) or v not in mapping]
            raise InvalidConfigError(
                f"{str(path)!r} has no integer code for {name}={absent[:5]}. {_DATA_SOURCE}"
            )
    return {name: {str(k): int(v) for k, v in data[name].items()} for name in info.x_cat}
