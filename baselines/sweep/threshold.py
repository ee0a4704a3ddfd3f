"""``labels_to_target``: the smallest label budget at which a learner reaches a target, per seed.

Online learners (those with ``online = True``: ``opd``, ``dagger``) are trained once up to
``max_budget`` and evaluated after every round through the ``on_round`` hook; training stops at the
first round whose policy reaches the target, and the bracket is the previous and this round's label
counts. Offline learners (``bc``, ``bc_clean``, and any learner without ``online``) are searched
over the budget per seed, galloping (x2) from ``start`` and then bisecting; their data are nested (a
budget's demonstrations are a prefix of one seeded stream), so more budget never means other data.
Either way, a bracket wider than ``resolution`` is then narrowed by bisection with full runs at
intermediate budgets, so every reported ``labels`` is a budget at which ``run`` itself reaches the
target with the same seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch as th

from baselines.core.evaluation import score
from baselines.core.run import DEFAULT_EVAL_EPISODES, RunSpec, run_spec
from baselines.learners import LEARNERS, check_learner_fits, get_learner
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task
from noisy_expert_envs.validation import check_int, check_real

#: The success level labels-to-target is measured at unless told otherwise (search and configs).
DEFAULT_TARGET = 0.9
#: The largest ratio hi / lo a reported bracket may span unless told otherwise.
DEFAULT_RESOLUTION = 2**0.25


@dataclass(frozen=True)
class Threshold:
    """Labels-to-target of one learner on one task for one seed.

    ``labels`` is the smallest budget found to reach the target (``None``: not reached within
    ``max_budget``); ``bracket = (lo, hi)``: the target is missed at ``lo`` labels (0: no labels)
    and reached at ``hi == labels`` (``hi`` is ``None`` when not reached, ``lo`` then the largest
    budget tried); ``hi / lo <= resolution`` unless ``lo == 0`` or ``hi == lo + 1`` (no budget lies
    between). ``runs`` counts trainings. ``clean_labels_used``: how many of the labels of the training
    at ``hi`` (at ``lo`` when not reached) came from the clean expert (``RunResult.clean_labels_used``).
    """

    labels: int | None
    bracket: tuple[int, int | None]
    runs: int
    clean_labels_used: int = 0


def _check(target: Any, max_budget: Any, resolution: Any, start: Any) -> None:
    target = check_real("target", target)
    if not (0.0 < target <= 1.0):
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    check_int("max_budget", max_budget, minimum=1)
    resolution = check_real("resolution", resolution)
    if not (1.0 < resolution < math.inf):
        raise ValueError(f"resolution must be a finite number > 1 (a ratio of budgets), got {resolution!r}")
    check_int("start", start, minimum=1)


def labels_to_target(
    algo: str,
    env_id: str,
    *,
    seed: int,
    target: float = DEFAULT_TARGET,
    max_budget: int,
    resolution: float = DEFAULT_RESOLUTION,
    env_kwargs: dict[str, Any] | None = None,
    start: int = 16,
    eval_episodes: int = DEFAULT_EVAL_EPISODES,
    deterministic_eval: bool = True,
    policy: Any = None,
    policy_kwargs: dict[str, Any] | None = None,
    **settings: Any,
) -> Threshold:
    """Measure the labels ``algo`` needs on ``env_id`` to reach ``target`` with run seed ``seed``.

    The metric is the success rate where the task has one, else the normalized return (both as
    ``run`` reports them, on the same evaluation seeds). ``start`` is where an offline search
    begins. Bad arguments raise before any training (``run``'s checks apply to ``settings``).
    """
    get_learner(algo)
    _check(target, max_budget, resolution, start)
    # Every run argument (settings included) is checked here, once, before any training.
    spec = RunSpec.check(algo, env_id, budget=max_budget, seed=seed, env_kwargs=env_kwargs, policy=policy,
                         policy_kwargs=policy_kwargs, eval_episodes=eval_episodes,
                         deterministic_eval=deterministic_eval, **settings)
    return search(spec, float(target), float(resolution), int(start))


def search(spec: RunSpec, target: float, resolution: float, start: int = 16) -> Threshold:
    """:func:`labels_to_target` of a checked :class:`RunSpec` whose ``budget`` is the search's cap
    (``max_budget``); ``target``, ``resolution`` and ``start`` are checked by the caller."""
    algo, max_budget = spec.algo, spec.budget
    task = Task(spec.env_id, dict(spec.env_kwargs))
    runs = 0
    clean_at: dict[int, int] = {}  # budget -> clean-expert labels of its training

    def reached(budget: int) -> bool:
        nonlocal runs
        try:  # a budget the learner cannot train with (e.g. below plurality's k) misses the target
            check_learner_fits(algo, task, budget, spec.settings)
        except ValueError:
            if budget >= max_budget:
                raise
            return False
        runs += 1
        result = run_spec(spec.at(budget))
        clean_at[budget] = result.clean_labels_used
        return result.metric() >= target

    if getattr(LEARNERS[algo], "online", False):
        lo, hi, clean = _online_bracket(spec, task, target)
        clean_at[lo if hi is None else hi] = clean
        runs += 1
    else:
        lo, hi = _gallop(reached, min(start, max_budget), max_budget)
    if hi is None:
        return Threshold(None, (lo, None), runs, clean_at.get(lo, 0))
    while hi - lo > 1 and (lo == 0 or hi / lo > resolution):
        budget = hi // 2 if lo == 0 else round(math.sqrt(lo * hi))
        budget = min(max(budget, lo + 1), hi - 1)
        if reached(budget):
            hi = budget
        else:
            lo = budget
    return Threshold(hi, (lo, hi), runs, clean_at[hi])


def _gallop(reached: Any, start: int, max_budget: int) -> tuple[int, int | None]:
    """Double the budget from ``start`` until the target is reached (or ``max_budget`` fails)."""
    lo, budget = 0, start
    while True:
        if reached(budget):
            return lo, budget
        if budget >= max_budget:
            return budget, None
        lo, budget = budget, min(2 * budget, max_budget)


def _online_bracket(spec: RunSpec, task: Task, target: float) -> tuple[int, int | None, int]:
    """One training up to ``spec.budget`` (the search's cap), evaluated after every round; stop at the
    first success. ``(lo, hi, clean-expert labels of the training)``."""
    eval_seeds = RunSeeds(spec.seed).eval_episodes(spec.eval_episodes)
    # Once, not per round: a split task's evaluation side is a new Task, whose probe env (spaces,
    # expert return) would otherwise be rebuilt every round.
    eval_task = task.evaluation_task()
    history: list[tuple[int, bool]] = []

    def on_round(policy: Any, accounting: Any) -> bool:
        # Evaluating must not move torch's RNG (sampled evaluation, sampling learners): training then
        # continues exactly as run(budget=labels so far) would have trained.
        state = th.get_rng_state()
        ok = score(eval_task, policy, eval_seeds, spec.deterministic_eval).metric() >= target
        th.set_rng_state(state)
        history.append((accounting.labels_used, ok))
        return ok

    result = run_spec(spec, on_round)
    if not history or not history[-1][1]:
        return result.labels_used, None, result.clean_labels_used
    return (history[-2][0] if len(history) > 1 else 0), history[-1][0], result.clean_labels_used
