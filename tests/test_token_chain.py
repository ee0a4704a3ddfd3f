"""TokenChain (autoregressive generation with a prefix-conditioned expert) and the ``teacher`` noise."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import noisy_expert_envs  # noqa: F401  (registers the ids)
from noisy_expert_envs.experts.token_chain import TokenChainExpert
from noisy_expert_envs.noise import BoltzmannNoise, TeacherNoise, UniformNoise, make_noise
from noisy_expert_envs.tasks.token_chain import TokenChainEnv, running_sums

ENV_ID = "NoisyExpert/TokenChain-v0"
# (chain_length, vocab_size, prompt_length)
SHAPES = [(1, 2, 1), (8, 10, 4), (5, 3, 7), (13, 7, 3), (30, 32, 4)]


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def run_episode(env: TokenChainEnv, policy, seed: int) -> tuple[float, np.ndarray, dict]:
    """Roll ``policy`` (obs batch -> actions) for one episode of the unwrapped task."""
    obs, _ = env.reset(seed=seed)
    total, terminated, steps = 0.0, False, 0
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(int(policy(obs[None])[0]))
        assert not truncated
        total += reward
        steps += 1
    assert steps == env.chain_length
    return total, obs, info


# -- registration and API checkers ------------------------------------------------------------------


def test_registered_without_time_limit():
    spec = gym.spec(ENV_ID)
    assert spec.max_episode_steps is None
    env = gym.make(ENV_ID)
    assert isinstance(env.unwrapped, TokenChainEnv)
    assert env.observation_space == spaces.MultiDiscrete([11] * 12)
    assert env.action_space == spaces.Discrete(10)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_gymnasium_check_env(shape):
    chain_length, vocab_size, prompt_length = shape
    env = TokenChainEnv(chain_length, vocab_size, prompt_length, process_reward=0.1)
    check_env(env, skip_render_check=True)  # render is checked in test_observation_layout_and_render
    wrapped = gym.make(ENV_ID, chain_length=chain_length, vocab_size=vocab_size, prompt_length=prompt_length,
                       noise="teacher")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "different from the unwrapped version": expected for a wrapper
        check_env(wrapped)


def test_sb3_check_env():
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_checker.check_env(gym.make(ENV_ID, noise="teacher", temperature=1.0, epsilon=0.1), warn=True)
    sb3_warnings = [w for w in caught if "stable_baselines3" in w.filename]
    assert sb3_warnings == [], [str(w.message) for w in sb3_warnings]


def test_imitation_bc_accepts_the_observations(tmp_path):
    """The MultiDiscrete observations go through imitation's BC (SB3 one-hot encodes them)."""
    bc = pytest.importorskip("imitation.algorithms.bc")
    from imitation.data import types
    from imitation.util import logger

    env = TokenChainEnv()
    expert = TokenChainExpert(env.vocab_size, env.prompt_length, env.chain_length)
    obs, acts, next_obs, dones = [], [], [], []
    for seed in range(4):
        o, _ = env.reset(seed=seed)
        for _ in range(env.chain_length):
            a = int(expert(o[None])[0])
            o2, _, terminated, _, _ = env.step(a)
            obs.append(o), acts.append(a), next_obs.append(o2), dones.append(terminated)
            o = o2
    transitions = types.Transitions(
        obs=np.array(obs), acts=np.array(acts), infos=np.array([{}] * len(acts)),
        next_obs=np.array(next_obs), dones=np.array(dones),
    )
    trainer = bc.BC(observation_space=env.observation_space, action_space=env.action_space,
                    demonstrations=transitions, rng=np.random.default_rng(0), batch_size=8,
                    custom_logger=logger.configure(folder=str(tmp_path), format_strs=[]))
    trainer.train(n_batches=2, progress_bar=False)
    actions, _ = trainer.policy.predict(np.array(obs[:3]), deterministic=True)
    assert actions.shape == (3,) and env.action_space.contains(int(actions[0]))


# -- dynamics, observation, reward ----------------------------------------------------------------------


