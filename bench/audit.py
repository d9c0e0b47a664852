"""Benchmark: `lineage audit --format json` against a floor measured in the same run.

The floor is the least any audit must do: list gens/<stage>/ and read and parse every
metadata.json once (os.scandir, open(), orjson). The audit adds listing each folder's files,
the derived ID facts, cohorts and CSV references, the graph, every check and the JSON report.

Floor and audit take turns on a warm page cache; the audit runs as the command a user runs
(a fresh process each turn, its peak RSS taken from the kernel's accounting of that process),
from compiled bytecode as an installed lineage does: the package is compiled first, so a
checkout run with PYTHONDONTWRITEBYTECODE does not compile its modules again on every turn.
Before the turns, one audit in this process is timed phase by phase (wall time and peak RSS
of each phase).

    python bench/audit.py --store /tmp/lineage-bench-100000 --generations 100000
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import time

import orjson

from lineage.core.ids import STAGES

BYTES_PER_GENERATION = 27_000  # a generated store with text files, on ext4 (1,000,000: 27 GB)
SECONDS_PER_GENERATION = 0.00035  # writing one (1,000,000: 324 s on a 2-core machine)


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


def compile_package() -> None:
    """Byte-compile lineage as `pip install` does (a wheel's modules are compiled when it is
    installed); compiling a few dozen modules from source costs each fresh process 25 ms."""
    import lineage
    from lineage import loaders, queries

    for package in (lineage, loaders, queries):
        compileall.compile_dir(os.path.dirname(package.__file__), quiet=2)


def peak_reset() -> bool:
    """Reset this process's peak RSS (Linux: /proc/self/clear_refs), so a phase's own peak
    can be read; False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    """This process's peak RSS since the last reset, in MB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phases(root: str) -> list[tuple[str, float, float | None]]:
    """One audit in this process, phase by phase: (phase, seconds, peak MB). Inside the scan,
    the time left to wait for the helper process (which lists the folders and reads the CSVs
    while this process reads the metadata) is timed on its own."""
    from lineage.analyses.audit import audit
    from lineage.loaders import beside
    from lineage.loaders.lineage_graph import LineageGraph
    from lineage.loaders.networkx_graph import NetworkxBackend
    from lineage.loaders.store import scan
    from lineage.render.audit import write_report

    waited: list[float] = []
    result = beside.Beside.result

    def timed_result(self):
        start = time.perf_counter()
        try:
            return result(self)
        finally:
            waited.append(time.perf_counter() - start)

    beside.Beside.result = timed_result
    out, state = [], {}
    steps = [("scan", lambda: state.update(store=scan(root, metadata=False))),
             ("graph (networkx)", lambda: state.update(graph=LineageGraph(state["store"]))),
             ("checks and statistics", lambda: state.update(report=audit(NetworkxBackend(state["graph"]), root))),
             ("JSON report", lambda: write_report(state["report"], "json", os.devnull))]
    try:
        for name, step in steps:
            peak_reset()
            start = time.perf_counter()
            step()
            out.append((name, time.perf_counter() - start, peak_mb()))
            if waited:
                out.append(("  of it, waiting for the helper", sum(waited), None))
                waited.clear()
    finally:
        beside.Beside.result = result
    return out


def audit_command(root: str) -> tuple[float, float]:
    """`lineage audit ROOT --format json` in a fresh process: (seconds, peak RSS in MB)."""
    cmd = [sys.executable, "-m", "lineage", "audit", root, "--format", "json", "--output", os.devnull,
           "--no-progress", "--fail-on", "never"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"bench: lineage audit failed ({proc.returncode}): {err.strip()}")
    return seconds, usage.ru_maxrss / 1024


def ensure_store(root: str, n: int) -> None:
    if os.path.isdir(os.path.join(root, "gens")):
        print(f"store: {root} (exists; only read)", flush=True)
        return
    size = n * BYTES_PER_GENERATION
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(root)) or ".").free
    print(f"store: writing {n:,} generations to {root}: about {size / 1e9:.1f} GB on disk ({free / 1e9:.0f} GB "
          f"free there), about {n * SECONDS_PER_GENERATION / 60:.0f} min; it stays for later runs "
          f"(delete the folder to reclaim the space)", flush=True)
    if size > free:
        sys.exit("bench: not enough free disk space for the store")
    from lineage import synthetic

    start = time.perf_counter()
    made = synthetic.generate(root, n, seed=1, legacy_fraction=0.1, mismatch_fraction=0.02, text_files=True)
    print(f"store: wrote {sum(made.counts.values()):,} generations in {time.perf_counter() - start:.0f} s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generations", type=int, default=100_000, help="size of the store to generate (default 100,000)")
    ap.add_argument("--repeat", type=int, default=5, help="turns of floor and audit (default 5)")
    ap.add_argument("--store", help="the store to audit; generated there when the folder holds none "
                                    "(default $TMPDIR/lineage-bench-GENERATIONS)")
    ap.add_argument("--limit", type=float, help="exit 1 when the median audit/floor ratio exceeds this "
                                                "(default 1.8, and 2.0 from a million generations on)")
    ap.add_argument("--rss-limit", type=float, default=2000, help="exit 1 when the audit's peak RSS (MB) exceeds this")
    ap.add_argument("--no-phases", action="store_true", help="skip the in-process run phase by phase")
    args = ap.parse_args()

    root = args.store or os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lineage-bench-{args.generations}")
    ensure_store(root, args.generations)
    compile_package()
    print(f"writes: nothing more (each audit's JSON report goes to {os.devnull}); runs: the phases once, then "
          f"{args.repeat} turns of floor and `lineage audit --format json`", flush=True)
    print("warming the page cache (reading every metadata.json once)", flush=True)
    parsed = floor(root)
    limit = args.limit or (2.0 if parsed >= 1_000_000 else 1.8)
    if not args.no_phases:
        print(f"{'phase':<34}{'wall':>9}{'peak RSS':>12}", flush=True)
        for name, seconds, peak in phases(root):
            print(f"{name:<34}{seconds:>8.2f}s" + ("" if peak is None else f"{peak:>9,.0f} MB"), flush=True)
    # Floor and audit take turns, so a slow spell of the machine hits both alike.
    floors, audits, peaks = [], [], []
    for turn in range(1, args.repeat + 1):
        start = time.perf_counter()
        parsed = floor(root)
        floors.append(time.perf_counter() - start)
        seconds, peak = audit_command(root)
        audits.append(seconds)
        peaks.append(peak)
        print(f"turn {turn}/{args.repeat}: floor {floors[-1]:.2f} s, audit {seconds:.2f} s "
              f"({seconds / floors[-1]:.2f}x), peak RSS {peak:,.0f} MB", flush=True)
    turns = sorted(a / f for a, f in zip(audits, floors))
    t_floor, t_audit, median = min(floors), min(audits), turns[len(turns) // 2]
    print(f"generations          {parsed:,}")
    print(f"floor (read+parse)   {t_floor:.2f} s best, {sorted(floors)[len(floors) // 2]:.2f} s median "
          f"({parsed / t_floor:,.0f} files/s)")
    print(f"lineage audit        {t_audit:.2f} s best, {sorted(audits)[len(audits) // 2]:.2f} s median "
          f"({parsed / t_audit:,.0f} generations/s), peak RSS {max(peaks):,.0f} MB (limit {args.rss_limit:,.0f} MB)")
    print(f"ratio                {t_audit / t_floor:.2f}x best/best; per turn {turns[0]:.2f}x to {turns[-1]:.2f}x, "
          f"median {median:.2f}x over {len(turns)} turns (limit {limit}x)")
    return 0 if median <= limit and max(peaks) <= args.rss_limit else 1


if __name__ == "__main__":
    sys.exit(main())
