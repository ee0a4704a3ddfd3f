"""The oracle: counters, batching, reproducibility from seeds, pickling."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pytest
from gymnasium import spaces

from noisy_expert_envs import NoisyOracle
from noisy_expert_envs.oracle import oracle_seed

OBS_SPACE = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64)


def sign_expert(obs: np.ndarray) -> np.ndarray:
    """Discrete(3) expert: 0, 1 or 2 by the sign of the first coordinate."""
    return (np.sign(obs[:, 0]) + 1).astype(np.int64)


class ScoredExpert:
    """An expert with action preferences (``boltzmann`` uses them)."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.preferences(obs).argmax(axis=1)

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        return np.stack([obs[:, 0], obs[:, 1], -obs[:, 0] - obs[:, 1]], axis=1)


def box_expert(obs: np.ndarray) -> np.ndarray:
    return np.tanh(obs[:, :2]).astype(np.float32)


BOX = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def discrete_oracle(noise="uniform", seed=0, **params) -> NoisyOracle:
    return NoisyOracle(sign_expert, noise, spaces.Discrete(3), OBS_SPACE, seed=seed, **params)


def obs_batch(b: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, 3))


def test_query_counters_count_observations_not_calls():
    oracle = discrete_oracle(epsilon=0.3)
    assert oracle.queries == 0 and oracle.clean_queries == 0
    oracle.sample(obs_batch(7))
    assert oracle.queries == 7
    oracle.probs(obs_batch(5))
    assert oracle.queries == 12
    oracle.sample(obs_batch(1)[0])  # a single observation is one query
    assert oracle.queries == 13
    oracle.clean(obs_batch(4))
    assert oracle.queries == 13 and oracle.clean_queries == 4
    box = NoisyOracle(box_expert, "gaussian", BOX, OBS_SPACE, seed=0, sigma=0.1)
    box.distribution(obs_batch(6))
    box.sample(obs_batch(2))
    assert box.queries == 8 and box.clean_queries == 0


def test_single_observation_gives_unbatched_answers():
    oracle = discrete_oracle(epsilon=0.3)
    one = obs_batch(1)[0]
    action = oracle.sample(one)
    assert np.ndim(action) == 0 and int(action) in (0, 1, 2)
    assert oracle.probs(one).shape == (3,)
    assert np.ndim(oracle.clean(one)) == 0
    assert oracle.sample(obs_batch(1)).shape == (1,)
    assert oracle.probs(obs_batch(2)).shape == (2, 3)
    box = NoisyOracle(box_expert, "gaussian", BOX, OBS_SPACE, seed=0, sigma=0.1)
    assert box.sample(one).shape == (2,)
    assert box.clean(one).shape == (2,)
    assert box.sample(obs_batch(4)).shape == (4, 2)


def test_clean_is_the_expert_and_probs_follow_the_noise():
    oracle = discrete_oracle(epsilon=0.3)
    obs = obs_batch(10)
    clean = sign_expert(obs)
    np.testing.assert_array_equal(oracle.clean(obs), clean)
    expected = np.full((10, 3), 0.1)
    expected[np.arange(10), clean] += 0.7
    np.testing.assert_allclose(oracle.probs(obs), expected)
    np.testing.assert_allclose(oracle.agreement(obs), 0.8)
    np.testing.assert_allclose(oracle.mode_margin(obs), 0.7)


def test_boltzmann_oracle_uses_the_expert_preferences():
    oracle = NoisyOracle(ScoredExpert(), "boltzmann", spaces.Discrete(3), OBS_SPACE, seed=0, temperature=0.5)
    obs = obs_batch(8)
    prefs = ScoredExpert().preferences(obs) / 0.5
    expected = np.exp(prefs - prefs.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(oracle.probs(obs), expected, rtol=1e-10)


def test_batched_samples_and_probs_are_reproducible_from_the_seed():
    obs = obs_batch(500)
    a, b = discrete_oracle(epsilon=0.5, seed=3), discrete_oracle(epsilon=0.5, seed=3)
    first = [a.sample(obs) for _ in range(3)]
    second = [b.sample(obs) for _ in range(3)]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.probs(obs), b.probs(obs))
    # Re-seeding replays the stream.
    a.reset_rng(3)
    np.testing.assert_array_equal(a.sample(obs), first[0])
    # Another seed gives other labels.
    c = discrete_oracle(epsilon=0.5, seed=4)
    assert np.any(c.sample(obs) != first[0])
    # Successive calls of one oracle draw fresh noise.
    assert np.any(first[0] != first[1])


