"""Write a small generation store with the DayDreaming pipeline's own Dagster assets.

The stores under tests/fixtures/upstream-<era>/ are produced by this script. It drives the
real `daydreaming_dagster` definitions through a real Dagster instance (SQLite storage under
`dagster_home/`), the way an operator materializes the cohort assets and then every
generation partition. Only the LLM client resource is replaced, by a stub whose answers
are a pure function of the prompt and the model, so no network is used and the text is
reproducible. Every input (1_raw CSVs, templates, concepts, combos, selection file, cohort
spec) is written here, in our own words.

The script never installs anything. Run it with an interpreter in which
`daydreaming_dagster` is importable at the commit of the era:

    --era ef84f79   the pipeline as of commit ef84f79 (2025-10-01)
        1. a Cartesian cohort: 1 combo x 2 draft templates x 1 writer x 2 draft replicates,
           each draft x 2 essay templates (one `llm`, one `copy`), each essay x 1 evaluation
           template x 2 judges;
        2. a curated cohort: data/2_tasks/selected_essays.txt names two of those essays, a
           second evaluation template is switched on and evaluation replicates go to 2, so
           the cohort reuses the existing evaluations (fill-up) and adds the shortfall.
        Partitions are added by each cohort build and never pruned (the operating guide's
        cohort command), so the instance holds the keys of both cohorts.
        FIXTURE.json also records a legacy ID minted by the pipeline's own `reserve_gen_id`
        (daydreaming_dagster.utils.ids) for damage tests.
    --era 2849708   the pipeline as of commit 2849708 (2025-10-18)
        one cohort defined by data/cohorts/<id>/spec/config.yaml in the spec DSL, with
        `@file:` item CSVs and a tie (draft/essay template), a pair (evaluation template ->
        judge, balanced) and a tuple (writer model, draft replicate) rule.

What it writes: OUT/data/ (the data root), OUT/dagster_home/ (the instance: dagster.yaml,
SQLite run and event-log storage with the dynamic partitions, the default IO manager's
storage) and OUT/FIXTURE.json (commit, dagster version, command, counts, cohorts).

The pipeline records absolute paths (raw_metadata.json `raw_path`, `copied_from`, ...), so
the store is built under a fixed neutral root, /tmp/daydreaming-fixture/<era>/ (`--work`),
which is wiped first, and then copied to OUT. Run IDs are derived from the era and a
counter, and the clock that stamps combo_mappings.csv in the ef84f79 era is pinned, so two
runs write the same files apart from the timestamps Dagster keeps in its SQLite databases
(and raw_metadata.json `duration_s`, 0.0 unless a stub call takes a millisecond).

The committed fixtures were produced with dagster 1.11.16 on Python 3.11 by:

    python scripts/upstream_fixtures.py --era ef84f79 --out tests/fixtures/upstream-ef84f79
    python scripts/upstream_fixtures.py --era 2849708 --out tests/fixtures/upstream-2849708
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import uuid
from pathlib import Path

ERAS = ("ef84f79", "2849708")
WORK_ROOT = "/tmp/daydreaming-fixture"
# Run, event-log and schedule storage stay the default SQLite files under DAGSTER_HOME.
# Captured step logs (pids and clock times only) and telemetry are switched off.
DAGSTER_YAML = """\
telemetry:
  enabled: false
compute_logs:
  module: dagster.core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""
RUN_ID_NAMESPACE = uuid.UUID("5b0f9a52-8a57-4c43-9d43-6f1f3c2d7a10")
STAGES = ("draft", "essay", "evaluation")

# --- our inputs ---------------------------------------------------------------------------

CONCEPTS = [
    # concept_id, name, sentence, paragraph
    ("tide-pools", "Tide pools",
     "Small basins of sea water left behind on rock when the tide goes out.",
     "Tide pools are shallow basins on a rocky shore that the sea fills and leaves twice a day. "
     "Whatever lives in them has to survive hours of warming, evaporation and changing salt "
     "before the water returns."),
    ("clockwork", "Clockwork escapement",
     "The part of a mechanical clock that releases stored energy one tick at a time.",
     "An escapement lets a wound spring or a falling weight drive a clock without running down "
     "at once: a pallet catches the wheel, lets one tooth slip past, and catches it again, so "
     "the energy comes out in equal, countable steps."),
    ("lichen", "Lichen partnership",
     "A fungus and an alga or cyanobacterium living as one body.",
     "A lichen is a fungus that houses a photosynthetic partner. The fungus gives shelter and "
     "holds water; the partner makes sugar from light. Together they grow on bare rock where "
     "neither would last alone."),
]

