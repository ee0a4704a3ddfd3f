"""Plots of a ``measure: threshold`` sweep (matplotlib, Agg), one PNG per plot and env id.

(a) ``threshold_vs_horizon_<env>.png``: labels-to-target vs horizon (log y), one panel per env kwargs
    combination (without the horizon), a colour per algorithm: every seed as a point at its labels with
    its bracket as a thin vertical segment, seeds that never reached the target as an upward triangle
    at the budget they were not reached within; the fitted median curve of the preferred model (both
    dashed when undecided: exponential ``--``, power ``:``), and the offline prediction
    ``C_OFF * p^-H * L`` (black, as in :func:`baselines.report.plots.plot_labels_to_target`), and on the lock
    the information floor of :func:`baselines.analysis.information.task_floor` (grey);
(b) ``bc_rate_vs_log_inv_p_<env>.png``: BC's fitted exponential rate (95% CI) against the analytic
    ``log(1/p)`` with the line ``y = x``, when BC was fitted at >= 2 noise levels of one noise model;
(c) ``reached_vs_noise_<env>.png``: at each horizon measured at >= 3 noise levels of one noise model,
    the fraction of seeds that reached the target within ``max_budget`` (Clopper-Pearson 95% CI) and
    every seed's labels-to-target against the noise level, a colour per algorithm; for ``fixed_wrong``
    noise a line at epsilon = 1/2, where the hidden wrong action becomes the expert's mode.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from baselines.analysis.information import FLOOR_DELTA, task_floor
from baselines.report.plots import _pyplot, _save_line_plot, _slug
from baselines.analysis.summary import NOISE_LEVEL_KEYS, kwargs_key
from baselines.analysis.growth import GrowthCell

RATE_ALGOS = ("bc",)  # the learners whose fitted rate plot (b) sets against log(1/p)


def _finish(plt: object, fig: object, title: str, path: Path) -> Path:
    """Title, lay out, save (dpi 110) and close a multi-panel figure."""
    fig.suptitle(title, fontsize=9)  # type: ignore[attr-defined]
    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(path, dpi=110)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[attr-defined]
    return path


def _panel_title(cell: GrowthCell) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(cell.env_kwargs.items())) or cell.env_id


def _draw_cell(ax: object, cell: GrowthCell, color: str, offset: float) -> None:
    """One algorithm's seeds (points, brackets, censoring triangles) and fitted curves on ``ax``."""
    legend = f"{cell.label}: not fitted" if cell.fit is None else None  # fitted: named by their curves
    censored_legend = True  # the first censored seed names what the triangles mean
    for h in cell.horizons:
        seeds = cell.seeds[h]
        xs = h * (1 + offset + 0.015 * (np.arange(len(seeds)) - (len(seeds) - 1) / 2) / max(len(seeds), 1))
        for x, s in zip(xs, seeds):
            if s.labels is None:
                ax.scatter([x], [s.lo], marker="^", facecolors="none", edgecolors=color, s=40, lw=1.0, zorder=3,
                           label=f"{cell.label}: not reached ≤ {s.lo:.0f} labels (censored)" if censored_legend else None)
                censored_legend = False
            else:
                if s.lo > 0:
                    ax.plot([x, x], [s.lo, s.hi], color=color, lw=0.6, alpha=0.7)
                ax.scatter([x], [s.labels], color=color, s=10, alpha=0.8, label=legend)
                legend = None
    if cell.fit is None:
        return
    hs = np.linspace(min(cell.horizons), max(cell.horizons), 100)
    exp_curve = np.exp(cell.fit["exp_intercept"] + cell.fit["exp_rate"] * hs)
    pow_curve = np.exp(cell.fit["power_intercept"] + cell.fit["power_exponent"] * np.log(hs))
    rate, expo = cell.fit["exp_rate"], cell.fit["power_exponent"]
    if cell.fit["preferred"] == "exponential":
        ax.plot(hs, exp_curve, color=color, lw=1.5, label=f"{cell.label}: exp. fit e^({rate:.3f}·H)")
    elif cell.fit["preferred"] == "power":
        ax.plot(hs, pow_curve, color=color, lw=1.5, label=f"{cell.label}: power fit H^{expo:.2f}")
    else:
        ax.plot(hs, exp_curve, "--", color=color, lw=1.1,
                label=f"{cell.label}: undecided; exp. e^({rate:.3f}·H)")
        ax.plot(hs, pow_curve, ":", color=color, lw=1.3, label=f"{cell.label}: undecided; power H^{expo:.2f}")


