"""Neo4j Browser helpers: a Markdown guide of the canned queries, a GraSS style, and a tiny server.

In Neo4j Browser 5, `:guide <url>` shows a Markdown guide in the sidebar as slides split on
`---`, with every ```` ```cypher ```` block click-to-run (`:play <url>` shows the same slides in
a frame, but styled for the dark sidebar: pale text on a pale frame); `:style <url>` loads a
GraSS stylesheet. Browser fetches both from the page, so the host must be in the server's
`browser.remote_content_hostname_whitelist` (localhost is, by default) and must answer CORS
preflight requests: `GuideServer` does both on 127.0.0.1.

It answers Browser's own page only: CORS headers go to the Neo4j HTTP origin
(http://localhost:<http port> or http://127.0.0.1:<http port>), a request from any other
origin is refused (403), and so is one whose Host is not the loopback name and port the server
listens on (421), which a DNS-rebinding page would send.
"""

from __future__ import annotations

import html
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote, urlsplit

GUIDE_FILE = "guide.md"
STYLE_FILE = "lineage.grass"
DEFAULT_PORT = 7480
LOOPBACK_NAMES = ("localhost", "127.0.0.1")

PLACEHOLDER_ROOT = "/path/to/data"
PLACEHOLDER_DRAFT = "d_..."
PLACEHOLDER_LEAF = "v_..."


# --- examples -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Examples:
    """Parameter values for the guide: the data root as loaded, and two generation IDs."""

    root: str = PLACEHOLDER_ROOT
    gen_id: str = PLACEHOLDER_DRAFT  # a draft with descendants: descendants, rename_cascade
    leaf_id: str = PLACEHOLDER_LEAF  # one of its evaluations (or essays): ancestry
    found: bool = False


def examples_for(data_root: Optional[Path]) -> Examples:
    """Examples from a data root: its real path (what `lineage load` stores as `root`) and the
    draft with the most descendants, plus its deepest descendant. Placeholders without a root."""
    if data_root is None:
        return Examples()
    from lineage.loaders.store import StoreError, scan

    try:
        store = scan(str(data_root))
    except StoreError:
        return Examples(root=os.path.realpath(data_root))
    from lineage.loaders.lineage_graph import LineageGraph

    g = LineageGraph(store)  # parents found by the one rule; a loop is cut where it closes
    loops = g.loops
    drafts = [x for x in store.generations if x.stage == "draft"]

    def family(top: str) -> list[tuple[int, str, str]]:
        """(depth, stage, gen_id) of every descendant, depth first with children by ID: a
        stack, not recursion, so a chain thousands of generations deep is no problem."""
        rows, stack = [], [(top, 0)]
        while stack:
            key, depth = stack.pop()
            if depth:
                rows.append((depth, g.nodes[key]["stage"], g.nodes[key]["gen_id"]))
            kids = sorted((c for c in g.children(key) if c not in loops), key=lambda c: g.nodes[c]["gen_id"])
            stack += [(c, depth + 1) for c in reversed(kids)]
        return rows

    best = None
    for draft in sorted(drafts, key=lambda d: d.gen_id):
        rows = family(draft.key)
        if rows and (best is None or len(rows) > len(best[1])):
            best = (draft.gen_id, rows)
    if best is None:
        return Examples(root=store.root)
    leaf = max(best[1], key=lambda r: r[0])[2]
    return Examples(root=store.root, gen_id=best[0], leaf_id=leaf, found=True)


# --- the guide ------------------------------------------------------------------------------

# Characters an example value keeps as they are in the guide; every other one is written as
# a Cypher \uXXXX escape (UTF-16 code units, so a surrogate pair for the rest). Example values
# come from the store (folder names, the data root's path): written this way no newline,
# backtick or quote of theirs can end the literal, the code block or the slide, so a crafted
# ID cannot add a click-to-run block to the guide.
_CYPHER_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@+,=~ ")


def cypher_string(value: str) -> str:
    """A Cypher string literal (single quotes) for `:param name => '...'`, in a small safe set
    of characters.

    Quote and backslash are written \\' and \\\\, never as \\u0027 or \\u005c: Cypher reads
    \\u escapes before it reads the string (as Java does), so those would end the literal."""
    out = []
    for ch in value:
        if ch in _CYPHER_SAFE:
            out.append(ch)
        elif ch == "'" or ch == "\\":
            out.append("\\" + ch)
        else:
            units = ch.encode("utf-16-be")
            out += [f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2)]
    return "'" + "".join(out) + "'"


