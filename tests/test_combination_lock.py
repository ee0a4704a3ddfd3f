"""CombinationLock: one-hot depth observations, the secret code, and who opens the lock."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from noisy_expert_envs.experts.combination_lock import CombinationLockExpert
from noisy_expert_envs.tasks import CombinationLockEnv


def test_observation_is_one_hot_depth_and_full_code_opens_at_horizon():
    env = CombinationLockEnv(horizon=6, n_actions=3, code_seed=2)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (7,)
    np.testing.assert_array_equal(obs, np.eye(7)[0])
    assert info["depth"] == 0
    for h, digit in enumerate(env.code):
        assert env.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = env.step(digit)
        np.testing.assert_array_equal(obs, np.eye(7)[h + 1])
        assert info["depth"] == h + 1 and not truncated
        if h + 1 < 6:
            assert reward == 0.0 and not terminated
    assert reward == 1.0 and terminated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


@pytest.mark.parametrize("horizon", [1, 7, 300])
def test_observations_are_the_rows_of_the_identity_bit_for_bit(horizon):
    """Built without an (H+1) x (H+1) identity matrix, the observations are still its rows."""
    env = CombinationLockEnv(horizon=horizon, n_actions=2, code_seed=1)
    eye = np.eye(horizon + 1, dtype=np.float32)
    obs, _ = env.reset(seed=0)
    seen = [obs]
    for digit in env.code:
        obs, *_ = env.step(int(digit))
        seen.append(obs)
    for depth, obs in enumerate(seen):
        assert obs.dtype == np.float32 and obs.tobytes() == eye[depth].tobytes()
    env.reset()
    obs, _, terminated, _, _ = env.step(int(1 - env.code[0]))  # a wrong digit: depth 0 again
    assert terminated and obs.tobytes() == eye[0].tobytes()
    assert seen[0] is not seen[1] and env.reset()[0] is not env.reset()[0]  # fresh arrays, no aliasing


@pytest.mark.parametrize("wrong_at", [0, 3])
def test_wrong_digit_ends_the_episode_with_nothing(wrong_at):
    env = CombinationLockEnv(horizon=5, n_actions=4, code_seed=1)
    env.reset()
    for h in range(wrong_at):
        env.step(env.code[h])
    wrong = (int(env.code[wrong_at]) + 1) % 4
    obs, reward, terminated, truncated, info = env.step(wrong)
    assert reward == 0.0 and terminated and not truncated
    np.testing.assert_array_equal(obs, np.eye(6)[wrong_at])  # stays at the depth where it failed
    assert info["depth"] == wrong_at


def test_code_comes_from_code_seed():
    a = CombinationLockEnv(horizon=30, code_seed=0).code
    np.testing.assert_array_equal(a, CombinationLockEnv(horizon=30, code_seed=0).code)
    assert not np.array_equal(a, CombinationLockEnv(horizon=30, code_seed=1).code)
    assert set(np.unique(a).tolist()) <= {0, 1, 2, 3}
    assert len(np.unique(a)) > 1
    # The code does not change with the reset seed.
    env = CombinationLockEnv(horizon=30, code_seed=0)
    env.reset(seed=123)
    np.testing.assert_array_equal(env.code, a)


@pytest.mark.parametrize("horizon", [1, 5, 40])
def test_clean_expert_opens_the_lock(horizon):
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=horizon, noise="none")
    oracle = env.get_wrapper_attr("oracle")
    obs, info = env.reset(seed=0)
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        assert info["expert_action"] == oracle.clean(obs)
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        total += reward
        steps += 1
        assert not truncated
    assert total == 1.0 and steps == horizon
    assert np.argmax(obs) == horizon


def test_expert_reads_depth_and_prefers_its_digit():
    env = CombinationLockEnv(horizon=4, n_actions=5, code_seed=9)
    expert = CombinationLockExpert(env.code, 5)
    obs = np.eye(5, dtype=np.float32)
    np.testing.assert_array_equal(expert(obs)[:4], env.code)
    prefs = expert.preferences(obs)
    assert prefs.shape == (5, 5)
    np.testing.assert_array_equal(prefs.argmax(axis=1), expert(obs))


def test_noisy_expert_opens_the_lock_with_probability_p_to_the_horizon():
    """The premise of the benchmark: a noisy expert that acts completes p**H of its episodes."""
    horizon, eps, n = 5, 0.2, 4
    p = 1 - eps + eps / n
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=horizon, n_actions=n, noise="uniform", epsilon=eps)
    _, info = env.reset(seed=0)
    opened, episodes = 0, 1500
    for _ in range(episodes):
        terminated = False
        while not terminated:
            _, reward, terminated, _, info = env.step(info["expert_action"])
        opened += reward
        _, info = env.reset()
    assert abs(opened / episodes - p**horizon) < 0.05  # p**5 = 0.444; std of the mean ~ 0.013


def test_render_ansi_and_render_mode_validation():
    env = CombinationLockEnv(horizon=3, render_mode="ansi")
    env.reset()
    env.step(env.code[0])
    assert env.render() == "depth 1/3: #.."
    assert CombinationLockEnv(horizon=3).render() is None
    with pytest.raises(ValueError, match="human"):
        CombinationLockEnv(render_mode="human")


def test_expert_act_one_is_the_batch_action():
    env = CombinationLockEnv(horizon=6, n_actions=4, code_seed=2)
    expert = CombinationLockExpert(env.code, 4)
    rng = np.random.default_rng(0)
    obs = np.concatenate([np.eye(7, dtype=np.float32), rng.random((200, 7)).astype(np.float32),
                          np.full((1, 7), np.nan, dtype=np.float32), np.zeros((1, 7), dtype=np.float32)])
    obs[-3, 4] = np.nan  # argmax picks the first NaN
    single = [expert.act_one(o) for o in obs]
    assert all(type(a) is int for a in single)
    np.testing.assert_array_equal(single, expert(obs))