DRAFT_TEMPLATES = {
    "sketch-links": (
        "Here are some ideas to think about together.\n"
        "{% for c in concepts %}\n- {{ c.name }}: {{ c.content }}\n{% endfor %}\n"
        "List at least three ways one of them could shed light on another, one per line.\n"
    ),
    "sketch-questions": (
        "Read these notes.\n"
        "{% for c in concepts %}\n* {{ c.name }} -- {{ c.content }}\n{% endfor %}\n"
        "Write at least three open questions that only make sense once the notes are combined.\n"
    ),
}
ESSAY_TEMPLATES = {
    "essay-plain": (
        "Notes to expand:\n{{ draft_block }}\n"
        "Turn the notes into a short essay with one clear claim.\n"
    ),
    "essay-verbatim": "{{ draft_block }}\n",
}
EVALUATION_TEMPLATES = {
    "judge-clarity": (
        "Essay under review:\n{{ response }}\n"
        "How clear is its main claim? Give your reasons, then end with a line SCORE: <0-9>.\n"
    ),
    "judge-novelty": (
        "Essay under review:\n{{ response }}\n"
        "How surprising is the connection it makes? Give your reasons, then end with a line "
        "SCORE: <0-9>.\n"
    ),
}

WRITER = "fixture-writer-a"
JUDGES = ("fixture-judge-a", "fixture-judge-b")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _table(header: list[str], rows: list[list[object]], *, drop: tuple[str, ...]) -> tuple[list[str], list[list[object]]]:
    keep = [i for i, name in enumerate(header) if name not in drop]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


# The ef84f79 era selects concepts, templates and models with `active`/`for_*` columns; the
# 2849708 era takes them from the cohort spec and rejects an `active` column.
SPEC_ERA_DROPS = ("active", "for_generation", "for_evaluation")


def write_common_inputs(data: Path, *, active_concepts: set[str], active_evaluations: set[str],
                        drop: tuple[str, ...] = ()) -> None:
    raw = data / "1_raw"

    def table(path: Path, header: list[str], rows: list[list[object]]) -> None:
        _write_csv(path, *_table(header, rows, drop=drop))

    table(raw / "concepts_metadata.csv", ["concept_id", "name", "active"],
          [[cid, name, cid in active_concepts] for cid, name, _, _ in CONCEPTS])
    for cid, _, sentence, paragraph in CONCEPTS:
        _write(raw / "concepts" / "descriptions-sentence" / f"{cid}.txt", sentence + "\n")
        _write(raw / "concepts" / "descriptions-paragraph" / f"{cid}.txt", paragraph + "\n")
    table(raw / "llm_models.csv",
               ["id", "model", "provider", "display_name", "for_generation", "for_evaluation", "active"],
               [[WRITER, "fixture/writer-a", "fixture", "Fixture Writer A", True, False, True],
                [JUDGES[0], "fixture/judge-a", "fixture", "Fixture Judge A", False, True, True],
                [JUDGES[1], "fixture/judge-b", "fixture", "Fixture Judge B", False, True, True]])
    header = ["template_id", "template_name", "description", "active", "parser", "generator"]
    table(raw / "draft_templates.csv", header, [
        ["sketch-links", "Sketch links", "Draft: ways the concepts inform each other", True, "", "llm"],
        ["sketch-questions", "Sketch questions", "Draft: questions raised by the combination", True, "", "llm"],
    ])
    table(raw / "evaluation_templates.csv", header, [
        [tid, tid.replace("-", " ").title(), "Evaluation ending in a SCORE line",
         tid in active_evaluations, "in_last_line", "llm"]
        for tid in EVALUATION_TEMPLATES
    ])
    for tid, text in DRAFT_TEMPLATES.items():
        _write(raw / "templates" / "draft" / f"{tid}.txt", text)
    for tid, text in EVALUATION_TEMPLATES.items():
        _write(raw / "templates" / "evaluation" / f"{tid}.txt", text)


