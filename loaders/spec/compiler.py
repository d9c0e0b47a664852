"""Compiling a spec into design rows, as the pipeline's compiler does, in the same order.

The model: an ordered list of product axes, each with its levels. Rules run in file order and
rewrite it: a subset filters an axis; a tie merges axes into one named by the tie (their common
levels, in the first axis' order); a pair or a tuple replaces its axes with one synthetic axis,
at the place of the earliest of them, whose levels are the allowed combinations. The rows are
the Cartesian product of the final axes, each expanded back: pairs first, then tuples (so a pair
may name a tuple), then each tied axis copied from its tie. The tie's own name stays in the row.
Finally output.field_order puts its fields first; the rest keep their place.

Where the pipeline's compiler would crash or silently lose columns, we refuse instead:
- a rule naming an axis that a tie merged away (for a pair or tuple the pipeline drops the tie's
  other axes); name the tie instead;
- a rule naming a pair (a pair inside a pair leaves the inner one unexpanded), a tuple or a
  subset naming a tuple, a tie naming a pair, a tuple or another tie;
- a pair, tuple or tie whose name is already an axis or a rule (a tie may carry the name of
  one of its own axes).
"""

from __future__ import annotations

import math
from itertools import product
from random import Random
from typing import Any

from lineage.loaders.spec.model import Pair, Spec, SpecError, Subset, Tie, TupleRule

MAX_ROWS = 1_000_000


class _Design:
    """The axes while the rules run, and what the rows must expand afterwards."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.order: list[str] = list(spec.axes)
        self.levels: dict[str, list] = {}
        for name in self.order:
            seen: list = []
            for value in spec.axes[name]:  # duplicates dropped, first place kept
                if value not in seen:
                    seen.append(value)
            self.levels[name] = seen
        self.tied: dict[str, str] = {}  # axis -> the tie it was merged into; a tie maps to itself
        self.pairs: dict[str, tuple[str, str]] = {}
        self.tuples: dict[str, tuple[str, ...]] = {}

    def fail(self, rule: Any, why: str) -> SpecError:
        kind = {Subset: "subsets", Tie: "ties", Pair: "pairs", TupleRule: "tuples"}[type(rule)]
        name = rule.axis if isinstance(rule, Subset) else rule.name
        return SpecError(f"{self.spec.source}: rules.{kind}.{name}: {why}")

    def fresh(self, rule: Any, name: str) -> None:
        if name in self.spec.axes or name in self.pairs or name in self.tuples or name in self.tied:
            raise self.fail(rule, f"the name {name!r} is already an axis or a rule")

    def resolve(self, rule: Any, axis: str, *, tuples_ok: bool) -> str:
        """The current axis a rule's axis name stands for; refusals as the module says."""
        if axis in self.pairs:
            raise self.fail(rule, f"{axis!r} is a pair; rules over pairs are not supported")
        if axis in self.tuples and not tuples_ok:
            raise self.fail(rule, f"{axis!r} is a tuple; only a pair may name a tuple")
        target = self.tied.get(axis, axis)
        if target != axis:
            raise self.fail(rule, f"{axis!r} was tied into {target!r}; name the tie instead "
                                  "(the pipeline would drop the other tied axes)")
        if axis not in self.levels:
            raise self.fail(rule, f"there is no axis {axis!r} at this point")
        return axis

    def replace(self, names: list[str], name: str, levels: list) -> None:
        """Put a synthetic axis where the earliest of `names` stood, and drop them."""
        at = min(self.order.index(n) for n in names)
        for n in names:
            self.order.remove(n)
            del self.levels[n]
        self.order.insert(at, name)
        self.levels[name] = levels


def _subset(d: _Design, rule: Subset) -> None:
    if rule.axis in d.tuples:
        raise d.fail(rule, f"{rule.axis!r} is a tuple; subsets of tuples are not supported")
    axis = d.resolve(rule, rule.axis, tuples_ok=False)
    keep = set(rule.keep)
    kept = [v for v in d.levels[axis] if v in keep]
    if not kept:
        raise d.fail(rule, "keeps none of the axis' levels")
    d.levels[axis] = kept


