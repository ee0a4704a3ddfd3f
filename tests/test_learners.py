"""The learner interface: one signature, one frozen settings schema, user learners, seeds."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import dataclasses
import inspect
import runpy
from pathlib import Path

import numpy as np
import yaml

from baselines import LEARNERS, Accounting, BudgetExceeded, labels_to_target, run
from baselines.cli import main
from baselines.sweep.config import load_config, parse_config
from baselines.learners import BUILTIN_LEARNERS, register_learner
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
    with pytest.raises(ValueError, match="'opd' is a built-in"):
        register_learner("opd", LEARNERS["opd"])


# -- the oracle's count is the cost ---------------------------------------------------------------


_CLAIM = object()  # Asker's default: return an Accounting that claims ``claimed`` labels


class Asker:
    """A user learner that asks ``asked`` noisy labels (from ``task.oracle`` and, with ``via_env``,
    the env's own oracle) and returns ``accounting`` (default: one that claims ``claimed`` labels, or
    ``asked``)."""

    @dataclasses.dataclass(frozen=True)
    class Settings:
        pass

    def __init__(self, asked, claimed=None, *, via_env=0, accounting=_CLAIM, catch=False):
        self.asked, self.claimed, self.via_env, self.accounting, self.catch = asked, claimed, via_env, accounting, catch

    def train(self, policy, task, *, budget, seed, settings, on_round=None):
        env = task.make_env()
        obs, _ = env.reset(seed=seed)
        oracle = task.oracle(seed)
        try:
            oracle.sample(np.repeat(obs[None], self.asked(budget), axis=0))
            env.get_wrapper_attr("oracle").sample(np.repeat(obs[None], self.via_env, axis=0))
        except BudgetExceeded:
            if not self.catch:
                raise
        if self.accounting is not _CLAIM:
            return self.accounting
        acc = Accounting(labels_used=self.asked(budget) if self.claimed is None else self.claimed(budget))
        if on_round is not None:
            on_round(policy, acc)
        return acc


@pytest.fixture
def register():
    """``register(name, learner)``, unregistered after the test."""
    names: list[str] = []

    def add(name, learner, **kwargs):
        register_learner(name, learner, **kwargs)
        names.append(name)

    yield add
    for name in names:
        LEARNERS.pop(name, None)


def _run(algo, budget=10, **kwargs):
    return run(algo, LOCK, env_kwargs=dict(horizon=3), budget=budget, seed=0, eval_episodes=1, **kwargs)


def test_a_query_past_the_budget_raises_inside_the_learner_and_its_sweep_record_is_an_error(register, tmp_path):
    register("greedy", Asker(lambda budget: 4 * budget, lambda budget: budget))  # asks 4x, claims the budget
    with pytest.raises(BudgetExceeded, match=r"^label budget exceeded: 0 labels counted \+ 40 asked > budget 10$"):
        _run("greedy")
    register("sly", Asker(lambda budget: 4 * budget, lambda budget: budget, catch=True))  # swallows the error
    with pytest.raises(BudgetExceeded, match="budget 10"):
        _run("sly")
    raw = {"envs": [{"id": LOCK, "kwargs": {"horizon": 3}}], "algorithms": ["greedy", "sly"], "budgets": [10],
           "eval_episodes": 1}
    summary = run_sweep(parse_config(raw), tmp_path / "out", jobs=1, progress=False)
    assert (summary.ok, summary.failed) == (0, 2)
    records = read_records(tmp_path / "out" / "results.jsonl").records
    assert [r["status"] for r in records] == ["error", "error"] and all(
        r["error"].startswith("BudgetExceeded: label budget exceeded") for r in records)


def test_labels_used_that_is_not_the_oracles_count_is_refused(register):
    register("liar", Asker(lambda budget: 40, lambda budget: 20))  # asked 40, claims 20
    with pytest.raises(ValueError, match=r"learner 'liar' claims labels_used=20 but its oracles counted 40 "):
        _run("liar", budget=50)
    register("env_peeker", Asker(lambda budget: 5, via_env=3))  # the env's own oracle counts too
    with pytest.raises(ValueError, match="claims labels_used=5 but its oracles counted 8"):
        _run("env_peeker", budget=50)
    register("honest", Asker(lambda budget: 5, lambda budget: 8, via_env=3))
    assert _run("honest", budget=50).labels_used == 8
    seen = []  # a round's claim is checked before on_round (the threshold search brackets on it) sees it
    with pytest.raises(ValueError, match="claims labels_used=20 but its oracles counted 40"):
        _run("liar", budget=50, on_round=lambda policy, acc: seen.append(acc) or False)
    assert seen == []
    with pytest.raises(ValueError, match="claims labels_used=20 but its oracles counted 40"):
        labels_to_target("liar", LOCK, env_kwargs=dict(horizon=3), seed=0, max_budget=50, start=50, eval_episodes=1)


@pytest.mark.parametrize("accounting, message", [
    (None, "train\\(\\) returned None of type NoneType; expected a baselines.Accounting"),
    ({"labels_used": 3}, "train\\(\\) returned {'labels_used': 3} of type dict; expected a baselines.Accounting"),
    (Accounting(labels_used=True), "Accounting.labels_used must be an integer, got True"),
])
def test_train_must_return_an_accounting(register, accounting, message):
    register("odd", Asker(lambda budget: 1, accounting=accounting))
    with pytest.raises(TypeError, match=f"learner 'odd': {message}"):
        _run("odd")


def test_clean_expert_labels_are_recorded_as_such(clean_dagger):
    assert (_run("bc").clean_labels_used, _run("bc_clean").clean_labels_used) == (0, 10)
    r = _run("clean_dagger", budget=30)  # the docs' learner labels with oracle.clean
    assert r.labels_used == r.to_record()["clean_labels_used"] == 30


def test_learner_names_are_case_insensitive_and_built_ins_cannot_be_replaced(register):
    before = dict(LEARNERS)
    for name in ("opd", "BC", "Dagger"):
        with pytest.raises(ValueError, match=r"built-ins \['bc', 'bc_clean', 'sft_logits', 'dagger', 'opd'\] "
                                             "cannot be replaced"):
            register_learner(name, Asker(lambda budget: 1), replace=True)
    with pytest.raises(ValueError, match="'BC' is taken by the built-in 'bc' \\(names are case-insensitive\\)"):
        register_learner("BC", Asker(lambda budget: 1))
    assert LEARNERS == before and BUILTIN_LEARNERS == tuple(before)
    first, second = Asker(lambda budget: 1), Asker(lambda budget: 2)
    register("mine", first)
    with pytest.raises(ValueError, match="'Mine' is taken by the registered 'mine' \\(names are case-insensitive\\)"):
        register_learner("Mine", second, replace=True)
    with pytest.raises(ValueError, match="'mine' is already registered; pass replace=True"):
        register_learner("mine", second)
    register("mine", second, replace=True)  # a user learner may be replaced under its own name
    assert LEARNERS["mine"] is second and "Mine" not in LEARNERS


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