def test_target_chain_definition():
    assert running_sums(np.array([3, 1, 4, 1]), 6, 10).tolist() == [3, 4, 8, 9, 2, 3]
    assert running_sums(np.array([5]), 3, 7).tolist() == [5, 3, 1]


def test_observation_layout_and_render():
    env = TokenChainEnv(chain_length=3, vocab_size=10, prompt_length=2, render_mode="ansi")
    obs, info = env.reset(seed=0)
    prompt = obs[:2].copy()
    assert obs.dtype == np.int64 and obs[2:].tolist() == [10, 10, 10] and info["position"] == 0
    obs, reward, terminated, _, info = env.step(7)
    assert obs.tolist() == prompt.tolist() + [7, 10, 10] and info["position"] == 1 and not terminated
    assert env.render() == f"prompt {prompt[0]} {prompt[1]} | 7 _ _"
    assert env.observation_space.contains(obs)


def test_clean_expert_solves_every_prompt():
    for chain_length, vocab_size, prompt_length in SHAPES:
        env = TokenChainEnv(chain_length, vocab_size, prompt_length, process_reward=0.25)
        expert = TokenChainExpert(vocab_size, prompt_length, chain_length)
        for seed in range(200):
            total, obs, info = run_episode(env, expert, seed)
            assert total == pytest.approx(1.0 + 0.25 * chain_length)
            assert info["solved"] and info["answer"] == info["true_answer"]
            target = running_sums(obs[:prompt_length], chain_length, vocab_size)
            assert obs[prompt_length:].tolist() == target.tolist()


def test_same_seed_same_prompts_observations_and_labels():
    def trace(seed: int) -> list:
        env = gym.make(ENV_ID, noise="teacher", temperature=1.5, epsilon=0.2, include_distribution=True)
        out = []
        for episode_seed in (seed, seed + 1):
            obs, info = env.reset(seed=episode_seed)
            out.append((obs.tolist(), int(info["expert_action"]), info["expert_probs"].tolist()))
            terminated = False
            while not terminated:  # follow the noisy teacher's own labels
                obs, reward, terminated, _, info = env.step(info["expert_action"])
                out.append((obs.tolist(), reward, int(info["expert_action"]), info["expert_probs"].tolist()))
        return out

    assert trace(11) == trace(11)
    assert trace(11) != trace(12)
    env = TokenChainEnv(chain_length=2, vocab_size=10, prompt_length=6)
    prompts = {tuple(env.reset(seed=s)[0][:6]) for s in range(50)}
    assert len(prompts) == 50  # prompts vary with the seed


def test_expert_continues_from_a_wrong_prefix():
    """After a wrong token the expert runs the algorithm on what was written: the answer is then wrong."""
    env = TokenChainEnv(chain_length=6, vocab_size=10, prompt_length=4, process_reward=0.5)
    expert = TokenChainExpert(10, 4, 6)
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        prompt = obs[:4].copy()
        true_chain = running_sums(prompt, 6, 10)
        wrong_at = seed % 6
        written, total = [], 0.0
        for t in range(6):
            clean = int(expert(obs[None])[0])
            last = written[-1] if written else 0
            assert clean == (last + prompt[t % 4]) % 10  # prefix-conditioned, not the true running sum
            action = (clean + 1 + seed % 9) % 10 if t == wrong_at else clean
            obs, reward, terminated, _, info = env.step(action)
            assert info["step_correct"] == (t != wrong_at)
            written.append(action)
            total += reward
        assert terminated and not info["solved"] and info["true_answer"] == true_chain[-1]
        assert written[-1] != true_chain[-1]
        assert total == pytest.approx(0.5 * 5)  # process rewards only, no outcome reward


def test_cancelling_mistakes_still_reach_the_answer():
    """The outcome reward checks the answer only: a +1 and a -1 mistake cancel (documented)."""
    env = TokenChainEnv(chain_length=4, vocab_size=10, prompt_length=2)
    obs, _ = env.reset(seed=3)
    expert = TokenChainExpert(10, 2, 4)
    for t, offset in enumerate((1, 0, -1, 0)):
        obs, reward, terminated, _, info = env.step((int(expert(obs[None])[0]) + offset) % 10)
    assert terminated and info["solved"] and reward == 1.0


