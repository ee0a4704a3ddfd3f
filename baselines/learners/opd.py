"""On-policy distillation (OPD): the learner acts, the noisy oracle labels the learner's own states.

One round, top to bottom in :meth:`OPD.train`: roll out (the learner acts, greedily by default; a
GKD-style fraction ``lmbda`` of episodes is acted by the noisy expert instead), label every visited
state with the oracle (as many as the budget allows), add the labels to the dataset, and train the
learner on all labels so far with imitation's BC trainer and a distillation loss. Repeat until the
budget is spent. Under the default ``schedule="equal"`` a round takes the gradient steps that bring
the total to ``ceil(updates_per_label * labels so far)`` (the same total BC takes at that many
labels); under ``"legacy"`` it takes ``updates_per_round`` steps.

``query_rule="uncertain"`` changes step 2 only: a visited state is labelled only while the labels
asked there so far (states keyed by their observation's bytes) do not settle its plurality at level
``delta`` (:mod:`baselines.learners.query` states the test and why its level holds), at most
``max_queries_per_state`` labels per state, once per round, and (with ``confidence``) only where the
learner's greedy action has probability below ``confidence``. Two additions keep it from stalling:
when the learner's greedy action contradicts the settled plurality at a state it visited, the round
takes extra gradient steps (in tens, at most ``max_fit_updates``) until it agrees, since such a state
is never asked again and a round that asks nothing takes no steps under ``equal`` (these steps come
on top of the ``equal`` rule's: ``updates`` = U(labels) + ``extra["fit_updates"]``); and training ends
after ``max_idle_rounds`` rounds in a row that asked nothing (the learner has nothing left to ask
where it goes), possibly under budget.

We write this loop rather than reuse ``SimpleDAggerTrainer`` because DAgger (a) always *samples* the
learner's actions, which with a noisy teacher reproduces the noise and makes it behave like offline
BC, (b) can only store one sampled action per state, so it cannot train on the teacher's
distribution or on a plurality of k labels, and (c) writes every trajectory to disk as a Hugging
Face dataset. The gradient steps stay imitation's (``bc.BC.train``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from baselines.learners.batches import ShuffledBatches
from baselines.learners.trainer import make_bc_trainer, quiet_logger
from baselines.learners.base import (
    Accounting, OnRound, TrainingSettings, boolean, choice, equal_updates, integer, optional, probability,
    resolve_mode_settings, setting,
)
from baselines.learners.losses import DISCRETE_ONLY_LOSSES, DISTRIBUTION_LOSSES, LOSSES
from baselines.learners.query import StateLabels, state_key
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task
from noisy_expert_envs.validation import check_real
from noisy_expert_envs.oracle import NoisyOracle

#: ``"all"``: label every visited state (as many as the budget pays for); ``"uncertain"``: label a
#: visited state only while its labels so far show no significant plurality (baselines/learners/query.py).
QUERY_RULES = ("all", "uncertain")


def open_probability(name: str, value: Any) -> float:
    """A probability in (0, 1] (0 would make the rule never ask, or never settle)."""
    value = check_real(name, value)
    if not 0.0 < value <= 1.0:  # also false for NaN
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


def label_states(
    oracle: NoisyOracle, states: np.ndarray, loss: str, k: int, rng: np.random.Generator
) -> np.ndarray:
    """The training targets of ``states`` under ``loss``.

    ``sampled``: one noisy label each; ``plurality``: the most frequent of ``k`` noisy labels (ties
    broken at random); distribution losses: the oracle's action probabilities.
    """
    return query_states(oracle, states, loss, k, rng)[0]


def query_states(
    oracle: NoisyOracle, states: np.ndarray, loss: str, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(targets, evidence)``: the training targets of ``states`` (see :func:`label_states`) and
    what the teacher said, as ``query_rule="uncertain"`` counts it: the label votes as action
    indices from 0, ``(B, k)`` (``sampled``: k = 1), or the distributions ``(B, n_actions)``."""
    if loss in DISTRIBUTION_LOSSES:
        probs = oracle.probs(states).astype(np.float32)
        return probs, probs
    start = int(getattr(oracle.action_space, "start", 0))
    if loss == "plurality":
        n_actions = int(oracle.action_space.n)  # type: ignore[attr-defined]
        votes = np.stack([oracle.sample(states) for _ in range(k)], axis=1) - start
        counts = np.stack([(votes == a).sum(axis=1) for a in range(n_actions)], axis=1)
        tie_break = rng.random(counts.shape) * 0.5
        return (np.argmax(counts + tie_break, axis=1) + start).astype(np.int64), votes
    labels = oracle.sample(states)
    return labels, (np.asarray(labels) - start).reshape(len(states), -1)


