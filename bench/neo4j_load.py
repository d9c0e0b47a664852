"""Benchmark: the first load of a store into an empty Neo4j database by offline import, against
the bare `neo4j-admin database import full` of the same CSV files in the same run; a reload of
the root over Bolt (UNWIND) into the then non-empty database (of the unchanged store, after a
cohort was added, and with every node written again); the audit on Neo4j next to the
audit on networkx.

    python bench/neo4j_load.py --store /path/to/data-root --work /path/to/scratch
    python bench/neo4j_load.py --generations 100000 --work /path/to/scratch

Each store runs on a throwaway server of its own (neo4j/neo4j.sh start --ephemeral, heap 3 GB,
page cache 4 GB unless LINEAGE_NEO4J_HEAP / LINEAGE_NEO4J_PAGECACHE say otherwise) on ports
LINEAGE_NEO4J_BOLT_PORT / LINEAGE_NEO4J_HTTP_PORT (default 27687 / 27474), with its home under
--work. Everything it writes goes under --work and is deleted at the end; a data root is only
read. Per phase it prints wall time, the peak RSS of this process (and of the server, or of the
import tool), and rows/s for loads. Rows are nodes plus relationships.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from lineage import synthetic
from lineage.analyses.audit import audit
from lineage.loaders.graph_model import build
from lineage.loaders.neo4j_csv import write
from lineage.loaders.neo4j_graph import Connection, Neo4jBackend
from lineage.loaders.neo4j_load import finish_import, load_graph
from lineage.loaders.lineage_graph import LineageGraph
from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan
from lineage.neo4j import server
from lineage.queries.catalog import CHECKS

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "neo4j" / "neo4j.sh"


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM of a process in MiB (0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> None:
    """Start a new peak RSS for this process (Linux: 5 into clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class Phases:
    def __init__(self):
        self.rows: list[tuple[str, float, float, str, str]] = []

    def run(self, name: str, fn, *args, rows: int = 0, other=None, **kwargs):
        reset_peak()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        rate = f"{rows / seconds:,.0f}" if rows else ""
        self.rows.append((name, seconds, peak_rss_mb(), other() if other else "", rate))
        print(f"  {name:<44} {seconds:8.1f} s  client {self.rows[-1][2]:7,.0f} MiB  {self.rows[-1][3]:<24} "
              f"{rate + ' rows/s' if rate else ''}", file=sys.stderr, flush=True)
        return seconds, result


def bench_one(root: str, work: Path, env: dict) -> dict:
    instance = server.Instance(ephemeral=True, bolt_port=int(env["LINEAGE_NEO4J_BOLT_PORT"]))
    home = Path(env["LINEAGE_NEO4J_EPHEMERAL_HOME"])
    subprocess.run([str(SCRIPT), "start", "--ephemeral", "--wait"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        uri = f"bolt://127.0.0.1:{instance.bolt}"
        conn = Connection(uri=uri, password=(home / "password").read_text().strip())
        server_pid = lambda: (home / "run" / "neo4j.pid").read_text().strip()  # noqa: E731
        server_rss = lambda: f"server {peak_rss_mb(server_pid()):,.0f} MiB"  # noqa: E731
        import_log = home / "logs" / "import.log"
        tool_peak = lambda text: f"import tool peak {_peak(text)}"  # noqa: E731
        p = Phases()
        print(f"{root}:", file=sys.stderr)
        t_scan, store = p.run("scan", scan, root, metadata=False)  # as `lineage load` scans
        t_build, data = p.run("graph model", build, store)  # it pauses the collector itself
        rows = len(data.nodes) + data.relationship_count  # the graph model's (Neo4j folds REFERENCES)
        csv_dir = work / "csv"
        t_csv, files = p.run("import files (CSV)", write, str(csv_dir), store.root, data, uuid.uuid4().hex, rows=rows)
        rows = files.nodes + files.relationships  # what Neo4j holds from here on
        t_import, _ = p.run("stop, neo4j-admin import, start", server.import_database, instance,
                            files.arguments(), lambda line: None, lambda line: None, rows=rows,
                            other=lambda: tool_peak(import_log.read_text(errors="replace")))
        t_finish, _ = p.run("schema, indexes online, complete", finish_import, conn, files, other=server_rss)
        first = t_scan + t_build + t_csv + t_import + t_finish

        bare_home = work / "bare"
        (bare_home / "conf").mkdir(parents=True, exist_ok=True)
        (bare_home / "conf" / "neo4j.conf").write_text(f"server.directories.data={bare_home / 'data'}\n"
                                                       f"server.directories.logs={bare_home / 'logs'}\n")
        jars = _lib_dir()
        bare_cmd = ["java", f"-Xmx{env.get('LINEAGE_NEO4J_IMPORT_HEAP', '1g')}", "-cp", f"{jars}/*",
                    "org.neo4j.cli.AdminTool", "database", "import", "full", "neo4j", "--overwrite-destination=true",
                    f"--max-off-heap-memory={env.get('LINEAGE_NEO4J_IMPORT_MEMORY', '2g')}",
                    f"--report-file={bare_home / 'import.report'}", *files.arguments()]
        bare_env = {**env, "NEO4J_HOME": str(bare_home), "NEO4J_CONF": str(bare_home / "conf")}
        bare_out: list[str] = []

        def bare_import():
            done = subprocess.run(bare_cmd, env=bare_env, check=True, capture_output=True, text=True, errors="replace")
            bare_out.append(done.stdout + done.stderr)

        t_bare, _ = p.run("bare neo4j-admin database import full", bare_import, rows=rows,
                          other=lambda: tool_peak(bare_out[0]))
        shutil.rmtree(bare_home, ignore_errors=True)
        shutil.rmtree(csv_dir, ignore_errors=True)

        # Reloads over Bolt into the non-empty database: of the unchanged store (recognised from
        # the sum of the fingerprints and the counts), after the store grew by a cohort (simulated
        # by loading the store without its last cohort's generations first), and the whole graph
        # written again.
        t_same, same = p.run("reload, store unchanged (UNWIND)", load_graph, conn, store.root, data, rows=rows,
                             other=server_rss)
        cohort = store.cohorts[-1]
        members = set(zip(cohort.stages, cohort.gen_ids))
        smaller = dataclasses.replace(store, cohorts=store.cohorts[:-1], generations=[
            g for g in store.generations if (g.stage, g.gen_id) not in members])
        load_graph(conn, store.root, build(smaller))
        del smaller
        t_grown, grown = p.run(f"reload, a cohort of {len(members):,} added (UNWIND)", load_graph, conn, store.root,
                               data, rows=rows, other=server_rss)
        t_reload, stats = p.run("reload, every node written again (UNWIND)", load_graph, conn, store.root, data,
                                rewrite=True, rows=rows, other=server_rss)
        neo = Neo4jBackend(conn, store.root)
        try:
            at_once = f"{neo.concurrency} queries at once"
            t_neo_audit, _ = p.run(f"audit on Neo4j ({at_once})", audit, neo, store.root, other=server_rss)
            # The first audit after a load pays for query planning and a cold page cache.
            t_neo_again, _ = p.run(f"audit on Neo4j, again ({at_once})", audit, neo, store.root,
                                   other=server_rss)
            per_check = []
            for check in CHECKS:
                start = time.perf_counter()
                neo.rows(check)
                per_check.append((time.perf_counter() - start, check.id))
        finally:
            neo.close()
        gc.collect()
        t_nx_graph, graph = p.run("networkx graph (from the graph model)", LineageGraph, store, data)
        t_nx_audit, _ = p.run("audit on networkx", audit, NetworkxBackend(graph), store.root)
        return {"root": root, "generations": len(store.generations), "nodes": files.nodes,
                "relationships": files.relationships, "rows": rows, "first": first, "bare": t_bare,
                "import_only": t_csv + t_import + t_finish, "reload": t_reload, "reload_phases": stats.phases,
                "same": t_same, "same_phases": same.phases, "grown": t_grown, "grown_phases": grown.phases,
                "grown_written": grown.written, "scan_model": t_scan + t_build,
                "neo_audit": t_neo_audit, "neo_again": t_neo_again, "nx_audit": t_nx_graph + t_nx_audit, "per_check": sorted(per_check)[::-1][:6],
                "multiline": files.multiline}
    finally:
        subprocess.run([str(SCRIPT), "stop", "--ephemeral"], env=env, stdout=subprocess.DEVNULL)


def _peak(log: str) -> str:
    """The import tool's own account of its memory ("Peak memory usage: 1.2GiB")."""
    for line in log.splitlines():
        if line.startswith("Peak memory usage:"):
            return line.split(":", 1)[1].strip()
    return "?"


def _lib_dir() -> str:
    version = next(line.split(">")[1].split("<")[0] for line in (REPO / "neo4j" / "pom.xml").read_text().splitlines()
                   if "<neo4j.version>" in line)
    cache = os.environ.get("LINEAGE_CACHE_DIR") or os.path.expanduser("~/.cache/lineage")
    return os.path.join(cache, "neo4j", version, "lib")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", nargs="*", default=[], help="data roots to load (read only)")
    ap.add_argument("--generations", type=int, nargs="*", default=[], help="generate stores of these sizes")
    ap.add_argument("--work", required=True, help="scratch folder for the server home, CSV files and generated stores")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    env = {**os.environ, "LINEAGE_NEO4J_BOLT_PORT": os.environ.get("LINEAGE_NEO4J_BOLT_PORT", "27687"),
           "LINEAGE_NEO4J_HTTP_PORT": os.environ.get("LINEAGE_NEO4J_HTTP_PORT", "27474"),
           "LINEAGE_NEO4J_HEAP": os.environ.get("LINEAGE_NEO4J_HEAP", "3g"),
           "LINEAGE_NEO4J_PAGECACHE": os.environ.get("LINEAGE_NEO4J_PAGECACHE", "4g"),
           "LINEAGE_NEO4J_EPHEMERAL_HOME": str(work / "home")}
    os.environ.update(env)  # lineage.neo4j.server finds the instance through the same variables
    roots = list(args.store)
    print(f"neo4j_load: writes under {work}: the server home (home/), the import CSVs (csv/), a bare import's "
          f"home (bare/){' and generated stores (store-N/)' if args.generations else ''}; all deleted at the end. "
          f"Server on 127.0.0.1:{env['LINEAGE_NEO4J_BOLT_PORT']}, heap {env['LINEAGE_NEO4J_HEAP']}, "
          f"page cache {env['LINEAGE_NEO4J_PAGECACHE']}. Reads {', '.join(roots) or 'the generated stores'}.",
          file=sys.stderr, flush=True)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for n in args.generations:
            root = work / f"store-{n}"
            synthetic.generate(str(root), n, seed=1, legacy_fraction=0.1, mismatch_fraction=0.02, text_files=False)
            roots.append(str(root))
        for root in roots:
            results.append(bench_one(root, work, env))
    finally:
        for name in ("home", "csv", "bare", *(f"store-{n}" for n in args.generations)):
            shutil.rmtree(work / name, ignore_errors=True)
    print("| generations | nodes | relationships | first load (import), end to end | rows/s | bare import "
          "| ratio | reload: unchanged / a cohort added / all written, rows/s of each | audit on Neo4j, first / again "
          "| audit on networkx |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        reloads = " / ".join(f"{r[k]:.1f} s, {r['rows'] / r[k]:,.0f}" for k in ("same", "grown", "reload"))
        print(f"| {r['generations']:,} | {r['nodes']:,} | {r['relationships']:,} | {r['first']:.1f} s "
              f"| {r['rows'] / r['first']:,.0f} | {r['bare']:.1f} s | {r['first'] / r['bare']:.2f}x "
              f"| {reloads} | {r['neo_audit']:.1f} s / {r['neo_again']:.1f} s | {r['nx_audit']:.1f} s |")
    for r in results:
        phases = {k: ", ".join(f"{p} {v:.1f} s" for p, v in r[k].items())
                  for k in ("same_phases", "grown_phases", "reload_phases")}
        checks = ", ".join(f"{c} {t:.2f} s" for t, c in r["per_check"])
        scanned = r["scan_model"]
        print(f"\n{r['root']}: reload phases\n  unchanged: {phases['same_phases']}"
              f"\n  a cohort added: {phases['grown_phases']} ({r['grown_written'][0]:,} nodes and "
              f"{r['grown_written'][1]:,} relationships written)\n  all written: {phases['reload_phases']}"
              f"\n  as `lineage load` runs them, with the scan and graph model ({scanned:.1f} s): unchanged "
              f"{scanned + r['same']:.1f} s ({r['rows'] / (scanned + r['same']):,.0f} rows/s), a cohort added "
              f"{scanned + r['grown']:.1f} s ({r['rows'] / (scanned + r['grown']):,.0f} rows/s)"
              f"\n  slowest checks on Neo4j: {checks}\n  import files need --multiline-fields: {r['multiline']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
