"""The report's plots (matplotlib, Agg), one PNG per plot and env id, written into the results directory.

(a) ``return_vs_budget_<env>.png``: normalized return vs label budget (log x), one line per
    algorithm, one panel per env kwargs combination;
(b) ``labels_to_target_<env>.png``: labels needed to reach ``target`` success (smallest budget of the
    grid whose mean success >= target) vs horizon (log y), per algorithm, with the offline prediction
    ``C_OFF * p^-H * L`` (p = the oracle's agreement at the first state, from
    :mod:`baselines.analysis.first_state`) and the OPD estimate overlaid (see :mod:`baselines.diagnose`); drawn when the grid has >= 2 horizons;
(c) ``return_vs_noise_<env>.png``: normalized return vs noise level at each algorithm's largest
    budget, when the grid has >= 2 noise levels;
(d) ``success_vs_horizon_<env>.png``: success (or normalized return) vs horizon at each algorithm's
    largest budget, with 95% CIs, when the grid has >= 2 horizons (the fixed-budget view).

Each ``plot_*`` returns ``(path, "")``, or ``(None, note)`` saying why the plot was skipped.

So that no plot can be misread: every algorithm has its own marker and a small horizontal offset
(learners with equal values stay visible side by side); measured values are markers only, never
joined by lines (nothing was measured between grid points); a target not reached within the grid
is drawn as censored, an upward arrow from the largest budget tried, labelled "not reached <= B labels".
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from baselines.analysis.summary import (HORIZON_KEYS, NOISE_LEVEL_KEYS, Row, Stat, at_largest_budget, grid_key, kwargs_key,
                             smallest_budget_reaching, varying_kwargs)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


MARKERS = ("o", "s", "D", "v", "P", "X", "<", ">", "h", "*")
#: Horizontal spread of the algorithms' markers at one x, as a fraction of the axis' data range
#: (linear axes) or of a decade (log axes).
OFFSET = 0.025
MEASURED_NOTE = "markers: measured grid points only (no lines: nothing measured in between)"


def _style(labels: list[str], label: str) -> dict[str, Any]:
    """``label``'s colour and marker, fixed by its place among ``labels`` (the same in every plot)."""
    i = labels.index(label)
    return {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)]}


def _shifted(xs: Any, labels: list[str], label: str, span: float, log: bool = False) -> np.ndarray:
    """``xs`` moved by ``label``'s offset: the algorithms spread symmetrically around each x."""
    shift = (labels.index(label) - (len(labels) - 1) / 2) * OFFSET * span
    xs = np.asarray(xs, dtype=float)
    return xs * 10 ** shift if log else xs + shift


def _span(values: Any) -> float:
    values = [float(v) for v in values]
    return (max(values) - min(values)) or 1.0


def _err(stat: Stat) -> tuple[float, float]:
    mean, lo, hi = stat
    return (0.0, 0.0) if lo is None else (mean - lo, hi - mean)


def plot_return_vs_budget(rows: list[Row], env_id: str, out: Path) -> tuple[Path | None, str]:
    env_rows = [r for r in rows if r.env_id == env_id]
    budgets = {r.budget for r in env_rows}
    if len(budgets) < 2:
        return None, f"return vs budget skipped for {env_id}: the grid has fewer than 2 budgets"
    plt = _pyplot()
    _, varying = varying_kwargs(env_rows)
    panels = sorted({kwargs_key({k: r.env_kwargs.get(k) for k in varying}) for r in env_rows})
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.4 * nrows), squeeze=False, sharey=True)
    labels = sorted({r.label for r in env_rows})
    for ax, panel in zip(axes.flat, panels):
        sel = [r for r in env_rows if kwargs_key({k: r.env_kwargs.get(k) for k in varying}) == panel]
        for label in labels:
            pts = sorted((r for r in sel if r.label == label), key=lambda r: r.budget)
            if not pts:
                continue
            errs = np.array([_err(r.norm_return) for r in pts]).T
            ax.errorbar(_shifted([r.budget for r in pts], labels, label, 1.0, log=True),
                        [r.norm_return[0] for r in pts], yerr=errs, linestyle="none", capsize=3, label=label,
                        **_style(labels, label))
        ax.set_xscale("log")
        ax.set_title(", ".join(f"{k}={v}" for k, v in json.loads(panel).items()) or env_id, fontsize=9)
        ax.set_xlabel("label budget")
        ax.set_ylabel("normalized return")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{env_id}: normalized return vs label budget (95% CI over seeds)\n{MEASURED_NOTE}", fontsize=9)
    fig.tight_layout()
    path = out / f"return_vs_budget_{_slug(env_id)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, ""


