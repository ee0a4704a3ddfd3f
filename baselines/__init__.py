"""Offline imitation vs on-policy distillation against noisy oracles, built on imitation and SB3.

``baselines.run(algo, env_id, budget=..., seed=..., env_kwargs=..., **settings)`` is the entry
point; it returns a :class:`RunResult`. Learners live in :mod:`baselines.learners`.

The names below are imported on first use (PEP 562), so ``noisy-expert-bench --help`` does not
pay for torch, SB3 and imitation (~9 s on a cold cache).
"""

from importlib import import_module
from typing import Any

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

#: Exported name -> the module that defines it.
_EXPORTS = {
    "BudgetExceeded": "noisy_expert_envs.oracle", "RunResult": "baselines.core.result", "run": "baselines.core.run",
    "Task": "baselines.core.task",
    "LEARNERS": "baselines.learners", "Accounting": "baselines.learners", "OraclePolicy": "baselines.learners",
    "register_learner": "baselines.learners", "DISTRIBUTION_LOSSES": "baselines.learners.losses",
    "LOSSES": "baselines.learners.losses", "Threshold": "baselines.sweep.threshold",
    "labels_to_target": "baselines.sweep.threshold",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'baselines' has no attribute {name!r}")
    import noisy_expert_envs  # noqa: F401  (registers the NoisyExpert/* ids)

    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