class OPD:
    """On-policy distillation within ``budget`` oracle queries (see the module docstring)."""

    online = True  # trains in rounds: labels_to_target evaluates after each one

    @dataclass(frozen=True)
    class Settings(TrainingSettings):
        loss: str = setting("sampled", choice(*LOSSES), "training target: one label, a plurality of k, or the distribution")
        k: int = setting(3, integer(1), "labels per state for the plurality loss")
        beta: float = setting(0.5, probability, "gjsd interpolation: 0 forward KL, 1 reverse KL")
        lmbda: float = setting(0.0, probability, "fraction of episodes acted by the noisy expert (GKD's lambda)")
        greedy_rollouts: bool = setting(True, boolean, "the learner acts greedily (False: samples its actions)")
        episodes_per_round: int = setting(1, integer(1), "episodes rolled out before each training round")
        updates_per_round: int | None = setting(None, optional(integer(1)), "`legacy` only (None: 50): gradient "
                                                "steps per round (at lr 3e-3)")
        query_rule: str = setting("all", choice(*QUERY_RULES), "which visited states the teacher labels: `all`, or "
                                  "`uncertain` (only states whose labels so far show no significant plurality)")
        delta: float | None = setting(None, optional(open_probability), "`uncertain` only (None: 0.01): per-state "
                                      "error level of the plurality test (H states: delta/H for 1 - delta overall)")
        max_queries_per_state: int | None = setting(None, optional(integer(1)), "`uncertain` only (None: 64): "
                                                    "labels spent at most on one state")
        confidence: float | None = setting(None, optional(open_probability), "`uncertain` only: also skip a state "
                                           "where the learner's greedy action has at least this probability "
                                           "(for observations that never repeat; None: off)")
        max_fit_updates: int | None = setting(None, optional(integer(0)), "`uncertain` only (None: 500): extra "
                                              "gradient steps per round while the learner contradicts a settled "
                                              "plurality at a state it visited")
        max_idle_rounds: int | None = setting(None, optional(integer(1)), "`uncertain` only (None: 20): stop after "
                                              "this many rounds in a row that asked nothing")

        legacy_lr: ClassVar[float] = 3e-3
        legacy_defaults: ClassVar[dict[str, Any]] = {"updates_per_round": 50}
        #: ``{setting: default}`` of the settings only ``query_rule="uncertain"`` reads.
        uncertain_defaults: ClassVar[dict[str, Any]] = {
            "delta": 0.01, "max_queries_per_state": 64, "confidence": None, "max_fit_updates": 500,
            "max_idle_rounds": 20,
        }

        def __post_init__(self) -> None:
            super().__post_init__()
            resolve_mode_settings(self, self.uncertain_defaults, self.query_rule == "uncertain",
                                  f"query_rule='uncertain' only; valid query_rule choices: {list(QUERY_RULES)}")
            if self.query_rule == "uncertain" and self.lmbda > 0.0:
                raise ValueError(f"query_rule='uncertain' labels the learner's own states and cannot be combined "
                                 f"with lmbda={self.lmbda!r} (teacher-acted episodes): set lmbda=0 or "
                                 f"query_rule='all'")

    def check(self, task: Task, budget: int, settings: OPD.Settings) -> None:
        """``ValueError`` unless the loss fits the task's actions and the budget pays for one state."""
        if settings.loss in DISCRETE_ONLY_LOSSES and not isinstance(task.action_space, spaces.Discrete):
            raise ValueError(
                f"loss {settings.loss!r} needs Discrete actions; {task.env_id} has {task.action_space}. "
                f"Valid losses for continuous actions: ['sampled']"
            )
        if settings.query_rule == "uncertain" and not isinstance(task.action_space, spaces.Discrete):
            raise ValueError(
                f"query_rule='uncertain' needs Discrete actions (it tests the plurality of the labels at a state); "
                f"{task.env_id} has {task.action_space}. Valid query_rule for continuous actions: ['all']"
            )
        cost = settings.k if settings.loss == "plurality" else 1
        if budget < cost:
            raise ValueError(f"budget {budget} cannot label a single state with loss {settings.loss!r} "
                             f"(k={settings.k} labels per state): give a budget >= {cost}")

    def train(self, policy: ActorCriticPolicy, task: Task, *, budget: int, seed: int, settings: OPD.Settings,
              on_round: OnRound | None = None) -> Accounting:
        s = settings
        seeds = RunSeeds(seed)
        env = task.make_env()
        oracle = task.oracle(seeds.oracle)
        rng = seeds.learner_rng()
        cost_per_state = s.k if s.loss == "plurality" else 1
        dataset_obs: list[np.ndarray] = []
        dataset_targets: list[np.ndarray] = []
        acc = Accounting(extra={"labelled_states": 0})
        known: StateLabels | None = None
        if s.query_rule == "uncertain":
            known = StateLabels(int(task.action_space.n), float(s.delta),  # type: ignore[attr-defined, arg-type]
                                int(s.max_queries_per_state), s.loss in DISTRIBUTION_LOSSES)  # type: ignore[arg-type]
            acc.extra.update(queried_states=0, settled_states=0, fit_updates=0, idle_rounds=0)
        idle_in_a_row = 0
        with quiet_logger() as logger:
            trainer = make_bc_trainer(policy, rng, logger, batch_size=s.batch_size, lr=s.lr,
                                      ent_weight=s.ent_weight, loss=s.loss, beta=s.beta)
            while budget - oracle.queries >= cost_per_state:
                # 1. Roll out: the learner acts; a fraction lmbda of episodes, the noisy expert acts.
                visited: list[np.ndarray] = []
                for _ in range(s.episodes_per_round):
                    teacher_acts = s.lmbda > 0.0 and rng.random() < s.lmbda
                    obs, _ = env.reset(seed=seeds.train_episode(acc.episodes))
                    acc.episodes += 1
                    done = False
                    while not done:
                        visited.append(obs)
                        if teacher_acts:
                            if budget - oracle.queries < 1 + cost_per_state * len(visited):
                                break  # keep enough budget to label what was visited
                            action = oracle.sample(obs)
                        else:
                            action = policy.predict(obs, deterministic=s.greedy_rollouts)[0]
                        obs, _, terminated, truncated, _ = env.step(action)
                        acc.env_steps += 1
                        done = terminated or truncated
                # 2. Label the visited states (under `uncertain`: those whose labels so far do not settle
                #    them), as many as the remaining budget pays for.
                affordable = (budget - oracle.queries) // cost_per_state
                if known is None:
                    states = np.asarray(visited[:min(len(visited), affordable)])
                else:
                    states = self._states_to_ask(policy, visited, known, s.confidence, affordable)
                if len(states) == 0 and known is None:
                    break
                if len(states):
                    targets, evidence = query_states(oracle, states, s.loss, s.k, rng)
                    dataset_obs.append(states)
                    dataset_targets.append(targets)
                    acc.labels_used = oracle.queries
                    acc.extra["labelled_states"] += len(states)
                    if known is not None:
                        for state, said in zip(states, evidence):
                            known.add(state_key(state), said, cost_per_state)
                # 3. Train on all labels so far (BC's loader drops incomplete batches: cap the batch size).
                #    Under `equal` this round's steps bring the total to U(labels so far), so a round
                #    with few labels gets few steps (possibly none).
                if s.schedule == "legacy":
                    steps = int(s.updates_per_round)  # type: ignore[arg-type]  (resolved: never None here)
                else:  # (the `uncertain` rule's fit steps come on top: they are not counted here)
                    steps = equal_updates(acc.labels_used, s.updates_per_label) - (
                        acc.updates - acc.extra.get("fit_updates", 0))
                if steps > 0 or (known is not None and dataset_obs):
                    all_obs = np.concatenate(dataset_obs)
                    all_targets = np.concatenate(dataset_targets)
                    trainer.batch_size = trainer.minibatch_size = min(s.batch_size, len(all_obs))
                    trainer.set_demonstrations(ShuffledBatches(all_obs, all_targets, trainer.batch_size, rng))
                if steps > 0:
                    trainer.train(n_batches=steps, progress_bar=False, log_interval=steps + 1)
                    acc.updates += steps
                if known is not None:
                    # A round that asks little takes few steps under `equal`; where the learner still
                    # contradicts a settled plurality it would stop there (asking nothing) for good.
                    fit = self._fit_settled(policy, trainer, visited, known, int(s.max_fit_updates))  # type: ignore[arg-type]
                    acc.updates += fit
                    acc.extra["fit_updates"] += fit
                    acc.extra["queried_states"] = len(known.queries)
                    acc.extra["settled_states"] = len(known.settled)
                    idle_in_a_row = 0 if len(states) else idle_in_a_row + 1
                    acc.extra["idle_rounds"] += int(not len(states))
                acc.rounds += 1
                if on_round is not None and on_round(policy, acc):
                    break
                if known is not None and idle_in_a_row >= int(s.max_idle_rounds):  # type: ignore[arg-type]
                    break  # nothing left to ask where the learner goes
        env.close()
        return acc

    @staticmethod
    def _states_to_ask(policy: ActorCriticPolicy, visited: list[np.ndarray], known: StateLabels,
                       confidence: float | None, affordable: int) -> np.ndarray:
        """The visited states ``query_rule="uncertain"`` asks about: not settled, once per round, where
        the learner is not confident (when ``confidence`` is set), at most ``affordable``."""
        if confidence is not None and visited:
            sure = greedy_probability(policy, np.asarray(visited)) >= confidence
        else:
            sure = np.zeros(len(visited), dtype=bool)
        chosen: list[np.ndarray] = []
        keys: set[bytes] = set()
        for obs, skip in zip(visited, sure):
            key = state_key(obs)
            if len(chosen) < affordable and not skip and key not in keys and known.needs_query(key):
                chosen.append(obs)
                keys.add(key)
        return np.asarray(chosen)

    @staticmethod
    def _fit_settled(policy: ActorCriticPolicy, trainer: Any, visited: list[np.ndarray], known: StateLabels,
                     max_updates: int, chunk: int = 10) -> int:
        """Gradient steps (in chunks, at most ``max_updates``) until the learner's greedy action agrees
        with the plurality at every settled state it visited this round; the steps taken."""
        settled = [(obs, known.plurality(key)) for obs in visited if (key := state_key(obs)) in known.settled]
        if not settled:
            return 0
        obs = np.asarray([o for o, _ in settled])
        start = int(getattr(policy.action_space, "start", 0))
        want = np.array([a for _, a in settled]) + start
        taken = 0
        while taken < max_updates and np.any(policy.predict(obs, deterministic=True)[0] != want):
            steps = min(chunk, max_updates - taken)
            trainer.train(n_batches=steps, progress_bar=False, log_interval=steps + 1)
            taken += steps
        return taken


def greedy_probability(policy: ActorCriticPolicy, obs: np.ndarray) -> np.ndarray:
    """The learner's probability of its own greedy action at each of ``obs`` (Discrete actions)."""
    with th.no_grad():
        tensor = policy.obs_to_tensor(obs)[0]
        probs = policy.get_distribution(tensor).distribution.probs
    return probs.max(dim=-1).values.cpu().numpy()
