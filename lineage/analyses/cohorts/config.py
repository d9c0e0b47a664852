"""The rebuild parameters: replicate counts, templates, models and combos, from flags, a cohort
manifest or the 1_raw CSVs; each value says where it came from."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from lineage.core import ids
from lineage.core.model import Store
from lineage.core.status import UsageError
from lineage.loaders.csv_chunks import read_small

STAGES = ids.STAGES
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
RAW = "1_raw"


class ConfigError(UsageError):
    """A configuration file the simulation needs is missing or unusable (exit 2)."""


class MissingColumn(ConfigError):
    """A 1_raw CSV without a column the simulation reads; `columns` names them."""

    def __init__(self, message: str, columns: list[str]):
        super().__init__(message)
        self.columns = columns


# The selection flags of 1_raw CSVs before the spec DSL; stores of the spec era have none.
FLAG_COLUMNS = frozenset({"active", "for_generation", "for_evaluation"})


@dataclass
class Config:
    replicates: dict[str, int]
    evaluation_templates: list[str]
    evaluation_models: list[str]
    essay_generators: dict[str, str]  # normalised essay template -> llm | copy
    draft_templates: list[str] = field(default_factory=list)
    essay_templates: list[str] = field(default_factory=list)
    generation_models: list[str] = field(default_factory=list)
    combos: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def generator(self, template: str) -> str:
        return self.essay_generators.get(template.strip().lower(), "llm")


def read_csv(root: str, rel: str, required: Iterable[str]) -> list[dict[str, str]]:
    """Rows of a 1_raw CSV as dicts with lower-cased, stripped column names; a missing file,
    column or an unreadable file is a ConfigError naming it."""
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        raise ConfigError(f"{rel} is missing")
    rows = read_small(path, rel, ConfigError)
    header = [h.strip().lower() for h in rows[0]] if rows else []
    missing = [c for c in required if c not in header]
    if missing:
        raise MissingColumn(f"{rel} lacks column {', '.join(repr(c) for c in missing)}", missing)
    return [dict(zip(header, (c.strip() for c in row))) for row in rows[1:] if any(c.strip() for c in row)]


def _active(root: str, rel: str, id_column: str, flag_column: str) -> list[str]:
    return [r[id_column] for r in read_csv(root, rel, (id_column, flag_column))
            if r.get(id_column) and r.get(flag_column, "").lower() in TRUE_WORDS]


# The simulation lists every generation it schedules; the pipeline runs a handful of replicates.
MAX_REPLICATES = 1000


def _positive(value: Any, where: str) -> int:
    n = ids.positive_int(value)
    if n is None:
        raise ConfigError(f"{where}: replicates {value!r} is not a positive integer")
    if n > MAX_REPLICATES:
        raise ConfigError(f"{where}: replicates {n:,} is more than {MAX_REPLICATES:,} per stage")
    return n


def replication_config(root: str) -> dict[str, int]:
    """N_d/N_e/N_v from 1_raw/replication_config.csv; 1 for a stage (or a file) that is absent."""
    rel = f"{RAW}/replication_config.csv"
    counts = {s: 1 for s in STAGES}
    if not os.path.isfile(os.path.join(root, rel)):
        return counts
    for line, row in enumerate(read_csv(root, rel, ("stage", "replicates")), 2):
        stage = row["stage"].lower()
        if stage in counts:
            counts[stage] = _positive(row["replicates"], f"{rel} line {line}")
    return counts


def essay_generators(root: str) -> dict[str, str]:
    """Essay template -> llm | copy from essay_templates.csv (`generator` column; llm without it)."""
    rows = read_csv(root, f"{RAW}/essay_templates.csv", ("template_id",))
    return {r["template_id"].lower(): ("copy" if r.get("generator", "").lower() == "copy" else "llm")
            for r in rows if r.get("template_id")}


def parse_replicate_overrides(pairs: Iterable[str]) -> dict[str, int]:
    out = {}
    for pair in pairs:
        stage, sep, value = pair.partition("=")
        stage = stage.strip().lower()
        if not sep or stage not in STAGES:
            raise UsageError(f"--replicates {pair!r}: expected STAGE=N with STAGE in {', '.join(STAGES)}")
        try:
            out[stage] = _positive(value, f"--replicates {pair!r}")
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    return out


def load_config(root: str, *, evaluation_templates: list[str] | None = None,
                evaluation_models: list[str] | None = None, replicates: dict[str, int] | None = None,
                manifest: dict | None = None, manifest_path: str = "") -> Config:
    """The rebuild parameters: flags first, then the cohort manifest (Cartesian), then 1_raw CSVs.

    Only the files that are actually needed are read: a flag that supplies a value spares its CSV.
    """
    src = _Sources(root, manifest or {}, manifest_path)
    cfg = Config(
        replicates=src.replicates(replicates),
        evaluation_templates=src.pick("evaluation_templates", evaluation_templates, "templates", "evaluation",
                                      lambda: src.active_templates("evaluation")),
        evaluation_models=src.pick("evaluation_models", evaluation_models, "llms", "evaluation",
                                   lambda: src.models("for_evaluation")),
        essay_generators=essay_generators(root),
        sources=src.sources,
    )
    src.sources["essay_generators"] = f"{RAW}/essay_templates.csv"
    if manifest_path:
        combos = src.manifest.get("combos")
        if not isinstance(combos, list):
            raise ConfigError(f"{manifest_path} lacks a combos list")
        cfg.combos = [str(c) for c in combos]
        cfg.draft_templates = src.pick("draft_templates", None, "templates", "draft",
                                       lambda: src.active_templates("draft"))
        cfg.essay_templates = src.pick("essay_templates", None, "templates", "essay",
                                       lambda: src.active_templates("essay"))
        cfg.generation_models = src.pick("generation_models", None, "llms", "generation",
                                         lambda: src.models("for_generation"))
    return cfg


class _Sources:
    """Where each parameter comes from, in order (a flag, the manifest, a 1_raw CSV), and the
    `sources` map that records the one used."""

    def __init__(self, root: str, manifest: dict, manifest_path: str):
        self.root, self.manifest, self.manifest_path = root, manifest, manifest_path
        self.sources: dict[str, str] = {}

    def _section(self, name: str) -> dict:
        value = self.manifest.get(name)
        return value if isinstance(value, dict) else {}

    def pick(self, name: str, flag: list[str] | None, section: str, key: str, csv_loader) -> list[str]:
        # A template or model ID is part of a signature, which has no empty part.
        if flag:
            if not all(v.strip() for v in flag):
                raise UsageError(f"--{name[:-1].replace('_', '-')} needs a non-empty value")
            self.sources[name] = "flag"
            return list(dict.fromkeys(v.strip() for v in flag))
        from_manifest = self._section(section).get(key)
        if self.manifest_path and isinstance(from_manifest, list):
            values = ["" if v is None else str(v).strip() for v in from_manifest]
            if not all(values):
                raise ConfigError(f"{self.manifest_path}: an empty entry in its {name.replace('_', ' ')}")
            self.sources[name] = self.manifest_path
            return values
        values, rel = csv_loader()
        self.sources[name] = rel
        return values

    def active_templates(self, stage: str) -> tuple[list[str], str]:
        rel = f"{RAW}/{stage}_templates.csv"
        return _active(self.root, rel, "template_id", "active"), rel

    def models(self, column: str) -> tuple[list[str], str]:
        rel = f"{RAW}/llm_models.csv"
        return _active(self.root, rel, "id", column), rel

    def replicates(self, flags: dict[str, int] | None) -> dict[str, int]:
        counts = replication_config(self.root)
        self.sources["replicates"] = f"{RAW}/replication_config.csv"
        from_manifest = self._section("replication")
        if self.manifest_path and from_manifest:
            for stage in STAGES:
                if stage in from_manifest:
                    counts[stage] = _positive(from_manifest[stage], f"{self.manifest_path} replication.{stage}")
            self.sources["replicates"] = self.manifest_path
        if flags:
            counts.update(flags)
            self.sources["replicates"] += " + flags"
        return counts


def cohort_manifest(store: Store, cohort_id: str) -> tuple[dict, str]:
    for cohort in store.cohorts:
        if cohort.cohort_id == cohort_id:
            rel = f"{cohort.path}/manifest.json"
            if not isinstance(cohort.manifest, dict):
                raise ConfigError(f"{rel} is missing or unusable")
            return cohort.manifest, rel
    raise UsageError(f"no cohort {cohort_id!r} under cohorts/")


