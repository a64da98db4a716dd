"""Options of a named searcher or scheduler, checked by a pydantic model built from their fields."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pydantic

#: An option: its type (anything pydantic validates, or its ``module:name`` import path) and default.
OptionSpec = tuple[Any, Any]

_MODELS: dict[str, type[pydantic.BaseModel]] = {}


def resolve(path: str) -> Any:
    """The object at ``module:name`` (registries name classes so that listing them is cheap)."""
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def dataclass_options(config: type) -> dict[str, OptionSpec]:
    """The fields of a config dataclass as options (their types and defaults)."""
    import pydantic

    hints = typing.get_type_hints(config)
    options: dict[str, OptionSpec] = {}
    for f in dataclasses.fields(config):
        if f.default is dataclasses.MISSING:
            options[f.name] = (hints[f.name], pydantic.Field(default_factory=f.default_factory))  # type: ignore[arg-type]
        else:
            options[f.name] = (hints[f.name], f.default)
    return options


def check_options(
    owner: str, specs: Mapping[str, OptionSpec], options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``options`` with their types checked and converted (only the given ones are returned).

    Args:
        owner: Who takes them, for messages and the model cache (e.g. ``"searcher 'prior'"``).
        specs: Every option it takes.
        options: The given options.

    Raises:
        InvalidConfigError: An unknown option or a wrong type, one ``place: problem`` per
            problem, with the valid option names.
    """
    import pydantic

    given = dict(options or {})
    model = _MODELS.get(owner)
    if model is None:
        fields = {
            name: (resolve(kind) if isinstance(kind, str) else kind, default)
            for name, (kind, default) in specs.items()
        }
        model = pydantic.create_model(  # type: ignore[call-overload]
            "Options", __config__=pydantic.ConfigDict(extra="forbid"), **fields
        )
        _MODELS[owner] = model
    try:
        checked = model.model_validate(given)
    except pydantic.ValidationError as err:
        raise InvalidConfigError(
            f"{owner}: {format_errors(err)} (its options: {', '.join(sorted(specs)) or 'none'})"
        ) from None
    return dict(checked.model_dump(include=set(given)))


def format_errors(err: pydantic.ValidationError, prefix: str = "") -> str:
    """A pydantic error as ``place: problem`` per problem, places dotted, joined by ``; ``."""
    lines = []
    for problem in err.errors():
        place = ".".join(str(part) for part in (*([prefix] if prefix else []), *problem["loc"]))
        message = "unknown option" if problem["type"] == "extra_forbidden" else problem["msg"]
        lines.append(f"{place}: {message}" if place else message)
    return "; ".join(lines)