def plot_labels_to_target(rows: list[Row], env_id: str, target: float, out: Path) -> tuple[Path | None, str]:
    from baselines.analysis.theory import offline_labels, opd_labels
    from baselines.analysis.first_state import first_state_stats

    env_rows, hkey = _over_grid_key(rows, env_id, HORIZON_KEYS)
    if hkey is None:
        return None, f"labels-to-target vs horizon skipped for {env_id}: the grid has fewer than 2 horizons"
    reach = smallest_budget_reaching(env_rows, target)
    plt = _pyplot()
    # one figure; lines per (label, other kwargs) — other kwargs usually fixed
    others = sorted({kwargs_key({k: v for k, v in r.env_kwargs.items() if k != hkey}) for r in env_rows})
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    labels = sorted({r.label for r in env_rows})
    span = _span(r.env_kwargs[hkey] for r in env_rows)
    for other in others:
        suffix = "" if len(others) == 1 else " " + ",".join(f"{k}={v}" for k, v in json.loads(other).items())
        horizons_all: set[int] = set()  # this series' horizons (its prediction lines span them)
        for label in labels:
            reached: list[tuple[int, int, int | None]] = []  # (horizon, budget that reached, largest below it)
            missed: dict[int, list[int]] = {}  # largest budget tried -> horizons not reached within it
            for (eid, kw, lab), budget in reach.items():
                kwargs = json.loads(kw)
                if lab != label or kwargs_key({k: v for k, v in kwargs.items() if k != hkey}) != other:
                    continue
                h = kwargs[hkey]
                horizons_all.add(h)
                tried = sorted({r.budget for r in env_rows if r.label == label and kwargs_key(r.env_kwargs) == kw})
                if budget is None:
                    missed.setdefault(tried[-1], []).append(h)
                else:
                    below = [b for b in tried if b < budget]
                    reached.append((h, budget, below[-1] if below else None))
            style = _style(labels, label)
            if reached:
                reached.sort()
                ys = np.array([b for _, b, _ in reached], dtype=float)
                lows = np.array([b - lo if lo is not None else 0.0 for _, b, lo in reached])
                ax.errorbar(_shifted([h for h, _, _ in reached], labels, label, span), ys,
                            yerr=[lows, np.zeros_like(lows)], linestyle="none", capsize=3, label=label + suffix,
                            **style)
            for cap, hs_missed in sorted(missed.items()):
                # censored: the threshold is above the largest budget tried; an arrow up from it, hollow marker
                xs = _shifted(sorted(hs_missed), labels, label, span)
                ax.errorbar(xs, [cap] * len(xs), yerr=[[0.0] * len(xs), [cap * 0.8] * len(xs)], lolims=True,
                            linestyle="none", capsize=4, mfc="none", color=style["color"], marker=style["marker"],
                            label=f"{label}{suffix}: not reached ≤ {cap} labels")
        other_kwargs = json.loads(other)
        hs = np.array(sorted(horizons_all), dtype=float)
        first_kwargs = {**other_kwargs, hkey: int(hs[0])}
        recorded = next((r.first_state for r in env_rows if r.env_kwargs == first_kwargs and r.first_state), None)
        stats = first_state_stats(first_kwargs, recorded)
        if stats is not None and 0 < stats[0] < 1:
            p, margin = stats
            ax.plot(hs, [offline_labels(p, h) for h in hs], "k--", lw=1,
                    label=f"offline prediction 4.5·L·p^-H (p={p:.3f}){suffix}")
            if margin > 0:
                ax.plot(hs, [opd_labels(h, margin) for h in hs], "k:", lw=1,
                        label=f"OPD estimate H(H+1)/2 + H·m(margin {margin:.2f}){suffix}")
    ax.set_yscale("log")
    ax.set_xlabel(hkey)
    ax.set_ylabel(f"labels to reach success >= {target}")
    ax.set_title(f"{env_id}: labels to target vs {hkey}\nmarker: smallest budget of the grid reaching it, bar: "
                 f"down to the next smaller budget tried (not reached)\n{MEASURED_NOTE}; black lines: theory",
                 fontsize=8)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"labels_to_target_{_slug(env_id)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, ""