def write_replication(data: Path, draft: int, essay: int, evaluation: int) -> None:
    _write_csv(data / "1_raw" / "replication_config.csv", ["stage", "replicates"],
               [["draft", draft], ["essay", essay], ["evaluation", evaluation]])


def write_ef84f79_inputs(data: Path) -> None:
    write_common_inputs(data, active_concepts={"tide-pools", "clockwork"},
                        active_evaluations={"judge-clarity"})
    header = ["template_id", "template_name", "description", "active", "parser", "generator"]
    _write_csv(data / "1_raw" / "essay_templates.csv", header, [
        ["essay-plain", "Plain essay", "Essay written from the draft", True, "", "llm"],
        ["essay-verbatim", "Verbatim essay", "The parsed draft copied as the essay", True, "", "copy"],
    ])
    for tid, text in ESSAY_TEMPLATES.items():
        _write(data / "1_raw" / "templates" / "essay" / f"{tid}.txt", text)
    write_replication(data, draft=2, essay=1, evaluation=1)


SPEC_COHORT = "spec-tie-pair-tuple"
SPEC_CONFIG = """\
# Two combos, draft and essay templates tied, each evaluation template paired with one judge,
# and the writer model bound to its draft replicates.
axes:
  combo_id: '@file:items/combos.csv'
  draft_template: '@file:items/templates.csv'
  essay_template: '@file:items/templates.csv'
  essay_llm: [fixture-writer-a]
  evaluation_template: [judge-clarity, judge-novelty]
  evaluation_llm: [fixture-judge-a, fixture-judge-b]

rules:
  ties:
    draft_essay_template: [draft_template, essay_template]
  pairs:
    judge_assignment:
      left: evaluation_template
      right: evaluation_llm
      allowed: '@file:items/judge_pairs.csv'
      balance: both
  tuples:
    writer_runs:
      axes: [draft_llm, draft_replicate]
      items: '@file:items/writer_runs.csv'

output:
  field_order:
    - combo_id
    - draft_template
    - draft_llm
    - draft_replicate
    - essay_template
    - essay_llm
    - evaluation_template
    - evaluation_llm
"""

SPEC_COMBOS = [("tide-pools", "clockwork"), ("clockwork", "lichen")]


def write_2849708_inputs(data: Path) -> list[str]:
    """Inputs of the spec-era store; returns the combo IDs of the catalog."""
    from daydreaming_dagster.models.content_combination import generate_combo_id

    write_common_inputs(data, active_concepts={c[0] for c in CONCEPTS},
                        active_evaluations=set(EVALUATION_TEMPLATES), drop=SPEC_ERA_DROPS)
    header = ["template_id", "template_name", "description", "parser", "generator"]
    # The spec ties draft and essay templates, so the essay templates carry the draft IDs.
    _write_csv(data / "1_raw" / "essay_templates.csv", header, [
        ["sketch-links", "Essay from links", "Essay written from a links draft", "", "llm"],
        ["sketch-questions", "Essay from questions", "Essay written from a questions draft", "", "llm"],
    ])
    for tid in DRAFT_TEMPLATES:
        _write(data / "1_raw" / "templates" / "essay" / f"{tid}.txt", ESSAY_TEMPLATES["essay-plain"])
    write_replication(data, draft=1, essay=1, evaluation=1)

    combo_ids: list[str] = []
    rows: list[list[object]] = []
    for concepts in SPEC_COMBOS:
        combo_id = generate_combo_id(list(concepts), "paragraph", 2)
        combo_ids.append(combo_id)
        for cid in sorted(concepts):
            rows.append([combo_id, "v1", cid, "paragraph", 2, ""])
    _write_csv(data / "combo_mappings.csv",
               ["combo_id", "version", "concept_id", "description_level", "k_max", "created_at"], rows)

    spec = data / "cohorts" / SPEC_COHORT / "spec"
    _write(spec / "config.yaml", SPEC_CONFIG)
    _write_csv(spec / "items" / "combos.csv", ["combo_id"], [[c] for c in combo_ids])
    _write_csv(spec / "items" / "templates.csv", ["template_id"], [[t] for t in DRAFT_TEMPLATES])
    _write_csv(spec / "items" / "judge_pairs.csv", ["evaluation_template", "evaluation_llm"],
               [["judge-clarity", JUDGES[0]], ["judge-novelty", JUDGES[1]]])
    _write_csv(spec / "items" / "writer_runs.csv", ["draft_llm", "draft_replicate"],
               [[WRITER, 1], [WRITER, 2]])
    return combo_ids