def _param_block(name: str, value) -> str:
    literal = cypher_string(value) if isinstance(value, str) else repr(value)
    return f"```cypher\n:param {name} => {literal}\n```\n"


def _block(text: str) -> str:
    return f"```cypher\n{text.rstrip()}\n```\n"


GRAPH_VIEWS = [
    ("A draft and everything derived from it",
     "MATCH p = (:Generation {root: $root})-[:DERIVED_FROM*0..]->(:Lineage {root: $root, gen_id: $gen_id})\n"
     "RETURN p"),
    ("Generations whose parent does not exist (red: Missing)",
     "MATCH p = (:Generation {root: $root})-[:DERIVED_FROM*1..2]->(:Missing {root: $root})\n"
     "RETURN p"),
    ("Cohorts and the members they name but that do not exist",
     "MATCH p = (:Cohort {root: $root})-[:INCLUDES]->(:Missing {root: $root})\n"
     "RETURN p"),
    ("What a generation's ID is mentioned by (cohorts, files)",
     "MATCH (g:Lineage {root: $root, gen_id: $gen_id})\n"
     "MATCH p = (g)<-[:INCLUDES|REFERENCES]-()\n"
     "RETURN p"),
]


def guide(ex: Examples, queries: Optional[dict] = None, style_url: str = "http://localhost:PORT/" + STYLE_FILE) -> str:
    """The Markdown guide: a slide to set the parameters, graph views, then one slide per query."""
    if queries is None:
        from lineage.queries.catalog import QUERIES as queries
    slides = []
    intro = [
        "# Lineage queries\n",
        "The canned queries of `lineage`, one per slide: click a block to put it in the editor, "
        "then run it (Ctrl+Enter). Every query is limited to one data root, `$root`, as `lineage load` stored it.\n",
        "Set the parameters first (run both blocks):\n",
        _param_block("root", ex.root),
        _param_block("gen_id", ex.gen_id),
    ]
    if not ex.found:
        intro.append("These are placeholders: list the loaded roots below, or start "
                     "`lineage neo4j browse --data-root DIR` to fill them in.\n")
    intro += ["Data roots loaded into this database:\n",
              _block("MATCH (l:LoadRun)\nRETURN l.root AS root, l.status AS status, l.nodes AS nodes, "
                     "l.relationships AS relationships, l.finished AS finished"),
              "Drafts with descendants, to pick another `$gen_id`:\n",
              _block("MATCH (d:Draft {root: $root})<-[:DERIVED_FROM*1..]-(x)\n"
                     "RETURN d.gen_id AS gen_id, count(DISTINCT x) AS descendants\n"
                     "ORDER BY descendants DESC LIMIT 10"),
              f"Colours: load the style with `:style {style_url}` "
              "(drafts blue, essays green, evaluations yellow, missing generations red; a generation a check "
              "of one generation or of its parent link may report, label Unusual, orange).\n",
              "Queries: " + ", ".join(f"`{name}`" for name in queries) + ".\n"]
    slides.append("\n".join(intro))

    views = ["# Lineage as a graph\n",
             "Graph views (not in the catalog) to look at the lineage itself.\n"]
    for title, text in GRAPH_VIEWS:
        views += [f"**{title}**\n", _block(text)]
    slides.append("\n".join(views))

    for name, q in queries.items():
        params = ["$root", *(f"${p}" for p in q.params), *(f"${k}" for k, _ in q.fixed)]
        parts = [f"# `{name}`\n", f"Finds {q.summary}.\n", "Parameters: " + ", ".join(params) + ".\n"]
        for key, value in q.fixed:
            parts += [f"`${key}` is fixed for this query; set it first:\n", _param_block(key, value)]
        if "gen_id" in q.params:
            example = ex.leaf_id if name == "ancestry" else ex.gen_id
            kind = "an evaluation (ancestry walks up to the draft)" if name == "ancestry" else "a draft"
            parts += [f"Example `$gen_id`, {kind}:\n", _param_block("gen_id", example)]
        parts += [_block(q.cypher),
                  f"Same rows from the command line: `lineage query {name}"
                  + "".join(f" --param {p}=..." for p in q.params) + " --backend neo4j --data-root DIR`\n"]
        slides.append("\n".join(parts))
    return "\n---\n\n".join(slides)


