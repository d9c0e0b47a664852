"""Writing a root's lineage graph into Neo4j: a load over Bolt in UNWIND batches, of the whole
graph or of what changed since the root's last load (neo4j_delta), and the finish of an offline
import (neo4j_csv, lineage.neo4j.importer).

Every node carries the data root it came from (`root`) and a unique `uid`, so several roots can
share a database and a reload replaces exactly one root's graph. A `LoadRun` node per root says
whether its last load completed; queries refuse a graph whose load did not.

Cypher text is constant; data travels only as parameters.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from itertools import chain, compress
from typing import Callable, Iterable

from lineage.core.model import Store
from lineage.core.perf import gc_paused
from lineage.core.status import LineageError
from lineage.loaders.graph_model import Edges, GraphData, build
from lineage.loaders.neo4j_delta import Delta, plan, touching
from lineage.loaders.neo4j_graph import Connection, cannot_collect, driver_module, failure
from lineage.loaders.neo4j_shape import (FINGERPRINT, GRAPH_VERSION, NODE_LABELS, REL_PROPS, REL_TYPES, fingerprint_sum,
                                         node_columns, node_rows, rel_rows, relationship_columns, uid)

BATCH = 20_000

SCHEMA = [
    "CREATE CONSTRAINT lineage_uid IF NOT EXISTS FOR (n:Lineage) REQUIRE n.uid IS UNIQUE",
    "CREATE CONSTRAINT lineage_load_root IF NOT EXISTS FOR (l:LoadRun) REQUIRE l.root IS UNIQUE",
    "CREATE INDEX lineage_root IF NOT EXISTS FOR (n:Lineage) ON (n.root)",
    "CREATE INDEX generation_root IF NOT EXISTS FOR (n:Generation) ON (n.root)",
    "CREATE INDEX generation_id IF NOT EXISTS FOR (n:Generation) ON (n.gen_id)",
    # The partial index the checks of one generation, or of its parent link, start from, like
    # the networkx graph's `unusual`.
    "CREATE INDEX unusual_root IF NOT EXISTS FOR (n:Unusual) ON (n.root)",
    # What graph version 1 had in its place: every load would go on maintaining them.
    "DROP INDEX generation_extraneous IF EXISTS",
    "DROP INDEX generation_required_missing IF EXISTS",
    "DROP INDEX generation_invalid_values IF EXISTS",
    "CREATE INDEX missing_root IF NOT EXISTS FOR (n:Missing) ON (n.root)",
    "CREATE INDEX cohort_root IF NOT EXISTS FOR (n:Cohort) ON (n.root)",
    "CREATE INDEX artifact_root IF NOT EXISTS FOR (n:Artifact) ON (n.root)",
    "CREATE INDEX problem_root IF NOT EXISTS FOR (n:Problem) ON (n.root)",
]


DELETE_RELATIONSHIPS = ("MATCH (n:Lineage {root: $root})-[r]->() "
                        "CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS")
DELETE_NODES = "MATCH (n:Lineage {root: $root}) CALL (n) { DELETE n } IN TRANSACTIONS OF $batch ROWS"


def _create_nodes_query(labels: tuple[str, ...]) -> str:
    assert labels in NODE_LABELS
    return f"UNWIND $rows AS r CREATE (n:Lineage:{':'.join(labels)}) SET n = r RETURN elementId(n) AS e"


def _create_rels_query(rel_type: str) -> str:
    # Both ends by the element IDs their CREATE returned: a direct record lookup
    # (NodeByElementIdSeek), where a uid costs a seek in the constraint's index.
    # The properties are named in the CREATE (a null one is not set): a SET from the map after
    # it would make the planner buffer every row first (Eager).
    assert rel_type in REL_TYPES
    props = ", ".join(f"{name}: r.p.{name}" for name in REL_PROPS[rel_type])
    return (f"UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.s MATCH (b) WHERE elementId(b) = r.d "
            f"CREATE (a)-[:{rel_type} {{{props}}}]->(b)")


@dataclass
class LoadStats:
    nodes: int
    relationships: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds: prepare, compare, delete, nodes, relationships
    kept: int = 0  # nodes the reload found unchanged and left as they were
    written: tuple[int, int] = (0, 0)  # the nodes and relationships of the graph it wrote

    @property
    def rows_per_second(self) -> float:
        return (self.nodes + self.relationships) / self.seconds if self.seconds else 0.0


def _batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def load(conn: Connection, store: Store, batch: int = BATCH,
         progress: Callable[[int], None] | None = None, rewrite: bool = False) -> LoadStats:
    """Replace the graph of `store.root` in the database with the store's graph."""
    data = build(store)
    return load_graph(conn, store.root, data, batch, progress, rewrite)


