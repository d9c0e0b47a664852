"""Applying a plan in place: a write-ahead journal next to the plan, an undo plan written before
the first write, and every file operation relative to the data root's folder descriptor.

The journal (`PLAN.json.journal/journal.jsonl`) holds one JSON record a line, each fsynced:
  {"event": "begin", "plan_sha256", "data_root", "steps", "partitions", "dagster_home", "undo", "pid", "time"}
  {"event": "intent", "step": n, "op", "path", "pre", "post"}     before the action
  {"event": "done", "step": n, "outcome": "applied"|"already"}    after it
  {"event": "commit", "undo": "PLAN.undo.json", "time"}
  {"event": "undone", "undo_sha256", "time"}                       the undo plan completed
It belongs to one plan (its sha256): a journal of another plan is an error that says what to do.
`backups/<sha256>` holds the original bytes of every file the plan writes and `prepare.json`
the original mtimes of those files and their folders. Every step is idempotent: a write
compares the file's sha256 with the step's before and after hashes, a rename looks at which
of its two paths exists.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from dataclasses import dataclass
from typing import Callable

import orjson

from lineage.core.files import sha256_bytes, sha256_file
from lineage.migrate.journal import Checkpoints, Journal, JournalState, Lock, atomic_write, fsync_dir
from lineage.migrate.dagster import DagsterPartitions, dagster_available
from lineage.migrate.edits import apply_edits
from lineage.migrate.plan import (PartitionsStep, Plan, PlanError, RenameStep, StaleError, Step, UtimeStep,
                                  WriteStep, load_plan, now, trace)
from lineage.migrate.rootfs import RootFS
from lineage.migrate.undo import build_undo
from lineage.core.status import LineageError, UsageError
from lineage.core.text import count

Progress = Callable[[str], None]


class StepError(LineageError):
    """A step found its target in neither its before nor its after state."""


# --- paths next to the plan ----------------------------------------------------------------------

def journal_dir(plan_path: str) -> str:
    return os.path.abspath(plan_path) + ".journal"


def lock_path(plan_path: str) -> str:
    return os.path.abspath(plan_path) + ".lock"


def root_lock_path(root: str) -> str:
    """One lock per data root: the flock is taken on the root folder itself (nothing is
    written), so two different plans cannot apply to one root at once."""
    return os.path.realpath(root)


def undo_path(plan_path: str) -> str:
    base = os.path.abspath(plan_path)
    stem = base[:-5] if base.endswith(".json") else base
    return stem + ".undo.json"


def partitions_csv(plan_path: str) -> str:
    return os.path.abspath(plan_path) + ".partitions.csv"


def _own_folder(path: str) -> None:
    """Create `path` (the journal folder) unless it exists; never one that is a symlink."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if os.path.islink(path) or not os.path.isdir(path):
            raise UsageError(f"{path} is a symlink or not a folder; refusing to keep a journal there") from None
    else:
        fsync_dir(os.path.dirname(path))


# --- the executor ---------------------------------------------------------------------------------

@dataclass
class ApplyResult:
    steps: int = 0
    applied: int = 0
    already: int = 0
    undo: str = ""
    partitions: str = ""  # where the partition key changes went
    resumed: bool = False
    note: str = ""