# --- the style ------------------------------------------------------------------------------

# label -> (fill, border, text colour, diameter, caption). Later rules win in Browser, so the
# generic labels come first and the stage labels after them.
NODE_STYLES = {
    "Lineage": ("#A5ABB6", "#9AA1AC", "#2A2C34", "50px", "{gen_id}"),
    "Generation": ("#A5ABB6", "#9AA1AC", "#2A2C34", "50px", "{gen_id}"),
    "Draft": ("#4C8EDA", "#2870C2", "#FFFFFF", "55px", "{gen_id}"),
    "Essay": ("#57C785", "#3BA567", "#FFFFFF", "50px", "{gen_id}"),
    "Evaluation": ("#FFC454", "#D9A22E", "#2A2C34", "45px", "{gen_id}"),
    "Missing": ("#E0312E", "#9E1B19", "#FFFFFF", "55px", "{gen_id}"),
    "Cohort": ("#8E63C7", "#6C45A3", "#FFFFFF", "65px", "{cohort_id}"),
    "Artifact": ("#D8D8D8", "#8D8F94", "#2A2C34", "45px", "{path}"),
    "Problem": ("#8B4A2B", "#5E2F19", "#FFFFFF", "45px", "{check}"),
    # After the stage labels: a generation a one-generation check may report stands out in any stage.
    "Unusual": ("#F79767", "#E07A4C", "#2A2C34", "50px", "{gen_id}"),
    "LoadRun": ("#F3E3C3", "#C9B48A", "#2A2C34", "60px", "{status}"),
}
REL_STYLES = {
    "DERIVED_FROM": "#4C8EDA",
    "INCLUDES": "#8E63C7",
    "REFERENCES": "#8D8F94",
}


def grass() -> str:
    """The GraSS stylesheet: a colour per stage, Missing red, captions = gen_id (cohort_id, path)."""
    lines = ["node {", "  diameter: 50px;", "  color: #A5ABB6;", "  border-color: #9AA1AC;",
             "  border-width: 2px;", "  text-color-internal: #FFFFFF;", "  font-size: 10px;", "}", "",
             "relationship {", "  color: #A5ABB6;", "  shaft-width: 2px;", "  font-size: 8px;", "  padding: 3px;",
             "  text-color-external: #000000;", "  text-color-internal: #FFFFFF;", '  caption: "<type>";', "}", ""]
    for label, (fill, border, text, diameter, caption) in NODE_STYLES.items():
        lines += [f"node.{label} {{", f"  color: {fill};", f"  border-color: {border};",
                  f"  text-color-internal: {text};", f"  diameter: {diameter};", f'  caption: "{caption}";', "}", ""]
    for rel, colour in REL_STYLES.items():
        lines += [f"relationship.{rel} {{", f"  color: {colour};", "  shaft-width: 2px;",
                  '  caption: "<type>";', "}", ""]
    return "\n".join(lines)


# --- URLs -----------------------------------------------------------------------------------

def browser_url(http_port: int, bolt_port: int, no_auth: bool, host: str = "localhost") -> str:
    """Neo4j Browser on the server, connecting to its Bolt port at once."""
    url = f"http://{host}:{http_port}/browser/?dbms=bolt://{host}:{bolt_port}"
    return url + ("&preselectAuthMethod=NO_AUTH" if no_auth else "")


def browser_commands(port: int, host: str = "localhost") -> list[str]:
    """What to paste into Browser's editor: the guide (in the sidebar) and the style."""
    return [f":guide http://{host}:{port}/{GUIDE_FILE}", f":style http://{host}:{port}/{STYLE_FILE}"]


# --- the server -----------------------------------------------------------------------------

def _index(port: int) -> str:
    items = "".join(f"<li><code>{html.escape(c)}</code></li>" for c in browser_commands(port))
    return (f"<!doctype html><meta charset='utf-8'><title>lineage: Neo4j Browser guide</title>"
            f"<h1>lineage: Neo4j Browser guide and style</h1><p>Paste into Neo4j Browser:</p><ul>{items}</ul>"
            f"<p>Files: <a href='/{GUIDE_FILE}'>{GUIDE_FILE}</a>, <a href='/{STYLE_FILE}'>{STYLE_FILE}</a></p>")


