"""The Neo4j backend: load the lineage graph into a server, and run the catalog's Cypher on it.

The graph is the one loaders.graph_model builds for networkx too. Every node carries the data
root it came from (`root`) and a unique `uid`, so several roots can share a database and a
reload replaces exactly one root's graph. A `LoadRun` node per root says whether its last
load completed; queries refuse a graph whose load did not.

Cypher text is constant; data travels only as parameters.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from lineage.loaders.graph_model import GraphData, build
from lineage.loaders.neo4j_shape import (GRAPH_VERSION, NODE_LABELS, REL_PROPS, REL_TYPES, node_columns, node_rows, rel_rows,
                                         relationship_columns)
from lineage.core.model import Store
from lineage.core.status import LineageError, UsageError

BATCH = 20_000
DEFAULT_URI = "bolt://localhost:7687"

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
class Connection:
    """Where the server is. The password is read from the environment or a prompt (or, for a
    local ephemeral server, from its home: lineage.cli.app.connection), never logged."""

    uri: str = DEFAULT_URI
    user: str = "neo4j"
    password: str | None = field(default=None, repr=False)
    database: str | None = None

    def __post_init__(self) -> None:
        scheme = self.uri.partition("://")[0].lower() if "://" in self.uri else ""
        if scheme not in URI_SCHEMES:
            # The driver would try (and fail in its own words) to speak HTTP to a Bolt port.
            raise UsageError(f"unsupported Neo4j URI {self.uri!r}: use one of "
                             f"{', '.join(s + '://' for s in URI_SCHEMES)} (Bolt, not HTTP)")

    @classmethod
    def from_env(cls, uri: str | None = None, user: str | None = None, database: str | None = None,
                 password: str | None = None) -> "Connection":
        return cls(uri=uri or os.environ.get("NEO4J_URI") or DEFAULT_URI,
                   user=user or os.environ.get("NEO4J_USER") or "neo4j",
                   password=password if password is not None else os.environ.get("NEO4J_PASSWORD"),
                   database=database or os.environ.get("NEO4J_DATABASE") or None)

    def driver(self):
        neo4j = driver_module()
        auth = (self.user, self.password) if self.password else None
        try:
            # Notifications (deprecations, unknown labels on an empty database) are for query authors,
            # not for users of canned queries.
            drv = neo4j.GraphDatabase.driver(self.uri, auth=auth, notifications_min_severity="OFF")
            drv.verify_connectivity()
        except neo4j.exceptions.AuthError:
            raise UsageError(f"Neo4j at {self.uri} refused the credentials of user {self.user!r} "
                             "(set NEO4J_USER / NEO4J_PASSWORD)") from None
        except (neo4j.exceptions.ServiceUnavailable, OSError) as exc:
            raise LineageError(f"cannot reach Neo4j at {self.uri} ({_reason(exc)}); is it running? "
                               "`lineage neo4j status` says") from None
        except neo4j.exceptions.Neo4jError as exc:
            raise LineageError(neo4j_error(exc, self)) from None
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise UsageError(f"bad Neo4j URI {self.uri!r}: {_short(exc)}") from None
        return drv


# The schemes of the Bolt protocol the driver speaks; +s and +ssc add TLS.
URI_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def driver_module():
    """The neo4j driver package, or a one-line error naming the extra that installs it."""
    try:
        import neo4j
    except ImportError:
        raise UsageError("the Neo4j backend needs the neo4j driver: "
                         "pip install 'daydream-lineage[neo4j]'") from None
    return neo4j


def neo4j_error(exc: Exception, conn: "Connection") -> str:
    """A server error in one line: the common ones in words, the others by their code."""
    code = getattr(exc, "code", None) or type(exc).__name__
    if code.endswith("DatabaseNotFound"):
        return (f"Neo4j at {conn.uri} has no database {conn.database!r} "
                "(--database or NEO4J_DATABASE names it)")
    return f"{code}: {_short(exc)}"


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _reason(exc: Exception) -> str:
    """Why a connection failed, from the driver's multi-line message: its last specific clause
    ("Connection refused"), not the first line, which ends in a colon."""
    causes = [exc, exc.__cause__, exc.__context__]
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    text = " ".join(str(exc).split())
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host"):
        if marker.lower() in text.lower():
            return marker.lower()
    return text.rstrip(":") or type(exc).__name__


@dataclass
class LoadStats:
    nodes: int
    relationships: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds: prepare, delete, nodes, relationships

    @property
    def rows_per_second(self) -> float:
        return (self.nodes + self.relationships) / self.seconds if self.seconds else 0.0


def _batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def load(conn: Connection, store: Store, batch: int = BATCH,
         progress: Callable[[int], None] | None = None) -> LoadStats:
    """Replace the graph of `store.root` in the database with the store's graph."""
    data = build(store)
    return load_graph(conn, store.root, data, batch, progress)


