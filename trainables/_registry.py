"""The trainable registry: a family name -> its trainable, default search space and tasks."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meta_tune.errors import InvalidConfigError

# Family name -> module defining ``SPEC``; imported on first use so that
# ``import meta_tune.trainables`` loads neither torch models nor optional data packages.
_FAMILIES = {
    "image": "meta_tune.trainables.image",
    "meta": "meta_tune.trainables.meta",
    "rl": "meta_tune.trainables.rl",
    "tabular": "meta_tune.trainables.tabular",
    "text": "meta_tune.trainables.text",
}


@dataclass(frozen=True)
class TrainableSpec:
    """A trainable family: one Tune function trainable and the related tasks it can train on.

    Attributes:
        name: The family name (``"image"``, ``"text"``, ...).
        trainable: The Tune function trainable; reads every setting from its ``config``.
        tasks: The built-in tasks of the family (related datasets, subsets and variants).
        search_space: Returns the default Tune search space (tunable parameters only).
        metric: The metric the trainable reports and that tuning should optimize.
        mode: ``"max"`` or ``"min"`` for ``metric``.
        epochs: The default number of epochs (RL: iterations) per trial.
        description: One line for ``meta-tune trainables``.
        accepts_paths: Whether a path to the user's own data may stand in for a task name.
    """

    name: str
    trainable: Callable[[dict[str, Any]], None]
    tasks: tuple[str, ...]
    search_space: Callable[[], dict[str, Any]]
    metric: str
    mode: str
    epochs: int
    description: str
    accepts_paths: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def param_space(self, task: str, **constants: Any) -> dict[str, Any]:
        """The Tune ``param_space`` for one task: the default search space plus constants.

        Args:
            task: A built-in task name (see :attr:`tasks`) or, for families that accept
                them, a path to the user's own data.
            **constants: Settings fixed for every trial, e.g. ``epochs=5``, ``seed=1``,
                ``device="cpu"``; they override the defaults.

        Raises:
            InvalidConfigError: ``task`` is neither a built-in task nor an existing path.
        """
        self.check_task(task)
        return {**self.search_space(), **self.defaults, "task": task, "epochs": self.epochs,
                "seed": 0, **constants}

    def check_task(self, task: str) -> None:
        """Raise :class:`InvalidConfigError` unless ``task`` names a task of this family."""
        if task in self.tasks:
            return
        if self.accepts_paths and Path(task).expanduser().exists():
            return
        hint = " or a path to your own data" if self.accepts_paths else ""
        raise InvalidConfigError(
            f"Unknown {self.name} task {task!r}. Use one of {', '.join(self.tasks)}{hint}."
        )


def names() -> list[str]:
    """The names of all trainable families."""
    return list(_FAMILIES)


def get(name: str) -> TrainableSpec:
    """The trainable family called ``name``.

    Args:
        name: One of :func:`names`.

    Raises:
        InvalidConfigError: No family has that name.
        MissingDependencyError: The family needs an optional extra that is not installed.
    """
    if name not in _FAMILIES:
        raise InvalidConfigError(f"Unknown trainable {name!r}. Use one of {', '.join(_FAMILIES)}.")
    spec: TrainableSpec = importlib.import_module(_FAMILIES[name]).SPEC
    return spec
