"""The learner interface: one signature, one frozen settings schema, user learners, seeds."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import dataclasses
import inspect
import runpy
from pathlib import Path

import yaml

from baselines import LEARNERS, Accounting, run
from baselines.cli import main
from baselines.sweep.config import load_config, parse_config
from baselines.learners import register_learner
from baselines.core.seeds import RunSeeds, is_evaluation_seed, is_training_seed
from baselines.sweep.store import read_records
from baselines.sweep.runner import run_sweep

LOCK = "NoisyExpert/CombinationLock-v0"
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "clean_dagger.py"


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_learner_has_the_same_train_signature_and_a_frozen_settings(name: str) -> None:
    learner = LEARNERS[name]
    params = inspect.signature(learner.train).parameters
    assert list(params) == ["policy", "task", "budget", "seed", "settings", "on_round"]
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in ("budget", "seed", "settings", "on_round"))
    assert params["on_round"].default is None
    assert dataclasses.is_dataclass(learner.Settings)
    settings = learner.Settings()
    field = dataclasses.fields(settings)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(settings, field, 1)


@pytest.fixture
def clean_dagger():
    namespace = runpy.run_path(str(EXAMPLE))  # the example of docs/learners.md registers "clean_dagger"
    yield namespace["CleanDAgger"]
    LEARNERS.pop("clean_dagger", None)


def test_a_registered_learner_runs_through_run_and_a_yaml_config(clean_dagger, tmp_path: Path) -> None:
    r = run("clean_dagger", LOCK, env_kwargs=dict(horizon=5), budget=60, seed=0, eval_episodes=2)
    assert r.success_rate == 1.0 and 0 < r.labels_used <= 60 and r.updates == 50 * r.rounds
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "envs": [{"id": LOCK, "kwargs": {"horizon": 5}}],
        "algorithms": ["bc", {"name": "clean_dagger", "updates_per_round": 20}],
        "budgets": [40], "seeds": 2, "eval_episodes": 2,
    }))
    summary = run_sweep(load_config(config), tmp_path / "out", jobs=1, progress=False)
    assert (summary.ok, summary.failed) == (4, 0)
    records = read_records(tmp_path / "out" / "results.jsonl").records
    ours = [rec for rec in records if rec["algo"] == "clean_dagger"]
    assert len(ours) == 2 and all(rec["settings"]["updates_per_round"] == 20 for rec in ours)
    assert main(["list"]) == 0


def test_register_learner_refuses_a_wrong_shape(clean_dagger) -> None:
    class NoSettings:
        def train(self, policy, task, *, budget, seed, settings, on_round=None):
            return Accounting()

    with pytest.raises(TypeError, match="frozen dataclass `Settings`"):
        register_learner("nosettings", NoSettings())

    class WrongTrain:
        Settings = clean_dagger.Settings

        def train(self, policy, env_id, budget):
            return Accounting()

    with pytest.raises(TypeError, match="needs train"):
        register_learner("wrongtrain", WrongTrain())
    with pytest.raises(ValueError, match="already registered"):
        register_learner("opd", LEARNERS["opd"])


def test_on_round_sees_the_accounting_and_stops_training() -> None:
    seen: list[tuple[int, int]] = []

    def stop_after_two(policy, accounting) -> bool:
        seen.append((accounting.rounds, accounting.labels_used))
        return accounting.rounds == 2

    r = run("opd", LOCK, env_kwargs=dict(horizon=5), budget=500, seed=0, eval_episodes=1, on_round=stop_after_two)
    assert [rounds for rounds, _ in seen] == [1, 2] and r.rounds == 2
    assert seen[-1][1] == r.labels_used < 500
    offline: list[int] = []
    run("bc", LOCK, env_kwargs=dict(horizon=5), budget=50, seed=0, eval_episodes=1,
        on_round=lambda p, a: offline.append(a.labels_used) or False)
    assert offline == [50]  # once, after the final fit


BAD_SETTINGS = [
    ("opd", {"k": 0}, ValueError),
    ("opd", {"greedy_rollouts": "false"}, TypeError),  # a string is not a boolean
    ("opd", {"lr": -1.0}, ValueError),
    ("opd", {"lmbda": float("nan")}, ValueError),
    ("opd", {"momentum": 0.9}, TypeError),
    ("bc", {"epochs": 2.5}, TypeError),
    ("dagger", {"bc_epochs": True}, TypeError),
]


@pytest.mark.parametrize("algo, settings, error", BAD_SETTINGS)
def test_bad_settings_raise_the_same_type_from_run_and_from_a_config(algo, settings, error, tmp_path, capsys) -> None:
    with pytest.raises(error):
        run(algo, LOCK, env_kwargs=dict(horizon=3), budget=10, seed=0, **settings)
    raw = {"envs": [LOCK], "algorithms": [{"name": algo, **settings}], "budgets": [10]}
    with pytest.raises(error):
        parse_config(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err


def test_a_budget_too_small_to_train_raises_before_training() -> None:
    with pytest.raises(ValueError, match="cannot label a single state"):
        run("opd", LOCK, env_kwargs=dict(horizon=3), budget=2, seed=0, loss="plurality", k=3)
    with pytest.raises(ValueError, match="cannot label a single state"):
        parse_config({"envs": [LOCK], "algorithms": [{"name": "opd", "loss": "plurality", "k": 5}], "budgets": [4, 100]})


def test_config_policy_kwargs_are_checked_by_building_the_policy() -> None:
    with pytest.raises(TypeError, match="policy_kwargs"):
        parse_config({"envs": [LOCK], "algorithms": ["bc"], "budgets": [10], "policy_kwargs": {"net_arc": [8]}})


def test_training_and_evaluation_seeds_never_meet() -> None:
    train, evaluation = set(), set()
    for seed in range(10_001):
        seeds = RunSeeds(seed)
        train.update(seeds.train_episode(i) for i in range(3))
        evaluation.update(seeds.eval_episodes(3))
    assert train.isdisjoint(evaluation)
    assert all(map(is_training_seed, train)) and all(map(is_evaluation_seed, evaluation))
    assert len(evaluation) == 3 * 10_001  # distinct runs get distinct evaluation episodes
    assert RunSeeds(7).eval_episodes(5) == RunSeeds(7).eval_episodes(5)
    with pytest.raises(ValueError, match="run seed"):
        RunSeeds(-1)


def test_the_docs_settings_table_is_the_schema() -> None:
    from baselines.learners import settings_table

    page = (Path(__file__).resolve().parents[1] / "docs" / "learners.md").read_text()
    block = page.split("keeps it in sync -->\n", 1)[1].split("\n<!-- end of settings table -->", 1)[0]
    assert block == settings_table()


def test_the_docs_example_learner_is_the_shipped_one() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "learners.md").read_text()
    example = EXAMPLE.read_text()
    body = example[example.index("class CleanDAgger:"):example.index("\n\nregister_learner")]
    assert body in page
