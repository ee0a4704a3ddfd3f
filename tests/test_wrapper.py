"""NoisyExpertWrapper: labels in ``info``, determinism from the reset seed, plugging in experts."""

from __future__ import annotations

import pickle

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
from conftest import CHECKER_WARNINGS
from gymnasium.utils.env_checker import check_env

from noisy_expert_envs import NoisyExpertWrapper, NoisyOracle, StickyNoise, UniformNoise

DISCRETE_NOISE = {
    "none": {},
    "uniform": {"epsilon": 0.3},
    "fixed_wrong": {"epsilon": 0.3},
    "state_dependent": {"epsilon": 0.6},
    "boltzmann": {"temperature": 1.0},
    "sticky": {"repeat_prob": 0.4, "inner": "uniform"},
}
BOX_NOISE = {"gaussian": {"sigma": 0.5}, "uniform": {"epsilon": 0.4}}


def rollout(env: gym.Env, seed: int, steps: int):
    """Act with the noisy expert's own labels; reset (unseeded) when an episode ends."""
    obs, info = env.reset(seed=seed)
    observations, labels = [obs], [info["expert_action"]]
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(info["expert_action"])
        observations.append(obs)
        labels.append(info["expert_action"])
        if terminated or truncated:
            obs, info = env.reset()
            observations.append(obs)
            labels.append(info["expert_action"])
    return np.array(observations), np.array(labels)


def same_run_twice(task: str, expert, noise: str, params: dict, seed: int, steps: int) -> np.ndarray:
    """Roll out two fresh wrapped envs with the same seed; assert identical observations and
    labels; return the labels."""
    runs = [rollout(NoisyExpertWrapper(gym.make(task), expert, noise, **params), seed=seed, steps=steps)
            for _ in range(2)]
    (obs_a, lab_a), (obs_b, lab_b) = runs
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(lab_a, lab_b)
    return lab_a


@pytest.mark.parametrize("noise", sorted(DISCRETE_NOISE))
def test_same_seed_same_observations_and_labels_discrete(noise, cartpole_expert):
    labels = same_run_twice("CartPole-v1", cartpole_expert, noise, DISCRETE_NOISE[noise], seed=5, steps=150)
    assert set(np.unique(labels).tolist()) <= {0, 1}


@pytest.mark.parametrize("noise", sorted(BOX_NOISE))
def test_same_seed_same_observations_and_labels_box(noise, pendulum_expert):
    labels = same_run_twice("Pendulum-v1", pendulum_expert, noise, BOX_NOISE[noise], seed=3, steps=120)
    assert labels.shape[1:] == (1,) and np.all(np.abs(labels) <= 2.0)
    env = NoisyExpertWrapper(gym.make("Pendulum-v1"), pendulum_expert, noise, **BOX_NOISE[noise])
    _, lab_c = rollout(env, seed=4, steps=120)
    assert not np.array_equal(labels, lab_c)


@pytest.mark.parametrize("noise", sorted(set(DISCRETE_NOISE) - {"none"}))
def test_different_seeds_give_different_labels_on_the_same_states(noise):
    """On the lock the states do not depend on the seed when the clean action is played, so any
    difference in labels comes from the oracle's seeded randomness."""
    params = DISCRETE_NOISE[noise]
    labels = {}
    for seed in (0, 1, 0):
        env = gym.make("NoisyExpert/CombinationLock-v0", horizon=30, noise=noise, include_clean=True, **params)
        obs, info = env.reset(seed=seed)
        seq = [info["expert_action"]]
        for _ in range(29):
            obs, _, terminated, _, info = env.step(info["clean_action"])
            seq.append(info["expert_action"])
        assert not terminated or info["depth"] == 30
        labels.setdefault(seed, []).append(seq)
    assert labels[0][0] == labels[0][1]
    assert labels[0][0] != labels[1][0]


