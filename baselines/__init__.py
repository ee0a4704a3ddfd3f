"""Offline imitation vs on-policy distillation against noisy oracles, built on imitation and SB3.

``baselines.run(algo, env_id, budget=..., seed=..., env_kwargs=..., **settings)`` is the entry
point; it returns a :class:`RunResult`. Learners live in :mod:`baselines.learners`.
"""

from noisy_expert_envs.compat import baselines_stack_problem, installed_version

# Say which stack is untested before anything below fails with an error about some API that moved.
_PROBLEM = baselines_stack_problem(installed_version("gymnasium"), installed_version("imitation"),
                                   installed_version("stable-baselines3"))
if _PROBLEM is not None:
    raise ImportError(
        "baselines needs imitation 1.0.1 on a tested stack: gymnasium 0.29.1 with stable-baselines3 2.2.1 "
        f"(pinned), or gymnasium 1.x with stable-baselines3 >= 2.4; found {_PROBLEM}. Set it up from the "
        "repository root with: make install   (.venv, the pinned stack of constraints.txt) or "
        "make install-modern   (.venv-modern, requirements-modern.txt)"
    )

import noisy_expert_envs  # noqa: E402, F401  (registers the NoisyExpert/* ids)
from baselines.core.result import RunResult  # noqa: E402
from baselines.core.run import run  # noqa: E402
from baselines.core.task import Task  # noqa: E402
from baselines.learners import LEARNERS, Accounting, OraclePolicy, register_learner  # noqa: E402
from baselines.learners.losses import DISTRIBUTION_LOSSES, LOSSES  # noqa: E402
from baselines.sweep.threshold import Threshold, labels_to_target  # noqa: E402

__all__ = [
    "Accounting", "DISTRIBUTION_LOSSES", "LEARNERS", "LOSSES", "OraclePolicy", "RunResult", "Task", "Threshold",
    "labels_to_target", "register_learner", "run",
]
