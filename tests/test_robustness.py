"""Bad input becomes a finding or a one-line error with a non-zero exit, never a traceback."""

import json
import os

import pytest
from typer.testing import CliRunner

from lineage.cli import app

runner = CliRunner()

DRAFT = {"stage": "draft", "gen_id": "d_5ezrffv9uf3lr37d", "origin_cohort_id": "c1", "mode": "llm",
         "template_id": "creative-synthesis-v10", "combo_id": "combo_v1_85128e4e5ef3",
         "llm_model_id": "gemini_25_pro", "replicate": 1}
ESSAY = {"stage": "essay", "gen_id": "e_sq5klak2lljyyom", "origin_cohort_id": "c1", "mode": "llm",
         "template_id": "creative-synthesis-v10", "parent_gen_id": "d_5ezrffv9uf3lr37d", "replicate": 1}
MEMBERSHIP = "stage,gen_id\ndraft,d_5ezrffv9uf3lr37d\nessay,e_sq5klak2lljyyom\n"


def audit_json(root, *args):
    result = runner.invoke(app, ["audit", str(root), "--format", "json", "--no-progress", *args])
    assert "Traceback" not in result.output, result.output
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


def findings_of(report, check):
    return [f for f in report["findings"] if f["check"] == check]


@pytest.mark.parametrize("content,reason", [
    (b"[1, 2, 3]", "a JSON array, not an object"),
    (b'{"stage": "draft", "gen_id": "d_\xff\xfe"}', "not UTF-8"),
    (b"", "empty file"),
    (b'{"stage": "draft", "gen_id": "d_5ezrf', "not JSON"),
    (b"null", "a JSON null, not an object"),
    (b'"text"', "a JSON string, not an object"),
])
def test_broken_metadata_is_a_finding(make_store, content, reason):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": content,
                       "gens/essay/e_sq5klak2lljyyom/metadata.json": ESSAY,
                       "cohorts/c1/membership.csv": MEMBERSHIP})
    result, report = audit_json(root)
    assert result.exit_code == 1
    [finding] = findings_of(report, "store.metadata_invalid")
    assert finding["gen_id"] == "d_5ezrffv9uf3lr37d"
    assert finding["path"] == "gens/draft/d_5ezrffv9uf3lr37d/metadata.json"
    assert reason in finding["message"]
    # The child sees an unreadable parent rather than crashing or a missing one.
    assert [f["gen_id"] for f in findings_of(report, "chain.parent_unreadable")] == ["e_sq5klak2lljyyom"]


def test_huge_metadata_is_refused_without_reading_it_all(make_store, monkeypatch):
    from lineage.loaders import store

    monkeypatch.setattr(store, "MAX_METADATA_BYTES", 100_000)
    big = b'{"stage": "draft", "pad": "' + b"x" * 200_000 + b'"}'
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": big})
    scanned = store.scan(str(root))
    assert scanned.generations[0].meta_status == "invalid"
    assert "larger than" in scanned.generations[0].meta_error


def test_empty_folders_and_odd_names(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "gens/draft/empty_one/": None,
                       "gens/draft/Weird Name ü/": None,
                       "gens/draft/stray.tmp": "leftover",
                       "gens/essays/e_x/": None,
                       "cohorts/c1/membership.csv": "stage,gen_id\ndraft,d_5ezrffv9uf3lr37d\n"})
    result, report = audit_json(root)
    assert result.exit_code == 1
    assert {f["gen_id"] for f in findings_of(report, "store.metadata_missing")} == {"empty_one", "Weird Name ü"}
    assert {f["gen_id"] for f in findings_of(report, "id.malformed")} == {"empty_one", "Weird Name ü"}
    assert report["statistics"]["generations"]["draft"] == 3  # the stray file is no generation
    assert [f["path"] for f in findings_of(report, "store.path_skipped")] == ["gens/essays"]