# --- the stub LLM -------------------------------------------------------------------------

def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


_CALLS: dict[str, int] = {}


def stub_answer(prompt: str, model: str) -> str:
    """Deterministic text for a prompt; evaluations end in a parseable `SCORE: n` line.

    Replicates send the same prompt again, so the answer also depends on how many times this
    process has seen the prompt and model: the n-th call gets the n-th answer, as a sampling
    model would give different text (the runs go in a fixed order).
    """
    key = _digest(prompt, model)
    _CALLS[key] = _CALLS.get(key, 0) + 1
    h = _digest(prompt, model, str(_CALLS[key]))
    if "SCORE:" in prompt:
        score = int(h[:8], 16) % 10
        return (f"Judged by {model} (fixture {h[:10]}).\n"
                f"The claim is stated once and the example carries it.\n"
                f"SCORE: {score}\n")
    if prompt.startswith("Notes to expand:"):
        return (f"Essay by {model} (fixture {h[:10]}).\n\n"
                "Small systems that hold energy back and release it in steps look alike, "
                "whether the store is a spring or a pool left by the tide.\n\n"
                "The essay keeps to that one claim and ends where the example ends.\n")
    return (f"Draft by {model} (fixture {h[:10]})\n"
            "- a pool and an escapement both meter out what they hold\n"
            "- each survives an interval that would otherwise drain it\n"
            "- the rhythm comes from outside: the tide, the pendulum\n")


def make_stub_llm():
    from dagster import ConfigurableResource

    class FixtureLLM(ConfigurableResource):
        """Stands in for the OpenRouter client: no network, answers from `stub_answer`."""

        def generate(self, prompt: str, model: str, temperature: float = 0.7, max_tokens=None) -> str:
            return stub_answer(str(prompt), str(model))

        def generate_with_info(self, prompt: str, model: str, temperature: float = 0.7, max_tokens=None):
            text = stub_answer(str(prompt), str(model))
            usage = {"prompt_tokens": len(str(prompt).split()), "completion_tokens": len(text.split())}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            return text, {"finish_reason": "stop", "truncated": False, "usage": usage}

    return FixtureLLM()


# --- driving Dagster ----------------------------------------------------------------------

class Driver:
    def __init__(self, era: str, data: Path, home: Path):
        self.era = era
        self.data = data
        self.home = home
        self.runs = 0
        from dagster import DagsterInstance, Definitions, in_process_executor
        import daydreaming_dagster.definitions as upstream

        base = upstream.build_definitions(paths=upstream.Paths.from_str(str(data)))
        resources = dict(base.resources)
        resources["openrouter_client"] = make_stub_llm()
        self.defs = Definitions(assets=list(base.assets), asset_checks=list(base.asset_checks or []),
                                resources=resources, executor=in_process_executor)
        self.job = self.defs.get_implicit_global_asset_job_def()
        self.instance = DagsterInstance.get()

    def run(self, assets: list[str], partition: str | None = None) -> None:
        from dagster import AssetKey

        self.runs += 1
        run_id = str(uuid.uuid5(RUN_ID_NAMESPACE, f"{self.era}:{self.runs}"))
        self.job.execute_in_process(
            instance=self.instance,
            partition_key=partition,
            asset_selection=[AssetKey(a) for a in assets],
            run_id=run_id,
            raise_on_error=True,
        )

    def partitions(self, stage: str) -> list[str]:
        return list(self.instance.get_dynamic_partitions(f"{stage}_gens"))

    def generate(self, membership: Path) -> None:
        """Materialize prompt, raw and parsed of every generation of a cohort, stage by stage."""
        by_stage: dict[str, list[str]] = {s: [] for s in STAGES}
        with membership.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                by_stage[row["stage"]].append(row["gen_id"])
        for stage in STAGES:
            registered = set(self.partitions(stage))
            for gen_id in sorted(by_stage[stage]):
                if gen_id not in registered:
                    raise SystemExit(f"{stage} {gen_id} of {membership} has no partition")
                self.run([f"{stage}_prompt", f"{stage}_raw", f"{stage}_parsed"], partition=gen_id)


