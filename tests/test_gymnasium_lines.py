"""What must hold on both Gymnasium lines (0.29.1 and 1.x): ways to register, make_vec, SB3 PPO.

``make test`` runs these on the pinned 0.29.1 stack, ``make test-gym1`` on the newest 1.x.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import env_id_params

from noisy_expert_envs import registered_ids
from noisy_expert_envs.compat import (
    GYMNASIUM_1, MAKE_VEC_RESETS_ON_NEXT_STEP, READS_PLUGIN_ENTRY_POINTS, baselines_stack_problem, installed_version,
)

IDS = registered_ids()


def _run_fresh(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=120, cwd="/")


def test_module_prefixed_id_and_register_envs_work_in_a_fresh_process():
    result = _run_fresh(
        f"""
        import gymnasium as gym
        # 0.29 registers the ids at `import gymnasium` (entry point); 1.x does not read entry points.
        assert ("NoisyExpert/CartPole-v1" in gym.registry) == {READS_PLUGIN_ENTRY_POINTS}
        env = gym.make("noisy_expert_envs:NoisyExpert/CartPole-v1", epsilon=0.1)
        _, info = env.reset(seed=0)
        assert info["expert_action"] in (0, 1)
        import noisy_expert_envs
        gym.register_envs(noisy_expert_envs)
        env = gym.make("NoisyExpert/Pendulum-v1")
        _, info = env.reset(seed=0)
        assert env.action_space.contains(info["expert_action"])
        print("OK")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"


@pytest.mark.skipif(not GYMNASIUM_1 or installed_version("imitation") is not None,
                    reason="baselines imports here: gymnasium 0.29 (test_baselines.py) or the modern stack with imitation")
def test_baselines_refuses_gymnasium_1_without_imitation_naming_the_commands_that_set_up_a_stack():
    cli = Path(sys.executable).parent / "noisy-expert-bench"  # installed with the package, extras or not
    assert cli.exists(), cli
    for result in (_run_fresh("import baselines"),
                   subprocess.run([str(cli), "list"], capture_output=True, text=True, timeout=120)):
        assert result.returncode != 0
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("ImportError: baselines needs imitation 1.0.1 on a tested stack: gymnasium 0.29.1")
        assert f"found gymnasium {gym.__version__}, no imitation" in last
        assert "make install " in last and "make install-modern " in last


@pytest.mark.parametrize("versions, problem", [
    (("0.29.1", "1.0.1", "2.2.1"), None),
    (("1.4.0", "1.0.1", "2.9.2"), None),
    (("1.0.0", "1.0.1", "2.4.0"), None),
    (("1.4.0", None, "2.9.2"), "gymnasium 1.4.0, no imitation"),
    (("0.29.1", None, "2.2.1"), "gymnasium 0.29.1, no imitation"),
    (("1.4.0", "1.0.1", None), "gymnasium 1.4.0, no stable-baselines3"),
    (("1.4.0", "1.1.0", "2.9.2"), "gymnasium 1.4.0, imitation 1.1.0 (tested on gymnasium 1.x: 1.0.1)"),
    (("1.0.0", "1.0.1", "2.3.2"), "gymnasium 1.0.0, stable-baselines3 2.3.2 (gymnasium 1.x needs >= 2.4)"),
])
def test_baselines_stack_problem_names_what_is_missing_or_untested(versions, problem):
    assert baselines_stack_problem(*versions) == problem


def _step_one_by_one(env_id: str, seed: int, n_envs: int, actions: np.ndarray) -> tuple[list, list]:
    """Observations and labels of ``n_envs`` envs stepped one by one the way ``make_vec``'s vector
    env steps them: sub-env ``i`` seeded ``seed + i``, a finished episode reset (unseeded) in the
    same step (0.29) or on the next one (1.x)."""
    all_obs, all_labels = [], []
    for i in range(n_envs):
        env = gym.make(env_id)
        obs, info = env.reset(seed=seed + i)
        observations, labels, done = [obs], [info["expert_action"]], False
        for action in actions[:, i]:
            if done:
                obs, info = env.reset()
                done = False
            else:
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
                if done and not MAKE_VEC_RESETS_ON_NEXT_STEP:
                    obs, info = env.reset()
                    done = False
            observations.append(obs)
            labels.append(info["expert_action"])
        env.close()
        all_obs.append(np.array(observations))
        all_labels.append(np.array(labels))
    return all_obs, all_labels


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", env_id_params(IDS))
def test_make_vec_gives_the_labels_of_the_envs_stepped_one_by_one(env_id, mode):
    # 40 random steps: CombinationLock, TokenChain and CartPole episodes end (and reset) within them;
    # Acrobot's 100-step-lookahead expert makes each of its labels cost ~20 ms.
    n_envs, n_steps, seed = 2, 40, 7
    venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode=mode)
    try:
        venv.action_space.seed(seed)
        actions = np.array([venv.action_space.sample() for _ in range(n_steps)])
        obs, infos = venv.reset(seed=seed)
        # np.stack: 0.29 gives Box labels as an object array of arrays, 1.x stacks them.
        observations, labels = [obs], [np.stack(list(infos["expert_action"]))]
        finished = 0
        for action in actions:
            obs, _, terminated, truncated, infos = venv.step(action)
            finished += int(np.sum(terminated | truncated))
            assert infos["_expert_action"].all()  # every sub-env labels every step, resets included
            observations.append(obs)
            labels.append(np.stack(list(infos["expert_action"])))
    finally:
        venv.close()
    ref_obs, ref_labels = _step_one_by_one(env_id, seed, n_envs, actions)
    for i in range(n_envs):
        np.testing.assert_array_equal(np.array(observations)[:, i], ref_obs[i])
        np.testing.assert_array_equal(np.array(labels)[:, i], ref_labels[i])
    assert not np.array_equal(ref_obs[0], ref_obs[1])  # the sub-envs are seeded differently
    if any(task in env_id for task in ("CombinationLock", "TokenChain", "CartPole")):
        assert finished >= 2  # the comparison went through resets


@pytest.fixture
def one_torch_thread():
    """Torch on one thread: with 2 shared cores and busy env workers, torch's default 2 OpenMP
    threads made 4096 PPO steps take ~100 s instead of ~10 s here."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sb3_ppo_runs_on_subproc_vec_env_with_a_valid_label_every_step(one_torch_thread):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    class CheckLabels(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.labels = 0

        def _on_step(self) -> bool:
            infos, dones = self.locals["infos"], self.locals["dones"]
            reset_infos = self.training_env.reset_infos
            for i, info in enumerate(infos):
                assert info["expert_action"] in (0, 1), info
                if dones[i]:  # the label of the auto-reset's first observation
                    assert reset_infos[i]["expert_action"] in (0, 1), reset_infos[i]
            self.labels += len(infos)
            return True

    # Forked workers (fresh ones cost ~5 s each here to import SB3; the "module:id" form they need
    # on gymnasium 1.x is tested in test_registration.py).
    venv = make_vec_env("NoisyExpert/CartPole-v1", n_envs=4, seed=0, vec_env_cls=SubprocVecEnv,
                        vec_env_kwargs=dict(start_method="fork"))
    try:
        callback = CheckLabels()
        model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, n_epochs=2, seed=0, device="cpu")
        model.learn(total_timesteps=4096, callback=callback)
    finally:
        venv.close()
    assert model.num_timesteps == 4096
    assert callback.labels == 4096
