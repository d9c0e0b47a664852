"""Neo4j Browser guide and style, the guide server, `lineage neo4j status`, docker-compose.yml.

None of this needs Docker. The one test that runs the guide's Cypher needs a server from
NEO4J_URI (skipped without it, failed instead with LINEAGE_REQUIRE_NEO4J=1).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.neo4j import browser
from lineage.neo4j import server as neo4j_server
from lineage.cli import app
from lineage.loaders.neo4j_shape import NODE_LABELS, REL_TYPES
from lineage.queries.catalog import QUERIES

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "data"
BLOCK = re.compile(r"```cypher\n(.*?)\n```", re.S)


@pytest.fixture(scope="module")
def examples():
    return browser.examples_for(EXAMPLES)


@pytest.fixture(scope="module")
def guide_md(examples):
    return browser.guide(examples)


def _slides(md: str) -> list[str]:
    return md.split("\n---\n")


def test_guide_has_a_block_equal_to_every_query(guide_md):
    blocks = BLOCK.findall(guide_md)
    for name, q in QUERIES.items():
        assert q.cypher.strip() in [b.strip() for b in blocks], f"no cypher block for {name}"
        slide = next(s for s in _slides(guide_md) if s.lstrip().startswith(f"# `{name}`"))
        assert q.summary in slide
        for param in ("root", *q.params, *(k for k, _ in q.fixed)):
            assert f"${param}" in slide, f"{name}: ${param} not named"
        for key, value in q.fixed:
            assert f":param {key} => '{value}'" in slide


def test_first_slide_sets_root_and_gen_id(guide_md, examples):
    first = _slides(guide_md)[0]
    assert examples.found and examples.root == os.path.realpath(EXAMPLES)
    assert f"```cypher\n:param root => '{examples.root}'\n```" in first
    assert re.search(r"```cypher\n:param gen_id => 'd_[0-9a-z]+'\n```", first)
    assert len(_slides(guide_md)) == len(QUERIES) + 2  # intro, graph views, one per query


def test_guide_without_data_root_uses_placeholders():
    md = browser.guide(browser.examples_for(None))
    assert f":param root => '{browser.PLACEHOLDER_ROOT}'" in md
    assert "placeholders" in _slides(md)[0]


def test_examples_survive_an_id_shared_across_stages(tmp_path):
    """An evaluation named like the essay it derives from must not send the example walk in
    circles (it used to link parents by ID alone and recurse without end)."""
    gens = tmp_path / "gens"
    for stage, gen_id, meta in [("draft", "d_1", {}), ("essay", "e_b", {"parent_gen_id": "d_1"}),
                                ("evaluation", "e_b", {"parent_gen_id": "e_b"})]:
        (gens / stage / gen_id).mkdir(parents=True)
        (gens / stage / gen_id / "metadata.json").write_text(json.dumps({"stage": stage, "gen_id": gen_id, **meta}))
    ex = browser.examples_for(tmp_path)
    assert (ex.found, ex.gen_id, ex.leaf_id) == (True, "d_1", "e_b")


def test_cypher_string_escapes_quotes_and_backslashes():
    assert browser.cypher_string("it's a\\b") == "'it\\'s a\\\\b'"


INJECTED = "d_x\n```\n\n```cypher\nMATCH (n) DETACH DELETE n\n```"


def _decoded(literal: str) -> str:
    """The value of a Cypher string literal as cypher_string writes it (\\', \\\\, \\uXXXX)."""
    assert literal[0] == literal[-1] == "'"
    text = codecs.decode(literal[1:-1], "unicode_escape")  # the literal is ASCII
    return text.encode("utf-16", "surrogatepass").decode("utf-16")


def test_an_id_cannot_add_a_block_to_the_guide(tmp_path):
    """A draft whose folder name holds a newline and a fenced block becomes the guide's example:
    its literal must stay on its line, so the guide has exactly the blocks of a plain one and
    no click-to-run DETACH DELETE."""
    leaf = "e_`y`\u202e'\\\U0001F600"
    for stage, gen_id, meta in [("draft", INJECTED, {}), ("essay", leaf, {"parent_gen_id": INJECTED})]:
        (tmp_path / "gens" / stage / gen_id).mkdir(parents=True)
        (tmp_path / "gens" / stage / gen_id / "metadata.json").write_text(
            json.dumps({"stage": stage, "gen_id": gen_id, **meta}))
    ex = browser.examples_for(tmp_path)
    assert (ex.found, ex.gen_id, ex.leaf_id) == (True, INJECTED, leaf)
    md = browser.guide(ex)
    plain = browser.guide(browser.Examples(root=ex.root, gen_id="d_1", leaf_id="e_1", found=True))

    def blocks(text):
        return [re.sub(r"^(:param \w+ => )'.*'$", r"\1''", b) for b in BLOCK.findall(text)]

    assert blocks(md) == blocks(plain)
    assert [line for line in md.splitlines() if "DETACH" in line and not line.startswith(":param ")] == []
    fences = [line for line in md.splitlines() if line.startswith("```")]
    assert fences == ["```cypher", "```"] * (len(fences) // 2)
    assert len(_slides(md)) == len(_slides(plain))
    values = [_decoded(m) for m in re.findall(r"^:param gen_id => ('.*')$", md, re.M)]
    assert set(values) == {INJECTED, leaf}


def test_grass_styles_every_label_and_relationship():
    style = browser.grass()
    labels = {label for group in NODE_LABELS for label in group} | {"Lineage", "LoadRun"}
    for label in labels:
        assert re.search(rf"node\.{label} \{{[^}}]*color: #[0-9A-F]{{6}};[^}}]*caption: \"{{", style), label
    for rel in REL_TYPES:
        assert f"relationship.{rel} {{" in style
    colours = {label: re.search(rf"node\.{label} \{{\s*color: (#[0-9A-F]{{6}})", style).group(1)
               for label in ("Draft", "Essay", "Evaluation", "Missing", "Cohort", "Artifact", "Problem")}
    assert len(set(colours.values())) == len(colours), colours
    assert colours["Missing"] == "#E0312E"
    assert 'node.Cohort {' in style and 'caption: "{cohort_id}"' in style
    assert re.search(r'node\.Artifact \{[^}]*caption: "\{path\}"', style)
    assert re.search(r'node\.Draft \{[^}]*caption: "\{gen_id\}"', style)


def test_browser_url_and_commands():
    assert browser.browser_url(7474, 7687, True) == \
        "http://localhost:7474/browser/?dbms=bolt://localhost:7687&preselectAuthMethod=NO_AUTH"
    assert browser.browser_url(7474, 7687, False) == "http://localhost:7474/browser/?dbms=bolt://localhost:7687"
    assert browser.browser_commands(7480) == [":guide http://localhost:7480/guide.md",
                                              ":style http://localhost:7480/lineage.grass"]


def _request(url: str, method: str = "GET", headers: dict | None = None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_server_answers_get_and_options_with_cors(guide_md):
    with browser.GuideServer(guide_md, browser.grass(), port=0) as server:
        status, headers, body = _request(server.url(browser.GUIDE_FILE, host="127.0.0.1"),
                                         headers={"Origin": "http://localhost:7474"})
        assert status == 200 and body.decode() == guide_md
        assert headers["Access-Control-Allow-Origin"] == "http://localhost:7474"
        assert headers["Content-Type"].startswith("text/markdown")

        status, headers, body = _request(server.url(browser.STYLE_FILE, host="127.0.0.1"),
                                         headers={"Origin": "http://127.0.0.1:7474"})
        assert status == 200 and body.decode() == browser.grass()
        assert headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:7474"

        # Browser's preflight: it sends cache-control and pragma headers.
        status, headers, body = _request(server.url(browser.GUIDE_FILE, host="127.0.0.1"), "OPTIONS",
                                         {"Origin": "http://localhost:7474",
                                          "Access-Control-Request-Method": "GET",
                                          "Access-Control-Request-Headers": "cache-control,pragma"})
        assert status == 204 and body == b""
        assert headers["Access-Control-Allow-Origin"] == "http://localhost:7474"
        assert "GET" in headers["Access-Control-Allow-Methods"]
        assert "cache-control" in headers["Access-Control-Allow-Headers"]

        status, headers, _ = _request(server.url("nothing.md", host="127.0.0.1"),
                                      headers={"Origin": "http://localhost:7474"})
        assert status == 404 and headers["Access-Control-Allow-Origin"] == "http://localhost:7474"


def test_server_answers_only_browsers_page_on_the_loopback(guide_md):
    """Any web page could read the guide (ACAO *, and a private-network grant), and a
    DNS-rebinding page could reach it under its own name: only Browser's origin on the Neo4j
    HTTP port gets CORS headers, other origins get 403, other Host names 421."""
    with browser.GuideServer(guide_md, browser.grass(), port=0, http_port=7999) as server:
        assert server.httpd.server_address[0] == "127.0.0.1"
        url = server.url(browser.GUIDE_FILE, host="127.0.0.1")
        for origin in ("http://evil.example", "http://localhost:7474", "http://localhost:7999.evil.example",
                       "null", "https://localhost:7999"):
            for method in ("GET", "OPTIONS"):
                status, headers, body = _request(url, method, {
                    "Origin": origin, "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Private-Network": "true"})
                assert status == 403, (origin, method)
                assert "Access-Control-Allow-Origin" not in headers
                assert "Access-Control-Allow-Private-Network" not in headers
                assert guide_md.encode() not in body
        for host in ("evil.example", f"evil.example:{server.port}", f"localhost:{server.port + 1}", "127.0.0.2"):
            status, _, body = _request(url, headers={"Host": host})
            assert status == 421, host
            assert guide_md.encode() not in body
        for origin in ("http://localhost:7999", "http://127.0.0.1:7999"):
            status, headers, body = _request(server.url(browser.GUIDE_FILE), headers={"Origin": origin})
            assert status == 200 and body.decode() == guide_md
            assert headers["Access-Control-Allow-Origin"] == origin
        status, headers, body = _request(url)  # no Origin: curl, or the file opened in a tab
        assert status == 200 and body.decode() == guide_md
        assert "Access-Control-Allow-Origin" not in headers


def test_make_server_refuses_a_busy_port():
    with browser.GuideServer("", "", port=0) as busy:
        with pytest.raises(Exception, match="cannot serve on 127.0.0.1"):
            browser.make_server(None, busy.port)


def test_script_is_found():
    assert neo4j_server.script_path().name == "neo4j.sh"


def test_status_exit_codes_with_a_nonexistent_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LINEAGE_NEO4J_HOME", str(tmp_path / "no" / "such" / "home"))
    monkeypatch.setenv("LINEAGE_NEO4J_EPHEMERAL_HOME", str(tmp_path / "no" / "ephemeral"))
    runner = CliRunner()
    result = runner.invoke(app, ["neo4j", "status"])
    assert result.exit_code == neo4j_server.NOT_RUNNING, result.output
    assert "not running" in result.output
    result = runner.invoke(app, ["neo4j", "status", "--ephemeral", "--bolt-port", "1"])
    assert result.exit_code == neo4j_server.NOT_RUNNING, result.output
    # stop of an instance that is not running is not an error
    assert runner.invoke(app, ["neo4j", "stop"]).exit_code == 0


def test_start_without_password_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LINEAGE_NEO4J_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    result = CliRunner().invoke(app, ["neo4j", "start"])
    assert result.exit_code == 2
    assert "NEO4J_PASSWORD is not set" in result.output
    monkeypatch.setenv("NEO4J_PASSWORD", "short")
    result = CliRunner().invoke(app, ["neo4j", "start"])
    assert result.exit_code == 2 and "too short" in result.output and "short'" not in result.output
    assert not (tmp_path / "home").exists()


def test_compose_file_key_facts():
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml:
        service = yaml.safe_load(text)["services"]["neo4j"]
        env, ports, health = service["environment"], service["ports"], service["healthcheck"]["test"]
        assert service["image"] == "neo4j:5.26-community"
        assert {v.split(":", 1)[1] for v in service["volumes"]} == {"/data", "/logs", "/import", "/plugins"}
    else:
        env = dict(re.findall(r"^\s+(NEO4J_\w+): \"([^\"]*)\"", text, re.M))
        ports = re.findall(r"^\s+- \"([\d.:]+)\"", text, re.M)
        health = text
        assert "image: neo4j:5.26-community" in text
        for volume in ("/data", "/logs", "/import", "/plugins"):
            assert f":{volume}\n" in text
    assert env["NEO4J_AUTH"].startswith("neo4j/${NEO4J_PASSWORD:?")  # no default password
    assert not re.search(r"NEO4J_AUTH:\s*\"?neo4j/[^$]", text)
    assert "NEO4J_PLUGINS" in env and "NEO4J_server_memory_pagecache_size" in env
    assert sorted(ports) == ["127.0.0.1:7474:7474", "127.0.0.1:7687:7687"]
    assert "wget --no-verbose --tries=1 --spider localhost:7474 || exit 1" in str(health)


def test_guide_queries_run_on_neo4j(guide_md, examples):
    """Every block of the guide parses and runs on a real server with the examples loaded."""
    if not os.environ.get("NEO4J_URI"):
        if os.environ.get("LINEAGE_REQUIRE_NEO4J") == "1":
            pytest.fail("Neo4j is required (LINEAGE_REQUIRE_NEO4J=1) but NEO4J_URI is not set")
        pytest.skip("NEO4J_URI is not set")
    from lineage.loaders.neo4j_graph import Connection
    from lineage.loaders.neo4j_load import load
    from lineage.loaders.store import scan

    conn = Connection.from_env()
    load(conn, scan(str(EXAMPLES)))
    driver = conn.driver()
    try:
        for slide in _slides(guide_md):
            params = {"root": examples.root, "gen_id": examples.gen_id}
            for block in BLOCK.findall(slide):
                match = re.fullmatch(r":param (\w+) => '(.*)'", block.strip())
                if match:
                    params[match.group(1)] = match.group(2)
                    continue
                driver.execute_query(block, params, database_=conn.database)
    finally:
        driver.close()


def test_cypher_string_round_trips_on_neo4j():
    """Every literal cypher_string writes reads back as the exact value on a real server,
    including the escapes Cypher reads before the string (\\u0027 would end the literal)."""
    if not os.environ.get("NEO4J_URI"):
        if os.environ.get("LINEAGE_REQUIRE_NEO4J") == "1":
            pytest.fail("Neo4j is required (LINEAGE_REQUIRE_NEO4J=1) but NEO4J_URI is not set")
        pytest.skip("NEO4J_URI is not set")
    from lineage.loaders.neo4j_graph import Connection

    values = [INJECTED, "it's", "a\\b", "\\u0027", "\\\\u0027", "\\'", "x\\", "\x00\x1b\u202e\U0001F600",
              '"$x{y}`', "\r\n```\n", *(chr(c) for c in range(0x80))]
    conn = Connection.from_env()
    driver = conn.driver()
    try:
        for value in values:
            records, _, _ = driver.execute_query(f"RETURN {browser.cypher_string(value)} AS v",
                                                 database_=conn.database)
            assert records[0]["v"] == value, repr(value)
    finally:
        driver.close()