def _tie(d: _Design, rule: Tie) -> None:
    for axis in rule.axes:
        if axis in d.tied or axis in d.tuples:
            raise d.fail(rule, f"{axis!r} is a tie or a tuple; ties of those are not supported")
        d.resolve(rule, axis, tuples_ok=False)
    if rule.name not in rule.axes:
        d.fresh(rule, rule.name)
    first, rest = rule.axes[0], [set(d.levels[a]) for a in rule.axes[1:]]
    common = [v for v in d.levels[first] if all(v in s for s in rest)]
    if not common:
        raise d.fail(rule, f"the axes {', '.join(rule.axes)} have no level in common")
    d.levels[rule.name] = common
    if rule.name not in d.order:
        d.order.insert(min(d.order.index(a) for a in rule.axes), rule.name)
    d.tied.setdefault(rule.name, rule.name)
    for axis in rule.axes:
        d.tied[axis] = rule.name
        if axis != rule.name:
            d.order.remove(axis)
            del d.levels[axis]


def _pair(d: _Design, rule: Pair) -> None:
    if rule.left == rule.right:
        raise d.fail(rule, "left and right name the same axis")
    left = d.resolve(rule, rule.left, tuples_ok=True)
    right = d.resolve(rule, rule.right, tuples_ok=True)
    d.fresh(rule, rule.name)
    left_levels, right_levels = set(d.levels[left]), set(d.levels[right])
    pairs: list = []
    for lv, rv in rule.allowed:
        if lv not in left_levels:
            raise d.fail(rule, f"[{lv!r}, {rv!r}]: {lv!r} is no level of {rule.left!r} at this point")
        if rv not in right_levels:
            raise d.fail(rule, f"[{lv!r}, {rv!r}]: {rv!r} is no level of {rule.right!r} at this point")
        if (lv, rv) not in pairs:
            pairs.append((lv, rv))
    for side, i in (("left", 0), ("right", 1)):
        if rule.balance in (side, "both"):
            counts: dict = {}
            for p in pairs:
                counts[p[i]] = counts.get(p[i], 0) + 1
            if len(set(counts.values())) > 1:
                shown = ", ".join(f"{k!r}: {v}" for k, v in counts.items())
                raise d.fail(rule, f"not balanced on the {side}: {shown}")
    d.replace([left, right], rule.name, pairs)
    d.pairs[rule.name] = (rule.left, rule.right)


def _tuple(d: _Design, rule: TupleRule) -> None:
    axes = [d.resolve(rule, a, tuples_ok=False) for a in rule.axes]
    d.fresh(rule, rule.name)
    domains = [set(d.levels[a]) for a in axes]
    items: list = []
    for item in rule.items:
        for axis, value, domain in zip(rule.axes, item, domains):
            if value not in domain:
                raise d.fail(rule, f"item {list(item)!r}: {value!r} is no level of {axis!r} at this point")
        if item not in items:
            items.append(item)
    d.replace(axes, rule.name, items)
    d.tuples[rule.name] = rule.axes


_APPLY = {Subset: _subset, Tie: _tie, Pair: _pair, TupleRule: _tuple}


def compile_rows(spec: Spec, *, seed: int | None = None, max_rows: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The design rows of a spec, in the pipeline's order: one dict per row, keys in column order.

    `seed` shuffles the rows as the pipeline's compiler does when given one (the cohort build
    gives none, and output.seed is ignored). More than `max_rows` rows is refused before any
    is made.
    """
    d = _Design(spec)
    for rule in spec.rules:
        _APPLY[type(rule)](d, rule)
    count = math.prod(len(d.levels[a]) for a in d.order)
    if count > max_rows:
        raise SpecError(f"{spec.source}: the spec compiles to {count:,} rows, more than the "
                        f"limit of {max_rows:,}")
    combos = list(product(*(d.levels[a] for a in d.order)))
    if seed is not None:
        Random(seed).shuffle(combos)
    return [_expand(d, dict(zip(d.order, combo))) for combo in combos]


def _expand(d: _Design, row: dict[str, Any]) -> dict[str, Any]:
    done = []
    for name, (left, right) in d.pairs.items():
        if name in row:
            row[left], row[right] = row[name]
            done.append(name)
    for name in done:
        del row[name]
    done = []
    for name, axes in d.tuples.items():
        if name in row:
            row.update(zip(axes, row[name]))
            done.append(name)
    for name in done:
        del row[name]
    for axis, tie in d.tied.items():
        if axis != tie and tie in row and axis not in row:
            row[axis] = row[tie]
    if not d.spec.field_order:
        return row
    first = [f for f in d.spec.field_order if f in row]
    out = {f: row[f] for f in first}
    out.update((k, v) for k, v in row.items() if k not in out)
    return out
