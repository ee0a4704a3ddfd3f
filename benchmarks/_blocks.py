"""What the step-time benchmarks share: their command-line flags and the alternating-blocks timer.

Variants run in alternating blocks (each block rotates which goes first) so that a slow stretch of
this noisy machine hits every variant alike; ratios are taken within a block, then the median.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Callable

import torch as th


def step_parser(doc: str | None, *, steps: int, repeats: int) -> argparse.ArgumentParser:
    """A parser with ``--states``, ``--steps`` and ``--repeats`` (add the benchmark's own flags)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--states", type=int, default=1000, help="labelled states in the training set")
    parser.add_argument("--steps", type=int, default=steps, help="gradient steps per variant per block")
    parser.add_argument("--repeats", type=int, default=repeats, help="blocks")
    return parser


def quiet_one_thread() -> None:
    """One torch thread (what every learner here trains with) and no library warnings in the table."""
    warnings.filterwarnings("ignore")
    th.set_num_threads(1)


def time_blocks(variants: dict[str, Callable[[int], object]], steps: int, repeats: int,
                warmup: int) -> dict[str, list[float]]:
    """Seconds per step of each variant, one figure per block (``warmup`` steps each first, untimed)."""
    for train in variants.values():  # lazy imports, first-call allocations
        train(warmup)
    names = list(variants)
    per_step: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            start = time.perf_counter()
            variants[name](steps)
            per_step[name].append((time.perf_counter() - start) / steps)
    return per_step


def median_ratio(times: list[float], base: list[float]) -> float:
    """The median over blocks of ``times / base`` (both measured in the same blocks)."""
    return statistics.median(t / b for t, b in zip(times, base))
