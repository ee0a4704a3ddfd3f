"""Analytic clean experts for the classic-control tasks: returns, preferences, batching."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

from noisy_expert_envs.experts.classic_control import CLASSIC_CONTROL_EXPERTS

# Documented targets: mean return of the clean expert over seeded episodes.
TARGETS = {
    "CartPole-v1": 500.0,
    "MountainCar-v0": -120.0,
    "Acrobot-v1": -100.0,
    "Pendulum-v1": -200.0,
    "MountainCarContinuous-v0": 90.0,
}
DISCRETE_TASKS = ["CartPole-v1", "MountainCar-v0", "Acrobot-v1"]


def clean_returns(task: str, seeds: range) -> np.ndarray:
    """Returns of the clean expert acting through the registered id (noise='none')."""
    return label_following_returns(gym.make(f"NoisyExpert/{task}", noise="none"), seeds)


def label_following_returns(env: gym.Env, seeds: range) -> np.ndarray:
    """Returns of playing ``info["expert_action"]`` at every step, one episode per seed."""
    returns = []
    for seed in seeds:
        _, info = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, info = env.step(info["expert_action"])
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.array(returns)


def visited_observations(task: str, n: int = 300, seed: int = 0) -> np.ndarray:
    """Observations from a random-action rollout of the task (through our id, unlabelled: plain
    Gymnasium 0.29 Acrobot needs the package's NumPy 2 patch)."""
    env = gym.make(f"NoisyExpert/{task}", labels=False)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    while len(out) < n:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append(obs)
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return np.array(out[:n])


def test_every_classic_task_has_an_expert():
    assert set(CLASSIC_CONTROL_EXPERTS) == set(TARGETS)


@pytest.mark.parametrize("task", sorted(TARGETS))
def test_clean_expert_reaches_target_on_five_seeds(task):
    returns = clean_returns(task, range(5))
    if task == "CartPole-v1":
        np.testing.assert_array_equal(returns, 500.0)
    else:
        assert returns.mean() >= TARGETS[task], returns


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TARGETS))
def test_clean_expert_reaches_target_over_100_episodes(task):
    returns = clean_returns(task, range(1000, 1100))
    if task == "CartPole-v1":
        assert returns.mean() >= 495.0 and np.median(returns) == 500.0, returns
    else:
        assert returns.mean() >= TARGETS[task], (returns.mean(), returns.min())


@pytest.mark.parametrize("task", DISCRETE_TASKS)
def test_preferences_argmax_is_the_action(task):
    expert = CLASSIC_CONTROL_EXPERTS[task]()
    env = gym.make(f"NoisyExpert/{task}")
    obs = visited_observations(task, n=120)
    actions = expert(obs)
    prefs = expert.preferences(obs)
    assert actions.shape == (len(obs),) and actions.dtype == np.int64
    assert prefs.shape == (len(obs), env.action_space.n)
    assert np.all(np.isfinite(prefs))
    np.testing.assert_array_equal(prefs.argmax(axis=1), actions)
    assert len(np.unique(actions)) > 1  # the expert actually chooses between actions


@pytest.mark.parametrize("task", sorted(TARGETS))
def test_expert_is_batch_consistent_in_space_and_picklable(task):
    expert = CLASSIC_CONTROL_EXPERTS[task]()
    space = gym.make(f"NoisyExpert/{task}").action_space
    obs = visited_observations(task, n=40, seed=1)
    batch = expert(obs)
    rows = np.concatenate([expert(obs[i : i + 1]) for i in range(len(obs))])
    np.testing.assert_array_equal(batch, rows)  # no leakage between rows of a batch
    assert all(space.contains(np.asarray(a, dtype=space.dtype)) for a in batch)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(expert))(obs), batch)


@pytest.mark.parametrize("task", DISCRETE_TASKS)
def test_boltzmann_teacher_uses_the_expert_preferences(task):
    env = gym.make(f"NoisyExpert/{task}", noise="boltzmann", temperature=2.0)
    oracle = env.get_wrapper_attr("oracle")
    obs = visited_observations(task, n=20, seed=2)
    prefs = CLASSIC_CONTROL_EXPERTS[task]().preferences(obs) / 2.0
    expected = np.exp(prefs - prefs.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(oracle.probs(obs), expected, rtol=1e-10)
    assert np.all(oracle.mode_margin(obs) >= 0.0)


def test_noise_lowers_the_return_of_the_acting_expert():
    """Acting with the noisy labels instead of the clean ones costs return on CartPole."""
    env = gym.make("NoisyExpert/CartPole-v1", noise="uniform", epsilon=0.9)
    returns = label_following_returns(env, range(3))
    assert np.mean(returns) < 500.0


def cartpole_edge_observations() -> np.ndarray:
    """States where the margin is exactly 0 or within a rounding error of it, or not finite."""
    rng = np.random.default_rng(5)
    near = rng.normal(0.0, [1.0, 2.0, 0.2, 0.0], size=(5000, 4))
    near[:, 3] = -(near[:, 0] + 1.5 * near[:, 1] + 20.0 * near[:, 2]) / 3.0  # s = 0 up to rounding
    exact = np.array([
        [0.0, 0.0, 0.0, 0.0], [-0.0, -0.0, -0.0, -0.0], [1.5, -1.0, 0.0, 0.0], [20.0, 0.0, -1.0, 0.0],
        [5e-324, 0.0, 0.0, 0.0], [-5e-324, 0.0, 0.0, 0.0], [1e-310, 0.0, 0.0, 0.0],  # subnormal margins
        [np.nan, 0.0, 0.0, 0.0], [np.inf, 0.0, 0.0, 0.0], [-np.inf, 0.0, 0.0, 0.0],
        [np.inf, -np.inf, 0.0, 0.0], [1e308, 1e308, 0.0, 0.0], [1e308, 0.0, -1e307, 0.0],
    ])
    return np.concatenate([near, exact])


def test_cartpole_act_one_is_the_batch_action_everywhere():
    """``act_one`` (the oracle's one-observation path) gives exactly the batch expert's action,
    including exact and rounding-level ties, NaN, infinities and subnormal margins (all 0 unless
    the margin is positive), for float64, float32 and integer observations."""
    expert = CLASSIC_CONTROL_EXPERTS["CartPole-v1"]()
    visited = visited_observations("CartPole-v1", n=2000, seed=3)
    wide = np.random.default_rng(4).normal(0.0, [1.0, 2.0, 0.2, 2.0], size=(20000, 4))
    for obs in (visited, wide, wide.astype(np.float32), cartpole_edge_observations(),
                np.random.default_rng(6).integers(-3, 4, size=(500, 4))):
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf in the edge cases
            batch = expert(obs)
            prefs = expert.preferences(obs)
        single = [expert.act_one(row) for row in obs]
        assert all(type(a) is int for a in single)
        np.testing.assert_array_equal(single, batch)
        np.testing.assert_array_equal(single, prefs.argmax(axis=1))
    near_ties = cartpole_edge_observations()[:5000]
    assert 0 < expert(near_ties).mean() < 1  # rounding sends some of them each way
    assert expert.act_one([1.5, -1.0, 0.0, 0.0]) == 0 and expert.act_one((0.0, 0.0, 0.1, 0.0)) == 1


@pytest.mark.parametrize("obs", [np.zeros(3), np.zeros((1, 4)), np.zeros((4, 1)), [0.0] * 5])
def test_cartpole_act_one_rejects_anything_but_one_observation(obs):
    with pytest.raises(ValueError, match=r"act_one expects one observation of shape \(4,\)"):
        CLASSIC_CONTROL_EXPERTS["CartPole-v1"]().act_one(obs)