def test_reset_with_the_same_seed_replays_labels_in_one_env(cartpole_expert):
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), cartpole_expert, "sticky", repeat_prob=0.5, inner="uniform")
    first = rollout(env, seed=8, steps=60)
    second = rollout(env, seed=8, steps=60)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_label_after_reset_and_every_step_one_query_each(cartpole_expert):
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), cartpole_expert, "uniform", epsilon=0.3)
    oracle = env.get_wrapper_attr("oracle")
    obs, info = env.reset(seed=0)
    assert env.action_space.contains(info["expert_action"])
    for t in range(1, 30):
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.action_space.contains(info["expert_action"])
        assert oracle.queries == t + 1
        if terminated or truncated:
            break
    assert oracle.clean_queries == 0


def test_plain_function_expert_on_made_cartpole(cartpole_expert):
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), expert=cartpole_expert, noise="uniform", epsilon=0.3,
                             include_clean=True)
    obs, info = env.reset(seed=1)
    agree = []
    for _ in range(400):
        assert info["clean_action"] == cartpole_expert(obs[None])[0]
        agree.append(info["expert_action"] == info["clean_action"])
        obs, _, terminated, truncated, info = env.step(info["clean_action"])
        if terminated or truncated:
            obs, info = env.reset()
    # p(clean) = 1 - eps + eps / 2 = 0.85; 400 labels put the mean within ~0.05 of it.
    assert 0.78 < np.mean(agree) < 0.92


def _labelled_steps(env: gym.Env, steps: int):
    """(obs, info) at reset and after each of ``steps`` steps that follow the noisy label."""
    obs, info = env.reset(seed=0)
    for _ in range(steps):
        yield obs, info
        obs, *_, info = env.step(info["expert_action"])
    yield obs, info


def test_include_distribution_discrete_puts_probs(cartpole_expert):
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), cartpole_expert, "uniform", epsilon=0.3,
                             include_distribution=True, include_clean=True)
    for _, info in _labelled_steps(env, 5):
        p = info["expert_probs"]
        assert p.shape == (2,)
        expected = np.full(2, 0.15)
        expected[info["clean_action"]] += 0.7
        np.testing.assert_allclose(p, expected)
        assert "expert_distribution" not in info
    # A label and its distribution are one query per observation (reset + 5 steps); clean is free.
    assert env.get_wrapper_attr("oracle").queries == 6


def test_sticky_expert_probs_are_the_distribution_the_label_was_drawn_from():
    """At step 1 of the lock the sticky memory holds the step-0 label (the clean digit, inner 'none'),
    so the label's distribution is r * onehot(code[0]) + (1 - r) * onehot(code[1]) whatever label is
    then drawn; it must not depend on the label drawn at step 1."""
    r = 0.5
    seen_labels = set()
    for seed in range(8):
        env = gym.make("NoisyExpert/CombinationLock-v0", horizon=4, code_seed=3, noise="sticky",
                       repeat_prob=r, include_distribution=True, include_clean=True)
        code = env.unwrapped.code
        assert code[0] != code[1]
        obs, info = env.reset(seed=seed)
        np.testing.assert_allclose(info["expert_probs"], np.eye(4)[code[0]])
        obs, _, _, _, info = env.step(info["clean_action"])
        seen_labels.add(int(info["expert_action"]))
        np.testing.assert_allclose(info["expert_probs"], r * np.eye(4)[code[0]] + (1 - r) * np.eye(4)[code[1]])
    assert seen_labels == {int(code[0]), int(code[1])}


def test_include_distribution_box_puts_distribution_params(pendulum_expert):
    env = NoisyExpertWrapper(gym.make("Pendulum-v1"), pendulum_expert, "gaussian", sigma=0.3,
                             include_distribution=True, include_clean=True)
    for obs, info in _labelled_steps(env, 3):
        dist = info["expert_distribution"]
        assert set(dist) == {"mean", "sigma"}
        np.testing.assert_allclose(dist["mean"], info["clean_action"])
        np.testing.assert_allclose(dist["mean"], pendulum_expert(obs[None])[0])
        np.testing.assert_allclose(dist["sigma"], [0.3])
        assert "expert_probs" not in info
    assert env.get_wrapper_attr("oracle").queries == 4  # one query per label with its distribution
    env = NoisyExpertWrapper(gym.make("Pendulum-v1"), pendulum_expert, "uniform", epsilon=0.2,
                             include_distribution=True)
    _, info = env.reset(seed=0)
    assert set(info["expert_distribution"]) == {"clean", "epsilon"}
    np.testing.assert_allclose(info["expert_distribution"]["epsilon"], 0.2)


