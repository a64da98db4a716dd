"""Experiment files: one tuning run written down in YAML, checked whole before Ray starts.

An experiment names the trainable (a built-in family and task, or the user's own
``module:function`` with its search space in YAML), the metric and mode (or several of each:
a multi-objective run that looks for their Pareto front), the searcher and
scheduler by their registry names with options, the budget, resources, store and storage
path, and where the prior comes from. :func:`load_experiment` reads a file, applies
command-line overrides and validates everything with one pydantic schema: every problem is one
line that names its place in the file.

A search-space domain in YAML is a mapping with one key, the Tune function's name, holding its
arguments as a list or a mapping: ``{loguniform: [1.0e-4, 0.1]}``, ``{randint: {lower: 1,
upper: 5}}``, ``{choice: [relu, tanh]}``; a ``choice`` over mappings that hold domains is a
conditional sub-space. Anything else is a constant.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import pydantic
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from ray import tune

from meta_tune.errors import InvalidConfigError, MetaTuneError

#: Where Tune writes results and checkpoints unless an experiment says otherwise.
DEFAULT_STORAGE_PATH = Path.home() / ".meta_tune" / "ray_results"

#: Tune's sampling functions an experiment file may name.
DOMAINS: dict[str, Callable[..., Any]] = {
    name: getattr(tune, name)
    for name in (
        "uniform",
        "quniform",
        "loguniform",
        "qloguniform",
        "randn",
        "qrandn",
        "randint",
        "qrandint",
        "lograndint",
        "qlograndint",
        "choice",
        "grid_search",
    )
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainableSection(_Section):
    """What is tuned: a built-in family and task, or the user's ``function`` and ``space``.

    Attributes:
        family: A built-in family (``meta-tune trainables``), or the store family a user
            trainable's runs are recorded under (its prior is learned from that family).
        task: A task of the built-in family (or a path to your data), or the user task's name.
        function: The user's Tune function trainable, ``package.module:function`` or
            ``path/to/file.py:function`` (relative to the experiment file).
        space: The user trainable's search space (domains as in the module docstring).
        epochs: Epochs per trial of a built-in family (default: the family's).
        max_t: Steps (``training_iteration``) of a whole user trial, for schedulers.
        constants: More fixed config keys of a built-in family (``device``, ``data_dir``...).
    """

    family: str
    task: str
    function: str | None = None
    space: dict[str, Any] | None = None
    epochs: int | None = Field(None, ge=1)
    max_t: int | None = Field(None, ge=1)
    constants: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> TrainableSection:
        from meta_tune import trainables

        if self.function is None:
            if self.space is not None or self.max_t is not None:
                raise ValueError(
                    "space and max_t belong to a user trainable (with function: module:function); a built-in "
                    "family has its own space (use epochs for its length)"
                )
            if self.family not in trainables.names():
                raise ValueError(
                    f"unknown built-in family {self.family!r}: choose from {', '.join(trainables.names())}, "
                    "or give function: module:function and space: for your own trainable"
                )
            trainables.get(self.family).check_task(self.task)
        else:
            if self.space is None:
                raise ValueError("a user trainable (function:) needs its search space under space:")
            if self.epochs is not None or self.constants:
                raise ValueError("epochs and constants belong to built-in families; put constants in space:")
        return self

    @field_validator("space")
    @classmethod
    def _space(cls, space: dict[str, Any] | None) -> dict[str, Any] | None:
        if space is not None:
            parse_space(space)
        return space

    @property
    def run_epochs(self) -> int | None:
        """Epochs per trial of a built-in family: ``epochs`` or the family's default (None: a user's)."""
        if self.function is not None:
            return None
        from meta_tune import trainables

        return self.epochs or trainables.get(self.family).epochs

    @property
    def standard_epochs(self) -> bool:
        """Whether trials run as long as the family's history (:func:`history_epochs`)."""
        epochs = self.run_epochs
        return epochs is None or epochs == history_epochs(self.family)

    @property
    def store_family(self) -> str:
        """The store family its trials are recorded in: ``family``, or ``<family>@e<epochs>``.

        Runs of a built-in family with other epochs than its history's (:func:`history_epochs`)
        are kept apart from it (the shipped one included), so that priors and learned stopping
        never mix curves of different lengths; runs of the same length share a family and can
        learn from each other (``prior.family: image@e2``).
        """
        return self.family if self.standard_epochs else f"{self.family}@e{self.run_epochs}"

    @property
    def store_task(self) -> str:
        """The store task its trials are recorded under: ``<store_family>/<task>``."""
        return f"{self.store_family}/{self.task}"


