"""`lineage impact` and lineage.analyses.impact: every place a rename touches, exact paths/lines/columns/pointers."""

import json

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage.analyses.impact import read_mapping, unsafe_reason
from lineage.core.status import UsageError
from test_readonly import tree_digest

runner = CliRunner()

D = "43ftibqi56628az1"  # legacy; its metadata implies the published d_5ezrffv9uf3lr37d
E = "e_42r41mo8t4mdmatr"  # minted from the legacy draft ID
V1, V2 = "v_21jxnrz383kjn7tf", "v_35v5cdixaiy3mhqb"
ND, NE, NV1, NV2 = "d_5ezrffv9uf3lr37d", "e_sq5klak2lljyyom", "v_4xdwfjt7penqwg2g", "v_1fo1pv48lzrkhwlh"

DRAFT = {"stage": "draft", "gen_id": D, "origin_cohort_id": "c-wide", "mode": "llm",
         "template_id": "creative-synthesis-v10", "combo_id": "combo_v1_85128e4e5ef3",
         "llm_model_id": "gemini_25_pro", "replicate": 1,
         "files": {"raw": f"/srv/daydream/data/gens/draft/{D}/raw.txt",
                   "parsed": f"/srv/daydream/data/gens/draft/{D}/parsed.txt"}}
ESSAY = {"stage": "essay", "gen_id": E, "origin_cohort_id": "c-wide", "mode": "llm",
         "template_id": "creative-synthesis-v10", "parent_gen_id": D, "replicate": 1}
EV1 = {"stage": "evaluation", "gen_id": V1, "origin_cohort_id": "c-slim", "mode": "llm", "template_id": "novelty-v2",
       "parent_gen_id": E, "llm_model_id": "sonnet-4", "replicate": 1}
EV2 = {**EV1, "gen_id": V2, "replicate": 2, "draft_gen_id": D}  # legacy field naming the grandparent

STORE = {
    f"gens/draft/{D}/metadata.json": DRAFT,
    f"gens/draft/{D}/raw.txt": "draft text",
    f"gens/draft/{D}/raw_metadata.json": {
        "stage": "draft", "gen_id": D, "function": "draft_raw", "mode": "llm", "run_id": "r1",
        "raw_path": f"/srv/daydream/data/gens/draft/{D}/raw.txt",
        "raw_metadata_path": f"gens/draft/{D}/raw_metadata.json"},
    f"gens/essay/{E}/metadata.json": ESSAY,
    f"gens/essay/{E}/parsed_metadata.json": {
        "stage": "essay", "gen_id": E, "function": "essay_parsed", "run_id": "r2",
        "parsed_path": f"gens/essay/{E}/parsed.txt", "copied_from": f"gens/draft/{D}/parsed.txt",
        "resume_gen_id": E, "resume_message": f"resumed {E} after a timeout"},
    f"gens/evaluation/{V1}/metadata.json": EV1,
    f"gens/evaluation/{V2}/metadata.json": EV2,
    "cohorts/c-slim/membership.csv": f"stage,gen_id\ndraft,{D}\nessay,{E}\nevaluation,{V1}\nevaluation,{V2}\n",
    "cohorts/c-wide/membership.csv": (
        "stage,gen_id,cohort_id,parent_gen_id,combo_id,template_id,llm_model_id\n"
        f"draft,{D},c-wide,,combo_v1_85128e4e5ef3,creative-synthesis-v10,gemini_25_pro\n"
        f"essay,{E},c-wide,{D},,creative-synthesis-v10,\n"),
    "6_summary/generation_scores_pivot.csv": (
        "combo_id,essay_gen_id,generation_response_path,score\n"
        f"combo_v1_85128e4e5ef3,{E},/srv/daydream/data/gens/essay/{E}/parsed.txt,8.5\n"),
    "2_tasks/selected_essays.txt": f"# curated top essays\n\n{E}\n",
    f"results/{E}.txt": "the essay",
    "results/README.md": f"# Top essays\n\n- {E} (draft {D}): mean 8.5\n",
}

