"""Shuffled minibatches of labelled states, in the batch form imitation's BC trainer reads.

imitation wraps a ``Transitions`` object in a torch ``DataLoader`` whose collate function builds
every batch from per-sample dicts: ~0.4 ms per batch, a third of a gradient step on the small
networks used here. ``BC.set_demonstrations`` also accepts any re-iterable of batch mappings, so
we hand it tensors indexed by a seeded permutation instead (same epochs, drop-last semantics).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch as th


class ShuffledBatches:
    """Epochs of ``{"obs", "acts"}`` minibatches, reshuffled by ``rng`` at every pass.

    Like imitation's data loader (``shuffle=True, drop_last=True``): each pass visits
    ``len(obs) // batch_size`` full batches of a fresh permutation.
    """

    def __init__(self, obs: np.ndarray, acts: np.ndarray, batch_size: int, rng: np.random.Generator) -> None:
        if len(obs) != len(acts):
            raise ValueError(f"obs and acts must have the same length, got {len(obs)} and {len(acts)}")
        if not 1 <= batch_size <= len(obs):
            raise ValueError(f"batch_size must be in 1..{len(obs)} (the number of states), got {batch_size}")
        self.obs = th.tensor(np.asarray(obs))  # a copy: the caller's arrays may be read-only or change
        self.acts = th.tensor(np.asarray(acts))
        self.batch_size = batch_size
        self.rng = rng

    def __len__(self) -> int:
        return len(self.obs) // self.batch_size

    def __iter__(self) -> Iterator[dict[str, th.Tensor]]:
        order = th.as_tensor(self.rng.permutation(len(self.obs)))
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            yield {"obs": self.obs[index], "acts": self.acts[index]}
