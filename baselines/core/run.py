"""``run``: one learner, one task, one budget, one seed -> one ``RunResult`` (``train``, ``evaluate``)."""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import time
import warnings
from typing import Any, Iterator

import torch as th

from baselines.core.evaluation import score
from baselines.learners import Accounting, OnRound, check_learner_fits, get_learner, learner_settings
from baselines.core.policies import make_policy
from baselines.core.result import RunResult
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task
from noisy_expert_envs.oracle import LabelMeter
from noisy_expert_envs.validation import check_int

#: Arguments of ``run`` every learner shares (set at the top level of a config, not per algorithm).
COMMON_KWARGS = ("policy", "policy_kwargs", "eval_episodes", "deterministic_eval")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads (small networks are fastest single-threaded), then restore."""
    before = th.get_num_threads()
    th.set_num_threads(n)
    try:
        yield
    finally:
        th.set_num_threads(before)


#: How many seeded episodes a run is evaluated on unless told otherwise.
DEFAULT_EVAL_EPISODES = 20


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """The arguments of one run, checked once (:meth:`check`, where ``run``/``train``/the threshold
    search is entered) and passed down as they are; ``settings`` is the learner's ``Settings``."""

    algo: str
    env_id: str
    budget: int
    seed: int
    settings: Any
    env_kwargs: dict[str, Any]
    policy: Any = None
    policy_kwargs: dict[str, Any] | None = None
    eval_episodes: int = DEFAULT_EVAL_EPISODES
    deterministic_eval: bool = True

    @classmethod
    def check(
        cls,
        algo: str,
        env_id: str,
        *,
        budget: int,
        seed: int,
        env_kwargs: dict[str, Any] | None = None,
        policy: Any = None,
        policy_kwargs: dict[str, Any] | None = None,
        eval_episodes: int = DEFAULT_EVAL_EPISODES,
        deterministic_eval: bool = True,
        **settings: Any,
    ) -> "RunSpec":
        """``TypeError``/``ValueError`` for the first bad argument, in this order; else the checked spec."""
        get_learner(algo)
        check_int("budget", budget, minimum=1)
        check_int("seed", seed, minimum=0)
        check_eval(eval_episodes, deterministic_eval)
        chosen = learner_settings(algo, settings)  # the one place a learner setting is checked
        return cls(algo, env_id, int(budget), int(seed), chosen, dict(env_kwargs or {}), policy, policy_kwargs,
                   int(eval_episodes), deterministic_eval)

    def at(self, budget: int) -> "RunSpec":
        """The same run at another budget (the threshold search's probes; ``budget`` is an int >= 1)."""
        return dataclasses.replace(self, budget=budget)


def check_eval(eval_episodes: Any, deterministic_eval: Any) -> None:
    """The evaluation arguments of ``run``/``evaluate``: ``eval_episodes >= 1``, a bool ``deterministic_eval``."""
    check_int("eval_episodes", eval_episodes, minimum=1)
    if not isinstance(deterministic_eval, bool):
        raise TypeError(f"deterministic_eval must be True or False, got {deterministic_eval!r}")


@dataclasses.dataclass
class Trained:
    """A trained learner before evaluation: what :func:`evaluate` needs to finish a ``run``.

    ``torch_rng`` is torch's RNG state right after training, restored before every evaluation so
    that a sampled evaluation (``deterministic_eval=False``) of the same training gives the same
    result however many evaluations came before it. ``accounting.labels_used`` is the oracles' count
    (checked); ``clean_labels_used`` how many of those labels came from the clean expert.
    """

    algo: str
    env_id: str
    task: Task
    budget: int
    seed: int
    settings: Any
    policy: Any
    accounting: Any
    wall_time_s: float
    torch_rng: th.Tensor
    clean_labels_used: int = 0


def check_accounting(algo: str, accounting: Any, meter: LabelMeter, source: str = "train() returned") -> None:
    """Refuse what a learner reports (``source``: where it came from) unless it is what its oracles counted.

    A ``BudgetExceeded`` the learner caught is raised again (the run overspent); ``TypeError`` unless
    ``accounting`` is an :class:`Accounting` with an integer ``labels_used``; ``ValueError`` naming
    the learner, its claim and the count when ``labels_used`` is not the count.
    """
    if meter.exceeded is not None:
        raise meter.exceeded
    if not isinstance(accounting, Accounting):
        raise TypeError(f"learner {algo!r}: {source} {accounting!r} of type {type(accounting).__name__}; "
                        "expected a baselines.Accounting")
    claimed = accounting.labels_used
    if isinstance(claimed, bool) or not isinstance(claimed, numbers.Integral):
        raise TypeError(f"learner {algo!r}: Accounting.labels_used must be an integer, got {claimed!r}")
    if claimed != meter.labels:
        raise ValueError(f"learner {algo!r} claims labels_used={claimed} but its oracles counted {meter.labels} "
                         f"({meter.clean_labels} from the clean expert): labels_used must be the count")


def checked_rounds(algo: str, meter: LabelMeter, on_round: OnRound | None) -> OnRound | None:
    """``on_round`` that first checks the round's accounting against the count (:func:`check_accounting`):
    the threshold search brackets on the labels a round reports."""
    if on_round is None:
        return None

    def checked(policy: Any, accounting: Accounting) -> bool:
        check_accounting(algo, accounting, meter, "on_round was given")
        return on_round(policy, accounting)

    return checked


