"""lineage.loaders.spec: cohort specs compiled into the pipeline's rows, generations and gen_ids.

The expected rows and IDs (spec_dsl_golden) come from running the pipeline's own compiler and
cohort build on the specs of spec_dsl_cases; the error cases check the one-line SpecError.
"""

from __future__ import annotations

import os

import pytest

import spec_dsl_golden as golden
from lineage.core import ids
from lineage.loaders.spec import (
    SpecError, compile_rows, load_spec, plan_generations, plan_rows, read_template_modes,
)
from lineage.loaders.spec import loader
from lineage.core.status import UsageError
from spec_dsl_cases import CASES, TEMPLATES


def write(root, files: dict[str, str | bytes]):
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def spec_of(tmp_path, case: str):
    return load_spec(write(tmp_path / "spec", CASES[case]))


def as_tuples(plan):
    return [(g.stage, g.gen_id, g.parent_gen_id, g.combo_id, g.template_id, g.llm_model_id, g.replicate)
            for g in plan.generations]


# --- the same rows and IDs as the pipeline ---------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_rows_are_the_pipelines(tmp_path, case):
    columns, values = golden.ROWS[case]
    rows = compile_rows(spec_of(tmp_path, case))
    assert [list(r.items()) for r in rows] == [list(zip(columns, v)) for v in values]


@pytest.mark.parametrize("case", list(CASES))
def test_generations_are_the_pipelines(tmp_path, case):
    assert as_tuples(plan_generations(spec_of(tmp_path, case))) == golden.PLANS[case]


def test_a_seed_shuffles_as_the_pipeline_does(tmp_path):
    columns, values = golden.SEEDED_SUBSETS
    rows = compile_rows(spec_of(tmp_path, "subsets"), seed=7)
    assert [list(r.items()) for r in rows] == [list(zip(columns, v)) for v in values]
    assert rows != compile_rows(spec_of(tmp_path, "subsets"))


def test_a_whole_cohort_end_to_end(tmp_path):
    """Every draft, essay and evaluation of the combined case, with the metadata the build seeds."""
    root = tmp_path / "data"
    write(root, {f"1_raw/{stage}_templates.csv": text for stage, text in TEMPLATES.items()})
    spec = load_spec(write(root / "cohorts" / "c1" / "spec", CASES["cohort"]))
    plan = plan_generations(spec, templates=read_template_modes(root))
    seeded = [g.metadata("spec-cohort") for g in plan.generations]
    assert [tuple(m) for m in seeded] == [golden.COHORT_METADATA_KEYS[m["stage"]] for m in seeded]
    assert [tuple(m.values()) for m in seeded] == golden.COHORT_METADATA
    assert [len(plan.stage(s)) for s in ("draft", "essay", "evaluation")] == [16, 24, 96]
    # parents first, children from the parent's ID; every ID recomputes from its own metadata
    known = set()
    for m in seeded:
        assert m.get("parent_gen_id") in (known if m["stage"] != "draft" else {None})
        assert ids.id_for(m["stage"], m) == m["gen_id"]
        known.add(m["gen_id"])
    modes = {(g.template_id, g.mode) for g in plan.stage("essay")}
    assert modes == {("copy-links-v1", "copy"), ("Essay-Theme-V3", "nan"), ("essay-theme-v3", "llm")}


def test_the_published_ids_come_out_of_a_spec(tmp_path):
    """DOMAIN 3.1's golden vectors, as one small cohort."""
    spec = load_spec(write(tmp_path, {"config.yaml": """\
axes:
  combo_id: [combo_v1_85128e4e5ef3]
  draft_template: [creative-synthesis-v10]
  draft_llm: [gemini_25_pro]
  essay_template: [creative-synthesis-v10]
  essay_llm: [gemini_25_pro]
  evaluation_template: [novelty-v2]
  evaluation_llm: [sonnet-4]
  evaluation_replicate: [1, 2]
output: {field_order: []}
"""}))
    plan = plan_generations(spec)
    assert plan.ids() == ["d_5ezrffv9uf3lr37d", "e_sq5klak2lljyyom", "v_4xdwfjt7penqwg2g", "v_1fo1pv48lzrkhwlh"]


