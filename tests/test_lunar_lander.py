"""NoisyExpert/LunarLander-v3: Gymnasium's own heuristic as the clean expert, its preferences, noise."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from conftest import BOX2D_INSTALLED, BOX2D_MISSING

import noisy_expert_envs

gym.register_envs(noisy_expert_envs)  # gymnasium 1.x reads no entry points

pytestmark = pytest.mark.skipif(not BOX2D_INSTALLED, reason=BOX2D_MISSING)

ID = "NoisyExpert/LunarLander-v3"
#: Mean return of the clean expert over seeds 0-99 (benchmarks/expert_returns.py): 253.04 on
#: gymnasium 0.29.1 (LunarLander-v2), 252.83 on 1.4.0 (v3).
MEASURED_MEAN_RETURN = 252.8


def _episode(env: gym.Env, seed: int) -> tuple[float, np.ndarray]:
    """Return and visited observations of one episode acted by the clean expert."""
    obs, info = env.reset(seed=seed)
    total, visited = 0.0, [obs]
    while True:
        obs, reward, terminated, truncated, info = env.step(info["clean_action"])
        total += float(reward)
        visited.append(obs)
        if terminated or truncated:
            return total, np.array(visited)


def test_clean_expert_is_gymnasiums_heuristic_and_lands():
    from gymnasium.envs.box2d.lunar_lander import heuristic

    env = gym.make(ID, include_clean=True)
    expert = env.get_wrapper_attr("oracle").expert
    returns = []
    for seed in (0, 1):
        total, visited = _episode(env, seed)
        returns.append(total)
        actions = expert(visited)
        np.testing.assert_array_equal(actions, [heuristic(env.unwrapped, o) for o in visited])
        assert [expert.act_one(o) for o in visited] == actions.tolist()
        # The preferences rank the heuristic's action first at every visited state.
        np.testing.assert_array_equal(np.argmax(expert.preferences(visited), axis=1), actions)
        assert set(actions.tolist()) == {0, 1, 2, 3}  # a landing uses every engine
    assert min(returns) > 200.0  # both land (297.4 and 260.9)
    assert gym.spec(ID).max_episode_steps == 1000 and gym.spec(ID).reward_threshold == 200.0


def test_preferences_follow_the_heuristics_rule_and_its_ties():
    from noisy_expert_envs.experts.lunar_lander import LunarLanderExpert

    expert = LunarLanderExpert()
    # Observations that fix the two control signals: with x = vx = vy = 0 and no contact,
    # hover = -y/2 and angle = -angle/2 - angular_velocity.
    def obs(y: float, angle: float, angular_velocity: float = 0.0) -> list[float]:
        return [0.0, y, 0.0, 0.0, angle, angular_velocity, 0.0, 0.0]

    batch = np.array([obs(-1.0, 0.0),       # hover 0.5, angle 0: main engine
                      obs(0.0, 0.5),        # angle -0.25: right engine
                      obs(0.0, -0.5),       # angle +0.25: left engine
                      obs(0.0, 0.0, 0.04),  # angle -0.04, inside the dead band: noop
                      obs(-0.5, 0.0, 0.25)  # hover 0.25 == -angle: an exact tie, the heuristic fires right
                      ], dtype=np.float32)
    np.testing.assert_array_equal(expert(batch), [2, 3, 1, 0, 3])
    prefs = expert.preferences(batch)
    np.testing.assert_allclose(prefs[0], [1.0, 0.0, 10.0, 0.0])  # 20 x (dead band, angle, hover, -angle)
    np.testing.assert_allclose(prefs[1], [1.0, -5.0, -0.0, 5.0])
    np.testing.assert_array_equal(np.argmax(prefs, axis=1), expert(batch))
    assert prefs[4, 3] > prefs[4, 2] == 5.0  # the tie broken one ulp towards the heuristic
    with pytest.raises(ValueError, match=r"shape \(B, 8\), got \(8,\)"):
        expert(batch[0])
    assert pickle.loads(pickle.dumps(expert))(batch).tolist() == [2, 3, 1, 0, 3]


@pytest.mark.parametrize("noise,kwargs", [("boltzmann", dict(temperature=1.0)),
                                          ("teacher", dict(temperature=1.0, epsilon=0.1))])
def test_preference_noise_models_label_lunar_lander(noise, kwargs):
    env = gym.make(ID, noise=noise, include_distribution=True, include_clean=True, **kwargs)
    obs, info = env.reset(seed=0)
    agree = []
    for _ in range(100):
        probs = info["expert_probs"]
        assert probs.shape == (4,) and abs(probs.sum() - 1.0) < 1e-9
        assert int(np.argmax(probs)) == info["clean_action"]  # the clean action is the mode
        agree.append(info["expert_action"] == info["clean_action"])
        obs, _, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            obs, info = env.reset()
    assert 0.3 < np.mean(agree) < 1.0  # noisy, but mostly the heuristic


def test_unknown_and_continuous_kwargs_are_refused_with_the_valid_ones():
    with pytest.raises(TypeError, match=r"continuous.*enable_wind.*gravity"):
        gym.make(ID, continuous=True)


def test_missing_box2d_names_our_extra():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["Box2D"] = None  # as if not installed
        import gymnasium as gym
        import noisy_expert_envs
        try:
            gym.make("NoisyExpert/LunarLander-v3")
        except gym.error.DependencyNotInstalled as e:
            print(e)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install "noisy-expert-envs[box2d]"' in result.stdout


@pytest.mark.slow
def test_clean_expert_reaches_its_measured_return_over_100_seeds():
    env = gym.make(ID, include_clean=True)
    returns = np.array([_episode(env, seed)[0] for seed in range(100)])
    assert returns.mean() >= MEASURED_MEAN_RETURN - 0.5
    assert np.mean(returns >= 200.0) >= 0.9
