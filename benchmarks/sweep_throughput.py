"""Sweep throughput: the same small grid with ``--jobs 1`` and ``--jobs 2`` (local backend), and their ratio.

The grid: 8 runs of ~2-3 s each (BC and OPD on CombinationLock H=20, 4 seeds each). Both sweeps run in
this process (so import time is paid once, as for the CLI) into fresh temporary directories; the
records of the two sweeps must be identical apart from wall times. Target: ratio >= 1.7 on an
otherwise idle 2-core machine.

    python benchmarks/sweep_throughput.py [--jobs-a 1] [--jobs-b 2] [--seeds 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from baselines.sweep.config import parse_config
from baselines.sweep.store import read_records
from baselines.sweep.runner import run_sweep


def grid(seeds: int) -> dict:
    return {
        "name": "throughput",
        "envs": [{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"horizon": 20, "noise": "uniform", "epsilon": 0.2}}],
        "algorithms": ["bc", {"name": "opd", "loss": "plurality", "label": "opd-plurality"}],
        "budgets": [1000],
        "seeds": seeds,
        "eval_episodes": 20,
    }


def timed(jobs: int, seeds: int, root: Path) -> tuple[float, dict]:
    config = parse_config(grid(seeds))
    out = root / f"jobs{jobs}"
    start = time.perf_counter()
    summary = run_sweep(config, out, jobs=jobs, progress=False)
    elapsed = time.perf_counter() - start
    assert summary.failed == 0, summary.errors
    records = {k: {f: v for f, v in r.items() if f not in ("wall_time_s", "finished_at")}
               for k, r in read_records(out / "results.jsonl").latest_ok().items()}
    return elapsed, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs-a", type=int, default=1)
    parser.add_argument("--jobs-b", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sweep-throughput-") as tmp:
        root = Path(tmp)
        run_sweep(parse_config({**grid(1), "budgets": [50]}), root / "warmup", jobs=1, progress=False)  # lazy imports
        runs = 2 * args.seeds
        t_a, rec_a = timed(args.jobs_a, args.seeds, root)
        t_b, rec_b = timed(args.jobs_b, args.seeds, root)
    print(f"cpus: {os.cpu_count()}, 1-min load average at start: {load:.2f} (other processes compete when > 0)")
    print(f"--jobs {args.jobs_a}: {runs} runs in {t_a:.1f} s ({runs / t_a:.2f} runs/s)")
    print(f"--jobs {args.jobs_b}: {runs} runs in {t_b:.1f} s ({runs / t_b:.2f} runs/s)")
    print(f"speed-up: {t_a / t_b:.2f}x; records identical: {rec_a == rec_b}")


if __name__ == "__main__":
    main()