def test_labels_off_puts_no_label_and_makes_no_query(cartpole_expert):
    calls = []

    def counting_expert(obs):
        calls.append(len(obs))
        return cartpole_expert(obs)

    env = NoisyExpertWrapper(gym.make("CartPole-v1"), counting_expert, "uniform", epsilon=0.3, labels=False,
                             include_distribution=True, include_clean=True)
    _, info = env.reset(seed=0)
    assert "expert_action" not in info and "expert_probs" not in info and "clean_action" not in info
    for _ in range(10):
        _, _, _, _, info = env.step(0)
        assert "expert_action" not in info
    oracle = env.get_wrapper_attr("oracle")
    assert oracle.queries == 0 and oracle.clean_queries == 0 and calls == []
    # The oracle stays usable on demand.
    assert oracle.sample(np.zeros(4)) in (0, 1) and oracle.queries == 1


def test_oracle_reachable_through_gym_make():
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=3, noise="fixed_wrong", epsilon=0.1)
    oracle = env.get_wrapper_attr("oracle")
    assert isinstance(oracle, NoisyOracle)
    assert oracle.config()["noise"] == "fixed_wrong" and oracle.config()["epsilon"] == 0.1
    env.reset(seed=0)
    env.step(0)
    assert oracle.queries == 2


class FakeSB3Model:
    """Anything with SB3's ``predict(obs, deterministic=...) -> (actions, state)``."""

    def __init__(self):
        self.calls = []

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        self.calls.append((np.shape(obs), deterministic))
        return (obs[:, 0] > 0).astype(np.int64), None


def test_predictor_expert_is_called_deterministically():
    model = FakeSB3Model()
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), model, "uniform", epsilon=0.3, include_clean=True)
    obs, info = env.reset(seed=2)
    assert info["clean_action"] == int(obs[0] > 0)
    env.step(info["expert_action"])
    assert model.calls and all(det is True for _, det in model.calls)
    assert all(shape == (1, 4) for shape, _ in model.calls)  # batched, one observation


def test_real_untrained_sb3_ppo_as_expert():
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make("CartPole-v1"), seed=0, device="cpu")
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), model, "none", include_clean=True)
    obs, info = env.reset(seed=0)
    for _ in range(20):
        predicted, _ = model.predict(obs, deterministic=True)
        assert info["expert_action"] == predicted == info["clean_action"]
        obs, _, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            obs, info = env.reset()
    noisy = NoisyExpertWrapper(gym.make("CartPole-v1"), model, "uniform", epsilon=0.3)
    _, info = noisy.reset(seed=0)
    assert info["expert_action"] in (0, 1)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
@pytest.mark.parametrize("noise,params", [("fixed_wrong", {"epsilon": 0.4}),
                                          ("sticky", {"repeat_prob": 0.5, "inner": "uniform"})])
def test_pickled_made_env_gives_the_same_subsequent_labels(dumps, noise, params):
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=40, noise=noise, noise_seed=3,
                   include_clean=True, **params)
    obs, info = env.reset(seed=7)
    for _ in range(5):
        obs, _, _, _, info = env.step(info["clean_action"])
    copy = pickle.loads(dumps(env))
    info_copy = dict(info)
    for _ in range(30):
        obs, _, _, _, info = env.step(info["clean_action"])
        obs_c, _, _, _, info_copy = copy.step(info_copy["clean_action"])
        np.testing.assert_array_equal(obs, obs_c)
        assert info["expert_action"] == info_copy["expert_action"]
    assert copy.get_wrapper_attr("oracle").queries == env.get_wrapper_attr("oracle").queries
    # A fresh episode with a seed is reproduced too.
    assert env.reset(seed=1)[1]["expert_action"] == copy.reset(seed=1)[1]["expert_action"]


def test_pickled_wrapper_with_function_expert(cartpole_expert):
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), cartpole_expert, "uniform", epsilon=0.5)
    env.reset(seed=0)
    copy = pickle.loads(pickle.dumps(env))
    for _ in range(20):
        a = env.step(0)
        b = copy.step(0)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[4]["expert_action"] == b[4]["expert_action"]
        if a[2] or a[3]:
            break


