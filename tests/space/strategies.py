"""Hypothesis strategies: Tune param_spaces with, for each, valid configs and a validity check.

Each generated leaf carries the Tune domain, a strategy of values valid for it (written
from Tune's documented semantics, not from meta-tune's code) and a check of a value, so
the property tests judge meta-tune's encoding against an independent definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from ray import tune


@dataclass
class Leaf:
    domain: Any
    values: st.SearchStrategy[Any]
    valid: Callable[[Any], bool]


def _on_grid(x: float, q: float) -> bool:
    return math.isclose(x / q, round(x / q), rel_tol=1e-9, abs_tol=1e-9)


def _is_float(x: Any) -> bool:
    return type(x) is float and math.isfinite(x)


@st.composite
def float_leaf(draw: st.DrawFn) -> Leaf:
    log = draw(st.booleans())
    quantized = draw(st.booleans())
    if log:
        lo_exp = draw(st.integers(-8, 2))
        lo = 10.0**lo_exp
        hi = lo * draw(st.sampled_from([2.0, 10.0, 1000.0, 1e6]))
    else:
        lo = draw(st.floats(-1e3, 1e3, allow_nan=False))
        hi = lo + draw(st.floats(1e-3, 1e4, allow_nan=False))
    if quantized:
        q = lo if log else draw(st.sampled_from([0.001, 0.01, 0.1, 0.25, 0.5, 1.0]))
        k_lo, k_hi = math.ceil(lo / q - 1e-9), math.floor(hi / q + 1e-9)
        k_hi = max(k_hi, k_lo)
        lo, hi = k_lo * q, k_hi * q
        domain = (tune.qloguniform if log else tune.quniform)(lo, hi, q)
        return Leaf(
            domain,
            st.integers(k_lo, k_hi).map(lambda k: k * q),
            lambda x: _is_float(x) and lo - 1e-9 * abs(lo) <= x <= hi + 1e-9 * abs(hi) and _on_grid(x, q),
        )
    domain = (tune.loguniform if log else tune.uniform)(lo, hi)
    return Leaf(domain, st.floats(lo, hi, allow_nan=False), lambda x: _is_float(x) and lo <= x <= hi)


@st.composite
def int_leaf(draw: st.DrawFn) -> Leaf:
    log = draw(st.booleans())
    q = draw(st.sampled_from([1, 1, 2, 3, 5]))
    lo = draw(st.integers(1, 50) if log else st.integers(-50, 50))
    hi = lo + draw(st.integers(1, 1000))
    if q == 1:  # randint / lograndint: upper bound exclusive
        domain = (tune.lograndint if log else tune.randint)(lo, hi)
        allowed_lo, allowed_hi = lo, hi - 1
    else:  # qrandint / qlograndint: multiples of q, upper bound inclusive
        lo, hi = math.ceil(lo / q) * q, max(math.ceil(lo / q) * q, math.floor(hi / q) * q)
        domain = (tune.qlograndint if log else tune.qrandint)(lo, hi, q)
        allowed_lo, allowed_hi = lo, hi
    return Leaf(
        domain,
        st.integers(allowed_lo // q, allowed_hi // q).map(lambda k: k * q),
        lambda x: type(x) is int and allowed_lo <= x <= allowed_hi and x % q == 0,
    )


@st.composite
def normal_leaf(draw: st.DrawFn) -> Leaf:
    mean = draw(st.floats(-10, 10))
    sd = draw(st.floats(0.1, 10))
    if draw(st.booleans()):
        q = draw(st.sampled_from([0.1, 0.5, 1.0]))
        lo_k, hi_k = math.ceil((mean - 5 * sd) / q), math.floor((mean + 5 * sd) / q)
        return Leaf(
            tune.qrandn(mean, sd, q),
            st.integers(lo_k, hi_k).map(lambda k: k * q),
            lambda x: _is_float(x) and _on_grid(x, q),
        )
    return Leaf(tune.randn(mean, sd), st.floats(mean - 5 * sd, mean + 5 * sd), _is_float)


CONSTANTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.5, 1.0, 2.5]),
    st.text("abc", min_size=1, max_size=3),
    st.lists(st.integers(0, 3), max_size=2),
)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@st.composite
def node(draw: st.DrawFn, depth: int, in_choice: bool = False) -> Leaf:
    """A leaf domain, a constant, or (when depth allows) a choice over constants and sub-spaces.

    A normal domain is never a direct category of a choice: it accepts every float, so a
    value of a sibling range would be read as the normal's (and outside +-7 sd the normal
    encoding saturates).
    """
    kinds = ["float", "int", "const", "choice"] + ([] if in_choice else ["normal"])
    kinds += ["subchoice"] if depth > 0 else []
    kind = draw(st.sampled_from(kinds))
    if kind == "float":
        return draw(float_leaf())
    if kind == "int":
        return draw(int_leaf())
    if kind == "normal":
        return draw(normal_leaf())
    if kind == "const":
        value = draw(CONSTANTS)
        return Leaf(value, st.just(value), lambda x: _same(x, value))
    if kind == "choice":  # mixed-type categories, e.g. [1, 1.0, True, "a", None]
        cats = draw(st.lists(CONSTANTS, min_size=1, max_size=5))
        return Leaf(tune.choice(cats), st.sampled_from(cats), lambda x: any(_same(x, c) for c in cats))
    # Conditional sub-space: a choice over dicts holding domains, and plain constants.
    branches: list[Leaf] = []
    for tag in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            branches.append(draw(node(depth - 1, in_choice=True)))
        else:
            sub = draw(subspace(depth - 1))
            # Tags unique across nesting levels too: with "branch1" both in this choice and in a
            # choice nested in it, two categories differ only in their other keys, and a
            # flattened config that lacks one of those keys cannot say which it was.
            label = f"branch{depth}.{tag}"
            sub.domain["kind"] = label
            sub.values = sub.values.map(lambda d, t=label: {**d, "kind": t})
            branches.append(sub)
    return Leaf(
        tune.choice([b.domain for b in branches]),
        st.one_of(*[b.values for b in branches]),
        lambda x: any(b.valid(x) for b in branches),
    )


@st.composite
def subspace(draw: st.DrawFn, depth: int = 2) -> Leaf:
    """A dict of named nodes: the Tune param_space, its valid configs and their check."""
    names = draw(
        st.lists(
            st.sampled_from(["lr", "width", "depth", "act", "model", "drop", "opt"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    children = {name: draw(node(depth)) for name in names}

    def valid(x: Any) -> bool:
        return (
            isinstance(x, dict)
            and set(x) - {"kind"} == set(children)
            and all(children[k].valid(x[k]) for k in children)
        )

    return Leaf(
        {k: c.domain for k, c in children.items()},
        st.fixed_dictionaries({k: c.values for k, c in children.items()}),
        valid,
    )
