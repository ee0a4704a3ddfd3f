"""OPD's query_rule (issue 11): `all` keeps the records, `uncertain` asks only where the labels so far
do not settle a state's plurality, within the budget, deterministically, and with fewer labels.

``data/opd_all_records.json`` holds OPD records made at bb6f18f, before ``query_rule`` existed
(default settings plus plurality and forward_kl cells; 4 runs, a few seconds)."""

from __future__ import annotations

from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from baselines import run
from baselines.learners import learner_settings
from baselines.learners.base import equal_updates
from baselines.learners import opd as opd_module
from baselines.learners.query import log_evidence, plurality_is_significant, state_key
from baselines.sweep.threshold import labels_to_target

LOCK = "NoisyExpert/CombinationLock-v0"
LOCK10 = dict(horizon=10, n_actions=4, noise="uniform", epsilon=0.2)
PINNED = json.loads((Path(__file__).parent / "data" / "opd_all_records.json").read_text())["cells"]


def _params(policy) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in policy.parameters()])


@pytest.mark.parametrize("explicit", [False, True], ids=["default", "query_rule=all"])
@pytest.mark.parametrize("cell", PINNED, ids=lambda c: f"{c['env_id'].split('/')[1]}-{c['settings'].get('loss', 'sampled')}")
def test_query_rule_all_reproduces_the_records_from_before_it_existed(cell, explicit) -> None:
    extra = {"query_rule": "all"} if explicit else {}
    r = run(cell["algo"], cell["env_id"], env_kwargs=cell["env_kwargs"], budget=cell["budget"], seed=cell["seed"],
            eval_episodes=cell["eval_episodes"], **cell["settings"], **extra)
    assert {k: getattr(r, k) for k in cell["record"]} == cell["record"]
    params = _params(r.policy)
    # The records above match exactly; the trained weights only to float noise: torch picks its CPU
    # kernels by instruction set, so the same steps drift ~1e-6 relative from one machine to another.
    assert float(np.abs(params).sum()) == pytest.approx(cell["param_sum"], rel=1e-4)
    assert params[:8].tolist() == pytest.approx(cell["param_first"], rel=1e-4, abs=1e-6)


def test_the_evidence_is_the_mixture_integral_and_settles_where_the_docstring_says() -> None:
    from scipy.integrate import quad

    for a, b in ((5, 0), (7, 2), (12, 3)):
        integral = quad(lambda t: 2 * (2 * t) ** a * (2 * (1 - t)) ** b, 0.5, 1)[0]
        assert log_evidence(a, b) == pytest.approx(math.log(integral), rel=1e-9)
    first = {d: next(a for a in range(1, 60) if plurality_is_significant(np.array([a, 0, 0, 0.0]), d))
             for d in (0.05, 0.01, 0.00125)}
    assert first == {0.05: 9, 0.01: 11, 0.00125: 15}
    assert not plurality_is_significant(np.array([30.0, 30.0, 0.0, 0.0]), 0.5)  # a tie never settles


def test_the_plurality_test_errs_at_most_delta_when_two_actions_tie() -> None:
    """The worst case (the runner-up as likely as the mode), simulated with a look after every label:
    the anytime bound holds, so settling on the wrong one of two tied actions happens <= delta / 2."""
    delta, looks, trials = 0.2, 200, 4000
    # significance of (top, runner-up) on 3 actions, precomputed from the function under test
    table = np.array([[plurality_is_significant(np.array([a, b, 0.0]), delta) if a >= b else False
                       for b in range(looks + 1)] for a in range(looks + 1)])
    rng = np.random.default_rng(0)
    draws = rng.choice(3, size=(trials, looks), p=[0.45, 0.45, 0.10])  # actions 0 and 1 tie
    wrong = 0
    for row in draws:
        counts = np.zeros(3, dtype=int)
        for label in row:
            counts[label] += 1
            second, first = np.sort(counts)[-2:]
            if table[first, second]:
                wrong += int(np.argmax(counts) == 1)
                break
    # one-sided: the observed rate is not significantly above delta / 2 (it is ~delta / 4 here)
    assert stats.binomtest(wrong, trials, delta / 2, alternative="greater").pvalue > 1e-3
    assert wrong > 0  # the simulation does reach the wrong decision sometimes: the test is not vacuous


def test_uncertain_settings_are_refused_under_all_and_resolved_under_uncertain() -> None:
    s = learner_settings("opd", {"query_rule": "uncertain"})
    assert (s.delta, s.max_queries_per_state, s.confidence, s.max_fit_updates, s.max_idle_rounds) == (
        0.01, 64, None, 500, 20)
    for name, value in (("delta", 0.1), ("max_queries_per_state", 5), ("confidence", 0.9)):
        with pytest.raises(ValueError, match=f"{name}={value!r} applies to query_rule='uncertain' only"):
            learner_settings("opd", {name: value})
    with pytest.raises(ValueError, match=r"query_rule must be one of|valid choices.*'all', 'uncertain'"):
        learner_settings("opd", {"query_rule": "some"})
    with pytest.raises(ValueError, match="lmbda=0.5"):
        learner_settings("opd", {"query_rule": "uncertain", "lmbda": 0.5})
    with pytest.raises(ValueError, match=r"delta must be in \(0, 1\]"):
        learner_settings("opd", {"query_rule": "uncertain", "delta": 0.0})
    with pytest.raises(ValueError, match=r"needs Discrete actions.*Valid query_rule for continuous actions: \['all'\]"):
        run("opd", "NoisyExpert/Pendulum-v1", budget=50, seed=0, query_rule="uncertain")


@pytest.mark.parametrize("budget, settings", [(7, {}), (40, {}), (95, {}), (31, {"loss": "plurality"}),
                                              (23, {"loss": "forward_kl"})])
