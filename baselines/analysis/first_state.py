"""``p`` and the mode margin at a task's first state, for records written before they were recorded.

Records carry ``first_state_agreement`` and ``first_state_margin`` (measured by the run, on the
task it trained on), and a report reads them there. Older records do not: for a noise model whose
action probabilities do not depend on the state (``none``, ``uniform``, ``fixed_wrong``) with the
number of actions in the env kwargs (``n_actions``), both follow from the model alone, computed by
the model's own ``agreement``/``mode_margin`` on a placeholder state (no env is built). Otherwise
(e.g. ``teacher``, whose probabilities come from the expert's logits, or CartPole, whose action
count is not in its kwargs) they are measured on a built env with
:func:`baselines.diagnose.depth0_stats`, as reports did before: only for such old records.
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


def first_state_stats(env_id: str, env_kwargs: dict[str, Any]) -> tuple[float, float] | None:
    """(agreement, mode margin) at the first state of ``env_id`` with ``env_kwargs``; ``None`` for Box actions.

    Analytic where :func:`analytic_first_state` can; else measured on a built env (old records only).
    """
    stats = analytic_first_state(env_kwargs)
    if stats is not None:
        return stats
    from baselines.diagnose import depth0_stats

    return depth0_stats(env_id, env_kwargs)


__all__ = ["STATE_FREE_NOISE", "analytic_first_state", "first_state_stats"]
