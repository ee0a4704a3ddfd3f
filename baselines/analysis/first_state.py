"""``p`` and the mode margin at a task's first state, for records written before they were recorded.

Records carry ``first_state_agreement`` and ``first_state_margin`` (measured by the run, on the
task it trained on), and a report reads them there. Older records do not: for a noise model whose
action probabilities do not depend on the state (``none``, ``uniform``, ``fixed_wrong``) with the
number of actions in the env kwargs (``n_actions``), both follow from the model alone, computed by
the model's own ``agreement``/``mode_margin`` on a placeholder state (no env is built). Otherwise
(e.g. ``teacher``, whose probabilities come from the expert's logits, or CartPole, whose action
count is not in its kwargs) they are unknown for such old records, and a report says so (the
committed stores under ``docs/results`` were back-filled with what the runs now record).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

#: Noise models whose agreement and mode margin are the same at every state.
STATE_FREE_NOISE = ("none", "uniform", "fixed_wrong")


def analytic_first_state(env_kwargs: dict[str, Any]) -> tuple[float, float] | None:
    """(agreement, mode margin) from the noise model alone, or ``None`` when it needs the task."""
    from noisy_expert_envs.noise.factory import make_noise, noise_class, noise_parameters

    noise, n_actions = env_kwargs.get("noise"), env_kwargs.get("n_actions")
    if noise not in STATE_FREE_NOISE or not isinstance(n_actions, int):
        return None
    params = {k: env_kwargs[k] for k in noise_parameters(noise_class(noise)) if k in env_kwargs}
    model = make_noise(noise, **params).bind(spaces.Discrete(n_actions))
    obs, clean = np.zeros((1, 1)), np.zeros(1, dtype=np.int64)  # the probabilities ignore the state
    return float(model.agreement(obs, clean)[0]), float(model.mode_margin(obs, clean)[0])


def first_state_stats(env_kwargs: dict[str, Any],
                      recorded: tuple[float, float] | None = None) -> tuple[float, float] | None:
    """(agreement, mode margin) at the first state: as ``recorded`` by the runs, else from the noise
    model alone (:func:`analytic_first_state`); ``None`` when neither knows (no env is built: a
    report is a function of its records)."""
    return recorded if recorded is not None else analytic_first_state(env_kwargs)


__all__ = ["STATE_FREE_NOISE", "analytic_first_state", "first_state_stats"]
