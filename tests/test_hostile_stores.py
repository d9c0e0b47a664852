"""Property-based: hostile stores never crash a command and never change under a read-only one.

Hypothesis writes data roots from hostile parts (odd and non-UTF-8 names, broken and huge-ish
metadata, symlinks out of the root, loops and dangling links, FIFOs, CSVs of every shape, long
parent chains) and runs every read-only command on each. Every command must end with exit 0,
1 or 2 and one line instead of a traceback, and the tree must be exactly as before: names,
types, modes, sizes, mtimes and bytes.

CI runs a bounded number of examples; `make fuzz` runs the long profile
(HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lineage.cli import app

settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=1500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("debug", max_examples=300, deadline=None, phases=[Phase.generate],
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

runner = CliRunner()
STAGES = ("draft", "essay", "evaluation")
PREFIX = {"draft": "d_", "essay": "e_", "evaluation": "v_"}

# --- the parts of a hostile store ---------------------------------------------------------------

# Names a folder can have: plain IDs, odd text (controls, escapes, quotes, spaces, non-ASCII) and
# bytes that are not UTF-8 (a name is bytes on Linux).
plain_ids = st.builds(lambda p, body: p + body, st.sampled_from(["d_", "e_", "v_", ""]),
                      st.text("0123456789abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=17))
odd_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                   min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
odd_bytes = st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                      and b not in (b".", b".."))
names = st.one_of(plain_ids, plain_ids, odd_text, odd_bytes)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(allow_nan=True),
                         st.text(max_size=20))


@st.composite
def metadata(draw, stage: str, gen_id, parents: list):
    """A metadata.json's bytes: mostly plausible objects with hostile values, sometimes not JSON,
    not UTF-8, an array, empty or large."""
    kind = draw(st.sampled_from(["object"] * 6 + ["array", "not_utf8", "not_json", "empty", "large"]))
    if kind == "array":
        return b"[1, 2, 3]"
    if kind == "not_utf8":
        return b'{"stage": "draft", "gen_id": "\xff\xfe"}'
    if kind == "not_json":
        return draw(st.binary(max_size=40))
    if kind == "empty":
        return b""
    if kind == "large":
        return b'{"stage": "draft", "pad": "' + b"x" * 300_000 + b'"}'
    gid = gen_id if isinstance(gen_id, str) else gen_id.decode("utf-8", "replace")
    meta = {"stage": draw(st.sampled_from([stage, stage, stage, "essay", "other", 3])), "gen_id": gid,
            "mode": draw(st.sampled_from(["llm", "llm", "copy", "LLM", None, 1])),
            "template_id": draw(st.one_of(st.sampled_from(["t1", "t2", ""]), json_scalars)),
            "combo_id": draw(st.sampled_from(["c1", "c2", None])),
            "llm_model_id": draw(st.sampled_from(["m1", "m2", "", None])),
            "replicate": draw(st.one_of(st.sampled_from([1, 2, "1", "x", -1, 0]), json_scalars))}
    if stage != "draft" or draw(st.booleans()):
        meta["parent_gen_id"] = draw(st.one_of(st.sampled_from(parents or ["d_none"]), odd_text,
                                               st.just("\x1b[2J\x1b]0;title\x07")))
    for extra in draw(st.lists(st.sampled_from(["cohort_id", "files", "legacy_fields", "combo_id"]), max_size=2)):
        meta[extra] = draw(json_scalars)
    return json.dumps({k: v for k, v in meta.items() if v is not None or draw(st.booleans())},
                      ensure_ascii=draw(st.booleans()), allow_nan=True).encode()


csv_cells = st.one_of(plain_ids, odd_text, st.just('"'), st.just('a,"b'), st.just("=1+2"), st.just(""),
                      st.just("gens/essay/e_x/raw.txt"))


@st.composite
def csv_bytes(draw):
    header = draw(st.lists(st.sampled_from(["stage", "gen_id", "parent_gen_id", "essay_gen_id", "score",
                                            "generation_response_path", '"gen_id"']), min_size=0, max_size=4))
    rows = draw(st.lists(st.lists(csv_cells, max_size=5), max_size=6))
    text = "\n".join([",".join(header)] + [",".join(r) for r in rows])
    raw = text.encode("utf-8")
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    if draw(st.integers(0, 9)) == 0:
        raw += b"\xff"
    return raw


@st.composite
def stores(draw):
    """A store as a list of entries: (kind, path parts, payload)."""
    entries = []
    ids_by_stage: dict[str, list] = {s: [] for s in STAGES}
    for stage in STAGES:
        for name in draw(st.lists(names, max_size=5, unique=True)):
            ids_by_stage[stage].append(name)
    parents = [n for n in ids_by_stage["draft"] + ids_by_stage["essay"] if isinstance(n, str)]
    for stage in STAGES:
        for name in ids_by_stage[stage]:
            folder = ("gens", stage, name)
            what = draw(st.sampled_from(["meta"] * 5 + ["nometa", "link_out", "fifo", "meta_link_out"]))
            if what == "meta":
                entries.append(("file", folder + ("metadata.json",), draw(metadata(stage, name, parents))))
                if draw(st.booleans()):
                    entries.append(("file", folder + ("raw.txt",), draw(st.binary(max_size=30))))
            elif what == "nometa":
                entries.append(("dir", folder, None))
            elif what == "link_out":
                entries.append(("link_out", folder, None))
            elif what == "fifo":
                entries.append(("dir", folder, None))
                entries.append(("fifo", folder + ("metadata.json",), None))
            else:
                entries.append(("dir", folder, None))
                entries.append(("link_out", folder + ("metadata.json",), None))
    # A long chain of essays, each naming the previous one.
    if draw(st.integers(0, 4)) == 0:
        n = draw(st.integers(50, 400))
        for i in range(n):
            gid = f"e_chain{i}"
            meta = {"stage": "essay", "gen_id": gid, "template_id": "t", "replicate": 1,
                    "parent_gen_id": f"e_chain{i - 1}" if i else "d_none"}
            entries.append(("file", ("gens", "essay", gid, "metadata.json"), json.dumps(meta).encode()))
    for cohort in draw(st.lists(names, max_size=2, unique=True)):
        entries.append(("file", ("cohorts", cohort, "membership.csv"), draw(csv_bytes())))
        if draw(st.booleans()):
            entries.append(("file", ("cohorts", cohort, "manifest.json"), draw(st.sampled_from(
                [b"{}", b"[]", b'{"combos": 3}', b'{"templates": {"draft": ["t1"]}}', b"\xff"]))))
    for csv_name in draw(st.lists(st.sampled_from(["a.csv", "b.CSV", "s p a c e.csv"]), max_size=2, unique=True)):
        entries.append(("file", (draw(st.sampled_from(["5_parsing", "6_summary", "x"])), csv_name), draw(csv_bytes())))
    if draw(st.booleans()):
        lines = draw(st.lists(st.one_of(plain_ids, odd_text, st.just("# mode: reuse-essays")), max_size=5))
        entries.append(("file", ("2_tasks", "selected_essays.txt"), "\n".join(lines).encode("utf-8", "surrogateescape")))
    extras = draw(st.lists(st.sampled_from(["loop", "dangling", "fifo_csv", "link_out_dir", "stage_link_out",
                                            "results"]), max_size=3, unique=True))
    entries += [(e, (), None) for e in extras]
    return entries


def _path(root: bytes, parts) -> bytes:
    return os.path.join(root, *[p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p for p in parts])


def write_store(root: Path, outside: Path, entries) -> None:
    broot = os.fsencode(root)
    os.makedirs(broot, exist_ok=True)
    for kind, parts, payload in entries:
        path = _path(broot, parts) if parts else b""
        if parts:
            os.makedirs(os.path.dirname(path) if kind != "dir" else path, exist_ok=True)
        if kind == "file":
            if os.path.isdir(path):
                continue
            with open(path, "wb") as fh:
                fh.write(payload)
        elif kind == "link_out":
            if not os.path.lexists(path):
                os.symlink(os.fsencode(outside), path)
        elif kind == "fifo":
            if not os.path.lexists(path):
                os.mkfifo(path)
        elif kind == "loop":
            os.makedirs(_path(broot, ("6_summary",)), exist_ok=True)
            a, b = _path(broot, ("6_summary", "a.csv")), _path(broot, ("6_summary", "b.csv"))
            if not os.path.lexists(a) and not os.path.lexists(b):
                os.symlink(b, a)
                os.symlink(a, b)
        elif kind == "dangling":
            os.makedirs(_path(broot, ("5_parsing",)), exist_ok=True)
            p = _path(broot, ("5_parsing", "gone.csv"))
            if not os.path.lexists(p):
                os.symlink(b"/nonexistent/gone.csv", p)
        elif kind == "fifo_csv":
            os.makedirs(_path(broot, ("7_reporting",)), exist_ok=True)
            p = _path(broot, ("7_reporting", "pipe.csv"))
            if not os.path.lexists(p):
                os.mkfifo(p)
        elif kind == "link_out_dir":
            p = _path(broot, ("linked",))
            if not os.path.lexists(p):
                os.symlink(os.fsencode(outside), p)
        elif kind == "stage_link_out":
            os.makedirs(_path(broot, ("gens",)), exist_ok=True)
            p = _path(broot, ("gens", "draft"))
            if not os.path.lexists(p):
                os.symlink(os.fsencode(outside), p)
        elif kind == "results":
            os.makedirs(_path(broot, ("results",)), exist_ok=True)
            with open(_path(broot, ("results", "e_x.txt")), "wb") as fh:
                fh.write(b"essay")


def snapshot(root: Path) -> str:
    """Names (as bytes), types, modes, sizes, mtimes and file bytes; links are not followed and
    FIFOs are not opened."""
    h = hashlib.sha256()
    broot = os.fsencode(root)
    for folder, dirs, files in os.walk(broot):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            s = os.lstat(path)
            h.update(os.path.relpath(path, broot) + f"|{s.st_mode}|{s.st_size}|{s.st_mtime_ns}\n".encode())
            if stat.S_ISREG(s.st_mode):
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
            elif stat.S_ISLNK(s.st_mode):
                h.update(os.readlink(path))
    return h.hexdigest()


def commands(root: str, out: str, some_id: str) -> list[list[str]]:
    return [
        ["audit", root, "--format", "json"],
        ["audit", root],
        ["audit", root, "--format", "csv"],
        ["audit", root, "--format", "md"],
        ["inventory", root, "--format", "json"],
        ["orphans", root, "--format", "csv"],
        ["show", root, some_id],
        ["show", root, some_id, "--format", "json"],
        ["ids", root, "--format", "csv"],
        ["impact", root, some_id, "--format", "json"],
        ["duplicates", root],
        ["cohorts", "simulate", root, "--essay", some_id, "--evaluation-template", "t",
         "--evaluation-model", "m", "--format", "json"],
        ["report", root, "--output", out + "/report.md"],
        ["migrate", "plan", root, "--output", out + "/plan.json"],
        ["query", root, "orphans", "--format", "json"],
    ]


@given(stores(), st.sampled_from(["d_x", "e_chain3", "e_sq5klak2lljyyom"]))
def test_read_only_commands_never_crash_and_never_write(entries, some_id):
    with tempfile.TemporaryDirectory(prefix="lineage-hostile-") as tmp:
        tmp = Path(tmp)
        root, outside, out = tmp / "data", tmp / "outside", tmp / "out"
        outside.mkdir()
        (outside / "secret.txt").write_text("outside the root\n")
        out.mkdir()
        write_store(root, outside, entries)
        before, outside_before = snapshot(root), snapshot(outside)
        for args in commands(str(root), str(out), some_id):
            result = runner.invoke(app, args + ["--no-progress"] if args[0] != "query" else args)
            said = result.output
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                import traceback

                said += "".join(traceback.format_exception(*result.exc_info))
            assert result.exit_code in (0, 1, 2), (args, result.exit_code, said[-3000:])
            assert "Traceback" not in said and "internal error" not in said, (args, said[-2000:])
            assert snapshot(root) == before, f"{args} changed the data root"
        assert snapshot(outside) == outside_before
