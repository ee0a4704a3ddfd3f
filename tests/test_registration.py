"""The NoisyExpert/* ids: env checkers, the gymnasium plugin, kwargs routing, vector envs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import BOX2D_INSTALLED, CHECKER_WARNINGS, env_id_params
from gymnasium import spaces

import noisy_expert_envs
from noisy_expert_envs import NoisyExpertWrapper, NoisyOracle, registered_ids
from noisy_expert_envs.compat import GYMNASIUM_1, READS_PLUGIN_ENTRY_POINTS
from noisy_expert_envs.noise import DISCRETE_NOISE, DiscreteNoise, register_noise

IDS = registered_ids()


def test_expected_ids_are_registered():
    expected = {"NoisyExpert/CombinationLock-v0", "NoisyExpert/CartPole-v1", "NoisyExpert/MountainCar-v0",
                "NoisyExpert/Acrobot-v1", "NoisyExpert/Pendulum-v1", "NoisyExpert/MountainCarContinuous-v0",
                "NoisyExpert/LunarLander-v3", "NoisyExpert/TokenChain-v0"}
    assert expected <= set(IDS)
    assert all(i.startswith("NoisyExpert/") for i in IDS)
    assert IDS == sorted(i for i in gym.registry if i.startswith("NoisyExpert/"))


def _gymnasium_check(env):
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True)


def _sb3_check(env):
    from stable_baselines3.common.env_checker import check_env

    check_env(env, warn=True)


@pytest.mark.parametrize("checker", [_gymnasium_check, _sb3_check], ids=["gymnasium", "sb3"])
@pytest.mark.parametrize("env_id", env_id_params(IDS))
def test_env_checkers(env_id, checker, known_warnings):
    env = gym.make(env_id)
    with known_warnings(*CHECKER_WARNINGS):
        checker(env)
    env.close()


@pytest.mark.parametrize("env_id", env_id_params(IDS))
def test_every_id_labels_reset_and_steps(env_id):
    env = gym.make(env_id, include_clean=True)
    oracle = env.get_wrapper_attr("oracle")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(5):
        assert env.action_space.contains(np.asarray(info["expert_action"], dtype=env.action_space.dtype))
        assert env.action_space.contains(np.asarray(info["clean_action"], dtype=env.action_space.dtype))
        obs, _, terminated, truncated, info = env.step(info["clean_action"])
        if terminated or truncated:
            break
    assert oracle.queries >= 2
    # Default noise: uniform(0.2) on Discrete actions, gaussian(0.2) on Box actions.
    if isinstance(env.action_space, spaces.Discrete):
        assert oracle.config() == {"noise": "uniform", "epsilon": 0.2, "noise_seed": 0}
    else:
        assert oracle.config() == {"noise": "gaussian", "sigma": 0.2, "noise_seed": 0}


def test_time_limits_and_thresholds_follow_gymnasium():
    for env_id, steps in [("NoisyExpert/CartPole-v1", 500), ("NoisyExpert/MountainCar-v0", 200),
                          ("NoisyExpert/Acrobot-v1", 500), ("NoisyExpert/Pendulum-v1", 200),
                          ("NoisyExpert/MountainCarContinuous-v0", 999)]:
        spec = gym.spec(env_id)
        assert spec.max_episode_steps == steps == gym.spec(env_id.split("/")[1]).max_episode_steps
    assert gym.spec("NoisyExpert/CartPole-v1").reward_threshold == 475.0
    assert gym.spec("NoisyExpert/CombinationLock-v0").max_episode_steps is None


def test_kwargs_are_routed_to_task_wrapper_and_noise():
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=7, n_actions=3, noise="fixed_wrong",
                   epsilon=0.45, noise_seed=4, include_clean=True)
    assert env.unwrapped.horizon == 7 and env.unwrapped.n_actions == 3
    oracle = env.get_wrapper_attr("oracle")
    assert oracle.config() == {"noise": "fixed_wrong", "epsilon": 0.45, "noise_seed": 4}
    _, info = env.reset(seed=0)
    assert info["clean_action"] == env.unwrapped.code[0]


@pytest.mark.parametrize("env_id,default", [
    ("NoisyExpert/CombinationLock-v0", {"noise": "uniform", "epsilon": 0.2}),
    ("NoisyExpert/CartPole-v1", {"noise": "uniform", "epsilon": 0.2}),
    ("NoisyExpert/Pendulum-v1", {"noise": "gaussian", "sigma": 0.2}),
])
def test_noise_none_is_the_default_noise_everywhere(env_id, default):
    """``noise=None`` and no ``noise`` mean the default noise in gym.make, the wrapper and the
    oracle alike; ``noise="none"`` is the clean expert."""
    made = [gym.make(env_id), gym.make(env_id, noise=None)]
    plain = gym.make(env_id).unwrapped  # the task alone
    expert = made[0].get_wrapper_attr("oracle").expert
    wrapped = [NoisyExpertWrapper(plain, expert), NoisyExpertWrapper(plain, expert, noise=None)]
    oracles = [env.get_wrapper_attr("oracle") for env in made + wrapped]
    oracles.append(NoisyOracle(expert, None, plain.action_space, plain.observation_space))
    for oracle in oracles:
        assert {k: v for k, v in oracle.config().items() if k != "noise_seed"} == default
    clean = [gym.make(env_id, noise="none"), NoisyExpertWrapper(plain, expert, noise="none")]
    for env in clean:
        assert env.get_wrapper_attr("oracle").config()["noise"] == "none"
    # The default noise labels: the same seed gives the same labels through gym.make and the wrapper.
    a, b = gym.make(env_id, noise=None), NoisyExpertWrapper(gym.make(env_id).unwrapped, expert)
    labels = [[env.reset(seed=s)[1]["expert_action"] for s in range(30)] for env in (a, b)]
    np.testing.assert_array_equal(labels[0], labels[1])


def test_box_tasks_accept_box_uniform_noise():
    env = gym.make("NoisyExpert/Pendulum-v1", noise="uniform", epsilon=0.5, include_distribution=True)
    _, info = env.reset(seed=0)
    assert env.get_wrapper_attr("oracle").config() == {"noise": "uniform", "epsilon": 0.5, "noise_seed": 0}
    assert set(info["expert_distribution"]) == {"clean", "epsilon"}


def test_noise_object_and_custom_expert_through_make():
    noise = noisy_expert_envs.FixedWrongNoise(0.3)
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=4, noise=noise,
                   expert=lambda obs: np.zeros(len(obs), dtype=np.int64), include_clean=True)
    oracle = env.get_wrapper_attr("oracle")
    assert oracle.noise is noise
    _, info = env.reset(seed=0)
    assert info["clean_action"] == 0


def test_register_noise_makes_a_user_model_available_by_name():
    @register_noise
    class AlwaysZero(DiscreteNoise):
        name = "always_zero_test"

        def probs(self, obs, clean, preferences=None):
            out = np.zeros((len(clean), self.n_actions))
            out[:, 0] = 1.0
            return out

    try:
        env = gym.make("NoisyExpert/CombinationLock-v0", horizon=3, n_actions=3, code_seed=1,
                       noise="always_zero_test")
        obs, info = env.reset(seed=0)
        assert info["expert_action"] == 0
        assert env.get_wrapper_attr("oracle").config() == {"noise": "always_zero_test", "noise_seed": 0}
    finally:
        DISCRETE_NOISE.pop("always_zero_test", None)
    with pytest.raises(ValueError, match="always_zero_test"):
        # Unregistered again: the error lists the valid choices, and the name is not among them.
        gym.make("NoisyExpert/CombinationLock-v0", noise="always_zero_test")


def test_register_envs_again_is_idempotent_without_warnings():
    before = {i: gym.spec(i) for i in IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noisy_expert_envs.register_envs()
        noisy_expert_envs.register_envs()
    assert registered_ids() == IDS
    assert all(gym.spec(i) is before[i] for i in IDS)


@pytest.mark.skipif(not READS_PLUGIN_ENTRY_POINTS, reason="gymnasium >= 1.0 no longer reads entry points")
def test_plugin_works_in_a_fresh_process_without_importing_the_package():
    script = textwrap.dedent(
        """
        import importlib, sys
        import gymnasium as gym
        assert "NoisyExpert/CartPole-v1" in gym.registry, sorted(gym.registry)
        env = gym.make("NoisyExpert/CartPole-v1", noise="uniform", epsilon=0.2)
        obs, info = env.reset(seed=0)
        assert info["expert_action"] in (0, 1)
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        assert info["expert_action"] in (0, 1)
        oracle = env.get_wrapper_attr("oracle")
        assert oracle.queries == 2 and oracle.config()["epsilon"] == 0.2
        # The environment package pulls in nothing heavy.
        heavy = [m for m in ("torch", "stable_baselines3", "imitation") if m in sys.modules]
        assert not heavy, heavy
        # Importing the package (again) and re-registering is idempotent and silent.
        ids = sorted(i for i in gym.registry if i.startswith("NoisyExpert/"))
        import noisy_expert_envs
        noisy_expert_envs.register_envs()
        importlib.reload(noisy_expert_envs)
        assert ids == noisy_expert_envs.registered_ids()
        print("OK", ids)
        """
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True,
                            timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "NoisyExpert/CombinationLock-v0" in result.stdout
    assert result.stderr == ""


def _vec_labels(start_method: str) -> np.ndarray:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # "module:id" imports our package in each fresh worker on every Gymnasium line (1.x reads no plugins).
    venv = make_vec_env("noisy_expert_envs:NoisyExpert/CartPole-v1", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv,
                        vec_env_kwargs=dict(start_method=start_method),
                        env_kwargs=dict(noise="uniform", epsilon=0.2))
    try:
        venv.reset()
        current = np.array([info["expert_action"] for info in venv.reset_infos])
        labels = [current]
        for _ in range(120):
            _, _, dones, infos = venv.step(current)
            assert all("expert_action" in info for info in infos)
            # After an auto-reset, the label of the new first observation is in reset_infos.
            current = np.array([venv.reset_infos[i]["expert_action"] if dones[i] else infos[i]["expert_action"]
                                for i in range(2)])
            labels.append(current)
        return np.array(labels)
    finally:
        venv.close()


def test_subproc_vec_env_labels_are_reproducible_across_processes():
    fresh = _vec_labels("forkserver")  # workers are fresh interpreters
    forked = _vec_labels("fork")
    assert fresh.shape == (121, 2)
    assert set(np.unique(fresh).tolist()) <= {0, 1}
    np.testing.assert_array_equal(fresh, forked)
    assert not np.array_equal(fresh[:, 0], fresh[:, 1])  # the two workers are seeded differently


def test_oracle_of_made_env_is_a_noisy_oracle():
    for env_id in IDS if BOX2D_INSTALLED else [i for i in IDS if "LunarLander" not in i]:
        env = gym.make(env_id)
        assert isinstance(env.get_wrapper_attr("oracle"), NoisyOracle)
