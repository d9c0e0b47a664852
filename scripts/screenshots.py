#!/usr/bin/env python3
"""Check the Neo4j Browser guide end to end and take the README's screenshots.

Needs a running ephemeral Neo4j (it logs in to Browser as neo4j with the password neo4j.sh
wrote into the server's home) with the example store loaded, Playwright
(`pip install playwright`) and a Chromium:

    LINEAGE_NEO4J_BOLT_PORT=7690 LINEAGE_NEO4J_HTTP_PORT=7476 neo4j/neo4j.sh start --ephemeral --wait
    NEO4J_URI=bolt://127.0.0.1:7690 .venv/bin/lineage load examples/data   # reads that password too
    python3 scripts/screenshots.py --bolt-port 7690 --http-port 7476 --chromium /usr/bin/chromium

It starts `lineage neo4j browse` on a free port, opens Browser, opens the guide (`:guide`), runs its two
parameter blocks, loads the style, runs the `descendants` block and checks its result table,
then draws a lineage graph. Writes docs/img/browser-guide.png and docs/img/browser-lineage.png.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# A draft with its essays and evaluations, and an essay whose draft does not exist (Missing).
LINEAGE_VIEW = """MATCH (d:Lineage {root: $root})
WHERE d.gen_id IN ['d_5e5vauyc0pcre6gn', 'd_1xyiizpzepic2nc6']
MATCH p = (:Generation {root: $root})-[:DERIVED_FROM*0..]->(d)
RETURN p"""


def run_in_editor(page: Page, text: str | None = None) -> None:
    """Type `text` into the main editor (or keep what a guide block put there) and run it."""
    editor = page.locator("#monaco-main-editor, .monaco-editor").first
    editor.click()
    if text is not None:
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(text)
    page.keyboard.press("Control+Enter")


def ephemeral_password(bolt_port: int) -> str:
    from lineage.neo4j import server as neo4j_server

    password = neo4j_server.ephemeral_password(f"bolt://127.0.0.1:{bolt_port}")
    if password is None:
        raise SystemExit(f"no ephemeral Neo4j of this user on Bolt port {bolt_port} "
                         "(neo4j/neo4j.sh start --ephemeral)")
    return password


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bolt-port", type=int, default=7687)
    ap.add_argument("--http-port", type=int, default=7474)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--data-root", default=str(REPO / "examples" / "data"))
    ap.add_argument("--out", default=str(REPO / "docs" / "img"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    browse = subprocess.Popen([str(REPO / ".venv" / "bin" / "lineage"), "neo4j", "browse", "--ephemeral",
                               "--data-root", args.data_root, "--port", "0",
                               "--bolt-port", str(args.bolt_port), "--http-port", str(args.http_port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = browse.stdout.readline().split(": ", 1)[1].strip()
        browse.stdout.readline()  # "Then paste into its editor:"
        guide, style = browse.stdout.readline().strip(), browse.stdout.readline().strip()
        print(f"browser: {url}\nguide:   {guide}\nstyle:   {style}")
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
            page.goto(url)
            # Browser's connect form (its own end-to-end tests use these test ids).
            page.locator("[data-testid='username']").fill("neo4j")
            page.locator("[data-testid='password']").fill(ephemeral_password(args.bolt_port))
            page.locator("[data-testid='connect']").click()
            page.wait_for_selector("text=Connected to Neo4j", timeout=60_000)

            run_in_editor(page, guide)
            # `:guide` opens the guide in the sidebar; its code blocks are the page's only pre.runnable.
            page.locator(".slide h1", has_text="Lineage queries").wait_for(timeout=30_000)
            blocks = page.locator(".slide pre.runnable")
            for i in range(2):  # :param root, :param gen_id
                blocks.nth(i).click()
                run_in_editor(page)
                page.wait_for_timeout(800)
            run_in_editor(page, ":params")
            page.wait_for_timeout(1000)
            shown = page.locator("article").first.inner_text()
            assert args.data_root.rstrip("/") in shown and "gen_id" in shown, f"the :param blocks did not run: {shown!r}"

            run_in_editor(page, style)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(out / "browser-guide.png"))

            # Walk to the `descendants` slide and run its query block.
            for _ in range(40):
                if page.locator(".slide h1").first.inner_text().strip() == "descendants":
                    break
                page.get_by_role("button", name="Next").click()
                page.wait_for_timeout(300)
            else:
                raise AssertionError("no descendants slide")
            blocks.last.click()
            run_in_editor(page)
            result = page.locator("article", has=page.locator("text=descendant_id")).first
            result.wait_for(timeout=30_000)
            text = result.inner_text()
            assert re.search(r"[ev]_[0-9a-z]{16}", text), "the descendants query returned no rows"
            print("descendants block ran: result frame shows", len(re.findall(r"[ev]_[0-9a-z]{16}", text)), "IDs")

            # A lineage graph, styled by lineage.grass, with the guide sidebar closed.
            page.locator("[data-testid='navigationGuides']").click()
            run_in_editor(page, LINEAGE_VIEW)
            frame = page.locator("article", has=page.locator("svg g.node")).first
            frame.wait_for(timeout=30_000)
            page.wait_for_timeout(3000)  # let the force layout settle
            frame.locator("[title='Collapse the node properties display']").click()
            frame.locator("[aria-label='zoom-to-fit']").click()
            page.wait_for_timeout(1500)
            frame.screenshot(path=str(out / "browser-lineage.png"))
            chromium.close()
    finally:
        browse.terminate()
        browse.wait(timeout=10)
    for name in ("browser-guide.png", "browser-lineage.png"):
        print(f"wrote {out / name} ({(out / name).stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
