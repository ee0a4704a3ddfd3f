"""Clean experts: any batched callable, or an SB3-style model adapted to one."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Expert(Protocol):
    """A clean expert: a batch of observations ``(B, *obs_shape)`` -> a batch of actions.

    Discrete experts may also define ``preferences(obs) -> (B, n_actions)`` scores whose argmax is the
    clean action; ``boltzmann`` noise softmaxes them (without them it uses one-hot preferences).

    They may also define ``act_one(obs) -> int``: the action for one *unbatched* observation as a
    Python int, equal to ``expert(obs[None])[0]``. The oracle uses it for single observations (the
    wrapper's label at every step, see ``noisy_expert_envs._single_label``), where numpy calls on a
    one-row batch cost more than the task's own step; its result is checked like ``__call__``'s.
    Experts without it run on a one-row batch.
    """

    def __call__(self, obs: np.ndarray) -> np.ndarray: ...


class PredictorExpert:
    """Adapts anything with SB3's ``predict(obs, deterministic=True) -> (actions, state)``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(actions)

    def __repr__(self) -> str:
        return f"PredictorExpert({type(self.model).__name__})"


def as_expert(expert: Any) -> Expert:
    """Return ``expert`` as a batched callable: objects with ``predict`` (SB3 models and policies)
    are adapted, other callables are used as they are."""
    if expert is not None and callable(getattr(expert, "predict", None)):
        return PredictorExpert(expert)
    if callable(expert):
        return expert
    raise TypeError(
        "expert must be a callable obs_batch -> actions or have predict(obs, deterministic=True), "
        f"got {expert!r} of type {type(expert).__name__}"
    )