def browser_origins(http_port: int) -> frozenset[str]:
    """The origins of Neo4j Browser's page on the server's HTTP port: the only pages the guide
    server answers."""
    return frozenset(f"http://{name}:{http_port}" for name in LOOPBACK_NAMES)


class _Handler(BaseHTTPRequestHandler):
    server_version = "lineage-guide"
    files: dict[str, tuple[bytes, str]] = {}
    log: Optional[Callable[[str], None]] = None
    origins: frozenset[str] = frozenset()

    def _refused(self) -> bool:
        """Refuse (and answer) a request that is not for this server on the loopback, or that
        comes from a page other than Browser's. A request without Origin (curl, a link opened
        in a tab) is served, without CORS headers."""
        port = self.server.server_address[1]
        if self.headers.get("Host") not in {f"{name}:{port}" for name in LOOPBACK_NAMES}:
            self._plain(421, b"misdirected request: this server answers only localhost and 127.0.0.1\n")
            return True
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            self._plain(403, b"forbidden: only Neo4j Browser's page may read this\n")
            return True
        return False

    def _plain(self, code: int, message: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(message)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(message)

    def _cors(self) -> None:
        origin = self.headers.get("Origin")
        if origin is None:
            return
        self.send_header("Access-Control-Allow-Origin", origin)  # one of self.origins
        self.send_header("Vary", "Origin")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        # Browser sends cache-control and pragma; allow whatever the preflight asks for.
        self.send_header("Access-Control-Allow-Headers",
                         self.headers.get("Access-Control-Request-Headers") or "*")
        self.send_header("Access-Control-Max-Age", "600")

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        if self._refused():
            return
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _answer(self, body: bool) -> None:
        if self._refused():
            return
        path = urlsplit(self.path).path.lstrip("/")
        if path == "":
            content, ctype = _index(self.server.server_address[1]).encode(), "text/html; charset=utf-8"
        elif path in self.files:
            content, ctype = self.files[path]
        else:
            content, ctype = b"not found\n", "text/plain; charset=utf-8"
        self.send_response(200 if path == "" or path in self.files else 404)
        self._cors()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(content)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.log:
            self.log(f"{self.address_string()} {format % args}")


class GuideServer:
    """Serves guide.md and lineage.grass on 127.0.0.1:port (port 0 picks a free one), with CORS
    for Neo4j Browser's page on `http_port` only."""

    def __init__(self, guide_md: str = "", style: str = "", port: int = DEFAULT_PORT,
                 log: Optional[Callable[[str], None]] = None, http_port: int = 7474):
        self._handler = type("GuideHandler", (_Handler,), {"files": {}, "log": staticmethod(log) if log else None,
                                                            "origins": browser_origins(http_port)})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self.httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None
        self.publish(guide_md, style)

    def publish(self, guide_md: str, style: str) -> None:
        """Replace what is served (the port is known only once the socket is bound)."""
        self._handler.files = {GUIDE_FILE: (guide_md.encode("utf-8"), "text/markdown; charset=utf-8"),
                               STYLE_FILE: (style.encode("utf-8"), "text/plain; charset=utf-8")}

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, name: str = "", host: str = "localhost") -> str:
        return f"http://{host}:{self.port}/{quote(name)}"

    def start(self) -> "GuideServer":
        """Serve in a background thread (for tests and scripts)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="lineage-guide", daemon=True)
        self._thread.start()
        return self

    def serve_until_interrupted(self) -> None:
        """Serve in the foreground until Ctrl-C."""
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        if self._thread:  # shutdown() waits for serve_forever, so only when it runs
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> "GuideServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def make_server(data_root: Optional[Path] = None, port: int = DEFAULT_PORT,
                log: Optional[Callable[[str], None]] = None, http_port: int = 7474) -> tuple[GuideServer, Examples]:
    """The guide for `data_root` (placeholders without one) and the style, ready to serve."""
    from lineage.core.status import UsageError

    if data_root is not None and not Path(data_root).is_dir():
        raise UsageError(f"data root {data_root} is not a folder")
    ex = examples_for(data_root)
    try:
        server = GuideServer(port=port, log=log, http_port=http_port)
    except OSError as exc:
        raise UsageError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc} (choose another --port)") from None
    server.publish(guide(ex, style_url=server.url(STYLE_FILE)), grass())
    return server, ex
