"""The write path's promises at their edges: a rename never bakes a broken chain into new IDs,
a plan made stale by new mentions is refused, writes never leave the root through a swapped
folder, a journal belongs to one plan, a partial apply can always be undone, writing always
needs --yes, and the smaller holes found by a hostile review stay closed."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from conftest import run_audit
from lineage import migrate
from lineage.migrate.journal import CRASH_ENV
from lineage import synthetic
from test_migrate import GOLDEN, D, E, V, NE, NV, files_and_hashes, invoke, make_plan
from test_readonly import tree_digest

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def essay(gen_id, parent, template="creative-synthesis-v10", replicate=1):
    return {"stage": "essay", "gen_id": gen_id, "origin_cohort_id": "c1", "mode": "llm", "template_id": template,
            "parent_gen_id": parent, "replicate": replicate}


def evaluation(gen_id, parent, template="novelty-v2", replicate=1):
    return {"stage": "evaluation", "gen_id": gen_id, "origin_cohort_id": "c1", "mode": "llm", "template_id": template,
            "parent_gen_id": parent, "llm_model_id": "sonnet-4", "replicate": replicate}


def with_ids(*metas):
    """Metadata with the IDs they imply (so they are deterministic and match), parents first."""
    from lineage.core.ids import id_for

    out, new_of = {}, {}
    for m in metas:
        m = dict(m)
        if m.get("parent_gen_id") in new_of:
            m["parent_gen_id"] = new_of[m["parent_gen_id"]]
        real = id_for(m["stage"], m)
        new_of[m["gen_id"]] = real
        m["gen_id"] = real
        out[f"gens/{m['stage']}/{real}/metadata.json"] = m
    return out, new_of


# --- 8: renames that would bake in a corrupt reference -------------------------------------------

def edited_parent_store():
    """The golden legacy chain, plus an essay whose parent_gen_id was edited by hand to a draft
    that does not exist (so its stored ID no longer recomputes), with eight evaluations."""
    spec = dict(GOLDEN)
    tree, new_of = with_ids(essay("E2", "d_5ezrffv9uf3lr37d", template="essay-theme-v6"),
                            *[evaluation(f"V{i}", "E2", template=f"t{i}") for i in range(8)])
    e2 = new_of["E2"]
    meta = tree[f"gens/essay/{e2}/metadata.json"]
    meta["parent_gen_id"] = "d_doesnotexist1"  # the hand edit
    spec.update(tree)
    return spec, e2, [new_of[f"V{i}"] for i in range(8)]


def test_a_rename_under_a_missing_parent_is_blocked_not_planned(make_store, tmp_path):
    spec, e2, evals = edited_parent_store()
    root = make_store(spec)
    report = run_audit(root)
    assert [f["gen_id"] for f in report["findings"] if f["check"] == "chain.parent_missing"] == [e2]
    assert sorted(f["gen_id"] for f in report["findings"] if f["check"] == "chain.ancestor_broken") == sorted(evals)

    plan = make_plan(root, tmp_path / "plan.json", "--only", "all")
    renamed = {r["old_id"] for p in plan["phases"] for r in p["renames"]}
    assert renamed == {D, E, V}  # the golden chain only
    assert [(b["stage"], b["gen_id"], b["check"]) for b in plan["blocked"]] == [("essay", e2, "chain.parent_missing")]
    assert "d_doesnotexist1 does not exist" in plan["blocked"][0]["problem"]
    assert any(e2 in w and "chain.parent_missing" in w for w in plan["warnings"])

    # `lineage ids` agrees: the essay keeps its ID, and says why.
    rows = json.loads(invoke("ids", root, "--format", "json", "--no-progress").stdout)
    row = next(r for r in rows if r["stored_id"] == e2)
    assert row["cascaded_id"] == e2 and "blocked by chain.parent_missing" in row["reason"]
    assert all(r["cascaded_id"] == r["stored_id"] for r in rows if r["stored_id"] in evals)

    # Opting in plans it, with a warning that names it.
    result = invoke("migrate", "plan", root, "--output", tmp_path / "p2.json", "--no-progress",
                    "--allow-broken-chains")
    assert result.exit_code == 0, result.output
    assert e2 in {r["old_id"] for p in json.loads((tmp_path / "p2.json").read_text())["phases"] for r in p["renames"]}
    assert f"essay {e2}: renamed despite chain.parent_missing" in result.stderr


def test_every_generation_with_a_chain_finding_is_left_alone_or_blocked(tmp_path):
    root = tmp_path / "data"
    synthetic.generate(str(root), 600, seed=4, problems="all", legacy_fraction=0.3, mismatch_fraction=0.1)
    report = run_audit(root)
    broken = {(f["stage"], f["gen_id"]) for f in report["findings"] if f["check"].startswith("chain.")
              and f["check"] != "chain.draft_has_parent"}
    assert broken, "a vacuous store"
    plan = migrate.build_plan(__import__("lineage.loaders.store", fromlist=["scan"]).scan(str(root)))
    renamed = {(r["stage"], r["old_id"]) for r in plan.renames}
    blocked = {(b["stage"], b["gen_id"]) for b in plan.blocked}
    assert renamed and not renamed & broken
    # Those a migration wanted to rename are in `blocked`, each with a check.
    assert blocked & broken and all(b["check"] for b in plan.blocked)


# --- 9: a plan made stale by new mentions of a renamed ID -----------------------------------------

def test_new_mentions_of_a_renamed_id_make_the_plan_stale(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    # After planning: a CSV naming the renamed essay, and a new evaluation of it.
    (root / "5_parsing").mkdir()
    (root / "5_parsing/new_scores.csv").write_text(f"gen_id,parent_gen_id,score\nv_x,{E},5\n")
    new_eval = evaluation("v_31ttmh2nqqckjyym", E, template="depth-v2")
    (root / f"gens/evaluation/{new_eval['gen_id']}").mkdir()
    (root / f"gens/evaluation/{new_eval['gen_id']}/metadata.json").write_text(json.dumps(new_eval, indent=2))
    before = tree_digest(root)
    for args in (["--yes"], []):
        result = invoke("migrate", "apply", plan_path, *args)
        assert result.exit_code == 2, result.output
        assert "stale" in result.stderr and "mentions" in result.stderr
    assert tree_digest(root) == before
    assert not os.path.exists(migrate.journal_dir(plan_path))
    simulated = invoke("migrate", "simulate", plan_path, "--into", tmp_path / "sim")
    assert simulated.exit_code == 2 and "stale" in simulated.stderr
    assert not (tmp_path / "sim").exists()


# --- 10: every write stays inside the root -------------------------------------------------------

def test_a_folder_swapped_for_a_symlink_mid_apply_is_not_followed(make_store, tmp_path, monkeypatch):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    outside = tmp_path / "outside"
    shutil.copytree(root / "cohorts", outside)
    outside_before = files_and_hashes(outside)
    from lineage.migrate import executor as ex_mod

    class SwapAtIntent(ex_mod.Checkpoints):
        """Right after the intent record of the first write into cohorts/, put a symlink to a
        copy outside the root where cohorts/ was (what renameat2(RENAME_EXCHANGE) does)."""

        def __call__(self, what=""):
            super().__call__(what)
            journal = Path(migrate.journal_dir(plan_path)) / "journal.jsonl"
            if what == "intent" and not (root / "cohorts.real").exists():
                last = json.loads(journal.read_text().splitlines()[-1])
                if last["path"].startswith("cohorts/"):
                    os.rename(root / "cohorts", root / "cohorts.real")
                    os.symlink(outside, root / "cohorts")

    monkeypatch.setattr(ex_mod, "Checkpoints", SwapAtIntent)
    result = invoke("migrate", "apply", plan_path, "--yes")
    assert result.exit_code == 3, result.output
    assert "symlink" in result.stderr and "refusing" in result.stderr
    assert files_and_hashes(outside) == outside_before  # nothing written outside the root


def test_a_symlinked_lock_file_is_refused_and_its_target_kept(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate me\n")
    os.symlink(target, migrate.lock_path(plan_path))
    before = tree_digest(root)
    result = invoke("migrate", "apply", plan_path, "--yes")
    assert result.exit_code == 2 and "symlink" in result.stderr
    assert target.read_text() == "do not truncate me\n"
    assert tree_digest(root) == before


# --- 11: a journal belongs to one plan -------------------------------------------------------------

def test_a_journal_of_another_plan_is_an_error_that_says_what_to_do(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    before = tree_digest(root)
    assert invoke("migrate", "apply", plan_path, "--yes").exit_code == 0
    assert invoke("migrate", "undo", plan_path, "--yes").exit_code == 0
    assert tree_digest(root) == before
    # A new plan written to the same file (another run: another `created`, another hash).
    plan = make_plan(root, plan_path)
    plan["created"] = "2030-01-01T00:00:00Z"
    plan_path.write_text(json.dumps(plan, indent=2))
    for args in (["--yes"], ["--yes", "--resume"], ["--resume"]):
        result = invoke("migrate", "apply", plan_path, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "belongs to another plan" in result.stderr and "Move that folder away" in result.stderr
    assert tree_digest(root) == before
    # The same plan after its undo is refused too, and says so.
    shutil.rmtree(migrate.journal_dir(plan_path))
    make_plan(root, plan_path)
    assert invoke("migrate", "apply", plan_path, "--yes").exit_code == 0
    assert invoke("migrate", "undo", plan_path, "--yes").exit_code == 0
    again = invoke("migrate", "apply", plan_path, "--yes")
    assert again.exit_code == 2 and "applied and then undone" in again.stderr


# --- 12: a partial apply can always be rolled back -------------------------------------------------

def _immutable(path: Path) -> bool:
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def test_a_permanent_failure_half_way_can_be_undone(make_store, tmp_path, monkeypatch):
    spec = dict(GOLDEN)
    spec["5_parsing/parsed_scores.csv"] = f"gen_id,score\n{V},7\n"  # written in the last phase
    root = make_store(spec)
    plan_path = tmp_path / "plan.json"
    plan = make_plan(root, plan_path)
    last_write = max(s["step"] for s in plan["steps"] if s.get("path") == "5_parsing/parsed_scores.csv")
    before = tree_digest(root)
    stuck = root / "5_parsing/parsed_scores.csv"
    if _immutable(stuck):  # the real thing: chattr +i (as root on ext4 and most file systems)
        release = lambda: subprocess.run(["chattr", "-i", str(stuck)], check=True)  # noqa: E731
    else:  # elsewhere the same refusal, from the file system layer the apply goes through
        from lineage.migrate import rootfs

        real_write = rootfs.RootFS.write

        def refuse(self, rel, *a, **k):
            if rel == "5_parsing/parsed_scores.csv":
                raise PermissionError(1, "Operation not permitted", rel)
            return real_write(self, rel, *a, **k)

        monkeypatch.setattr(rootfs.RootFS, "write", refuse)
        release = lambda: None  # noqa: E731
    try:
        result = invoke("migrate", "apply", plan_path, "--yes")
        assert result.exit_code == 3 and "parsed_scores.csv" in result.stderr, result.output
        journal = [json.loads(x) for x in open(Path(migrate.journal_dir(plan_path)) / "journal.jsonl")]
        assert max(r["step"] for r in journal if r["event"] == "done") == last_write - 1  # half way
        assert Path(migrate.undo_path(plan_path)).exists()  # written before the first write
        assert invoke("migrate", "apply", plan_path, "--resume", "--yes").exit_code == 3  # still stuck
        dry = invoke("migrate", "undo", plan_path)
        assert dry.exit_code == 0 and "dry run" in dry.stderr
        undone = invoke("migrate", "undo", plan_path, "--yes")
        assert undone.exit_code == 0, undone.output
    finally:
        release()
    assert tree_digest(root) == before  # every byte, name and mtime as before
    assert not list(root.rglob("*.lineage-migrate.tmp"))


# --- 13: writing always needs --yes ----------------------------------------------------------------

def test_resume_without_yes_is_a_dry_run(make_store, tmp_path):
    root = make_store(GOLDEN)
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    before = tree_digest(root)
    fresh = invoke("migrate", "apply", plan_path, "--resume", "--format", "csv")
    assert fresh.exit_code == 0 and "dry run" in fresh.stderr
    assert tree_digest(root) == before and not os.path.exists(migrate.journal_dir(plan_path))
    killed = subprocess.run([sys.executable, "-m", "lineage", "migrate", "apply", str(plan_path), "--yes"],
                            env={**os.environ, CRASH_ENV: "9"}, cwd=REPO, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    half = tree_digest(root)
    dry = invoke("migrate", "apply", plan_path, "--resume", "--format", "csv")
    assert dry.exit_code == 0 and "steps remain" in dry.stderr
    remaining = dry.stdout.strip().splitlines()[1:]
    assert 0 < len(remaining) < 15
    assert tree_digest(root) == half
    assert invoke("migrate", "apply", plan_path, "--resume", "--yes").exit_code == 0


# --- 14: smaller holes -----------------------------------------------------------------------------

def test_partition_keys_in_the_fallback_csv_are_not_formulas(make_store, tmp_path):
    bad = "=1+2"
    draft = dict(GOLDEN[f"gens/draft/{D}/metadata.json"], gen_id=bad)
    root = make_store({f"gens/draft/{bad}/metadata.json": draft})
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    assert invoke("migrate", "apply", plan_path, "--yes").exit_code == 0
    rows = (tmp_path / "plan.json.partitions.csv").read_text().splitlines()
    assert f"1,draft_gens,delete,'{bad}" in "\n".join(rows).replace("3,", "1,")
    assert not any(line.split(",")[-1].startswith("=") for line in rows)


def test_a_bom_and_a_quoted_id_column_first_are_planned(make_store, tmp_path):
    spec = dict(GOLDEN)
    spec["5_parsing/excel.csv"] = f'\ufeff"gen_id","score"\r\n"{V}",7\r\n'
    root = make_store(spec)
    plan = make_plan(root, tmp_path / "plan.json")
    step = next(s for s in plan["steps"] if s.get("path") == "5_parsing/excel.csv")
    assert [(e["line"], e["old_value"], e["new_value"]) for e in step["edits"]] == [(2, V, NV)]
    assert invoke("migrate", "apply", tmp_path / "plan.json", "--yes").exit_code == 0
    assert (root / "5_parsing/excel.csv").read_bytes() == f'\ufeff"gen_id","score"\r\n"{NV}",7\r\n'.encode()


def test_sigterm_while_writing_an_output_leaves_no_temp_file(tmp_path):
    out = tmp_path / "out.json"
    script = textwrap.dedent(f"""
        import os, signal
        from lineage.cli import on_sigterm
        from lineage.render.formats import destination
        signal.signal(signal.SIGTERM, on_sigterm)
        with destination({str(out)!r}) as fh:
            fh.write("{{" * 1000)
            os.kill(os.getpid(), signal.SIGTERM)
            fh.write("never")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "Terminated" in proc.stderr
    assert os.listdir(tmp_path) == []


