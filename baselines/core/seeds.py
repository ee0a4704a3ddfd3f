"""Every seed of a run, derived from the run seed in named streams.

One place decides which random numbers a run uses, so that no two uses can meet by accident: the
learner's network initialisation (``torch``), the labelling oracle, the learner's own generator
(minibatch order, tie-breaks, who acts), the training episodes, and the evaluation episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from stable_baselines3.common.utils import set_random_seed

from noisy_expert_envs.oracle import oracle_seed

# Episode seeds are Python ints passed to ``env.reset(seed=...)``. Training and evaluation episodes
# draw theirs from different streams *and* carry a different tag in the top bits, so the two sets are
# disjoint for every pair of run seeds by construction, not just with high probability.
_TAG_BITS = 60
_TRAIN_TAG = 1
_EVAL_TAG = 2
#: Every stream name in use; their first four bytes (the spawn key) must be distinct.
_STREAMS = ("torch", "oracle", "learner", "train-episode", "eval-episode")
assert len({name.encode()[:4] for name in _STREAMS}) == len(_STREAMS), "seed stream names collide"


@dataclass(frozen=True)
class RunSeeds:
    """The named seed streams of one run (``RunSeeds(seed).train_episode(3)``, ...)."""

    seed: int

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"a run seed must be an integer >= 0, got {self.seed!r}")

    def _stream(self, name: str, *index: int) -> np.random.SeedSequence:
        # A stream's spawn key comes from its name (not from a position), so adding a stream never
        # shifts another one. Only the name's first four bytes count: _STREAMS must differ there.
        key = int.from_bytes(name.encode()[:4], "little")
        return np.random.SeedSequence(int(self.seed), spawn_key=(key, *index))

    def _episode(self, name: str, tag: int, index: int) -> int:
        value = int(self._stream(name, index).generate_state(2, np.uint64)[0])
        return (tag << _TAG_BITS) | (value % (1 << _TAG_BITS))

    @property
    def torch(self) -> int:
        """Seed of torch, Python's ``random`` and NumPy's global state (network initialisation)."""
        return int(self._stream("torch").generate_state(1)[0])

    @property
    def oracle(self) -> np.random.SeedSequence:
        """Seed of the labelling oracle's noise."""
        return oracle_seed(int(self._stream("oracle").generate_state(1)[0]))

    def learner_rng(self) -> np.random.Generator:
        """A fresh generator for the learner's own choices (minibatches, tie-breaks, who acts)."""
        return np.random.default_rng(self._stream("learner"))

    def train_episode(self, index: int) -> int:
        """Reset seed of the ``index``-th training episode (or vector env) of the run."""
        return self._episode("train-episode", _TRAIN_TAG, index)

    def eval_episodes(self, count: int) -> list[int]:
        """Reset seeds of the evaluation episodes: the same for every learner with this run seed."""
        return [self._episode("eval-episode", _EVAL_TAG, i) for i in range(count)]

    def seed_global(self) -> None:
        """Seed torch, ``random`` and NumPy's global state with SB3's ``set_random_seed``."""
        set_random_seed(self.torch)


def is_training_seed(value: int) -> bool:
    """Whether an episode seed belongs to a training stream (used by tests and checks)."""
    return value >> _TAG_BITS == _TRAIN_TAG


def is_evaluation_seed(value: int) -> bool:
    """Whether an episode seed belongs to the evaluation stream."""
    return value >> _TAG_BITS == _EVAL_TAG
