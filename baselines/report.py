"""Tables and plots from a results directory (``noisy-expert-bench report DIR``).

Cells are grouped over seeds: one row per (env, env kwargs, algorithm label, budget). Each row shows
the mean and a 95% bootstrap confidence interval over seeds (``scipy.stats.bootstrap``, percentile
method, fixed seed; "n/a" with a single seed) of the success rate and the normalized return. Plots
(matplotlib, Agg):

(a) ``return_vs_budget_<env>.png``: normalized return vs label budget (log x), one line per
    algorithm, one panel per env kwargs combination;
(b) ``labels_to_target_<env>.png``: labels needed to reach ``target`` success (smallest budget of the
    grid whose mean success >= target) vs horizon (log y), per algorithm, with the offline prediction
    ``C_OFF * p^-H * L`` (p = the oracle's agreement at the first state) and the OPD estimate overlaid
    (see :mod:`baselines.diagnose`); drawn when the grid has >= 2 horizons;
(c) ``return_vs_noise_<env>.png``: normalized return vs noise level at each algorithm's largest
    budget, when the grid has >= 2 noise levels;
(d) ``success_vs_horizon_<env>.png``: success (or normalized return) vs horizon at each algorithm's
    largest budget, with 95% CIs, when the grid has >= 2 horizons (the fixed-budget view).

A plot without data is skipped with a note in ``report.md``.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baselines.store import RESULTS_FILE, describe_failure, read_records

NOISE_LEVEL_KEYS = ("epsilon", "sigma", "temperature", "repeat_prob")
HORIZON_KEYS = ("horizon", "chain_length")
CI_SEED = 0
N_RESAMPLES = 2000


def mean_ci(values: list[float]) -> tuple[float, float | None, float | None]:
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
    success: tuple[float, float | None, float | None] | None
    norm_return: tuple[float, float | None, float | None]
    labels_used: float
    wall_time_s: float


@dataclass
class Report:
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    markdown: str = ""


def _kw_key(kwargs: dict[str, Any]) -> str:
    return json.dumps(kwargs, sort_keys=True, default=repr)


def build_rows(records: list[dict[str, Any]]) -> list[Row]:
    """Group successful records over seeds into rows, sorted by env, kwargs, label, budget."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["env_id"], _kw_key(r["env_kwargs"]), r["label"], int(r["budget"])), []).append(r)
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
        ))
    rows.sort(key=lambda r: (r.env_id, sorted(r.env_kwargs.items(), key=str), r.label, r.budget))
    return rows


def _fmt(stat: tuple[float, float | None, float | None] | None) -> str:
    if stat is None:
        return "-"
    mean, lo, hi = stat
    ci = "n/a" if lo is None else f"[{lo:.2f}, {hi:.2f}]"
    return f"{mean:.2f} {ci}"


def _varying(rows: list[Row]) -> tuple[dict[str, Any], list[str]]:
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


