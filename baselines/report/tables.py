"""The report's markdown: per-env result tables and the labels-to-target table."""

from __future__ import annotations

import json

from baselines.analysis.summary import Row, Stat, smallest_budget_reaching, varying_kwargs


def _fmt(stat: Stat | None) -> str:
    if stat is None:
        return "-"
    mean, lo, hi = stat
    ci = "n/a" if lo is None else f"[{lo:.2f}, {hi:.2f}]"
    return f"{mean:.2f} {ci}"


def markdown_table(rows: list[Row]) -> str:
    """The report's tables, one per env id, in markdown."""
    out = []
    for env_id in sorted({r.env_id for r in rows}):
        env_rows = [r for r in rows if r.env_id == env_id]
        common, varying = varying_kwargs(env_rows)
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


def labels_to_target_table(rows: list[Row], target: float) -> list[str]:
    """The lines of the labels-to-target section (smallest budget of the grid reaching ``target``)."""
    lines = [f"## Labels to reach success >= {target} (smallest budget in the grid)", "",
             "| env | kwargs | algorithm | labels |", "|---|---|---|---|"]
    for (env_id, kw, label), budget in sorted(smallest_budget_reaching(rows, target).items()):
        kws = ", ".join(f"{k}={v}" for k, v in json.loads(kw).items())
        lines.append(f"| {env_id} | {kws} | {label} | {budget if budget is not None else 'not reached'} |")
    lines.append("")
    return lines
