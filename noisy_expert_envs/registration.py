"""The ``NoisyExpert/*`` environment ids and the factory behind them.

Gymnasium 0.29 calls :func:`register_envs` through the ``gymnasium.envs`` entry point while it is
still half-imported, so this module imports ``register``/``registry`` from
``gymnasium.envs.registration`` and nothing heavy at import time. Importing ``noisy_expert_envs``
registers too (idempotently): on gymnasium >= 1.0, which no longer reads entry points, that import
(or ``gym.make("noisy_expert_envs:NoisyExpert/...")``) is how the ids appear.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import load_env_creator, register, registry

if TYPE_CHECKING:  # importing our modules here would loop: they import gymnasium, which calls us
    from noisy_expert_envs.noise.base import NoiseModel

NAMESPACE = "NoisyExpert"
WRAPPER_KWARGS = ("expert", "noise", "labels", "include_distribution", "include_clean", "noise_seed")


@dataclass(frozen=True)
class TaskSpec:
    """How to build one task and its clean expert.

    ``make_env`` is a Gymnasium env class or ``"module:Class"`` entry point; ``make_expert`` builds
    the clean expert from the constructed env (or is ``"module:Class"`` of an argument-free expert).
    """

    make_env: str
    make_expert: str
    max_episode_steps: int | None
    reward_threshold: float | None = None


def _classic(entry_point: str, expert: str, steps: int, threshold: float | None) -> TaskSpec:
    return TaskSpec(f"gymnasium.envs.classic_control.{entry_point}", f"noisy_expert_envs.experts.classic_control:{expert}",
                    steps, threshold)


TASKS: dict[str, TaskSpec] = {
    "CombinationLock-v0": TaskSpec(
        "noisy_expert_envs.tasks.combination_lock:CombinationLockEnv",
        "noisy_expert_envs.experts.combination_lock:combination_lock_expert",
        None,  # every episode ends by itself within `horizon` steps
        1.0,
    ),
    "TokenChain-v0": TaskSpec(
        "noisy_expert_envs.tasks.token_chain:TokenChainEnv",
        "noisy_expert_envs.experts.token_chain:token_chain_expert",
        None,  # every episode terminates by itself after `chain_length` tokens
        1.0,  # the clean expert's return with the default process_reward=0
    ),
    "CartPole-v1": _classic("cartpole:CartPoleEnv", "CartPoleExpert", 500, 475.0),
    "MountainCar-v0": _classic("mountain_car:MountainCarEnv", "MountainCarExpert", 200, -110.0),
    "Acrobot-v1": TaskSpec(  # Gymnasium 0.29's Acrobot crashes under NumPy 2 without the compat patch
        "noisy_expert_envs.compat:make_acrobot_env",
        "noisy_expert_envs.experts.classic_control:AcrobotExpert",
        500,
        -100.0,
    ),
    "Pendulum-v1": _classic("pendulum:PendulumEnv", "PendulumExpert", 200, None),
    "MountainCarContinuous-v0": _classic(
        "continuous_mountain_car:Continuous_MountainCarEnv", "MountainCarContinuousExpert", 999, 90.0
    ),
    # Gymnasium's LunarLander-v3 (v2 on 0.29) with its own heuristic; needs the [box2d] extra.
    "LunarLander-v3": TaskSpec(
        "noisy_expert_envs.compat:make_lunar_lander_env",
        "noisy_expert_envs.experts.lunar_lander:LunarLanderExpert",
        1000,
        200.0,
    ),
}


def _build_expert(spec: TaskSpec, env: Any) -> Any:
    factory = load_env_creator(spec.make_expert)
    return factory(env) if inspect.isfunction(factory) else factory()


def make_noisy_env(
    task: str,
    *,
    expert: Any = None,
    noise: NoiseModel | str | None = None,
    render_mode: str | None = None,
    **kwargs: Any,
) -> Any:
    """Build ``task`` wrapped in a :class:`NoisyExpertWrapper` (the entry point of every id).

    ``kwargs`` are split by name: the task's constructor arguments go to the task, the wrapper's
    (``labels``, ``include_distribution``, ``include_clean``, ``noise_seed``) to the wrapper, and the
    rest are the noise model's flat parameters. ``noise=None`` (the default) is the default noise,
    as everywhere: ``"uniform"`` (Discrete actions, epsilon 0.2) or ``"gaussian"`` (Box actions,
    sigma 0.2); ``noise="none"`` is the clean expert. ``expert`` defaults to the task's clean expert.
    """
    from noisy_expert_envs.noise.factory import default_noise_name, make_noise, noise_class, noise_parameters
    from noisy_expert_envs.wrapper import NoisyExpertWrapper

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid choices: {sorted(TASKS)}")
    spec = TASKS[task]
    env_cls = load_env_creator(spec.make_env)
    env_params = set(inspect.signature(env_cls).parameters) - {"render_mode"}
    env_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in env_params}
    wrapper_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in WRAPPER_KWARGS}
    env = env_cls(render_mode=render_mode, **env_kwargs)
    if noise is None:
        noise = default_noise_name(env.action_space)
    if isinstance(noise, str):
        noise_params = noise_parameters(noise_class(noise, env.action_space))
        if set(kwargs) - set(noise_params):
            raise TypeError(
                f"unknown keyword argument(s) {sorted(kwargs)} for {NAMESPACE}/{task}; valid: task "
                f"arguments {sorted(env_params)}, wrapper arguments {sorted(WRAPPER_KWARGS)}, "
                f"parameters of noise {noise!r}: {sorted(noise_params)}"
            )
        noise = make_noise(noise, env.action_space, **kwargs)
        kwargs = {}
    if kwargs:
        raise TypeError(
            f"unknown keyword argument(s) {sorted(kwargs)} for {NAMESPACE}/{task} with a noise object; "
            f"valid: task arguments {sorted(env_params)}, wrapper arguments {sorted(WRAPPER_KWARGS)}"
        )
    expert = _build_expert(spec, env) if expert is None else expert
    wrapper = NoisyExpertWrapper(env, expert, noise, **wrapper_kwargs)
    wrapper.built_by_registered_id = True
    return wrapper


def register_envs() -> None:
    """Register every ``NoisyExpert/*`` id (idempotent; the ``gymnasium.envs`` entry point)."""
    for name, spec in TASKS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point="noisy_expert_envs.registration:make_noisy_env",
            kwargs={"task": name},
            max_episode_steps=spec.max_episode_steps,
            reward_threshold=spec.reward_threshold,
        )


def registered_ids() -> list[str]:
    """All ``NoisyExpert/*`` ids currently registered."""
    return sorted(env_id for env_id in registry if env_id.startswith(f"{NAMESPACE}/"))


def check_env_id(env_id: str) -> None:
    """``ValueError`` naming the registered ``NoisyExpert`` ids unless ``env_id`` is registered."""
    if env_id not in registry:
        raise ValueError(f"unknown env id {env_id!r}; registered NoisyExpert ids: {registered_ids()}")
