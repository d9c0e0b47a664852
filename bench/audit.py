"""Benchmark: the full audit against a floor measured in the same run.

The floor is the least any audit must do: list gens/<stage>/ and read and parse every
metadata.json once (os.scandir + orjson). The audit adds listing each folder's files, the
derived ID facts, CSV references, the graph and every check. Both run on a warm page cache,
best of --repeat runs.

    python bench/audit.py --generations 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import orjson

from lineage.audit import audit
from lineage.ids import STAGES

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


def best_of(fn, root: str, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(root)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generations", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", help="reuse (or create) the store in this folder")
    ap.add_argument("--limit", type=float, default=2.5, help="exit 1 when audit/floor exceeds this")
    args = ap.parse_args()

    root = args.store or os.path.join(tempfile.gettempdir(), f"lineage-bench-{args.generations}")
    if not os.path.isdir(os.path.join(root, "gens")):
        start = time.perf_counter()
        from lineage.loaders import synthetic

        made = synthetic.generate(root, args.generations, seed=1, legacy_fraction=0.1,
                                  mismatch_fraction=0.02, text_files=True)
        print(f"generated {sum(made.counts.values()):,} generations in {time.perf_counter() - start:.1f}s "
              f"at {root}", file=sys.stderr)
    floor(root)  # warm the page cache so both sides read from memory
    t_floor, parsed = best_of(floor, root, args.repeat)
    t_audit, stats = best_of(full_audit, root, args.repeat)
    total = sum(stats["generations"].values())
    ratio = t_audit / t_floor
    print(f"generations          {total:,}")
    print(f"floor (read+parse)   {t_floor:.2f} s  ({parsed / t_floor:,.0f} files/s)")
    print(f"full audit           {t_audit:.2f} s  ({total / t_audit:,.0f} generations/s)")
    print(f"ratio                {ratio:.2f}x (limit {args.limit}x)")
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
