"""Plain records shared by the loaders, the queries and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

SEVERITIES = ("info", "warn", "error")
SEVERITY_RANK = {"none": 0, "info": 1, "warn": 2, "error": 3}


# Node keys of the lineage graph, spelled here once: the graph, the write path and the Neo4j
# loader (which prefixes the data root) all name a node this way.
def gen_key(stage: str, gen_id: str) -> str:
    return f"gen:{stage}/{gen_id}"


def missing_key(gen_id: str) -> str:
    return f"missing:{gen_id}"


def cohort_key(cohort_id: str) -> str:
    return f"cohort:{cohort_id}"


def artifact_key(path: str) -> str:
    return f"artifact:{path}"


def problem_key(n: int) -> str:
    return f"problem:{n}"


# The labels of a generation node, by stage (Neo4j makes them labels; networkx keeps them).
GENERATION_LABELS = {"draft": ("Generation", "Draft"), "essay": ("Generation", "Essay"),
                     "evaluation": ("Generation", "Evaluation")}


@dataclass(slots=True)
class Generation:
    """One folder under gens/<stage>/ and the facts derived from it while loading.

    It is also the generation's node in the lineage graph: node["stage"] reads the field, as
    node["path"] reads a Cohort node's dict. A copy of these fields in a dict per generation
    cost half a gigabyte on a million generations.
    """

    stage: str
    gen_id: str  # the folder name, which IS the ID
    files: tuple[str, ...] = ()
    meta: dict[str, Any] | None = None  # dropped after derive when the command needs no metadata
    meta_status: str = "ok"  # ok | missing | invalid
    meta_error: str = ""
    # Derived facts (lineage.core.metadata.derive fills them in). The lists stay shared empty
    # tuples until something is wrong: three fewer objects per generation.
    id_kind: str = ""  # deterministic | legacy | malformed
    id_problem: str = ""  # why a malformed ID is malformed
    prefix_stage: str = ""  # the stage a deterministic prefix names
    meta_gen_id: str = ""
    meta_stage: str = ""
    parent_gen_id: str = ""
    mode: str = ""
    expected_id: str = ""  # the ID the metadata implies (k = 0), when it implies one
    signature_error: str = ""
    id_matches: bool | None = None  # recomputation agrees for some k in 0..4
    required_missing: Sequence[str] = ()
    extraneous: Sequence[str] = ()
    invalid_values: Sequence[str] = ()
    # The node key (gen_key), made once: the graph's dicts, its edges and every finding share it.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = gen_key(self.stage, self.gen_id)

    # Read as a node's properties: node["name"] and node.get("name") (in C: no call per read).
    __getitem__ = object.__getattribute__

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)

    @property
    def labels(self) -> tuple[str, ...]:
        return GENERATION_LABELS[self.stage]

    @property
    def path(self) -> str:
        """The folder, relative to the data root, with forward slashes."""
        return f"gens/{self.stage}/{self.gen_id}"

    @property
    def metadata_path(self) -> str:
        return f"gens/{self.stage}/{self.gen_id}/metadata.json"


@dataclass(slots=True)
class Member:
    """One row of a cohort's membership.csv."""

    stage: str
    gen_id: str
    line: int


@dataclass(slots=True)
class Cohort:
    """A cohort folder; its membership rows as parallel lists (member i is stages[i],
    gen_ids[i] on line lines[i]): a big store's cohorts list every generation."""

    cohort_id: str
    path: str  # cohorts/<id>
    membership_path: str = ""  # empty when the cohort has no membership.csv
    stages: list[str] = field(default_factory=list)
    gen_ids: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    membership_read: bool = False  # membership.csv had the stage and gen_id columns
    spec_path: str = ""  # cohorts/<id>/spec/config.yaml when the cohort has a spec (2025-10-02 on)

    @property
    def members(self) -> list[Member]:
        return list(map(Member, self.stages, self.gen_ids, self.lines))


@dataclass(slots=True)
class Reference:
    """An ID mentioned by a file other than a generation's own metadata."""

    path: str  # the file, relative to the data root
    gen_id: str
    line: int | None  # 1-based; a CSV header is line 1
    column: str  # CSV column name; "" for text lines and file names
    stage: str = ""  # the stage the place implies, when it implies one
    kind: str = "cell"  # cell | path | selection | file_name


@dataclass(slots=True)
class References:
    """The IDs one file mentions in one column (or in one way: selection lines, file names),
    as parallel lists: gen_ids[i] at lines[i], in a place that implies stages[i] ("" if none).

    Columnar because a store's CSVs mention hundreds of thousands of IDs; lists per column
    cost a fraction of an object per cell, and the graph resolves a whole column at once.
    """

    path: str
    column: str
    kind: str  # cell | path | selection | file_name
    gen_ids: list[str] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    # Where the scan's helper process found each ID among the store's generations (-1: not
    # there), when it resolved the column while the caller went on; the graph reads it.
    positions: Sequence[int] | None = field(default=None, repr=False, compare=False)

    def __iter__(self):
        path, column, kind = self.path, self.column, self.kind
        for gen_id, line, stage in zip(self.gen_ids, self.lines, self.stages):
            yield Reference(path, gen_id, line, column, stage, kind)


@dataclass(slots=True)
class Selection:
    """A curated selection file (2_tasks/selected_essays.txt or selected_drafts.txt)."""

    path: str
    stage: str  # essay | draft
    ids: list[tuple[int, str]] = field(default_factory=list)  # (line, gen_id)
    mode: str = ""  # the curated-mode directive, if any
    flags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Problem:
    """A file or folder the loader could not use, with the check it becomes."""

    check: str
    path: str
    message: str
    line: int | None = None
    cohort: str = ""
    stage: str = ""  # the generation the problem is about, when it is about one
    gen_id: str = ""


@dataclass(slots=True)
class Store:
    """Everything one scan of a data root found."""

    root: str
    generations: list[Generation] = field(default_factory=list)
    cohorts: list[Cohort] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)
    reference_columns: list[References] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # files that were searched for IDs
    # Set by a scan whose helper resolves references ahead: fills their `positions` (waiting
    # for the helper if need be) and returns the generations they index, or None. The graph
    # calls it as late as it can.
    ahead: Callable[[], list[Generation] | None] | None = field(default=None, repr=False, compare=False)

    @property
    def references(self) -> list[Reference]:
        """Every reference, one record each (for code that wants them one at a time)."""
        return [ref for refs in self.reference_columns for ref in refs]


@dataclass(slots=True)
class Finding:
    check: str
    severity: str
    message: str
    stage: str | None = None
    gen_id: str | None = None
    path: str | None = None
    line: int | None = None
    column: str | None = None
    cohort: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "stage": self.stage,
            "gen_id": self.gen_id,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "cohort": self.cohort,
            "message": self.message,
            "details": self.details,
        }