# --- what each feature does, spelled out ------------------------------------------------------

def test_subsets_keep_the_axis_order(tmp_path):
    rows = compile_rows(spec_of(tmp_path, "subsets"))
    assert [r["draft_template"] for r in rows] == ["links-v4", "links-v4", "rolling-v1", "rolling-v1"]
    assert {r["evaluation_template"] for r in rows} == {"novelty-v3"}


def test_a_tie_keeps_common_levels_and_its_own_column(tmp_path):
    rows = compile_rows(spec_of(tmp_path, "ties"))
    assert {(r["shared_template"], r["draft_template"], r["essay_template"]) for r in rows} == {
        ("same-v1", "same-v1", "same-v1"), ("same-v2", "same-v2", "same-v2")}
    assert [r["essay_llm"] for r in rows[:2]] == ["qwen3-235b", "gemma_3_27b"]
    assert all(r["draft_llm"] == r["essay_llm"] for r in rows)


def test_tuple_axes_need_no_declaration(tmp_path):
    spec = spec_of(tmp_path, "tuples")
    assert spec.derived == ("draft_template", "draft_llm", "essay_template", "essay_llm", "evaluation_template")
    assert spec.axes["essay_llm"] == ("qwen3-235b", "None")
    assert len(compile_rows(spec)) == 2 * 2 * 2


def test_replicate_axes_are_explicit(tmp_path):
    plan = plan_generations(spec_of(tmp_path, "replicates"))
    assert [g.replicate for g in plan.stage("draft")] == [1, 2]
    assert sorted({g.replicate for g in plan.stage("essay")}) == [1, 2]
    assert sorted({g.replicate for g in plan.stage("evaluation")}) == [1, 3]


def test_an_essay_id_ignores_essay_llm_so_the_first_essay_wins(tmp_path):
    plan = plan_generations(spec_of(tmp_path, "essay_llm"))
    (essay,) = plan.stage("essay")
    assert essay.llm_model_id == "qwen3-235b"
    assert [(g.stage, g.llm_model_id) for g in plan.merged] == [
        ("essay", "gemma_3_27b"), ("evaluation", "qwen3-235b"), ("evaluation", "llama_31_405b")]
    assert {g.gen_id for g in plan.merged} <= set(plan.ids())


def test_ids_ignore_case_and_the_first_spelling_is_kept():
    rows = [{"combo_id": "C1", "draft_template": t, "draft_llm": "m", "essay_template": "e",
             "essay_llm": "m", "evaluation_template": "v", "evaluation_llm": "m"} for t in ("Links", "links")]
    plan = plan_rows(rows)
    assert [g.template_id for g in plan.stage("draft")] == ["Links"]
    assert [g.stage for g in plan.generations] == ["draft", "essay", "evaluation"]
    assert [g.stage for g in plan.merged] == ["draft", "essay", "evaluation"]  # each child once more
    assert plan.ids() == ["d_4pdd5eb3xn4ycbll", "e_1f7eig9pk3gdyz6n", "v_2sz1ktkfs1xn4mvm"]  # the pipeline's


def test_generator_column_decides_the_mode(tmp_path):
    write(tmp_path, {
        "1_raw/draft_templates.csv": "template_id,generator\nd1,\nd2, COPY \nd3,None\nd4,  \n",
        "1_raw/essay_templates.csv": "template_id,template_name\ne1,Essay\n",
        "1_raw/evaluation_templates.csv": "template_id,generator\nv1,llm\n v2 ,llm\n",
    })
    modes = read_template_modes(tmp_path)
    assert modes == {"draft": {"d1": "nan", "d2": "copy", "d3": "nan", "d4": "llm"},
                     "essay": {"e1": "llm"}, "evaluation": {"v1": "llm"}}


# --- refusals: one line, naming the construct --------------------------------------------------

