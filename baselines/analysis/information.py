"""The information floor of the combination lock: the labels an ideal learner that knows the task needs.

The ideal learner knows the lock's structure (H states, one per depth, reached in order) and the
noise model (its kind and ε). It opens the lock once it knows the mode of the teacher's labels at
every depth; it asks for labels at each state until that mode is known with confidence 1 − δ/H (so
all H modes are right with probability >= 1 − δ, by the union bound), and at no other state. Its
labels are H times the labels one state needs, by one of two rules:

- ``"sequential"`` (the floor): the Bayes sequential test that knows the noise model. After each
  label it computes the posterior over "which action is the clean one" (uniform prior over every
  placement of the clean action, and for ``fixed_wrong`` of the wrong one) and stops once the
  leading action's posterior is >= 1 − δ/H. The floor is its *expected* number of labels, computed
  exactly by summing over the count vectors it can reach (level by level, until the probability of
  not having stopped is below ``1e-12``).
- ``"fixed"``: the smallest fixed number n of labels whose plurality (ties broken uniformly at
  random) is the clean action with probability >= 1 − δ/H, from the exact multinomial law.

Both are defined only under the mode condition (the clean action is the most likely label): under
``fixed_wrong`` with ε >= ½ the mode is wrong and no number of labels finds the clean action.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict
from typing import Any, Callable

import numpy as np
from scipy.special import gammaln

from noisy_expert_envs.validation import check_choice, check_int, check_probability

FLOOR_NOISES = ("uniform", "fixed_wrong")
FLOOR_RULES = ("sequential", "fixed")
_TAIL = 1e-12  # the sequential sum stops when less probability than this is still running
_MAX_LABELS = 100_000


def _hypotheses(n_actions: int, epsilon: float, noise: str) -> tuple[np.ndarray, np.ndarray]:
    """Every label distribution the ideal learner considers (rows) and its clean action; row 0 is
    the truth (clean action 0, and for ``fixed_wrong`` wrong action 1)."""
    rows: list[np.ndarray] = []
    modes: list[int] = []
    if noise == "uniform":
        for a in range(n_actions):
            p = np.full(n_actions, epsilon / n_actions)
            p[a] += 1.0 - epsilon
            rows.append(p)
            modes.append(a)
    else:
        for a, b in itertools.permutations(range(n_actions), 2):
            p = np.zeros(n_actions)
            p[a], p[b] = 1.0 - epsilon, epsilon
            rows.append(p)
            modes.append(a)
    return np.array(rows), np.array(modes)


def _check(horizon: int, n_actions: int, epsilon: float, delta: float, noise: str, rule: str) -> None:
    check_int("horizon", horizon, minimum=1)
    check_int("n_actions", n_actions, minimum=2)
    check_probability("epsilon", epsilon)
    check_probability("delta", delta)
    check_choice("noise", noise, FLOOR_NOISES)
    check_choice("rule", rule, FLOOR_RULES)
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if noise == "uniform" and epsilon >= 1.0:
        raise ValueError("uniform noise with epsilon=1 has no mode (every label equally likely): the floor is "
                         "defined for epsilon < 1")
    if noise == "fixed_wrong" and epsilon >= 0.5:
        raise ValueError(f"fixed_wrong noise with epsilon={epsilon!r} >= 0.5 breaks the mode condition: the most "
                         f"likely label is the wrong action, so no number of labels identifies the clean one "
                         f"(the floor is defined for epsilon < 0.5)")


def _step(level: dict[tuple[int, ...], float], p: np.ndarray, symmetric: bool) -> dict[tuple[int, ...], float]:
    """The law of the count vector after one more label drawn from ``p``. ``symmetric``: the wrong
    actions are exchangeable (uniform noise), so count vectors are kept with their wrong counts
    sorted (the posterior's lead and the truth's law do not change under that relabelling)."""
    nxt: dict[tuple[int, ...], float] = defaultdict(float)
    for counts, mass in level.items():
        for a in np.flatnonzero(p):
            c = list(counts)
            c[a] += 1
            key = (c[0], *sorted(c[1:])) if symmetric else tuple(c)
            nxt[key] += mass * float(p[a])
    return nxt


def _log_posterior(counts: tuple[int, ...], log_p: np.ndarray) -> np.ndarray:
    """Unnormalised log posterior of each hypothesis (uniform prior); 0 * log 0 counts as 0."""
    c = np.asarray(counts, dtype=float)
    with np.errstate(invalid="ignore"):
        terms = np.where(c > 0, c * log_p, 0.0)
    return terms.sum(axis=1)


def _expected_stop(truth: np.ndarray, decide: Callable[[tuple[int, ...]], int | None],
                   symmetric: bool) -> tuple[float, float]:
    """``(expected labels, error probability)`` of a stopping rule on the label counts at one state:
    ``decide(counts)`` is the chosen action once the rule stops, else ``None``. Summed exactly over
    the count vectors, level by level, until less than ``_TAIL`` probability is still running."""
    running: dict[tuple[int, ...], float] = {(0,) * len(truth): 1.0}
    expected = error = 0.0
    for n in range(_MAX_LABELS + 1):
        carry: dict[tuple[int, ...], float] = {}
        for counts, mass in running.items():
            decision = decide(counts)
            if decision is None:
                carry[counts] = mass
            else:
                expected += n * mass
                error += mass if decision != 0 else 0.0
        if sum(carry.values()) < _TAIL:
            return expected, error
        running = _step(carry, truth, symmetric)
    raise RuntimeError(f"the test did not stop within {_MAX_LABELS} labels")  # pragma: no cover


@functools.lru_cache(maxsize=256)
def sequential_labels(n_actions: int, epsilon: float, level: float, noise: str = "uniform") -> tuple[float, float]:
    """``(expected labels, error probability)`` of the Bayes sequential test at one state that stops
    once the leading clean action's posterior is >= 1 − ``level`` (see the module docstring)."""
    hyps, modes = _hypotheses(n_actions, epsilon, noise)
    with np.errstate(divide="ignore"):
        log_p = np.log(hyps)

    def decide(counts: tuple[int, ...]) -> int | None:
        post_log = _log_posterior(counts, log_p)
        post = np.exp(post_log - post_log.max())
        by_mode = np.bincount(modes, weights=post, minlength=n_actions) / post.sum()
        lead = int(np.argmax(by_mode))
        return lead if by_mode[lead] >= 1.0 - level else None

    return _expected_stop(hyps[0], decide, symmetric=noise == "uniform")