@dataclass
class Executor:
    plan: Plan
    plan_sha256: str
    root: str
    journal_dir: str
    undo_path: str
    partitions_csv: str
    partitions_mode: str = "file"  # file | dagster
    dagster_home: str = ""
    progress: Progress | None = None
    lock_file: str = ""  # the plan's lock; the root itself is locked too

    def __post_init__(self):
        self.root = os.path.realpath(self.root)
        self.checkpoint = Checkpoints()
        self.journal = Journal(os.path.join(self.journal_dir, "journal.jsonl"), self.checkpoint)
        self.backups = os.path.join(self.journal_dir, "backups")
        self._dagster: DagsterPartitions | None = None
        self.original, self.final = trace(self.plan.steps)

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(message)

    # -- what the journal says ------------------------------------------------------------------

    def state(self) -> JournalState:
        """The journal's state, if it is this plan's; a journal of another plan is an error."""
        state = self.journal.state()
        if state.begin and state.begin.get("plan_sha256") != self.plan_sha256:
            raise UsageError(f"the journal {self.journal_dir} belongs to another plan (sha256 "
                             f"{str(state.begin.get('plan_sha256'))[:12]}…, begun {state.begin.get('time', '?')}); "
                             "this plan was written over it. Move that folder away to apply this plan, "
                             "or save the new plan under another name")
        if state.undone:
            raise UsageError(f"this plan was applied and then undone (journal {self.journal_dir}); "
                             "make a new plan, or move that folder away to apply this one again")
        return state

    def remaining(self, state: JournalState) -> list[Step]:
        return [s for s in self.plan.steps if s.step not in state.done]

    # -- checks before the first write ----------------------------------------------------------

    def stale(self, fs: RootFS) -> list[str]:
        """Why the plan no longer fits the tree (empty when it fits): a fingerprinted file that
        changed, a folder to rename that is gone or whose new name is taken."""
        problems = []
        for rel, fp in self.plan.files.items():
            st = fs.lstat(rel)
            if st is None:
                problems.append(f"{rel} is gone")
            elif not stat.S_ISREG(st.st_mode):
                problems.append(f"{rel} is no longer a regular file")
            elif st.st_size != fp["size"] or (fp.get("mtime_ns") is not None and st.st_mtime_ns != fp["mtime_ns"]):
                problems.append(f"{rel} changed (size or mtime)")
            elif fs.sha256(rel) != fp["sha256"]:
                problems.append(f"{rel} changed (content)")
        for s in self.plan.steps:
            if s.op == "rename_dir" and self.original(s.src, s.step) == s.src:
                if not fs.is_dir(s.src):
                    problems.append(f"{s.src} is gone")
                if fs.exists(s.dst):
                    problems.append(f"{s.dst} already exists")
        return problems

    def unplanned_mentions(self, graph=None) -> list[str]:
        """Places that mention an ID the plan renames but that the plan does not edit: a file
        added since the plan was made (a CSV naming a renamed essay, a new evaluation of it).
        The same search `lineage impact` does, on the tree as it is now."""
        from lineage.analyses.impact import places
        from lineage.loaders.lineage_graph import LineageGraph
        from lineage.loaders.store import scan
        from lineage.analyses.rename import Rename

        renames = [Rename(r["stage"], r["old_id"], r["new_id"], r.get("cause", "")) for r in self.plan.renames]
        if not renames:
            return []
        g = graph if graph is not None else LineageGraph(scan(self.root))
        planned = set(self.plan.files) | {s.src for s in self.plan.steps if isinstance(s, RenameStep)}
        out = []
        for p in places(g, renames, []):
            if p.kind != "partition" and p.path not in planned:
                where = p.path + (f":{p.line}" if p.line else "") + (f" {p.pointer}" if p.pointer else "")
                out.append(f"{where} mentions {p.old_id}, which the plan renames, and the plan does not edit it")
        return out

    def preflight(self, fs: RootFS, graph=None) -> list[str]:
        """Every reason not to start; empty when the plan fits the tree. An undo plan carries no
        fingerprints: its steps check the state they find."""
        if self.plan.kind == "undo":
            return []
        return self.stale(fs) or self.unplanned_mentions(graph)

    # -- the run --------------------------------------------------------------------------------

    def run(self, resume: bool = False, graph=None) -> ApplyResult:
        with RootFS(self.root) as fs:
            # The root's lock is taken second and released last: the plan's lock file can then be
            # removed on the way out (no PLAN.json.lock left behind), the root's lock still
            # guarding the moment between the two.
            plan_lock = Lock(self.lock_file).acquire(self.root) if self.lock_file else None
            try:
                root_lock = Lock(root_lock_path(self.root)).acquire(self.root)
            except BaseException:
                if plan_lock:
                    plan_lock.release(remove=True)
                raise
            try:
                return self._run(fs, resume, graph)
            finally:
                self.journal.close()
                if plan_lock:
                    plan_lock.release(remove=True)
                root_lock.release()

    def _run(self, fs: RootFS, resume: bool, graph) -> ApplyResult:
        state = self.state()
        out = ApplyResult(steps=len(self.plan.steps), undo=self.undo_path)
        if state.committed:
            if resume:
                out.note = "already complete: the journal says this plan was applied; nothing to resume"
                return out
            raise UsageError(f"plan already applied (journal {self.journal.path}); "
                             f"to revert it: lineage migrate undo {self.undo_path.removesuffix('.undo.json')}.json --yes"
                             if self.plan.kind == "migrate" else
                             f"this undo plan was applied already (journal {self.journal.path})")
        if state.begin:
            if not resume:
                raise UsageError(f"an earlier apply of this plan was interrupted (journal {self.journal.path}); "
                                 "finish it with --resume --yes, or roll it back with lineage migrate undo")
            self.partitions_mode = state.begin.get("partitions", self.partitions_mode)
            self.dagster_home = state.begin.get("dagster_home", self.dagster_home)
            out.resumed = True
            self.say(f"resuming: {len(state.done):,} of {count(out.steps, 'step')} done")
        else:
            problems = self.preflight(fs, graph)
            if problems:
                if all("already exists" in p or "is gone" in p for p in problems) and self._looks_applied(fs):
                    raise StaleError("the plan appears to be applied already (its folders are renamed); nothing written")
                raise StaleError(f"plan is stale: {count(len(problems), 'change')} since it was made "
                                 f"(e.g. {problems[0]}); nothing written. Make a new plan")
            if resume and self.plan.kind != "undo":  # an undo always runs as a resume
                self.say("no step had started; starting from the beginning")
            self._prepare(fs)
            self.journal.append({"event": "begin", "plan_sha256": self.plan_sha256, "data_root": self.root,
                                 "steps": out.steps, "partitions": self.partitions_mode,
                                 "dagster_home": self.dagster_home, "undo": self.undo_path,
                                 "pid": os.getpid(), "time": now()})
        for step in self.plan.steps:
            n = step.step
            if n in state.done:
                continue
            self.journal.append({"event": "intent", "step": n, "op": step.op, "path": step.where(),
                                 "pre": getattr(step, "pre", {}).get("sha256"),
                                 "post": getattr(step, "post", {}).get("sha256")})
            outcome = self._perform(fs, step)
            self.checkpoint("action")
            self.journal.append({"event": "done", "step": n, "outcome": outcome})
            if outcome == "applied":
                out.applied += 1
            else:
                out.already += 1
            # Every 500th step and every partition change (a few per plan): enough to follow a
            # long apply without drowning stderr in one line per folder.
            if n == out.steps or n % 500 == 0 or step.op == "partitions":
                self.say(f"step {n:,}/{out.steps:,}: {step.op} {step.where()}")
        self.journal.append({"event": "commit", "undo": self.undo_path if self.plan.kind == "migrate" else "",
                             "time": now()})
        if self.plan.kind == "undo":
            self._tell_the_undone_journal()
        out.partitions = (f"Dagster instance {self.dagster_home}" if self.partitions_mode == "dagster"
                          else self.partitions_csv)
        return out

    def _looks_applied(self, fs: RootFS) -> bool:
        renames = [s for s in self.plan.steps if s.op == "rename_dir"]
        return bool(renames) and all(not fs.exists(s.src) and fs.is_dir(s.dst) for s in renames)

    def _prepare(self, fs: RootFS) -> None:
        """Back up the original bytes of every file to be written, record the mtimes the undo
        restores, and write the undo plan: all durable before the first write. Repeatable: a
        run killed here starts over."""
        _own_folder(self.journal_dir)
        _own_folder(self.backups)
        files, dirs = {}, {}
        for s in self.plan.steps:
            if isinstance(s, WriteStep):
                orig = self.original(s.path, s.step)
                if orig in files:
                    continue
                data, st = fs.read(orig)
                digest = sha256_bytes(data)
                blob = os.path.join(self.backups, digest)
                if not (os.path.exists(blob) and _sha_of(blob) == digest):
                    atomic_write(blob, data, mode=0o600)
                files[orig] = {"sha256": digest, "size": len(data), "mtime_ns": st.st_mtime_ns}
                dirs[os.path.dirname(orig)] = None
            elif isinstance(s, RenameStep):
                orig = self.original(s.src, s.step)
                dirs[os.path.dirname(orig)] = None
                if s.kind == "rename_dir":
                    dirs[orig] = None
            elif isinstance(s, UtimeStep):
                for e in s.entries:
                    dirs[e["path"]] = None
        for d in list(dirs):
            st = fs.lstat(d) if d else os.fstat(fs.fd)
            if st is None:
                dirs.pop(d)
            else:
                dirs[d] = st.st_mtime_ns
        prepared = {"files": files, "dirs": dict(sorted(dirs.items()))}
        atomic_write(os.path.join(self.journal_dir, "prepare.json"), orjson.dumps(prepared, option=orjson.OPT_INDENT_2))
        if self.plan.kind == "migrate":
            undo = build_undo(self.plan, self.plan_sha256, prepared, self._backup, self.journal_dir)
            _archive(journal_dir(self.undo_path))  # the journal of an earlier apply's undo, if any
            atomic_write(self.undo_path, undo.dumps())
        self.checkpoint("prepared")

    def _backup(self, digest: str) -> bytes:
        with open(os.path.join(self.backups, digest), "rb") as fh:
            return fh.read()

    def _tell_the_undone_journal(self) -> None:
        """Mark the undone migration's journal, so that plan is not resumed or applied by
        mistake over the restored tree."""
        path = os.path.join(self.plan.undoes_journal, "journal.jsonl") if self.plan.undoes_journal else ""
        if not path or not os.path.isfile(path):
            return
        journal = Journal(path)
        try:
            begin = journal.state().begin
            if begin and begin.get("plan_sha256") == self.plan.undoes:
                journal.append({"event": "undone", "undo_sha256": self.plan_sha256, "time": now()})
        finally:
            journal.close()

    # -- one step ---------------------------------------------------------------------------------

    def _perform(self, fs: RootFS, step: Step) -> str:
        if isinstance(step, RenameStep):
            has_src, has_dst = fs.exists(step.src), fs.exists(step.dst)
            if has_src and not has_dst:
                if step.kind == "rename_file" and fs.sha256(step.src) != step.sha256:
                    raise StepError(f"step {step.step}: {step.src} changed since the plan was made")
                try:
                    fs.rename(step.src, step.dst)
                except FileNotFoundError:
                    raise StepError(f"step {step.step}: cannot rename {step.src} -> {step.dst}: the folder "
                                    f"{os.path.dirname(step.dst) or '.'} does not exist") from None
                return "applied"
            if has_dst and not has_src:
                return "already"
            raise StepError(f"step {step.step}: cannot rename {step.src} -> {step.dst}: "
                            + ("both exist" if has_src else "neither exists"))
        if isinstance(step, WriteStep):
            return self._write(fs, step)
        if isinstance(step, PartitionsStep):
            if self.partitions_mode == "dagster":
                if self._dagster is None:
                    self._dagster = DagsterPartitions(self.dagster_home)
                self._dagster.apply(step.partition_set, step.delete, step.add)
            else:
                self._write_partitions_csv(step.step)
            return "applied"
        if isinstance(step, UtimeStep):
            for e in step.entries:
                if not e["path"] or fs.is_dir(e["path"]):
                    fs.set_mtime(e["path"], e["mtime_ns"])
            return "applied"
        raise StepError(f"step {step.step}: unknown op {step.op!r}")

    def _write(self, fs: RootFS, step: WriteStep) -> str:
        fs.remove_leftover(step.path)
        try:
            data, st = fs.read(step.path)
        except FileNotFoundError:
            raise StepError(f"step {step.step}: {step.path} is missing") from None
        digest = sha256_bytes(data)
        if digest == step.post["sha256"]:
            if step.mtime_ns is not None and st.st_mtime_ns != step.mtime_ns:
                fs.set_mtime(step.path, step.mtime_ns)
            return "already"
        if digest != step.pre["sha256"] and digest not in step.accept:
            raise StepError(f"step {step.step}: {step.path} is in neither its planned before nor "
                            "after state; someone else changed it")
        if step.content_b64 is not None:
            import base64

            new = base64.b64decode(step.content_b64)
        else:
            new, _ = apply_edits(data, step.edits, step.path)
        if sha256_bytes(new) != step.post["sha256"]:
            raise StepError(f"step {step.step}: the edits of {step.path} do not give the planned content")
        fs.write(step.path, new, mtime_ns=step.mtime_ns)
        return "applied"

    def _write_partitions_csv(self, upto: int) -> None:
        """Every key change of the partition steps up to `upto`, for the operator to run. Keys
        that a spreadsheet would run as a formula get a leading quote, as in every CSV we write."""
        from lineage.core.text import safe_cell

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", "partition_set", "action", "partition_key"])
        for s in self.plan.steps:
            if isinstance(s, PartitionsStep) and s.step <= upto:
                w.writerows([s.step, s.partition_set, "delete", safe_cell(k)] for k in s.delete)
                w.writerows([s.step, s.partition_set, "add", safe_cell(k)] for k in s.add)
        atomic_write(self.partitions_csv, buf.getvalue().encode())