BASE = """\
axes:
  combo_id: [c1]
  draft_template: [d1, d2]
  essay_template: [e1, e2]
"""
OUT = "output: {field_order: []}\n"


def refused(fn, fragment: str) -> str:
    with pytest.raises(SpecError) as info:
        fn()
    message = str(info.value)
    assert isinstance(info.value, UsageError)
    assert "\n" not in message and fragment in message, message
    return message


def refused_spec(tmp_path, files, fragment: str) -> str:
    folder = write(tmp_path / "spec", files)
    return refused(lambda: compile_rows(load_spec(folder)), fragment)


@pytest.mark.parametrize("config, fragment", [
    (BASE + "replicates: 2\n" + OUT, "unknown key 'replicates' (expected axes, rules, output)"),
    (BASE + "rules:\n  filters: {}\n" + OUT, "rules: unknown rule section 'filters'"),
    (BASE + "rules:\n  pairs:\n    p: {left: draft_template, right: essay_template, allowed: [[d1, e1]], "
            "balanced: left}\n" + OUT, "rules.pairs.p: unknown key 'balanced'"),
    (BASE + "rules:\n  ties:\n    t: {axes: [draft_template, essay_template], to: x}\n" + OUT,
     "rules.ties.t: unknown key 'to'"),
    (BASE + "rules:\n  tuples:\n    u: {axes: [a, b], items: [[x, y]], expand: true}\n" + OUT,
     "rules.tuples.u: unknown key 'expand'"),
    (BASE + "output: {field_order: [], seeds: 3}\n", "output: unknown key 'seeds'"),
    (BASE, "output: is required"),
    (BASE + "output: {field_order: [evaluation_llm]}\n", "'evaluation_llm' is not an axis of the spec"),
    (BASE + "axes: {}\n" + OUT, "duplicate key 'axes' (line 5)"),
    (BASE + "rules: [\n" + OUT, "not valid YAML (line"),
    ("- axes\n", "the top level must be a mapping"),
    ("axes:\n  draft_template: [d1, yes]\n" + OUT, "level True is a YAML boolean"),
    ("axes:\n  draft_template: [1.5]\n" + OUT, "level 1.5 is a number with a fraction"),
    ("axes:\n  draft_template: [d1, ~]\n" + OUT, "level None is empty (null)"),
    ("axes:\n  draft_template: d1\n" + OUT, "axes.draft_template: must be a list of levels or an '@file:' helper"),
    (BASE + "rules:\n  subsets:\n    draft_template: [d3]\n" + OUT, "rules.subsets.draft_template: keeps none"),
    (BASE + "rules:\n  subsets:\n    nope: [d3]\n" + OUT, "rules.subsets.nope: there is no axis 'nope'"),
    (BASE + "rules:\n  ties:\n    t: [draft_template, essay_template]\n" + OUT, "have no level in common"),
    (BASE + "rules:\n  ties:\n    combo_id: [draft_template, essay_template]\n" + OUT,
     "rules.ties.combo_id: the name 'combo_id' is already an axis or a rule"),
    (BASE + "rules:\n  pairs:\n    p: {left: draft_template, right: essay_template, allowed: [[d1, e3]]}\n" + OUT,
     "rules.pairs.p: ['d1', 'e3']: 'e3' is no level of 'essay_template'"),
    (BASE + "rules:\n  pairs:\n    p: {left: draft_template, right: essay_template, "
            "allowed: [[d1, e1], [d1, e2], [d2, e1]], balance: left}\n" + OUT,
     "rules.pairs.p: not balanced on the left: 'd1': 2, 'd2': 1"),
    (BASE + "rules:\n  pairs:\n    p: {left: draft_template, right: essay_template, allowed: [[d1, e1]], "
            "balance: middle}\n" + OUT, "balance 'middle' must be left, right or both"),
    (BASE + "rules:\n  pairs:\n    p: {left: draft_template, right: essay_template, allowed: [[d1, e1]]}\n"
            "    q: {left: p, right: combo_id, allowed: [[[d1, e1], c1]]}\n" + OUT,
     "rules.pairs.q: 'p' is a pair; rules over pairs are not supported"),
    ("axes:\n  draft_template: [d1]\n  essay_template: [d1]\n  combo_id: [c1]\nrules:\n  ties:\n"
     "    t: [draft_template, essay_template]\n  pairs:\n"
     "    p: {left: essay_template, right: combo_id, allowed: [[d1, c1]]}\n" + OUT,
     "'essay_template' was tied into 't'; name the tie instead"),
    (BASE + "rules:\n  tuples:\n    u: {axes: [essay_template, essay_llm], items: [[e1, m]]}\n" + OUT,
     "rules.tuples.u: axis 'essay_template' is declared under axes"),
    (BASE + "rules:\n  tuples:\n    u: {axes: [a, b], items: [[x, y], [z]]}\n" + OUT,
     "rules.tuples.u.items: item 2 must list 2 levels, one per axis"),
    (BASE + "rules:\n  pairs:\n    p: {left: draft_template, right: u, allowed: [[d1, [x, y]]]}\n"
            "  tuples:\n    u: {axes: [a, b], items: [[x, y]]}\n" + OUT,
     "rules.pairs.p: there is no axis 'u' at this point"),
])
def test_invalid_or_unsupported_specs_are_refused(tmp_path, config, fragment):
    message = refused_spec(tmp_path, {"config.yaml": config}, fragment)
    assert message.startswith(str(tmp_path / "spec" / "config.yaml") + ": ")


