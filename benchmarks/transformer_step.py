"""Cost of one gradient step of the transformer student vs the MLP, on TokenChain.

Every variant trains with the set-up every learner here uses (``make_bc_trainer`` +
``ShuffledBatches``, batch 32, one torch thread) on the same labelled TokenChain states (random
observations of the observation space, random token labels), for each chain length given. The MLP
is SB3's ``ActorCriticPolicy`` with ``net_arch=[64, 64]`` over the one-hot observation; the
transformers are ``policy="transformer"`` with ``pad_id=vocab_size`` and the given depths. The
variants alternate in blocks and the table reports medians over blocks of the time per step and of
the within-block ratio to the MLP, and the time of one ``policy.predict`` on a single observation
(what an OPD rollout pays per step)::

    python benchmarks/transformer_step.py --chain-lengths 8 64 --steps 200 --repeats 5
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

import numpy as np
import torch as th

from _blocks import median_ratio, quiet_one_thread, step_parser, time_blocks
from baselines.learners.batches import ShuffledBatches
from baselines.learners.trainer import make_bc_trainer, quiet_logger
from baselines.core.policies import make_policy
from baselines.core.task import Task

BATCH = 32
VOCAB = 10
PROMPT = 4


def variants(chain_length: int, layers: list[int], d_model: int, states: int,
             logger: Any) -> tuple[dict[str, Callable[[int], None]], dict[str, Callable[[], None]]]:
    """Per variant: ``train(n_steps)`` on its own fresh learner, and one single-observation predict."""
    task = Task("NoisyExpert/TokenChain-v0", {"chain_length": chain_length, "vocab_size": VOCAB,
                                              "prompt_length": PROMPT})
    space = task.observation_space
    space.seed(0)
    obs = np.stack([space.sample() for _ in range(states)])
    acts = np.random.default_rng(0).integers(VOCAB, size=states)
    specs = {"MLP [64, 64]": ("mlp", None)}
    for n in layers:
        specs[f"transformer d={d_model}, {n} layer(s)"] = ("transformer", {"d_model": d_model, "n_layers": n,
                                                                          "pad_id": VOCAB})
    train, predict = {}, {}
    for name, (policy_name, kwargs) in specs.items():
        th.manual_seed(0)
        policy = make_policy(task, policy_name, kwargs)
        rng = np.random.default_rng(0)
        trainer = make_bc_trainer(policy, rng, logger, batch_size=BATCH, lr=3e-3, ent_weight=1e-3)
        trainer.set_demonstrations(ShuffledBatches(obs, acts, BATCH, rng))
        train[name] = lambda n, t=trainer: t.train(n_batches=n, progress_bar=False, log_interval=n + 1)
        predict[name] = lambda p=policy, o=obs[0]: p.predict(o, deterministic=True)
    return train, predict


def main() -> None:
    parser = step_parser(__doc__, steps=200, repeats=5)
    parser.add_argument("--chain-lengths", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2], help="transformer depths to time")
    parser.add_argument("--d-model", type=int, default=32)
    args = parser.parse_args()
    quiet_one_thread()
    print(f"TokenChain vocab {VOCAB}, prompt {PROMPT}, {args.states} states, batch {BATCH}, 1 torch thread; "
          f"{args.repeats} blocks of {args.steps} steps\n")
    print("| chain length | student | median ms per step | ratio to MLP (median of blocks) | ms per predict |")
    print("| ---: | --- | ---: | ---: | ---: |")
    with quiet_logger() as logger:
        for chain_length in args.chain_lengths:
            train, predict = variants(chain_length, args.layers, args.d_model, args.states, logger)
            per_step = time_blocks(train, args.steps, args.repeats, warmup=20)
            predicts = {name: (lambda n, f=f: [f() for _ in range(n)]) for name, f in predict.items()}
            per_predict = time_blocks(predicts, 50, args.repeats, warmup=1)
            base = per_step[next(iter(train))]
            for name in train:
                print(f"| {chain_length} | {name} | {1e3 * statistics.median(per_step[name]):.2f} | "
                      f"{median_ratio(per_step[name], base):.2f} | {1e3 * statistics.median(per_predict[name]):.2f} |")


if __name__ == "__main__":
    main()