def _archive(path: str) -> None:
    """Move a finished cycle's journal folder aside (kept, numbered), so a new undo plan,
    byte-identical or not, starts with a journal of its own."""
    if not os.path.lexists(path):
        return
    n = 1
    while os.path.lexists(f"{path}.{n}"):
        n += 1
    os.rename(path, f"{path}.{n}")
    fsync_dir(os.path.dirname(path))


def _sha_of(path: str) -> str:
    return sha256_file(path, follow_links=False)


def executor_for(plan_path: str, plan: Plan, plan_sha: str, dagster_home: str | None,
                 progress: Progress | None = None) -> Executor:
    """The in-place executor: journal, lock, undo plan and partitions file next to the plan."""
    from lineage.loaders.walk import is_inside

    root = plan.data_root
    if is_inside(plan_path, root):
        raise UsageError(f"the plan {plan_path} lies inside the data root; its journal would be written there")
    mode = "dagster" if dagster_home and dagster_available() else "file"
    return Executor(plan, plan_sha, root, journal_dir(plan_path), undo_path(plan_path), partitions_csv(plan_path),
                    partitions_mode=mode, dagster_home=os.path.abspath(dagster_home) if dagster_home else "",
                    progress=progress, lock_file=lock_path(plan_path))


def undo_for(plan_path: str, plan: Plan, plan_sha: str) -> tuple[str, Plan, str]:
    """(path, plan, sha256) of the plan that reverts `plan`: the one the apply wrote before its
    first write. An error when the plan was never applied, or the undo plan is another's."""
    if plan.kind != "migrate":
        raise UsageError(f"{plan_path} is an undo plan; apply it with lineage migrate apply")
    path = undo_path(plan_path)
    state = Journal(os.path.join(journal_dir(plan_path), "journal.jsonl")).state()
    if not state.begin and not os.path.exists(path):
        raise UsageError(f"nothing to undo: {plan_path} was never applied (no journal at {journal_dir(plan_path)})")
    if state.begin and state.begin.get("plan_sha256") != plan_sha:
        raise UsageError(f"the journal {journal_dir(plan_path)} belongs to another plan; {plan_path} was not applied")
    try:
        undo, sha = load_plan(path)
    except UsageError as exc:
        raise UsageError(f"cannot read the undo plan: {exc}") from None
    if undo.kind != "undo" or undo.undoes != plan_sha:
        raise PlanError(f"{path} does not undo {plan_path} (it undoes {undo.undoes[:12] or 'nothing'}…)")
    return path, undo, sha