@functools.lru_cache(maxsize=256)
def settle_labels(n_actions: int, epsilon: float, delta: float, noise: str = "uniform",
                  max_queries: int = 64) -> tuple[float, float]:
    """``(expected labels, error probability)`` at one state of OPD's ``query_rule="uncertain"`` with one
    label per query: asked until :func:`baselines.learners.query.plurality_is_significant` at ``delta`` or
    ``max_queries`` labels (its plurality then; a tie, possible only at the cap, counts as right). The
    learner's own per-state cost, which needs no knowledge of the noise."""
    from baselines.learners.query import plurality_is_significant

    truth = _hypotheses(n_actions, epsilon, noise)[0][0]

    significant: dict[tuple[int, int], bool] = {}  # the test reads only the top two counts

    def decide(counts: tuple[int, ...]) -> int | None:
        second, first = sorted(counts)[-2:]
        if (first, second) not in significant:
            significant[first, second] = plurality_is_significant(np.array([first, second] + [0] * (n_actions - 2),
                                                                           dtype=float), delta)
        if sum(counts) >= max_queries or significant[first, second]:
            return int(np.argmax(counts))
        return None

    return _expected_stop(truth, decide, symmetric=noise == "uniform")


def plurality_correct(n_actions: int, epsilon: float, n: int, noise: str = "uniform") -> float:
    """Probability that the plurality of ``n`` labels (ties broken uniformly) is the clean action."""
    truth = _hypotheses(n_actions, epsilon, noise)[0][0]
    support = np.flatnonzero(truth)
    log_q = np.log(truth[support])
    total = 0.0
    # every count vector over the labels that can occur, with its multinomial probability
    for rest in itertools.product(range(n + 1), repeat=len(support) - 1):
        if sum(rest) > n:
            continue
        counts = np.array((n - sum(rest),) + rest)
        log_mass = gammaln(n + 1) - gammaln(counts + 1).sum() + (counts * log_q).sum()
        top = counts.max()
        if counts[0] == top:  # support[0] is the clean action 0
            total += math.exp(log_mass) / int((counts == top).sum())
    return total


@functools.lru_cache(maxsize=256)
def fixed_labels(n_actions: int, epsilon: float, level: float, noise: str = "uniform") -> int:
    """The smallest ``n`` whose plurality is the clean action with probability >= 1 − ``level``."""
    for n in range(1, _MAX_LABELS + 1):
        if plurality_correct(n_actions, epsilon, n, noise) >= 1.0 - level:
            return n
    raise RuntimeError(f"no plurality of <= {_MAX_LABELS} labels reaches 1 - {level}")  # pragma: no cover


def lock_information_floor(horizon: int, n_actions: int, epsilon: float, delta: float = 0.05,
                           noise: str = "uniform", rule: str = "sequential") -> float:
    """Labels an ideal learner that knows the lock's structure and noise needs to open it with
    probability >= 1 − ``delta``: ``horizon`` times one state's labels at level ``delta / horizon``
    (``rule="sequential"``: the expected labels of the Bayes sequential test; ``"fixed"``: the
    smallest fixed plurality). ``ValueError`` for a bad argument or when the mode condition fails."""
    _check(horizon, n_actions, epsilon, delta, noise, rule)
    level = delta / horizon
    if rule == "sequential":
        return horizon * sequential_labels(n_actions, epsilon, level, noise)[0]
    return float(horizon * fixed_labels(n_actions, epsilon, level, noise))


#: The overall confidence the plotted floor is drawn at (each of H states at 1 − δ/H).
FLOOR_DELTA = 0.05
LOCK_ID = "NoisyExpert/CombinationLock-v0"


def task_floor(env_id: str, env_kwargs: dict[str, Any], horizon: float, delta: float = FLOOR_DELTA) -> float | None:
    """The sequential floor of a lock task given by its id and kwargs (the lock's and the noise's
    defaults: 4 actions, uniform noise at ε = 0.2), or ``None`` for another task, another noise
    model, or a noise level without the mode condition."""
    if env_id != LOCK_ID:
        return None
    noise = env_kwargs.get("noise", "uniform")
    epsilon = env_kwargs.get("epsilon", 0.2)
    if noise not in FLOOR_NOISES or not isinstance(epsilon, (int, float)):
        return None
    try:
        return lock_information_floor(int(horizon), int(env_kwargs.get("n_actions", 4)), float(epsilon), delta,
                                      noise=noise)
    except ValueError:
        return None