def test_uncertain_never_exceeds_the_budget(budget, settings, monkeypatch) -> None:
    asked: list[int] = []
    original = opd_module.query_states

    def counting(oracle, states, *args):
        out = original(oracle, states, *args)
        asked.append(oracle.queries)
        return out

    monkeypatch.setattr(opd_module, "query_states", counting)
    r = run("opd", LOCK, env_kwargs=LOCK10, budget=budget, seed=0, eval_episodes=1, query_rule="uncertain",
            **settings)
    assert asked and max(asked) == r.labels_used <= budget
    if settings.get("loss") != "forward_kl":  # forward_kl settles every state at its first query
        assert r.labels_used >= budget - 2  # labels were still needed: the budget, not the rule, stopped it


def _record_queries(monkeypatch) -> list[tuple[bytes, np.ndarray]]:
    """Patch OPD's teacher queries to log (state key, what the teacher said) per queried state."""
    log: list[tuple[bytes, np.ndarray]] = []
    original = opd_module.query_states

    def logging_queries(oracle, states, *args):
        targets, evidence = original(oracle, states, *args)
        log.extend((state_key(s), e) for s, e in zip(states, evidence))
        return targets, evidence

    monkeypatch.setattr(opd_module, "query_states", logging_queries)
    return log


@pytest.mark.parametrize("delta", [0.01, 0.2])
def test_a_state_whose_plurality_is_significant_is_not_queried_again(delta, monkeypatch) -> None:
    log = _record_queries(monkeypatch)
    r = run("opd", LOCK, env_kwargs=LOCK10, budget=400, seed=2, eval_episodes=1, query_rule="uncertain",
            delta=delta)
    per_state: dict[bytes, list[np.ndarray]] = defaultdict(list)
    for key, said in log:
        per_state[key].append(said)
    settled = 0
    for key, answers in per_state.items():
        counts = np.zeros(4)
        for i, said in enumerate(answers):
            assert not plurality_is_significant(counts, delta), "queried a state already settled"
            np.add.at(counts, said.astype(np.int64), 1)
        settled += plurality_is_significant(counts, delta)
        assert len(answers) <= 64  # max_queries_per_state
    assert len(per_state) == 10 and settled == 10 == r.extra["settled_states"]  # every depth settled ...
    assert r.success_rate == 1.0 and r.labels_used < 400  # ... then it stopped asking, under budget
    assert r.extra["labelled_states"] == len(log) == r.labels_used
    # the equal rule's steps, plus the steps that made the learner follow a settled plurality
    assert r.updates == equal_updates(r.labels_used, r.settings["updates_per_label"]) + r.extra["fit_updates"]


def test_uncertain_is_deterministic_for_a_seed() -> None:
    a, b = (run("opd", LOCK, env_kwargs=LOCK10, budget=150, seed=5, eval_episodes=1, query_rule="uncertain")
            for _ in range(2))
    skip = {"wall_time_s"}
    assert {k: v for k, v in a.to_record().items() if k not in skip} == \
        {k: v for k, v in b.to_record().items() if k not in skip}
    assert np.array_equal(_params(a.policy), _params(b.policy))


def _paired_labels(horizon: int, seeds: range, **settings) -> tuple[np.ndarray, np.ndarray]:
    kwargs = dict(horizon=horizon, n_actions=4, noise="uniform", epsilon=0.2)
    out = []
    for rule in ("uncertain", "all"):
        labels = [labels_to_target("opd", LOCK, seed=s, env_kwargs=kwargs, max_budget=6000, eval_episodes=1,
                                   query_rule=rule, **settings).labels for s in seeds]
        assert None not in labels, (rule, labels)
        out.append(np.array(labels, dtype=float))
    return out[0], out[1]


def test_uncertain_reaches_the_target_with_clearly_fewer_labels_on_a_short_lock() -> None:
    """With the teacher's distribution one query settles a state: H labels, against ~H²/2 for `all`.
    Paired over 6 seeds: every seed needs < half of `all`'s labels, and a one-sided sign test on
    log(uncertain / all) < log(0.5) rejects at 5% (p = 1/64)."""
    unc, alls = _paired_labels(10, range(6), loss="forward_kl")
    ratio = unc / alls
    assert stats.binomtest(int((ratio < 0.5).sum()), len(ratio), 0.5, alternative="greater").pvalue < 0.05
    assert np.all(unc == 10)  # one query per depth


@pytest.mark.slow
def test_uncertain_needs_fewer_sampled_labels_than_all_once_the_horizon_exceeds_the_settle_cost() -> None:
    """One sampled label per query: a state settles after ~19 labels (delta = 0.01), so `uncertain` saves
    labels only where `all` would label a state more often than that: H = 60 here (~1 min)."""
    unc, alls = _paired_labels(60, range(5))
    ratio = unc / alls
    assert stats.binomtest(int((ratio < 0.8).sum()), len(ratio), 0.5, alternative="greater").pvalue < 0.05


def test_without_repeats_or_confidence_uncertain_labels_exactly_what_all_labels() -> None:
    """CartPole's observations never repeat, so no state settles: `uncertain` asks at every visited state,
    the same queries in the same order as `all`, and learns the same policy."""
    kwargs = dict(env_kwargs=dict(noise="uniform", epsilon=0.2), budget=150, seed=0, eval_episodes=2)
    a = run("opd", "NoisyExpert/CartPole-v1", query_rule="all", **kwargs)
    u = run("opd", "NoisyExpert/CartPole-v1", query_rule="uncertain", **kwargs)
    assert np.array_equal(_params(a.policy), _params(u.policy))
    assert (u.labels_used, u.updates, u.normalized_return, u.extra["settled_states"]) == (
        a.labels_used, a.updates, a.normalized_return, 0)