@functools.cache
def history_epochs(family: str) -> int:
    """The epochs per trial of a built-in family's history: its shipped one's, else its default.

    The shipped text, rl and meta histories are shorter than those families' default trials
    (see docs/trainables.md); a run of another length is recorded apart from them.
    """
    from meta_tune import trainables
    from meta_tune.tuning._shipped import shipped_archive

    default = trainables.get(family).epochs
    path = shipped_archive(family)
    if path is None:
        return default
    import pyarrow.compute
    import pyarrow.parquet

    try:
        longest = pyarrow.compute.max(pyarrow.parquet.read_table(path, columns=["training_iteration"])[0])
    except (OSError, KeyError, ValueError, pyarrow.ArrowException):  # read by load_shipped, which says why
        return default
    return int(longest.as_py() or default)


class _Named(_Section):
    """A registry entry and its options; a plain string is its name (``searcher: hyperopt``)."""

    #: The registry module whose ``get`` checks the name and its options.
    registry: ClassVar[str]
    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _name_only(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        importlib.import_module(cls.registry).get(name)
        return name

    @field_validator("options")
    @classmethod
    def _options(cls, options: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "name" not in info.data:  # the name was wrong: reported once, there
            return options
        entry = importlib.import_module(cls.registry).get(info.data["name"])
        checked: dict[str, Any] = entry.check_options(options)
        return checked


class SearcherSection(_Named):
    """A searcher of ``meta_tune.searchers.names()`` and its options."""

    registry: ClassVar[str] = "meta_tune.searchers"
    name: str = "prior"


class SchedulerSection(_Named):
    """A scheduler of ``meta_tune.schedulers.names()`` and its options."""

    registry: ClassVar[str] = "meta_tune.schedulers"
    name: str = "asha"


class ResourcesSection(_Section):
    """What each trial reserves: CPUs and GPUs (fractions share a device, e.g. 0.5)."""

    cpu: float = Field(default=1.0, gt=0)
    gpu: float = Field(default=0.0, ge=0)


class PriorSection(_Section):
    """Where a searcher's prior comes from.

    Attributes:
        family: The store family whose history it learns from (default: the trainable's).
        exclude: Store tasks (``family/task``) left out; the tuned task always is.
        path: A saved prior (``Prior.save``, JSON) to use instead of fitting one.
    """

    family: str | None = None
    exclude: list[str] = Field(default_factory=list)
    path: Path | None = None


class Experiment(_Section):
    """One tuning run, as an experiment file writes it (see the module docstring).

    Attributes:
        name: The run's folder under ``storage_path`` (default: ``<family>_<task>``).
        trainable: What is tuned.
        metric: The metric to optimize (default: a built-in family's). A file may list
            several objectives' metrics (``[accuracy, time_total_s]``): the run then looks for
            their Pareto front, this holds the first and :attr:`metrics` all of them.
        mode: ``min`` or ``max`` (default: a built-in family's); with several metrics, a list
            of one per metric in the file, the first here and all in :attr:`modes`.
        searcher: The searcher and its options (default ``prior``; ``pareto`` with several
            metrics).
        scheduler: The scheduler and its options (default ``asha``; ``fifo`` with several
            metrics, which a stopping scheduler cannot judge: one is refused then).
        samples: Trials to run.
        concurrency: Trials at once (default: the local CPUs, or 4 on a cluster).
        resources: CPUs and GPUs per trial.
        time_budget_s: Stop starting trials after this many seconds (None: no limit).
        seed: Seeds the searcher and every trial.
        store: The experiment store URL (``--store``/``MT_STORE`` override it).
        storage_path: Tune's storage path (results and checkpoints).
        address: The Ray cluster (``auto``, ``ray://HOST:10001``; default: a local Ray).
        prior: Where the prior comes from.
    """

    name: str | None = Field(None, pattern=r"^[\w.@-]+$")
    trainable: TrainableSection
    metric: str | None = None
    mode: Literal["min", "max"] | None = None
    searcher: SearcherSection = Field(default_factory=SearcherSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    samples: int = Field(20, ge=1)
    concurrency: int | None = Field(None, ge=1)
    resources: ResourcesSection = Field(default_factory=ResourcesSection)
    time_budget_s: float | None = Field(None, gt=0)
    seed: int = Field(0, ge=0)
    store: str | None = None
    storage_path: Path = DEFAULT_STORAGE_PATH
    address: str | None = None
    prior: PriorSection = Field(default_factory=PriorSection)
    _base: Path = PrivateAttr(default_factory=Path.cwd)
    #: Every objective when the file lists several metrics (``metric``/``mode`` hold the first).
    _objectives: list[tuple[str, Literal["min", "max"]]] = PrivateAttr(default_factory=list)

    @field_validator("address")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        if address is not None:
            check_address(address)
        return address

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        from meta_tune import searchers, trainables

        user = self.trainable.function is not None
        if user and (self.metric is None or self.mode is None):
            raise ValueError("a user trainable needs metric: and mode: (min or max), the ones it reports")
        if not user:
            spec = trainables.get(self.trainable.family)
            self.metric = self.metric or spec.metric
            self.mode = self.mode or ("max" if spec.mode == "max" else "min")
        if user and not searchers.get(self.searcher.name).grid_search:
            from meta_tune.space import grid_axes

            grid = grid_axes(parse_space(self.trainable.space or {}))
            if grid:
                axes = ", ".join("/".join(map(str, path)) for path, _ in grid)
                walkers = [n for n in searchers.names() if searchers.get(n).grid_search]
                raise ValueError(
                    f"trainable.space has grid_search ({axes}), which searcher {self.searcher.name!r} cannot "
                    f"walk: use searcher {' or '.join(map(repr, walkers))}, or give the values to a choice"
                )
        if user and self.scheduler.name != "fifo" and self.max_t is None:
            raise ValueError(
                f"scheduler {self.scheduler.name!r} needs trainable.max_t (the training_iteration a "
                "whole trial reaches), or a constant epochs in trainable.space"
            )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _objectives_of(cls, data: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> Experiment:
        """Several metrics (``metric: [a, b]``, ``mode: [max, min]``): checked, the first one validated."""
        metrics, modes = (data.get(key) if isinstance(data, dict) else None for key in ("metric", "mode"))
        if not isinstance(metrics, list | tuple) and not isinstance(modes, list | tuple):
            experiment: Experiment = handler(data)
            return experiment
        metrics, modes = _objective_lists(metrics, modes)
        data = dict(data)
        if len(metrics) > 1:
            from meta_tune import searchers

            name = data.setdefault("searcher", "pareto")
            name = name.get("name", "prior") if isinstance(name, dict) else name
            if isinstance(name, str) and name in searchers.names():
                try:
                    searchers.get(name).check_objectives(len(metrics))
                except MetaTuneError as err:
                    raise ValueError(f"searcher: {err}") from None
            scheduler = data.setdefault("scheduler", "fifo")
            scheduler = scheduler.get("name", "asha") if isinstance(scheduler, dict) else scheduler
            if scheduler != "fifo":
                raise ValueError(
                    f"scheduler {scheduler!r} stops trials on one metric, which would cut short the trials "
                    f"that are good on the others ({', '.join(metrics[1:])}) and bias the Pareto front: use "
                    "scheduler fifo (the default with several metrics), or tune one metric"
                )
        data["metric"], data["mode"] = metrics[0], modes[0]
        experiment = handler(data)
        if len(metrics) > 1:
            experiment._objectives = list(zip(metrics, modes))  # type: ignore[arg-type]  # checked above
        return experiment

    @property
    def metrics(self) -> list[str]:
        """The objectives' metrics: ``[metric]``, or the several the experiment lists."""
        if self._objectives:
            return [m for m, _ in self._objectives]
        return [self.metric] if self.metric else []

    @property
    def modes(self) -> list[Literal["min", "max"]]:
        """One mode per metric of :attr:`metrics`."""
        if self._objectives:
            return [m for _, m in self._objectives]
        return [self.mode] if self.mode else []

    @property
    def run_name(self) -> str:
        """The run's folder name under ``storage_path``."""
        return self.name or self.trainable.store_task.replace("/", "_")

    @property
    def max_t(self) -> int | None:
        """Steps of a whole trial: a built-in family's epochs, or the user's ``max_t``."""
        section = self.trainable
        if section.function is None:
            from meta_tune import trainables

            return section.epochs or trainables.get(section.family).epochs
        epochs = (section.space or {}).get("epochs")
        return section.max_t or (epochs if isinstance(epochs, int) else None)

    def function(self) -> Callable[..., Any]:
        """The user trainable's function (imported once; see :func:`load_function`).

        Raises:
            InvalidConfigError: A built-in family (use ``meta_tune.trainables.get``), or the
                function cannot be imported.
        """
        if self.trainable.function is None:
            raise InvalidConfigError(f"{self.trainable.family!r} is a built-in family, not a user trainable.")
        return load_function(self.trainable.function, self._base)

    def to_yaml(self) -> str:
        """The resolved experiment as an experiment file, e.g. for ``--dry-run``.

        Defaults are filled in and the store URL's password is masked.
        """
        from meta_tune.store._url import default_store_url, mask_url

        data = self.model_dump(mode="json", exclude_none=True)
        if self._objectives:
            data["metric"], data["mode"] = self.metrics, self.modes
        data["store"] = mask_url(self.store or default_store_url())
        return yaml.safe_dump(data, sort_keys=False)


def _objective_lists(metrics: Any, modes: Any) -> tuple[list[str], list[str]]:
    """Several objectives' metrics and modes as lists of the same length.

    Raises:
        ValueError: An empty list, a metric that is not a name or is repeated, a mode other
            than min or max, or not one mode per metric.
    """
    as_list = [metrics] if isinstance(metrics, str) else list(metrics) if metrics is not None else []
    mode_list = [modes] if isinstance(modes, str) else list(modes) if modes is not None else []
    for value, what in ((metrics, "metric"), (modes, "mode")):
        if isinstance(value, list | tuple) and not value:
            raise ValueError(f"{what} is an empty list: give one {what} or a list of them")
    for item in as_list:
        if not isinstance(item, str) or not item:
            raise ValueError(f"metric: {item!r} is not a metric name: use a name or a list of names")
    for item in mode_list:
        if item not in ("min", "max"):
            raise ValueError(f"mode: {item!r} is not a mode: use min or max (one per metric)")
    if len(set(as_list)) != len(as_list):
        raise ValueError(f"metric: {as_list} names an objective twice")
    if not as_list:
        raise ValueError(f"mode lists {len(mode_list)} modes: give their metrics as metric: [...] too")
    if not mode_list:
        raise ValueError(
            f"metric lists several objectives ({', '.join(as_list)}): give one mode each as mode: [...] "
            "(min or max), in the same order"
        )
    if len(as_list) != len(mode_list):
        raise ValueError(
            f"metric lists {len(as_list)} objective(s) ({', '.join(as_list)}) and mode {len(mode_list)} "
            f"({', '.join(mode_list)}): give one mode (min or max) per metric, in the same order, e.g. "
            "metric: [accuracy, time_total_s] with mode: [max, min]"
        )
    return as_list, mode_list


# ---------------------------------------------------------------------------- loading
class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads ``1e-4`` as a float (YAML 1.2), not a string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_experiment(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    import_function: bool = True,
    labels: Mapping[str, str] | None = None,
) -> Experiment:
    """Read an experiment file, apply overrides and check everything (no Ray is started).

    Args:
        path: The YAML file (None: the experiment is made of ``overrides`` alone).
        overrides: Values that replace the file's, by dotted place (``"samples"``,
            ``"searcher.name"``, ``"trainable.task"``, ``"resources.gpu"``); None values are
            skipped. A new ``searcher.name`` (``scheduler.name``) drops the file's options of
            the old one.
        import_function: Import a user trainable's function to check it (False where it is
            run elsewhere, e.g. by ``meta-tune submit`` on a cluster with other packages).
        labels: How the user gave an override, by its place (``{"trainable.epochs":
            "--epochs"}``): a problem with that value names it too.

    Raises:
        InvalidConfigError: The file cannot be read or parsed, or the experiment has
            problems: one line each, naming its place and what is valid.
    """
    source = str(path) if path is not None else "the command line"
    data: dict[str, Any] = {}
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise InvalidConfigError(f"Experiment file {file} does not exist.")
        try:
            data = yaml.load(file.read_text(), Loader=_Loader) or {}
        except yaml.YAMLError as err:
            raise InvalidConfigError(f"{file} is not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise InvalidConfigError(f"{file} must hold a mapping of settings, not {type(data).__name__}.")
    _apply(data, overrides or {})
    base = Path(path).expanduser().resolve().parent if path is not None else Path.cwd()
    try:
        experiment = Experiment.model_validate(data)
        experiment._base = base
        if import_function and experiment.trainable.function is not None:
            experiment.function()
    except pydantic.ValidationError as err:
        labels = labels or {}
        given = {place: labels[place] for place, value in (overrides or {}).items()
                 if value is not None and place in labels}
        lines = [_line(problem, given) for problem in err.errors()]
        if len(lines) == 1:
            raise InvalidConfigError(f"{source}: {lines[0]}") from None
        count = f"{len(lines)} problems"
        raise InvalidConfigError(
            f"{source} has {count}:\n" + "\n".join(f"  {line}" for line in lines)
        ) from None
    except MetaTuneError as err:
        raise InvalidConfigError(f"{source}: {err}") from None
    # Relative paths are the file's: resolved here, so the experiment reads the same anywhere.
    if experiment.prior.path is not None and not experiment.prior.path.is_absolute():
        experiment.prior.path = base / experiment.prior.path
    module, _, function = (experiment.trainable.function or "").rpartition(":")
    if module.endswith(".py"):
        experiment.trainable.function = f"{(base / module).resolve()}:{function}"
    return experiment


def _apply(data: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for place, value in overrides.items():
        if value is None:
            continue
        *parents, key = place.split(".")
        node = data
        for part in parents:
            child = node.get(part)
            if isinstance(child, str) and part in ("searcher", "scheduler"):
                child = {"name": child}
            node[part] = child = dict(child) if isinstance(child, dict) else {}
            node = child
        if (
            key == "name"
            and parents
            and parents[-1] in ("searcher", "scheduler")
            and node.get("name") != value
        ):
            node.pop("options", None)
        node[key] = value


#: pydantic's range checks (Field gt/ge/lt/le) and how a message writes them.
_RANGES = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _line(problem: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    place = ".".join(str(p) for p in problem["loc"]) or "experiment"
    message = str(problem["msg"]).removeprefix("Value error, ")
    kind = problem["type"]
    if kind == "extra_forbidden":
        message = "unknown setting (misspelt? see the experiment file reference in docs/experiments.md)"
    elif kind == "missing":
        message = "required"
    elif kind in _RANGES:
        ((_, bound),) = problem["ctx"].items()
        value = problem["input"]
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        message = f"{shown} is out of range: it must be {_RANGES[kind]} {bound:g}"
    if place in labels:
        place = f"{place} ({labels[place]})"
    return f"{place}: {message}"


# ---------------------------------------------------------------------------- addresses and tasks
_HOST_PORT = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$")


def check_address(address: str) -> tuple[str, int] | None:
    """Check the form of a Ray address; return its host and port (None for ``auto``).

    Raises:
        ValueError: Not ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` (port 1-65535).
    """
    if address == "auto":
        return None
    rest = address.removeprefix("ray://")
    match = _HOST_PORT.match(rest)
    if match is None or not 0 < int(match.group(1)) < 65536:
        raise ValueError(
            f"{address!r} is not a Ray address: use auto (the cluster this machine belongs to), "
            "HOST:PORT (the head's GCS, port 6379 by default) or ray://HOST:PORT (Ray Client, port 10001)"
        )
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)


def resolve_tasks(names: Iterable[str], *, family: str, known: Iterable[str], what: str) -> list[str]:
    """Store task names of ``names``, under the task-name rules of ``meta-tune run --task``.

    A name is either a store task (``image/fashion_mnist_n2000``) or a task of ``family``
    (``fashion_mnist_n2000``, recorded as ``<family>/<name>``). Every command and experiment
    setting that names tasks (``--exclude``, ``prior.exclude``) resolves them here, so none
    drops a name it does not know.

    Args:
        names: The names as the user wrote them.
        family: The family that relative names belong to.
        known: The store task names that exist (or can exist, e.g. a built-in family's).
        what: Where the names came from (``--exclude``), for the message.

    Raises:
        InvalidConfigError: A name matches no known task; the message lists the known ones,
            close matches first.
    """
    import difflib

    known = list(dict.fromkeys(known))
    resolved = []
    for given in names:
        name = given.strip()
        for candidate in (name, f"{family}/{name}"):
            if candidate in known:
                resolved.append(candidate)
                break
        else:
            relative = [k.removeprefix(f"{family}/") for k in known]
            close = difflib.get_close_matches(name.removeprefix(f"{family}/"), relative, n=3, cutoff=0.5)
            ordered = close + [k for k in relative if k not in close]
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            listing = ", ".join(ordered) if ordered else f"none (the store has no {family} tasks)"
            raise InvalidConfigError(
                f"{what}: unknown {family} task {name!r}: {hint}Known tasks: {listing}."
            )
    return list(dict.fromkeys(resolved))


# ---------------------------------------------------------------------------- spaces
def parse_space(space: Mapping[str, Any]) -> dict[str, Any]:
    """A YAML search space as a Tune ``param_space`` (domains from one-key mappings).

    Raises:
        ValueError: A domain with bad arguments (the message names its parameter and the
            domain's arguments), or a space meta-tune cannot search.
    """
    from meta_tune.space import SearchSpace

    if not isinstance(space, Mapping):
        raise ValueError(f"space must map parameter names to domains, got {type(space).__name__}")
    from meta_tune.space import grid_axes, without_grid

    parsed = {key: _parse(value, str(key)) for key, value in space.items()}
    try:
        SearchSpace.from_tune(without_grid(parsed, grid_axes(parsed)))
    except MetaTuneError as err:
        raise ValueError(str(err)) from None
    return parsed


def _parse(node: Any, place: str) -> Any:
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in DOMAINS:
            ((name, args),) = node.items()
            return _domain(name, args, place)
        return {key: _parse(value, f"{place}.{key}") for key, value in node.items()}
    if isinstance(node, list):
        return [_parse(value, f"{place}.{i}") for i, value in enumerate(node)]
    return node


def _domain(name: str, args: Any, place: str) -> Any:
    function = DOMAINS[name]
    if name in ("choice", "grid_search"):
        if not isinstance(args, list) or not args:
            raise ValueError(f"{place}: {name} takes a non-empty list of values")
        return function([_parse(value, f"{place}.{name}.{i}") for i, value in enumerate(args)])
    try:
        if isinstance(args, dict):
            return function(**args)
        return function(*(args if isinstance(args, list) else [args]))
    except (TypeError, ValueError, AssertionError) as err:
        takes = ", ".join(inspect.signature(function).parameters)
        raise ValueError(f"{place}: {name}({takes}) rejected {args!r}: {err}") from None


# ---------------------------------------------------------------------------- user trainables
class _import_root:
    """Put folders first on ``sys.path`` while an experiment's function is imported."""

    def __init__(self, *folders: Path) -> None:
        self.folders = [str(f) for f in folders]

    def __enter__(self) -> None:
        sys.path[:0] = self.folders

    def __exit__(self, *exc: object) -> None:
        for folder in self.folders:
            if folder in sys.path:
                sys.path.remove(folder)


@functools.cache
def load_function(reference: str, base: Path) -> Callable[..., Any]:
    """Import ``module:function`` (or ``file.py:function`` relative to ``base``).

    A module is looked up in ``base`` (the experiment file's folder) and the current
    directory first. It is pickled by value, so Ray's workers need not be able to import it.

    Raises:
        InvalidConfigError: Not of the form ``module:function``, the module cannot be
            imported, or it has no such callable.
    """
    import ray.cloudpickle

    module_name, _, attribute = reference.rpartition(":")
    if not module_name or not attribute:
        raise InvalidConfigError(
            f"trainable.function: {reference!r} must be module:function or path/to/file.py:function."
        )
    try:
        if module_name.endswith(".py"):
            file = (base / module_name).resolve()
            if not file.is_file():
                raise InvalidConfigError(f"trainable.function: {file} does not exist.")
            name = f"meta_tune_user_{file.stem}"
            spec = importlib.util.spec_from_file_location(name, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            with _import_root(base, Path.cwd()):
                module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidConfigError(f"trainable.function: cannot import {module_name!r}: {err}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise InvalidConfigError(f"trainable.function: {module_name!r} has no function {attribute!r}.")
    if not module.__name__.startswith(("meta_tune.", "ray.")):
        ray.cloudpickle.register_pickle_by_value(module)
    return function