def test_random_policy_solves_one_in_vocab_size():
    env = TokenChainEnv(chain_length=3, vocab_size=4, prompt_length=2)
    rng = np.random.default_rng(0)
    solved = [run_episode(env, lambda o: rng.integers(4, size=1), seed)[0] for seed in range(4000)]
    assert np.mean(solved) == pytest.approx(0.25, abs=0.03)


def test_step_errors():
    env = TokenChainEnv(chain_length=1, vocab_size=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="3"):
        env.step(3)
    env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


# -- the teacher ------------------------------------------------------------------------------------


def test_preferences_structure():
    expert = TokenChainExpert(10, 3, 4)
    # prompt 2 5 7, written 4 -> t = 1, correct = (4 + 5) % 10 = 9, previous token 4
    obs = np.array([[2, 5, 7, 4, 10, 10, 10]])
    assert expert(obs).tolist() == [9]
    expected = np.full(10, -6.0)
    expected[[8, 0]] = -2.5  # off by one (mod vocab)
    expected[4] = -3.0  # repeat the previous token
    expected[9] = 0.0
    np.testing.assert_array_equal(expert.preferences(obs)[0], expected)
    # t = 0: the previous token is the last prompt token; correct = 2
    start = np.array([[2, 5, 7, 10, 10, 10, 10]])
    assert expert(start).tolist() == [2] and expert.preferences(start)[0, 7] == -3.0
    # roles collide: prompt digit 1 makes "repeat" an off-by-one token (the max logit wins),
    # digit 0 makes it the correct token
    collide = np.array([[2, 1, 0, 4, 10, 10, 10], [2, 0, 7, 4, 10, 10, 10]])
    prefs = expert.preferences(collide)
    assert expert(collide).tolist() == [5, 4]
    assert prefs[0, 4] == -2.5 and prefs[1, 4] == 0.0 and (prefs[1] == 0.0).sum() == 1


def random_prefixes(n: int, seed: int) -> np.ndarray:
    """``n`` TokenChain observations (vocab 10, prompt 4, chain 8): a random prompt and a random
    number of written tokens, the rest padding (10)."""
    rng = np.random.default_rng(seed)
    obs = np.full((n, 12), 10)
    obs[:, :4] = rng.integers(10, size=(n, 4))
    for i, position in enumerate(rng.integers(9, size=n)):
        obs[i, 4 : 4 + position] = rng.integers(10, size=position)
    return obs


@pytest.mark.parametrize("temperature,epsilon", [(0.5, 0.0), (1.0, 0.1), (2.0, 0.3), (5.0, 0.9)])
def test_teacher_probs_are_the_documented_formula(temperature, epsilon):
    env = gym.make(ENV_ID, noise="teacher", temperature=temperature, epsilon=epsilon)
    oracle = env.get_wrapper_attr("oracle")
    assert isinstance(oracle.noise, TeacherNoise)
    config = {"noise": "teacher", "temperature": temperature, "epsilon": epsilon, "noise_seed": 0}
    assert oracle.config() == config
    expert = TokenChainExpert(10, 4, 8)
    obs = random_prefixes(64, seed=0)
    probs = oracle.probs(obs)
    expected = (1 - epsilon) * softmax(expert.preferences(obs) / temperature) + epsilon / 10
    np.testing.assert_allclose(probs, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # teacher == boltzmann(temperature) >> uniform(epsilon)
    chain = (BoltzmannNoise(temperature) >> UniformNoise(epsilon)).bind(spaces.Discrete(10))
    np.testing.assert_allclose(chain.probs(obs, expert(obs), expert.preferences(obs)), probs, atol=1e-12)
    # the clean token is the strict mode (the correct logit is the strict maximum)
    assert np.all(oracle.mode_margin(obs) > 0)
    assert np.array_equal(probs.argmax(axis=1), expert(obs))


def test_teacher_mode_margin_at_the_default_setting():
    oracle = gym.make(ENV_ID, noise="teacher", temperature=1.0, epsilon=0.1).get_wrapper_attr("oracle")
    expert = TokenChainExpert(10, 4, 8)
    obs = random_prefixes(500, seed=1)
    assert oracle.mode_margin(obs).min() > 0.6
    assert np.all((oracle.agreement(obs) > 0.7) & (oracle.agreement(obs) < 0.8))
    assert np.array_equal(expert(obs), oracle.clean(obs))


def test_teacher_sampled_labels_match_probs():
    oracle = gym.make(ENV_ID, noise="teacher", temperature=1.5, epsilon=0.2).get_wrapper_attr("oracle")
    oracle.reset_rng(123)
    states = np.array([[3, 1, 4, 1, 10, 10, 10, 10, 10, 10, 10, 10],
                       [3, 0, 4, 1, 3, 3, 7, 10, 10, 10, 10, 10],
                       [9, 9, 9, 9, 9, 8, 7, 6, 5, 4, 3, 10]])
    n = 20_000
    for state in states:
        labels = oracle.sample(np.repeat(state[None], n, axis=0))
        freq = np.bincount(labels, minlength=10) / n
        p = oracle.probs(state)
        assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n) + 1e-3), (freq, p)


