"""The migration plan: typed steps that own their JSON form and validation, and `build_plan`,
a pure function of the scanned store (it reads files and writes nothing).

Phases go drafts -> essays -> evaluations, each new ID computed from the parent's new ID
(lineage.analyses.rename). Every place lineage.analyses.impact finds becomes a byte-precise edit (a JSON string,
a CSV cell, a text line) grouped into one write step per file, and every file the plan touches
is fingerprinted (size, mtime_ns, sha256). A rename whose chain the lineage graph calls broken
is not planned: it is listed under `blocked` with the check that reports it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import orjson

from lineage import __version__
from lineage.core import ids
from lineage.core.status import ExitStatus, LineageError, UsageError
from lineage.migrate.edits import Edit
from lineage.migrate.rootfs import parts_of

PLAN_FORMAT = "lineage-migrate-plan"
PLAN_VERSION = 1
MAX_PLAN_BYTES = 4 << 30  # a plan embeds edits (and an undo plan, file contents): large, not endless



class StaleError(LineageError):
    """The tree changed since the plan was made; nothing was written."""

    status = ExitStatus.USAGE


class ConflictError(LineageError):
    """The renames collide (two onto one ID, or onto an existing folder)."""

    status = ExitStatus.FINDINGS


class PlanError(UsageError):
    """The plan file is not a plan this version can run safely."""


# --- steps -------------------------------------------------------------------------------------

def _check_id(value: Any, what: str) -> None:
    from lineage.analyses.impact import unsafe_reason

    why = unsafe_reason(value) if isinstance(value, str) else "is not a string"
    if why:
        raise PlanError(f"plan {what} ID {value!r} {why}; refusing the plan")


def _str(doc: dict, name: str, n: int) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise PlanError(f"plan step {n}: {name} must be a string")
    return value


def _fingerprint(doc: Any, n: int, name: str) -> dict:
    if not isinstance(doc, dict) or not isinstance(doc.get("sha256"), str):
        raise PlanError(f"plan step {n}: {name} must be an object with a sha256")
    return doc


@dataclass(slots=True)
class Step:
    """One idempotent action of a plan; `step` numbers them from 1."""

    step: int
    phase: str

    op: ClassVar[str] = ""

    def where(self) -> str:
        return ""

    def head(self) -> dict:
        return {"step": self.step, "phase": self.phase, "op": self.op}

    def to_json(self) -> dict:
        raise NotImplementedError


@dataclass(slots=True)
class RenameStep(Step):
    """rename_dir: a generation folder; rename_file: a results/<id>.txt file (`sha256` is its
    content, which a rename does not change)."""

    kind: str  # rename_dir | rename_file
    src: str
    dst: str
    old_id: str
    new_id: str
    cause: str = ""
    sha256: str = ""

    @property
    def op(self) -> str:  # type: ignore[override]
        return self.kind

    def where(self) -> str:
        return self.src

    def to_json(self) -> dict:
        out = {**self.head(), "from": self.src, "to": self.dst, "old_id": self.old_id, "new_id": self.new_id}
        if self.kind == "rename_dir":
            out["cause"] = self.cause
        else:
            out["sha256"] = self.sha256
        return out


    @classmethod
    def from_json(cls, doc: dict, n: int) -> "RenameStep":
        step = cls(n, doc.get("phase", ""), doc["op"], _str(doc, "from", n), _str(doc, "to", n),
                   _str(doc, "old_id", n), _str(doc, "new_id", n), doc.get("cause", ""), doc.get("sha256", ""))
        _check_id(step.old_id, "old")
        _check_id(step.new_id, "new")
        parts_of(step.src), parts_of(step.dst)
        if step.kind == "rename_dir":
            for p in (step.src, step.dst):
                parts = p.split("/")
                if len(parts) != 3 or parts[0] != "gens" or parts[1] not in ids.STAGES:
                    raise PlanError(f"plan step {n}: {p!r} is not a gens/<stage>/<id> folder")
                _check_id(parts[2], "folder")
        elif not step.sha256:
            raise PlanError(f"plan step {n}: a rename_file step needs the file's sha256")
        return step


@dataclass(slots=True)
class WriteStep(Step):
    """A file's new content: its edits, or (undo plans) the original bytes. `pre` and `post`
    are {sha256, size}; `accept` lists other contents it may be found in (the states a partial
    apply can leave a file in, for an undo)."""

    path: str
    pre: dict
    post: dict
    edits: list[Edit] = field(default_factory=list)
    content_b64: str | None = None
    mtime_ns: int | None = None
    accept: list[str] = field(default_factory=list)

    op: ClassVar[str] = "write"

    def where(self) -> str:
        return self.path

    def to_json(self) -> dict:
        out = {**self.head(), "path": self.path, "pre": self.pre, "post": self.post}
        if self.content_b64 is not None:
            out["content_b64"] = self.content_b64
        else:
            out["edits"] = [e.to_json() for e in self.edits]
        if self.mtime_ns is not None:
            out["mtime_ns"] = self.mtime_ns
        if self.accept:
            out["accept"] = self.accept
        return out


    @classmethod
    def from_json(cls, doc: dict, n: int) -> "WriteStep":
        path = _str(doc, "path", n)
        parts_of(path)
        edits = doc.get("edits", [])
        content = doc.get("content_b64")
        if content is None and not isinstance(edits, list):
            raise PlanError(f"plan step {n}: edits must be a list")
        if content is not None and not isinstance(content, str):
            raise PlanError(f"plan step {n}: content_b64 must be a string")
        mtime = doc.get("mtime_ns")
        if mtime is not None and type(mtime) is not int:
            raise PlanError(f"plan step {n}: mtime_ns must be an integer")
        accept = doc.get("accept", [])
        if not isinstance(accept, list) or not all(isinstance(a, str) for a in accept):
            raise PlanError(f"plan step {n}: accept must be a list of hashes")
        try:
            parsed = [] if content is not None else [Edit.from_json(e, f"plan step {n}") for e in edits]
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        for e in parsed:
            _check_id(e.old_id, "old")
            _check_id(e.new_id, "new")
        return cls(n, doc.get("phase", ""), path, _fingerprint(doc.get("pre"), n, "pre"),
                   _fingerprint(doc.get("post"), n, "post"), parsed, content, mtime, accept)


@dataclass(slots=True)
class PartitionsStep(Step):
    """Dagster dynamic partition keys of one set: delete the old ones, add the new ones."""

    partition_set: str
    delete: list[str]
    add: list[str]

    op: ClassVar[str] = "partitions"

    def where(self) -> str:
        return self.partition_set

    def to_json(self) -> dict:
        return {**self.head(), "partition_set": self.partition_set, "delete": self.delete, "add": self.add}


    @classmethod
    def from_json(cls, doc: dict, n: int) -> "PartitionsStep":
        name = doc.get("partition_set")
        if name not in ids.PARTITION_SET.values():
            raise PlanError(f"plan step {n}: unknown partition set {name!r}")
        delete, add = doc.get("delete", []), doc.get("add", [])
        if not isinstance(delete, list) or not isinstance(add, list):
            raise PlanError(f"plan step {n}: delete and add must be lists")
        for key in delete + add:
            _check_id(key, "partition key")
        return cls(n, doc.get("phase", ""), name, delete, add)


@dataclass(slots=True)
class UtimeStep(Step):
    """Modification times of folders (an undo restores them last)."""

    entries: list[dict]  # {path ("" is the root), mtime_ns}

    op: ClassVar[str] = "utime"

    def to_json(self) -> dict:
        return {**self.head(), "entries": self.entries}


    @classmethod
    def from_json(cls, doc: dict, n: int) -> "UtimeStep":
        entries = doc.get("entries")
        if not isinstance(entries, list):
            raise PlanError(f"plan step {n}: entries must be a list")
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get("path"), str) or type(e.get("mtime_ns")) is not int:
                raise PlanError(f"plan step {n}: each entry needs a path and an integer mtime_ns")
            if e["path"]:
                parts_of(e["path"])
        return cls(n, doc.get("phase", ""), entries)


STEP_TYPES: dict[str, Callable[[dict, int], Step]] = {
    "rename_dir": RenameStep.from_json, "rename_file": RenameStep.from_json, "write": WriteStep.from_json,
    "partitions": PartitionsStep.from_json, "utime": UtimeStep.from_json,
}


# --- the plan ----------------------------------------------------------------------------------

@dataclass
class Plan:
    """A migration (kind "migrate") or the plan that reverts one (kind "undo")."""

    data_root: str
    steps: list[Step]
    files: dict[str, dict]  # path as planned -> {size, mtime_ns, sha256}: the staleness check
    phases: list[dict]  # [{stage, renames: [{stage, old_id, new_id, cause, via, path, expected_id}]}]
    kind: str = "migrate"
    blocked: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    only: str = ""
    stages: list[str] = field(default_factory=list)
    undoes: str = ""  # an undo plan: the sha256 of the plan it reverts
    undoes_journal: str = ""  # and that plan's journal folder, told when the undo completes
    created: str = ""
    tool: dict = field(default_factory=lambda: {"name": "lineage", "version": __version__})

    @property
    def renames(self) -> list[dict]:
        return [r for p in self.phases for r in p["renames"]]

    def summary(self) -> dict:
        renames = self.renames
        causes = Counter(r["cause"] for r in renames)
        by_stage = Counter(r["stage"] for r in renames)
        return {"renames": len(renames), "by_stage": {s: by_stage.get(s, 0) for s in ids.STAGES},
                "by_cause": dict(sorted(causes.items())), "steps": len(self.steps), "files": len(self.files),
                "writes": sum(1 for s in self.steps if s.op == "write"), "blocked": len(self.blocked)}

    def to_json(self) -> dict:
        doc: dict[str, Any] = {"format": PLAN_FORMAT, "format_version": PLAN_VERSION, "kind": self.kind,
                               "tool": self.tool, "created": self.created, "data_root": self.data_root}
        if self.kind == "undo":
            doc["undoes"], doc["undoes_journal"] = self.undoes, self.undoes_journal
        else:
            doc["only"], doc["stages"] = self.only, self.stages
        doc.update(summary=self.summary(), phases=self.phases, blocked=self.blocked, warnings=self.warnings,
                   files=dict(sorted(self.files.items())), steps=[s.to_json() for s in self.steps])
        return doc

    def dumps(self) -> bytes:
        return orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, doc: Any, where: str) -> "Plan":
        """A plan read back, every path and ID checked before anything can act on it."""
        if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
            raise PlanError(f"{where} is not a lineage migrate plan")
        if doc.get("format_version") != PLAN_VERSION:
            raise PlanError(f"{where}: plan format version {doc.get('format_version')!r} is not supported")
        if not isinstance(doc.get("steps"), list) or not isinstance(doc.get("files"), dict):
            raise PlanError("plan has no steps/files lists")
        if not isinstance(doc.get("data_root"), str) or not os.path.isabs(doc["data_root"]):
            raise PlanError(f"{where}: data_root must be an absolute path")
        for rel, fp in doc["files"].items():
            parts_of(rel)
            if not isinstance(fp, dict) or not isinstance(fp.get("sha256"), str) or type(fp.get("size")) is not int:
                raise PlanError(f"{where}: fingerprint of {rel} must have a sha256 and a size")
        phases = doc.get("phases", [])
        if not isinstance(phases, list) or not all(isinstance(p, dict) and isinstance(p.get("renames"), list)
                                                   for p in phases):
            raise PlanError(f"{where}: phases must be a list of {{stage, renames}}")
        for r in (r for p in phases for r in p["renames"]):
            if not isinstance(r, dict):
                raise PlanError(f"{where}: a rename must be an object")
            _check_id(r.get("old_id"), "old")
            _check_id(r.get("new_id"), "new")
        steps: list[Step] = []
        for n, s in enumerate(doc["steps"], 1):
            if not isinstance(s, dict) or s.get("step") != n:
                raise PlanError(f"plan step {n} is numbered {s.get('step') if isinstance(s, dict) else s!r}")
            make = STEP_TYPES.get(s.get("op"))
            if make is None:
                raise PlanError(f"plan step {n}: unknown op {s.get('op')!r}")
            steps.append(make(s, n))
        return cls(data_root=doc["data_root"], steps=steps, files=doc["files"], phases=phases,
                   kind=doc.get("kind", "migrate"), blocked=doc.get("blocked", []), warnings=doc.get("warnings", []),
                   only=doc.get("only", ""), stages=doc.get("stages", []), undoes=doc.get("undoes", ""),
                   undoes_journal=doc.get("undoes_journal", ""), created=doc.get("created", ""),
                   tool=doc.get("tool", {}))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def dumps_plan(plan: Plan) -> bytes:
    return plan.dumps()


def load_plan(path: str) -> tuple[Plan, str]:
    """The plan and the sha256 of its bytes; a UsageError when it is not a plan (or not a
    regular file: a FIFO or a device named as the plan is refused before it is read)."""
    from lineage.core.files import read_input

    raw = read_input(path, f"plan {path}", MAX_PLAN_BYTES)  # a regular file: not a FIFO, not /dev/zero
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PlanError(f"plan {path} is not JSON: {exc}") from None
    return Plan.from_json(doc, path), hashlib.sha256(raw).hexdigest()


def remap(path: str, table: dict[str, str]) -> str:
    """`path` with its longest prefix found in `table` replaced (folder renames move children)."""
    parts = path.split("/")
    for n in range(len(parts), 0, -1):
        prefix = "/".join(parts[:n])
        if prefix in table:
            return "/".join([table[prefix]] + parts[n:])
    return path


def trace(steps: list[Step]) -> tuple[Callable[[str, int], str], Callable[[str], str]]:
    """(original path of a path as a step names it, final path of an original path)."""
    back: dict[str, str] = {}  # path after the renames so far -> original path
    fwd: dict[str, str] = {}  # original path -> path after all renames
    step_orig: dict[tuple[int, str], str] = {}
    for s in steps:
        if isinstance(s, (WriteStep, RenameStep)):
            path = s.where()
            step_orig[(s.step, path)] = remap(path, back)
        if isinstance(s, RenameStep):
            o = remap(s.src, back)
            back[s.dst] = o
            fwd[o] = s.dst

    def original(path: str, step: int = 0) -> str:
        return step_orig.get((step, path), path)

    return original, (lambda orig: remap(orig, fwd))
