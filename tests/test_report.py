"""Reports: the table's numbers are the records' numbers; CIs; plots; corrupt and torn lines."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

from scipy.stats import bootstrap

from baselines.report.build import make_report
from baselines.analysis.summary import build_rows, mean_ci, smallest_budget_reaching
from baselines.sweep.config import cell_key
from baselines.sweep.store import ResultStore, config_fingerprint, make_record

CONFIG = {"name": "report-test"}


def _record(horizon, label, budget, seed, success, norm):
    cell = {"env_id": "NoisyExpert/CombinationLock-v0", "env_kwargs": {"horizon": horizon, "epsilon": 0.2},
            "algo": label.split("-")[0], "label": label, "settings": {}, "budget": budget, "seed": seed,
            "eval_episodes": 4, "deterministic_eval": True, "policy_kwargs": None}
    return make_record(cell, cell_key(cell), "ok", algo=cell["algo"], env_id=cell["env_id"],
                       env_kwargs=cell["env_kwargs"], seed=seed, budget=budget, success_rate=success,
                       normalized_return=norm, labels_used=budget, wall_time_s=0.5)


def _results(tmp_path, seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    store = ResultStore(tmp_path)
    store.write_config(CONFIG)
    store.open_for_append(config_fingerprint(CONFIG))
    records = []
    for horizon in (3, 6):
        for label in ("bc", "opd"):
            for budget in (50, 200):
                for seed in seeds:
                    s = float(rng.integers(0, 5) / 4)
                    if label == "opd" and budget == 200:
                        s = 1.0
                    records.append(_record(horizon, label, budget, seed, s, s))
                    store.append(records[-1])
    store.close()
    return records


def test_table_means_and_cis_are_those_of_the_records(tmp_path):
    records = _results(tmp_path)
    report = make_report(tmp_path)
    assert (tmp_path / "report.md").read_text() == report.markdown
    for row in report.rows:
        mine = [r for r in records if r["env_kwargs"]["horizon"] == row.env_kwargs["horizon"]
                and r["label"] == row.label and r["budget"] == row.budget]
        values = np.array([r["success_rate"] for r in mine])
        assert row.success[0] == pytest.approx(values.mean())
        assert row.seeds == [0, 1, 2]
        if np.ptp(values) > 0:
            ci = bootstrap((values,), np.mean, n_resamples=2000, method="percentile",
                           rng=np.random.default_rng(0)).confidence_interval
            assert row.success[1:] == pytest.approx((ci.low, ci.high))
        assert f"{row.success[0]:.2f} [{row.success[1]:.2f}, {row.success[2]:.2f}]" in report.markdown
    names = {p.name for p in report.plots}
    assert names == {"return_vs_budget_NoisyExpert-CombinationLock-v0.png",
                     "labels_to_target_NoisyExpert-CombinationLock-v0.png",
                     "success_vs_horizon_NoisyExpert-CombinationLock-v0.png"}
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)
    assert any("noise level" in n for n in report.notes)  # plot (c) skipped, with a note


def test_single_seed_prints_no_ci(tmp_path):
    _results(tmp_path, seeds=(0,))
    report = make_report(tmp_path, plots=False)
    assert "n/a" in report.markdown and report.plots == []


def test_labels_to_target_is_the_smallest_budget_reaching_it(tmp_path):
    records = _results(tmp_path)
    reach = smallest_budget_reaching(build_rows(records), 0.9)
    opd = {k: v for k, v in reach.items() if k[2] == "opd"}
    assert set(opd.values()) <= {50, 200} and all(v is not None for v in opd.values())
    assert mean_ci([1.0]) == (1.0, None, None)
    assert mean_ci([0.5, 0.5]) == (0.5, 0.5, 0.5)


def test_corrupt_line_fails_with_its_line_number(tmp_path):
    _results(tmp_path)
    path = tmp_path / "results.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = b"garbage\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(ValueError, match=r"results\.jsonl:5:"):
        make_report(tmp_path)


def test_torn_last_line_is_ignored_with_a_note(tmp_path):
    records = _results(tmp_path)
    with open(tmp_path / "results.jsonl", "ab") as f:
        f.write(b'{"schema": "noisy-expert-bench/1", "cel')
    report = make_report(tmp_path, plots=False)
    assert sum(len(r.seeds) for r in report.rows) == len(records)
    assert any("torn" in n for n in report.notes)


def test_no_results_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="results.jsonl not found"):
        make_report(tmp_path)


def _no_env_builds(monkeypatch):
    import gymnasium

    def refuse(*args, **kwargs):
        raise AssertionError(f"a report built an env: gym.make{args}")

    monkeypatch.setattr(gymnasium, "make", refuse)
    monkeypatch.setattr("baselines.core.task.gym.make", refuse)


@pytest.mark.parametrize("recorded", [True, False])
def test_a_report_is_a_function_of_its_records_and_builds_no_env(tmp_path, monkeypatch, recorded):
    import json
    import shutil
    from pathlib import Path

    # CartPole's p is not analytic (its action count is not in the env kwargs): only its records know it
    store = tmp_path / "training_rule"
    shutil.copytree(Path(__file__).resolve().parents[1] / "docs" / "results" / "training_rule", store)
    records = [json.loads(line) for line in (store / "results.jsonl").read_text().splitlines()]
    cartpole = [r for r in records if r["cell"]["env_id"] == "NoisyExpert/CartPole-v1"]
    assert cartpole and all(r["first_state_agreement"] == 0.9 for r in cartpole)
    if not recorded:  # records written before p was recorded
        for r in records:
            r.pop("first_state_agreement", None), r.pop("first_state_margin", None)
        (store / "results.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    _no_env_builds(monkeypatch)
    markdown = make_report(store, plots=True).markdown
    section = markdown[markdown.index("### NoisyExpert/CartPole-v1"):markdown.index("### NoisyExpert/CombinationLock")]
    growth = section[section.index("| algorithm | horizons | seeds | rate r"):]  # the growth table's columns
    row = next(line for line in growth.splitlines() if line.startswith("| bc-equal |"))
    assert row.split("|")[5].strip() == ("0.105" if recorded else "-")  # log(1/0.9), or unknown
