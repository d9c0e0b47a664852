"""Benchmark: loading generated stores into Neo4j, and the audit on Neo4j next to networkx.

    python bench/neo4j_load.py --generations 100000 1000000

Uses the server at NEO4J_URI (NEO4J_USER/NEO4J_PASSWORD), or starts a throwaway one with
neo4j/neo4j.sh on ports 27687/27474 and stops it afterwards. Stores are generated once into
the temp folder (lineage-bench-<n>) and reused. Rows are nodes + relationships.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lineage.analyses.audit import audit
from lineage import synthetic
from lineage.loaders.neo4j_graph import Connection, Neo4jBackend, load_graph
from lineage.loaders.graph_model import build
from lineage.loaders.networkx_graph import NetworkxBackend, from_graph_data
from lineage.loaders.store import scan
from lineage.core.perf import gc_paused

REPO = Path(__file__).resolve().parent.parent


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def bench_one(conn: Connection, n: int, batch: int) -> dict:
    root = os.path.join(tempfile.gettempdir(), f"lineage-bench-{n}")
    if not os.path.isdir(os.path.join(root, "gens")):
        t, _ = timed(synthetic.generate, root, n, seed=1, legacy_fraction=0.1, mismatch_fraction=0.02,
                     text_files=n <= 100_000)
        print(f"generated {n:,} generations in {t:.0f}s at {root}", file=sys.stderr)
    t_scan, store = timed(scan, root)
    with gc_paused():
        t_build, data = timed(build, store)
    t_load, stats = timed(load_graph, conn, store.root, data, batch)
    neo = Neo4jBackend(conn, store.root)
    try:
        t_neo_audit, _ = timed(audit, neo, store.root)
    finally:
        neo.close()
    with gc_paused():
        t_nx_graph, graph = timed(from_graph_data, data)
    t_nx_audit, _ = timed(audit, NetworkxBackend(graph), store.root)
    rows = stats.nodes + stats.relationships
    return {"generations": len(store.generations), "nodes": stats.nodes, "relationships": stats.relationships,
            "scan_s": t_scan, "load_s": t_load, "rows_per_s": rows / t_load,
            "neo4j_audit_s": t_neo_audit, "networkx_audit_s": t_nx_audit + t_nx_graph, "build_s": t_build}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generations", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--batch", type=int, default=20_000)
    args = ap.parse_args()

    started = False
    env = {**os.environ, "LINEAGE_NEO4J_BOLT_PORT": "27687", "LINEAGE_NEO4J_HTTP_PORT": "27474",
           "LINEAGE_NEO4J_HEAP": os.environ.get("LINEAGE_NEO4J_HEAP", "3g"),
           "LINEAGE_NEO4J_PAGECACHE": os.environ.get("LINEAGE_NEO4J_PAGECACHE", "4g")}
    if os.environ.get("NEO4J_URI"):
        conn = Connection.from_env()
    else:
        subprocess.run([str(REPO / "neo4j/neo4j.sh"), "start", "--ephemeral", "--wait"], env=env, check=True)
        started = True
        conn = Connection(uri="bolt://127.0.0.1:27687")
    try:
        results = [bench_one(conn, n, args.batch) for n in args.generations]
    finally:
        if started:
            subprocess.run([str(REPO / "neo4j/neo4j.sh"), "stop", "--ephemeral"], env=env)
    print("| generations | nodes | relationships | load | rows/s | audit on Neo4j | audit on networkx |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['generations']:,} | {r['nodes']:,} | {r['relationships']:,} | {r['load_s']:.1f} s "
              f"| {r['rows_per_s']:,.0f} | {r['neo4j_audit_s']:.1f} s | {r['networkx_audit_s']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
