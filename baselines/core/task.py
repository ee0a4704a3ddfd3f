"""``Task``: one environment id with its keyword arguments, and what learners build from it."""

from __future__ import annotations

import contextlib
import copy
import functools
from dataclasses import dataclass, field
from typing import Any, Iterator

import gymnasium as gym
import numpy as np

from noisy_expert_envs.oracle import LabelMeter, NoisyOracle


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, **overrides: Any) -> gym.Env:
    """``gym.make`` a task with labels in ``info`` switched off (learners query the oracle directly)."""
    kwargs = {**(env_kwargs or {}), "labels": False, **overrides}
    return gym.make(env_id, **kwargs)


@dataclass(frozen=True)
class Task:
    """An env id and its keyword arguments: makes envs and labelling oracles for a learner.

    ``observation_space``, ``action_space`` and the oracle template come from one probe env,
    built on first use. Learners train on this task; evaluations run on :meth:`evaluation_task`.
    Inside :meth:`metered` every oracle the task hands out counts into one :class:`LabelMeter`.
    """

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    # The meter of the training in progress (set by ``metered`` only: the task is otherwise frozen).
    _meter: LabelMeter | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.env_id, str):
            raise TypeError(f"env_id must be a registered Gymnasium id string, got {self.env_id!r}")
        if not isinstance(self.env_kwargs, dict):
            raise TypeError(f"env_kwargs must be a dict, got {self.env_kwargs!r}")

    def make_env(self, **overrides: Any) -> gym.Env:
        """A fresh env of this task (labels in ``info`` off); inside :meth:`metered` its oracle counts."""
        env = make_env(self.env_id, self.env_kwargs, **overrides)
        if self._meter is not None:
            with contextlib.suppress(AttributeError):  # an env without an oracle has nothing to count
                env.get_wrapper_attr("oracle").attach(self._meter)
        return env

    @contextlib.contextmanager
    def metered(self, budget: int | None) -> Iterator[LabelMeter]:
        """While open, every oracle from :meth:`oracle` and :meth:`make_env` counts its answers into
        the yielded meter, which refuses a query past ``budget`` (``BudgetExceeded``); on exit the
        meter is closed (it counts nothing more) and the task hands out uncounted oracles again."""
        if self._meter is not None:
            raise RuntimeError(f"task {self.env_id!r} is already metered (one training at a time)")
        meter = LabelMeter(budget)
        object.__setattr__(self, "_meter", meter)
        try:
            yield meter
        finally:
            meter.close()
            object.__setattr__(self, "_meter", None)

    @functools.cached_property
    def _probe(self) -> gym.Env:
        return make_env(self.env_id, self.env_kwargs)  # never metered: its oracle is the template

    @property
    def observation_space(self) -> gym.Space:
        return self._probe.observation_space

    @property
    def action_space(self) -> gym.Space:
        return self._probe.action_space

    def evaluation_task(self) -> Task:
        """The task evaluations run on: with ``split="train"`` in the env kwargs (a task that holds
        out starts, e.g. TokenChain's prompts), the same task on ``split="eval"``; else this task."""
        if self.env_kwargs.get("split") == "train":
            return Task(self.env_id, {**self.env_kwargs, "split": "eval"})
        return self

    def oracle(self, seed: int | np.random.SeedSequence, *, clean: bool = False) -> NoisyOracle:
        """A private copy of the task's oracle, seeded with ``seed``, with fresh counters.

        A copy, because an env's own oracle is re-seeded at every ``reset(seed=...)``. With ``clean``
        its noise is replaced by ``none`` (the ``bc_clean`` reference) and, inside :meth:`metered`,
        its answers count as clean-expert labels.
        """
        oracle: NoisyOracle = copy.deepcopy(self._probe.get_wrapper_attr("oracle"))
        if clean:
            from noisy_expert_envs.noise import NoNoise

            oracle.noise = NoNoise().bind(oracle.action_space)
        oracle.reset_rng(seed)
        oracle.queries = 0
        oracle.clean_queries = 0
        oracle.attach(self._meter, clean=clean)
        return oracle
