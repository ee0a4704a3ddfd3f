"""The shared training rule: equal gradient steps per label for every learner, and the legacy rules."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import json
from pathlib import Path

import numpy as np


from baselines import run
from baselines.learners import LEARNERS, learner_settings
from baselines.learners.base import BATCH_SIZE, LR, UPDATES_PER_LABEL, equal_updates

LOCK = "NoisyExpert/CombinationLock-v0"
CARTPOLE = "NoisyExpert/CartPole-v1"
LEGACY = json.loads((Path(__file__).parent / "data" / "legacy_records.json").read_text())["cells"]

# opd-plurality spends k = 3 labels per state: it is compared at equal labels, not equal states.
# (bc_clean trains through the same code as bc.)
LEARNER_VARIANTS = [("bc", {}), ("dagger", {}), ("opd", {}), ("opd", {"loss": "plurality"})]


def test_equal_updates_is_the_ceiling_of_the_rate_times_the_labels() -> None:
    assert [equal_updates(n, 0.5) for n in (0, 1, 2, 3)] == [0, 1, 1, 2]
    assert equal_updates(30, 0.1) == 3  # 0.1 * 30 is 3.0000000000000004 in floating point
    assert equal_updates(1000, 2.0) == 2000


@pytest.mark.parametrize("env_id, env_kwargs, budgets", [
    (LOCK, dict(horizon=10, n_actions=4, noise="uniform", epsilon=0.2), (30, 200)),
    (CARTPOLE, dict(noise="uniform", epsilon=0.2), (100, 300)),
])
def test_at_equal_labels_every_learner_takes_the_same_gradient_steps(env_id, env_kwargs, budgets) -> None:
    for budget in budgets:
        updates = {}
        for algo, settings in LEARNER_VARIANTS:
            after_rounds: list[tuple[int, int]] = []
            r = run(algo, env_id, env_kwargs=env_kwargs, budget=budget, seed=1, eval_episodes=1,
                    on_round=lambda p, a: after_rounds.append((a.labels_used, a.updates)) or False, **settings)
            assert budget - 2 <= r.labels_used <= budget  # plurality spends labels in threes
            # after every round the total is U(labels so far): online learners spread their steps
            assert after_rounds and all(u == equal_updates(n, UPDATES_PER_LABEL) for n, u in after_rounds)
            updates[(algo, settings.get("loss"))] = r.updates
        assert max(updates.values()) <= 1.25 * min(updates.values()), (budget, updates)
        assert max(updates.values()) == equal_updates(budget, UPDATES_PER_LABEL)


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_equal_is_the_default_with_one_learning_rate_and_batch_size(name: str) -> None:
    s = learner_settings(name)
    assert (s.schedule, s.updates_per_label, s.lr, s.batch_size) == ("equal", UPDATES_PER_LABEL, LR, BATCH_SIZE)
    assert learner_settings(name, {"lr": 5e-4}).lr == 5e-4  # an explicit rate wins under either rule
    assert learner_settings(name, {"schedule": "legacy", "lr": 5e-4}).lr == 5e-4


def test_legacy_keeps_each_learner_s_old_learning_rate() -> None:
    assert learner_settings("bc", {"schedule": "legacy"}).lr == 1e-3
    assert learner_settings("dagger", {"schedule": "legacy"}).lr == 1e-3
    assert learner_settings("opd", {"schedule": "legacy"}).lr == 3e-3


@pytest.mark.parametrize("cell", LEGACY, ids=lambda c: f"{c['algo']}-{c['env_id'].split('/')[1]}-{c['budget']}")
def test_legacy_reproduces_the_records_from_before_the_shared_rule(cell) -> None:
    r = run(cell["algo"], cell["env_id"], env_kwargs=cell["env_kwargs"], budget=cell["budget"], seed=cell["seed"],
            eval_episodes=cell["eval_episodes"], schedule="legacy", **cell["settings"])
    assert {k: getattr(r, k) for k in cell["record"]} == cell["record"]
    params = np.concatenate([p.detach().numpy().ravel() for p in r.policy.parameters()])
    # Records match exactly; weights to float noise: torch's CPU kernels differ by instruction set, and
    # gymnasium 1.x/SB3 2.9 (make test-modern) give the same records with weights ~1e-6 relative apart.
    assert float(np.abs(params).sum()) == pytest.approx(cell["param_sum"], rel=1e-4)
    assert params[:8].tolist() == pytest.approx(cell["param_first"], rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("name, setting", [("bc", "epochs"), ("bc", "min_updates"), ("opd", "updates_per_round"),
                                           ("dagger", "bc_epochs")])
def test_a_legacy_only_setting_is_refused_under_equal_and_resolved_under_legacy(name, setting) -> None:
    with pytest.raises(ValueError, match=f"{setting}=7 applies to schedule='legacy' only"):
        learner_settings(name, {setting: 7})  # it would be silently ignored
    assert getattr(learner_settings(name, {"schedule": "legacy", setting: 7}), setting) == 7
    legacy = learner_settings(name, {"schedule": "legacy"})
    assert getattr(legacy, setting) == {"epochs": 10, "min_updates": 500, "updates_per_round": 50, "bc_epochs": 4}[setting]
    assert getattr(learner_settings(name), setting) is None


@pytest.mark.parametrize("settings, error, match", [
    ({"schedule": "fair"}, ValueError, "equal"),  # names the valid choices
    ({"schedule": None}, TypeError, "schedule"),
    ({"updates_per_label": 0}, ValueError, "updates_per_label"),
    ({"updates_per_label": -1.0}, ValueError, "updates_per_label"),
    ({"updates_per_label": float("inf")}, ValueError, "updates_per_label"),
    ({"updates_per_label": "2"}, TypeError, "updates_per_label"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": "1e-3"}, TypeError, "lr"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 32.0}, TypeError, "batch_size"),
])
@pytest.mark.parametrize("name", ["bc", "dagger", "opd"])
def test_training_rule_settings_are_checked(name, settings, error, match) -> None:
    with pytest.raises(error, match=match):
        learner_settings(name, settings)
