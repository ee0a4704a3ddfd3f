"""Reports of `measure: threshold` sweeps: grouping, growth fits in fits.json, tables, plots."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import json
import math

import numpy as np

from baselines.sweep.config import cell_key
from baselines.report.build import make_report
from baselines.sweep.store import ResultStore, config_fingerprint, make_record
from baselines.analysis.growth import FIT_KEYS, SeedThreshold, summarize

LOCK = "NoisyExpert/CombinationLock-v0"
CONFIG = {"name": "threshold-report-test", "measure": "threshold"}
MAX_BUDGET = 40000
RESOLUTION = 2**0.25
#: The cells' resolution: wide enough for the hand-written brackets (ratios up to 59/40); records are
#: checked on read against it (hi / lo <= resolution).
CELL_RESOLUTION = 1.5
SEEDS = range(10)


def _record(env_kwargs, label, seed, labels, bracket, max_budget=MAX_BUDGET, target=0.9):
    cell = {"env_id": LOCK, "env_kwargs": env_kwargs, "algo": label.split("-")[0], "label": label,
            "settings": {}, "seed": seed, "eval_episodes": 1, "deterministic_eval": True,
            "policy_kwargs": None,
            "measure": "threshold", "max_budget": max_budget, "target": target, "resolution": CELL_RESOLUTION}
    return make_record(cell, cell_key(cell), "ok", algo=cell["algo"], env_id=LOCK, env_kwargs=env_kwargs,
                       seed=seed, labels_to_target=labels, bracket=list(bracket), runs=5, wall_time_s=1.0)


def _bracket(true_labels: float) -> tuple[int | None, tuple[int, int | None]]:
    """What a search with resolution 2**0.25 reports for a seed needing ``true_labels``."""
    hi = math.ceil(true_labels)
    if hi > MAX_BUDGET:
        return None, (MAX_BUDGET, None)
    return hi, (max(0, math.floor(hi / RESOLUTION)), hi)


def _p(epsilon: float) -> float:
    return 1 - 0.75 * epsilon  # uniform noise over 4 actions: agreement at every state


def _write(tmp_path, records, config=CONFIG):
    store = ResultStore(tmp_path)
    store.write_config(config)
    store.open_for_append(config_fingerprint(config))
    for r in records:
        store.append(r)
    store.close()


def _synthetic(tmp_path):
    """BC growing as e^(log(1/p) H) at two noise levels (the top horizon partly censored), OPD as H^1.5,
    and one label measured at a single horizon (not fittable)."""
    rng = np.random.default_rng(1)
    records = []
    for eps in (0.1, 0.3):
        rate = -math.log(_p(eps))
        for h in (5, 10, 15, 20, 25, 30):
            kwargs = {"horizon": h, "epsilon": eps, "n_actions": 4, "noise": "uniform"}
            for seed in SEEDS:
                labels, bracket = _bracket(20 * math.exp(rate * h + 0.2 * rng.standard_normal()))
                records.append(_record(kwargs, "bc", seed, labels, bracket))
                labels, bracket = _bracket(3 * h**1.5 * math.exp(0.2 * rng.standard_normal()))
                records.append(_record(kwargs, "opd-sampled", seed, labels, bracket))
                if h == 10:
                    records.append(_record(kwargs, "dagger", seed, 50 + seed, (40, 50 + seed)))
    _write(tmp_path, records)
    return records


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("threshold")
    records = _synthetic(directory)
    return directory, records, make_report(directory)


def test_fits_json_recovers_the_known_rates_and_lists_unfittable_cells(synthetic_report) -> None:
    directory, _, report = synthetic_report
    entries = {e["name"]: e for e in json.loads((directory / "fits.json").read_text())}
    assert len(entries) == 6  # (bc, opd-sampled, dagger) x 2 noise levels
    for e in entries.values():
        assert e["env_id"] == LOCK and "horizon" not in e["env_kwargs"] and e["horizon_key"] == "horizon"
        assert e["p_first_state"] == pytest.approx(_p(e["env_kwargs"]["epsilon"]))
        assert e["analytic_offline_rate"] == pytest.approx(-math.log(_p(e["env_kwargs"]["epsilon"])))
        if e["label"] == "dagger":
            assert not e["fitted"] and e["horizons"] == [10] and "2 horizons" in e["reason"]
            assert not any(k in e for k in FIT_KEYS if k != "n_seeds")
            continue
        assert e["fitted"] and set(FIT_KEYS) <= set(e) and e["n_seeds"] == 10
        assert e["horizons"] == [5, 10, 15, 20, 25, 30]
        lo, hi = e["exp_rate_ci"] if e["label"] == "bc" else e["power_exponent_ci"]
        truth = e["analytic_offline_rate"] if e["label"] == "bc" else 1.5
        assert lo <= truth <= hi, (e["name"], lo, truth, hi)
        assert e["preferred"] == ("exponential" if e["label"] == "bc" else "power")
    censored = [e["n_censored"] for e in entries.values()
                if e["label"] == "bc" and e["env_kwargs"]["epsilon"] == 0.3]
    assert censored[0] > 0  # e^(0.255 * 30) * 20 ~ 42000: about half the seeds are censored at H = 30
    assert list(entries) == [c.name for c in report.growth]  # fits.json lists the cells in the report's order


def test_tables_give_medians_censored_counts_and_fits(synthetic_report) -> None:
    directory, records, report = synthetic_report
    md = (directory / "report.md").read_text()
    assert md == report.markdown and f"{len(records)} successful runs" in md
    # the censored horizon: counts of reached seeds and the budget the others were not reached within
    top_kwargs = {"horizon": 30, "epsilon": 0.3, "n_actions": 4, "noise": "uniform"}
    top = [r for r in records if r["label"] == "bc" and r["env_kwargs"] == top_kwargs]
    reached = sorted(r["labels_to_target"] for r in top if r["labels_to_target"] is not None)
    row = next(line for line in md.splitlines() if line.startswith("| 0.3 | bc | 30 |"))
    assert f"{len(reached)}/10 reached; {10 - len(reached)} > {MAX_BUDGET}" in row
    assert f"| {reached[0]} to > {MAX_BUDGET} |" in row
    bc01 = next(c for c in report.growth if c.label == "bc" and c.env_kwargs["epsilon"] == 0.1)
    f = bc01.fit
    assert (f"| 0.1 | bc | 5, 10, 15, 20, 25, 30 | 10 | {f['exp_rate']:.3f} [{f['exp_rate_ci'][0]:.3f}, "
            f"{f['exp_rate_ci'][1]:.3f}] | {-math.log(_p(0.1)):.3f} |") in md
    assert "| 0.1 | dagger | 10 | 10 | - | 0.078 | - | not fitted |" in md
    exact = next(line for line in md.splitlines() if line.startswith("| 0.1 | dagger | 10 |"))
    assert "| 54 [" in exact and "] | 50 to 59 | 10/10 reached |" in exact  # labels 50..59: median 54.5
    lo, hi = (int(x) for x in exact.split(" [")[1].split("]")[0].split(", "))
    assert 50 <= lo < 54.5 < hi <= 59


def test_plots_exist(synthetic_report) -> None:
    directory, _, report = synthetic_report
    names = {p.name for p in report.plots}
    assert names == {"threshold_vs_horizon_NoisyExpert-CombinationLock-v0.png",
                     "bc_rate_vs_log_inv_p_NoisyExpert-CombinationLock-v0.png"}
    assert all((directory / n).stat().st_size > 5000 for n in names)


def test_median_and_its_interval_with_censored_seeds() -> None:
    seeds = [SeedThreshold(i, v, 0, v) for i, v in enumerate([10, 20, 30])] + \
            [SeedThreshold(3, None, 100, None), SeedThreshold(4, None, 100, None)]
    s = summarize(seeds)
    assert s.median == 30 and s.reached == [10, 20, 30] and s.censored_above == 100
    assert s.ci[0] >= 10 and math.isinf(s.ci[1])  # resamples with >= 3 censored seeds: median unbounded
    half = summarize(seeds[1:])  # 20, 30, censored, censored: the median lies above (30 + 100) / 2
    assert math.isinf(half.median) and half.median_at_least == 65


def test_one_seed_and_one_horizon_cannot_be_fitted(tmp_path) -> None:
    kw = {"epsilon": 0.2, "n_actions": 4, "noise": "uniform"}
    _write(tmp_path, [_record({**kw, "horizon": h}, "bc", 0, 10 * h, (8 * h, 10 * h)) for h in (3, 5)])
    report = make_report(tmp_path, plots=False)
    (entry,) = json.loads((tmp_path / "fits.json").read_text())
    assert not entry["fitted"] and "2 seeds" in entry["reason"]
    assert "| bc | 3 | 1 | 30 n/a | 30 | 1/1 reached |" in report.markdown


def test_a_different_target_is_refused(tmp_path) -> None:
    kw = {"horizon": 3, "epsilon": 0.2, "n_actions": 4, "noise": "uniform"}
    _write(tmp_path, [_record(kw, "bc", 0, 10, (8, 10))])
    with pytest.raises(ValueError, match="measured at target 0.9"):
        make_report(tmp_path, target=0.8, plots=False)
    assert "fits.json" not in {p.name for p in tmp_path.iterdir()}
    make_report(tmp_path, target=0.9, plots=False)


def test_budget_grid_reports_write_no_threshold_output(tmp_path) -> None:
    cell = {"env_id": LOCK, "env_kwargs": {"horizon": 3}, "algo": "bc", "label": "bc", "settings": {},
            "budget": 50, "seed": 0, "eval_episodes": 1, "deterministic_eval": True, "policy_kwargs": None}
    _write(tmp_path, [make_record(cell, cell_key(cell), "ok", algo="bc", env_id=LOCK,
                                  env_kwargs={"horizon": 3}, seed=0, budget=50, success_rate=1.0,
                                  normalized_return=1.0, labels_used=50,
                                  wall_time_s=0.5)], config={"name": "grid"})
    report = make_report(tmp_path, plots=False)
    assert report.growth == [] and not (tmp_path / "fits.json").exists()
    assert "threshold" not in report.markdown and "Target success: 0.9" in report.markdown


def test_reached_vs_noise_plot_counts_the_seeds_that_reached(tmp_path) -> None:
    from baselines.report.growth_plots import _noise_series
    from baselines.analysis.growth import analyse

    records = []
    for eps, reached in ((0.2, 10), (0.4, 6), (0.6, 0)):
        kwargs = {"horizon": 20, "epsilon": eps, "n_actions": 4, "noise": "fixed_wrong"}
        for seed in SEEDS:
            if seed < reached:
                records.append(_record(kwargs, "opd-sampled", seed, 100 + seed, (80, 100 + seed), max_budget=3000))
            else:
                records.append(_record(kwargs, "opd-sampled", seed, None, (3000, None), max_budget=3000))
    _write(tmp_path, records)
    series = _noise_series(analyse(records, n_boot=10), LOCK)
    (key, by_label), = series.items()
    assert key == ("n_actions=4, noise=fixed_wrong", 20.0)
    fractions = {lvl: sum(s.labels is not None for s in c.seeds[20.0]) / len(c.seeds[20.0])
                 for lvl, c in by_label["opd-sampled"]}
    assert fractions == {0.2: 1.0, 0.4: 0.6, 0.6: 0.0}
    report = make_report(tmp_path)
    assert "reached_vs_noise_NoisyExpert-CombinationLock-v0.png" in {p.name for p in report.plots}
    # two noise levels are not a series
    assert _noise_series(analyse([r for r in records if r["env_kwargs"]["epsilon"] != 0.6], n_boot=10), LOCK) == {}
