"""Offline imitation vs on-policy distillation against noisy oracles, built on imitation and SB3.

``baselines.run(algo, env_id, budget=..., seed=..., env_kwargs=..., **settings)`` is the entry
point; it returns a :class:`RunResult`. Learners live in :mod:`baselines.learners`.

The names below are imported on first use (PEP 562), so ``noisy-expert-bench --help`` does not
pay for torch, SB3 and imitation (~9 s on a cold cache).
"""

from importlib import import_module
from importlib.metadata import version as _version
from importlib.util import find_spec
from typing import Any

# imitation 1.0.1 (the newest) supports gymnasium 0.29 and SB3 2.2 only: say so before anything
# below fails on a newer stack with an error about some API that moved. The version is read from
# the metadata, as noisy_expert_envs.compat.GYMNASIUM_1 does, without importing gymnasium (slow).
if int(_version("gymnasium").split(".")[0]) >= 1 or find_spec("imitation") is None:
    raise ImportError(
        "baselines needs the imitation 1.0.1 stack (gymnasium 0.29.1, stable-baselines3 2.2.1, torch; "
        f"found gymnasium {_version('gymnasium')}"
        + ("" if find_spec("imitation") else ", no imitation")
        + "). Set it up from the repository root with: make install   "
        "(creates .venv with the pinned stack of constraints.txt)"
    )

#: Exported name -> the module that defines it.
_EXPORTS = {
    "RunResult": "baselines.core.result", "run": "baselines.core.run", "Task": "baselines.core.task",
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
