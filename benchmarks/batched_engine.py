"""Wall time per seed of a BC cell on the batched engine vs the single engine, at S = 1, 10, 40 seeds.

One cell (``bc`` on CombinationLock, horizon 20, uniform eps 0.2, 4 actions, ``budget`` labels, the
default training rule: 2 gradient steps per label), its seeds trained and evaluated (20 greedy
episodes) by both engines: *single* is ``train_spec`` + ``evaluate`` per seed (imitation's BC
trainer, today's path), *batched* one ``train_batched`` of the S seeds + ``evaluate`` per seed.
Everything a sweep's worker does for the cell is timed (task, policy, demonstrations, training,
evaluation), in one process with one torch thread.

The two alternate (single, batched, batched, single, ...) and the speed-up is the ratio of the
per-seed wall times of each adjacent pair, then the median over pairs, so a slow stretch of the
shared machine hits both alike. The single engine's time per seed does not depend on S (its seeds
are independent runs), so at large S it is measured on the first ``--single-seeds`` seeds only::

    python benchmarks/batched_engine.py --budget 2000 --repeats 3 --single-seeds 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch as th

from baselines.core.run import RunSpec, evaluate, train_spec
from baselines.learners.batched import train_batched

LOCK = "NoisyExpert/CombinationLock-v0"


def specs(budget: int, seeds: int, horizon: int) -> list[RunSpec]:
    kwargs = {"horizon": horizon, "noise": "uniform", "epsilon": 0.2, "n_actions": 4}
    return [RunSpec.check("bc", LOCK, budget=budget, seed=seed, env_kwargs=kwargs) for seed in range(seeds)]


def single(runs: list[RunSpec]) -> float:
    """Seconds per seed of the single engine (train and evaluate each seed)."""
    start = time.perf_counter()
    for spec in runs:
        evaluate(train_spec(spec), eval_episodes=spec.eval_episodes)
    return (time.perf_counter() - start) / len(runs)


def batched(runs: list[RunSpec]) -> float:
    """Seconds per seed of the batched engine (one batch, then evaluate each seed)."""
    start = time.perf_counter()
    for trained, spec in zip(train_batched(runs), runs):
        evaluate(trained, eval_episodes=spec.eval_episodes)
    return (time.perf_counter() - start) / len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=2000, help="labels of the cell")
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 40], help="seeds per batch (S)")
    parser.add_argument("--repeats", type=int, default=3, help="pairs per S")
    parser.add_argument("--single-seeds", type=int, default=10, help="at most this many seeds timed on the single engine")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    th.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    batched(specs(50, 2, args.horizon))  # first-call costs (imports, allocations), untimed
    rows = []
    for size in args.sizes:
        runs = specs(args.budget, size, args.horizon)
        pairs: list[tuple[float, float]] = []
        for rep in range(args.repeats):
            order = (single, batched) if rep % 2 == 0 else (batched, single)
            timed = {engine: engine(runs if engine is batched else runs[:args.single_seeds]) for engine in order}
            pairs.append((timed[single], timed[batched]))
        ratios = [a / b for a, b in pairs]
        rows.append((size, statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
                     statistics.median(ratios), min(ratios), max(ratios)))
    print(f"load average at end: {os.getloadavg()[0]:.2f} (1 min)\n")
    print(f"bc, {LOCK} horizon {args.horizon}, budget {args.budget}, {args.repeats} pairs per S "
          f"(single engine timed on at most {args.single_seeds} seeds)\n")
    print("| S | single s/seed | batched s/seed | speed-up per seed (median of pairs) | range over pairs |")
    print("| --- | --- | --- | --- | --- |")
    for size, a, b, ratio, low, high in rows:
        print(f"| {size} | {a:.2f} | {b:.3f} | {ratio:.1f}x | {low:.1f}x-{high:.1f}x |")


if __name__ == "__main__":
    main()