COHORT_ASSETS = ["selected_combo_mappings", "content_combinations", "cohort_id",
                 "cohort_membership", "register_cohort_partitions"]


def _new_cohorts(data: Path, before: set[str]) -> list[str]:
    cohorts = data / "cohorts"
    return sorted(p.name for p in cohorts.iterdir() if p.is_dir() and p.name not in before) if cohorts.exists() else []


def _cohort_dirs(data: Path) -> set[str]:
    cohorts = data / "cohorts"
    return {p.name for p in cohorts.iterdir() if p.is_dir()} if cohorts.exists() else set()


class _FixedClock:
    """Stands in for `datetime` where the pipeline stamps an input file (combo_mappings.csv)."""

    @staticmethod
    def now(tz=None):
        import datetime

        return datetime.datetime(2025, 10, 1, 12, 0, 0, tzinfo=tz)


def build_ef84f79(driver: Driver, data: Path) -> dict:
    import daydreaming_dagster.utils.combo_ids as combo_ids
    from daydreaming_dagster.utils.ids import reserve_gen_id

    # selected_combo_mappings appends rows stamped with the wall clock; pin that clock.
    combo_ids.datetime = _FixedClock

    # 1. Cartesian cohort.
    before = _cohort_dirs(data)
    driver.run(COHORT_ASSETS)
    [cartesian] = _new_cohorts(data, before)
    driver.generate(data / "cohorts" / cartesian / "membership.csv")

    # 2. Curated cohort over two essays of the first, from different drafts: one written,
    #    one copied.
    picked: list[str] = []
    parents: set[str] = set()
    for template in ("essay-plain", "essay-verbatim"):
        for folder in sorted((data / "gens" / "essay").iterdir()):
            meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
            if meta.get("template_id") == template and meta["parent_gen_id"] not in parents:
                picked.append(folder.name)
                parents.add(meta["parent_gen_id"])
                break
    _write(data / "2_tasks" / "selected_essays.txt",
           "# essays picked for a second look\n" + "".join(f"{g}\n" for g in picked))
    _write_csv(data / "1_raw" / "evaluation_templates.csv",
               ["template_id", "template_name", "description", "active", "parser", "generator"],
               [[tid, tid.replace("-", " ").title(), "Evaluation ending in a SCORE line", True,
                 "in_last_line", "llm"] for tid in EVALUATION_TEMPLATES])
    write_replication(data, draft=2, essay=1, evaluation=2)
    before = _cohort_dirs(data)
    driver.run(COHORT_ASSETS)
    [curated] = _new_cohorts(data, before)
    driver.generate(data / "cohorts" / curated / "membership.csv")

    # A legacy ID as the pipeline minted them before deterministic IDs, for damage tests:
    # the task ID is built the way evaluation task IDs were (essay task, template, model).
    victim = _first_generation(data, "evaluation", cohort=cartesian)
    task_id = f"{victim['parent_gen_id']}_{victim['template_id']}_{victim['llm_model_id']}"
    legacy = {
        "function": "daydreaming_dagster.utils.ids.reserve_gen_id",
        "args": {"stage": "evaluation", "task_id": task_id, "run_id": None, "salt": None},
        "gen_id": reserve_gen_id("evaluation", task_id),
        "for_gen_id": victim["gen_id"],
        "note": "an evaluation of the Cartesian cohort that a damage test moves to this ID",
    }
    return {"cohorts": {"cartesian": cartesian, "curated": curated},
            "selection": {"file": "data/2_tasks/selected_essays.txt", "essays": picked},
            "legacy_id": legacy}


def _first_generation(data: Path, stage: str, *, cohort: str) -> dict:
    for folder in sorted((data / "gens" / stage).iterdir()):
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        if meta.get("origin_cohort_id") == cohort:
            return meta
    raise SystemExit(f"no {stage} of cohort {cohort}")


