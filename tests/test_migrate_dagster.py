"""`lineage migrate apply|undo --dagster-home` against a real Dagster instance: the SQLite
instance the pipeline wrote for tests/fixtures/upstream-ef84f79 (copied to tmp_path), not a
stand-in module.

The setup puts one draft, its essays and their evaluations under the IDs the pipeline would have
minted had the draft been reserved with a legacy ID: the draft gets a legacy ID, each essay the
deterministic ID of its signature over that legacy parent, each evaluation the ID over its
re-minted essay, in every file that names them and in the partition sets. The migration plan then
renames across all three stages, back to the IDs the fixture was written with.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance
from typer.testing import CliRunner

from lineage.cli import app
from lineage.core.ids import PARTITION_SET, STAGES, id_for, legacy_id

from test_readonly import tree_digest

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "upstream-ef84f79"
DRAFT = "d_ljjw42njcym1m9m"  # in both cohorts; one of its essays is in the selection file


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def partitions(home: Path) -> dict[str, set[str]]:
    with DagsterInstance.from_config(str(home)) as instance:
        return {name: set(instance.get_dynamic_partitions(name)) for name in PARTITION_SET.values()}


def contents(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, with its bytes (mtimes aside)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def metadata(data: Path, stage: str) -> dict[str, dict]:
    return {p.name: json.loads((p / "metadata.json").read_text(encoding="utf-8"))
            for p in sorted((data / "gens" / stage).iterdir())}


def remint_under_a_legacy_draft(data: Path, draft: str) -> dict[str, tuple[str, str]]:
    """{old_id: (stage, new_id)} for the draft, its essays and their evaluations, renamed in
    every folder name and every file of the data root as the pipeline would have minted them."""
    drafts, essays, evaluations = (metadata(data, s) for s in STAGES)
    meta = drafts[draft]
    task = f"{meta['combo_id']}_{meta['template_id']}_{meta['llm_model_id']}"
    mapping = {draft: ("draft", legacy_id("draft", task))}
    for stage, gens in (("essay", essays), ("evaluation", evaluations)):
        for gen_id, m in gens.items():
            if m.get("parent_gen_id") in mapping:
                renamed = {**m, "parent_gen_id": mapping[m["parent_gen_id"]][1]}
                mapping[gen_id] = (stage, id_for(stage, renamed))
    for path in (p for p in data.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        new = text
        for old, (_, gen_id) in mapping.items():
            new = new.replace(old, gen_id)
        if new != text:
            path.write_text(new, encoding="utf-8")
    for old, (stage, new) in mapping.items():
        (data / "gens" / stage / old).rename(data / "gens" / stage / new)
    return mapping


@pytest.fixture
def legacy_cascade(tmp_path):
    """(data root, Dagster home, mapping, the fixture's own partition keys, its file contents)."""
    dest = tmp_path / "upstream"
    shutil.copytree(FIXTURE, dest, symlinks=True)
    data, home = dest / "data", dest / "dagster_home"
    pristine_keys, pristine_files = partitions(home), contents(data)
    mapping = remint_under_a_legacy_draft(data, DRAFT)
    assert {s for s, _ in mapping.values()} == set(STAGES)
    with DagsterInstance.from_config(str(home)) as instance:
        for old, (stage, new) in mapping.items():
            instance.delete_dynamic_partition(PARTITION_SET[stage], old)
            instance.add_dynamic_partitions(PARTITION_SET[stage], [new])
    return data, home, mapping, pristine_keys, pristine_files


def make_plan(data: Path, plan: Path) -> dict:
    result = invoke("migrate", "plan", data, "--only", "all", "--output", plan, "--no-progress")
    assert result.exit_code == 0, result.output
    return json.loads(plan.read_text(encoding="utf-8"))


def moved(keys: dict[str, set[str]], mapping: dict[str, tuple[str, str]], direction: str) -> dict[str, set[str]]:
    """`keys` with every mapped key moved old -> new (direction "forward") or back."""
    out = {name: set(ks) for name, ks in keys.items()}
    for old, (stage, new) in mapping.items():
        src, dst = (old, new) if direction == "forward" else (new, old)
        out[PARTITION_SET[stage]].discard(src)
        out[PARTITION_SET[stage]].add(dst)
    return out


def test_cascade_moves_every_partition_set_and_undo_restores_them(legacy_cascade, tmp_path):
    data, home, mapping, pristine_keys, pristine_files = legacy_cascade
    before_keys, before_digest = partitions(home), tree_digest(data)
    assert before_keys == moved(pristine_keys, mapping, "forward")

    plan = make_plan(data, tmp_path / "plan.json")
    renames = {(s["old_id"], s["new_id"]) for s in plan["steps"] if s["op"] == "rename_dir"}
    assert renames == {(new, old) for old, (_, new) in mapping.items()}
    assert {s["partition_set"] for s in plan["steps"] if s["op"] == "partitions"} == set(PARTITION_SET.values())

    result = invoke("migrate", "apply", tmp_path / "plan.json", "--yes", "--dagster-home", home)
    assert result.exit_code == 0, result.output
    assert f"partition keys: Dagster instance {home}" in result.stderr
    assert not (tmp_path / "plan.json.partitions.csv").exists()
    after = partitions(home)
    for old, (stage, new) in mapping.items():
        name = PARTITION_SET[stage]
        assert old in after[name] and new not in after[name], (name, old, new)
    # Every set holds exactly the keys the pipeline wrote, and the store is the one it wrote.
    assert after == pristine_keys
    assert contents(data) == pristine_files

    result = invoke("migrate", "undo", tmp_path / "plan.json", "--yes", "--dagster-home", home)
    assert result.exit_code == 0, result.output
    undone = partitions(home)
    for old, (stage, new) in mapping.items():
        name = PARTITION_SET[stage]
        assert new in undone[name] and old not in undone[name], (name, old, new)
    assert undone == before_keys
    assert tree_digest(data) == before_digest


def test_dry_run_leaves_the_instance_alone(legacy_cascade, tmp_path):
    data, home, mapping, _, _ = legacy_cascade
    make_plan(data, tmp_path / "plan.json")
    before_keys, before_digest = partitions(home), tree_digest(data)

    result = invoke("migrate", "apply", tmp_path / "plan.json", "--dagster-home", home)
    assert result.exit_code == 0, result.output
    assert "dry run: nothing written" in result.stderr
    assert partitions(home) == before_keys
    assert tree_digest(data) == before_digest

    # The undo's dry run after a real apply leaves the moved keys where they are, too.
    assert invoke("migrate", "apply", tmp_path / "plan.json", "--yes", "--dagster-home", home).exit_code == 0
    applied_keys, applied_digest = partitions(home), tree_digest(data)
    assert applied_keys == moved(before_keys, mapping, "back")
    result = invoke("migrate", "undo", tmp_path / "plan.json", "--dagster-home", home)
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stderr
    assert partitions(home) == applied_keys
    assert tree_digest(data) == applied_digest


def test_stale_plan_is_refused_before_any_key_moves(legacy_cascade, tmp_path):
    data, home, mapping, _, _ = legacy_cascade
    make_plan(data, tmp_path / "plan.json")
    # A file the plan edits changes after the plan was made: an essay's metadata gains a field.
    essay = next(new for stage, new in mapping.values() if stage == "essay")
    path = data / "gens" / "essay" / essay / "metadata.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"mode"', '"note": "edited",\n  "mode"', 1),
                    encoding="utf-8")
    before_keys, before_digest = partitions(home), tree_digest(data)

    for args in (["--yes"], []):
        result = invoke("migrate", "apply", tmp_path / "plan.json", *args, "--dagster-home", home)
        assert result.exit_code == 2, result.output
        assert "stale" in result.stderr
        assert partitions(home) == before_keys
        assert tree_digest(data) == before_digest
    assert not (tmp_path / "plan.json.journal").exists()
    assert not os.path.exists(tmp_path / "plan.undo.json")
