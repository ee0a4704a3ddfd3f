"""Cost of one gradient step: imitation's stock BC set-up vs the one every learner here uses.

Both variants train the same learner (SB3 ``ActorCriticPolicy``, ``net_arch=[64, 64]``) with
imitation's ``bc.BC.train`` on the same labelled states, batch 32, one torch thread:

- *stock*: ``bc.BC`` with its defaults: ``BehaviorCloningLossCalculator`` (``evaluate_actions``:
  also the value head; the L2 sum over all parameters even at weight 0), Adam's default kernel, and
  a ``Transitions`` object that imitation wraps in a torch ``DataLoader`` with its collate function;
- *ours*: ``baselines.learners.trainer.make_bc_trainer`` (``DistillationLossCalculator``, fused Adam) fed
  ``baselines.learners.batches.ShuffledBatches``.

The two alternate in blocks, and the table reports medians over blocks of the time per step and of
the within-block ratio. A third row swaps only the loss calculator, to show what each part buys::

    python benchmarks/train_step.py --steps 500 --repeats 7
"""

from __future__ import annotations

import statistics
from typing import Callable

import numpy as np
from imitation.algorithms import bc
from imitation.data import types

from _blocks import median_ratio, quiet_one_thread, step_parser, time_blocks
from baselines.learners.trainer import make_bc_trainer, quiet_logger
from baselines.core.task import make_env
from baselines.learners.batches import ShuffledBatches
from baselines.learners.losses import DistillationLossCalculator
from baselines.core.policies import make_policy

BATCH = 32


def labelled_states(env_id: str, env_kwargs: dict, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` observations of the task's observation space with random action labels."""
    env = make_env(env_id, env_kwargs)
    env.observation_space.seed(seed)
    env.action_space.seed(seed)
    obs = np.stack([env.observation_space.sample() for _ in range(n)]).astype(np.float32)
    acts = np.stack([env.action_space.sample() for _ in range(n)])
    return obs, acts


def make_variants(env_id: str, env_kwargs: dict, obs: np.ndarray, acts: np.ndarray,
                  logger: object) -> dict[str, Callable[[int], None]]:
    """Each variant as ``train(n_steps)`` on its own freshly initialised learner."""
    env = make_env(env_id, env_kwargs)
    transitions = types.Transitions(obs=obs, acts=acts, infos=np.array([{}] * len(obs)), next_obs=obs,
                                    dones=np.zeros(len(obs), dtype=bool))

    def stock() -> bc.BC:
        trainer = bc.BC(observation_space=env.observation_space, action_space=env.action_space,
                        rng=np.random.default_rng(0), policy=make_policy(env), batch_size=BATCH,
                        optimizer_kwargs={"lr": 1e-3}, ent_weight=1e-3, custom_logger=logger)
        trainer.set_demonstrations(transitions)
        return trainer

    def stock_with_our_loss() -> bc.BC:
        trainer = stock()
        trainer.loss_calculator = DistillationLossCalculator("sampled", ent_weight=1e-3)
        return trainer

    def ours() -> bc.BC:
        rng = np.random.default_rng(0)
        trainer = make_bc_trainer(make_policy(env), rng, logger, batch_size=BATCH, lr=1e-3, ent_weight=1e-3)
        trainer.set_demonstrations(ShuffledBatches(obs, acts, BATCH, rng))
        return trainer

    variants = {"stock imitation BC": stock(), "stock + our loss calculator": stock_with_our_loss(),
                "ours (make_bc_trainer + ShuffledBatches)": ours()}
    return {name: (lambda n, t=t: t.train(n_batches=n, progress_bar=False, log_interval=n + 1))
            for name, t in variants.items()}


def main() -> None:
    parser = step_parser(__doc__, steps=500, repeats=7)
    parser.add_argument("--env", default="NoisyExpert/CombinationLock-v0")
    parser.add_argument("--horizon", type=int, default=20, help="CombinationLock horizon (other envs: ignored)")
    args = parser.parse_args()
    quiet_one_thread()
    env_kwargs = {"horizon": args.horizon} if "CombinationLock" in args.env else {}
    obs, acts = labelled_states(args.env, env_kwargs, args.states, seed=0)
    with quiet_logger() as logger:
        per_step = time_blocks(make_variants(args.env, env_kwargs, obs, acts, logger), args.steps, args.repeats, 50)
    names = list(per_step)
    base = per_step[names[0]]
    print(f"{args.env} ({env_kwargs or 'defaults'}), {args.states} states, batch {BATCH}, net [64, 64], "
          f"1 torch thread; {args.repeats} blocks of {args.steps} steps\n")
    print("| variant | median ms per step | time ratio to stock (median of blocks) |")
    print("| --- | ---: | ---: |")
    for name in names:
        print(f"| {name} | {1e3 * statistics.median(per_step[name]):.3f} | {median_ratio(per_step[name], base):.2f} |")


if __name__ == "__main__":
    main()
