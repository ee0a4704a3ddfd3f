"""``noisy-expert-bench report DIR``: read a results directory, write ``report.md`` and the plots.

This module only orchestrates: :mod:`baselines.analysis.summary` groups the records over seeds (means, 95%
bootstrap CIs, labels-to-target), :mod:`baselines.report.tables` writes the markdown and
:mod:`baselines.report.plots` the PNG plots. Records of a ``measure: threshold`` sweep (per-seed
labels-to-target) go to :mod:`baselines.analysis.growth` (grouping, growth fits, tables; the fits
are also written to ``fits.json``) and :mod:`baselines.report.growth_plots`. A plot without data is
skipped with a note in ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.analysis.summary import Row, build_rows
from baselines.sweep.threshold import DEFAULT_TARGET
from baselines.sweep.store import RESULTS_FILE, ResultStore, StoreError, config_fingerprint, describe_failure, writing
from baselines.report.tables import labels_to_target_table, markdown_table
from baselines.analysis.growth import FITS_FILE, GrowthCell, analyse, is_threshold_record, threshold_tables, write_fits


@dataclass
class Report:
    """What ``make_report`` produced: the rows, notes, failed cells, plot paths and the markdown text."""

    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    markdown: str = ""
    growth: list[GrowthCell] = field(default_factory=list)  # threshold sweeps: cells with their fits


def make_report(directory: str | Path, *, target: float | None = None, plots: bool = True) -> Report:
    """Read ``directory/results.jsonl`` and write ``report.md`` and the plots into ``directory``.

    ``target`` defaults to the stored config's ``target`` (else ``DEFAULT_TARGET``); threshold records were measured
    at their cell's target, and a different ``target`` for them is a ``ValueError``. Raises
    ``ValueError`` when
    ``config.yaml`` is missing or invalid, and naming file and line for a record that is corrupt,
    lacks a required field or belongs to another config; a torn last line is ignored with a note.
    """
    directory = Path(directory)
    store = ResultStore(directory)
    store.check_directory()
    if not store.results_path.exists():
        raise StoreError(f"no results in {str(directory)!r}: {RESULTS_FILE} not found")
    config = store.stored_config()
    if config is None and store.has_records():
        raise StoreError(f"{store.config_path} is missing: the records of {store.results_path} cannot be checked "
                         "against their config (re-create it with 'run CONFIG --out DIR --adopt')")
    # Every record is validated (schema, required fields, this directory's config) before any is used.
    stored = store.read(config_fingerprint(config or {}), legacy=True)
    report = Report(rows=[])
    if stored.torn is not None:
        report.notes.append(f"ignored a torn last line of {store.results_path} ({len(stored.torn)} bytes; "
                            "an interrupted or ongoing write)")
    asked = target
    if target is None:
        target = float((config or {}).get("target", DEFAULT_TARGET))
    ok = list(stored.latest_ok().values())
    thresholds = [r for r in ok if is_threshold_record(r)]
    report.errors = stored.errors()
    report.rows = build_rows([r for r in ok if not is_threshold_record(r)])
    if thresholds:
        measured = sorted({float(r["cell"]["target"]) for r in thresholds})
        if asked is not None and measured != [asked]:
            raise StoreError(f"target {asked} does not apply to {directory}: its threshold records were "
                             f"measured at target {', '.join(map(str, measured))} "
                             "(re-run the sweep with that target)")
        report.growth = analyse(thresholds)
        with writing(directory / FITS_FILE):
            report.notes.append(f"growth fits written to {write_fits(report.growth, directory)}")
    elif not report.rows:
        report.notes.append("no successful runs to report")
    if plots and report.rows:
        from baselines.report.plots import draw_all

        with writing(directory / "*.png"):  # a plot's write error names its directory at least
            report.plots, skipped = draw_all(report.rows, target, directory)
        report.notes += skipped
    if plots and report.growth:
        from baselines.report.growth_plots import draw_threshold_plots

        with writing(directory / "*.png"):
            paths, skipped = draw_threshold_plots(report.growth, directory)
        report.plots += paths
        report.notes += skipped
    head = f"{len(ok)} successful runs, {len(report.errors)} failed cells; "
    if thresholds and not report.rows:
        lines = [f"# Results: {directory}", "", head + "per-seed labels-to-target (measure: threshold).", ""]
    else:
        what = f"mean and 95% bootstrap CI over seeds (n/a with one seed). Target success: {target}."
        lines = [f"# Results: {directory}", "", head + what, ""]
        lines.append(markdown_table(report.rows))
    if report.rows:
        lines += labels_to_target_table(report.rows, target)
    if report.growth:
        lines += ["## Labels to target per seed (measure: threshold)", ""] + threshold_tables(report.growth)
    if report.errors:
        lines += ["## Failed cells", ""] + [f"- {describe_failure(e)}" for e in report.errors] + [""]
    if report.plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in report.plots] + [""]
    if report.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    report.markdown = "\n".join(lines)
    with writing(directory / "report.md"):
        (directory / "report.md").write_text(report.markdown)
    return report


__all__ = ["Report", "make_report"]
