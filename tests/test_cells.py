"""Typed cells keep the old keys; records are checked on read; bad configs raise ConfigError; p without an env."""

import json

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

from baselines.analysis.first_state import analytic_first_state
from baselines.sweep.cells import BudgetCell, Cell, ThresholdCell, cell_key
from baselines.sweep.config import ConfigError, ConfigTypeError, parse_config
from baselines.sweep.store import ResultStore, StoreError, config_fingerprint, make_record, read_records

LOCK = "NoisyExpert/CombinationLock-v0"
BUDGET = {"env_id": LOCK, "env_kwargs": {"horizon": 2}, "algo": "bc", "label": "bc", "settings": {}, "budget": 10,
          "seed": 0, "eval_episodes": 1, "deterministic_eval": True, "policy_kwargs": None}
THRESHOLD = {**{k: v for k, v in BUDGET.items() if k != "budget"}, "measure": "threshold", "max_budget": 100,
             "target": 0.9, "resolution": 2**0.25}
FINGERPRINT = config_fingerprint({"name": "cells-test"})


def test_typed_cells_have_the_dict_keys_of_before():
    for raw, kind in ((BUDGET, BudgetCell), (THRESHOLD, ThresholdCell), ({**BUDGET, "policy": "mlp"}, BudgetCell)):
        cell = Cell.from_dict(raw)
        assert type(cell) is kind and dict(cell) == raw and cell.key() == cell_key(raw)
    with pytest.raises(ValueError, match="unknown key 'bugdet'"):
        Cell.from_dict({**BUDGET, "bugdet": 3})


def _write(tmp_path, records):
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps({**r, "config_fingerprint": FINGERPRINT}) + "\n" for r in records))
    return path


def _budget_record(**changes):
    fields = dict(success_rate=1.0, normalized_return=1.0, labels_used=10, wall_time_s=0.1,
                  **{k: BUDGET[k] for k in ("env_id", "env_kwargs", "algo", "budget", "seed")})
    return make_record(BUDGET, cell_key(BUDGET), "ok", **{**fields, **changes})


def _threshold_record(labels, bracket, **changes):
    fields = {k: THRESHOLD[k] for k in ("env_id", "env_kwargs", "algo", "seed")}
    return make_record(THRESHOLD, cell_key(THRESHOLD), "ok", labels_to_target=labels, bracket=bracket, runs=3,
                       wall_time_s=1.0, **fields, **changes)


@pytest.mark.parametrize("record, message", [
    (_budget_record(success_rate=7.0), "success_rate 7.0 is not in"),
    (_budget_record(labels_used=10_000), "labels_used 10000 is not within"),
    (_budget_record(budget=20), "budget 20 is not its cell's budget 10"),
    (_budget_record(normalized_return=float("nan")), "normalized_return nan is not a finite number"),
    (_budget_record(seed=3), "seed 3 is not its cell's 0"),
    (_budget_record(clean_labels_used=11), r"clean_labels_used 11 is not an integer within \[0, labels_used 10\]"),
    (_budget_record(clean_labels_used=2.5), r"clean_labels_used 2.5 is not an integer within"),
    (_threshold_record(10**9, [10**9 - 1, 10**9]), "labels_to_target 1000000000 is above its cell's max_budget 100"),
    (_threshold_record(64, [16, 64]), r"bracket \[16, 64\] is wider than its cell's resolution"),
    (_threshold_record(None, [500, None]), r"bracket \[500, None\]: not reached within lo 500, above max_budget 100"),
    (_threshold_record(11, [10, 11], clean_labels_used=12), r"clean_labels_used 12 is not an integer within "
                                                            r"\[0, the bracket's labels 11\]"),
])
def test_impossible_records_are_refused_naming_file_line_and_value(tmp_path, record, message):
    path = _write(tmp_path, [_budget_record(), record])
    with pytest.raises(StoreError, match=rf"results\.jsonl:2: {message}"):
        read_records(path, fingerprint=FINGERPRINT)
    with pytest.raises(StoreError, match=r"results\.jsonl:2: "):  # resume reads the same way: never counted done
        ResultStore(tmp_path).read(FINGERPRINT)


def test_good_records_pass():
    from baselines.sweep.store import record_problem

    def stamped(record):
        return {**record, "config_fingerprint": FINGERPRINT}

    assert record_problem(stamped(_budget_record())) is None  # no clean_labels_used: written before it was counted
    assert record_problem(stamped(_budget_record(clean_labels_used=10))) is None
    assert record_problem(stamped(_threshold_record(11, [10, 11]))) is None  # hi == lo + 1: nothing between
    assert record_problem(stamped(_threshold_record(11, [10, 11], clean_labels_used=11))) is None
    assert record_problem(stamped(_threshold_record(None, [100, None]))) is None


def test_bad_configs_raise_config_error():
    with pytest.raises(ConfigError, match="config key 'bugdets'"):
        parse_config({"envs": [LOCK], "algorithms": ["bc"], "budgets": [10], "bugdets": [1]}, check_envs=False)
    with pytest.raises(ConfigTypeError, match=r"config key 'budgets': budgets must be integers, got '10'"):
        parse_config({"envs": [LOCK], "algorithms": ["bc"], "budgets": ["10"]}, check_envs=False)
    assert issubclass(ConfigTypeError, TypeError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("noise, epsilon, p", [("uniform", 0.2, 1 - 0.75 * 0.2), ("fixed_wrong", 0.7, 1 - 0.7)])
def test_first_state_p_from_the_noise_model_alone(noise, epsilon, p):
    agreement, margin = analytic_first_state({"noise": noise, "epsilon": epsilon, "n_actions": 4, "horizon": 5})
    assert agreement == pytest.approx(p)
    assert analytic_first_state({"noise": "teacher", "epsilon": 0.1}) is None  # needs the expert's logits


def test_a_learner_setting_is_validated_once_on_the_way_from_a_config_to_train(tmp_path, monkeypatch):
    from baselines.learners.base import SettingsBase
    from baselines.sweep.runner import run_sweep

    checks = []
    original = SettingsBase.__post_init__

    def counted(self):
        checks.append(type(self).__name__)
        original(self)

    monkeypatch.setattr(SettingsBase, "__post_init__", counted)
    config = parse_config({"name": "once", "envs": [{"id": LOCK, "kwargs": {"horizon": 2}}], "seeds": 2,
                           "budgets": [8, 16], "eval_episodes": 1,
                           "algorithms": [{"name": "bc", "lr": 0.01}, {"name": "opd", "label": "opd"}]})
    assert len(checks) == 2  # the config's one check per algorithm entry
    summary = run_sweep(config, tmp_path / "out", jobs=1, progress=False)
    assert (summary.ok, summary.failed) == (8, 0)
    assert len(checks) == 2, checks  # the cells ran the checked settings: no second check in the runs
    records = read_records(tmp_path / "out" / "results.jsonl").records
    assert {r["cell"]["settings"].get("lr") for r in records if r["cell"]["algo"] == "bc"} == {0.01}
    assert all(r["settings"]["lr"] == 0.01 for r in records if r["cell"]["algo"] == "bc")


def test_a_cell_read_back_without_its_spec_is_checked_when_executed():
    cell = Cell.from_dict({**BUDGET, "settings": {"lr": -1.0}})
    assert cell.spec is None and "spec" not in dict(cell)
    with pytest.raises(ValueError, match="lr"):
        cell.execute()
