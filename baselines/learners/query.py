"""Which visited states OPD asks the teacher about under ``query_rule="uncertain"``.

States are keyed by their observation's bytes, so "the labels so far for this state" are the labels
of earlier visits to the exact same observation (Discrete, MultiDiscrete and MultiBinary
observations, and Box observations that repeat exactly such as the lock's one-hot depth). Nothing
else about the task is used. A state is *settled* once its labels show a significant plurality:

**The test.** Let a be the most frequent label at a state and b the runner-up, with counts c_a and
c_b. The state settles when the mixture e-value

    E(c_a, c_b) = ∫_{1/2}^{1} 2 · (2θ)^{c_a} (2(1 − θ))^{c_b} dθ

reaches ``(n_actions − 1) / delta``. Why this bounds the error at ``delta`` per state whatever the
number of looks: let j be the true mode and a ≠ j any other action. Among the labels that are a or
j, each is a with probability θ₀ = p_a / (p_a + p_j) <= ½, independently (the oracle draws each
label afresh), and for every θ >= ½ the factor (2θ)^{[a]} (2(1 − θ))^{[j]} has expectation
2θθ₀ + 2(1 − θ)(1 − θ₀) <= 1: E(c_a, c_j) is a nonnegative supermartingale starting at 1, and by
Ville's inequality it ever reaches 1/α with probability <= α, however often it is checked (a
sequential test, so checking after every label is allowed). E decreases in its second argument, so
settling on a (E(c_a, c_b) >= (m − 1)/δ with c_j <= c_b) implies E(c_a, c_j) >= (m − 1)/δ; the union
over the m − 1 actions a ≠ j bounds the probability of settling on a wrong mode by δ. Over S
settled states the union bound gives S·δ: to open an H-state lock with probability >= 1 − δ_total,
set ``delta = δ_total / H``. With one label per query and no runner-up labels, the state settles at
c_a = 15 labels for delta = 0.00125 (H = 40, δ_total = 0.05) and 4 actions, 11 for 0.01, 9 for 0.05.

Distribution losses query the teacher's whole distribution, whose argmax is exact: a state settles
after one query and the test is not used. ``max_queries_per_state`` caps the labels spent on a state
that never settles (two actions equally likely: the test then never stops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import betainc, betaln


def state_key(obs: np.ndarray) -> bytes:
    """The key of an observation: its bytes (equal observations of one space, equal keys)."""
    return np.ascontiguousarray(obs).tobytes()


def log_evidence(top: float, runner_up: float) -> float:
    """``log E(top, runner_up)`` of the module docstring, in closed form:
    ``E = 2^(a+b+1) · B(a+1, b+1) · I_{1/2}(b+1, a+1)`` (I the regularized incomplete beta)."""
    a, b = float(top), float(runner_up)
    tail = betainc(b + 1.0, a + 1.0, 0.5)
    if tail <= 0.0:  # pragma: no cover  (far beyond any threshold: float underflow of the tail)
        return math.inf
    return (a + b + 1.0) * math.log(2.0) + float(betaln(a + 1.0, b + 1.0)) + math.log(tail)


def plurality_is_significant(counts: np.ndarray, delta: float) -> bool:
    """Whether the label ``counts`` at one state (one entry per action) settle its plurality at level
    ``delta`` (the e-value test of the module docstring)."""
    if counts.sum() == 0:
        return False
    second, first = np.sort(counts)[-2:]
    return log_evidence(first, second) >= math.log((len(counts) - 1) / delta)


@dataclass
class StateLabels:
    """The labels asked so far, per state key, and which states are settled.

    ``counts[key]``: label counts per action (distribution losses: the sum of the queried
    distributions); ``queries[key]``: oracle queries spent there.
    """

    n_actions: int
    delta: float
    max_queries: int
    distribution: bool  # distribution losses: one query gives the exact argmax
    counts: dict[bytes, np.ndarray] = field(default_factory=dict)
    queries: dict[bytes, int] = field(default_factory=dict)
    settled: set[bytes] = field(default_factory=set)

    def needs_query(self, key: bytes) -> bool:
        return key not in self.settled

    def add(self, key: bytes, targets: np.ndarray, queries: int) -> None:
        """Record one query round at ``key``: its label votes (action indices, from 0) or its
        distribution, which cost ``queries`` oracle queries."""
        counts = self.counts.setdefault(key, np.zeros(self.n_actions))
        if self.distribution:
            counts += targets
        else:
            np.add.at(counts, np.asarray(targets, dtype=np.int64), 1.0)
        self.queries[key] = self.queries.get(key, 0) + queries
        if self.distribution or self.queries[key] >= self.max_queries or \
                plurality_is_significant(counts, self.delta):
            self.settled.add(key)

    def plurality(self, key: bytes) -> int:
        """The most frequent label (index from 0) at a known state."""
        return int(np.argmax(self.counts[key]))