def load_graph(conn: Connection, root: str, data: GraphData, batch: int = BATCH,
               progress: Callable[[int], None] | None = None) -> LoadStats:
    neo4j = driver_module()
    start = time.perf_counter()
    load_id = uuid.uuid4().hex
    groups = list(node_columns(data))
    rows_by_labels = {labels: node_rows(root, properties) for labels, properties in groups}
    keys_by_labels = {labels: properties["key"] for labels, properties in groups}
    del groups
    rel_columns = relationship_columns(data)

    phases = {"prepare": time.perf_counter() - start}
    driver = conn.driver()
    marked = False  # whether the root's graph is marked as loading (and so refused until done)
    try:
        with driver.session(database=conn.database) as session:
            for statement in SCHEMA:
                session.run(statement).consume()
            # Mark the root as loading before touching its graph: a crash from here on leaves a
            # graph that every query refuses until a load completes.
            session.execute_write(lambda tx: tx.run(
                "MERGE (l:LoadRun {root: $root}) SET l.status = 'loading', l.load_id = $load_id, "
                "l.started = datetime(), l.finished = null", root=root, load_id=load_id).consume())
            marked = True
            lap = time.perf_counter()
            # Relationships first, then nodes, each committed every `batch` rows in one pass: a
            # DETACH DELETE of a batch of nodes took a cohort or artifact node with a million
            # relationships into one transaction, past the server's transaction memory limit.
            for query in (DELETE_RELATIONSHIPS, DELETE_NODES):
                session.run(query, root=root, batch=batch).consume()
            phases["delete"], lap = time.perf_counter() - lap, time.perf_counter()
            # Nodes first, by label; each batch returns the element IDs of its nodes in order.
            element: dict[str, str] = {}
            for labels, rows in rows_by_labels.items():
                query = _create_nodes_query(labels)
                for at in range(0, len(rows), batch):
                    chunk = rows[at:at + batch]
                    ids = session.execute_write(lambda tx, q=query, c=chunk: [r["e"] for r in tx.run(q, rows=c)])
                    element.update(zip(keys_by_labels[labels][at:at + batch], ids))
                    if progress:
                        progress(len(chunk))
            phases["nodes"], lap = time.perf_counter() - lap, time.perf_counter()
            n_rels = 0
            for edges in rel_columns:
                query = _create_rels_query(edges.type)
                for chunk in _batches(list(rel_rows(edges, element.__getitem__)), batch):
                    session.execute_write(lambda tx, q=query, c=chunk: tx.run(q, rows=c).consume())
                    n_rels += len(chunk)
                    if progress:
                        progress(len(chunk))
            phases["relationships"] = time.perf_counter() - lap
            n_nodes = len(data.nodes)
            session.execute_write(lambda tx: tx.run(
                "MATCH (l:LoadRun {root: $root, load_id: $load_id}) SET l.status = 'complete', "
                "l.finished = datetime(), l.nodes = $nodes, l.relationships = $rels, l.graph_version = $version",
                root=root, load_id=load_id, nodes=n_nodes, rels=n_rels, version=GRAPH_VERSION).consume())
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        reason = neo4j_error(exc, conn) if isinstance(exc, neo4j.exceptions.Neo4jError) else \
            f"{type(exc).__name__}: {_short(exc)}"
        after = f"; the graph of {root} is marked incomplete until a load succeeds" if marked else \
            "; nothing was written"
        raise LineageError(f"Neo4j load failed: {reason}{after}") from None
    finally:
        driver.close()
    return LoadStats(n_nodes, n_rels, time.perf_counter() - start, phases)


