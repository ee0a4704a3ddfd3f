"""The report of a ``measure: threshold`` sweep: per-seed labels-to-target grouped over seeds, growth fits.

Records are grouped into :class:`GrowthCell` objects, one per (env id, env kwargs without the horizon
key, algorithm label); each holds, per horizon, every seed's bracket (the target missed at ``lo``
labels and reached at ``hi``; ``hi is None``: not reached within ``lo``, right-censored). Per horizon
the report gives the median labels-to-target over seeds with a 95% percentile bootstrap CI of the
median (censored seeds count as +inf, so an interval may be unbounded above), the range and how many
seeds reached the target. Per cell, :func:`baselines.analysis.fits.fit_growth` fits exponential and power
growth with the horizon when >= 2 horizons have a reached seed and there are >= 2 seeds; the fits
(or the reason there is none) go to ``fits.json`` and the report's fits table, next to the analytic
offline rate ``log(1/p)``, ``p`` the noisy expert's agreement with the clean expert at the first state
(recorded at run time; for older records from the noise model, see
:mod:`baselines.analysis.first_state`; discrete actions only).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baselines.sweep.cells import FIRST_STATE_FIELDS, Cell, ThresholdCell
from baselines.sweep.store import StoreError
from baselines.analysis.summary import CI_SEED, HORIZON_KEYS, N_RESAMPLES, kwargs_key, varying_kwargs

FITS_FILE = "fits.json"
#: The keys every fitted entry of ``fits.json`` carries (the issue's contract; more follow them).
FIT_KEYS = ("exp_rate", "exp_rate_ci", "power_exponent", "power_exponent_ci", "preferred", "evidence",
            "n_seeds")


@dataclass(frozen=True)
class SeedThreshold:
    """One seed's labels-to-target at one horizon: ``labels`` (``None``: censored) and its bracket."""

    seed: int
    labels: int | None
    lo: int
    hi: int | None


@dataclass
class GrowthCell:
    """All seeds of one (env id, env kwargs without the horizon, label) at every horizon, and its fit.

    ``horizon_key`` is ``None`` when the env kwargs hold none of :data:`HORIZON_KEYS` (one "horizon",
    keyed 0). ``fit`` is ``GrowthFit.to_json()``, or ``None`` with ``reason`` saying why.
    """

    env_id: str
    env_kwargs: dict[str, Any]
    horizon_key: str | None
    label: str
    algo: str
    target: float
    max_budget: dict[float, int] = field(default_factory=dict)
    seeds: dict[float, list[SeedThreshold]] = field(default_factory=dict)
    fit: dict[str, Any] | None = None
    reason: str = ""
    p: float | None = None  # the noisy expert's agreement with the clean expert at the first state
    recorded_p: dict[float, float | None] = field(default_factory=dict)  # per horizon, as its records have it

    @property
    def horizons(self) -> list[float]:
        return sorted(self.seeds)

    @property
    def name(self) -> str:
        kw = ",".join(f"{k}={v}" for k, v in sorted(self.env_kwargs.items()))
        return f"{self.env_id} [{kw}] {self.label}"

    @property
    def analytic_rate(self) -> float | None:
        """``log(1/p)``, the exponential rate offline imitation pays per unit of horizon (``None``: no p)."""
        return -math.log(self.p) if self.p is not None and 0 < self.p < 1 else None

    def to_json(self) -> dict[str, Any]:
        """The cell's ``fits.json`` entry: identity, horizons, the fit's keys (or ``reason``), ``p``."""
        out: dict[str, Any] = {"name": self.name, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
                               "horizon_key": self.horizon_key, "label": self.label, "algo": self.algo,
                               "target": self.target, "horizons": [_number(h) for h in self.horizons],
                               "n_seeds": len({s.seed for ss in self.seeds.values() for s in ss}),
                               "p_first_state": self.p, "analytic_offline_rate": self.analytic_rate,
                               "fitted": self.fit is not None}
        if self.fit is None:
            return {**out, "reason": self.reason}
        return {**out, **{k: self.fit[k] for k in FIT_KEYS},
                **{k: v for k, v in self.fit.items() if k not in FIT_KEYS and k != "horizons"}}


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def is_threshold_record(record: dict[str, Any]) -> bool:
    """Whether a store record comes from a ``measure: threshold`` cell."""
    return isinstance(Cell.from_dict(record["cell"]), ThresholdCell)


def _horizon_key(kwargs: dict[str, Any]) -> str | None:
    return next((k for k in HORIZON_KEYS if k in kwargs), None)