def _save_line_plot(plt: Any, fig: Any, ax: Any, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _over_grid_key(rows: list[Row], env_id: str, keys: tuple[str, ...]) -> tuple[list[Row], str | None]:
    """``env_id``'s rows, and the first of ``keys`` they vary (``None``: nothing to plot against)."""
    env_rows = [r for r in rows if r.env_id == env_id]
    return env_rows, grid_key(env_rows, keys)


def plot_return_vs_noise(rows: list[Row], env_id: str, out: Path) -> tuple[Path | None, str]:
    env_rows, nkey = _over_grid_key(rows, env_id, NOISE_LEVEL_KEYS)
    if nkey is None:
        return None, f"return vs noise level skipped for {env_id}: the grid has fewer than 2 noise levels"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    labels = sorted({r.label for r in env_rows})
    span = _span(r.env_kwargs[nkey] for r in env_rows)
    for label in labels:
        top, at_top = at_largest_budget(env_rows, label, nkey)
        by_level: dict[float, list[Row]] = {}
        for r in at_top:
            by_level.setdefault(r.env_kwargs[nkey], []).append(r)
        levels = sorted(by_level)
        means = [float(np.mean([r.norm_return[0] for r in by_level[lv]])) for lv in levels]
        ax.plot(_shifted(levels, labels, label, span), means, linestyle="none", label=f"{label} (budget {top})",
                **_style(labels, label))
    path = _save_line_plot(plt, fig, ax, nkey, "normalized return (mean over seeds and other kwargs)",
                           f"{env_id}: return vs noise level\n{MEASURED_NOTE}",
                           out / f"return_vs_noise_{_slug(env_id)}.png")
    return path, ""


def plot_success_vs_horizon(rows: list[Row], env_id: str, out: Path) -> tuple[Path | None, str]:
    env_rows, hkey = _over_grid_key(rows, env_id, HORIZON_KEYS)
    if hkey is None:
        return None, f"success vs horizon skipped for {env_id}: the grid has fewer than 2 horizons"
    use_success = all(r.success is not None for r in env_rows)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    labels = sorted({r.label for r in env_rows})
    span = _span(r.env_kwargs[hkey] for r in env_rows)
    for label in labels:
        top, at_top = at_largest_budget(env_rows, label, hkey)
        pts = sorted(at_top, key=lambda r: r.env_kwargs[hkey])
        stats = [r.success if use_success else r.norm_return for r in pts]
        errs = np.array([_err(st) for st in stats]).T  # type: ignore[arg-type]
        ax.errorbar(_shifted([r.env_kwargs[hkey] for r in pts], labels, label, span), [st[0] for st in stats],  # type: ignore[index]
                    yerr=errs, linestyle="none", capsize=3, label=f"{label} (budget {top})", **_style(labels, label))
    metric = "success rate" if use_success else "normalized return"
    path = _save_line_plot(plt, fig, ax, hkey, metric,
                           f"{env_id}: {metric} vs {hkey} (95% CI over seeds)\n{MEASURED_NOTE}",
                           out / f"success_vs_horizon_{_slug(env_id)}.png")
    return path, ""


def draw_all(rows: list[Row], target: float, out: Path) -> tuple[list[Path], list[str]]:
    """Every plot for every env id of ``rows``: the paths written, and a note per skipped plot."""
    import warnings

    paths: list[Path] = []
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for env_id in sorted({r.env_id for r in rows}):
            for fn, args in ((plot_return_vs_budget, (rows, env_id, out)),
                             (plot_labels_to_target, (rows, env_id, target, out)),
                             (plot_return_vs_noise, (rows, env_id, out)),
                             (plot_success_vs_horizon, (rows, env_id, out))):
                path, note = fn(*args)
                paths.append(path) if path is not None else notes.append(note)
    return paths, notes