def test_wrapper_on_raw_env_passes_the_env_checkers(cartpole_expert, pendulum_expert, known_warnings):
    from gymnasium.envs.classic_control import CartPoleEnv, PendulumEnv
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for env in (NoisyExpertWrapper(CartPoleEnv(), cartpole_expert, "uniform", epsilon=0.2),
                NoisyExpertWrapper(PendulumEnv(), pendulum_expert, "gaussian", sigma=0.2)):
        with known_warnings(*CHECKER_WARNINGS, "Not able to test alternative render modes"):
            check_env(env, skip_render_check=True)
            sb3_check_env(env)


@pytest.mark.parametrize("env_id,noise", [("NoisyExpert/CartPole-v1", "boltzmann"),
                                          ("NoisyExpert/Pendulum-v1", "gaussian")])
def test_pickled_made_classic_env_continues_identically(env_id, noise):
    env = gym.make(env_id, noise=noise)
    _, info = env.reset(seed=3)
    for _ in range(10):
        _, _, _, _, info = env.step(info["expert_action"])
    copy = cloudpickle.loads(cloudpickle.dumps(env))
    info_copy = info
    for _ in range(40):
        obs, _, terminated, truncated, info = env.step(info["expert_action"])
        obs_c, _, _, _, info_copy = copy.step(info_copy["expert_action"])
        np.testing.assert_array_equal(obs, obs_c)
        np.testing.assert_array_equal(info["expert_action"], info_copy["expert_action"])
        if terminated or truncated:
            break


def test_uniform_labels_replay_after_reset_with_the_same_seed_across_buffer_refills():
    """Single-observation labels come from a buffer of uniforms refilled from the oracle's RNG; a
    seeded reset restarts it, so a long rollout (several refills, episode ends) replays exactly."""
    env = gym.make("NoisyExpert/CartPole-v1", noise="uniform", epsilon=0.5)
    first = rollout(env, seed=8, steps=800)
    second = rollout(env, seed=8, steps=800)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert all(type(a) is np.int64 for a in first[1])
    other = rollout(env, seed=9, steps=800)
    n = min(len(first[1]), len(other[1]))
    assert np.any(first[1][:n] != other[1][:n])


def test_labels_are_added_to_the_task_info():
    env = gym.make("NoisyExpert/CombinationLock-v0", horizon=3, noise="uniform", include_clean=True)
    _, info = env.reset(seed=0)
    assert set(info) == {"depth", "expert_action", "clean_action"}
    _, _, _, _, info = env.step(info["clean_action"])
    assert info["depth"] == 1 and type(info["expert_action"]) is np.int64


@pytest.mark.filterwarnings("ignore::UserWarning")  # check_env warns that the env is wrapped: it is, on purpose
def test_a_user_wrapped_env_is_recreated_from_its_spec(cartpole_expert):
    # Gymnasium's check_env re-makes the env from env.spec (render check); that needs the wrapper's
    # constructor arguments in the spec. A noise object is recorded as an unbound copy.
    noise = StickyNoise(repeat_prob=0.5, inner=UniformNoise(0.3))
    env = NoisyExpertWrapper(gym.make("CartPole-v1"), cartpole_expert, noise, include_clean=True)
    assert env.spec.additional_wrappers[-1].name == "NoisyExpertWrapper"
    twin = gym.make(env.spec)
    assert twin.get_wrapper_attr("oracle").noise is not env.oracle.noise
    for e in (env, twin):
        e.reset(seed=4)
    labels = [[e.step(i % 2)[4]["expert_action"] for i in range(20)] for e in (env, twin)]
    assert labels[0] == labels[1]
    check_env(env, skip_render_check=True)


def test_a_registered_id_lists_no_extra_wrapper_in_its_spec():
    # The id's entry point builds the wrapper; listing it as well would wrap twice on re-making.
    env = gym.make("NoisyExpert/CartPole-v1")
    assert env.spec.additional_wrappers == ()
    remade = gym.make(env.spec)
    assert type(remade.unwrapped).__name__ == "CartPoleEnv"
    assert str(remade).count("NoisyExpertWrapper") == 1