# What the root's last load wrote, if it completed and made the graph this version makes (else a
# reload writes the whole root): the sum of its fingerprints and its counts; then, when those
# differ from the store's, the fingerprint of each node, by key.
LAST_LOAD = ("MATCH (l:LoadRun {root: $root}) WHERE l.status = 'complete' AND l.graph_version = $version "
             "RETURN l.fingerprint_sum AS total, l.nodes AS nodes, l.relationships AS relationships")
STORED_FINGERPRINTS = "MATCH (n:Lineage {root: $root}) RETURN collect([substring(n.uid, $cut), n.fingerprint]) AS nodes"
# A changed or vanished node goes with its relationships: those leaving it, then those coming in
# (from a kept node: the others went with their own start), each once.
DELETE_LISTED = [
    "UNWIND $uids AS u MATCH (:Lineage {uid: u})-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS",
    "UNWIND $uids AS u MATCH (:Lineage {uid: u})<-[r]-() CALL (r) { DELETE r } IN TRANSACTIONS OF $batch ROWS",
    "UNWIND $uids AS u MATCH (n:Lineage {uid: u}) CALL (n) { DELETE n } IN TRANSACTIONS OF $batch ROWS",
]
ELEMENT_IDS = "UNWIND $uids AS u MATCH (n:Lineage {uid: u}) RETURN collect([u, elementId(n)]) AS ids"
# The root's nodes and relationships, counted from the degree store (no relationship is read).
COUNTS = ("MATCH (n:Lineage {root: $root}) "
          "RETURN count(n) AS nodes, sum(COUNT { (n)-->() }) AS relationships")


def load_graph(conn: Connection, root: str, data: GraphData, batch: int = BATCH,
               progress: Callable[[int], None] | None = None, rewrite: bool = False) -> LoadStats:
    """Make the database's graph of `root` the one in `data`. If the root's last complete load
    made this version of the graph, only the nodes whose fingerprint changed are written again,
    with their relationships (neo4j_delta), and the counts are checked after; else, or with
    `rewrite`, or when the check fails, the root's graph is deleted and written whole."""
    neo4j = driver_module()
    start = time.perf_counter()
    load_id = uuid.uuid4().hex
    with gc_paused():  # the columns of millions of nodes: no cyclic collection while they are made
        groups = list(node_columns(data))
        rel_columns = relationship_columns(data)
        total = fingerprint_sum(chain.from_iterable(p[FINGERPRINT] for _, p in groups))
    n_nodes, n_rels = len(data.nodes), sum(map(len, rel_columns))
    phases = {"prepare": time.perf_counter() - start}
    driver = conn.driver()
    marked = False  # whether the root's graph is marked as loading (and so refused until done)
    try:
        with driver.session(database=conn.database) as session:
            for statement in SCHEMA:
                session.run(statement).consume()
            delta = None
            if not rewrite:
                lap = time.perf_counter()
                last = session.run(LAST_LOAD, root=root, version=GRAPH_VERSION).single()
                unchanged = last is not None and tuple(last) == (total, n_nodes, n_rels)
                if unchanged and _counts(session, root) == (n_nodes, n_rels):
                    # The store's graph is the one the last load wrote, and the database still
                    # holds as many nodes and relationships: nothing to write.
                    phases["compare"] = time.perf_counter() - lap
                    return LoadStats(n_nodes, n_rels, time.perf_counter() - start, phases, kept=n_nodes)
                stored = _stored_fingerprints(session, root) if last is not None else None
                if stored is not None:
                    with gc_paused():
                        delta = plan(stored, groups)
                    if not delta.worth_it(len(stored)):
                        delta = None
                phases["compare"] = time.perf_counter() - lap
            # Mark the root as loading before touching its graph: a crash from here on leaves a
            # graph that every query refuses until a load completes (and the next load whole).
            session.execute_write(lambda tx: tx.run(
                "MERGE (l:LoadRun {root: $root}) SET l.status = 'loading', l.load_id = $load_id, "
                "l.started = datetime(), l.finished = null", root=root, load_id=load_id).consume())
            marked = True
            write = _Writes(session, root, batch, progress, phases)
            # A graph changed by other hands meanwhile (a node gone, counts that do not add up)
            # is written whole.
            if delta is not None and not (write.delta(delta, groups, rel_columns)
                                          and _counts(session, root) == (n_nodes, n_rels)):
                delta = None
            if delta is None:
                write.whole(groups, rel_columns)
            session.execute_write(lambda tx: tx.run(
                "MATCH (l:LoadRun {root: $root, load_id: $load_id}) SET l.status = 'complete', "
                "l.finished = datetime(), l.nodes = $nodes, l.relationships = $rels, l.graph_version = $version, "
                "l.fingerprint_sum = $total",
                root=root, load_id=load_id, nodes=n_nodes, rels=n_rels, version=GRAPH_VERSION, total=total).consume())
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        reason = failure(exc, conn)
        after = f"; the graph of {root} is marked incomplete until a load succeeds" if marked else \
            "; nothing was written"
        raise LineageError(f"Neo4j load failed: {reason}{after}") from None
    finally:
        driver.close()
    return LoadStats(n_nodes, n_rels, time.perf_counter() - start, phases,
                     kept=delta.kept if delta is not None else 0, written=write.written)


