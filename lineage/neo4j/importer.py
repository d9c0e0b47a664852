"""The first load of a data root into an empty Neo4j database, at import speed.

Over Bolt (UNWIND batches) the server looks up both ends of every relationship and writes it
in a transaction: tens of thousands of rows a second. `neo4j-admin database import full`
writes the store files directly, an order of magnitude faster, but only into an empty database
that is offline. So:
- the database holds nothing (or the user asked for `--fresh` on a database they named):
  write the CSV files, then
  - on the server `lineage neo4j start` runs (this user's, on this machine): stop it, import,
    start it again, make the schema and mark the load complete, all in this run;
  - on any other server lineage cannot stop it or reach its disk: it writes the files and
    prints the command to run there, and `--finish-import DIR` completes the load afterwards;
- the database holds other roots: UNWIND batches replace this root's graph, as before.
Both paths store the same graph (loaders.neo4j_shape).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional

from lineage.core.status import UsageError
from lineage.loaders.graph_model import GraphData
from lineage.loaders.neo4j_csv import ImportFiles, write
from lineage.loaders.neo4j_graph import Connection, database_roots
from lineage.loaders.neo4j_load import finish_import
from lineage.neo4j import server

METHODS = ("auto", "import", "unwind")
COMMUNITY_DATABASE = "neo4j"  # the one database of Neo4j Community, which the local server runs
# Below this many rows `auto` keeps to UNWIND even into an empty database: stopping, importing
# and restarting a server costs a fixed 20-30 s here, what UNWIND needs for about half a million rows.
IMPORT_MIN_ROWS = 500_000

Echo = Callable[[str], None]


@dataclass
class ImportResult:
    files: ImportFiles
    imported: bool  # False: the files are written and the command printed, nothing loaded yet
    phases: dict[str, float] = field(default_factory=dict)  # seconds: csv, import, finish

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())

    @property
    def rows(self) -> int:
        return self.files.nodes + self.files.relationships


def choose(conn: Connection, method: str, fresh: bool, rows: int) -> str:
    """"import" or "unwind" for a load of `rows` nodes and relationships, or a UsageError saying
    why neither fits. `fresh` is the user's word to replace the database: the caller has made
    sure the user named it (only the command line knows where a database name came from)."""
    if method not in METHODS:
        raise UsageError(f"unknown load method {method!r}; one of {', '.join(METHODS)}")
    if method == "unwind":
        if fresh:
            raise UsageError("--fresh replaces the whole database by an offline import; it does not go with "
                             "--method unwind")
        return "unwind"
    empty, roots = database_roots(conn)
    if empty:
        return "import" if method == "import" or fresh or rows >= IMPORT_MIN_ROWS else "unwind"
    if not fresh:
        if method == "import":
            raise UsageError(f"the database is not empty ({_roots(roots)}); the offline import replaces the "
                             "whole database: add --fresh --database NAME to do that, or use --method unwind")
        return "unwind"
    return "import"


def _roots(roots: list[str]) -> str:
    if not roots:
        return "nodes that no lineage load made"
    shown = ", ".join(roots[:3]) + (f" and {len(roots) - 3} more" if len(roots) > 3 else "")
    return f"{len(roots)} loaded root{'s' if len(roots) != 1 else ''}: {shown}"


def admin_command(files: ImportFiles, database: str) -> str:
    """The command that imports `files` on the server's own machine, quoted for a POSIX shell."""
    args = ["neo4j-admin", "database", "import", "full", database, "--overwrite-destination=true",
            *files.arguments()]
    return " ".join(shlex.quote(a) for a in args)


def import_load(conn: Connection, root: str, data: GraphData, folder: Optional[str],
                note: Optional[Echo] = None) -> ImportResult:
    """Write the import files; on the local server, import them and finish the load."""
    note = note or (lambda line: None)
    instance = server.local_instance(conn.uri)
    if instance is not None and conn.database not in (None, COMMUNITY_DATABASE):
        raise UsageError(f"the local server runs Neo4j Community, whose one database is "
                         f"{COMMUNITY_DATABASE!r}, not {conn.database!r}")
    keep = folder is not None or instance is None
    if folder is None:
        base = str(instance.home / "import") if instance is not None else None
        folder = tempfile.mkdtemp(prefix="lineage-import-", dir=base)
    phases: dict[str, float] = {}
    start = time.perf_counter()
    files = write(folder, root, data, uuid.uuid4().hex)
    phases["csv"] = time.perf_counter() - start
    if instance is None:
        return ImportResult(files, False, phases)
    note(f"wrote {files.nodes + files.relationships:,} rows of import files in {phases['csv']:.1f}s; "
         f"stopping the local Neo4j for the offline import")
    start = time.perf_counter()
    try:
        server.import_database(instance, files.arguments(), out=lambda line: None, err=lambda line: None)
        phases["import"] = time.perf_counter() - start
        note(f"imported and restarted in {phases['import']:.1f}s; making the schema")
        phases["finish"] = finish_import(conn, files)
    except BaseException:
        # The files are kept and named: after a failed step they are what a retry (or
        # --finish-import, once the import itself went through) needs, and they may be large.
        note(f"the import files stay in {folder} (lineage load --finish-import {folder} completes a "
             f"load whose import went through; delete the folder otherwise)")
        raise
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return ImportResult(files, True, phases)


def instructions(files: ImportFiles, data_root: str, database: Optional[str]) -> list[str]:
    """What to run for a server lineage does not run: the lines to print, in order."""
    name = database or COMMUNITY_DATABASE
    return [
        f"the import files are in {files.folder} ({files.nodes:,} nodes, {files.relationships:,} relationships)",
        f"on the server's machine, copy that folder to the same path (the files name it), stop database "
        f"{name} (Community: stop the server) and run the command below; then start it and run "
        f"`lineage load {shlex.quote(data_root)} --finish-import {shlex.quote(files.folder)}`",
        f"(to load over Bolt instead, at tens of thousands of rows a second: "
        f"`lineage load {shlex.quote(data_root)} --method unwind`)",
    ]


def finish(conn: Connection, folder: str, root: Optional[str] = None) -> ImportFiles:
    """--finish-import: complete the load of an import that someone ran by hand. With `root`
    (the DATA_ROOT named beside it), the files must be that root's."""
    if not os.path.isdir(folder):
        raise UsageError(f"{folder} is not a folder of import files")
    files = ImportFiles.read(folder)
    if root is not None and files.root != root:
        raise UsageError(f"the import files in {folder} are of {files.root}, not of {root}")
    finish_import(conn, files)
    return files
