"""Bad configuration fails early with ValueError/TypeError naming the bad value (and valid choices)."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest

from noisy_expert_envs import (
    ChainNoise,
    NoisyExpertWrapper,
    NoisyOracle,
    StateDependentNoise,
    UniformNoise,
    make_noise,
)

LOCK = "NoisyExpert/CombinationLock-v0"


def zeros_expert(obs):
    return np.zeros(len(obs), dtype=np.int64)


def test_unknown_noise_name_lists_valid_choices():
    with pytest.raises(ValueError, match=r"'gausian'.*valid choices:.*'fixed_wrong'.*'uniform'"):
        gym.make(LOCK, noise="gausian")
    with pytest.raises(ValueError, match=r"'fixed_wrong'.*Box.*valid choices:.*'gaussian'"):
        gym.make("NoisyExpert/Pendulum-v1", noise="fixed_wrong")


@pytest.mark.parametrize("epsilon,shown", [(-0.1, "-0.1"), (1.5, "1.5"), (float("nan"), "nan"),
                                           (float("inf"), "inf"), (-float("inf"), "-inf")])
def test_epsilon_out_of_range_is_a_value_error(epsilon, shown):
    with pytest.raises(ValueError, match=rf"epsilon .*got {re.escape(shown)}"):
        gym.make(LOCK, noise="uniform", epsilon=epsilon)
    with pytest.raises(ValueError, match=rf"epsilon .*got {re.escape(shown)}"):
        UniformNoise(epsilon)


@pytest.mark.parametrize("noise", ["uniform", "fixed_wrong", "state_dependent"])
def test_epsilon_out_of_range_for_every_model(noise):
    with pytest.raises(ValueError, match=r"epsilon .*got 1\.5"):
        gym.make(LOCK, noise=noise, epsilon=1.5)


@pytest.mark.parametrize("epsilon", ["0.2", None, True, [0.2]])
def test_epsilon_of_the_wrong_type_is_a_type_error(epsilon):
    with pytest.raises(TypeError, match=rf"epsilon must be a real number, got {re.escape(repr(epsilon))}"):
        gym.make(LOCK, noise="uniform", epsilon=epsilon)


def test_box_uniform_epsilon_checked_too():
    with pytest.raises(ValueError, match=r"epsilon .*got 1\.5"):
        gym.make("NoisyExpert/Pendulum-v1", noise="uniform", epsilon=1.5)


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), float("inf")])
def test_bad_sigma(sigma):
    with pytest.raises(ValueError, match=rf"sigma .*got {re.escape(repr(sigma))}"):
        gym.make("NoisyExpert/Pendulum-v1", noise="gaussian", sigma=sigma)


@pytest.mark.parametrize("temperature", [0, 0.0, -1.0])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match=rf"temperature must be .*> 0, got {re.escape(repr(float(temperature)))}"):
        gym.make(LOCK, noise="boltzmann", temperature=temperature)


@pytest.mark.parametrize("kwargs,error,pattern", [
    ({"horizon": 0}, ValueError, r"horizon must be an integer in \[1, 100_000\] .*got 0"),
    ({"horizon": 100_001}, ValueError, r"horizon must be an integer in \[1, 100_000\] .*got 100001"),
    ({"horizon": 10**12}, ValueError, r"horizon must be an integer in \[1, 100_000\] .*got 1000000000000"),
    ({"n_actions": 10_001}, ValueError, r"n_actions must be an integer in \[2, 10_000\] .*got 10001"),
    ({"horizon": -3}, ValueError, r"horizon .*got -3"),
    ({"n_actions": 1}, ValueError, r"n_actions must be an integer in \[2, 10_000\] .*got 1"),
    ({"horizon": 2.5}, TypeError, r"horizon must be an integer, got 2\.5"),
    ({"horizon": True}, TypeError, r"horizon must be an integer, got True"),
    ({"n_actions": "4"}, TypeError, r"n_actions must be an integer, got '4'"),
    ({"code_seed": -1}, ValueError, r"code_seed .*got -1"),
])
def test_bad_lock_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        gym.make(LOCK, **kwargs)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"vocab_size": 10_001}, r"vocab_size must be an integer in \[2, 10_000\] .*got 10001"),
    ({"vocab_size": 10**15}, r"vocab_size must be an integer in \[2, 10_000\] .*got 1000000000000000"),
    ({"chain_length": 10_001}, r"chain_length must be an integer in \[1, 10_000\] .*got 10001"),
    ({"prompt_length": 10**9}, r"prompt_length must be an integer in \[1, 10_000\] .*got 1000000000"),
    ({"vocab_size": 1}, r"vocab_size must be an integer in \[2, 10_000\] .*got 1"),
])
def test_token_chain_size_limits_are_named(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        gym.make("NoisyExpert/TokenChain-v0", **kwargs)


def test_sizes_at_the_limits_work():
    lock = gym.make(LOCK, horizon=100_000, n_actions=10_000, noise="uniform")
    obs, info = lock.reset(seed=0)
    assert obs.shape == (100_001,) and obs[0] == 1.0 and obs.sum() == 1.0
    assert 0 <= info["expert_action"] < 10_000
    chain = gym.make("NoisyExpert/TokenChain-v0", vocab_size=10_000, chain_length=10_000, prompt_length=10_000,
                     noise="teacher")
    obs, info = chain.reset(seed=0)
    assert obs.shape == (20_000,) and 0 <= info["expert_action"] < 10_000


def test_numpy_integers_are_fine():
    env = gym.make(LOCK, horizon=np.int64(3), n_actions=np.int32(2), noise="uniform", epsilon=np.float32(0.25))
    assert env.unwrapped.horizon == 3 and env.unwrapped.n_actions == 2


@pytest.mark.parametrize("env_id", [LOCK, "NoisyExpert/CartPole-v1"])
def test_unknown_make_kwarg_is_named(env_id):
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\) \['horizn'\].*valid"):
        gym.make(env_id, horizn=3)


def test_unknown_noise_parameter_is_named():
    with pytest.raises(TypeError, match=r"\['sigma'\]"):
        gym.make(LOCK, noise="uniform", sigma=0.1)
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['temp'\].*'temperature'"):
        make_noise("boltzmann", temp=2.0)


def test_gaussian_noise_on_a_discrete_task():
    with pytest.raises(ValueError, match=r"'gaussian' for Discrete actions; valid choices"):
        gym.make("NoisyExpert/CartPole-v1", noise="gaussian", sigma=0.1)
    with pytest.raises(ValueError, match=r"'gaussian'"):
        NoisyExpertWrapper(gym.make("CartPole-v1"), zeros_expert, "gaussian")


def test_bound_noise_object_of_the_wrong_family():
    from noisy_expert_envs import GaussianNoise

    with pytest.raises(TypeError, match=r"'gaussian' supports Box"):
        NoisyExpertWrapper(gym.make("CartPole-v1"), zeros_expert, GaussianNoise(0.1))


def test_noise_object_plus_flat_noise_params():
    with pytest.raises(TypeError, match=r"\['epsilon'\].*noise model object"):
        NoisyExpertWrapper(gym.make("CartPole-v1"), zeros_expert, UniformNoise(0.1), epsilon=0.3)
    with pytest.raises(TypeError, match=r"\['epsilon'\].*noise object"):
        gym.make(LOCK, noise=UniformNoise(0.1), epsilon=0.3)


def test_noise_of_the_wrong_type():
    with pytest.raises(TypeError, match=r"noise must be a name or a NoiseModel instance, got 3"):
        gym.make(LOCK, noise=3)


def wrapped(expert, env_id="CartPole-v1", noise="uniform", **kw):
    return NoisyExpertWrapper(gym.make(env_id), expert, noise, **kw)


@pytest.mark.parametrize("expert,pattern", [
    (lambda obs: np.full(len(obs), 5), r"action\(s\) \[5\] outside Discrete\(2\); valid actions: integers 0\.\.1"),
    (lambda obs: np.full(len(obs), -1), r"action\(s\) \[-1\] outside Discrete\(2\)"),
    (lambda obs: np.zeros((len(obs), 2), dtype=int), r"shape \(1, 2\).*expected 1 integer actions"),
    (lambda obs: np.full(len(obs), 0.5), r"array\(\[0\.5\]\).*integer actions"),
    (lambda obs: np.full(len(obs), np.nan), r"nan.*integer actions"),
])
def test_bad_discrete_expert_output_fails_at_the_first_label(expert, pattern):
    env = wrapped(expert)  # construction does not call the expert
    with pytest.raises(ValueError, match=pattern):
        env.reset(seed=0)


@pytest.mark.parametrize("expert,pattern", [
    (lambda obs: np.full((len(obs), 1), np.nan), r"values \[nan\] outside Box.*finite"),
    (lambda obs: np.full((len(obs), 1), 3.0), r"values \[3\.0\] outside Box.*\[-2\.0, 2\.0\]"),
    (lambda obs: np.zeros((len(obs), 3)), r"shape \(1, 3\).*expected \(1, 1\)"),
])
@pytest.mark.parametrize("noise", ["gaussian", "uniform", "none"])
def test_bad_box_expert_output_fails_at_the_first_label(expert, pattern, noise):
    env = wrapped(expert, "Pendulum-v1", noise)
    with pytest.raises(ValueError, match=pattern):
        env.reset(seed=0)


def test_bad_expert_preferences():
    class Expert:
        def __call__(self, obs):
            return np.zeros(len(obs), dtype=np.int64)

        def preferences(self, obs):
            return np.zeros((len(obs), 3))

    env = wrapped(Expert(), noise="boltzmann")
    with pytest.raises(ValueError, match=r"preferences must return finite scores of shape \(1, 2\)"):
        env.reset(seed=0)


def test_expert_that_is_not_callable():
    with pytest.raises(TypeError, match=r"expert must be a callable.*got 3"):
        gym.make(LOCK, expert=3)


@pytest.mark.parametrize("action", [7, -1, 1.5, "a", None, np.array([1])])
def test_wrong_action_passed_to_step(action):
    env = gym.make(LOCK)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"action {re.escape(repr(action))} is not in Discrete\(4\)"):
        env.step(action)


def test_wrong_box_action_shape_passed_to_step():
    env = gym.make("NoisyExpert/Pendulum-v1")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2,\).*needs shape \(1,\)"):
        env.step(np.zeros(2))


def test_wrong_observation_shape_given_to_the_oracle():
    oracle = gym.make(LOCK, horizon=5).get_wrapper_attr("oracle")
    with pytest.raises(ValueError, match=r"shape \(6,\) or \(batch, \*\(6,\)\), got \(3,\)"):
        oracle.sample(np.zeros(3))


def test_probs_on_box_and_distribution_on_discrete():
    with pytest.raises(TypeError, match="Discrete"):
        gym.make("NoisyExpert/Pendulum-v1").get_wrapper_attr("oracle").probs(np.zeros(3))
    with pytest.raises(TypeError, match="Box"):
        gym.make(LOCK, horizon=2).get_wrapper_attr("oracle").distribution(np.zeros(3))


def test_unsupported_action_space():
    with pytest.raises(TypeError, match="Discrete and Box"):
        NoisyOracle(zeros_expert, "none", gym.spaces.MultiDiscrete([2, 2]), gym.spaces.Box(-1, 1, (2,)))


@pytest.mark.parametrize("flag", ["labels", "include_distribution", "include_clean"])
def test_wrapper_flags_must_be_bools(flag):
    with pytest.raises(TypeError, match=rf"{flag} must be True or False, got 'yes'"):
        gym.make(LOCK, **{flag: "yes"})


@pytest.mark.parametrize("noise_seed,error", [(-1, ValueError), (1.5, TypeError), ("a", TypeError)])
def test_bad_noise_seed(noise_seed, error):
    with pytest.raises(error, match=rf"noise_seed .*got {re.escape(repr(noise_seed))}"):
        gym.make(LOCK, noise="fixed_wrong", noise_seed=noise_seed)


def test_other_noise_parameters():
    with pytest.raises(ValueError, match=r"unknown profile 'radia'; valid choices: \['hashed', 'radial'\]"):
        gym.make(LOCK, noise="state_dependent", profile="radia")
    with pytest.raises(ValueError, match=r"repeat_prob .*got 2\.0"):
        gym.make(LOCK, noise="sticky", repeat_prob=2)
    with pytest.raises(ValueError, match=r"scale .*got 0\.0"):
        StateDependentNoise(scale=0)
    with pytest.raises(TypeError, match="epsilon_fn must be a callable"):
        StateDependentNoise(epsilon_fn=0.3)
    with pytest.raises(TypeError, match="stateless"):
        ChainNoise(["uniform", "sticky"])
    with pytest.raises(ValueError, match="at least one stage"):
        ChainNoise([])


def test_epsilon_fn_returning_bad_levels():
    env = gym.make(LOCK, noise="state_dependent", epsilon_fn=lambda obs: np.full(len(obs), 2.0))
    with pytest.raises(ValueError, match=r"epsilon_fn must return 1 levels in \[0, 1\], got array\(\[2\.\]\)"):
        env.reset(seed=0)