def build_2849708(driver: Driver, data: Path) -> dict:
    driver.run(["content_combinations"])
    driver.run(["cohort_id", "selected_combo_mappings", "cohort_membership",
                "register_cohort_partitions"], partition=SPEC_COHORT)
    driver.generate(data / "cohorts" / SPEC_COHORT / "membership.csv")
    return {"cohorts": {"spec": SPEC_COHORT},
            "spec": {"file": f"data/cohorts/{SPEC_COHORT}/spec/config.yaml",
                     "rules": {"tie": "draft_essay_template", "pair": "judge_assignment",
                               "tuple": "writer_runs"}}}


# --- the fixture --------------------------------------------------------------------------

def _counts(data: Path) -> dict:
    gens = {s: len([p for p in (data / "gens" / s).iterdir() if p.is_dir()])
            if (data / "gens" / s).exists() else 0 for s in STAGES}
    cohorts = {}
    for folder in sorted((data / "cohorts").iterdir()):
        membership = folder / "membership.csv"
        if not membership.exists():
            continue
        per = {s: 0 for s in STAGES}
        with membership.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                per[row["stage"]] += 1
        cohorts[folder.name] = per
    origin = {}
    for stage in STAGES:
        for folder in sorted((data / "gens" / stage).iterdir()):
            meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
            key = meta.get("origin_cohort_id", "")
            origin.setdefault(key, {s: 0 for s in STAGES})[stage] += 1
    return {"generations": gens, "membership": cohorts, "by_origin_cohort": origin}


def _empty_dirs(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_dir() and not any(p.iterdir()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--era", required=True, choices=ERAS)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--work", default=WORK_ROOT, help="neutral root the store is built under")
    args = parser.parse_args(argv)

    out = args.out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / "FIXTURE.json").exists():
        parser.error(f"{out} is not empty and holds no FIXTURE.json; refusing to replace it")

    root = Path(args.work) / args.era
    if root.exists():
        shutil.rmtree(root)
    data, home = root / "data", root / "dagster_home"
    data.mkdir(parents=True)
    home.mkdir(parents=True)
    _write(home / "dagster.yaml", DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["DAYDREAMING_DATA_ROOT"] = str(data)
    os.environ["DD_IN_PROCESS"] = "1"
    for name in ("DD_COHORT", "GEN_TEMPLATES_ROOT"):
        os.environ.pop(name, None)

    import importlib.util

    has_spec_dsl = importlib.util.find_spec("daydreaming_dagster.spec_dsl") is not None
    if has_spec_dsl != (args.era == "2849708"):
        parser.error(f"the importable daydreaming_dagster does not look like commit {args.era}")

    # The spec era discovers cohort partitions when its definitions are imported, so the
    # inputs are written first.
    if args.era == "ef84f79":
        write_ef84f79_inputs(data)
    else:
        write_2849708_inputs(data)

    import dagster

    driver = Driver(args.era, data, home)
    facts = build_ef84f79(driver, data) if args.era == "ef84f79" else build_2849708(driver, data)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(data, out / "data", symlinks=True)
    shutil.copytree(home, out / "dagster_home", symlinks=True)

    fixture = {
        "upstream_commit": args.era,
        "dagster_version": dagster.__version__,
        "python": sys.version.split()[0],
        "command": f"python scripts/upstream_fixtures.py --era {args.era} --out tests/fixtures/upstream-{args.era}",
        "built_under": str(root),
        "dagster_runs": driver.runs,
        "counts": _counts(data),
        "partitions": {f"{s}_gens": len(driver.partitions(s)) for s in STAGES},
        **facts,
        "empty_dirs": _empty_dirs(data),
        # What differs between two runs of this script: the SQLite databases (timestamps), and
        # raw_metadata.json `duration_s` if a stub call ever takes a millisecond.
        "clock_dependent": ["dagster_home/history/", "dagster_home/schedules/schedules.db",
                            "data/gens/*/*/raw_metadata.json duration_s"],
    }
    (out / "FIXTURE.json").write_text(json.dumps(fixture, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(json.dumps(fixture["counts"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
