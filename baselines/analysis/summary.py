"""Statistics over a sweep's records: rows grouped over seeds, bootstrap CIs, labels-to-target.

Cells are grouped over seeds: one :class:`Row` per (env, env kwargs, algorithm label, budget), with
the mean and a 95% bootstrap confidence interval over seeds (``scipy.stats.bootstrap``, percentile
method, fixed seed; ``None`` bounds with a single seed) of the success rate and the normalized return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

NOISE_LEVEL_KEYS = ("epsilon", "sigma", "temperature", "repeat_prob")
HORIZON_KEYS = ("horizon", "chain_length")
CI_SEED = 0
N_RESAMPLES = 2000

Stat = tuple[float, float | None, float | None]  # mean, CI low, CI high


def mean_ci(values: list[float]) -> Stat:
    """Mean and 95% percentile-bootstrap CI over seeds (``None`` bounds with fewer than 2 values)."""
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if len(arr) < 2:
        return mean, None, None
    if np.all(arr == arr[0]):
        return mean, mean, mean
    from scipy.stats import bootstrap

    res = bootstrap((arr,), np.mean, n_resamples=N_RESAMPLES, confidence_level=0.95, method="percentile",
                    rng=np.random.default_rng(CI_SEED))
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass
class Row:
    """One cell of the report: an (env, kwargs, label, budget) group over seeds."""

    env_id: str
    env_kwargs: dict[str, Any]
    label: str
    algo: str
    budget: int
    seeds: list[int]
    success: Stat | None
    norm_return: Stat
    labels_used: float
    wall_time_s: float
    #: (agreement p, mode margin) at the first state as the records carry them (``None``: not recorded).
    first_state: tuple[float, float] | None = None


def kwargs_key(kwargs: dict[str, Any]) -> str:
    """A canonical string for a kwargs mapping (groups and sorts rows by it)."""
    return json.dumps(kwargs, sort_keys=True, default=repr)


def build_rows(records: list[dict[str, Any]]) -> list[Row]:
    """Group successful records over seeds into rows, sorted by env, kwargs, label, budget."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["env_id"], kwargs_key(r["env_kwargs"]), r["label"], int(r["budget"])), []).append(r)
    rows = []
    for (env_id, kw, label, budget), rs in groups.items():
        rs.sort(key=lambda r: r["seed"])
        succ = [r["success_rate"] for r in rs]
        rows.append(Row(
            env_id=env_id, env_kwargs=json.loads(kw), label=label, algo=rs[0]["algo"], budget=budget,
            seeds=[r["seed"] for r in rs],
            success=None if any(s is None for s in succ) else mean_ci(succ),
            norm_return=mean_ci([r["normalized_return"] for r in rs]),
            labels_used=float(np.mean([r["labels_used"] for r in rs])),
            wall_time_s=float(np.mean([r["wall_time_s"] for r in rs])),
            first_state=recorded_first_state(rs),
        ))
    rows.sort(key=lambda r: (r.env_id, sorted(r.env_kwargs.items(), key=str), r.label, r.budget))
    return rows


def recorded_first_state(records: list[dict[str, Any]]) -> tuple[float, float] | None:
    """The first state's (agreement, margin) that the records of one task carry, if they all do."""
    from baselines.sweep.cells import FIRST_STATE_FIELDS

    values = {tuple(r.get(f) for f in FIRST_STATE_FIELDS) for r in records}
    if len(values) != 1 or None in next(iter(values)):
        return None
    return next(iter(values))  # type: ignore[return-value]


def varying_kwargs(rows: list[Row]) -> tuple[dict[str, Any], list[str]]:
    """Kwargs common to all rows of an env, and the names of those that vary."""
    keys = sorted({k for r in rows for k in r.env_kwargs})
    common, varying = {}, []
    for k in keys:
        vals = {json.dumps(r.env_kwargs.get(k), default=repr) for r in rows}
        if len(vals) == 1 and all(k in r.env_kwargs for r in rows):
            common[k] = rows[0].env_kwargs[k]
        else:
            varying.append(k)
    return common, varying


def smallest_budget_reaching(rows: list[Row], target: float) -> dict[tuple[str, str, str], int | None]:
    """Per (env id, kwargs key, label): the smallest budget whose mean success (or normalized return,
    for tasks without success) is >= ``target``; ``None`` if no budget of the grid reaches it."""
    found: dict[tuple[str, str, str], int | None] = {}
    for r in sorted(rows, key=lambda r: r.budget):
        key = (r.env_id, kwargs_key(r.env_kwargs), r.label)
        score = r.success[0] if r.success is not None else r.norm_return[0]
        found.setdefault(key, None)
        if found[key] is None and score >= target:
            found[key] = r.budget
    return found


def grid_key(env_rows: list[Row], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` taking >= 2 values across ``env_rows``."""
    return next((k for k in keys if len({r.env_kwargs.get(k) for r in env_rows if k in r.env_kwargs}) >= 2), None)


def at_largest_budget(env_rows: list[Row], label: str, key: str) -> tuple[int, list[Row]]:
    """``label``'s largest budget among rows that set ``key``, and those rows at that budget."""
    sel = [r for r in env_rows if r.label == label and key in r.env_kwargs]
    top = max(r.budget for r in sel)
    return top, [r for r in sel if r.budget == top]