SRV = "/srv/daydream/data/gens"
README_LINE = f"- {E} (draft {D}): mean 8.5"
# (old_id, kind, path, line, column, pointer, old_value, new_value), in output order.
EXPECTED_PLACES = [
    (D, "folder", f"gens/draft/{D}", None, "", "", f"gens/draft/{D}", f"gens/draft/{ND}"),
    (D, "json", f"gens/draft/{D}/metadata.json", None, "", "/files/parsed", f"{SRV}/draft/{D}/parsed.txt",
     f"{SRV}/draft/{ND}/parsed.txt"),
    (D, "json", f"gens/draft/{D}/metadata.json", None, "", "/files/raw", f"{SRV}/draft/{D}/raw.txt",
     f"{SRV}/draft/{ND}/raw.txt"),
    (D, "json", f"gens/draft/{D}/metadata.json", None, "", "/gen_id", D, ND),
    (D, "json", f"gens/draft/{D}/raw_metadata.json", None, "", "/gen_id", D, ND),
    (D, "json", f"gens/draft/{D}/raw_metadata.json", None, "", "/raw_metadata_path",
     f"gens/draft/{D}/raw_metadata.json", f"gens/draft/{ND}/raw_metadata.json"),
    (D, "json", f"gens/draft/{D}/raw_metadata.json", None, "", "/raw_path", f"{SRV}/draft/{D}/raw.txt",
     f"{SRV}/draft/{ND}/raw.txt"),
    (D, "json", f"gens/essay/{E}/metadata.json", None, "", "/parent_gen_id", D, ND),
    (D, "json", f"gens/essay/{E}/parsed_metadata.json", None, "", "/copied_from", f"gens/draft/{D}/parsed.txt",
     f"gens/draft/{ND}/parsed.txt"),
    (D, "json", f"gens/evaluation/{V2}/metadata.json", None, "", "/draft_gen_id", D, ND),
    (D, "membership", "cohorts/c-slim/membership.csv", 2, "gen_id", "", D, ND),
    (D, "membership", "cohorts/c-wide/membership.csv", 2, "gen_id", "", D, ND),
    (D, "membership", "cohorts/c-wide/membership.csv", 3, "parent_gen_id", "", D, ND),
    (D, "text", "results/README.md", 3, "", "", README_LINE, README_LINE.replace(D, ND)),
    (D, "partition", "", None, "draft_gens", "", D, ND),
    (E, "folder", f"gens/essay/{E}", None, "", "", f"gens/essay/{E}", f"gens/essay/{NE}"),
    (E, "json", f"gens/essay/{E}/metadata.json", None, "", "/gen_id", E, NE),
    (E, "json", f"gens/essay/{E}/parsed_metadata.json", None, "", "/gen_id", E, NE),
    (E, "json", f"gens/essay/{E}/parsed_metadata.json", None, "", "/parsed_path", f"gens/essay/{E}/parsed.txt",
     f"gens/essay/{NE}/parsed.txt"),
    (E, "json", f"gens/essay/{E}/parsed_metadata.json", None, "", "/resume_gen_id", E, NE),
    (E, "json", f"gens/essay/{E}/parsed_metadata.json", None, "", "/resume_message",
     f"resumed {E} after a timeout", f"resumed {NE} after a timeout"),
    (E, "json", f"gens/evaluation/{V1}/metadata.json", None, "", "/parent_gen_id", E, NE),
    (E, "json", f"gens/evaluation/{V2}/metadata.json", None, "", "/parent_gen_id", E, NE),
    (E, "membership", "cohorts/c-slim/membership.csv", 3, "gen_id", "", E, NE),
    (E, "membership", "cohorts/c-wide/membership.csv", 3, "gen_id", "", E, NE),
    (E, "csv", "6_summary/generation_scores_pivot.csv", 2, "essay_gen_id", "", E, NE),
    (E, "csv_path", "6_summary/generation_scores_pivot.csv", 2, "generation_response_path", "",
     f"gens/essay/{E}", f"gens/essay/{NE}"),
    (E, "selection", "2_tasks/selected_essays.txt", 3, "", "", E, NE),
    (E, "file_name", f"results/{E}.txt", None, "", "", f"results/{E}.txt", f"results/{NE}.txt"),
    (E, "text", "results/README.md", 3, "", "", README_LINE, README_LINE.replace(E, NE)),
    (E, "partition", "", None, "essay_gens", "", E, NE),
    (V1, "folder", f"gens/evaluation/{V1}", None, "", "", f"gens/evaluation/{V1}", f"gens/evaluation/{NV1}"),
    (V1, "json", f"gens/evaluation/{V1}/metadata.json", None, "", "/gen_id", V1, NV1),
    (V1, "membership", "cohorts/c-slim/membership.csv", 4, "gen_id", "", V1, NV1),
    (V1, "partition", "", None, "evaluation_gens", "", V1, NV1),
    (V2, "folder", f"gens/evaluation/{V2}", None, "", "", f"gens/evaluation/{V2}", f"gens/evaluation/{NV2}"),
    (V2, "json", f"gens/evaluation/{V2}/metadata.json", None, "", "/gen_id", V2, NV2),
    (V2, "membership", "cohorts/c-slim/membership.csv", 5, "gen_id", "", V2, NV2),
    (V2, "partition", "", None, "evaluation_gens", "", V2, NV2),
]
NEW = {D: ND, E: NE, V1: NV1, V2: NV2}


