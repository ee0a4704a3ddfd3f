"""What the oracle accepts: observations in the space (else ValueError naming the row), empty
batches (empty answers for every noise model), and only array observation spaces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import noisy_expert_envs  # noqa: F401  (registers the ids)
from noisy_expert_envs import NoisyExpertWrapper, NoisyOracle
from noisy_expert_envs.noise import CONTINUOUS_NOISE, DISCRETE_NOISE

CARTPOLE_SPACE = gym.make("CartPole-v1").observation_space
BOUNDED = spaces.Box(np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, np.inf]), dtype=np.float64)


def sign_expert(obs):
    return (np.asarray(obs)[:, 0] > 0).astype(np.int64)


class OneSign:
    """``sign_expert`` with ``act_one``, so single observations take the oracle's fast path."""

    def __call__(self, obs):
        return sign_expert(obs)

    def act_one(self, obs):
        return int(obs[0] > 0)


def box_expert(obs):
    return np.clip(np.asarray(obs)[:, :1], -1, 1).astype(np.float32)


def oracles(obs_space, noise="uniform"):
    """A Discrete oracle (with and without ``act_one``) and a Box one on ``obs_space``."""
    return [
        NoisyOracle(OneSign(), noise, spaces.Discrete(2), obs_space, seed=0),
        NoisyOracle(sign_expert, noise, spaces.Discrete(2), obs_space, seed=0),
        NoisyOracle(box_expert, "gaussian", spaces.Box(-1, 1, (1,), dtype=np.float32), obs_space, seed=0),
    ]


def all_calls(oracle):
    calls = [oracle.sample, oracle.clean, oracle.sample_with_distribution]
    if oracle.discrete:
        calls += [oracle.probs, oracle.agreement, oracle.mode_margin]
    else:
        calls += [oracle.distribution]
    return calls


@pytest.mark.parametrize("bad,problem", [(np.nan, "not finite"), (np.inf, "not finite"),
                                         (-np.inf, "not finite"), (1.5, "outside"), (-1.0001, "outside")])
@pytest.mark.parametrize("row", [0, 3])
def test_bad_observation_raises_naming_the_first_bad_row(bad, problem, row):
    for oracle in oracles(BOUNDED):
        batch = np.zeros((5, 3))
        batch[row, 0] = bad
        batch[4, 1] = np.nan  # a later bad row is not the one named
        for call in all_calls(oracle):
            with pytest.raises(ValueError, match=rf"observation row {row} .*{problem}"):
                call(batch)
            with pytest.raises(ValueError, match=rf"the observation .*{problem}"):
                call(batch[row])
            with pytest.raises(ValueError, match=rf"the observation .*{problem}"):
                call(batch[row].tolist())
        assert oracle.queries == 0 and oracle.clean_queries == 0  # refused before counting


def test_observation_check_uses_the_space_bounds_exactly():
    oracle = oracles(CARTPOLE_SPACE)[0]
    high = CARTPOLE_SPACE.high
    # Every entry on its bound; unbounded entries (gymnasium 0.29: float32's max, 1.x: inf) at
    # float32's max, since an infinite value is refused even where the bound is infinite.
    edge = np.where(np.isfinite(high), high, np.finfo(np.float32).max).astype(np.float32)
    assert oracle.clean(edge) == 1 and oracle.clean(-edge) == 0
    np.testing.assert_array_equal(oracle.sample(np.stack([edge, -edge])).shape, (2,))
    above = edge.astype(np.float64)
    above[2] = np.nextafter(above[2], np.inf)
    with pytest.raises(ValueError, match="the observation lies outside"):
        oracle.sample(above)
    with pytest.raises(ValueError, match="not finite"):  # float32's max is a bound, inf is not
        oracle.sample(np.array([0, np.inf, 0, 0], dtype=np.float32))
    if np.isfinite(high[1]):  # gymnasium 0.29 bounds the velocity at float32's max; 1.x leaves it infinite
        with pytest.raises(ValueError, match="the observation lies outside"):  # finite, but beyond float32
            oracle.sample(np.array([0, 1e39, 0, 0]))


@pytest.mark.parametrize("value,problem", [(np.nan, "not finite"), (np.inf, "not finite"), (1.0001, "outside"),
                                           (-1e-7, "outside")])
def test_single_lock_observations_are_checked_too(value, problem):
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=5)
    oracle = env.get_wrapper_attr("oracle")
    obs = np.eye(6, dtype=np.float32)[2]
    assert oracle.clean(obs) == env.unwrapped.code[2]
    obs[4] = value
    for call in (oracle.sample, oracle.clean):
        with pytest.raises(ValueError, match=f"the observation .*{problem}"):
            call(obs)