def group_cells(records: list[dict[str, Any]]) -> list[GrowthCell]:
    """Group successful threshold records into cells (sorted by env, kwargs, label); no fitting yet.

    ``ValueError`` for two records of one seed at one horizon with different cells (e.g. two targets).
    """
    cells: dict[tuple[str, str, str], GrowthCell] = {}
    for r in sorted(records, key=lambda r: r["seed"]):
        run_cell = Cell.from_dict(r["cell"])
        if not isinstance(run_cell, ThresholdCell):
            raise ValueError(f"group_cells takes threshold records only, got a {type(run_cell).__name__}'s")
        kwargs = dict(r["env_kwargs"])
        hkey = _horizon_key(kwargs)
        horizon = float(kwargs.pop(hkey)) if hkey is not None else 0.0
        key = (r["env_id"], kwargs_key(kwargs), r["label"])
        cell = cells.setdefault(key, GrowthCell(r["env_id"], kwargs, hkey, r["label"], r["algo"],
                                                float(run_cell.target)))
        if float(run_cell.target) != cell.target:
            raise StoreError(f"threshold records of {cell.name} were measured at different targets "
                             f"({cell.target} and {run_cell.target}); report them separately")
        lo, hi = r["bracket"]
        seeds = cell.seeds.setdefault(horizon, [])
        if any(s.seed == r["seed"] for s in seeds):
            raise StoreError(f"two threshold records of {cell.name} for seed {r['seed']} "
                             f"at horizon {horizon:g}")
        hi = None if hi is None else int(hi)
        seeds.append(SeedThreshold(r["seed"], r["labels_to_target"], int(lo), hi))
        cell.max_budget[horizon] = max(cell.max_budget.get(horizon, 0), run_cell.max_budget)
        if FIRST_STATE_FIELDS[0] in r:
            cell.recorded_p[horizon] = r[FIRST_STATE_FIELDS[0]]
    return [cells[k] for k in sorted(cells)]


def fit_cell(cell: GrowthCell, n_boot: int = 500) -> None:
    """Fit ``cell`` with :func:`baselines.analysis.fits.fit_growth` (seeded: same data, same fit), or say why not."""
    from baselines.analysis.fits import Bracket, fit_growth

    if cell.horizon_key is None:
        cell.reason = f"no horizon: the env kwargs have none of {list(HORIZON_KEYS)}"
        return
    n_seeds = len({s.seed for ss in cell.seeds.values() for s in ss})
    reached = [h for h, ss in cell.seeds.items() if any(s.hi is not None for s in ss)]
    if len(reached) < 2:
        cell.reason = f"needs >= 2 horizons where some seed reached the target, has {len(reached)}"
        return
    if n_seeds < 2:
        cell.reason = "needs >= 2 seeds (the intervals bootstrap over seeds), has 1"
        return
    # a censored bracket with lo = 0 says nothing (the target was "not reached with no labels"): left out
    brackets = [Bracket(h, s.lo, s.hi, s.seed) for h, ss in cell.seeds.items() for s in ss
                if s.hi is not None or s.lo > 0]
    try:
        cell.fit = fit_growth(brackets, n_boot=n_boot).to_json()
    except (RuntimeError, ValueError) as err:
        cell.reason = f"fit failed: {err}"


def first_state_agreement(cell: GrowthCell) -> float | None:
    """``p`` of ``cell``'s noisy expert at the first state (at its smallest horizon); ``None`` if unknown.

    From the records (written since they carry it), else from the noise model
    (:func:`baselines.analysis.first_state.analytic_first_state`).
    """
    from baselines.analysis.first_state import analytic_first_state

    smallest = cell.horizons[0]
    if smallest in cell.recorded_p:
        return cell.recorded_p[smallest]
    kwargs = dict(cell.env_kwargs)
    if cell.horizon_key is not None:
        kwargs[cell.horizon_key] = _number(smallest)
    stats = analytic_first_state(kwargs)
    return None if stats is None else stats[0]


def analyse(records: list[dict[str, Any]], n_boot: int = 500) -> list[GrowthCell]:
    """Group, fit and attach ``p`` to every cell of ``records`` (successful threshold records)."""
    cells = group_cells(records)
    for cell in cells:
        fit_cell(cell, n_boot)
        cell.p = first_state_agreement(cell)
    return cells


def write_fits(cells: list[GrowthCell], directory: Path) -> Path:
    """Write ``directory/fits.json``: a list with one entry per cell (see :meth:`GrowthCell.to_json`)."""
    path = directory / FITS_FILE
    path.write_text(json.dumps([c.to_json() for c in cells], indent=2, allow_nan=False) + "\n")
    return path


# -- per-horizon summaries over seeds ------------------------------------------------------------------

@dataclass(frozen=True)
class HorizonSummary:
    """Seeds of one cell at one horizon: median labels [95% CI] (``inf``: censored), range, counts."""

    median: float
    median_at_least: float  # the median with censored seeds at their lower bound (== median if exact)
    ci: tuple[float, float] | None
    reached: list[int]
    n: int
    censored_above: int | None  # the smallest budget a censored seed was not reached within


