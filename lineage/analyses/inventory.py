"""The inventory: what the store holds, by stage, ID class and ID length.

It also re-runs the old migration guide's length rule ("under 18 characters is legacy") next to
the classification by shape, and says with numbers how far the rule is off: a deterministic
ID is shorter than 18 characters with probability 18.29%, because the hash is not zero-padded.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

from lineage import __version__
from lineage.core import ids
from lineage.core.model import Store

FORMAT_VERSION = "1.0"


def inventory(store: Store) -> dict[str, Any]:
    counts = {s: 0 for s in ids.STAGES}
    classes = {s: Counter() for s in ids.STAGES}
    lengths: dict[str, dict[int, Counter]] = {s: {} for s in ids.STAGES}
    legacy, malformed = [], []
    det_total = det_short = det_short_verified = heuristic_legacy = 0
    for g in store.generations:
        counts[g.stage] += 1
        classes[g.stage][g.id_kind] += 1
        lengths[g.stage].setdefault(len(g.gen_id), Counter())[g.id_kind] += 1
        short = ids.length_heuristic_says_legacy(g.gen_id)
        heuristic_legacy += short
        if g.id_kind == ids.LEGACY:
            legacy.append({"stage": g.stage, "gen_id": g.gen_id, "expected_id": g.expected_id or None,
                           "signature_error": g.signature_error or None})
        elif g.id_kind == ids.MALFORMED:
            malformed.append({"stage": g.stage, "gen_id": g.gen_id, "problem": g.id_problem})
        if g.id_kind == ids.DETERMINISTIC:
            # Only the hash part counts: a collision suffix (-k) lengthens the ID by two.
            hash_len = len(g.gen_id.split("-")[0])
            det_total += 1
            if hash_len < 18:
                det_short += 1
                det_short_verified += bool(g.id_matches)
    p = ids.short_id_probability()
    expected = det_total * p
    sigma = math.sqrt(det_total * p * (1 - p))
    shape_legacy = sum(c[ids.LEGACY] for c in classes.values())
    return {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "lineage", "version": __version__},
        "data_root": store.root,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "generations": counts,
        "id_classes": {s: {k: classes[s][k] for k in (ids.DETERMINISTIC, ids.LEGACY, ids.MALFORMED)}
                       for s in ids.STAGES},
        "id_lengths": {s: {str(n): dict(sorted(lengths[s][n].items())) for n in sorted(lengths[s], reverse=True)}
                       for s in ids.STAGES},
        "length_heuristic": {
            "rule": "an ID shorter than 18 characters is legacy",
            "heuristic_legacy": heuristic_legacy,
            "shape_legacy": shape_legacy,
            "deterministic": det_total,
            "deterministic_short": det_short,
            "deterministic_short_verified": det_short_verified,
            "expected_short_fraction": round(p, 6),
            "expected_short": round(expected, 1),
            "sigma": round(sigma, 1),
            "z": round((det_short - expected) / sigma, 2) if sigma else None,
        },
        "legacy_ids": legacy,
        "malformed_ids": malformed,
    }


def verdict(inv: dict[str, Any]) -> str:
    """One paragraph on the length rule versus the shape classification, with the numbers."""
    h = inv["length_heuristic"]
    if not h["deterministic"]:
        return (f"The length rule calls {h['heuristic_legacy']} IDs legacy; by shape {h['shape_legacy']} are. "
                "There are no deterministic IDs to compare against the 18.29% expectation.")
    agree = abs(h["z"]) <= 3 if h["z"] is not None else True
    return (
        f"The length rule calls {h['heuristic_legacy']} IDs legacy; by shape {h['shape_legacy']} are. "
        f"{h['deterministic_short']} of {h['deterministic']} deterministic IDs are shorter than 18 characters "
        f"({h['deterministic_short_verified']} of them recompute exactly from their metadata); "
        f"an all-deterministic store expects {h['expected_short']} ± {h['sigma']} (18.29%), z = {h['z']}. "
        + ("That matches chance: short IDs are ordinary unpadded hashes, so the length rule is unsound."
           if agree else "That is far from chance: look at how these IDs were minted.")
    )


CLASS_COLUMNS = [ids.DETERMINISTIC, ids.LEGACY, ids.MALFORMED]
STAGE_COLUMNS = ["stage", "generations", *CLASS_COLUMNS]
LENGTH_COLUMNS = ["stage", "length", "length_rule", *CLASS_COLUMNS]


def stage_rows(inv: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage: its generations and how many of each ID class."""
    return [{"stage": s, "generations": n, **inv["id_classes"][s]} for s, n in inv["generations"].items()]


def length_rows(inv: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (stage, length) with the count of each class: the CSV/table form."""
    rows = []
    for stage, by_len in inv["id_lengths"].items():
        for length, kinds in by_len.items():
            rows.append({"stage": stage, "length": int(length),
                         "length_rule": "legacy" if int(length) < 18 else "deterministic",
                         **{k: kinds.get(k, 0) for k in CLASS_COLUMNS}})
    return rows


LEGACY_COLUMNS = ["stage", "gen_id", "expected_id"]


def legacy_rows(inv: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per legacy ID, with the ID its metadata implies (empty when it implies none)."""
    return [{"stage": r["stage"], "gen_id": r["gen_id"], "expected_id": r["expected_id"] or ""}
            for r in inv["legacy_ids"]]


def default_filename() -> str:
    return f"gen_id_inventory_{dt.date.today().isoformat()}.json"