def impact_json(*args, code=0):
    result = runner.invoke(app, ["impact", *map(str, args), "--format", "json", "--no-progress"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout), result.stderr


def places_of(doc):
    return [(p["old_id"], p["kind"], p["path"], p["line"], p["column"], p["pointer"], p["old_value"], p["new_value"])
            for p in doc["places"]]


def test_every_place_of_a_cascaded_rename(make_store):
    root = make_store(STORE)
    doc, stderr = impact_json(root, D)
    assert places_of(doc) == EXPECTED_PLACES
    assert all(p["new_id"] == NEW[p["old_id"]] for p in doc["places"])
    assert [(r["stage"], r["old_id"], r["new_id"], r["cause"], r["via"]) for r in doc["renames"]] == [
        ("draft", D, ND, "given", ""), ("essay", E, NE, "cascade", D),
        ("evaluation", V1, NV1, "cascade", E), ("evaluation", V2, NV2, "cascade", E)]
    assert {p["cause"] for p in doc["places"] if p["old_id"] == V1} == {f"cascade from {E}"}
    assert doc["partitions"] == {
        "delete": {"draft_gens": [D], "essay_gens": [E], "evaluation_gens": [V1, V2]},
        "add": {"draft_gens": [ND], "essay_gens": [NE], "evaluation_gens": [NV1, NV2]}}
    assert doc["conflicts"] == [] and doc["warnings"] == []
    assert "4 renames (3 cascade, 1 given), 39 places in 12 files, 0 conflicts" in stderr


def test_csv_output_has_the_same_places(make_store):
    root = make_store(STORE)
    result = runner.invoke(app, ["impact", str(root), D, "--format", "csv", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "old_id,new_id,stage,cause,kind,path,line,column,pointer,old_value,new_value,action"
    assert len(lines) == 1 + len(EXPECTED_PLACES)
    assert (f"{E},{NE},essay,cascade from {D},csv_path,6_summary/generation_scores_pivot.csv,2,"
            f"generation_response_path,,gens/essay/{E},gens/essay/{NE},replace the ID inside the path") in lines


def test_a_mapping_file_gives_the_same_places(make_store, tmp_path):
    root = make_store(STORE)
    mapping = tmp_path / "renames.csv"
    mapping.write_text(f"stage,old_id,new_id\ndraft,{D},{ND}\n")
    doc, _ = impact_json(root, "--mapping", mapping)
    assert places_of(doc) == EXPECTED_PLACES
    assert doc["renames"][0]["cause"] == "mapping"
    # The CSV that `lineage ids --mapping-csv` writes is a valid mapping (here: every rename listed).
    out = tmp_path / "all.csv"
    assert runner.invoke(app, ["ids", str(root), "--no-progress", "--mapping-csv", str(out)]).exit_code == 0
    doc2, _ = impact_json(root, "--mapping", out)
    assert places_of(doc2) == EXPECTED_PLACES
    assert [r["cause"] for r in doc2["renames"]] == ["mapping"] * 4


def test_a_mapping_without_stage_and_with_an_unexpected_new_id(make_store, tmp_path):
    root = make_store(STORE)
    mapping = tmp_path / "renames.csv"
    mapping.write_text(f"old_id,new_id\n{E},e_1cx6440bb5zj9466\n")
    doc, stderr = impact_json(root, "--mapping", mapping)
    # The essay takes the given ID; its evaluations cascade from it; the draft is kept.
    assert [(r["old_id"], r["new_id"], r["cause"]) for r in doc["renames"]] == [
        (E, "e_1cx6440bb5zj9466", "mapping"), (V1, "v_psp929xnczcjjqk", "cascade"),
        (V2, "v_3uq09gxg75wq8j9x", "cascade")]
    assert doc["warnings"] == [f"essay {E}: mapped to e_1cx6440bb5zj9466, but its metadata implies {E}"]
    assert "lineage: warning: essay" in stderr


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_drawings(make_store, fmt):
    root = make_store(STORE)
    result = runner.invoke(app, ["impact", str(root), D, "--format", fmt, "--no-progress"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "mermaid":
        assert out.splitlines()[0] == "flowchart LR"
        assert f'  n0["draft<br/>{D}<br/>→ {ND}"]:::renamed' in out
        assert [line.strip() for line in out.splitlines() if "-->" in line] == ["n0 --> n1", "n1 --> n2", "n1 --> n3"]
    else:
        assert out.startswith("digraph cascade {") and out.rstrip().endswith("}")
        assert out.count("{") == out.count("}")
        assert f'n1 [label="essay\\n{E}\\n→ {NE}"' in out
        assert [line.strip() for line in out.splitlines() if "->" in line] == ["n0 -> n1;", "n1 -> n2;", "n1 -> n3;"]


def test_drawing_shows_a_kept_parent(make_store, tmp_path):
    root = make_store(STORE)
    mapping = tmp_path / "m.csv"
    mapping.write_text(f"old_id,new_id\n{E},{NE}\n")
    result = runner.invoke(app, ["impact", str(root), "--mapping", str(mapping), "--format", "mermaid",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f'n0["draft<br/>{D}<br/>(kept)"]:::kept' in result.stdout
    assert "n0 --> n1" in result.stdout


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_human_formats(make_store, fmt):
    root = make_store(STORE)
    result = runner.invoke(app, ["impact", str(root), D, "--format", fmt, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Places to update" in result.stdout


CONFLICT = {
    "gens/draft/aaaaaaaaaaaaaaa1/metadata.json": {**DRAFT, "gen_id": "aaaaaaaaaaaaaaa1", "files": {}},
    "gens/draft/aaaaaaaaaaaaaaa2/metadata.json": {**DRAFT, "gen_id": "aaaaaaaaaaaaaaa2", "files": {}},
}


def test_conflicting_renames_exit_1(make_store):
    root = make_store(CONFLICT)
    doc, stderr = impact_json(root, "aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2", code=1)
    assert doc["conflicts"] == [{"kind": "same_new_id", "stage": "draft", "new_id": ND,
                                 "old_ids": ["aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2"],
                                 "message": f"aaaaaaaaaaaaaaa1 and aaaaaaaaaaaaaaa2 would both become {ND}"}]
    assert "FAIL" in stderr


def test_an_existing_target_folder_is_a_conflict(make_store):
    root = make_store({**CONFLICT, f"gens/draft/{ND}/metadata.json": {**DRAFT, "gen_id": ND, "files": {}}})
    doc, _ = impact_json(root, "aaaaaaaaaaaaaaa1", code=1)
    assert [c["kind"] for c in doc["conflicts"]] == ["exists"]
    assert doc["conflicts"][0]["message"] == f"{ND} already exists as gens/draft/{ND}"


def test_an_id_that_needs_no_rename_is_a_warning(make_store):
    root = make_store(STORE)
    doc, stderr = impact_json(root, E)
    assert doc["renames"] == [] and doc["places"] == []
    assert doc["warnings"] == [f"essay {E} already has the ID its metadata implies; not renamed"]


BAD_IDS = ["../gens", "a/b", "a\\b", "/etc/passwd", "d_x\x00y", "d_..x", "C:evil"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_path_tricks_in_arguments_are_refused(make_store, tmp_path, bad):
    root = make_store(STORE)
    before = tree_digest(root)
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["impact", str(root), bad, "--output", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("lineage: error: argument: ID ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert tree_digest(root) == before


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("column", ["old_id", "new_id"])
def test_path_tricks_in_a_mapping_are_refused(make_store, tmp_path, bad, column):
    root = make_store(STORE)
    before = tree_digest(root)
    mapping = tmp_path / "m.csv"
    old, new = (bad, ND) if column == "old_id" else (D, bad)
    mapping.write_text(f'old_id,new_id\n"{old}","{new}"\n')
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["impact", str(root), "--mapping", str(mapping), "--output", str(out),
                                 "--no-progress"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"lineage: error: mapping {mapping}:2: ID ")
    assert not out.exists()
    assert tree_digest(root) == before


@pytest.mark.parametrize("new,why", [("-rf", "starts with '-'"), ("d new", "whitespace or a control character"),
                                     ("d_a\nb", "whitespace or a control character"),
                                     ("d_\x07", "whitespace or a control character")])
def test_a_new_id_must_make_a_plain_folder_name(make_store, tmp_path, new, why):
    root = make_store(STORE)
    mapping = tmp_path / "m.csv"
    mapping.write_text(f'old_id,new_id\n{D},"{new}"\n')
    result = runner.invoke(app, ["impact", str(root), "--mapping", str(mapping), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert why in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unsafe_reason():
    assert unsafe_reason(ND) == "" and unsafe_reason(D) == ""
    assert unsafe_reason("..") == "contains '..'"
    assert unsafe_reason(" ") == "is empty"


@pytest.mark.parametrize("args,message", [
    ([], "give GEN_IDs or --mapping FILE"),
    (["nosuchid"], "nosuchid names no generation folder"),
])
def test_usage_errors(make_store, tmp_path, args, message):
    root = make_store(STORE)
    result = runner.invoke(app, ["impact", str(root), *args, "--no-progress"])
    assert result.exit_code == 2
    assert message in result.stderr


def test_both_ids_and_mapping_is_a_usage_error(make_store, tmp_path):
    root = make_store(STORE)
    mapping = tmp_path / "m.csv"
    mapping.write_text(f"old_id,new_id\n{D},{ND}\n")
    result = runner.invoke(app, ["impact", str(root), D, "--mapping", str(mapping), "--no-progress"])
    assert result.exit_code == 2


@pytest.mark.parametrize("content,message", [
    ("from,to\nx,y\n", "the header must name old_id and new_id"),
    (f"old_id,new_id,stage\n{D},{ND},drafts\n", "unknown stage 'drafts'"),
    ("", "is empty"),
])
def test_bad_mapping_files(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        read_mapping(str(path))


def test_output_inside_the_data_root_is_refused(make_store):
    root = make_store(STORE)
    result = runner.invoke(app, ["impact", str(root), D, "--output", str(root / "impact.json"), "--no-progress"])
    assert result.exit_code == 2
    assert not (root / "impact.json").exists()


def test_commands_are_read_only(tmp_path):
    from lineage import synthetic

    root = tmp_path / "data"
    synthetic.generate(str(root), 300, seed=11, problems="all", legacy_fraction=0.3, mismatch_fraction=0.1)
    before = tree_digest(root)
    mapping = tmp_path / "renames.csv"
    for fmt in ("table", "json", "csv", "md"):
        result = runner.invoke(app, ["ids", str(root), "--format", fmt, "--mapping-csv", str(mapping),
                                     "--no-progress"])
        assert result.exit_code == 0, result.output
    assert len(mapping.read_text().splitlines()) > 1
    for fmt in ("table", "json", "csv", "md", "mermaid", "dot"):
        result = runner.invoke(app, ["impact", str(root), "--mapping", str(mapping), "--format", fmt,
                                     "--output", str(tmp_path / f"impact.{fmt}"), "--no-progress"])
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
    assert tree_digest(root) == before