def _counts(session, root: str) -> tuple[int, int]:
    record = session.run(COUNTS, root=root).single()
    return record["nodes"], record["relationships"]


def _stored_fingerprints(session, root: str) -> dict[str, int | None] | None:
    """Node key -> stored fingerprint; None when the server cannot gather them (a memory
    limit): then the root is written whole, as a first load is."""
    neo4j = driver_module()
    try:
        record = session.run(STORED_FINGERPRINTS, root=root, cut=len(uid(root, ""))).single()
    except neo4j.exceptions.Neo4jError as exc:
        if cannot_collect(exc):
            return None
        raise
    return dict(record["nodes"])


class _Writes:
    """The writes of one load, in one session: a root's graph whole, or a delta of it."""

    def __init__(self, session, root: str, batch: int, progress, phases: dict[str, float]):
        self.session, self.root, self.batch, self.progress, self.phases = session, root, batch, progress, phases
        self.written = (0, 0)

    def whole(self, groups, rel_columns: list[Edges]) -> None:
        lap = time.perf_counter()
        # Relationships first, then nodes, each committed every `batch` rows in one pass: a
        # DETACH DELETE of a batch of nodes took a cohort or artifact node with a million
        # relationships into one transaction, past the server's transaction memory limit.
        for query in (DELETE_RELATIONSHIPS, DELETE_NODES):
            self.session.run(query, root=self.root, batch=self.batch).consume()
        self._lap("delete", lap)
        self._write(groups, rel_columns, {})

    def delta(self, delta: Delta, groups, rel_columns: list[Edges]) -> bool:
        """Write the delta; False if a node it keeps is no longer there."""
        lap = time.perf_counter()
        prefix = uid(self.root, "")
        for chunk in _batches(list(map(prefix.__add__, delta.stale)), 10 * self.batch):  # bounded parameters
            for query in DELETE_LISTED:
                self.session.run(query, uids=chunk, batch=self.batch).consume()
        self._lap("delete", lap)
        has = delta.fresh.__contains__
        fresh = [(labels, _subset(properties, list(map(has, properties["key"])))) for labels, properties in groups]
        rels = touching(rel_columns, delta.fresh)
        # The kept ends of those relationships, by element ID as the nodes created now are.
        ends = {k for e in rels for k in (*e.sources, *e.targets) if not has(k)}
        element: dict[str, str] = {}
        for chunk in _batches(list(map(prefix.__add__, ends)), 10 * self.batch):
            ids = self.session.run(ELEMENT_IDS, uids=chunk).single()["ids"]
            element.update((u[len(prefix):], e) for u, e in ids)
        if len(element) < len(ends):
            return False
        self._write([g for g in fresh if g[1]["key"]], rels, element)
        return True

    def _write(self, groups, rel_columns: list[Edges], element: dict[str, str]) -> None:
        """Create the groups' nodes, by label, then the relationships between them (and the
        nodes in `element`, by their element IDs)."""
        lap = time.perf_counter()
        nodes = rels = 0
        for labels, properties in groups:
            query = _create_nodes_query(labels)
            keys = properties["key"]
            rows = node_rows(self.root, properties)
            for at in range(0, len(rows), self.batch):
                chunk = rows[at:at + self.batch]
                ids = self.session.execute_write(lambda tx, q=query, c=chunk: [r["e"] for r in tx.run(q, rows=c)])
                element.update(zip(keys[at:at + self.batch], ids))
                nodes += len(chunk)
                if self.progress:
                    self.progress(len(chunk))
        lap = self._lap("nodes", lap)
        for edges in rel_columns:
            query = _create_rels_query(edges.type)
            for chunk in _batches(list(rel_rows(edges, element.__getitem__)), self.batch):
                self.session.execute_write(lambda tx, q=query, c=chunk: tx.run(q, rows=c).consume())
                rels += len(chunk)
                if self.progress:
                    self.progress(len(chunk))
        self._lap("relationships", lap)
        self.written = (nodes, rels)  # after a delta, a whole write's own: it deleted the delta's

    def _lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + now - since
        return now


