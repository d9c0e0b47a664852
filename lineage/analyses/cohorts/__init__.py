"""What a cohort rebuild would reuse, mint and pay for (DOMAIN 4): `simulate`.

For selected essays (or a Cartesian cohort's manifest) this replays the pipeline's rebuild rules
on the store as it is, without writing anything:

- the curated modes `regenerate`, `reuse-drafts`, `reuse-essays`, `reuse-essays` + fill-up, and
  `current` (today: reuse-essays + fill-up with existing evaluations sorted by replicate);
- Cartesian builds from a manifest, with fixed replicates and with the 2025-09-30..10-04 allocator
  (every rebuild adds N_e essays per draft x template), each as a first build and a rebuild.

IDs are the real deterministic IDs (lineage.core.ids). New replicate numbers come from the allocator:
probe 1, 2, ... and start at the first whose deterministic folder does not exist (a folder without
metadata is taken), then hand out consecutive numbers without rechecking. Legacy generations are
invisible to it, so a new ID with the signature of a legacy generation is a duplicate of it.
A scheduled generation costs an LLM call iff its mode is `llm`, raw.txt is absent and force is off;
an evaluation is also skipped when parsed.txt exists; copy mode never calls an LLM.
"""

from lineage.analyses.cohorts.config import Config, ConfigError, load_config, parse_replicate_overrides
from lineage.analyses.cohorts.inputs import SelectionInput, directive_choice, parse_selection, read_selection_file
from lineage.analyses.cohorts.modes import (CARTESIAN_MODES, DETAIL_COLUMNS, ESSAY_MODES, LEGACY_COLUMNS, PRIORITY,
                                            MODE_DESCRIPTIONS, SUMMARY_COLUMNS)
from lineage.analyses.cohorts.simulate import Simulation, simulate

__all__ = ["CARTESIAN_MODES", "Config", "ConfigError", "DETAIL_COLUMNS", "ESSAY_MODES", "LEGACY_COLUMNS", "PRIORITY",
           "MODE_DESCRIPTIONS", "SUMMARY_COLUMNS", "SelectionInput", "Simulation", "directive_choice", "load_config",
           "parse_replicate_overrides", "parse_selection", "read_selection_file", "simulate"]