def plot_threshold_vs_horizon(cells: list[GrowthCell], env_id: str, out: Path) -> tuple[Path | None, str]:
    from baselines.analysis.theory import offline_labels

    env_cells = [c for c in cells if c.env_id == env_id and c.horizon_key is not None]
    panels = sorted({kwargs_key(c.env_kwargs) for c in env_cells})
    if not any(len(c.horizons) >= 2 for c in env_cells):
        return None, f"labels-to-target vs horizon skipped for {env_id}: fewer than 2 horizons"
    plt = _pyplot()
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 4.4 * nrows), squeeze=False)
    labels = sorted({c.label for c in env_cells})
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    for ax, panel in zip(axes.flat, panels):
        sel = [c for c in env_cells if kwargs_key(c.env_kwargs) == panel]
        for c in sel:
            offset = 0.02 * (labels.index(c.label) - (len(labels) - 1) / 2)  # algorithms side by side
            _draw_cell(ax, c, colors[c.label], offset)
        hs = np.array(sorted({h for c in sel for h in c.horizons}), dtype=float)
        p = next((c.p for c in sel if c.p is not None), None)
        if p is not None and 0 < p < 1:
            ax.plot(hs, [offline_labels(p, h) for h in hs], "k--", lw=0.9,
                    label=f"offline prediction 4.5·L·p^-H (p={p:.3f})")
        floor = [task_floor(env_id, sel[0].env_kwargs, h) for h in hs]
        if None not in floor:
            ax.plot(hs, floor, color="0.45", lw=2.0, alpha=0.6,
                    label=f"information floor (ideal learner, δ={FLOOR_DELTA})")
        ax.set_yscale("log")
        # the p^-H line explodes at horizons only on-policy learners were run at: keep the data readable
        data = [v for c in sel for ss in c.seeds.values() for s in ss for v in (s.lo, s.hi) if v]
        if data:
            ax.set_ylim(top=max(ax.get_ylim()[0] * 10, 5 * max(data)))
        ax.set_xlabel(sel[0].horizon_key)
        ax.set_ylabel(f"labels to reach success >= {sel[0].target}")
        ax.set_title(_panel_title(sel[0]), fontsize=9)
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=6.5)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    return _finish(plt, fig, f"{env_id}: labels-to-target per seed\n(bars: brackets; ^: not reached within that "
                   "budget)", out / f"threshold_vs_horizon_{_slug(env_id)}.png"), ""


def _rate_series(cells: list[GrowthCell], env_id: str) -> dict[str, list[GrowthCell]]:
    """Fitted RATE_ALGOS cells with a known ``log(1/p)``, per (label, kwargs without the noise level),
    keeping only series that span >= 2 noise levels."""
    series: dict[str, list[GrowthCell]] = {}
    for c in cells:
        level_key = next((k for k in NOISE_LEVEL_KEYS if k in c.env_kwargs), None)
        if c.env_id != env_id or c.algo not in RATE_ALGOS or c.fit is None or c.analytic_rate is None \
                or level_key is None:
            continue
        rest = {k: v for k, v in c.env_kwargs.items() if k != level_key}
        name = f"{c.label} " + ", ".join(f"{k}={v}" for k, v in sorted(rest.items()))
        series.setdefault(name, []).append(c)
    return {name: cs for name, cs in series.items() if len(cs) >= 2}


def plot_rate_vs_log_inv_p(cells: list[GrowthCell], env_id: str, out: Path) -> tuple[Path | None, str]:
    series = _rate_series(cells, env_id)
    if not series:
        return None, (f"fitted rate vs log(1/p) skipped for {env_id}: no {'/'.join(RATE_ALGOS)} fits at >= 2 "
                      "noise levels of one noise model")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    xs_all: list[float] = []
    bottom = 0.0
    for i, (name, cs) in enumerate(sorted(series.items())):
        cs = sorted(cs, key=lambda c: c.analytic_rate or 0.0)
        xs = [c.analytic_rate for c in cs]
        fits = [c.fit for c in cs if c.fit is not None]
        ys = [f["exp_rate"] for f in fits]
        errs = np.array([(0.0, 0.0) if f["exp_rate_ci"] is None else
                         (f["exp_rate"] - f["exp_rate_ci"][0], f["exp_rate_ci"][1] - f["exp_rate"])
                         for f in fits]).T
        ax.errorbar(xs, ys, yerr=errs, marker="os^Dv"[i % 5], capsize=3, ls="none", label=name)
        xs_all += [x for x in xs if x is not None]
        xs_all += [y + e for y, e in zip(ys, errs[1])]
        bottom = min(bottom, *(y - e for y, e in zip(ys, errs[0])))
    top = 1.1 * max(xs_all)
    ax.plot([0, top], [0, top], "k--", lw=0.9, label="y = x")
    ax.set_xlim(0, top)
    ax.set_ylim(1.1 * bottom, top)
    path = _save_line_plot(plt, fig, ax, "analytic offline rate log(1/p)",
                           "fitted exponential rate r (95% CI)",
                           f"{env_id}: fitted rate of labels-to-target vs log(1/p)",
                           out / f"bc_rate_vs_log_inv_p_{_slug(env_id)}.png")
    return path, ""


