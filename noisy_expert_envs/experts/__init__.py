"""Clean experts: analytic ones for each task, and adapters for user-supplied ones."""

from noisy_expert_envs.experts.base import Expert, PredictorExpert, as_expert

__all__ = ["Expert", "PredictorExpert", "as_expert"]
