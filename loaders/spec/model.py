"""The data of a cohort spec, its rules and its planned generations, and the one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from lineage.core.status import UsageError

# A level as the spec can hold one: a string, or a whole number written without quotes in YAML.
# An int and a string differ (1 != "1"): the pipeline compares levels as the YAML parser typed
# them, so we keep them as typed until the planner turns them into text.
Level = Union[str, int]
# What a pair's side can hold: a level, or a tuple of levels when the side names a tuple rule.
PairValue = Union[Level, tuple]


class SpecError(UsageError):
    """A spec we refuse: invalid, or using a construct we do not support. One line, naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))


@dataclass(frozen=True)
class Subset:
    """`rules.subsets.<axis>`: keep only these levels of the axis (in the axis' own order)."""

    axis: str
    keep: tuple[Level, ...]


@dataclass(frozen=True)
class Tie:
    """`rules.ties.<name>`: the axes take the same level; `name` is the axis they are merged into."""

    name: str
    axes: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    """`rules.pairs.<name>`: only the allowed (left, right) combinations, optionally balanced."""

    name: str
    left: str
    right: str
    allowed: tuple[tuple[PairValue, PairValue], ...]
    balance: str | None = None  # left | right | both


@dataclass(frozen=True)
class TupleRule:
    """`rules.tuples.<name>`: the axes move together, one item per allowed combination."""

    name: str
    axes: tuple[str, ...]
    items: tuple[tuple[Level, ...], ...]


Rule = Union[Subset, Tie, Pair, TupleRule]


@dataclass(frozen=True)
class Spec:
    """A loaded cohort spec.

    `axes` holds the declared axes in file order, then the axes that only tuple rules name
    (their levels come from the items). `rules` are in the order the file lists them: the
    pipeline applies the sections in that order, not in a fixed subsets-ties-pairs-tuples order.
    """

    source: str  # the config file
    axes: dict[str, tuple[Level, ...]]
    rules: tuple[Rule, ...]
    field_order: tuple[str, ...]
    derived: tuple[str, ...] = ()  # the axes whose levels come from tuple items
    seed: Any = None  # output.seed: read, and ignored as the pipeline ignores it


STAGE_ORDER = ("draft", "essay", "evaluation")


@dataclass(frozen=True)
class Planned:
    """One generation a cohort build would register and seed.

    `combo_id` is the draft's combo for every stage (as in the pipeline's wide membership rows);
    only a draft's metadata records it. `mode` is None when no template catalog was given.
    """

    stage: str
    gen_id: str
    combo_id: str
    template_id: str
    llm_model_id: str
    replicate: int
    parent_gen_id: str | None = None
    mode: str | None = None

    def metadata(self, cohort_id: str) -> dict[str, Any]:
        """The metadata.json the build seeds for this generation when none exists yet."""
        meta: dict[str, Any] = {"stage": self.stage, "gen_id": self.gen_id,
                                "origin_cohort_id": str(cohort_id)}
        if self.mode is not None:
            meta["mode"] = self.mode
        meta["template_id"] = self.template_id
        if self.stage == "draft":
            meta["combo_id"] = self.combo_id
        if self.parent_gen_id:
            meta["parent_gen_id"] = self.parent_gen_id
        meta["llm_model_id"] = self.llm_model_id
        meta["replicate"] = self.replicate
        return meta


@dataclass
class Plan:
    """What a cohort build makes of the compiled rows.

    `generations`: one per gen_id, drafts first, then essays, then evaluations, each stage in
    the order its first row appears. `merged`: planned entries the build drops because an
    earlier one got the same gen_id (an essay's ID ignores essay_llm; IDs ignore case).
    """

    generations: list[Planned] = field(default_factory=list)
    merged: list[Planned] = field(default_factory=list)

    def stage(self, name: str) -> list[Planned]:
        return [g for g in self.generations if g.stage == name]

    def ids(self, name: str | None = None) -> list[str]:
        return [g.gen_id for g in self.generations if name is None or g.stage == name]
