"""``teacher``: an LM-like teacher, a tempered softmax over the expert's logits plus a uniform floor."""

from __future__ import annotations

from typing import Any

import numpy as np

from noisy_expert_envs.validation import check_probability
from noisy_expert_envs.noise.discrete import BoltzmannNoise


class TeacherNoise(BoltzmannNoise):
    """A teacher that samples like a language model: ``(1 - epsilon) * softmax(logits / temperature)
    + epsilon / n``.

    ``logits`` are the clean expert's ``preferences(obs)``. The noise model itself knows nothing of
    the task: the *structure* of the teacher's mistakes comes from the expert's logits (for
    ``TokenChain``: off-by-one and repeat-the-previous-token mistakes), ``temperature`` scales how
    often they happen, and ``epsilon`` adds task-independent uniform slips (a floor of
    ``epsilon / n`` on every token). It equals ``BoltzmannNoise(temperature) >>
    UniformNoise(epsilon)``, as one model with one name. Experts without preferences count as
    one-hot logits (1 on the clean action, 0 elsewhere), as for ``boltzmann``.

    Whenever the clean action has the strictly highest logit, it is the strict mode for every
    ``temperature > 0`` and ``epsilon < 1`` (the mode condition); the margin shrinks as either grows.
    """

    name = "teacher"

    def __init__(self, temperature: float = 1.0, epsilon: float = 0.1) -> None:
        super().__init__(temperature)
        self.epsilon = check_probability("epsilon", epsilon)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "noise": self.name, "epsilon": self.epsilon}

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None) -> np.ndarray:
        """Boltzmann's tempered softmax, mixed with a uniform floor of ``epsilon / n``."""
        return (1.0 - self.epsilon) * super().probs(obs, clean, preferences) + self.epsilon / self.n_actions