def test_teacher_without_preferences_is_one_hot_boltzmann():
    noise = TeacherNoise(temperature=0.5, epsilon=0.3).bind(spaces.Discrete(4))
    p = noise.probs(np.zeros((1, 2)), np.array([2]))
    boltz = BoltzmannNoise(0.5).bind(spaces.Discrete(4)).probs(np.zeros((1, 2)), np.array([2]))
    np.testing.assert_allclose(p, 0.7 * boltz + 0.3 / 4)


# -- bad configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,error,fragment",
    [
        ({"vocab_size": 1}, ValueError, "vocab_size"),
        ({"chain_length": 0}, ValueError, "chain_length"),
        ({"prompt_length": 0}, ValueError, "prompt_length"),
        ({"process_reward": -0.1}, ValueError, "process_reward"),
        ({"process_reward": float("nan")}, ValueError, "process_reward"),
        ({"vocab_size": 2.5}, TypeError, "vocab_size"),
        ({"chain_length": "8"}, TypeError, "chain_length"),
        ({"prompt_length": True}, TypeError, "prompt_length"),
        ({"process_reward": "0.1"}, TypeError, "process_reward"),
        ({"render_mode": "human"}, ValueError, "human"),
        ({"noise": "teacher", "temperature": 0.0}, ValueError, "temperature"),
        ({"noise": "teacher", "temperature": -1.0}, ValueError, "temperature"),
        ({"noise": "teacher", "temperature": "hot"}, TypeError, "temperature"),
        ({"noise": "teacher", "epsilon": 1.5}, ValueError, "epsilon"),
        ({"noise": "teacher", "sigma": 0.1}, TypeError, "sigma"),
    ],
)
def test_bad_configuration_is_rejected(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        gym.make(ENV_ID, **kwargs)


def test_bad_expert_configuration_is_rejected():
    with pytest.raises(ValueError, match="off_by_one_logit"):
        TokenChainExpert(10, 4, 8, off_by_one_logit=0.5)
    with pytest.raises(ValueError, match="other_logit"):
        TokenChainExpert(10, 4, 8, other_logit=-np.inf)
    with pytest.raises(ValueError, match=r"\(batch, 12\)"):
        TokenChainExpert(10, 4, 8)(np.zeros((2, 11)))
    with pytest.raises(TypeError, match="temperature"):
        make_noise("teacher", temperature=None)


# -- held-out prompts --------------------------------------------------------------------------------


def test_prompt_split_is_seeded_disjoint_and_near_its_fraction():
    from noisy_expert_envs.tasks.token_chain import prompt_split

    digits = np.stack(np.unravel_index(np.arange(10**4), (10,) * 4), axis=1)
    sides = np.array([prompt_split(p, 0, 0.2) for p in digits])
    assert 0.18 < np.mean(sides == "eval") < 0.22
    assert np.array_equal(sides, [prompt_split(p, 0, 0.2) for p in digits])  # a function of (seed, prompt)
    assert (sides != np.array([prompt_split(p, 1, 0.2) for p in digits])).sum() > 1000
    train = TokenChainEnv(3, 10, 4, split="train")
    held_out = TokenChainEnv(3, 10, 4, split="eval")
    drawn = {side: {tuple(env.reset(seed=s)[0][:4]) for s in range(400)} for side, env in
             (("train", train), ("eval", held_out))}
    assert not drawn["train"] & drawn["eval"]
    assert all(prompt_split(p, 0, 0.2) == side for side, ps in drawn.items() for p in ps)


def test_no_split_draws_the_same_prompts_as_before():
    plain, unsplit = TokenChainEnv(3, 10, 4), TokenChainEnv(3, 10, 4, split=None, eval_fraction=0.2, split_seed=0)
    rng = np.random.default_rng(np.random.SeedSequence(5))
    assert np.array_equal(plain.reset(seed=5)[0][:4], rng.integers(10, size=4))
    assert np.array_equal(unsplit.reset(seed=5)[0], plain.reset(seed=5)[0])


@pytest.mark.parametrize("kwargs, error", [({"split": "test"}, ValueError), ({"eval_fraction": 1.0}, ValueError),
                                           ({"eval_fraction": "0.2"}, TypeError), ({"split_seed": -1}, ValueError)])
def test_bad_split_arguments_are_named(kwargs, error):
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        TokenChainEnv(3, 10, 4, **kwargs)


@pytest.mark.parametrize("kwargs, shown", [({"eval_fraction": 0.5}, "eval_fraction=0.5"),
                                           ({"split_seed": 3}, "split_seed=3"),
                                           ({"eval_fraction": 0.3, "split_seed": 1}, "eval_fraction=0.3, split_seed=1")])
def test_split_arguments_without_a_split_are_refused(kwargs, shown):
    with pytest.raises(ValueError, match=rf"^{shown} given with split=None.*split='train' or split='eval'"):
        TokenChainEnv(3, 10, 4, **kwargs)
    TokenChainEnv(3, 10, 4, split="train", **kwargs)  # with a split they mean something


@pytest.mark.parametrize("prompt_length, split, eval_fraction, side, share", [
    (6, "eval", 1e-9, "eval", "1e-09"),           # 10**6 prompts: the expected share
    (6, "train", 0.9999999, "train", "1e-07"),
    (6, "train", 1e-9, "eval", "1e-09"),          # the other side too: baselines evaluates on it
    (4, "eval", 5e-4, "eval", "0.0004"),          # 10**4 prompts, enumerated: the exact share (4 prompts)
])
def test_a_side_below_the_minimum_share_is_refused(prompt_length, split, eval_fraction, side, share):
    with pytest.raises(ValueError, match=rf"eval_fraction={eval_fraction} the '{side}' side holds a share {share} "
                                         r"of the prompts, below the minimum 0\.001"):
        TokenChainEnv(3, 10, prompt_length, split=split, eval_fraction=eval_fraction)


def test_a_side_at_the_minimum_share_draws_its_prompts():
    from noisy_expert_envs.tasks.token_chain import prompt_split

    env = TokenChainEnv(3, 10, 6, split="eval", eval_fraction=0.001)
    prompts = [env.reset(seed=s)[0][:6] for s in range(3)]
    assert all(prompt_split(p, 0, 0.001) == "eval" for p in prompts)


def test_the_redraw_loop_is_bounded(monkeypatch):
    from noisy_expert_envs.tasks import token_chain

    env = TokenChainEnv(3, 10, 4, split="eval")
    monkeypatch.setattr(token_chain, "MAX_DRAWS", 5)
    monkeypatch.setattr(token_chain, "prompt_split", lambda *args: "train")  # never on the env's side
    with pytest.raises(RuntimeError, match="drew 5 prompts and none was on the 'eval' side"):
        env.reset(seed=0)
