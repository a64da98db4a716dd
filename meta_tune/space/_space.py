"""The search-space representation every meta-tune searcher and prior shares."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

import numpy as np

from meta_tune.errors import InvalidConfigError, UnsupportedDomainError
from meta_tune.space._flatten import SEP, flatten, unflatten
from meta_tune.space._params import (
    CategoricalEncoding,
    CategoricalParam,
    FloatParam,
    IntParam,
    NormalParam,
    Param,
    copy_value,
)

logger = logging.getLogger(__name__)

_FORMAT = 1
_STRICT, _MATCH, _LENIENT = 0, 1, 2
_CATEGORICAL_ENCODINGS = ("onehot", "ordinal")


@dataclass(frozen=True)
class _Const:
    value: Any


@dataclass(frozen=True)
class _Ref:
    name: str


# A template mirrors the nested param_space: dicts and lists of nodes, constants, and
# references to parameters (a categorical's categories are templates themselves).
_Node = dict[str, "_Node"] | list["_Node"] | _Const | _Ref


class _Mismatch(Exception):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path or '<root>'}: {why}")


class SearchSpace:
    """A Tune ``param_space`` as flat, typed parameters with a unit-cube encoding.

    Build it with :meth:`from_tune`. Every Tune domain is supported except ``grid_search``
    and ``sample_from``; ``tune.choice`` over dicts or lists holding domains is a
    conditional sub-space (the parameters inside a category are active only when that
    category is chosen). Parameters are named by their path in the nested config, joined
    with ``"/"`` (a parameter repeated with an identical domain in several categories of
    one choice is shared; with a different domain it is named ``path@<category index>``),
    and ordered by name, so equal spaces encode identically whatever their key order.

    Example:
        >>> from ray import tune
        >>> space = SearchSpace.from_tune({"lr": tune.loguniform(1e-4, 1e-1),
        ...                                "layers": tune.randint(1, 4), "seed": 0})
        >>> space.names
        ['layers', 'lr']
        >>> config = space.decode([0.5, 0.5])
        >>> config["layers"], round(config["lr"], 6), config["seed"]
        (2, 0.003162, 0)
        >>> space.encode(config).round(3).tolist()
        [0.5, 0.5]
    """

    def __init__(self, template: _Node, params: Iterable[Param]) -> None:
        self._template = template
        self._params: dict[str, Param] = {p.name: p for p in sorted(params, key=lambda p: p.name)}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_tune(cls, param_space: Mapping[str, Any]) -> SearchSpace:
        """Convert a Tune ``param_space`` (a nested dict of domains and constants).

        Args:
            param_space: The dict passed to ``tune.Tuner(param_space=...)``.

        Returns:
            The search space.

        Raises:
            UnsupportedDomainError: A parameter uses ``grid_search``, ``sample_from`` or a
                domain meta-tune cannot encode; the message names its path.
            InvalidConfigError: The space is malformed (a key holds ``"/"``, an empty
                choice, a quantized range with no value in it, ...).
        """
        if not isinstance(param_space, Mapping):
            raise InvalidConfigError(
                f"param_space must be a dict of Tune domains and constants, got "
                f"{type(param_space).__name__}: {param_space!r}"
            )
        params: dict[str, Param] = {}
        template = _Builder(params).build(param_space, (), None)
        return cls(template, params.values())

    # ------------------------------------------------------------------ description
    @property
    def params(self) -> tuple[Param, ...]:
        """The parameters, ordered by name (the encoding order)."""
        return tuple(self._params.values())

    @property
    def names(self) -> list[str]:
        """The parameter names (flattened paths), in encoding order."""
        return list(self._params)

    def __getitem__(self, name: str) -> Param:
        try:
            return self._params[name]
        except KeyError:
            raise KeyError(f"No parameter {name!r}; the parameters are {self.names}") from None

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"SearchSpace({', '.join(self.names)}; fingerprint={self.fingerprint})"

    def dim(self, categorical: CategoricalEncoding = "onehot") -> int:
        """Number of unit-cube coordinates under the given categorical encoding."""
        _check_encoding(categorical)
        return sum(p.width(categorical) for p in self._params.values())

    def slices(self, categorical: CategoricalEncoding = "onehot") -> dict[str, slice]:
        """The coordinates each parameter occupies in an encoded point."""
        _check_encoding(categorical)
        out, start = {}, 0
        for p in self._params.values():
            out[p.name] = slice(start, start + p.width(categorical))
            start += p.width(categorical)
        return out

    # ------------------------------------------------------------------ encode / decode
    def encode(self, config: Mapping[str, Any], categorical: CategoricalEncoding = "onehot") -> np.ndarray:
        """Map one nested config to a point of the unit cube, shape ``(dim,)``.

        Numeric values outside the bounds are clipped to the cube's faces; parameters that
        are inactive in ``config`` (in a category that was not chosen) encode as 0.5.

        Raises:
            InvalidConfigError: A parameter is missing, is not a number where one is
                expected, or a categorical value is none of the categories.
        """
        return self.encode_many([config], categorical)[0]

    def encode_many(
        self, configs: Sequence[Mapping[str, Any]], categorical: CategoricalEncoding = "onehot"
    ) -> np.ndarray:
        """Vectorized :meth:`encode`: shape ``(len(configs), dim)``."""
        rows = []
        for i, config in enumerate(configs):
            try:
                rows.append(self._values(config, strict=False))
            except _Mismatch as err:
                raise InvalidConfigError(
                    f"Config #{i} does not fit the search space at {err}. Config: {config!r}"
                ) from None
        return self._encode_values(rows, categorical)

    def decode(
        self, unit: Sequence[float] | np.ndarray, categorical: CategoricalEncoding = "onehot"
    ) -> dict[str, Any]:
        """Map a point (any reals; clipped to [0, 1]) to a valid nested config.

        Values are native Python types (int stays int, no numpy scalars), constants of the
        param_space are included, and every bound, quantization and integrality holds.
        """
        return self.decode_many(np.asarray(unit, dtype=float)[None, :], categorical)[0]

    def decode_many(
        self, unit: np.ndarray, categorical: CategoricalEncoding = "onehot"
    ) -> list[dict[str, Any]]:
        """Vectorized :meth:`decode` of shape ``(n, dim)`` points."""
        unit = np.asarray(unit, dtype=float)
        expected = self.dim(categorical)
        if unit.ndim != 2 or unit.shape[1] != expected:
            raise InvalidConfigError(
                f"Expected points of shape (n, {expected}) for {categorical!r} encoding, "
                f"got shape {unit.shape}"
            )
        unit = np.nan_to_num(unit, nan=0.5)
        columns = {
            name: self._params[name].decode(unit[:, sl], categorical)
            for name, sl in self.slices(categorical).items()
        }
        return [self._build(self._template, columns, i) for i in range(len(unit))]

    def sample(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """Draw ``n`` configs with Tune's sampling distributions (log-uniform, normal, ...)."""
        return self.decode_many(rng.random((n, self.dim("ordinal"))), "ordinal")

    # ------------------------------------------------------------------ validation
    def check(self, config: Mapping[str, Any]) -> str | None:
        """Return why ``config`` is not a valid config of this space, or None if it is."""
        try:
            self._values(config, strict=True)
        except _Mismatch as err:
            return str(err)
        return None

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`InvalidConfigError` unless ``config`` is valid for this space.

        Valid means: every parameter present with a value of the right type in bounds and
        on its quantization grid, categoricals one of their categories, constants equal to
        the space's, and no extra keys.
        """
        why = self.check(config)
        if why is not None:
            raise InvalidConfigError(f"Invalid config at {why}. Config: {config!r}")

    def active_names(self, config: Mapping[str, Any]) -> list[str]:
        """Names of the parameters that are active (take part) in ``config``."""
        return [name for name in self._values(config, strict=False) if name in self._params]

    def from_flat(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Rebuild a nested config from a flattened row, e.g. one row of a history DataFrame.

        Missing values (None/NaN, the columns of inactive parameters) are dropped, numpy
        scalars become Python scalars, and integral floats of int parameters become ints.
        """
        clean = {}
        for key, raw in flat.items():
            value = raw.item() if isinstance(raw, np.generic) else raw
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            param = self._params.get(key)
            if isinstance(param, IntParam) and isinstance(value, float) and value.is_integer():
                value = int(value)
            clean[key] = value
        return unflatten(clean)

    def encode_flat(
        self, rows: Sequence[Mapping[str, Any]], categorical: CategoricalEncoding = "ordinal"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode flattened, possibly partial rows, such as the records of a history DataFrame.

        Each row maps flattened config keys (``"model/width"``) to values. A parameter whose
        key is missing, None/NaN, not a number (numeric parameters) or none of the
        categories is *unknown*: it encodes as 0.5 and is False in the returned mask.
        Numeric values outside the bounds are clipped into them. Parameters inactive in a
        row (inside a category that was not chosen) encode as 0.5 and count as known.

        Args:
            rows: Flat dicts, e.g. ``frame.to_dict("records")``; other keys are ignored.
            categorical: The categorical encoding.

        Returns:
            ``(unit, known)``, both of shape ``(len(rows), dim)``.
        """
        values_rows, unknown_rows = [], []
        for row in rows:
            values: dict[str, Any] = {}
            unknown: set[str] = set()
            self._collect_flat(self._template, row, "", values, unknown)
            values_rows.append(values)
            unknown_rows.append(unknown)
        unit = self._encode_values(values_rows, categorical)
        known = np.ones(unit.shape, dtype=bool)
        slices = self.slices(categorical)
        for i, unknown in enumerate(unknown_rows):
            for name in unknown:
                known[i, slices[name]] = False
        return unit, known

    def flatten(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Flatten a nested config (a trial's) to the keys this space names its parameters by.

        The one flattening rule of meta-tune's searchers, priors and store: nested dicts are
        joined with ``"/"``; a list that holds a domain in the space becomes one key per item
        (``{"nested": [tune.randint(0, 3), ...]}`` gives ``nested/0``, ``nested/1``); a list
        that is a constant, or the chosen value of a ``tune.choice``, stays one value. Parts of
        ``config`` the space does not describe (extra keys, a list of another length) follow
        :func:`meta_tune.space.flatten`, which keeps every list whole.

        Example:
            >>> from ray import tune
            >>> space = SearchSpace.from_tune({"nested": [tune.randint(0, 3), tune.randint(0, 3)],
            ...                                "sizes": tune.choice([[32, 32], [64]]), "seed": 0})
            >>> space.flatten({"nested": [1, 2], "sizes": [64], "seed": 0})
            {'nested/0': 1, 'nested/1': 2, 'sizes': [64], 'seed': 0}
        """
        flat: dict[str, Any] = {}
        self._flatten(self._template, config, "", flat)
        return flat

    def flat_keys(self, *, constants: bool = True) -> list[str]:
        """Every flattened config key a config of this space can hold (all categories).

        Args:
            constants: Include the keys of constants; False gives only parameter keys.
        """
        keys: dict[str, Any] = {}
        self._walk_keys(self._template, "", keys, with_consts=True)
        return [k for k, v in keys.items() if constants or v is _NOT_CONST]

    def constants(self) -> dict[str, Any]:
        """The constants of the param_space outside any choice, as a nested dict."""

        def walk(node: _Node) -> Any:
            if isinstance(node, dict):
                found = {k: walk(v) for k, v in node.items()}
                return {k: v for k, v in found.items() if v is not _NOT_CONST}
            if isinstance(node, _Const):
                return copy_value(node.value)
            return _NOT_CONST

        found = walk(self._template)
        assert isinstance(found, dict)
        return found

    def complete(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with the space's constants filled in where it lacks them."""

        def merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(base)
            for key, value in update.items():
                out[key] = (
                    merge(out[key], value)
                    if isinstance(out.get(key), dict) and isinstance(value, Mapping)
                    else value
                )
            return out

        return merge(self.constants(), config)

    def restrict(
        self, bounds: Mapping[str, tuple[float, float]], categories: Mapping[str, Sequence[int]] | None = None
    ) -> SearchSpace:
        """A sub-space: a box in the unit cube, and a subset of each categorical's categories.

        Args:
            bounds: For numeric parameters, ``(lo, hi)`` of their unit coordinate; the new
                bounds are the values these decode to (on the grid, for integers and
                quantized floats). Normal parameters are unbounded and stay as they are.
            categories: For categorical parameters, the indices of the categories to keep.

        Returns:
            The restricted space (its Tune form via :meth:`to_tune`).

        Raises:
            InvalidConfigError: An unknown parameter, a reversed interval or no category left.
        """
        unknown = sorted((set(bounds) | set(categories or {})) - set(self._params))
        if unknown:
            raise InvalidConfigError(
                f"restrict() got unknown parameters {unknown}; the parameters are {self.names}"
            )
        params = []
        for param in self._params.values():
            p: Param = param
            if isinstance(p, CategoricalParam) and categories and p.name in categories:
                keep = sorted(set(categories[p.name]))
                if not keep or keep[0] < 0 or keep[-1] >= p.n:
                    raise InvalidConfigError(
                        f"restrict(): categories of {p.name!r} must be a non-empty "
                        f"subset of range({p.n}), got {list(categories[p.name])}"
                    )
                p = replace(p, n=len(keep), categories=tuple(p.categories[i] for i in keep))
            elif isinstance(p, (FloatParam, IntParam)) and p.name in bounds:
                lo, hi = bounds[p.name]
                if not 0.0 <= lo <= hi <= 1.0:
                    raise InvalidConfigError(
                        f"restrict(): bounds of {p.name!r} must satisfy 0 <= lo <= hi <= 1, got ({lo}, {hi})"
                    )
                new_lo, new_hi = p.decode(np.array([[lo], [hi]]), "ordinal")
                p = replace(p, lower=new_lo, upper=new_hi)
            params.append(p)
        return SearchSpace(self._template, params)

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description; :meth:`from_dict` rebuilds an equal space."""
        params = [{"name": p.name, **_param_json(p)} for p in self._params.values()]
        return {"format": _FORMAT, "template": _node_to_json(self._template), "params": params}

    def to_json(self) -> str:
        """The space as canonical JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Rebuild a space from :meth:`to_dict` output.

        Raises:
            InvalidConfigError: ``data`` is not a space description of a known format.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise InvalidConfigError(
                f"Not a meta-tune search space of format {_FORMAT} (got format {got!r}); "
                "it must come from SearchSpace.to_dict()/to_json() of this meta-tune version."
            )
        params = [_param_from_json(p) for p in data["params"]]
        return cls(_node_from_json(data["template"]), params)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        """Rebuild a space from :meth:`to_json` text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidConfigError(f"Search-space JSON does not parse: {err}") from err
        return cls.from_dict(data)

    @property
    def fingerprint(self) -> str:
        """16 hex digits of a SHA-256 of the canonical JSON: equal spaces, equal prints."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def to_tune(self) -> dict[str, Any]:
        """The space as a Tune ``param_space`` again (domains and constants)."""
        from ray import tune

        def param_domain(p: Param) -> Any:
            if isinstance(p, CategoricalParam):
                return tune.choice([convert(c) for c in p.categories])
            if isinstance(p, FloatParam):
                if p.q is not None:
                    return (tune.qloguniform if p.log else tune.quniform)(p.lower, p.upper, p.q)
                return (tune.loguniform if p.log else tune.uniform)(p.lower, p.upper)
            if isinstance(p, IntParam):
                if p.q == 1:
                    return (tune.lograndint if p.log else tune.randint)(p.lower, p.upper + 1)
                return (tune.qlograndint if p.log else tune.qrandint)(p.lower, p.upper, p.q)
            assert isinstance(p, NormalParam)
            return tune.qrandn(p.mean, p.sd, p.q) if p.q is not None else tune.randn(p.mean, p.sd)

        def convert(node: _Node) -> Any:
            if isinstance(node, dict):
                return {k: convert(v) for k, v in node.items()}
            if isinstance(node, list):
                return [convert(v) for v in node]
            if isinstance(node, _Const):
                return copy_value(node.value)
            return param_domain(self._params[node.name])

        result = convert(self._template)
        assert isinstance(result, dict)
        return result

    # ------------------------------------------------------------------ internals
    def _values(self, config: Any, *, strict: bool) -> dict[str, Any]:
        """Walk ``config`` along the template; return each active parameter's value.

        Categorical parameters get their category index. Raises _Mismatch with the path.
        """
        out: dict[str, Any] = {}
        self._collect(self._template, config, "", out, _STRICT if strict else _LENIENT)
        return out

    def _collect(self, node: _Node, value: Any, path: str, out: dict[str, Any], mode: int) -> None:
        # _STRICT checks everything; _MATCH (a category candidate in a lenient walk) checks
        # constants by value, so categories that differ only in a constant stay apart;
        # _LENIENT (encoding) needs only the keys and numbers.
        if isinstance(node, dict):
            if not isinstance(value, Mapping):
                raise _Mismatch(path, f"expected a dict, got {value!r}")
            for key, child in node.items():
                sub = f"{path}{SEP}{key}" if path else key
                if key not in value:
                    raise _Mismatch(sub, "missing")
                self._collect(child, value[key], sub, out, mode)
            if mode == _STRICT and (extra := sorted(set(value) - set(node))):
                raise _Mismatch(path, f"unexpected keys {extra}")
        elif isinstance(node, list):
            if not isinstance(value, (list, tuple)) or len(value) != len(node):
                raise _Mismatch(path, f"expected a list of {len(node)} items, got {value!r}")
            for i, (child, item) in enumerate(zip(node, value)):
                self._collect(child, item, f"{path}{SEP}{i}" if path else str(i), out, mode)
        elif isinstance(node, _Const):
            if mode != _LENIENT and not _same(node.value, value, exact=mode == _STRICT):
                raise _Mismatch(path, f"expected the constant {node.value!r}, got {value!r}")
        else:
            param = self._params[node.name]
            if isinstance(param, CategoricalParam):
                out[param.name] = self._match_category(param, value, path, out, mode)
                return
            if mode == _STRICT:
                why = param.check(value)
                if why is not None:
                    raise _Mismatch(path, why)
            elif not _is_number(value):
                raise _Mismatch(path, f"expected a number, got {value!r}")
            out[param.name] = value

    def _match_category(
        self, param: CategoricalParam, value: Any, path: str, out: dict[str, Any], mode: int
    ) -> int:
        # A strict match first (so 1, 1.0 and True stay distinct categories); when the walk
        # is lenient, then a match by value (a history may hold 1.0 where the category is 1).
        for candidate_mode in (_STRICT,) if mode == _STRICT else (_STRICT, _MATCH):
            for i, category in enumerate(param.categories):
                if isinstance(category, _Const):
                    if _same(category.value, value, exact=candidate_mode == _STRICT):
                        return i
                    continue
                found: dict[str, Any] = {}
                try:
                    self._collect(category, value, path, found, candidate_mode)
                except _Mismatch:
                    continue
                out.update(found)
                return i
        shown = [_node_to_json(c) for c in param.categories]
        raise _Mismatch(path, f"{value!r} is none of the categories {shown}")

    def _collect_flat(
        self, node: _Node, row: Mapping[str, Any], path: str, values: dict[str, Any], unknown: set[str]
    ) -> None:
        if isinstance(node, (dict, list)):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                self._collect_flat(child, row, f"{path}{SEP}{key}" if path else str(key), values, unknown)
            return
        if isinstance(node, _Const):
            return
        param = self._params[node.name]
        value = _present(row.get(path))
        if not isinstance(param, CategoricalParam):
            if _is_number(value) and math.isfinite(value):
                values[param.name] = value
            else:
                unknown.add(param.name)
            return
        for exact in (True, False):
            for i, category in enumerate(param.categories):
                if _is_scalar_category(category):
                    if value is not None and _same(category.value, value, exact=exact):
                        values[param.name] = i
                        return
                elif exact and self._flat_category_matches(category, row, path):
                    values[param.name] = i
                    self._collect_flat(category, row, path, values, unknown)
                    return
        unknown.add(param.name)
        for category in param.categories:  # the parameters of every category stay unknown too
            sub: dict[str, Any] = {}
            self._collect_flat(category, {}, path, sub, unknown)

    def _flat_category_matches(self, category: _Node, row: Mapping[str, Any], path: str) -> bool:
        """A structured category matches a flat row if its constants agree and a key is present.

        A category that is a domain itself (a choice between ranges, or a choice in a choice)
        matches a valid value of it.
        """
        if isinstance(category, _Ref):
            param = self._params[category.name]
            if isinstance(param, CategoricalParam):
                return any(self._flat_category_matches(c, row, path) for c in param.categories)
            value = _present(row.get(path))
            return value is not None and param.check(value) is None
        if isinstance(category, _Const) and _is_scalar_category(category):
            value = _present(row.get(path))
            return value is not None and _same(category.value, value, exact=False)
        consts: dict[str, Any] = {}
        # The constants of a choice nested in the category vary with that choice: not compared.
        self._walk_keys(category, path, consts, with_consts=True, nested_choices_vary=True)
        seen = False
        for key, const in consts.items():
            value = _present(row.get(key))
            if value is None:
                continue
            seen = True
            if const is not _NOT_CONST and not _same(const, value, exact=False):
                return False
        return seen

    def _flatten(self, node: _Node, value: Any, path: str, flat: dict[str, Any]) -> None:
        """Flatten ``value`` at ``path`` along ``node`` into ``flat`` (see :meth:`flatten`)."""
        if isinstance(node, dict) and isinstance(value, Mapping) and value:
            for key, item in value.items():
                sub = f"{path}{SEP}{key}" if path else str(key)
                if key in node:
                    self._flatten(node[key], item, sub, flat)
                else:
                    _flatten_plain(item, sub, flat)
            return
        if (
            isinstance(node, list)
            and not all(isinstance(child, _Const) for child in node)
            and isinstance(value, (list, tuple))
            and len(value) == len(node)
        ):
            for i, (child, item) in enumerate(zip(node, value)):
                self._flatten(child, item, f"{path}{SEP}{i}" if path else str(i), flat)
            return
        if isinstance(node, _Ref) and isinstance(param := self._params[node.name], CategoricalParam):
            try:
                chosen = param.categories[self._match_category(param, value, path, {}, _LENIENT)]
            except _Mismatch:
                chosen = None
            if chosen is not None and not isinstance(chosen, _Const):
                self._flatten(chosen, value, path, flat)
                return
        _flatten_plain(value, path, flat)

    def _walk_keys(
        self,
        node: _Node,
        path: str,
        keys: dict[str, Any],
        *,
        with_consts: bool = False,
        nested_choices_vary: bool = False,
        fixed: bool = True,
    ) -> None:
        """Collect flat keys (with constant values, or _NOT_CONST for parameters) under node.

        With ``nested_choices_vary``, constants inside a choice's categories count as
        _NOT_CONST (their value depends on the category chosen); ``fixed`` False says the
        walk is inside such a category.
        """

        def const(value: Any) -> Any:
            return (value if fixed else _NOT_CONST) if with_consts else None

        if isinstance(node, list) and all(isinstance(item, _Const) for item in node):
            # flatten() keeps lists whole: a list of constants is one key.
            keys[path] = const([item.value for item in node if isinstance(item, _Const)])
        elif isinstance(node, (dict, list)):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                self._walk_keys(
                    child,
                    f"{path}{SEP}{key}" if path else str(key),
                    keys,
                    with_consts=with_consts,
                    nested_choices_vary=nested_choices_vary,
                    fixed=fixed,
                )
        elif isinstance(node, _Const):
            if isinstance(node.value, Mapping) and node.value:
                for key, value in flatten(node.value, prefix=path).items():
                    keys[key] = const(value)
            else:
                keys[path] = const(node.value)
        else:
            param = self._params[node.name]
            if isinstance(param, CategoricalParam):
                for category in param.categories:
                    if _is_scalar_category(category):
                        keys.setdefault(path, _NOT_CONST if with_consts else None)
                    else:
                        self._walk_keys(
                            category,
                            path,
                            keys,
                            with_consts=with_consts,
                            nested_choices_vary=nested_choices_vary,
                            fixed=fixed and not nested_choices_vary,
                        )
            else:
                keys[path] = _NOT_CONST if with_consts else None

    def _build(self, node: _Node, columns: Mapping[str, list[Any]], row: int) -> Any:
        if isinstance(node, dict):
            return {k: self._build(v, columns, row) for k, v in node.items()}
        if isinstance(node, list):
            return [self._build(v, columns, row) for v in node]
        if isinstance(node, _Const):
            return copy_value(node.value)
        param = self._params[node.name]
        value = columns[node.name][row]
        if isinstance(param, CategoricalParam):
            return self._build(param.categories[value], columns, row)
        return value

    def _encode_values(self, rows: list[dict[str, Any]], categorical: CategoricalEncoding) -> np.ndarray:
        _check_encoding(categorical)
        out = np.full((len(rows), self.dim(categorical)), 0.5)
        for name, sl in self.slices(categorical).items():
            active = [i for i, row in enumerate(rows) if name in row]
            if active:
                values = [rows[i][name] for i in active]
                out[active, sl] = self._params[name].encode(values, categorical)
        return out


class _Builder:
    """Turns a Tune param_space into a template, registering parameters as it goes."""

    def __init__(self, params: dict[str, Param]) -> None:
        self.params = params
        self.keys: dict[str, str] = {}  # parameter name -> canonical spec, to spot repeats

    def build(self, node: Any, path: tuple[str, ...], branch: int | None) -> _Node:
        from ray.tune.search.sample import Categorical, Domain, Float, Function, Integer

        name = SEP.join(path)
        if isinstance(node, Mapping):
            if "grid_search" in node:
                raise UnsupportedDomainError(
                    f"Parameter {name!r} uses tune.grid_search, which a searcher cannot "
                    f"sample from. Use tune.choice({list(node['grid_search'])!r}) instead, or "
                    "run the grid with Tune's default search (no search_alg)."
                )
            template: dict[str, _Node] = {}
            for key, child in node.items():
                if not isinstance(key, str) or SEP in key or not key:
                    raise InvalidConfigError(
                        f"Key {key!r} under {name or '<root>'!r} must be a non-empty string "
                        f"without {SEP!r} (meta-tune joins nested keys with {SEP!r}); rename it."
                    )
                template[key] = self.build(child, (*path, key), branch)
            return template
        if isinstance(node, list):
            return [self.build(child, (*path, str(i)), branch) for i, child in enumerate(node)]
        if isinstance(node, Function):
            raise UnsupportedDomainError(
                f"Parameter {name!r} uses tune.sample_from, a Python function meta-tune "
                "cannot encode. Use a Tune domain (tune.uniform, tune.loguniform, "
                "tune.randint, tune.choice, ...); for a parameter that depends on another, "
                "use tune.choice over dicts, one sub-space per case."
            )
        if isinstance(node, Categorical):
            return self._categorical(node, path, branch)
        if isinstance(node, (Float, Integer)):
            return self._register(_numeric_param(node, name), path, branch)
        if isinstance(node, Domain):
            raise UnsupportedDomainError(
                f"Parameter {name!r} has a domain of type {type(node).__name__} with "
                f"sampler {type(node.get_sampler()).__name__}, which meta-tune cannot encode."
            )
        return _Const(node)

    def _categorical(self, node: Any, path: tuple[str, ...], branch: int | None) -> _Node:
        name = SEP.join(path)
        categories = list(node.categories)
        if not categories:
            raise InvalidConfigError(f"Parameter {name!r} is a tune.choice with no categories.")
        # A category that is itself a domain (a choice between two ranges, say) becomes
        # parameter "name@i"; the domains inside dict and list categories keep their paths.
        nodes = tuple(
            _Const(c)
            if not _holds_domain(c)
            else self.build(c, path if isinstance(c, (Mapping, list)) else (*path[:-1], f"{path[-1]}@{i}"), i)
            for i, c in enumerate(categories)
        )
        return self._register(CategoricalParam(name=name, n=len(nodes), categories=nodes), path, branch)

    def _register(self, param: Param, path: tuple[str, ...], branch: int | None) -> _Ref:
        key = json.dumps(_param_json(param), sort_keys=True, default=repr)
        name = param.name
        if name in self.params and self.keys[name] != key:
            # Same path, other domain (in another category of a choice): a new name.
            base = name if branch is None else f"{name}@{branch}"
            candidates = (base + ("" if n == 1 else f"_{n}") for n in range(1, 1000))
            name = next(c for c in candidates if c not in self.params or self.keys[c] == key)
            param = _renamed(param, name)
        self.params.setdefault(name, param)
        self.keys.setdefault(name, key)
        return _Ref(name)


def _renamed(param: Param, name: str) -> Param:
    return replace(param, name=name)


def _numeric_param(domain: Any, name: str) -> Param:
    from ray.tune.search.sample import Float, LogUniform, Normal, Quantized, Uniform

    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q, sampler = sampler.q, sampler.get_sampler()
        if not (_is_number(q) and q > 0):
            raise InvalidConfigError(f"Parameter {name!r}: quantization q must be > 0, got {q!r}.")
    if isinstance(sampler, Normal):
        return NormalParam(
            name=name, mean=float(sampler.mean), sd=float(sampler.sd), q=None if q is None else float(q)
        )
    if not isinstance(sampler, (Uniform, LogUniform)):
        raise UnsupportedDomainError(
            f"Parameter {name!r} has a {type(domain).__name__} domain with sampler "
            f"{type(sampler).__name__}, which meta-tune cannot encode."
        )
    log = isinstance(sampler, LogUniform)
    lower, upper = domain.lower, domain.upper
    if not (math.isfinite(lower) and math.isfinite(upper)) or lower > upper:
        raise InvalidConfigError(
            f"Parameter {name!r} needs finite bounds lower <= upper, got [{lower}, {upper}]."
        )
    if isinstance(domain, Float):
        if q is None:
            return FloatParam(name=name, lower=float(lower), upper=float(upper), log=log)
        k_lo, k_hi = _grid_index(lower / q, math.ceil), _grid_index(upper / q, math.floor)
        _check_grid(name, k_lo, k_hi, lower=lower, upper=upper, q=q)
        from meta_tune.space._params import _snap

        lo, hi = (float(v) for v in _snap(np.array([k_lo * q, k_hi * q], dtype=float), float(q)))
        return FloatParam(name=name, lower=lo, upper=hi, log=log, q=float(q))
    # Integer domains: Tune's upper bound is exclusive, except for quantized ones (q > 1).
    q_int = 1 if q is None else q
    if int(q_int) != q_int:
        raise InvalidConfigError(f"Parameter {name!r}: an integer domain needs an integer q, got {q!r}.")
    q_int = int(q_int)
    if q_int == 1:
        k_lo, k_hi = int(lower), int(upper) - 1
    else:
        k_lo, k_hi = _grid_index(lower / q_int, math.ceil), _grid_index(upper / q_int, math.floor)
    _check_grid(name, k_lo, k_hi, lower=lower, upper=upper, q=q_int)
    return IntParam(name=name, lower=k_lo * q_int, upper=k_hi * q_int, log=log, q=q_int)


def _grid_index(scaled: float, round_fn: Callable[[float], int]) -> int:
    nearest = round(scaled)
    return int(nearest) if math.isclose(scaled, nearest) else int(round_fn(scaled))


def _check_grid(name: str, k_lo: int, k_hi: int, *, lower: float, upper: float, q: float) -> None:
    if k_hi < k_lo:
        raise InvalidConfigError(
            f"Parameter {name!r} has no value: no multiple of q={q} lies in [{lower}, {upper}] "
            "(integer upper bounds are exclusive for q=1). Widen the bounds or change q."
        )


_NOT_CONST = object()


def _flatten_plain(value: Any, path: str, flat: dict[str, Any]) -> None:
    """:func:`flatten`'s rule for a value at ``path``: dicts joined with ``"/"``, lists whole."""
    if isinstance(value, Mapping) and value:
        flat.update(flatten(value, prefix=path))
    else:
        flat[path] = value


def _is_scalar_category(category: _Node) -> bool:
    """A category stored under the choice's own key (not a dict that flattens into sub-keys)."""
    return isinstance(category, _Const) and not (isinstance(category.value, Mapping) and category.value)


def _present(value: Any) -> Any:
    """The value as a Python scalar, or None where it is missing (None or NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _holds_domain(value: Any) -> bool:
    from ray.tune.search.sample import Domain

    if isinstance(value, Domain):
        return True
    if isinstance(value, Mapping):
        return "grid_search" in value or any(_holds_domain(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_domain(v) for v in value)
    return False


def _same(a: Any, b: Any, *, exact: bool) -> bool:
    """Equality that tells 1, 1.0 and True apart when ``exact`` (numbers compare by value otherwise)."""
    if isinstance(b, np.generic):
        b = b.item()
    if _is_number(a) and _is_number(b):
        return a == b and (type(a) is type(b) or not exact)
    if type(a) is not type(b):
        return (
            not exact
            and isinstance(a, (list, tuple))
            and isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(_same(x, y, exact=exact) for x, y in zip(a, b))
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, exact=exact) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], exact=exact) for k in a)
    try:
        return bool(a == b)
    except Exception:  # objects whose == is not a plain bool (arrays, ...)
        return a is b


def _check_encoding(categorical: str) -> None:
    if categorical not in _CATEGORICAL_ENCODINGS:
        raise InvalidConfigError(f"categorical must be one of {_CATEGORICAL_ENCODINGS}, got {categorical!r}")


# ---------------------------------------------------------------------- JSON helpers
def _const_to_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        return _const_to_json(value.item())
    if isinstance(value, list):
        return [_const_to_json(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_const_to_json(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _const_to_json(v) for k, v in value.items()}}
    return {"__repr__": repr(value)}


def _const_from_json(data: Any) -> Any:
    if isinstance(data, list):
        return [_const_from_json(v) for v in data]
    if isinstance(data, dict):
        if "__tuple__" in data:
            return tuple(_const_from_json(v) for v in data["__tuple__"])
        if "__dict__" in data:
            return {k: _const_from_json(v) for k, v in data["__dict__"].items()}
        if "__float__" in data:
            return float(data["__float__"])
        if "__repr__" in data:
            logger.warning(
                "A constant of the stored search space was not JSON-serializable and is "
                "restored as its repr string %r.",
                data["__repr__"],
            )
            return data["__repr__"]
    return data


def _node_to_json(node: _Node) -> Any:
    if isinstance(node, dict):
        return {"dict": {k: _node_to_json(v) for k, v in node.items()}}
    if isinstance(node, list):
        return {"list": [_node_to_json(v) for v in node]}
    if isinstance(node, _Const):
        return {"const": _const_to_json(node.value)}
    return {"param": node.name}


def _node_from_json(data: Mapping[str, Any]) -> _Node:
    if "dict" in data:
        return {k: _node_from_json(v) for k, v in data["dict"].items()}
    if "list" in data:
        return [_node_from_json(v) for v in data["list"]]
    if "const" in data:
        return _Const(_const_from_json(data["const"]))
    return _Ref(data["param"])


def _param_json(param: Param) -> dict[str, Any]:
    entry = param.spec()
    if isinstance(param, CategoricalParam):
        entry["categories"] = [_node_to_json(c) for c in param.categories]
    return entry


def _param_from_json(data: Mapping[str, Any]) -> Param:
    kind, name = data["type"], data["name"]
    if kind == "float":
        return FloatParam(name=name, lower=data["lower"], upper=data["upper"], log=data["log"], q=data["q"])
    if kind == "int":
        return IntParam(name=name, lower=data["lower"], upper=data["upper"], log=data["log"], q=data["q"])
    if kind == "normal":
        return NormalParam(name=name, mean=data["mean"], sd=data["sd"], q=data["q"])
    if kind == "categorical":
        categories = tuple(_node_from_json(c) for c in data["categories"])
        return CategoricalParam(name=name, n=data["n"], categories=categories)
    raise InvalidConfigError(f"Unknown parameter type {kind!r} for {name!r} in a stored search space.")
