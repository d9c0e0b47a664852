"""The scan gives the same Store whether big-store parallelism is used or not."""

import dataclasses
import os

from lineage.loaders import store as store_module
from lineage import synthetic
from lineage.loaders import csv_chunks


def _facts(store):
    return (
        [(g.stage, g.gen_id, g.files, g.meta_status, g.meta_error, g.expected_id, g.id_matches)
         for g in store.generations],
        [(c.cohort_id, [(m.stage, m.gen_id, m.line) for m in c.members]) for c in store.cohorts],
        [(r.path, r.gen_id, r.line, r.column, r.stage, r.kind) for r in store.references],
        sorted((p.check, p.path, p.line or 0) for p in store.problems),
        store.artifacts,
        [(s.path, s.ids, s.mode) for s in store.selections],
    )


def test_parallel_scan_equals_serial_scan(tmp_path, monkeypatch):
    root = tmp_path / "data"
    synthetic.generate(str(root), 400, seed=9, problems="all", legacy_fraction=0.2)
    cwd = os.getcwd()
    serial = store_module.scan(str(root))
    assert os.getcwd() == cwd  # only the helper process lists from inside each stage folder
    monkeypatch.setattr(store_module, "PARALLEL_FROM", 0)  # force the helper process
    parallel = store_module.scan(str(root))
    assert _facts(parallel) == _facts(serial)
    assert serial.references and serial.cohorts and serial.problems


def test_csv_references_keep_their_lines_across_chunks_and_multiline_cells(tmp_path, monkeypatch):
    """Rows are numbered by their first line even when a quoted cell spans lines, whichever
    chunk that row falls in."""
    monkeypatch.setattr(csv_chunks, "ROWS", 2)
    monkeypatch.setattr(csv_chunks, "BLOCK", 8)  # a line or two per block
    for body, expected in [
        ('v_a,x\nv_b,"two\nlines"\nv_c,y\nv_d,z\n', [("v_a", 2), ("v_b", 3), ("v_c", 5), ("v_d", 6)]),
        ('v_a,x\nv_b,y\nv_c,"two\nlines"\nv_d,z\n', [("v_a", 2), ("v_b", 3), ("v_c", 4), ("v_d", 6)]),
        ('v_a,x\n\nv_b,y\n', [("v_a", 2), ("v_b", 4)]),
    ]:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        (root / "gens").mkdir(parents=True)
        (root / "6_summary").mkdir()
        (root / "6_summary" / "scores.csv").write_text("gen_id,note\n" + body, encoding="utf-8")
        store = store_module.scan(str(root))
        assert [(r.gen_id, r.line) for r in store.references] == expected


def test_a_stage_folder_swapped_for_a_link_after_its_listing_sends_no_read_outside(tmp_path, monkeypatch):
    """Metadata is opened relative to the stage folder's descriptor, taken once: replacing the
    folder by a link to a look-alike outside the root meanwhile changes nothing the scan reads."""
    root = tmp_path / "data"
    synthetic.generate(str(root), 3, seed=2)
    drafts = root / "gens" / "draft"
    name = sorted(p.name for p in drafts.iterdir())[0]
    decoy = tmp_path / "outside" / "draft"
    (decoy / name).mkdir(parents=True)
    (decoy / name / "metadata.json").write_text('{"stage": "draft", "gen_id": "stolen"}')
    opened = store_module._open_folder

    def open_then_swap(path, linked):
        fd = opened(path, linked)
        if path.endswith("/draft"):
            drafts.rename(tmp_path / "moved-away")
            drafts.symlink_to(decoy)
        return fd

    monkeypatch.setattr(store_module, "_open_folder", open_then_swap)
    gen = next(g for g in store_module.scan(str(root)).generations if g.gen_id == name)
    assert gen.meta_status == "ok" and gen.meta["gen_id"] == name


