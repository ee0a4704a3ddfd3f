"""The clean expert of ``CombinationLockEnv``: it knows the secret code."""

from __future__ import annotations

from typing import Any

import numpy as np


class CombinationLockExpert:
    """The clean expert: reads the depth from the one-hot observation and plays its digit.

    At the terminal depth any action is moot; it plays 0.
    """

    def __init__(self, code: np.ndarray, n_actions: int) -> None:
        self.code = np.append(np.asarray(code, dtype=np.int64), 0)
        self.n_actions = int(n_actions)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.code[np.argmax(obs, axis=1)]

    def act_one(self, obs: np.ndarray) -> int:
        """The digit for one unbatched observation, as a Python int (``__call__(obs[None])[0]``):
        the oracle's fast path for the label of every wrapper step skips the batch arrays."""
        return int(self.code[int(np.argmax(obs))])

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        """One-hot scores: the lock has no near-misses, every wrong digit is equally wrong."""
        prefs = np.zeros((len(obs), self.n_actions))
        prefs[np.arange(len(obs)), self(obs)] = 1.0
        return prefs


def combination_lock_expert(env: Any) -> CombinationLockExpert:
    """The clean expert of a constructed ``CombinationLockEnv``: its secret code."""
    return CombinationLockExpert(env.code, env.n_actions)