def _noise_series(cells: list[GrowthCell], env_id: str) -> dict[tuple[str, float], dict[str, list[tuple[float, GrowthCell]]]]:
    """Per (kwargs without noise level, horizon): per label, (noise level, cell) pairs; >= 3 levels only."""
    series: dict[tuple[str, float], dict[str, list[tuple[float, GrowthCell]]]] = {}
    for c in cells:
        level_key = next((k for k in NOISE_LEVEL_KEYS if k in c.env_kwargs), None)
        if c.env_id != env_id or level_key is None:
            continue
        rest = ", ".join(f"{k}={v}" for k, v in sorted(c.env_kwargs.items()) if k != level_key)
        for h in c.horizons:
            series.setdefault((rest, h), {}).setdefault(c.label, []).append((float(c.env_kwargs[level_key]), c))
    return {key: by_label for key, by_label in series.items()
            if any(len({lvl for lvl, _ in pairs}) >= 3 for pairs in by_label.values())}


def plot_reached_vs_noise(cells: list[GrowthCell], env_id: str, out: Path) -> tuple[Path | None, str]:
    from scipy.stats import binomtest

    series = _noise_series(cells, env_id)
    if not series:
        return None, f"reached vs noise level skipped for {env_id}: no horizon measured at >= 3 noise levels"
    plt = _pyplot()
    fig, axes = plt.subplots(len(series), 2, figsize=(11.0, 4.2 * len(series)), squeeze=False)
    labels = sorted({label for by_label in series.values() for label in by_label})
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    for (share, frac), ((rest, h), by_label) in zip(axes, sorted(series.items())):
        some_cell = next(c for pairs in by_label.values() for _, c in pairs)
        for j, (label, pairs) in enumerate(sorted(by_label.items())):
            pairs = sorted(pairs, key=lambda pair: pair[0])
            levels = np.array([lvl for lvl, _ in pairs])
            dx = 0.004 * (j - (len(by_label) - 1) / 2)  # algorithms side by side
            ks = [sum(s.labels is not None for s in c.seeds[h]) for _, c in pairs]
            ns = [len(c.seeds[h]) for _, c in pairs]
            cis = [binomtest(k, n).proportion_ci(0.95, method="exact") for k, n in zip(ks, ns)]
            rates = np.array([k / n for k, n in zip(ks, ns)])
            err = np.array([(r - ci.low, ci.high - r) for r, ci in zip(rates, cis)]).T
            budget = max(c.max_budget[h] for _, c in pairs)
            share.errorbar(levels + dx, rates, yerr=err, marker="o", capsize=3, color=colors[label],
                           label=f"{label} (within {budget} labels)")
            for lvl, c in pairs:
                got = [s.labels for s in c.seeds[h] if s.labels is not None]
                frac.scatter([lvl + dx] * len(got), got, s=10, alpha=0.7, color=colors[label],
                             label=label if lvl == pairs[0][0] else None)
        for ax in (share, frac):
            if some_cell.env_kwargs.get("noise") == "fixed_wrong":
                ax.axvline(0.5, color="k", ls="--", lw=0.9, label="ε = ½: the wrong action becomes the mode")
            ax.set_xlabel("noise level (epsilon)")
            ax.grid(True, alpha=0.3, which="both")
            ax.legend(fontsize=6.5)
        frac.set_xlim(share.get_xlim())  # levels no seed reached have no points on the right panel
        share.set_ylim(-0.05, 1.05)
        share.set_ylabel(f"fraction of seeds reaching {some_cell.target}")
        frac.set_yscale("log")
        frac.set_ylabel("labels-to-target (reached seeds)")
        title = f"{rest}, {some_cell.horizon_key}={h:g}" if some_cell.horizon_key else rest
        share.set_title(title, fontsize=9)
        frac.set_title(title, fontsize=9)
    return _finish(plt, fig, f"{env_id}: reaching the target vs noise level (bars: Clopper-Pearson 95% CI over "
                   "seeds)", out / f"reached_vs_noise_{_slug(env_id)}.png"), ""


def draw_threshold_plots(cells: list[GrowthCell], out: Path) -> tuple[list[Path], list[str]]:
    """The plots for every env id of ``cells``: the paths written, and a note per skipped plot."""
    import warnings

    paths: list[Path] = []
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for env_id in sorted({c.env_id for c in cells}):
            for fn in (plot_threshold_vs_horizon, plot_rate_vs_log_inv_p, plot_reached_vs_noise):
                path, note = fn(cells, env_id, out)
                paths.append(path) if path is not None else notes.append(note)
    return paths, notes
