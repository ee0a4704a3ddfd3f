"""Offline imitation vs on-policy distillation against noisy oracles, built on imitation and SB3.

``baselines.run(algo, env_id, budget=..., seed=..., env_kwargs=..., **settings)`` is the entry
point; it returns a :class:`RunResult`. Learners live in :mod:`baselines.learners`.
"""

import noisy_expert_envs  # noqa: F401  (registers the NoisyExpert/* ids)
from baselines.experiment import run
from baselines.learners import LEARNERS, Accounting, register_learner
from baselines.losses import DISTRIBUTION_LOSSES, LOSSES
from baselines.result import RunResult
from baselines.task import Task

__all__ = ["Accounting", "DISTRIBUTION_LOSSES", "LEARNERS", "LOSSES", "RunResult", "Task", "register_learner", "run"]
