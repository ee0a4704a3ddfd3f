"""The lock's information floor (issue 11 item 2), against hand and Monte-Carlo computations."""

from __future__ import annotations

from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (scipy ...)

import numpy as np
import pytest

from baselines.analysis.information import (
    fixed_labels, lock_information_floor, plurality_correct, sequential_labels, settle_labels,
)
from baselines.learners.query import plurality_is_significant


def test_the_plurality_law_matches_a_hand_computation() -> None:
    p, q = 0.85, 0.05  # uniform eps = 0.2 over 4 actions
    assert plurality_correct(4, 0.2, 1) == pytest.approx(p)
    # 3 labels: >= 2 right, or 1 right and two different wrong ones (a 3-way tie, won 1 time in 3)
    assert plurality_correct(4, 0.2, 3) == pytest.approx(p**3 + 3 * p**2 * (1 - p) + 3 * p * 6 * q**2 / 3)
    # 2 labels under fixed_wrong eps: both right, or one each (a tie, won half the time)
    assert plurality_correct(4, 0.3, 2, noise="fixed_wrong") == pytest.approx(0.7**2 + 2 * 0.7 * 0.3 / 2)


def test_the_fixed_rule_is_the_smallest_plurality_at_that_level_times_the_horizon() -> None:
    n = fixed_labels(4, 0.2, 0.05 / 40)
    assert plurality_correct(4, 0.2, n) >= 1 - 0.05 / 40 > plurality_correct(4, 0.2, n - 1)
    assert lock_information_floor(40, 4, 0.2, 0.05, rule="fixed") == 40 * n


def _simulate_sequential(n_actions: int, epsilon: float, level: float, trials: int, rng) -> tuple[float, float, float]:
    """Monte-Carlo of the Bayes test: (mean labels, its standard error, error rate)."""
    r = (1 - epsilon + epsilon / n_actions) / (epsilon / n_actions)  # likelihood ratio of one label
    p = np.full(n_actions, epsilon / n_actions)
    p[0] += 1 - epsilon
    ns, wrong = [], 0
    for _ in range(trials):
        counts = np.zeros(n_actions)
        while True:
            post = r ** (counts - counts.max())
            post /= post.sum()
            if post.max() >= 1 - level:
                break
            counts[rng.choice(n_actions, p=p)] += 1
        ns.append(counts.sum())
        wrong += int(np.argmax(post) != 0)
    return float(np.mean(ns)), float(np.std(ns) / np.sqrt(trials)), wrong / trials


@pytest.mark.parametrize("n_actions, epsilon, level", [(4, 0.2, 0.05 / 40), (3, 0.5, 0.01)])
def test_the_sequential_floor_is_the_expected_labels_of_the_bayes_test(n_actions, epsilon, level) -> None:
    expected, error = sequential_labels(n_actions, epsilon, level)
    mean, se, rate = _simulate_sequential(n_actions, epsilon, level, 4000, np.random.default_rng(0))
    assert abs(mean - expected) < 4 * se
    assert error <= level and rate <= 3 * level + 0.002


def test_the_floor_scales_with_the_horizon_and_is_below_the_fixed_plurality() -> None:
    assert lock_information_floor(7, 4, 0.0) == 7  # a clean teacher: one label per state
    per_state = [lock_information_floor(h, 4, 0.2) / h for h in (10, 40, 160)]
    assert per_state == sorted(per_state) and per_state[-1] < 2 * per_state[0]  # grows like log(H / delta)
    assert lock_information_floor(40, 4, 0.2) < lock_information_floor(40, 4, 0.2, rule="fixed")
    assert 120 <= lock_information_floor(40, 4, 0.2) <= 280  # the "3 to 7 labels per state"


@pytest.mark.parametrize("kwargs, match", [
    (dict(noise="fixed_wrong", epsilon=0.55), "breaks the mode condition"),
    (dict(epsilon=1.0), "no mode"),
    (dict(noise="boltzmann"), "noise"),
    (dict(rule="exact"), "rule"),
    (dict(delta=0.0), "delta"),
])
def test_bad_floor_arguments_are_refused(kwargs, match) -> None:
    args = dict(horizon=10, n_actions=4, epsilon=0.2) | kwargs
    with pytest.raises(ValueError, match=match):
        lock_information_floor(**args)


def test_the_settle_cost_is_the_expected_labels_of_opd_s_own_test() -> None:
    """OPD's `uncertain` rule at one state (one label per query), simulated with the function it uses."""
    expected, error = settle_labels(4, 0.2, 0.1, max_queries=30)
    rng = np.random.default_rng(1)
    p = np.array([0.85, 0.05, 0.05, 0.05])
    ns = []
    for _ in range(3000):
        counts = np.zeros(4)
        while counts.sum() < 30 and not plurality_is_significant(counts, 0.1):
            counts[rng.choice(4, p=p)] += 1
        ns.append(counts.sum())
    assert abs(np.mean(ns) - expected) < 4 * np.std(ns) / np.sqrt(len(ns))
    assert error < 1e-6
    assert settle_labels(4, 0.2, 0.1, max_queries=30)[0] > lock_information_floor(40, 4, 0.2) / 40  # no model: dearer