def test_box_samples_reproducible_from_seed():
    obs = obs_batch(50)
    a = NoisyOracle(box_expert, "uniform", BOX, OBS_SPACE, seed=oracle_seed(1), epsilon=0.5)
    b = NoisyOracle(box_expert, "uniform", BOX, OBS_SPACE, seed=oracle_seed(1), epsilon=0.5)
    c = NoisyOracle(box_expert, "uniform", BOX, OBS_SPACE, seed=oracle_seed(2), epsilon=0.5)
    x = a.sample(obs)
    np.testing.assert_array_equal(x, b.sample(obs))
    assert not np.array_equal(x, c.sample(obs))
    assert x.dtype == np.float32 and np.all(np.abs(x) <= 1.0)


def test_discrete_space_with_nonzero_start():
    def expert(obs):
        return np.where(obs[:, 0] > 0, 7, 5)  # actions of Discrete(3, start=5)

    oracle = NoisyOracle(expert, "fixed_wrong", spaces.Discrete(3, start=5), OBS_SPACE, seed=0, epsilon=0.5)
    obs = obs_batch(400)
    labels = oracle.sample(obs)
    assert set(np.unique(labels).tolist()) <= {5, 6, 7}
    np.testing.assert_array_equal(oracle.clean(obs), expert(obs))
    # probs columns are indexed from the space's start: column 0 is action 5.
    p = oracle.probs(obs)
    np.testing.assert_allclose(p[np.arange(400), expert(obs) - 5], 0.5)
    assert abs(np.mean(labels == expert(obs)) - 0.5) < 0.08


def test_float_integral_actions_are_accepted():
    oracle = NoisyOracle(lambda o: np.ones(len(o)), "none", spaces.Discrete(3), OBS_SPACE, seed=0)
    labels = oracle.sample(obs_batch(3))
    np.testing.assert_array_equal(labels, [1, 1, 1])
    assert np.issubdtype(labels.dtype, np.integer)


def test_config_names_the_noise_and_its_seed():
    oracle = discrete_oracle("fixed_wrong", epsilon=0.25, noise_seed=9)
    assert oracle.config() == {"noise": "fixed_wrong", "epsilon": 0.25, "noise_seed": 9}


@pytest.mark.parametrize("dumps,loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, pickle.loads)])
@pytest.mark.parametrize("noise,params", [("uniform", {"epsilon": 0.4}), ("fixed_wrong", {"epsilon": 0.4}),
                                          ("sticky", {"repeat_prob": 0.5, "inner": "uniform"})])
def test_pickled_oracle_continues_with_the_same_labels(dumps, loads, noise, params):
    oracle = discrete_oracle(noise, seed=11, noise_seed=2, **params)
    obs = obs_batch(64)
    oracle.sample(obs)
    copy = loads(dumps(oracle))
    assert copy.queries == oracle.queries
    for _ in range(3):
        np.testing.assert_array_equal(copy.sample(obs), oracle.sample(obs))
    np.testing.assert_array_equal(copy.probs(obs), oracle.probs(obs))


def test_cloudpickle_carries_a_lambda_expert():
    oracle = NoisyOracle(lambda o: (o[:, 0] > 0).astype(int), "uniform", spaces.Discrete(2), OBS_SPACE,
                         seed=1, epsilon=0.3)
    copy = cloudpickle.loads(cloudpickle.dumps(oracle))
    obs = obs_batch(32)
    np.testing.assert_array_equal(copy.sample(obs), oracle.sample(obs))