def file_axis(helper: str) -> str:
    return f"axes:\n  draft_template: '@file:{helper}'\n" + OUT


@pytest.mark.parametrize("helper, content, fragment", [
    ("items/missing.csv", None, "axes.draft_template: 'items/missing.csv' does not exist"),
    ("../outside.csv", None, "'../outside.csv' leaves the spec folder"),
    ("/etc/hosts.csv", None, "'/etc/hosts.csv' leaves the spec folder"),
    ("items/t.json", "[1]", "'items/t.json': only .csv and .txt helpers are supported"),
    ("t.csv", b"value\n\xff\n", "'t.csv': not UTF-8 (byte 6)"),
    ("t.csv", "value \nd1\n", "header 'value ' has spaces around it"),
    ("t.csv", "value,\nd1\n", "header column 2 has no name"),
    ("t.csv", "value\nd1,d2\n", "data row 1 has more cells than the header"),
    ("t.csv", "value\n\n", "'t.csv' has no data rows"),
    ("t.csv", "", "'t.csv' has no header row"),
    ("t.csv", "a,b\nx,y\n", "the helper has 2 columns; an axis takes one"),
    ("t.csv", 'value\n"d1\nd2"\n', "data row 1 has a line break inside a cell"),
])
def test_helper_files_are_checked(tmp_path, helper, content, fragment):
    files = {"config.yaml": file_axis(helper)}
    if content is not None:
        files[helper] = content
    refused_spec(tmp_path, files, fragment)


def test_a_helper_name_is_taken_as_written(tmp_path):
    """'@file: t.csv' names ' t.csv', as in the pipeline, not t.csv."""
    refused_spec(tmp_path, {"config.yaml": file_axis(" t.csv"), "t.csv": "value\nd1\n"}, "' t.csv' does not exist")


def test_tuple_helper_rows_need_every_cell_and_the_axes_order(tmp_path):
    config = "axes: {}\nrules:\n  tuples:\n    u: {axes: [a, b], items: '@file:u.csv'}\n" + OUT
    refused_spec(tmp_path, {"config.yaml": config, "u.csv": "a,b\nx,\n"}, "data row 1 has no value for 'b'")
    refused_spec(tmp_path, {"config.yaml": config, "u.csv": "b,a\nx,y\n"}, "columns b, a are not in the order a, b")