def test_symlinks_out_of_the_root_are_not_followed(make_store, tmp_path):
    outside = tmp_path / "outside"
    (outside / "gens_like").mkdir(parents=True)
    (outside / "secret.json").write_text(json.dumps(DRAFT))
    (outside / "scores.csv").write_text("gen_id\nd_0secret\n")
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/": None,
                       "cohorts/c1/membership.csv": "stage,gen_id\ndraft,d_5ezrffv9uf3lr37d\n"})
    os.symlink(outside / "secret.json", root / "gens/draft/d_5ezrffv9uf3lr37d/metadata.json")
    os.symlink(outside / "gens_like", root / "gens/draft/d_1z2eobtuv71xs5az")
    os.makedirs(root / "7_cross_experiment")
    os.symlink(outside / "scores.csv", root / "7_cross_experiment/aggregated_scores.csv")
    os.symlink(outside, root / "5_parsing")
    result, report = audit_json(root)
    skipped = {f["path"] for f in findings_of(report, "store.path_skipped")}
    assert skipped == {"gens/draft/d_5ezrffv9uf3lr37d/metadata.json", "gens/draft/d_1z2eobtuv71xs5az",
                       "7_cross_experiment/aggregated_scores.csv", "5_parsing"}
    assert not findings_of(report, "ref.dangling")  # d_0secret was never read
    [invalid] = findings_of(report, "store.metadata_invalid")
    assert "outside the data root" in invalid["message"]


def test_csv_without_the_needed_columns(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "cohorts/c1/membership.csv": "gen,id\nx,y\n",
                       "cohorts/c2/membership.csv": "stage,gen_id\ndraft\n",
                       "5_parsing/parsed_scores.csv": "score\n1\n"})
    result, report = audit_json(root)
    problems = findings_of(report, "cohort.membership_invalid")
    assert [(p["cohort"], p["line"]) for p in problems] == [("c1", 1), ("c2", 2)]
    assert "stage, gen_id" in problems[0]["message"]


def test_csv_not_utf8_and_broken_quotes(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "5_parsing/a.csv": b"gen_id\n\xff\xfe\n",
                       "5_parsing/b.csv": 'gen_id,x\n"d_1,"\n' + "y" * 10 + "\n"})
    result, report = audit_json(root)
    assert "Traceback" not in result.output
    skipped = {f["path"]: f["message"] for f in findings_of(report, "store.path_skipped")}
    assert "not UTF-8" in skipped["5_parsing/a.csv"]


