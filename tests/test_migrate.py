"""`lineage migrate`: the plan's exact edits, simulation, crash safety at every checkpoint, undo,
stale plans, the lock, path traversal and Dagster guards."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import run_audit
from lineage import migrate
from lineage.cli import app
from lineage.core.files import sha256_file
from lineage.migrate.journal import CRASH_ENV, Lock
from lineage.render.plans import STEP_COLUMNS
from lineage import synthetic
from lineage.loaders.store import scan
from test_readonly import tree_digest

runner = CliRunner()

D = "43ftibqi56628az1"  # legacy; its metadata implies the published d_5ezrffv9uf3lr37d
E = "e_42r41mo8t4mdmatr"  # minted from the legacy draft ID
V = "v_21jxnrz383kjn7tf"
ND, NE, NV = "d_5ezrffv9uf3lr37d", "e_sq5klak2lljyyom", "v_4xdwfjt7penqwg2g"

GOLDEN = {
    f"gens/draft/{D}/metadata.json": {
        "stage": "draft", "gen_id": D, "origin_cohort_id": "c1", "mode": "llm",
        "template_id": "creative-synthesis-v10", "combo_id": "combo_v1_85128e4e5ef3",
        "llm_model_id": "gemini_25_pro", "replicate": 1},
    f"gens/draft/{D}/raw.txt": "draft text\n",
    f"gens/essay/{E}/metadata.json": {
        "stage": "essay", "gen_id": E, "origin_cohort_id": "c1", "mode": "llm",
        "template_id": "creative-synthesis-v10", "parent_gen_id": D, "replicate": 1},
    f"gens/essay/{E}/parsed.txt": "the essay\n",
    f"gens/evaluation/{V}/metadata.json": {
        "stage": "evaluation", "gen_id": V, "origin_cohort_id": "c1", "mode": "llm",
        "template_id": "novelty-v2", "parent_gen_id": E, "llm_model_id": "sonnet-4", "replicate": 1},
    f"gens/evaluation/{V}/prompt.txt": "Evaluate the essay below.\n",
    "cohorts/c1/membership.csv": f"stage,gen_id\ndraft,{D}\nessay,{E}\nevaluation,{V}\n",
    "2_tasks/selected_essays.txt": f"# top essays\n{E}\n",
}


def edits_of(step):
    return [(e.get("pointer") or e.get("line"), e["old_value"], e["new_value"]) for e in step["edits"]]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def make_plan(root, plan_path, *extra):
    result = invoke("migrate", "plan", root, "--output", plan_path, "--no-progress", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(Path(plan_path).read_text())


def files_and_hashes(root) -> dict:
    """Every path under root (folders marked) and the sha256 of every file: content, not mtimes."""
    out = {}
    for folder, dirs, names in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root) + "/"] = "dir"
        for n in names:
            full = os.path.join(folder, n)
            out[os.path.relpath(full, root)] = sha256_file(full)
    return out


# --- plan -------------------------------------------------------------------------------------

def test_plan_lists_the_exact_edits_of_the_golden_chain(make_store, tmp_path):
    root = make_store(GOLDEN)
    before = tree_digest(root)
    plan = make_plan(root, tmp_path / "plan.json")
    assert tree_digest(root) == before
    assert [(p["stage"], [(r["old_id"], r["new_id"], r["cause"]) for r in p["renames"]]) for p in plan["phases"]] == [
        ("draft", [(D, ND, "legacy")]), ("essay", [(E, NE, "cascade")]), ("evaluation", [(V, NV, "cascade")])]
    steps = [(s["phase"], s["op"], s.get("path") or s.get("from"), s.get("to"), edits_of(s) if s["op"] == "write" else
              (s.get("delete"), s.get("add"))) for s in plan["steps"]]
    m = "cohorts/c1/membership.csv"
    assert steps == [
        ("draft", "rename_dir", f"gens/draft/{D}", f"gens/draft/{ND}", (None, None)),
        ("draft", "write", m, None, [(2, D, ND)]),
        ("draft", "write", f"gens/draft/{ND}/metadata.json", None, [("/gen_id", D, ND)]),
        ("draft", "write", f"gens/essay/{E}/metadata.json", None, [("/parent_gen_id", D, ND)]),
        ("draft", "partitions", None, None, ([D], [ND])),
        ("essay", "rename_dir", f"gens/essay/{E}", f"gens/essay/{NE}", (None, None)),
        ("essay", "write", "2_tasks/selected_essays.txt", None, [(2, E, NE)]),
        ("essay", "write", m, None, [(3, E, NE)]),
        ("essay", "write", f"gens/essay/{NE}/metadata.json", None, [("/gen_id", E, NE)]),
        ("essay", "write", f"gens/evaluation/{V}/metadata.json", None, [("/parent_gen_id", E, NE)]),
        ("essay", "partitions", None, None, ([E], [NE])),
        ("evaluation", "rename_dir", f"gens/evaluation/{V}", f"gens/evaluation/{NV}", (None, None)),
        ("evaluation", "write", m, None, [(4, V, NV)]),
        ("evaluation", "write", f"gens/evaluation/{NV}/metadata.json", None, [("/gen_id", V, NV)]),
        ("evaluation", "partitions", None, None, ([V], [NV])),
    ]
    assert [s["step"] for s in plan["steps"]] == list(range(1, 16))
    # Every file it touches, fingerprinted as it is on disk (paths before any rename).
    touched = [m, "2_tasks/selected_essays.txt", f"gens/draft/{D}/metadata.json", f"gens/essay/{E}/metadata.json",
               f"gens/evaluation/{V}/metadata.json"]
    assert sorted(plan["files"]) == sorted(touched)
    for rel in touched:
        st = os.stat(root / rel)
        assert plan["files"][rel] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                      "sha256": sha256_file(root / rel)}
    # Edits are byte-precise: the membership file keeps every other byte.
    first = next(s for s in plan["steps"] if s.get("path") == m)
    assert first["pre"]["size"] == os.path.getsize(root / m) and first["post"]["size"] == first["pre"]["size"] + 2


def test_plan_only_and_stage_scope(make_store, tmp_path):
    root = make_store(GOLDEN)
    assert make_plan(root, tmp_path / "m.json", "--only", "mismatch")["summary"]["renames"] == 0
    # Renaming evaluations only leaves the legacy draft (and so its descendants) alone.
    assert make_plan(root, tmp_path / "v.json", "--stage", "evaluation")["summary"]["renames"] == 0
    assert make_plan(root, tmp_path / "d.json", "--stage", "draft")["summary"]["renames"] == 3


def test_plan_refuses_traversal_ids_and_writes_nothing(make_store, tmp_path):
    draft = {**GOLDEN[f"gens/draft/{D}/metadata.json"], "gen_id": "a..b"}
    root = make_store({"gens/draft/a..b/metadata.json": draft})
    before = tree_digest(root)
    result = invoke("migrate", "plan", root, "--output", tmp_path / "p.json", "--no-progress")
    assert result.exit_code == 2, result.output
    assert "'..'" in result.stderr and not (tmp_path / "p.json").exists()
    assert tree_digest(root) == before


def test_plan_output_inside_the_root_is_refused(make_store):
    root = make_store(GOLDEN)
    assert invoke("migrate", "plan", root, "--output", root / "plan.json").exit_code == 2
    assert not (root / "plan.json").exists()


# --- simulate ---------------------------------------------------------------------------------

def test_simulate_golden_chain_leaves_the_original_untouched(make_store, tmp_path):
    root = make_store(GOLDEN)
    make_plan(root, tmp_path / "plan.json")
    before = tree_digest(root)
    result = invoke("migrate", "simulate", tmp_path / "plan.json", "--into", tmp_path / "sim", "--format", "json")
    assert result.exit_code == 0, result.output
    assert tree_digest(root) == before
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["before"]["id_classes"]["legacy"] == 1 and doc["after"]["id_classes"]["legacy"] == 0
    assert sorted(os.listdir(tmp_path / "sim/gens/evaluation")) == [NV]
    assert (tmp_path / f"sim/gens/evaluation/{NV}/prompt.txt").read_bytes() == b"Evaluate the essay below.\n"
    # simulate refuses a non-empty target and a target inside the root
    assert invoke("migrate", "simulate", tmp_path / "plan.json", "--into", tmp_path / "sim").exit_code == 2
    assert invoke("migrate", "simulate", tmp_path / "plan.json", "--into", root / "x").exit_code == 2
    assert tree_digest(root) == before


def test_simulate_synthetic_store_ends_clean(tmp_path):
    root = tmp_path / "data"
    synthetic.generate(str(root), 200, seed=5, legacy_fraction=0.3, mismatch_fraction=0.1)
    before = tree_digest(root)
    plan = make_plan(root, tmp_path / "plan.json")
    assert plan["summary"]["by_cause"].get("legacy") and plan["summary"]["by_cause"].get("mismatch")
    result = invoke("migrate", "simulate", tmp_path / "plan.json", "--into", tmp_path / "sim", "--format", "json")
    assert result.exit_code == 0, result.output
    assert tree_digest(root) == before
    doc = json.loads(result.stdout)
    assert doc["before"]["id_classes"]["legacy"] > 0
    assert doc["after"]["id_classes"]["legacy"] == 0
    assert all(v["ok"] for v in doc["verifications"]), doc["verifications"]
    report = run_audit(tmp_path / "sim")
    new_ids = {r["new_id"] for p in plan["phases"] for r in p["renames"]}
    bad = [f for f in report["findings"] if f["gen_id"] in new_ids and f["severity"] in ("warn", "error")]
    assert bad == []
    assert report["statistics"]["findings_by_check"]["id.signature_mismatch"] == 0


# --- apply: dry run, undo, stale, lock, traversal ---------------------------------------------

def test_dry_run_writes_nothing(make_store, tmp_path):
    root = make_store(GOLDEN)
    make_plan(root, tmp_path / "plan.json")
    before = tree_digest(root)
    result = invoke("migrate", "apply", tmp_path / "plan.json", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing written" in result.stderr
    # By default the steps are counted by phase; --steps lists them; --quiet says nothing.
    assert result.stdout.splitlines() == ["phase,rename_dir,write,partitions,steps", "draft,1,3,1,5",
                                          "essay,1,4,1,6", "evaluation,1,2,1,4"]
    steps = invoke("migrate", "apply", tmp_path / "plan.json", "--format", "csv", "--steps")
    assert steps.exit_code == 0 and steps.stdout.count("\n") == 16  # header + 15 steps
    quiet = invoke("migrate", "apply", tmp_path / "plan.json", "--quiet")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert tree_digest(root) == before
    assert sorted(os.listdir(tmp_path)) == sorted(["data", "plan.json"])


def test_apply_then_undo_restores_the_tree_exactly(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    before = tree_digest(root)
    sim = tmp_path / "sim"
    assert invoke("migrate", "simulate", plan_path, "--into", sim).exit_code == 0
    result = invoke("migrate", "apply", plan_path, "--yes", "--steps", "-f", "csv", "-o", tmp_path / "applied.csv")
    assert result.exit_code == 0, result.output
    assert files_and_hashes(root) == files_and_hashes(sim)
    assert not (tmp_path / "plan.json.lock").exists()  # the root's lock guarded the run; no file left
    applied = (tmp_path / "applied.csv").read_text().splitlines()
    assert applied[0] == ",".join(STEP_COLUMNS) and len(applied) == 1 + len(migrate.load_plan(str(plan_path))[0].steps)
    assert (tmp_path / "plan.json.partitions.csv").read_text().splitlines() == [
        "step,partition_set,action,partition_key", f"5,draft_gens,delete,{D}", f"5,draft_gens,add,{ND}",
        f"11,essay_gens,delete,{E}", f"11,essay_gens,add,{NE}",
        f"15,evaluation_gens,delete,{V}", f"15,evaluation_gens,add,{NV}"]
    # A plan applied once is refused the second time.
    again = invoke("migrate", "apply", plan_path, "--yes")
    assert again.exit_code == 2 and "already applied" in again.stderr
    undo = tmp_path / "plan.undo.json"
    result = invoke("migrate", "apply", undo, "--yes")
    assert result.exit_code == 0, result.output
    # Byte for byte, and mtimes too: the undo plan restores file and folder mtimes.
    assert tree_digest(root) == before


def test_stale_plan_is_refused_with_nothing_written(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    with open(root / "cohorts/c1/membership.csv", "a") as fh:
        fh.write("draft,d_1\n")
    before = tree_digest(root)
    result = invoke("migrate", "apply", plan_path, "--yes")
    assert result.exit_code == 2 and "stale" in result.stderr
    assert tree_digest(root) == before
    assert not os.path.exists(migrate.journal_dir(plan_path))


def test_second_concurrent_apply_is_refused(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    before = tree_digest(root)
    held = Lock(migrate.lock_path(plan_path)).acquire("test")
    try:
        proc = subprocess.run([sys.executable, "-m", "lineage", "migrate", "apply", str(plan_path), "--yes"],
                              capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    finally:
        held.release()
    assert proc.returncode != 0 and "another lineage migrate apply is running" in proc.stderr
    assert tree_digest(root) == before
    # A second plan for the same root is refused too: the root folder itself is locked.
    other = tmp_path / "other.json"
    shutil.copy(plan_path, other)
    held = Lock(migrate.root_lock_path(root)).acquire("test")
    try:
        result = invoke("migrate", "apply", other, "--yes")
    finally:
        held.release()
    assert result.exit_code == 3 and "another lineage migrate apply is running" in result.stderr
    assert tree_digest(root) == before
    assert invoke("migrate", "apply", plan_path, "--yes").exit_code == 0  # free again


@pytest.mark.parametrize("field,value", [("to", "gens/draft/../../escape"), ("new_id", "../../escape"),
                                         ("to", "/tmp/escape"), ("new_id", "d_x\\..\\y"), ("new_id", "d_\x00")])
def test_traversal_in_a_plan_is_rejected_before_anything_is_written(make_store, tmp_path, field, value):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    plan = make_plan(root, plan_path)
    plan["steps"][0][field] = value
    plan_path.write_text(json.dumps(plan))
    before = tree_digest(root)
    for args in (["--yes"], ["--resume"], []):
        result = invoke("migrate", "apply", plan_path, *args)
        assert result.exit_code == 2, result.output
        assert "refusing the plan" in result.stderr
    assert invoke("migrate", "simulate", plan_path, "--into", tmp_path / "sim").exit_code == 2
    assert tree_digest(root) == before
    assert sorted(os.listdir(tmp_path)) == ["data", "plan.json"]


def test_dagster_runs_in_progress_block_apply(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    home = tmp_path / "dagster_home"
    # Without a run database: said so, and the dry run goes on.
    result = invoke("migrate", "apply", plan_path, "--dagster-home", home)
    assert result.exit_code == 0 and "no run database" in result.stderr
    (home / "history").mkdir(parents=True)
    with sqlite3.connect(home / "history/runs.db") as conn:  # the columns dagster's RunsTable has
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, run_id VARCHAR(255) UNIQUE, "
                     "pipeline_name TEXT, status VARCHAR(63), run_body TEXT)")
        conn.execute("INSERT INTO runs (run_id, pipeline_name, status, run_body) VALUES ('r1', 'p', 'SUCCESS', '{}')")
    before = tree_digest(root)
    assert invoke("migrate", "apply", plan_path, "--dagster-home", home).exit_code == 0
    with sqlite3.connect(home / "history/runs.db") as conn:
        conn.execute("INSERT INTO runs (run_id, pipeline_name, status, run_body) VALUES ('r2', 'p', 'STARTED', '{}')")
    result = invoke("migrate", "apply", plan_path, "--yes", "--dagster-home", home)
    assert result.exit_code == 2 and "runs in progress" in result.stderr and "r2" in result.stderr
    assert tree_digest(root) == before


def test_partition_keys_move_through_dagster_when_importable(make_store, tmp_path, monkeypatch):
    calls = []

    class FakeInstance:
        keys = {"draft_gens": {D}, "essay_gens": {E}, "evaluation_gens": {V}}

        @classmethod
        def from_config(cls, home):
            calls.append(("from_config", home))
            return cls()

        def has_dynamic_partition(self, name, key):
            return key in self.keys[name]

        def delete_dynamic_partition(self, name, key):
            calls.append(("delete", name, key))
            self.keys[name].discard(key)

        def add_dynamic_partitions(self, name, keys):
            calls.append(("add", name, tuple(keys)))
            self.keys[name].update(keys)

    fake = type(sys)("dagster")
    fake.DagsterInstance = FakeInstance
    monkeypatch.setitem(sys.modules, "dagster", fake)
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    home = tmp_path / "home"
    home.mkdir()
    result = invoke("migrate", "apply", plan_path, "--yes", "--dagster-home", home)
    assert result.exit_code == 0, result.output
    assert calls == [("from_config", str(home)), ("delete", "draft_gens", D), ("add", "draft_gens", (ND,)),
                     ("delete", "essay_gens", E), ("add", "essay_gens", (NE,)),
                     ("delete", "evaluation_gens", V), ("add", "evaluation_gens", (NV,))]
    assert FakeInstance.keys == {"draft_gens": {ND}, "essay_gens": {NE}, "evaluation_gens": {NV}}
    assert not (tmp_path / "plan.json.partitions.csv").exists()


# --- crash safety -----------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def _lineage(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lineage", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env)


def _crash_and_resume(base: Path, pristine: Path, k: int) -> tuple[int, dict, list[str]]:
    """Apply in a subprocess that SIGKILLs itself at checkpoint k, then resume; the tree after.

    The resume runs in this process through the library (threads share nothing but the
    read-only pristine tree), which halves the subprocesses of the loop."""
    work = base / f"k{k}"
    root = work / "data"
    shutil.copytree(pristine, root, symlinks=True)
    plan_path = work / "plan.json"
    plan = migrate.build_plan(scan(str(root)))
    plan_path.write_bytes(migrate.dumps_plan(plan))
    first = _lineage("migrate", "apply", plan_path, "--yes", env={**os.environ, CRASH_ENV: str(k)})
    if first.returncode == 0:
        return 0, files_and_hashes(root), []
    assert first.returncode == -signal.SIGKILL, (k, first.returncode, first.stderr)
    said: list[str] = []
    loaded, sha = migrate.load_plan(str(plan_path))
    migrate.executor_for(str(plan_path), loaded, sha, None, progress=said.append).run(resume=True)
    assert (work / "plan.undo.json").exists()
    return -9, files_and_hashes(root), said


def test_apply_survives_sigkill_at_every_checkpoint(make_store, tmp_path):
    pristine = make_store(GOLDEN)
    plan = migrate.build_plan(scan(str(pristine)))
    n_steps = len(plan.steps)
    # Checkpoints: backups prepared, begin, (intent, action, done) per step, commit.
    total = 3 * n_steps + 3
    reference_plan = tmp_path / "ref.json"
    reference_plan.write_bytes(migrate.dumps_plan(plan))
    assert invoke("migrate", "simulate", reference_plan, "--into", tmp_path / "sim").exit_code == 0
    expected = files_and_hashes(tmp_path / "sim")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda k: (k, *_crash_and_resume(tmp_path, pristine, k)), range(1, total + 2)))
    for k, code, tree, _ in results:
        assert tree == expected, f"crash at checkpoint {k} then resume differs from the simulation"
        assert code == (-9 if k <= total else 0), k
    said = {k: messages for k, _, _, messages in results}
    # Killed before `begin`: starts over; after `commit`: nothing left; in between: resumes.
    assert any("starting from the beginning" in m for m in said[1])
    assert all(any(m.startswith("resuming") for m in said[k]) for k in range(2, total))
    assert said[total] == [] and said[total + 1] == []  # the last checkpoint is after the commit record


def test_resume_removes_a_leftover_temp_file(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    sim = tmp_path / "sim"
    assert invoke("migrate", "simulate", plan_path, "--into", sim).exit_code == 0
    # Killed at the intent of step 2 (a write of membership.csv), as if mid-write: a half temp file.
    killed = _lineage("migrate", "apply", plan_path, "--yes", env={**os.environ, CRASH_ENV: "6"})
    assert killed.returncode == -signal.SIGKILL
    (root / "cohorts/c1/.membership.csv.lineage-migrate.tmp").write_bytes(b"stage,gen")
    refused = invoke("migrate", "apply", plan_path, "--yes")
    assert refused.exit_code == 2 and "--resume" in refused.stderr
    result = invoke("migrate", "apply", plan_path, "--resume", "--yes")
    assert result.exit_code == 0, result.output
    assert files_and_hashes(root) == files_and_hashes(sim)
    journal = [json.loads(line) for line in open(migrate.journal_dir(plan_path) + "/journal.jsonl")]
    assert [r["event"] for r in journal[:3]] == ["begin", "intent", "done"]
    assert journal[-1]["event"] == "commit" and sum(r["event"] == "begin" for r in journal) == 1


def test_resume_without_a_crash_and_a_leftover_temp_file(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    # Nothing to resume yet: --resume starts from the beginning.
    result = invoke("migrate", "apply", plan_path, "--resume", "--yes")
    assert result.exit_code == 0, result.output
    result = invoke("migrate", "apply", plan_path, "--resume", "--yes")
    assert result.exit_code == 0 and "already complete" in result.stderr
