"""Benchmark: the full audit against a floor measured in the same run.

The floor is the least any audit must do: list gens/<stage>/ and read and parse every
metadata.json once (os.scandir + orjson). The audit adds listing each folder's files, the
derived ID facts, CSV references, the graph and every check. Both run on a warm page cache,
taking turns, best of --repeat turns.

    python bench/audit.py --generations 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import orjson

from lineage.analyses.audit import audit
from lineage.core.ids import STAGES

from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan


def floor(root: str) -> int:
    parsed = 0
    for stage in STAGES:
        with os.scandir(os.path.join(root, "gens", stage)) as it:
            for entry in it:
                try:
                    with open(os.path.join(entry.path, "metadata.json"), "rb") as fh:
                        orjson.loads(fh.read())
                    parsed += 1
                except (OSError, orjson.JSONDecodeError):
                    pass
    return parsed


def full_audit(root: str) -> dict:
    store = scan(root)
    return audit(NetworkxBackend.from_store(store), root).statistics


def timed(fn, root: str) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(root)
    return time.perf_counter() - start, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generations", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--store", help="reuse (or create) the store in this folder")
    ap.add_argument("--limit", type=float, default=2.5, help="exit 1 when audit/floor exceeds this")
    args = ap.parse_args()

    root = args.store or os.path.join(tempfile.gettempdir(), f"lineage-bench-{args.generations}")
    if not os.path.isdir(os.path.join(root, "gens")):
        start = time.perf_counter()
        from lineage import synthetic

        made = synthetic.generate(root, args.generations, seed=1, legacy_fraction=0.1,
                                  mismatch_fraction=0.02, text_files=True)
        print(f"generated {sum(made.counts.values()):,} generations in {time.perf_counter() - start:.1f}s "
              f"at {root}", file=sys.stderr)
    floor(root)  # warm the page cache so both sides read from memory
    # Floor and audit take turns, so a slow spell of the machine hits both alike; the figure
    # is the best of each, with the spread of the per-turn ratios beside it.
    floors, audits = [], []
    for _ in range(args.repeat):
        t, parsed = timed(floor, root)
        floors.append(t)
        t, stats = timed(full_audit, root)
        audits.append(t)
    total = sum(stats["generations"].values())
    t_floor, t_audit = min(floors), min(audits)
    ratio = t_audit / t_floor
    turns = sorted(a / f for a, f in zip(audits, floors))
    print(f"generations          {total:,}")
    print(f"floor (read+parse)   {t_floor:.2f} s  ({parsed / t_floor:,.0f} files/s)")
    print(f"full audit           {t_audit:.2f} s  ({total / t_audit:,.0f} generations/s)")
    print(f"ratio                {ratio:.2f}x (limit {args.limit}x); per turn {turns[0]:.2f}x to "
          f"{turns[-1]:.2f}x, median {turns[len(turns) // 2]:.2f}x over {len(turns)} turns")
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
