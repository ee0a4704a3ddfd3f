"""imitation's BC trainer, set up the way every learner here takes its gradient steps."""

from __future__ import annotations

import contextlib
import tempfile
from typing import Iterator

import numpy as np
from imitation.algorithms import bc
from imitation.util import logger as imit_logger
from stable_baselines3.common.policies import BasePolicy

from baselines.learners.losses import DistillationLossCalculator


def make_bc_trainer(
    policy: BasePolicy,
    rng: np.random.Generator,
    logger: imit_logger.HierarchicalLogger,
    *,
    batch_size: int,
    lr: float,
    ent_weight: float,
    loss: str = "sampled",
    beta: float = 0.5,
) -> bc.BC:
    """imitation's BC trainer for ``policy`` (the gradient steps every algorithm here uses).

    Its loss is our :class:`DistillationLossCalculator` (imitation's BC loss for one-action labels,
    at less cost) and its optimizer Adam with the fused kernel, which on these small networks takes
    a fraction of the time of the default per-parameter loop.
    """
    trainer = bc.BC(
        observation_space=policy.observation_space,
        action_space=policy.action_space,
        rng=rng,
        policy=policy,  # type: ignore[arg-type]
        batch_size=batch_size,
        optimizer_kwargs={"lr": lr, "fused": True},
        ent_weight=ent_weight,
        custom_logger=logger,
    )
    trainer.loss_calculator = DistillationLossCalculator(loss, beta, ent_weight)
    return trainer


@contextlib.contextmanager
def quiet_logger() -> Iterator[imit_logger.HierarchicalLogger]:
    """An imitation logger that prints nothing and leaves no folder behind."""
    with tempfile.TemporaryDirectory(prefix="noisy-expert-log-") as folder:
        yield imit_logger.configure(folder=folder, format_strs=[])