def _subset(properties: dict[str, list], mask: list[bool]) -> dict[str, list]:
    return {name: list(compress(values, mask)) for name, values in properties.items()}


def finish_import(conn: Connection, files, batch: int = BATCH, index_timeout: int = 3600) -> float:
    """After `neo4j-admin database import full` of `files` (neo4j_csv.ImportFiles) and a start of
    the database: make the schema, set the values the files could not hold, check the count, and
    mark the load complete. Returns the seconds it took."""
    neo4j = driver_module()
    start = time.perf_counter()
    root = files.root
    driver = conn.driver()
    try:
        with driver.session(database=conn.database) as session:
            found = session.run("MATCH (l:LoadRun {root: $root}) RETURN l.status AS status, l.load_id AS load_id",
                                root=root).data()
            if not found or found[0]["load_id"] != files.load_id:
                raise LineageError(f"the database at {conn.uri} does not hold the import in {files.folder} "
                                   "(run its neo4j-admin command first, then start the database)")
            if found[0]["status"] == "complete":
                return time.perf_counter() - start
            for statement in SCHEMA:
                session.run(statement).consume()
            # The constraint's and indexes' population runs in the background; queries and the
            # fix-ups below want them online.
            session.run("CALL db.awaitIndexes($t)", t=index_timeout).consume()
            for chunk in _batches(files.fixups, batch):
                session.execute_write(lambda tx, c=chunk: tx.run(
                    "UNWIND $rows AS r MATCH (n:Lineage {uid: r.uid}) SET n += r.p", rows=c).consume())
            count = session.run("MATCH (n:Lineage {root: $root}) RETURN count(n) AS c", root=root).single()["c"]
            if count != files.nodes:
                raise LineageError(f"the import of {root} holds {count:,} nodes, not {files.nodes:,}; "
                                   "its graph stays marked incomplete")
            session.execute_write(lambda tx: tx.run(
                "MATCH (l:LoadRun {root: $root, load_id: $load_id}) SET l.status = 'complete', "
                "l.started = datetime($started), l.finished = datetime(), l.graph_version = $version",
                root=root, load_id=files.load_id, started=files.started, version=GRAPH_VERSION).consume())
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        reason = failure(exc, conn)
        raise LineageError(f"finishing the import failed: {reason}; the graph of {root} stays marked "
                           "incomplete") from None
    finally:
        driver.close()
    return time.perf_counter() - start
