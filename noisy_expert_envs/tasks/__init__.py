"""Synthetic tasks written for this project (their clean experts are in ``noisy_expert_envs.experts``)."""

from noisy_expert_envs.tasks.combination_lock import CombinationLockEnv
from noisy_expert_envs.tasks.token_chain import TokenChainEnv

__all__ = ["CombinationLockEnv", "TokenChainEnv"]
