"""Synthetic tasks written for this project."""

from noisy_expert_envs.tasks.combination_lock import CombinationLockEnv, CombinationLockExpert
from noisy_expert_envs.tasks.token_chain import TokenChainEnv, TokenChainExpert

__all__ = ["CombinationLockEnv", "CombinationLockExpert", "TokenChainEnv", "TokenChainExpert"]
