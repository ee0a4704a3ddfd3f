"""Synthetic tasks written for this project."""

from noisy_expert_envs.tasks.combination_lock import CombinationLockEnv, CombinationLockExpert

__all__ = ["CombinationLockEnv", "CombinationLockExpert"]