def test_discrete_observation_spaces_need_integral_values_in_range():
    multi = NoisyOracle(lambda o: np.zeros(len(o), dtype=np.int64), "uniform", spaces.Discrete(2),
                        spaces.MultiDiscrete([3, 4]), seed=0)
    multi.sample(np.array([[2, 3], [0, 0]]))
    for bad, row in ((np.array([[0, 0], [3, 0]]), 1), (np.array([[0.5, 0]]), 0), (np.array([[0, -1]]), 0)):
        with pytest.raises(ValueError, match=rf"observation row {row} lies outside MultiDiscrete"):
            multi.sample(bad)
    single = NoisyOracle(lambda o: np.zeros(len(o), dtype=np.int64), "none", spaces.Discrete(2),
                         spaces.Discrete(5, start=1), seed=0)
    np.testing.assert_array_equal(single.clean(np.array([1, 5])), [0, 0])
    with pytest.raises(ValueError, match="observation row 1 lies outside Discrete"):
        single.clean(np.array([1, 6]))
    with pytest.raises(TypeError, match="numeric"):
        single.clean(np.array(["a"]))


def test_wrapper_step_with_a_bad_observation_raises_naming_it():
    class NanAfterReset(gym.Wrapper):
        def step(self, action):
            obs, *rest = self.env.step(action)
            return np.full_like(obs, np.nan), *rest

    env = NoisyExpertWrapper(NanAfterReset(gym.make("CartPole-v1")), OneSign(), "uniform")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"the observation is not finite \(NaN or inf\): \[nan, nan, nan, nan\]"):
        env.step(0)


def _registered_models():
    return [(name, spaces.Discrete(3)) for name in sorted(DISCRETE_NOISE)] + [
        (name, spaces.Box(-1, 1, (2,), dtype=np.float32)) for name in sorted(CONTINUOUS_NOISE)
    ]


@pytest.mark.parametrize("name,action_space", _registered_models(), ids=lambda x: str(x))
def test_empty_batches_give_empty_answers_for_every_noise_model(name, action_space):
    obs_space = spaces.Box(-np.inf, np.inf, (3,))

    class Expert:
        calls = 0

        def __call__(self, obs):
            Expert.calls += 1
            if isinstance(action_space, spaces.Box):
                return np.zeros((len(obs), 2), dtype=np.float32)
            return np.zeros(len(obs), dtype=np.int64)

        def preferences(self, obs):
            raise AssertionError("no preferences for an empty batch")

    oracle = NoisyOracle(Expert(), name, action_space, obs_space, seed=0)
    empty = np.zeros((0, 3))
    before = oracle.rng.bit_generator.state
    sample, clean = oracle.sample(empty), oracle.clean(empty)
    if isinstance(action_space, spaces.Discrete):
        assert sample.shape == (0,) and sample.dtype == np.int64
        assert clean.shape == (0,) and clean.dtype == np.int64
        assert oracle.probs(empty).shape == (0, 3)
        assert oracle.agreement(empty).shape == (0,)
        assert oracle.mode_margin(empty).shape == (0,)
        labels, probs = oracle.sample_with_distribution(empty)
        assert labels.shape == (0,) and probs.shape == (0, 3)
    else:
        assert sample.shape == (0, 2) and sample.dtype == np.float32
        assert clean.shape == (0, 2)
        assert oracle.distribution(empty).sample(oracle.rng).shape == (0, 2)
        assert oracle.mode_margin(empty) is None
        labels, _ = oracle.sample_with_distribution(empty)
        assert labels.shape == (0, 2)
    assert oracle.queries == 0 and oracle.clean_queries == 0 and Expert.calls == 0
    assert oracle.rng.bit_generator.state == before


def test_empty_batch_of_a_scalar_observation_space():
    oracle = NoisyOracle(lambda o: np.zeros(len(o), dtype=np.int64), "uniform", spaces.Discrete(2),
                         spaces.Discrete(4), seed=0)
    assert oracle.sample([]).shape == (0,)


@pytest.mark.parametrize("space", [
    spaces.Dict({"a": spaces.Box(-1, 1, (2,))}),
    spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3))),
    spaces.Text(5),
])
def test_unsupported_observation_spaces_are_refused_naming_the_supported_ones(space):
    with pytest.raises(TypeError, match=r"supports observation spaces \['Box', 'Discrete', 'MultiDiscrete', "
                                        r"'MultiBinary'\], got (Dict|Tuple|Text)"):
        NoisyOracle(sign_expert, "uniform", spaces.Discrete(2), space)