def test_sigterm_ends_a_command_with_143(tmp_path):
    """The command is stopped while it writes: its output is a FIFO whose reader takes a few
    bytes and then stops reading, so the writer is blocked in a write when the signal comes."""
    root = tmp_path / "data"
    synthetic.generate(str(root), 3000, seed=1, text_files=False)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "lineage", "ids", str(root), "--no-progress", "--format", "json",
                             "--output", str(fifo)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "rb") as reader:
        assert reader.read(10)  # it is writing; the rows do not fit in the pipe
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err, err


def test_an_output_to_a_full_device_names_it(make_store):
    root = make_store(GOLDEN)
    result = invoke("audit", root, "--format", "json", "--output", "/dev/full", "--no-progress")
    assert result.exit_code == 3 and "/dev/full" in result.stderr


def test_a_simulation_that_hits_a_fifo_leaves_no_copy(make_store, tmp_path):
    root = make_store(GOLDEN)
    os.mkfifo(root / "notes.fifo")
    plan_path = tmp_path / "plan.json"
    make_plan(root, plan_path)
    result = invoke("migrate", "simulate", plan_path, "--into", tmp_path / "sim")
    assert result.exit_code == 3 and "notes.fifo" in result.stderr
    assert not (tmp_path / "sim").exists()
    (tmp_path / "empty").mkdir()
    assert invoke("migrate", "simulate", plan_path, "--into", tmp_path / "empty").exit_code == 3
    assert os.listdir(tmp_path / "empty") == []


def test_a_rename_into_a_missing_folder_names_that_folder(make_store, tmp_path):
    spec = dict(GOLDEN)
    spec[f"results/{E}.txt"] = "the essay\n"
    root = make_store(spec)
    plan_path = tmp_path / "plan.json"
    plan = make_plan(root, plan_path)
    step = next(s for s in plan["steps"] if s["op"] == "rename_file")
    step["to"] = f"results/gone/{NE}.txt"
    plan_path.write_text(json.dumps(plan, indent=2))
    result = invoke("migrate", "apply", plan_path, "--yes")
    assert result.exit_code == 3
    assert "results/gone" in result.stderr and "does not exist" in result.stderr
