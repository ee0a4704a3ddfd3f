"""labels_to_target: bracket invariants, consistency with run(), nested offline data, censoring."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import re

import numpy as np
from imitation.data import rollout

from baselines import run
from baselines.learners.bc import collect_demonstrations
from baselines.core.task import Task
from baselines.sweep.threshold import DEFAULT_RESOLUTION, labels_to_target

LOCK = "NoisyExpert/CombinationLock-v0"
LOCK8 = dict(horizon=8, n_actions=4, noise="uniform", epsilon=0.2)


def _check_bracket(t, resolution: float = DEFAULT_RESOLUTION) -> None:
    lo, hi = t.bracket
    assert t.labels == hi and hi is not None and 0 <= lo < hi
    assert lo == 0 or hi / lo <= resolution or hi - lo == 1
    assert t.runs >= 1


@pytest.mark.parametrize("algo, settings", [("opd", {"loss": "sampled"}), ("bc", {}), ("dagger", {})])
@pytest.mark.parametrize("seed", [0, 1])
def test_threshold_brackets_and_run_at_the_threshold_reaches_the_target(algo, settings, seed) -> None:
    t = labels_to_target(algo, LOCK, seed=seed, max_budget=3000, env_kwargs=LOCK8, eval_episodes=1, **settings)
    _check_bracket(t)
    at = run(algo, LOCK, budget=t.labels, seed=seed, env_kwargs=LOCK8, eval_episodes=1, **settings)
    assert at.success_rate >= 0.9
    lo = t.bracket[0]
    if lo > 0:
        below = run(algo, LOCK, budget=lo, seed=seed, env_kwargs=LOCK8, eval_episodes=1, **settings)
        assert below.success_rate < 0.9


def test_cartpole_threshold_on_normalized_return() -> None:
    kwargs = dict(noise="uniform", epsilon=0.2)
    t = labels_to_target("opd", "NoisyExpert/CartPole-v1", seed=0, max_budget=4000, env_kwargs=kwargs,
                         eval_episodes=3, loss="forward_kl")
    _check_bracket(t)
    at = run("opd", "NoisyExpert/CartPole-v1", budget=t.labels, seed=0, env_kwargs=kwargs, eval_episodes=3,
             loss="forward_kl")
    assert at.success_rate is None and at.normalized_return >= 0.9


def test_a_coarser_resolution_takes_fewer_runs() -> None:
    fine = labels_to_target("bc", LOCK, seed=0, max_budget=3000, env_kwargs=LOCK8, eval_episodes=1, resolution=1.1)
    coarse = labels_to_target("bc", LOCK, seed=0, max_budget=3000, env_kwargs=LOCK8, eval_episodes=1, resolution=2.0)
    _check_bracket(fine, 1.1)
    _check_bracket(coarse, 2.0)
    assert coarse.runs < fine.runs
    assert coarse.bracket[0] <= fine.labels <= coarse.labels


@pytest.mark.parametrize("seed", [0, 3])
def test_offline_data_are_nested(seed: int) -> None:
    task = Task(LOCK, LOCK8)
    small, n_small = collect_demonstrations(task, 70, seed)
    large, n_large = collect_demonstrations(task, 300, seed)
    assert (n_small, n_large) == (70, 300)
    a, b = rollout.flatten_trajectories(small), rollout.flatten_trajectories(large)
    assert np.array_equal(a.obs, b.obs[:70]) and np.array_equal(a.acts, b.acts[:70])


@pytest.mark.parametrize("algo", ["bc", "opd"])
def test_not_reached_within_max_budget_is_censored(algo: str) -> None:
    deep = dict(LOCK8, horizon=30)
    t = labels_to_target(algo, LOCK, seed=0, max_budget=40, env_kwargs=deep, eval_episodes=1)
    assert t.labels is None and t.bracket[1] is None and t.bracket[0] <= 40


@pytest.mark.parametrize("algo", ["bc_clean", "bc", "opd"])
def test_the_threshold_says_how_many_of_its_labels_were_the_clean_experts(algo: str) -> None:
    t = labels_to_target(algo, LOCK, seed=0, max_budget=64, start=4, env_kwargs=dict(horizon=3), eval_episodes=1)
    _check_bracket(t)
    assert t.clean_labels_used == (t.labels if algo == "bc_clean" else 0)
    censored = labels_to_target(algo, LOCK, seed=0, max_budget=4, start=4, env_kwargs=dict(LOCK8, horizon=30),
                                eval_episodes=1)
    assert censored.labels is None and censored.clean_labels_used == (censored.bracket[0] if algo == "bc_clean" else 0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"target": 0.0}, ValueError, "target"),
    ({"target": float("nan")}, ValueError, "target"),
    ({"max_budget": 0}, ValueError, "max_budget"),
    ({"resolution": 1.0}, ValueError, "resolution"),
    ({"resolution": "2"}, TypeError, "resolution"),
    ({"algo": "ppo"}, ValueError, "unknown algorithm"),
    ({"k": 0, "loss": "plurality"}, ValueError, "k must be"),
])
def test_bad_arguments_raise_before_training(kwargs, error, match) -> None:
    args = {"algo": "opd", "max_budget": 100, **kwargs}
    algo = args.pop("algo")
    with pytest.raises(error, match=match):
        labels_to_target(algo, LOCK, seed=0, env_kwargs=LOCK8, **args)


# -- configs with `measure: threshold` ---------------------------------------------------------------

THRESHOLD_CONFIG = {
    "envs": [{"id": LOCK, "kwargs": {"horizon": 4, "epsilon": 0.2}}],
    "algorithms": ["bc", {"name": "opd", "max_budget": 150}],
    "measure": "threshold", "max_budget": 400, "seeds": 2, "eval_episodes": 1,
}


def test_threshold_config_cells_and_validation() -> None:
    from baselines.sweep.config import parse_config

    cells = parse_config(THRESHOLD_CONFIG).cells
    assert len(cells) == 4 and all(c["measure"] == "threshold" and "budget" not in c for c in cells)
    assert sorted({(c["algo"], c["max_budget"]) for c in cells}) == [("bc", 400), ("opd", 150)]
    assert {c["resolution"] for c in cells} == {2**0.25} and {c["target"] for c in cells} == {0.9}
    for change, key in [({"budgets": [10]}, "budgets"), ({"resolution": 1.0}, "resolution"),
                        ({"measure": "grid"}, "measure"), ({"max_budget": 0}, "max_budget")]:
        with pytest.raises(ValueError, match=f"config key '{key}'"):
            parse_config({**THRESHOLD_CONFIG, **change})
    with pytest.raises(ValueError, match="config key 'max_budget'"):
        parse_config({**THRESHOLD_CONFIG, "measure": "budgets", "budgets": [10]})
    no_max = {k: v for k, v in THRESHOLD_CONFIG.items() if k != "max_budget"}
    with pytest.raises(ValueError, match="missing: no top-level max_budget"):
        parse_config(no_max)


def test_threshold_sweep_records_and_resumes(tmp_path) -> None:
    from baselines.sweep.config import parse_config
    from baselines.sweep.store import read_records
    from baselines.sweep.runner import run_sweep

    config = parse_config(THRESHOLD_CONFIG)
    summary = run_sweep(config, tmp_path, jobs=1, progress=False)
    assert (summary.ok, summary.failed) == (4, 0)
    records = read_records(tmp_path / "results.jsonl").records
    for r in records:
        lo, hi = r["bracket"]
        assert r["labels_to_target"] == hi and lo < hi and r["runs"] >= 1
        again = labels_to_target(r["algo"], LOCK, seed=r["seed"], max_budget=r["cell"]["max_budget"],
                                 env_kwargs=r["env_kwargs"], eval_episodes=1)
        assert again.labels == r["labels_to_target"]  # deterministic
        assert r["clean_labels_used"] == again.clean_labels_used == 0  # the noisy expert's labels only
    resumed = run_sweep(config, tmp_path, jobs=1, progress=False)
    assert (resumed.skipped, resumed.ok) == (4, 0)


@pytest.mark.parametrize("bracket, labels, problem", [
    ([10, 20, 30], 20, "not \\[lo, hi\\]"), (["x", None], None, "not \\[lo, hi\\]"), ([True, False], False, "wrong type"),
    ([50, 20], 20, "hi <= lo"), ([10, 20], 30, "not the bracket's hi"), ([10, None], None, None),
])
def test_the_store_checks_threshold_brackets(bracket, labels, problem) -> None:
    from baselines.sweep.config import cell_key, parse_config
    from baselines.sweep.store import make_record, record_problem

    cell = parse_config(THRESHOLD_CONFIG, check_envs=False).cells[0]
    record = make_record(cell, cell_key(cell), "ok", algo=cell["algo"], env_id=cell["env_id"], label=cell["label"],
                         env_kwargs=cell["env_kwargs"], seed=cell["seed"], labels_to_target=labels,
                         bracket=bracket, runs=1, wall_time_s=1.0)
    record["config_fingerprint"] = "0" * 64
    found = record_problem(record)
    assert found is None if problem is None else re.search(problem, found)
    no_target = dict(record, cell={k: v for k, v in cell.items() if k != "target"})
    no_target["cell_key"] = cell_key(no_target["cell"])
    assert "target" in record_problem(no_target)


def test_plurality_search_below_k_counts_as_a_miss_and_sampling_learners_stay_consistent() -> None:
    t = labels_to_target("opd", LOCK, seed=0, target=0.5, max_budget=60, eval_episodes=3,
                         env_kwargs=dict(horizon=1), loss="plurality", k=3)
    _check_bracket(t)
    assert t.labels >= 3  # budgets below k cannot label a state
    # Sampled evaluation and a sampling learner: evaluating after each round must not move torch's
    # RNG, or the long training and run(budget=labels) part ways.
    kw = dict(env_kwargs=dict(horizon=6), eval_episodes=3, greedy_rollouts=False, deterministic_eval=False)
    t = labels_to_target("opd", LOCK, seed=0, max_budget=3000, **kw)
    _check_bracket(t)
    assert run("opd", LOCK, budget=t.labels, seed=0, **kw).success_rate >= 0.9