def markdown_table(rows: list[Row]) -> str:
    """The report's tables, one per env id, in markdown."""
    out = []
    for env_id in sorted({r.env_id for r in rows}):
        env_rows = [r for r in rows if r.env_id == env_id]
        common, varying = _varying(env_rows)
        fixed = ", ".join(f"{k}={v}" for k, v in common.items())
        out.append(f"### {env_id}" + (f" ({fixed})" if fixed else ""))
        out.append("")
        head = [*varying, "algorithm", "budget", "seeds", "success mean [95% CI]", "norm. return mean [95% CI]",
                "labels used", "wall s"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---" for _ in head) + "|")
        for r in env_rows:
            cells = [str(r.env_kwargs.get(k, "-")) for k in varying]
            cells += [r.label, str(r.budget), str(len(r.seeds)), _fmt(r.success), _fmt(r.norm_return),
                      f"{r.labels_used:.0f}", f"{r.wall_time_s:.1f}"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _err(stat: tuple[float, float | None, float | None]) -> tuple[float, float]:
    mean, lo, hi = stat
    return (0.0, 0.0) if lo is None else (mean - lo, hi - mean)


def plot_return_vs_budget(rows: list[Row], env_id: str, out: Path) -> tuple[Path | None, str]:
    env_rows = [r for r in rows if r.env_id == env_id]
    budgets = {r.budget for r in env_rows}
    if len(budgets) < 2:
        return None, f"return vs budget skipped for {env_id}: the grid has fewer than 2 budgets"
    plt = _pyplot()
    _, varying = _varying(env_rows)
    panels = sorted({_kw_key({k: r.env_kwargs.get(k) for k in varying}) for r in env_rows})
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.4 * nrows), squeeze=False, sharey=True)
    for ax, panel in zip(axes.flat, panels):
        sel = [r for r in env_rows if _kw_key({k: r.env_kwargs.get(k) for k in varying}) == panel]
        for label in sorted({r.label for r in sel}):
            pts = sorted((r for r in sel if r.label == label), key=lambda r: r.budget)
            errs = np.array([_err(r.norm_return) for r in pts]).T
            ax.errorbar([r.budget for r in pts], [r.norm_return[0] for r in pts], yerr=errs, marker="o",
                        capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_title(", ".join(f"{k}={v}" for k, v in json.loads(panel).items()) or env_id, fontsize=9)
        ax.set_xlabel("label budget")
        ax.set_ylabel("normalized return")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{env_id}: normalized return vs label budget (95% CI over seeds)", fontsize=10)
    fig.tight_layout()
    path = out / f"return_vs_budget_{_slug(env_id)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, ""


def labels_to_target(rows: list[Row], target: float) -> dict[tuple[str, str, str], int | None]:
    """Per (env id, kwargs key, label): the smallest budget whose mean success (or normalized return,
    for tasks without success) is >= ``target``; ``None`` if no budget of the grid reaches it."""
    found: dict[tuple[str, str, str], int | None] = {}
    for r in sorted(rows, key=lambda r: r.budget):
        key = (r.env_id, _kw_key(r.env_kwargs), r.label)
        score = r.success[0] if r.success is not None else r.norm_return[0]
        found.setdefault(key, None)
        if found[key] is None and score >= target:
            found[key] = r.budget
    return found


def plot_labels_to_target(rows: list[Row], env_id: str, target: float, out: Path) -> tuple[Path | None, str]:
    from baselines.diagnose import depth0_stats, offline_labels, opd_labels

    env_rows = [r for r in rows if r.env_id == env_id]
    hkey = _grid_key(env_rows, HORIZON_KEYS)
    if hkey is None:
        return None, f"labels-to-target vs horizon skipped for {env_id}: the grid has fewer than 2 horizons"
    reach = labels_to_target(env_rows, target)
    plt = _pyplot()
    # one figure; lines per (label, other kwargs) — other kwargs usually fixed
    others = sorted({_kw_key({k: v for k, v in r.env_kwargs.items() if k != hkey}) for r in env_rows})
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    max_budget = max(r.budget for r in env_rows)
    miss_series = 0  # each series' "not reached" markers sit a little higher, so they never overlap
    for other in others:
        suffix = "" if len(others) == 1 else " " + ",".join(f"{k}={v}" for k, v in json.loads(other).items())
        horizons_all: set[int] = set()  # this series' horizons (its prediction lines span them)
        for label in sorted({r.label for r in env_rows}):
            xs, ys, miss = [], [], []
            for (eid, kw, lab), budget in reach.items():
                kwargs = json.loads(kw)
                if lab != label or _kw_key({k: v for k, v in kwargs.items() if k != hkey}) != other:
                    continue
                horizons_all.add(kwargs[hkey])
                (xs.append(kwargs[hkey]), ys.append(budget)) if budget is not None else miss.append(kwargs[hkey])
            order = np.argsort(xs)
            line = ax.plot(np.asarray(xs)[order], np.asarray(ys)[order], marker="o", label=label + suffix)[0]
            if miss:
                ax.scatter(miss, [max_budget * 1.6 * 1.3 ** miss_series] * len(miss), marker="^", facecolors="none",
                           edgecolors=line.get_color(), label=f"{label}{suffix}: not reached in grid")
                miss_series += 1
        other_kwargs = json.loads(other)
        hs = np.array(sorted(horizons_all), dtype=float)
        try:
            stats = depth0_stats(env_id, {**other_kwargs, hkey: int(hs[0])})
        except Exception:  # noqa: BLE001  (the prediction is a decoration; the data plot stands alone)
            stats = None
        if stats is not None and 0 < stats[0] < 1:
            p, margin = stats
            ax.plot(hs, [offline_labels(p, h) for h in hs], "k--", lw=1,
                    label=f"offline prediction 4.5·L·p^-H (p={p:.3f}){suffix}")
            if margin > 0:
                ax.plot(hs, [opd_labels(h, margin) for h in hs], "k:", lw=1,
                        label=f"OPD estimate H(H+1)/2 + H·m(margin {margin:.2f}){suffix}")
    ax.axhline(max_budget, color="grey", lw=0.8, alpha=0.6)
    ax.set_yscale("log")
    ax.set_xlabel(hkey)
    ax.set_ylabel(f"labels to reach success >= {target}")
    ax.set_title(f"{env_id}: labels to target vs {hkey}\n(grey line: largest budget in the grid)", fontsize=9)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / f"labels_to_target_{_slug(env_id)}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, ""


def _grid_key(env_rows: list[Row], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` taking >= 2 values across ``env_rows``."""
    return next((k for k in keys if len({r.env_kwargs.get(k) for r in env_rows if k in r.env_kwargs}) >= 2), None)


def _at_largest_budget(env_rows: list[Row], label: str, key: str) -> tuple[int, list[Row]]:
    """``label``'s largest budget among rows that set ``key``, and those rows at that budget."""
    sel = [r for r in env_rows if r.label == label and key in r.env_kwargs]
    top = max(r.budget for r in sel)
    return top, [r for r in sel if r.budget == top]


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


def plot_return_vs_noise(rows: list[Row], env_id: str, out: Path) -> tuple[Path | None, str]:
    env_rows = [r for r in rows if r.env_id == env_id]
    nkey = _grid_key(env_rows, NOISE_LEVEL_KEYS)
    if nkey is None:
        return None, f"return vs noise level skipped for {env_id}: the grid has fewer than 2 noise levels"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label in sorted({r.label for r in env_rows}):
        top, at_top = _at_largest_budget(env_rows, label, nkey)
        by_level: dict[float, list[Row]] = {}
        for r in at_top:
            by_level.setdefault(r.env_kwargs[nkey], []).append(r)
        levels = sorted(by_level)
        means = [float(np.mean([r.norm_return[0] for r in by_level[lv]])) for lv in levels]
        ax.plot(levels, means, marker="o", label=f"{label} (budget {top})")
    path = _save_line_plot(plt, fig, ax, nkey, "normalized return (mean over seeds and other kwargs)",
                           f"{env_id}: return vs noise level", out / f"return_vs_noise_{_slug(env_id)}.png")
    return path, ""


def plot_success_vs_horizon(rows: list[Row], env_id: str, out: Path) -> tuple[Path | None, str]:
    env_rows = [r for r in rows if r.env_id == env_id]
    hkey = _grid_key(env_rows, HORIZON_KEYS)
    if hkey is None:
        return None, f"success vs horizon skipped for {env_id}: the grid has fewer than 2 horizons"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    use_success = all(r.success is not None for r in env_rows)
    for label in sorted({r.label for r in env_rows}):
        top, at_top = _at_largest_budget(env_rows, label, hkey)
        pts = sorted(at_top, key=lambda r: r.env_kwargs[hkey])
        stats = [r.success if use_success else r.norm_return for r in pts]
        errs = np.array([_err(st) for st in stats]).T  # type: ignore[arg-type]
        ax.errorbar([r.env_kwargs[hkey] for r in pts], [st[0] for st in stats], yerr=errs, marker="o",  # type: ignore[index]
                    capsize=3, label=f"{label} (budget {top})")
    metric = "success rate" if use_success else "normalized return"
    path = _save_line_plot(plt, fig, ax, hkey, metric, f"{env_id}: {metric} vs {hkey} (95% CI over seeds)",
                           out / f"success_vs_horizon_{_slug(env_id)}.png")
    return path, ""


def make_report(directory: str | Path, *, target: float | None = None, plots: bool = True) -> Report:
    """Read ``directory/results.jsonl`` and write ``report.md`` and the plots into ``directory``.

    ``target`` defaults to the stored config's ``target`` (else 0.9). Raises ``ValueError`` naming
    file and line for a corrupt record; a torn last line is ignored with a note.
    """
    directory = Path(directory)
    path = directory / RESULTS_FILE
    if not path.exists():
        raise ValueError(f"no results in {str(directory)!r}: {RESULTS_FILE} not found")
    stored = read_records(path)
    report = Report(rows=[])
    if stored.torn is not None:
        report.notes.append(f"ignored a torn last line of {path} ({len(stored.torn)} bytes; an interrupted or ongoing write)")
    if target is None:
        from baselines.config import DEFAULT_TARGET
        from baselines.store import ResultStore

        cfg = ResultStore(directory).stored_config() or {}
        target = float(cfg.get("target", DEFAULT_TARGET))
    ok = list(stored.latest_ok().values())
    report.errors = stored.errors()
    report.rows = build_rows(ok)
    if not report.rows:
        report.notes.append("no successful runs to report")
    if plots and report.rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for env_id in sorted({r.env_id for r in report.rows}):
                for fn, args in ((plot_return_vs_budget, (report.rows, env_id, directory)),
                                 (plot_labels_to_target, (report.rows, env_id, target, directory)),
                                 (plot_return_vs_noise, (report.rows, env_id, directory)),
                                 (plot_success_vs_horizon, (report.rows, env_id, directory))):
                    p, note = fn(*args)
                    report.plots.append(p) if p is not None else report.notes.append(note)
    lines = [f"# Results: {directory}", "", f"{len(ok)} successful runs, {len(report.errors)} failed cells; "
             f"mean and 95% bootstrap CI over seeds (n/a with one seed). Target success: {target}.", ""]
    lines.append(markdown_table(report.rows))
    if report.rows:
        reach = labels_to_target(report.rows, target)
        lines += [f"## Labels to reach success >= {target} (smallest budget in the grid)", "",
                  "| env | kwargs | algorithm | labels |", "|---|---|---|---|"]
        for (env_id, kw, label), budget in sorted(reach.items()):
            kws = ", ".join(f"{k}={v}" for k, v in json.loads(kw).items())
            lines.append(f"| {env_id} | {kws} | {label} | {budget if budget is not None else 'not reached'} |")
        lines.append("")
    if report.errors:
        lines += ["## Failed cells", ""] + [f"- {describe_failure(e)}" for e in report.errors] + [""]
    if report.plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in report.plots] + [""]
    if report.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    report.markdown = "\n".join(lines)
    (directory / "report.md").write_text(report.markdown)
    return report
