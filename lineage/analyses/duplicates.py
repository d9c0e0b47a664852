"""Generations whose raw.txt is byte-identical (what find_duplicate_generations.py reported)."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from lineage.core.files import sha256_file
from lineage.core.model import Store


def duplicate_raw(store: Store, stages: set[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for every generation in a group of two or more with the same raw.txt, and the
    paths that could not be read."""
    groups: dict[str, list] = defaultdict(list)
    unreadable = []
    for gen in store.generations:
        if "raw.txt" not in gen.files or (stages and gen.stage not in stages):
            continue
        path = os.path.join(store.root, gen.path, "raw.txt")
        try:
            # Not following links: the scan lists names only, so a symlinked raw.txt may lead anywhere.
            groups[sha256_file(path, follow_links=False)].append(gen)
        except OSError as exc:
            unreadable.append(f"{gen.path}/raw.txt: {exc.strerror or exc}")
    rows = []
    for digest, gens in sorted(groups.items()):
        if len(gens) < 2:
            continue
        for gen in sorted(gens, key=lambda g: (g.stage, g.gen_id)):
            rows.append({"sha256": digest, "copies": len(gens), "stage": gen.stage, "gen_id": gen.gen_id,
                         "path": f"{gen.path}/raw.txt", "mode": gen.mode})
    return rows, unreadable
