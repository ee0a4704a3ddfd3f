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

import argparse
import statistics
import time
import warnings
from typing import Any, Callable

import numpy as np
import torch as th

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain-lengths", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2], help="transformer depths to time")
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--states", type=int, default=1000, help="labelled states in the training set")
    parser.add_argument("--steps", type=int, default=200, help="gradient steps per variant per block")
    parser.add_argument("--repeats", type=int, default=5, help="blocks")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    th.set_num_threads(1)
    print(f"TokenChain vocab {VOCAB}, prompt {PROMPT}, {args.states} states, batch {BATCH}, 1 torch thread; "
          f"{args.repeats} blocks of {args.steps} steps\n")
    print("| chain length | student | median ms per step | ratio to MLP (median of blocks) | ms per predict |")
    print("| ---: | --- | ---: | ---: | ---: |")
    with quiet_logger() as logger:
        for chain_length in args.chain_lengths:
            train, predict = variants(chain_length, args.layers, args.d_model, args.states, logger)
            names = list(train)
            for name in names:  # warm-up: lazy imports, first-call allocations
                train[name](20)
            per_step: dict[str, list[float]] = {name: [] for name in names}
            per_predict: dict[str, list[float]] = {name: [] for name in names}
            for rep in range(args.repeats):
                for name in names[rep % len(names):] + names[:rep % len(names)]:
                    start = time.perf_counter()
                    train[name](args.steps)
                    per_step[name].append((time.perf_counter() - start) / args.steps)
                    start = time.perf_counter()
                    for _ in range(50):
                        predict[name]()
                    per_predict[name].append((time.perf_counter() - start) / 50)
            base = per_step[names[0]]
            for name in names:
                ratio = statistics.median(t / b for t, b in zip(per_step[name], base))
                print(f"| {chain_length} | {name} | {1e3 * statistics.median(per_step[name]):.2f} | {ratio:.2f} | "
                      f"{1e3 * statistics.median(per_predict[name]):.2f} |")


if __name__ == "__main__":
    main()
