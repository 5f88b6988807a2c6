"""Points per hour vs Ray workers: the same small sweep (benchmarks/scaling/sweep.toml) run on a
local Ray cluster of 1, then 2 workers (one CPU and one torch thread each), into a fresh results
folder each time, with the baseline cache warmed first so every configuration runs the same work.

Prints one Markdown row per worker count: points, wall seconds (and the part spent warming the
baselines before the first point), points per hour, the CPU seconds the workers used (summed over
jobs, measured in the workers), the cores that amounts to (CPU seconds / wall seconds), the
speed-up over one worker and the machine's 1-minute load average before and after.

    DEBIASBENCH_DATA=../shared/data .venv/bin/python benchmarks/scaling.py --workers 1 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from debiasbench.campaign.executors.points import run_points
from debiasbench.campaign.executors.ray_executor import RayExecutor
from debiasbench.campaign.sweep import validate
from debiasbench.campaign.sweep_file import load_sweep

SWEEP = Path(__file__).parent / "scaling" / "sweep.toml"


def measure(workers: int, results: Path, limit: int | None = None) -> tuple[int, float, float, float]:
    """(points run, wall seconds, warm-up seconds, worker CPU seconds) of the sweep (its first ``limit`` points) on
    a fresh local cluster; the wall time includes the baseline warm-up job, as a user sees it."""
    sweep = load_sweep(SWEEP, results)
    validate(sweep)
    executor = RayExecutor(workers=workers)
    executor.start()
    try:
        points = [(p.index, p.label(), p.config) for p in sweep.points][:limit]
        started = time.perf_counter()
        done = run_points(executor, points, retries=0, warmed=None)
        wall = time.perf_counter() - started
    finally:
        executor.close()
    if done.failed:
        raise SystemExit(f"points failed: {done.failed}")
    return len(done.ran), wall, done.warm_up_seconds, done.cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("DEBIASBENCH_NO_PROGRESS", "1")
    scratch = Path(tempfile.mkdtemp(prefix="debiasbench-scaling-"))
    try:
        measure(1, scratch / "warm-up", limit=1)  # fills the baseline cache: every measured run then reads it
        print("| workers | points | wall s (warm-up) | points/hour | worker CPU s | cores obtained | speed-up | load average |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        base = None
        for n in args.workers:
            load = os.getloadavg()[0]
            points, wall, warm, cpu = measure(n, scratch / f"workers-{n}")
            rate = points / wall * 3600
            base = base or rate
            print(f"| {n} | {points} | {wall:.0f} ({warm:.0f}) | {rate:.0f} | {cpu:.0f} | {cpu / wall:.2f} | {rate / base:.2f}x | "
                  f"{load:.1f} -> {os.getloadavg()[0]:.1f} |", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
