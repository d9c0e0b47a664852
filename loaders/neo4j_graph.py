"""The Neo4j backend: the connection to a server, and the catalog's Cypher run on a root's graph
there (neo4j_load writes it).

The graph is the one loaders.graph_model builds for networkx too. Every node carries the data
root it came from (`root`) and a unique `uid`, so several roots can share a database. A
`LoadRun` node per root says whether its last load completed; queries refuse a graph whose
load did not.

Cypher text is constant; data travels only as parameters.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lineage.core.status import LineageError, UsageError
from lineage.loaders.neo4j_shape import GRAPH_VERSION

DEFAULT_URI = "bolt://localhost:7687"


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


def failure(exc: Exception, conn: "Connection") -> str:
    """Why a call to the server failed, in one line: a server error as neo4j_error says it, a
    driver or socket error by its type."""
    if isinstance(exc, driver_module().exceptions.Neo4jError):
        return neo4j_error(exc, conn)
    return f"{type(exc).__name__}: {_short(exc)}"


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
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            raise LineageError(f"Neo4j query failed: {failure(exc, self.conn)}") from None

    def _collected(self, session, query: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The query's rows gathered by the server into one record, or None to read them one by
        one: when the server refused with a transient error or a memory limit (the rows and
        their list at once), or the connection went (the streamed read retries). The driver
        reads each record with two socket reads and a Python dispatch: the 97,000 rows of
        id.legacy at a million took this process a second of CPU one by one, 0.1 s in one."""
        neo4j = driver_module()
        keys = self._keys.get(query)
        if keys is None:  # the query's columns: read from its RETURN, else from its plan
            keys = self._keys[query] = return_columns(query) or tuple(session.run("EXPLAIN " + query, params).keys())
        columns = ", ".join("`" + k.replace("`", "``") + "`" for k in keys)
        try:
            # Auto-commit, not a retried transaction: a memory error is transient, and streaming
            # may succeed where collecting cannot.
            record = session.run(f"CALL () {{\n{query}\n}} RETURN collect([{columns}]) AS rows", params).single()
        except neo4j.exceptions.Neo4jError as exc:
            if cannot_collect(exc):
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


def return_columns(query: str) -> tuple[str, ...] | None:
    """The column names of a query's last top-level RETURN, or None when an item is neither
    `expression AS name` nor a bare name (`*`, `n.prop`, a quoted alias): then the server is
    asked.

    They name the columns of the collected read. Asking the server (EXPLAIN) plans the query
    once more than running it does: half the planning of a first audit, about a second at
    100,000 generations. A test compares these names with the server's for every check."""
    top = _top_level(query)
    returns = [m.end() for m in re.finditer(r"(?<![.\w])RETURN\b", top, re.I)]
    if not returns:
        return None
    clause = re.split(r"\b(?:ORDER\s+BY|SKIP|LIMIT)\b", top[returns[-1]:], maxsplit=1, flags=re.I)[0]
    names = []
    for item in clause.split(","):
        m = re.fullmatch(r"\s*(?:DISTINCT\s+)?(?:\S.*?\s+AS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*", item, re.S | re.I)
        if m is None:
            return None
        names.append(m.group(1))
    return tuple(names)


def _top_level(query: str) -> str:
    """The query with its comments blanked and what is inside quotes or brackets masked (`#`),
    the brackets kept: what is left readable is the text at its top level."""
    out, depth, quote, i, n = [], 0, "", 0, len(query)
    while i < n:
        ch = query[i]
        if quote:
            if ch == "\\":  # an escape: it and the character it escapes
                out.append("##")
                i += 2
                continue
            quote = "" if ch == quote else quote
            out.append("#")
        elif query.startswith("//", i) or query.startswith("/*", i):  # to the line's end, or to */
            end = query.find("\n", i) if query[i + 1] == "/" else query.find("*/", i + 2)
            end = n if end < 0 else end + (2 if query[i + 1] == "*" else 0)
            out.append(" " * (end - i))
            i = end
            continue
        elif ch in "'\"`":
            quote = ch
            out.append("#")
        elif ch in "([{":
            out.append(ch if depth == 0 else "#")
            depth += 1
        elif ch in ")]}":
            depth -= 1
            out.append(ch if depth == 0 else "#")
        else:
            out.append(ch if depth == 0 else "#")
        i += 1
    return "".join(out)


def cannot_collect(exc: Exception) -> bool:
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
