"""``RunResult``: what one run of one algorithm on one task reports."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class RunResult:
    """The outcome of ``baselines.run``: evaluation of the learned policy and the cost of learning it.

    ``success_rate`` is ``None`` for tasks without a success notion; ``normalized_return`` is
    ``(J(policy) - J(random)) / (J(clean expert) - J(random))`` on the same evaluation seeds.
    ``labels_used``, ``env_steps``, ``updates`` (gradient steps), ``episodes`` and ``rounds`` are
    the learner's :class:`~baselines.learners.Accounting` (``labels_used``: checked to be what its
    oracles counted); ``clean_labels_used`` how many of those labels were the clean expert's
    (``bc_clean``, ``oracle.clean``; 0 for the noisy expert's); ``extra`` the learner's own figures.
    ``policy`` is the trained SB3 policy (left out of :meth:`to_record`).
    """

    algo: str
    env_id: str
    seed: int
    budget: int
    env_kwargs: dict[str, Any]
    settings: dict[str, Any]
    success_rate: float | None
    normalized_return: float
    mean_return: float
    expert_return: float
    random_return: float
    labels_used: int
    env_steps: int
    updates: int
    episodes: int
    rounds: int
    wall_time_s: float
    eval_episodes: int
    clean_labels_used: int = 0  # a default: results and records from before it was counted have none
    extra: dict[str, Any] = field(default_factory=dict)
    policy: Any = field(default=None, repr=False, compare=False)

    def metric(self) -> float:
        """What targets are measured on: the success rate where the task has one, else the
        normalized return."""
        return self.success_rate if self.success_rate is not None else self.normalized_return

    def to_record(self) -> dict[str, Any]:
        """A JSON-friendly dict of everything but the policy."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "policy"}