def train(
    algo: str,
    env_id: str,
    *,
    budget: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    policy: Any = None,
    policy_kwargs: dict[str, Any] | None = None,
    on_round: OnRound | None = None,
    **settings: Any,
) -> Trained:
    """The training half of :func:`run` (same arguments, no evaluation); :func:`evaluate` finishes it."""
    return train_spec(RunSpec.check(algo, env_id, budget=budget, seed=seed, env_kwargs=env_kwargs, policy=policy,
                                    policy_kwargs=policy_kwargs, **settings), on_round)


@contextlib.contextmanager
def training_scope() -> Iterator[None]:
    """How every training runs: one torch thread, SB3's tensor-conversion warning silenced."""
    with torch_threads(1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
        yield


def seeded_start(spec: RunSpec) -> tuple[Task, Any]:
    """A checked spec's task (checked against its budget) and its learner policy, built after
    seeding everything with the run seed: the start every engine shares."""
    task = Task(spec.env_id, dict(spec.env_kwargs))
    check_learner_fits(spec.algo, task, spec.budget, spec.settings)
    RunSeeds(spec.seed).seed_global()
    return task, make_policy(task, spec.policy, spec.policy_kwargs)


def train_spec(spec: RunSpec, on_round: OnRound | None = None) -> Trained:
    """Train a checked :class:`RunSpec` (its arguments are not checked again; the task is built here)."""
    algo, env_id, budget, seed, chosen = spec.algo, spec.env_id, spec.budget, spec.seed, spec.settings
    learner = get_learner(algo)
    start = time.perf_counter()
    with training_scope():
        task, learner_policy = seeded_start(spec)
        # The oracles' count is the cost: a query past the budget raises inside the learner.
        with task.metered(budget) as meter:
            accounting = learner.train(learner_policy, task, budget=budget, seed=seed, settings=chosen,
                                       on_round=checked_rounds(algo, meter, on_round))
    check_accounting(algo, accounting, meter)
    wall_time = time.perf_counter() - start
    return Trained(algo, env_id, task, budget, seed, chosen, learner_policy, accounting, wall_time, th.get_rng_state(),
                   meter.clean_labels)


def evaluate(trained: Trained, *, eval_episodes: int = DEFAULT_EVAL_EPISODES,
             deterministic_eval: bool = True) -> RunResult:
    """Evaluate a :func:`train` result as :func:`run` does, on the task's evaluation side."""
    check_eval(eval_episodes, deterministic_eval)
    return _evaluate(trained, eval_episodes, deterministic_eval)


def _evaluate(trained: Trained, eval_episodes: int, deterministic_eval: bool) -> RunResult:
    seeds = RunSeeds(trained.seed)
    task, accounting = trained.task, trained.accounting
    th.set_rng_state(trained.torch_rng)
    with torch_threads(1):
        result = score(task.evaluation_task(), trained.policy, seeds.eval_episodes(eval_episodes),
                       deterministic_eval)
    return RunResult(
        algo=trained.algo,
        env_id=trained.env_id,
        seed=trained.seed,
        budget=trained.budget,
        env_kwargs=task.env_kwargs,
        settings={**dataclasses.asdict(trained.settings), "eval_episodes": eval_episodes,
                  "deterministic_eval": deterministic_eval},
        success_rate=result.success_rate,
        normalized_return=result.normalized_return,
        mean_return=result.mean_return,
        expert_return=result.expert_return,
        random_return=result.random_return,
        labels_used=accounting.labels_used,
        clean_labels_used=trained.clean_labels_used,
        env_steps=accounting.env_steps,
        updates=accounting.updates,
        episodes=accounting.episodes,
        rounds=accounting.rounds,
        wall_time_s=trained.wall_time_s,
        eval_episodes=eval_episodes,
        extra=dict(accounting.extra),
        policy=trained.policy,
    )


def run(
    algo: str,
    env_id: str,
    *,
    budget: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    policy: Any = None,
    policy_kwargs: dict[str, Any] | None = None,
    eval_episodes: int = DEFAULT_EVAL_EPISODES,
    deterministic_eval: bool = True,
    on_round: OnRound | None = None,
    **settings: Any,
) -> RunResult:
    """Train learner ``algo`` on ``env_id`` with at most ``budget`` expert labels, then evaluate it.

    ``algo`` is a key of :data:`baselines.learners.LEARNERS`: ``bc`` (offline, noisy-expert
    trajectories), ``bc_clean`` (offline, clean-expert trajectories: the reference), ``dagger``
    (imitation's DAgger with the noisy oracle), ``opd`` (on-policy distillation), or one added with
    ``register_learner``; ``settings`` are its ``Settings`` fields. ``policy`` is a name
    (``"mlp"``, the default, or ``"transformer"``), an SB3 ``ActorCriticPolicy`` class (with
    ``policy_kwargs``) or instance. ``on_round(policy, accounting) -> bool`` is called after every
    training round; True stops training. Evaluation runs ``eval_episodes`` seeded episodes, greedy
    unless ``deterministic_eval=False``, on the held-out side of the task's split when
    ``env_kwargs`` has ``split="train"`` (TokenChain's prompts). Bad arguments raise
    ``TypeError``/``ValueError`` before any training. ``run`` is :func:`train` then :func:`evaluate`.
    """
    spec = RunSpec.check(algo, env_id, budget=budget, seed=seed, env_kwargs=env_kwargs, policy=policy,
                         policy_kwargs=policy_kwargs, eval_episodes=eval_episodes,
                         deterministic_eval=deterministic_eval, **settings)
    return run_spec(spec, on_round)


def run_spec(spec: RunSpec, on_round: OnRound | None = None) -> RunResult:
    """:func:`run` of a checked :class:`RunSpec`: train, then evaluate (nothing is checked again)."""
    return _evaluate(train_spec(spec, on_round), spec.eval_episodes, spec.deterministic_eval)