def database_roots(conn: Connection) -> tuple[bool, list[str]]:
    """(whether the database holds no node at all, the roots loaded into it)."""
    neo4j = driver_module()
    driver = conn.driver()
    try:
        records, _, _ = driver.execute_query(
            "OPTIONAL MATCH (n) WITH n LIMIT 1 OPTIONAL MATCH (l:LoadRun) "
            "RETURN n IS NULL AS empty, collect(l.root) AS roots", database_=conn.database)
    except neo4j.exceptions.Neo4jError as exc:
        raise LineageError(neo4j_error(exc, conn)) from None
    except (neo4j.exceptions.DriverError, OSError) as exc:
        raise LineageError(f"Neo4j query failed: {type(exc).__name__}: {_short(exc)}") from None
    finally:
        driver.close()
    return bool(records[0]["empty"]), sorted(records[0]["roots"])


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
        reason = neo4j_error(exc, conn) if isinstance(exc, neo4j.exceptions.Neo4jError) else \
            f"{type(exc).__name__}: {_short(exc)}"
        raise LineageError(f"finishing the import failed: {reason}; the graph of {root} stays marked "
                           "incomplete") from None
    finally:
        driver.close()
    return time.perf_counter() - start


class Neo4jBackend:
    """The audit's view of a loaded root in a Neo4j database."""

    name = "neo4j"

    def __init__(self, conn: Connection, root: str, concurrency: int = 4):
        self.conn, self.root = conn, root
        # The audit's queries at once: on this project's 2-core machine the audit of a loaded
        # million took 4.5 s one at a time, 3.0 s two, 2.8 s three, 2.5-2.7 s four, 2.4-2.5 s six.
        self.concurrency = concurrency
        self._keys: dict[str, tuple[str, ...]] = {}  # each check query's columns
        self._driver = conn.driver()
        try:
            self._refuse_unfinished()
        except LineageError:
            self.close()
            raise

    def _refuse_unfinished(self) -> None:
        """A root with no graph, or one whose load did not complete, or of an older version."""
        root = self.root
        status = self._read("MATCH (l:LoadRun {root: $root}) RETURN l.status AS status, "
                            "l.graph_version AS version", {})
        if not status:
            raise UsageError(f"no graph of {root} in Neo4j; run `lineage load {root} --backend neo4j` first")
        if status[0]["status"] == "imported":
            raise LineageError(f"the import of {root} is not finished; run `lineage load {root} --finish-import DIR` "
                               "with the folder of its import files")
        if status[0]["status"] != "complete":
            raise LineageError(f"the last Neo4j load of {root} did not complete; run `lineage load` again")
        if (status[0]["version"] or 1) < GRAPH_VERSION:
            raise LineageError(f"the graph of {root} in Neo4j was loaded by an older lineage, whose graph its "
                               f"checks would misread; run `lineage load {root}` again")

    def close(self) -> None:
        self._driver.close()

    def _read(self, query: str, params: dict[str, Any], collected: bool = False) -> list[dict[str, Any]]:
        neo4j = driver_module()
        params = {"root": self.root, **params}
        try:
            with self._driver.session(database=self.conn.database,
                                      default_access_mode=neo4j.READ_ACCESS) as session:
                if collected:
                    rows = self._collected(session, query, params)
                    if rows is not None:
                        return rows
                return session.execute_read(_rows, query, params)
        except neo4j.exceptions.Neo4jError as exc:
            raise LineageError(f"Neo4j query failed: {neo4j_error(exc, self.conn)}") from None
        except (neo4j.exceptions.DriverError, OSError) as exc:
            raise LineageError(f"Neo4j query failed: {type(exc).__name__}: {_short(exc)}") from None

    def _collected(self, session, query: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The query's rows gathered by the server into one record, or None to read them one by
        one: when the server refused with a transient error or a memory limit (the rows and
        their list at once), or the connection went (the streamed read retries). The driver
        reads each record with two socket reads and a Python dispatch: the 97,000 rows of
        id.legacy at a million took this process a second of CPU one by one, 0.1 s in one."""
        neo4j = driver_module()
        keys = self._keys.get(query)
        if keys is None:  # the query's columns, from its plan (EXPLAIN runs nothing)
            keys = self._keys[query] = tuple(session.run("EXPLAIN " + query, params).keys())
        columns = ", ".join("`" + k.replace("`", "``") + "`" for k in keys)
        try:
            # Auto-commit, not a retried transaction: a memory error is transient, and streaming
            # may succeed where collecting cannot.
            record = session.run(f"CALL () {{\n{query}\n}} RETURN collect([{columns}]) AS rows", params).single()
        except neo4j.exceptions.Neo4jError as exc:
            if _retry_streamed(exc):
                return None
            raise
        except (neo4j.exceptions.SessionExpired, neo4j.exceptions.ServiceUnavailable):
            return None  # the streamed read retries these, as the driver does
        return [dict(zip(keys, values)) for values in record["rows"]]

    def run(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._read(cypher, params)

    def rows(self, check) -> list[dict[str, Any]]:
        """A check's rows, collected (their order is the report's to make)."""
        return self._read(check.cypher, dict(check.params), collected=True)

    def id_tally(self) -> dict[tuple[str, str, int], int]:
        """Counted by the server: sending a million IDs to count them here took most of an
        audit. Cypher's size() counts UTF-16 units where Python counts characters, so the
        rare IDs with a character beyond the basic plane come back whole and are counted here."""
        tally: Counter = Counter()
        for r in self._read(TALLY, {"astral": ASTRAL}):
            tally[r["s"], r["k"], r["n"] if r["i"] is None else len(r["i"])] += r["c"]
        return tally


def _retry_streamed(exc: Exception) -> bool:
    """A transient error, or a memory limit (the pool's is transient, a transaction's cap
    db.memory.transaction.max a client error: Neo.ClientError.General.TransactionOutOfMemoryError)."""
    neo4j = driver_module()
    return isinstance(exc, neo4j.exceptions.TransientError) or "OutOfMemory" in (getattr(exc, "code", None) or "")


def _rows(tx, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The records as dicts, made straight from each record's values: the driver's eager result
    and Record.data() took 0.8 s more for the 97,000 rows of id.legacy at a million."""
    result = tx.run(query, params)
    keys = result.keys()
    return [dict(zip(keys, record)) for record in result]


# An ID with a character beyond the basic plane (a surrogate pair in Java's strings).
ASTRAL = r"(?s).*[\x{10000}-\x{10FFFF}].*"
# One pass: each length as the server counts it, and such an ID itself (null for the others).
# Deterministic and legacy IDs are ASCII by their shape, so only a malformed one is matched
# against the pattern (CASE tries its branches in order): 1.5 s -> 1.1 s at a million.
TALLY = ("MATCH (g:Generation {root: $root}) "
         "WITH g.stage AS s, g.id_kind AS k, size(g.gen_id) AS n, "
         "CASE WHEN g.id_kind <> 'malformed' THEN null WHEN g.gen_id =~ $astral THEN g.gen_id END AS i "
         "RETURN s, k, n, i, count(*) AS c")
