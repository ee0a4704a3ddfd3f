"""``run``: one algorithm, one task, one budget, one seed -> one ``RunResult``."""

from __future__ import annotations

import inspect
import time
import warnings
from typing import Any, Callable

from gymnasium import spaces

from baselines.adapters import labelling_oracle, make_env, seed_everything, torch_threads
from baselines.dagger import train_dagger
from baselines.evaluation import eval_seeds, normalized_return, policy_act, reference_returns, run_episodes
from baselines.losses import DISCRETE_ONLY_LOSSES, LOSSES
from baselines.offline import collect_demonstrations, train_bc
from baselines.opd import train_opd
from baselines.policies import make_policy
from baselines.result import RunResult
from noisy_expert_envs._validation import check_choice, check_int, check_positive, check_probability

ALGORITHMS = ("bc", "bc_clean", "dagger", "opd")
COMMON_KWARGS = ("policy", "policy_kwargs", "eval_episodes", "deterministic_eval")


_TRAINERS: dict[str, Callable[..., Any]] = {
    "bc": train_bc, "bc_clean": train_bc, "dagger": train_dagger, "opd": train_opd,
}


def _algo_settings(algo: str) -> dict[str, Any]:
    """The tunable settings of ``algo`` with their defaults: its trainer's keyword-only arguments."""
    skip = {"budget", "seed", "stop_when"}
    params = inspect.signature(_TRAINERS[algo]).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name not in skip}


def algorithm_settings(algo: str) -> dict[str, Any]:
    """Public view of the settings ``run`` accepts for ``algo`` (besides the common ones)."""
    check_choice("algorithm", algo, ALGORITHMS)
    return _algo_settings(algo)


def _validate(algo: str, budget: Any, seed: Any, env_id: str, env_kwargs: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    check_choice("algorithm", algo, ALGORITHMS)
    check_int("budget", budget, minimum=1)
    check_int("seed", seed, minimum=0)
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a registered Gymnasium id string, got {env_id!r}")
    if not isinstance(env_kwargs, dict):
        raise TypeError(f"env_kwargs must be a dict, got {env_kwargs!r}")
    return validate_settings(algo, settings)


def validate_settings(algo: str, settings: dict[str, Any]) -> dict[str, Any]:
    """``algo``'s settings with defaults filled in, each checked (``TypeError``/``ValueError`` naming
    the bad one); ``algo`` must be a known algorithm."""
    known = _algo_settings(algo)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown} for algorithm {algo!r}; valid: {sorted(known) + sorted(COMMON_KWARGS)}")
    merged = {**known, **settings}
    if algo == "opd":
        check_choice("loss", merged["loss"], LOSSES)
        check_int("k", merged["k"], minimum=1)
        check_probability("lmbda", merged["lmbda"])
        check_probability("beta", merged["beta"])
        check_int("episodes_per_round", merged["episodes_per_round"], minimum=1)
        check_int("updates_per_round", merged["updates_per_round"], minimum=1)
    for name in ("batch_size", "epochs", "bc_epochs", "min_updates", "round_min_timesteps", "round_min_episodes",
                 "beta_rampdown"):
        if name in merged:
            check_int(name, merged[name], minimum=1)
    check_positive("lr", merged["lr"])
    check_positive("ent_weight", merged["ent_weight"], allow_zero=True)
    if not isinstance(merged.get("greedy_rollouts", True), bool):
        raise TypeError(f"greedy_rollouts must be True or False, got {merged['greedy_rollouts']!r}")
    return merged


def check_loss_fits_actions(algo: str, settings: dict[str, Any], env_id: str, action_space: spaces.Space) -> None:
    """``ValueError`` unless ``algo``'s loss works on ``action_space``: OPD's plurality and
    distribution losses need Discrete actions."""
    loss = settings.get("loss", "sampled")
    if algo == "opd" and loss in DISCRETE_ONLY_LOSSES and not isinstance(action_space, spaces.Discrete):
        raise ValueError(
            f"loss {loss!r} needs Discrete actions; {env_id} has {action_space}. "
            f"Valid losses for continuous actions: ['sampled']"
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
    eval_episodes: int = 20,
    deterministic_eval: bool = True,
    **algo_kwargs: Any,
) -> RunResult:
    """Train ``algo`` on ``env_id`` with at most ``budget`` expert labels, then evaluate it.

    ``algo``: ``bc`` (offline, noisy-expert trajectories), ``bc_clean`` (offline, clean-expert
    trajectories: the reference), ``dagger`` (imitation's DAgger with the noisy oracle) or ``opd``
    (on-policy distillation; ``loss``, ``k``, ``beta``, ``lmbda``, ...). ``policy`` is an SB3
    ``ActorCriticPolicy`` class (with ``policy_kwargs``) or instance. Evaluation runs
    ``eval_episodes`` seeded episodes, greedy unless ``deterministic_eval=False``. Bad arguments
    raise before any training.
    """
    env_kwargs = dict(env_kwargs or {})
    settings = _validate(algo, budget, seed, env_id, env_kwargs, algo_kwargs)
    check_int("eval_episodes", eval_episodes, minimum=1)
    env = make_env(env_id, env_kwargs)
    check_loss_fits_actions(algo, settings, env_id, env.action_space)

    start = time.perf_counter()
    with torch_threads(1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
        seed_everything(seed)
        learner = make_policy(env, policy, policy_kwargs)
        if algo in ("bc", "bc_clean"):
            demos, labels = collect_demonstrations(env_id, env_kwargs, budget, seed, clean=algo == "bc_clean")
            updates = train_bc(learner, demos, seed=seed, **settings)
            accounting = {"labels_used": labels, "env_steps": labels, "updates": updates, "episodes": len(demos)}
        elif algo == "dagger":
            accounting = train_dagger(learner, env_id, env_kwargs, budget=budget, seed=seed, **settings)
        else:
            oracle = labelling_oracle(env, seed)
            accounting = train_opd(learner, env, oracle, budget=budget, seed=seed, **settings)
        wall_time = time.perf_counter() - start
        seeds = eval_seeds(seed, eval_episodes)
        evaluation = run_episodes(env_id, env_kwargs, seeds, policy_act(learner, deterministic_eval))
        expert_return, random_return = reference_returns(env_id, env_kwargs, seeds)
    env.close()
    labels_used = int(accounting.pop("labels_used"))
    if labels_used > budget:  # an invariant, checked on every run
        raise RuntimeError(f"{algo} used {labels_used} labels, over its budget of {budget}")
    return RunResult(
        algo=algo,
        env_id=env_id,
        seed=seed,
        budget=budget,
        env_kwargs=env_kwargs,
        settings={**settings, "eval_episodes": eval_episodes, "deterministic_eval": deterministic_eval},
        success_rate=evaluation.success_rate,
        normalized_return=normalized_return(evaluation.mean_return, expert_return, random_return),
        mean_return=evaluation.mean_return,
        expert_return=expert_return,
        random_return=random_return,
        labels_used=labels_used,
        env_steps=int(accounting.pop("env_steps")),
        wall_time_s=wall_time,
        eval_episodes=eval_episodes,
        extra=accounting,
        policy=learner,
    )