def summarize(seeds: list[SeedThreshold]) -> HorizonSummary:
    """Median over seeds (censored = +inf) with a percentile bootstrap CI of the median (fixed seed)."""
    values = np.array([math.inf if s.labels is None else s.labels for s in seeds], dtype=float)
    floor = np.array([s.lo if s.labels is None else s.labels for s in seeds], dtype=float)
    ci = None
    if len(values) >= 2:
        idx = np.random.default_rng(CI_SEED).integers(0, len(values), (N_RESAMPLES, len(values)))
        medians = np.median(values[idx], axis=1)
        # an order statistic, not an interpolation: inf - inf would give nan
        lo, hi = np.quantile(medians, [0.025, 0.975], method="inverted_cdf")
        ci = (float(lo), float(hi))
    censored = [s.lo for s in seeds if s.labels is None]
    return HorizonSummary(float(np.median(values)), float(np.median(floor)), ci,
                          sorted(s.labels for s in seeds if s.labels is not None), len(seeds),
                          min(censored) if censored else None)


def _labels(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.0f}"


def _median_text(s: HorizonSummary) -> str:
    med = f"> {s.median_at_least:.0f}" if math.isinf(s.median) else f"{s.median:.0f}"
    ci = "n/a" if s.ci is None else f"[{_labels(s.ci[0])}, {_labels(s.ci[1])}]"
    return f"{med} {ci}"


def _range_text(s: HorizonSummary) -> str:
    if not s.reached:
        return "-"
    top = f"> {s.censored_above}" if s.censored_above is not None else str(s.reached[-1])
    return f"{s.reached[0]} to {top}" if len(s.reached) + (s.censored_above is not None) > 1 else top


def _reached_text(s: HorizonSummary) -> str:
    text = f"{len(s.reached)}/{s.n} reached"
    if s.censored_above is not None:
        text += f"; {s.n - len(s.reached)} > {s.censored_above}"
    return text


def _ci_text(value: float, ci: list[float] | None, digits: int) -> str:
    return f"{value:.{digits}f}" + ("" if ci is None else f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]")


def threshold_tables(cells: list[GrowthCell]) -> list[str]:
    """The markdown lines of the threshold report: per env, labels-to-target per horizon, then the fits."""
    lines: list[str] = []
    for env_id in sorted({c.env_id for c in cells}):
        env_cells = [c for c in cells if c.env_id == env_id]
        common, varying = varying_kwargs(env_cells)  # type: ignore[arg-type]  (duck-typed: .env_kwargs)
        fixed = ", ".join(f"{k}={v}" for k, v in common.items())
        hkey = next((c.horizon_key for c in env_cells if c.horizon_key), None) or "horizon"
        target = env_cells[0].target
        lines += [f"### {env_id}" + (f" ({fixed})" if fixed else ""), "",
                  f"Labels to reach success >= {target} per seed: median over seeds [95% bootstrap CI of the "
                  "median; seeds not reached count as +inf], range over seeds, seeds that reached it.", ""]
        head = [*varying, "algorithm", hkey, "seeds", "median labels [95% CI]", "range", "reached"]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for c in env_cells:
            for h in c.horizons:
                s = summarize(c.seeds[h])
                cols = [str(c.env_kwargs.get(k, "-")) for k in varying]
                cols += [c.label, f"{h:g}" if c.horizon_key else "-", str(s.n), _median_text(s),
                         _range_text(s), _reached_text(s)]
                lines.append("| " + " | ".join(cols) + " |")
        lines += ["", f"Growth of labels-to-target with {hkey} (fits over seeds, brackets as intervals, "
                  "unreached seeds censored): exponential `log T = a + r H`, power `log T = a + b log H`, "
                  "95% bootstrap CIs over seeds; log(1/p) is the analytic offline rate (p: the noisy "
                  "expert's agreement with the clean expert at the first state).", ""]
        head = [*varying, "algorithm", f"{hkey}s", "seeds", "rate r [95% CI]", "log(1/p)",
                "exponent b [95% CI]", "preferred", "evidence"]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for c in env_cells:
            cols = [str(c.env_kwargs.get(k, "-")) for k in varying]
            rate = "-" if c.analytic_rate is None else f"{c.analytic_rate:.3f}"
            hs = ", ".join(f"{h:g}" for h in c.horizons) if c.horizon_key else "-"
            n_seeds = str(len({s.seed for ss in c.seeds.values() for s in ss}))
            if c.fit is None:
                cols += [c.label, hs, n_seeds, "-", rate, "-", "not fitted", c.reason]
            else:
                f = c.fit
                cols += [c.label, hs, n_seeds, _ci_text(f["exp_rate"], f["exp_rate_ci"], 3), rate,
                         _ci_text(f["power_exponent"], f["power_exponent_ci"], 2), f["preferred"],
                         f["evidence"]]
            lines.append("| " + " | ".join(cols) + " |")
        lines.append("")
    return lines
