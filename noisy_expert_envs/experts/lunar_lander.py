"""The clean expert of ``NoisyExpert/LunarLander-v3``: Gymnasium's own ``heuristic`` controller.

The action is exactly what ``gymnasium.envs.box2d.lunar_lander.heuristic`` returns for the
discrete task (we call it; nothing of its rule is ours). For ``boltzmann``/``teacher`` noise the
expert also gives ``preferences`` built from the heuristic's two control signals, ``hover_todo``
(``h``, > 0: climb) and ``angle_todo`` (``a``, > 0: turn left), on the scale of its continuous
version (which outputs ``20 h - 1`` and ``-20 a``)::

    noop 1.0 (= 20 * 0.05, the heuristic's dead band), left engine 20 a, main engine 20 h, right engine -20 a

Its discrete rule (main engine if ``h > |a|`` and ``h > 0.05``, else right if ``a < -0.05``, else
left if ``a > 0.05``, else noop) is the argmax of these scores; where float rounding or an exact
tie (``h == -a``) would let the argmax differ from the heuristic's action, the heuristic's action
is raised one ulp above the others, so ``argmax(preferences) == expert(obs)`` on every observation.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from noisy_expert_envs.compat import lunar_lander_module

OBS_DIM = 8
#: The heuristic's continuous-control gain (its continuous actions are ``20 h - 1`` and ``-20 a``).
SIGNAL_SCALE = 20.0
#: The heuristic's dead band: no orientation engine for ``|a| <= 0.05``, no main engine for ``h <= 0.05``.
DEAD_BAND = 0.05


class LunarLanderExpert:
    """Gymnasium's discrete LunarLander heuristic as a batched, picklable expert."""

    def __init__(self) -> None:
        self._heuristic = lunar_lander_module().heuristic
        # The heuristic reads ``env.continuous`` (0.29) or ``env.unwrapped.continuous`` (1.x) only.
        self._env_view = SimpleNamespace(continuous=False)
        self._env_view.unwrapped = self._env_view

    def act_one(self, obs: np.ndarray) -> int:
        """The heuristic's action for one observation of shape (8,), as a Python int."""
        row = np.asarray(obs, dtype=np.float32)
        if row.shape != (OBS_DIM,):
            raise ValueError(f"LunarLanderExpert.act_one expects one observation of shape ({OBS_DIM},), got {row.shape}")
        return int(self._heuristic(self._env_view, row))

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions of shape (B,) int64, the heuristic's for each row (as float32, the task's dtype)."""
        rows = _batch(obs)
        return np.array([int(self._heuristic(self._env_view, row)) for row in rows], dtype=np.int64)

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        """Scores of shape (B, 4) for noop, left, main, right (module docstring); argmax = action."""
        rows = _batch(obs)
        s = rows.astype(np.float64)
        angle_targ = np.clip(s[:, 0] * 0.5 + s[:, 2] * 1.0, -0.4, 0.4)
        hover_targ = 0.55 * np.abs(s[:, 0])
        contact = (s[:, 6] != 0) | (s[:, 7] != 0)  # after touch-down it only brakes the fall
        angle = np.where(contact, 0.0, (angle_targ - s[:, 4]) * 0.5 - s[:, 5] * 1.0)
        hover = np.where(contact, -s[:, 3] * 0.5, (hover_targ - s[:, 1]) * 0.5 - s[:, 3] * 0.5)
        prefs = SIGNAL_SCALE * np.stack([np.full_like(angle, DEAD_BAND), angle, hover, -angle], axis=1)
        actions = self(rows)
        index = np.arange(len(rows))
        wrong = np.argmax(prefs, axis=1) != actions
        if np.any(wrong):
            top = prefs[wrong].max(axis=1)
            prefs[index[wrong], actions[wrong]] = np.nextafter(top, np.inf)
        return prefs

    def __repr__(self) -> str:
        return "LunarLanderExpert(gymnasium heuristic)"


def _batch(obs: np.ndarray) -> np.ndarray:
    rows = np.asarray(obs, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != OBS_DIM:
        raise ValueError(f"LunarLanderExpert expects a batch of shape (B, {OBS_DIM}), got {rows.shape}")
    return rows