def test_a_symlink_out_of_the_spec_folder_is_refused(tmp_path):
    (tmp_path / "outside.csv").write_text("value\nd1\n")
    folder = write(tmp_path / "spec", {"config.yaml": file_axis("items/link.csv")})
    (folder / "items").mkdir()
    os.symlink(tmp_path / "outside.csv", folder / "items" / "link.csv")
    refused(lambda: load_spec(folder), "'items/link.csv' resolves outside the spec folder")
    (folder / "target.csv").write_text("value\nd1\n")  # a link that stays inside is fine
    os.symlink(folder / "target.csv", folder / "inside.csv")
    (folder / "config.yaml").write_text(file_axis("inside.csv"))
    assert load_spec(folder).axes["draft_template"] == ("d1",)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_not_opened(tmp_path):
    folder = write(tmp_path / "spec", {"config.yaml": file_axis("pipe.csv")})
    os.mkfifo(folder / "pipe.csv")
    refused(lambda: load_spec(folder), "'pipe.csv' is not a regular file")


def test_a_helper_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    folder = write(tmp_path / "spec", {"config.yaml": file_axis("t.csv"), "t.csv": "value\nd1\nd2\n"})
    (folder / "t.csv").write_text("value\n" + "d1\n" * 50)
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)  # the config fits, the helper does not
    refused(lambda: load_spec(folder), "'t.csv' is larger than 100 bytes")


def test_a_missing_spec_is_refused(tmp_path):
    refused(lambda: load_spec(tmp_path / "nothing"), "no such folder or file")
    (tmp_path / "empty").mkdir()
    refused(lambda: load_spec(tmp_path / "empty"), "'config.yaml' does not exist")


def test_too_many_rows_are_refused_before_they_are_made(tmp_path):
    spec = load_spec(write(tmp_path, {"config.yaml": "axes:\n  a: [1, 2, 3]\n  b: [1, 2]\n" + OUT}))
    assert len(compile_rows(spec)) == 6
    refused(lambda: compile_rows(spec, max_rows=5), "the spec compiles to 6 rows, more than the limit of 5")


@pytest.mark.parametrize("row, fragment", [
    ({"draft_template": "d"}, "row 1 has no combo_id (or combo); a cohort needs it in every row"),
    ({"combo": "c", "draft_template": "d", "generation_llm": "m", "essay_template": "e", "essay_llm": " "},
     "row 1 has no essay_llm"),
    ({"combo_id": "c", "draft_template": "d", "draft_llm": "m", "draft_replicate": "1.0"},
     "row 1: draft_replicate '1.0' is not a whole number of 1 or more"),
    ({"combo_id": "c", "draft_template": "d", "draft_llm": "m", "draft_rep": 0},
     "row 1: draft_rep 0 is not a whole number of 1 or more"),
])
def test_rows_a_cohort_cannot_use_are_refused(row, fragment):
    refused(lambda: plan_rows([row]), fragment)


def test_a_spec_without_rows_is_no_cohort(tmp_path):
    spec = load_spec(write(tmp_path, {"config.yaml": "axes:\n  combo_id: []\n" + OUT}))
    assert compile_rows(spec) == []
    refused(lambda: plan_generations(spec), "compiles to no rows; the pipeline refuses a cohort without evaluations")


def test_templates_missing_from_the_catalog_are_refused(tmp_path):
    root = tmp_path / "data"
    catalog = dict(TEMPLATES, essay="template_id,generator\nessay-theme-v3,llm\ncopy-links-v1,copy\n")
    write(root, {f"1_raw/{stage}_templates.csv": text for stage, text in catalog.items()})
    spec = load_spec(write(root / "cohorts" / "c1" / "spec", CASES["cohort"]))
    refused(lambda: plan_generations(spec, templates=read_template_modes(root)),
            "essay template 'Essay-Theme-V3' is not listed in 1_raw/essay_templates.csv")


def test_a_template_catalog_with_the_retired_active_column_is_refused(tmp_path):
    write(tmp_path, {f"1_raw/{stage}_templates.csv": "template_id,active\nt,true\n"
                     for stage in ("draft", "essay", "evaluation")})
    refused(lambda: read_template_modes(tmp_path), "has the retired column 'active'")
