"""Record every label, counter and error message the oracle and wrapper produce for fixed seeds.

A guard for speed work: run it before and after changing the hot path and compare the outputs;
an optimisation must not change a single label (value, dtype or type), query count or error. A
change that deliberately draws from the random stream differently shows up as entries whose
differences are all "value only" (same types, dtypes, shapes, counters and error messages).

    python benchmarks/label_fingerprint.py --out /tmp/before.pkl
    # ... change the code ...
    python benchmarks/label_fingerprint.py --out /tmp/after.pkl --compare /tmp/before.pkl

Uses stand-in experts for the classic-control tasks when their analytic experts are missing, and
the registered ones (``gym.make("NoisyExpert/...")``) when they exist.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv

import noisy_expert_envs  # noqa: F401  (registers the ids)
from noisy_expert_envs import ChainNoise, NoisyExpertWrapper, NoisyOracle, UniformNoise
from noisy_expert_envs.experts.combination_lock import CombinationLockExpert
from noisy_expert_envs.tasks.combination_lock import CombinationLockEnv

DISCRETE_NOISES: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("uniform", {"epsilon": 0.2}),
    ("uniform", {"epsilon": 0.9}),
    ("fixed_wrong", {"epsilon": 0.3}),
    ("state_dependent", {"epsilon": 0.5, "profile": "hashed"}),
    ("state_dependent", {"epsilon": 0.5, "profile": "radial"}),
    ("boltzmann", {"temperature": 0.7}),
    ("sticky", {"repeat_prob": 0.4, "inner": "uniform"}),
]
BOX_NOISES: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("gaussian", {"sigma": 0.3}),
    ("uniform", {"epsilon": 0.3}),
]


def cartpole_standin(obs: np.ndarray) -> np.ndarray:
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def pendulum_standin(obs: np.ndarray) -> np.ndarray:
    return np.clip(-2.0 * obs[:, 2:3], -2.0, 2.0).astype(np.float32)


def _value(x: Any) -> Any:
    """A comparable record of one returned value: its type, dtype, shape and bytes."""
    if isinstance(x, dict):
        return {k: _value(v) for k, v in sorted(x.items())}
    if isinstance(x, (np.ndarray, np.generic)):
        return (type(x).__name__, str(x.dtype), np.shape(x), np.asarray(x).tobytes())
    return (type(x).__name__, repr(x))


def _error(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", _value(fn()))
    except Exception as err:  # noqa: BLE001 - the record is the point
        return (type(err).__name__, str(err))


def rollout(env: gym.Env, seed: int, steps: int, *, reseed_every: int = 0) -> list[Any]:
    """Random actions from a seeded RNG; every returned label and info goes into the record."""
    rng = np.random.default_rng(seed)
    record: list[Any] = []
    obs, info = env.reset(seed=seed)
    record.append(_value(info))
    oracle = env.get_wrapper_attr("oracle")
    episode = 0
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(_act(env, rng))
        record.append((_value(obs), float(reward), terminated, truncated, _value(info)))
        if terminated or truncated:
            episode += 1
            reset_seed = seed + episode if reseed_every and episode % reseed_every == 0 else None
            obs, info = env.reset(seed=reset_seed)
            record.append(_value(info))
    record.append(("counters", oracle.queries, oracle.clean_queries))
    return record


def _act(env: gym.Env, rng: np.random.Generator) -> Any:
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        return int(space.start + rng.integers(space.n))
    return rng.uniform(space.low, space.high).astype(space.dtype)


def oracle_calls(oracle: NoisyOracle, observations: np.ndarray) -> list[Any]:
    """Batched and single calls of every oracle method, in a fixed order."""
    record: list[Any] = []
    oracle.reset_rng(123)
    oracle.reset_episode()
    for size in (1, 2, 7, 64):
        batch = observations[:size]
        record.append(("sample", size, _value(oracle.sample(batch))))
        record.append(("clean", size, _value(oracle.clean(batch))))
        if oracle.discrete:
            record.append(("probs", size, _value(oracle.probs(batch))))
            record.append(("margin", size, _value(oracle.mode_margin(batch))))
            record.append(("agreement", size, _value(oracle.agreement(batch))))
        else:
            record.append(("dist", size, _value(oracle.distribution(batch).params())))
    for i in range(20):
        record.append(("single", i, _value(oracle.sample(observations[i]))))
        record.append(("single-clean", i, _value(oracle.clean(observations[i]))))
        if oracle.discrete:
            record.append(("single-probs", i, _value(oracle.probs(observations[i]))))
    big = observations[np.arange(4096) % len(observations)]
    record.append(("sample", 4096, _value(oracle.sample(big))))
    # Lists and non-contiguous views are valid inputs too.
    record.append(("list", _value(oracle.sample(observations[0].tolist()))))
    record.append(("strided", _value(oracle.sample(observations[::3][:5]))))
    record.append(("counters", oracle.queries, oracle.clean_queries))
    return record


def bad_expert_errors() -> list[Any]:
    """Errors raised for invalid expert outputs and actions: type and message must not change."""
    lock = CombinationLockEnv(horizon=5, n_actions=3)
    obs = np.eye(6, dtype=np.float32)
    bad_outputs: list[Any] = [
        lambda o: np.full(len(o), 3),  # out of range
        lambda o: np.full(len(o), -1),
        lambda o: np.full(len(o), 1.5),  # not integral
        lambda o: np.full(len(o), np.nan),
        lambda o: np.zeros((len(o), 2), dtype=np.int64),  # wrong shape
        lambda o: np.zeros(len(o) + 1, dtype=np.int64),
        lambda o: 0,  # scalar
        lambda o: [1] * len(o),  # list
        lambda o: np.ones((len(o), 1)),  # float integral, column
        lambda o: np.array(["a"] * len(o)),
        lambda o: np.arange(len(o)) % 4,  # first bad label is in the middle for big batches
        lambda o: np.full(len(o), True),
    ]
    record: list[Any] = []
    for i, fn in enumerate(bad_outputs):
        for noise in ("uniform", "boltzmann", "none"):
            oracle = NoisyOracle(fn, noise, lock.action_space, lock.observation_space, seed=0)
            record.append((i, noise, "single", _error(lambda: oracle.sample(obs[0]))))
            record.append((i, noise, "batch", _error(lambda: oracle.sample(obs))))
            record.append((i, noise, "clean", _error(lambda: oracle.clean(obs[2]))))
            record.append((i, noise, "counters", oracle.queries, oracle.clean_queries))
            env = NoisyExpertWrapper(CombinationLockEnv(horizon=5, n_actions=3), fn, noise)
            record.append((i, noise, "reset", _error(lambda: env.reset(seed=1)[1])))
    pend = PendulumEnv()
    for j, fn in enumerate([
        lambda o: np.full((len(o), 1), 5.0, dtype=np.float32),
        lambda o: np.full((len(o), 2), 0.0),
        lambda o: np.full((len(o), 1), np.nan),
        lambda o: np.zeros(len(o)),  # reshapeable
    ]):
        oracle = NoisyOracle(fn, "gaussian", pend.action_space, pend.observation_space, seed=0)
        record.append(("box", j, _error(lambda: oracle.sample(np.zeros(3, dtype=np.float32)))))
        record.append(("box", j, _error(lambda: oracle.sample(np.zeros((4, 3), dtype=np.float32)))))
    shifted = gym.spaces.Discrete(3, start=-1)  # actions -1, 0, 1: labels and errors shift too
    for k, fn in enumerate([
        lambda o: np.argmax(o, axis=1) % 3 - 1,
        lambda o: np.full(len(o), 2),
        lambda o: np.full(len(o), -2, dtype=np.int8),
        lambda o: np.full((len(o), 1), 1, dtype=np.uint8),
    ]):
        for noise in ("uniform", "fixed_wrong", "boltzmann"):
            oracle = NoisyOracle(fn, noise, shifted, lock.observation_space, seed=k)
            record.append(("shifted", k, noise, [_error(lambda: oracle.sample(o)) for o in obs]))
            record.append(("shifted", k, noise, _error(lambda: oracle.sample(obs))))
            record.append(("shifted", k, noise, _error(lambda: oracle.clean(obs[1]))))
            record.append(("shifted", k, noise, oracle.queries, oracle.clean_queries))
    good = NoisyOracle(CombinationLockExpert(lock.code, 3), "uniform", lock.action_space,
                       lock.observation_space, seed=0)
    for bad_obs in (np.zeros(5), np.zeros((2, 5)), np.zeros((2, 6, 1)), np.float32(0.0)):
        record.append(("obs", np.shape(bad_obs), _error(lambda: good.sample(bad_obs))))
    record.append(("counters", good.queries, good.clean_queries))
    env = NoisyExpertWrapper(CombinationLockEnv(horizon=5, n_actions=3), CombinationLockExpert(lock.code, 3),
                             "none")
    env.reset(seed=0)
    for action in (3, -1, 1.0, "a", np.int64(7), np.array([1]), True, None):
        record.append(("action", repr(action), _error(lambda: env.step(action)[4])))
    return record


def _differences(before: Any, after: Any) -> tuple[int, list[Any]]:
    """Leaves of two records that differ: the number differing in value only (same type, dtype and
    shape) and the other differences (types, dtypes, shapes, counters, errors, structure)."""
    if _same(before, after):
        return 0, []
    if _is_array_record(before) and _is_array_record(after) and before[:3] == after[:3]:
        return 1, []
    if type(before) is type(after) and isinstance(before, (list, tuple)) and len(before) == len(after) \
            and not _is_array_record(before) and not all(isinstance(x, str) for x in before):
        parts = [_differences(x, y) for x, y in zip(before, after)]
    elif isinstance(before, dict) and isinstance(after, dict) and before.keys() == after.keys():
        parts = [_differences(before[k], after[k]) for k in before]
    else:
        return 0, [(before, after)]
    return sum(n for n, _ in parts), [o for _, other in parts for o in other]


def _same(before: Any, after: Any) -> bool:
    """Equal records; by ``repr`` so that a NaN recorded as an input (e.g. the bad observation
    value) equals itself, which ``==`` says it does not."""
    return repr(before) == repr(after)


def _is_array_record(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 4 and isinstance(x[3], bytes)


def fingerprint() -> dict[str, Any]:
    out: dict[str, Any] = {}
    lock_obs = np.eye(21, dtype=np.float32)
    rng = np.random.default_rng(7)
    # Clipped into the observation spaces, which the oracle checks (records made before that check
    # existed used the unclipped draws, so their cart/pend oracle entries differ in value).
    cart_obs = _inside(rng.normal(0, 0.3, size=(500, 4)).astype(np.float32), CartPoleEnv().observation_space)
    pend_obs = _inside(rng.normal(0, 1.0, size=(500, 3)).astype(np.float32), PendulumEnv().observation_space)
    have_classic = _has_classic_experts()
    for noise, params in DISCRETE_NOISES:
        key = f"{noise}{params}"
        lock = gym.make("NoisyExpert/CombinationLock-v0", noise=noise, noise_seed=3, **params)
        out[f"lock/rollout/{key}"] = rollout(lock, 11, 3000, reseed_every=7)
        lock_full = gym.make("NoisyExpert/CombinationLock-v0", noise=noise, include_distribution=True,
                             include_clean=True, **params)
        out[f"lock/rollout-full/{key}"] = rollout(lock_full, 5, 500)
        lock_oracle = lock.get_wrapper_attr("oracle")
        out[f"lock/oracle/{key}"] = oracle_calls(lock_oracle, lock_obs[np.arange(600) % 21])
        cart = NoisyExpertWrapper(CartPoleEnv(), cartpole_standin, noise, **params)
        cart_limited = gym.wrappers.TimeLimit(cart, 500)
        out[f"cart-standin/rollout/{key}"] = rollout(cart_limited, 3, 3000, reseed_every=3)
        out[f"cart-standin/oracle/{key}"] = oracle_calls(cart.oracle, cart_obs)
        if have_classic:
            cart = gym.make("NoisyExpert/CartPole-v1", noise=noise, **params)
            out[f"cart/rollout/{key}"] = rollout(cart, 3, 3000, reseed_every=3)
            out[f"cart/oracle/{key}"] = oracle_calls(cart.get_wrapper_attr("oracle"), cart_obs)
            labels_off = gym.make("NoisyExpert/CartPole-v1", noise=noise, labels=False, **params)
            out[f"cart/labels-off/{key}"] = rollout(labels_off, 3, 500)
    chain = ChainNoise(["uniform", "fixed_wrong"])
    out["lock/oracle/chain"] = oracle_calls(
        gym.make("NoisyExpert/CombinationLock-v0", noise=chain).get_wrapper_attr("oracle"), lock_obs)
    out["lock/rollout/uniform-object"] = rollout(
        gym.make("NoisyExpert/CombinationLock-v0", noise=UniformNoise(0.4)), 2, 1000)
    for noise, params in BOX_NOISES:
        key = f"{noise}{params}"
        pend = NoisyExpertWrapper(PendulumEnv(), pendulum_standin, noise, include_distribution=True,
                                  include_clean=True, **params)
        out[f"pend-standin/rollout/{key}"] = rollout(gym.wrappers.TimeLimit(pend, 200), 4, 1000)
        out[f"pend-standin/oracle/{key}"] = oracle_calls(pend.oracle, pend_obs)
    out["errors"] = bad_expert_errors()
    out["observation-errors"] = bad_observation_errors()
    return out


def _inside(obs: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    return np.clip(obs, space.low, space.high).astype(space.dtype)


def bad_observation_errors() -> list[Any]:
    """Errors raised for observations that are not finite or outside the observation space."""
    record: list[Any] = []
    for noise in ("uniform", "boltzmann"):
        cart = NoisyExpertWrapper(CartPoleEnv(), cartpole_standin, noise)
        oracle = cart.oracle
        for bad in (np.nan, np.inf, -np.inf, 5.0):
            obs = np.zeros((3, 4), dtype=np.float32)
            obs[1, 0] = bad
            for call in (oracle.sample, oracle.clean, oracle.probs, oracle.agreement):
                record.append((noise, bad, _error(lambda: call(obs)), _error(lambda: call(obs[1]))))
        record.append(("counters", oracle.queries, oracle.clean_queries))
    return record


def _has_classic_experts() -> bool:
    try:
        import noisy_expert_envs.experts.classic_control  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="pickle file to write the record to")
    parser.add_argument("--compare", help="an earlier record; exit 1 if any shared entry differs")
    args = parser.parse_args()
    record = fingerprint()
    with open(args.out, "wb") as f:
        pickle.dump(record, f)
    for key, value in record.items():
        digest = hashlib.sha256(repr(value).encode()).hexdigest()[:16]
        print(f"{digest}  {key}")
    if args.compare:
        with open(args.compare, "rb") as f:
            before = pickle.load(f)
        shared = sorted(set(before) & set(record))
        differ = [k for k in shared if not _same(before[k], record[k])]
        only = sorted(set(before) ^ set(record))
        print(f"\ncompared {len(shared)} entries: {len(differ)} differ; not in both: {only}")
        for key in differ:
            values, other = _differences(before[key], record[key])
            print(f"  DIFFERS: {key}: {values} value-only, {len(other)} other")
            for b, a in other[:3]:
                print(f"    before {b!r:.200}\n    after  {a!r:.200}")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