def test_references_the_helper_resolves_give_the_graph_a_serial_scan_gives(tmp_path, monkeypatch):
    """The helper resolves the references outside gens/ while the graph is begun; the graph
    is the one resolving them itself gives, Missing nodes and references into other stages
    (every planted problem) included."""
    from lineage.loaders.graph_model import build

    root = tmp_path / "data"
    synthetic.generate(str(root), 400, seed=9, problems="all", legacy_fraction=0.2)
    serial_store = store_module.scan(str(root))
    serial = build(serial_store)
    monkeypatch.setattr(store_module, "PARALLEL_FROM", 0)
    store = store_module.scan(str(root))
    parallel = build(store)
    resolved = [r for r in store.reference_columns if r.positions is not None]
    assert resolved and any(-1 in r.positions for r in resolved)  # some found no generation

    assert shape(parallel) == shape(serial)
    # A store made from it with generations left out resolves its references itself.
    fewer = dataclasses.replace(store, generations=store.generations[50:])
    fewer_serial = dataclasses.replace(serial_store, generations=serial_store.generations[50:])
    assert shape(build(fewer)) == shape(build(fewer_serial))


def shape(data):
    """A graph model as plain lists: its node keys (dicts whole) and its edge columns."""
    nodes = [n if isinstance(n, dict) else n.key for n in data.nodes]
    return nodes, [(e.type, e.sources, e.targets, e.props) for e in data.edges]


def test_a_stage_folder_linked_within_the_root_is_read_through_by_both_scans(tmp_path, monkeypatch):
    root = tmp_path / "data"
    synthetic.generate(str(root), 20, seed=1)
    (root / "gens" / "draft").rename(root / "draft_real")
    (root / "gens" / "draft").symlink_to("../draft_real")
    serial = store_module.scan(str(root))
    monkeypatch.setattr(store_module, "PARALLEL_FROM", 0)
    parallel = store_module.scan(str(root))
    assert _facts(parallel) == _facts(serial)
    drafts = [g for g in serial.generations if g.stage == "draft"]
    assert drafts and all(g.meta_status == "ok" and g.files for g in drafts)


def test_a_stage_folder_gone_after_its_listing_makes_its_generations_findings(tmp_path, monkeypatch):
    """Gone between the listing and the reads (both processes): each of its generations is
    reported as unreadable; the scan goes on."""
    root = tmp_path / "data"
    synthetic.generate(str(root), 20, seed=1)
    helper = store_module.Beside

    def remove_then_start(*args, **kwargs):
        (root / "gens" / "essay").rename(tmp_path / "elsewhere")
        return helper(*args, **kwargs)

    answered = []
    result = helper.result

    def recorded(self):
        value = result(self)
        answered.append(self._proc is not None)  # (None: the helper failed, the caller computed it)
        return value

    monkeypatch.setattr(store_module, "Beside", remove_then_start)
    monkeypatch.setattr(helper, "result", recorded)
    for parallel_from in (10_000, 0):
        monkeypatch.setattr(store_module, "PARALLEL_FROM", parallel_from)
        scanned = store_module.scan(str(root)).generations
        essays = [g for g in scanned if g.stage == "essay"]
        assert essays and all(g.meta_status == "invalid" for g in essays)
        # The stage after it is read and listed as ever.
        assert all(g.meta_status == "ok" and g.files for g in scanned if g.stage == "evaluation")
        (tmp_path / "elsewhere").rename(root / "gens" / "essay")
    assert answered == [False, True]  # serially, then from the helper process


def test_a_store_from_a_parallel_scan_pickles_and_its_copy_resolves_its_own_references(tmp_path, monkeypatch):
    import pickle

    from lineage.loaders.graph_model import build

    root = tmp_path / "data"
    synthetic.generate(str(root), 200, seed=3, problems="all")
    monkeypatch.setattr(store_module, "PARALLEL_FROM", 0)
    store = store_module.scan(str(root))
    copy = pickle.loads(pickle.dumps(store))
    assert copy.ahead is None
    assert shape(build(copy)) == shape(build(store))
