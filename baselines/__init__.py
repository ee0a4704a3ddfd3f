"""Offline imitation vs on-policy distillation against noisy oracles, built on imitation and SB3.

``baselines.run(algo, env_id, budget=..., seed=..., env_kwargs=..., **settings)`` is the entry
point; it returns a :class:`RunResult`. Learners live in :mod:`baselines.learners`.
"""

from importlib.util import find_spec

from noisy_expert_envs.compat import GYMNASIUM_1

# imitation 1.0.1 (the newest) supports gymnasium 0.29 and SB3 2.2 only: say so before anything
# below fails on a newer stack with an error about some API that moved.
if GYMNASIUM_1 or find_spec("imitation") is None:
    from importlib.metadata import version as _version

    raise ImportError(
        "baselines needs the imitation 1.0.1 stack (gymnasium 0.29.1, stable-baselines3 2.2.1, torch; "
        f"found gymnasium {_version('gymnasium')}"
        + ("" if find_spec("imitation") else ", no imitation")
        + "). Set it up from the repository root with: make install   "
        "(creates .venv with the pinned stack of constraints.txt)"
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
