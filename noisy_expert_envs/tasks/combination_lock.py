"""Combination lock: the task behind the exponential lower bound for offline imitation."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from noisy_expert_envs.validation import check_int

#: Limits on the size arguments. Memory and time per step grow linearly with ``horizon`` (one float32
#: per depth in every observation, 0.4 MB at the limit) and the oracle's and learners' probability
#: arrays with ``n_actions`` (8 bytes per action per observation); the separation experiments use
#: horizons up to 40 and 4 actions, so the limits are far from any use and far below a MemoryError.
MAX_HORIZON = 100_000
MAX_ACTIONS = 10_000


class CombinationLockEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description
    A lock with one secret digit per depth. At depth ``h`` the agent must play ``code[h]``; any other
    action ends the episode with nothing. Only an agent that plays the whole code reaches depth
    ``horizon`` and gets the reward. A noisy expert that plays the code with probability ``p`` per
    step finishes only a fraction ``p ** horizon`` of its episodes, so offline data about deep states
    is exponentially rare, while a learner that already opens the first ``h`` digits reaches depth
    ``h`` every time and can ask the expert there.

    ## Action Space
    ``Discrete(n_actions)``: the digit to try at the current depth.

    ## Observation Space
    ``Box(0, 1, (horizon + 1,), float32)``: the one-hot encoding of the current depth
    ``0..horizon`` (depth ``horizon`` is the opened, terminal state).

    ## Rewards
    1 when the last digit is right (depth ``horizon`` reached), 0 otherwise.

    ## Starting State
    Depth 0, always. The code does not change between episodes; it is drawn from ``code_seed``.

    ## Episode End
    Terminates on a wrong digit (reward 0) or on reaching depth ``horizon`` (reward 1), so every
    episode lasts at most ``horizon`` steps. The last step's ``info["is_success"]`` (SB3's
    convention) says whether the lock opened.

    ## Arguments
    - ``horizon`` (int in [1, 100_000], default 20): number of digits.
    - ``n_actions`` (int in [2, 10_000], default 4): digits per position.
    - ``code_seed`` (int, default 0): seed of the secret code.
    - ``render_mode``: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, horizon: int = 20, n_actions: int = 4, code_seed: int = 0, render_mode: str | None = None) -> None:
        self.horizon = check_int("horizon", horizon, minimum=1, maximum=MAX_HORIZON)
        self.n_actions = check_int("n_actions", n_actions, minimum=2, maximum=MAX_ACTIONS)
        self.code_seed = check_int("code_seed", code_seed, minimum=0)
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.code = np.random.default_rng(self.code_seed).integers(self.n_actions, size=self.horizon)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.horizon + 1,), dtype=np.float32)
        self.action_space = spaces.Discrete(self.n_actions)
        self.depth = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.depth = 0
        return self._observation(), {"depth": 0}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.depth >= self.horizon:
            raise RuntimeError("step() called on a terminated episode; call reset()")
        if int(action) == int(self.code[self.depth]):
            self.depth += 1
            opened = self.depth == self.horizon
            info = {"depth": self.depth, "is_success": True} if opened else {"depth": self.depth}
            return self._observation(), float(opened), opened, False, info
        return self._observation(), 0.0, True, False, {"depth": self.depth, "is_success": False}

    def _observation(self) -> np.ndarray:
        """The one-hot encoding of the current depth (a row of the identity, without building it)."""
        obs = np.zeros(self.horizon + 1, dtype=np.float32)
        obs[self.depth] = 1.0
        return obs

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return f"depth {self.depth}/{self.horizon}: " + "#" * self.depth + "." * (self.horizon - self.depth)
        return None
