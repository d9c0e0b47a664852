"""Checks of the store's files: a generation folder without metadata.json or with an unusable one,
files a generation lacks, and files or folders the scan could not read."""

from __future__ import annotations

from lineage.core.metadata import REQUIRED_FILES
from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.catalog import Row, check, loader_check
from lineage.queries.rows import gen_row


@check("store.metadata_missing", "error", "a folder under `gens/<stage>/` has no `metadata.json`",
       why="Without metadata nothing is known of the generation: not its parent, not its signature. A "
           "migration cannot give it an ID, and its children cannot be checked against it.",
       fix="If the folder is a leftover of an interrupted run (often only prompt.txt), delete it; if its raw.txt "
           "is worth keeping, rebuild the metadata from the cohort's membership row or rerun that partition.",
       describe=lambda r: ("no metadata.json in the generation folder", {"files": list(r["files"])}))
def metadata_missing(g: LineageGraph) -> list[Row]:
    return [gen_row(n, files=list(n["files"])) for n in g.unusual if n["meta_status"] == "missing"]


@check("store.metadata_invalid", "error",
       "`metadata.json` is not UTF-8, not JSON, empty, truncated, over 16 MiB, not a JSON object, not a regular "
       "file (a FIFO or a device, never read), or a symlink out of the root",
       why="The pipeline cannot read it either: the generation is as good as missing, and every child of it "
           "is unreadable by a parent check.",
       fix="Repair the file from a backup or the cohort's membership row (the error names the byte or the JSON "
           "problem), or delete the generation.",
       describe=lambda r: (f"metadata.json is unusable: {r['error']}", {"error": r["error"]}), on_metadata=True)
def metadata_invalid(g: LineageGraph) -> list[Row]:
    return [gen_row(n, error=n["meta_error"]) for n in g.unusual if n["meta_status"] == "invalid"]


@check("store.files_missing", "info",
       "a generation lacks `parsed.txt`, `parsed_metadata.json` or `raw_metadata.json` (details say whether "
       "`raw.txt` exists: without it a rebuild calls the LLM)",
       why="A generation without raw.txt costs an LLM call to rebuild; one without parsed files is re-parsed.",
       fix="Usually nothing: re-materializing the partition re-parses it. Keep raw.txt where it exists.",
       describe=lambda r: (f"missing {', '.join(r['missing'])}" + ("" if r["has_raw"] else "; no raw.txt either"),
                           {"missing": list(r["missing"]), "has_raw": r["has_raw"]}))
def files_missing(g: LineageGraph) -> list[Row]:
    rows = []
    for n in g.unusual:
        missing = [f for f in REQUIRED_FILES if f not in n["files"]]
        if missing and n["meta_status"] != "missing":
            rows.append(gen_row(n, missing=missing, has_raw="raw.txt" in n["files"]))
    return rows


loader_check("store.path_skipped", "warn",
             "a file or folder was not read: a symlink out of the data root (reported once, never followed), a loop "
             "or a link to nothing, a name that is not UTF-8 (shown with `\\xNN`), a folder or FIFO where a file "
             "belongs, a CSV that is not UTF-8 or not CSV, an unknown stage folder",
             why="What was not read cannot be checked or migrated: IDs mentioned there would keep their old values.",
             fix="Move the file into the data root (or delete the link), rename it to UTF-8, or convert the CSV to "
                 "UTF-8; then audit again.",
             describe=lambda r: (f"skipped: {r['error']}", {"error": r["error"]}))