@pytest.mark.parametrize("args,message", [
    (["audit", "/no/such/root"], "does not exist"),
    (["audit", "{root}", "--check", "nope.check"], "unknown check"),
    (["audit", "{root}", "--severity", "id.legacy=fatal"], "CHECK=LEVEL"),
    (["audit", "{root}", "--stage", "drafts"], "unknown stage"),
    (["duplicates", "{root}", "--stage", "drafts"], "unknown stage"),
    (["audit", "{root}", "--output", "{root}/report.json"], "inside the data root"),
    (["inventory", "{root}", "--output-dir", "{root}/reports"], "inside the data root"),
    (["query", "{root}"], "name the data root and a query"),
    (["audit", "{root}", "--output", "{root}/../no/such/folder/a.json"], "there is no folder"),
    (["audit", "{root}", "--output", "{root}/.."], "is a folder; name a file"),
    (["inventory", "{root}", "--output-dir", "{root}/../a-file"], "exists and is not a folder"),
    (["query", "{root}", "nope"], "unknown query 'nope'"),
    (["query", "{root}", "descendants", "-p", "gen_id=d_nope"], "no generation d_nope under"),
])
def test_usage_errors_exit_2_with_one_line(make_store, args, message):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    (root.parent / "a-file").write_text("")
    result = runner.invoke(app, [a.format(root=root) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_zero_generations_exits_2(make_store):
    root = make_store({"cohorts/c1/membership.csv": MEMBERSHIP})
    result = runner.invoke(app, ["audit", str(root)])
    assert result.exit_code == 2
    assert "no generations" in result.output


def test_output_dash_means_stdout(make_store, tmp_path, monkeypatch):
    """`-o -` writes to stdout like no --output at all; it never creates a file named '-'."""
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["audit", str(root), "--format", "json", "--no-progress", "-o", "-", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format_version"] == "1.0"
    assert not (tmp_path / "-").exists()


def test_table_shows_data_as_text_not_markup(make_store):
    """An ID like "[/b]" in a CSV is printed as is; rich would otherwise read it as a closing tag."""
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "6_summary/scores.csv": "gen_id,score\n[/b],1\n"})
    result = runner.invoke(app, ["audit", str(root), "--format", "table", "--no-progress", "--check", "ref.dangling",
                                 "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    assert "[/b]" in result.stdout


@pytest.mark.parametrize("fmt,expected", [("csv", "stage,gen_id,depth,descendant_stage,descendant_id\n"),
                                          ("json", "[]\n")])
def test_a_query_without_rows_still_names_its_columns(make_store, fmt, expected):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    result = runner.invoke(app, ["query", str(root), "descendants", "-p", "gen_id=d_5ezrffv9uf3lr37d",
                                 "-f", fmt, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n") == expected


def test_show_as_csv_keeps_cohorts_and_the_places_that_mention_it(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "gens/essay/e_sq5klak2lljyyom/metadata.json": ESSAY,
                       "cohorts/c1/membership.csv": MEMBERSHIP,
                       "6_summary/scores.csv": "essay_gen_id,score\ne_sq5klak2lljyyom,7\n"})
    result = runner.invoke(app, ["show", str(root), "e_sq5klak2lljyyom", "-f", "csv", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.replace("\r\n", "\n").splitlines()
    assert lines[0] == "depth,relation,stage,gen_id,place,problems"
    assert lines[1].startswith("-1,ancestor,draft,d_5ezrffv9uf3lr37d,,")
    assert ",cohort_member,essay,e_sq5klak2lljyyom,cohort c1," in lines
    assert ",referenced_by,essay,e_sq5klak2lljyyom,6_summary/scores.csv:2 (essay_gen_id)," in lines


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_reader_that_leaves_gets_a_quiet_141(fmt):
    """`lineage … | head`: no message, exit 141, whatever the format (rich alone would exit 1)."""
    import subprocess
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples" / "data"
    proc = subprocess.Popen([sys.executable, "-m", "lineage", "audit", str(examples), "-f", fmt, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # gone before the first row is written
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_inventory_lists_the_legacy_ids_in_every_human_format(make_store, fmt):
    legacy = {**DRAFT, "gen_id": "43ftibqi56628az1"}
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "gens/draft/43ftibqi56628az1/metadata.json": legacy})
    result = runner.invoke(app, ["inventory", str(root), "-f", fmt, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Legacy IDs" in result.stdout and "43ftibqi56628az1" in result.stdout
    assert "d_5ezrffv9uf3lr37d" in result.stdout  # the ID its metadata implies


def _commands(group, prefix=()):
    """Every command path of the CLI, groups included."""
    import typer.main

    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    yield prefix
    for name, cmd in click_group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", list(_commands(app)), ids=lambda p: " ".join(p) or "lineage")
def test_every_help_has_an_example(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: lineage" in result.stdout or "Example: NEO4J_PASSWORD=... lineage" in result.stdout


def test_names_that_are_not_utf8_are_skipped_and_shown_escaped(make_store):
    """No ID, path or JSON report can carry a name that is not UTF-8: such a folder or file is
    a path_skipped finding (its odd bytes written as \\xNN), and the run goes on."""
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    base = os.fsencode(root)
    os.makedirs(base + b"/gens/essay/e_\xfeodd")
    os.makedirs(base + b"/6_summary")
    with open(base + b"/6_summary/bad\xffname.csv", "wb") as fh:
        fh.write(b"gen_id\nv_nosuch\n")
    with open(base + b"/gens/draft/d_5ezrffv9uf3lr37d/notes\xff.txt", "wb") as fh:
        fh.write(b"x")
    result, report = audit_json(root, "--fail-on", "never")
    assert result.exit_code == 0, result.output
    skipped = {f["path"]: f["message"] for f in findings_of(report, "store.path_skipped")}
    assert skipped == {"gens/essay/e_\\xfeodd": "skipped: the name is not UTF-8",
                       "6_summary/bad\\xffname.csv": "skipped: the name is not UTF-8"}
    assert report["statistics"]["generations"] == {"draft": 1, "essay": 0, "evaluation": 0}


def test_named_pipes_and_broken_links_never_stall_a_read(make_store):
    """A FIFO where a file belongs (metadata.json, a CSV, raw.txt) would block a plain open;
    each becomes a finding or a warning, and so do a symlink loop and a link to nothing."""
    import subprocess
    import sys

    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "gens/draft/d_5ezrffv9uf3lr37d/raw.txt": "x",
                       "gens/essay/e_sq5klak2lljyyom/": None})
    os.mkfifo(root / "gens/essay/e_sq5klak2lljyyom/metadata.json")
    os.mkfifo(root / "gens/essay/e_sq5klak2lljyyom/raw.txt")
    (root / "6_summary").mkdir()
    os.mkfifo(root / "6_summary/scores.csv")
    os.symlink("evaluation", root / "gens/evaluation")  # gens/evaluation -> itself
    os.symlink("nothing", root / "gens/draft/d_1dangling")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "lineage", *args, "--no-progress"], capture_output=True,
                              text=True, timeout=120)

    audit = run("audit", str(root), "-f", "json", "--fail-on", "never")
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    skipped = {f["path"]: f["message"] for f in findings_of(report, "store.path_skipped")}
    assert skipped["6_summary/scores.csv"] == "skipped: not a regular file"
    assert "Too many levels of symbolic links" in skipped["gens/evaluation"]
    assert "No such file or directory" in skipped["gens/draft/d_1dangling"]
    [invalid] = findings_of(report, "store.metadata_invalid")
    assert invalid["gen_id"] == "e_sq5klak2lljyyom" and "not a regular file" in invalid["message"]
    duplicates = run("duplicates", str(root))
    assert duplicates.returncode == 0 and "raw.txt: not a regular file" in duplicates.stderr


def test_output_through_a_symlink_or_into_a_device_keeps_them(make_store, tmp_path):
    """--output writes through a symlink (the link stays) and into a device as the shell
    would; a temp file renamed over them would replace the link or destroy the device."""
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    real = tmp_path / "real.json"
    real.write_text("old")
    os.symlink(real, tmp_path / "link.json")
    os.symlink(os.devnull, tmp_path / "null.json")
    for name in ("link.json", "null.json"):
        result = runner.invoke(app, ["audit", str(root), "-f", "json", "-o", str(tmp_path / name), "--no-progress",
                                     "--fail-on", "never"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).is_symlink()
    assert json.loads(real.read_text())["format_version"] == "1.0"
    assert not os.path.isfile(os.devnull)


def test_a_stage_folder_linked_out_of_the_root_is_not_read_and_reported_once(make_store, tmp_path):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    outside = tmp_path / "elsewhere" / "essay"
    (outside / "e_sq5klak2lljyyom").mkdir(parents=True)
    (outside / "e_sq5klak2lljyyom" / "metadata.json").write_text(json.dumps(ESSAY))
    os.symlink(outside, root / "gens" / "essay")
    (root / "2_tasks").mkdir()
    os.symlink("/etc/hostname", root / "2_tasks" / "selected_essays.txt")
    result, report = audit_json(root, "--fail-on", "never")
    assert report["statistics"]["generations"]["essay"] == 0
    skipped = [(f["path"], f["message"]) for f in findings_of(report, "store.path_skipped")]
    assert sorted(skipped) == [("2_tasks/selected_essays.txt", "skipped: symlink leads outside the data root"),
                               ("gens/essay", "skipped: symlink leads outside the data root")]


def test_a_huge_cell_is_cut_short_in_a_table_only(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "6_summary/scores.csv": "gen_id,score\nv_" + "y" * 100_000 + ",1\n"})
    table = runner.invoke(app, ["audit", str(root), "--check", "ref.dangling", "--fail-on", "never", "--no-progress"])
    assert table.exit_code == 0 and "(100,002 characters)" in table.stdout
    _, report = audit_json(root, "--check", "ref.dangling", "--fail-on", "never")
    assert len(report["findings"][0]["gen_id"]) == 100_002


def test_odd_cohort_and_selection_files_are_findings(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "cohorts/c1/membership.csv": "",
                       "cohorts/c2/manifest.json": {"combos": 5, "templates": "x", "llms": {}},
                       "cohorts/c3/manifest.json/": None,
                       "2_tasks/": None})
    os.mkfifo(root / "cohorts" / "c2" / "membership.csv")
    os.mkfifo(root / "2_tasks" / "selected_essays.txt")
    result, report = audit_json(root, "--fail-on", "never")
    assert result.exit_code == 0
    places = {(f["check"], f["path"]): f["message"] for f in report["findings"]
              if f["check"] in ("cohort.membership_invalid", "cohort.manifest_invalid", "store.path_skipped")}
    assert places == {
        ("cohort.membership_invalid", "cohorts/c1/membership.csv"): "membership.csv is empty",
        ("cohort.manifest_invalid", "cohorts/c2/manifest.json"):
            "manifest.json is unusable: combos is not a list; templates is not an object",
        ("store.path_skipped", "cohorts/c2/membership.csv"): "skipped: not a regular file",
        ("store.path_skipped", "cohorts/c3/manifest.json"): "skipped: not a regular file",
        ("store.path_skipped", "2_tasks/selected_essays.txt"): "skipped: not a regular file",
    }


def test_a_link_out_of_the_root_with_a_name_that_is_not_utf8(make_store, tmp_path):
    """Found by the hostile-store suite: the link was reported before its name was checked,
    and the report could not be written as JSON."""
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})
    os.symlink(tmp_path, os.path.join(os.fsencode(root / "gens/draft"), b"d_\xff\xfe"))
    result, report = audit_json(root)
    assert result.exit_code in (0, 1), result.output
    [skipped] = [f for f in report["findings"] if f["check"] == "store.path_skipped"]
    assert skipped["path"] == "gens/draft/d_\\xff\\xfe" and "outside the data root" in skipped["message"]


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\n", b"\n"])
def test_a_csv_that_is_only_a_bom_or_a_blank_line(make_store, content):
    """Found by the hostile-store suite: 'pop from empty list' on a CSV holding only a BOM."""
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "5_parsing/scores.csv": content, "cohorts/c1/membership.csv": content})
    result, report = audit_json(root)
    assert result.exit_code in (0, 1), result.output
    [empty] = [f for f in report["findings"] if f["check"] == "cohort.membership_invalid"]
    # Nothing at all is an empty file; a blank first line is a header without the columns.
    assert empty["message"] == ("membership.csv is empty" if content == b"\xef\xbb\xbf"
                                else "membership.csv lacks column(s) stage, gen_id")


def test_csv_output_neutralises_cells_a_spreadsheet_would_run(make_store):
    """An ID from the data that starts like a formula reaches a CSV export with a leading
    quote, so Excel, LibreOffice and Sheets show it as text."""
    import csv as csv_module
    import io

    evil = '=HYPERLINK("http://x","y")'
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
                       "5_parsing/scores.csv": f"gen_id,score\n\"{evil.replace(chr(34), chr(34) * 2)}\",1\n-2+3,4\n"})
    for args in (["audit", str(root), "--format", "csv"], ["orphans", str(root), "--format", "csv"]):
        result = runner.invoke(app, args + ["--no-progress"])
        assert result.exit_code in (0, 1), result.output
        cells = [c for row in csv_module.reader(io.StringIO(result.stdout)) for c in row]
        assert "'" + evil in cells and "'-2+3" in cells
        assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
