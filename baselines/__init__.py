"""Offline imitation vs on-policy distillation against noisy oracles, built on imitation and SB3.

``baselines.run(algo, env_id, budget=..., seed=..., env_kwargs=..., **algo_kwargs)`` is the entry
point; it returns a :class:`RunResult`.
"""

import noisy_expert_envs  # noqa: F401  (registers the NoisyExpert/* ids)
from baselines.experiment import ALGORITHMS, algorithm_settings, run
from baselines.losses import DISTRIBUTION_LOSSES, LOSSES
from baselines.result import RunResult

__all__ = ["ALGORITHMS", "DISTRIBUTION_LOSSES", "LOSSES", "RunResult", "algorithm_settings", "run"]
