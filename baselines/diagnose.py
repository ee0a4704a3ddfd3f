"""How noisy is an expert? Measurements at visited states and the sample-need predictions they imply.

:func:`diagnose` rolls out the clean expert and the noisy expert over seeded episodes and asks the
oracle about the states they visit. For Discrete actions it reports

- ``agreement``: π̃(π*(s)|s), from ``oracle.probs`` (exact) and as the empirical frequency with which
  sampled noisy labels equal the clean action;
- ``mode margin``: π̃(π*(s)|s) − max_{a≠π*(s)} π̃(a|s), its min and mean (> 0 everywhere is the mode
  condition);
- ``p``: the mean agreement along the clean expert's own path, i.e. the per-step probability that
  the noisy expert acts like the clean one there; ``p0`` the agreement at the first state.

and two predictions (order of magnitude; constants from CombinationLock measurements):

- offline IL (BC on noisy demonstrations): a demonstration reaches depth H with probability p^H, so
  BC needs about ``C_OFF / p^H`` trajectories (``C_OFF = 4.5``: BC needed 3.5-6 of them per p^-H on
  CombinationLock), i.e. ``C_OFF * p^-H * L`` labels with ``L`` the mean noisy episode length
  (``(1 - p^H) / (1 - p)`` when every deviation ends the episode). Exponential in H.
- OPD with greedy rollouts: the learner advances one depth per round, relabelling its whole path,
  so reaching depth H costs ``H (H + 1) / 2`` labels; on top, each state needs about
  ``m = ceil(2 ln(H / δ) / Δ²)`` labels for the plurality of noisy labels to be the clean action
  at all H states with probability 1 − δ (Hoeffding on the vote difference; Δ = min mode margin,
  δ = 0.1): ``N_opd ≈ H (H + 1) / 2 + H m``. Polynomial in H; undefined when Δ ≤ 0.

``H`` is the task's ``horizon`` when it has one, else the clean expert's mean episode length. The
offline formula is the combination-lock worst case (every deviation fatal); on tasks that forgive
deviations (CartPole) it is a loose upper bound.

For Box actions agreement and margins are undefined; the report gives mean |noisy − clean|.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from baselines.analysis.theory import C_OFF, OPD_DELTA, offline_labels, offline_trajectories, opd_labels
from baselines.core.task import make_env

def depth0_stats(env_id: str, env_kwargs: dict[str, Any], seed: int = 0) -> tuple[float, float] | None:
    """(agreement π̃(π*(s0)|s0), mode margin) at the first state of a seeded episode; ``None`` for Box actions."""
    env = make_env(env_id, env_kwargs)
    try:
        oracle = copy.deepcopy(env.get_wrapper_attr("oracle"))
        if not oracle.discrete:
            return None
        obs, _ = env.reset(seed=seed)
        agreement = float(np.asarray(oracle.agreement(obs)).reshape(-1)[0])
        margin = float(np.asarray(oracle.mode_margin(obs[None])).reshape(-1)[0])
        return agreement, margin
    finally:
        env.close()


def _rollouts(env: Any, act: Any, seeds: list[int], max_steps: int) -> tuple[list[np.ndarray], list[int], list[float]]:
    states, lengths, returns = [], [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, steps, done = 0.0, 0, False
        while not done and steps < max_steps:
            states.append(np.asarray(obs))
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            steps += 1
            done = terminated or truncated
        lengths.append(steps)
        returns.append(total)
    return states, lengths, returns


def diagnose(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    *,
    episodes: int = 20,
    seed: int = 0,
    samples: int = 32,
    max_steps: int = 10_000,
) -> dict[str, Any]:
    """Measure the noisy expert of ``env_id`` over ``episodes`` seeded episodes (see the module doc).

    Returns a JSON-friendly dict; ``samples`` noisy labels per visited state estimate the empirical
    agreement.
    """
    env_kwargs = dict(env_kwargs or {})
    env = make_env(env_id, env_kwargs)
    oracle = copy.deepcopy(env.get_wrapper_attr("oracle"))
    oracle.reset_rng(np.random.SeedSequence([seed, 7]))
    seeds = [seed + i for i in range(episodes)]
    clean_states, clean_len, clean_ret = _rollouts(env, lambda o: oracle.clean(o), seeds, max_steps)
    noisy_states, noisy_len, noisy_ret = _rollouts(env, lambda o: oracle.sample(o), seeds, max_steps)
    horizon_attr = getattr(env.unwrapped, "horizon", None)
    horizon = float(horizon_attr) if horizon_attr is not None else float(np.mean(clean_len))
    out: dict[str, Any] = {
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "noise": oracle.config(),
        "episodes": episodes,
        "action_space": str(env.action_space),
        "horizon": horizon,
        "horizon_source": "task horizon" if horizon_attr is not None else "mean clean episode length",
        "clean_mean_return": float(np.mean(clean_ret)),
        "noisy_mean_return": float(np.mean(noisy_ret)),
        "clean_mean_length": float(np.mean(clean_len)),
        "noisy_mean_length": float(np.mean(noisy_len)),
        "visited_states": len(clean_states) + len(noisy_states),
    }
    states = np.asarray(clean_states + noisy_states)
    if oracle.discrete:
        clean = np.asarray(oracle.clean(states)).reshape(-1)
        agreement = np.asarray(oracle.agreement(states))
        labels = np.stack([np.asarray(oracle.sample(states)).reshape(-1) for _ in range(samples)], axis=1)
        empirical = float(np.mean(labels == clean[:, None]))
        margin = np.asarray(oracle.mode_margin(states))
        p = float(np.mean(agreement[: len(clean_states)]))  # states: the clean path first, then noisy
        p0 = float(agreement[0])
        min_margin = float(margin.min())
        out.update({
            "mode_margin_defined": True,
            "agreement_exact_mean": float(agreement.mean()),
            "agreement_exact_min": float(agreement.min()),
            "agreement_empirical": empirical,
            "agreement_samples": int(labels.size),
            "mode_margin_min": min_margin,
            "mode_margin_mean": float(margin.mean()),
            "mode_condition": bool(min_margin > 0),
            "p": p,
            "p0": p0,
            "offline_trajectories_pred": offline_trajectories(p, horizon),
            "offline_labels_pred": offline_labels(p, horizon, float(np.mean(noisy_len))),
            "opd_labels_pred": opd_labels(horizon, min_margin),
        })
    else:
        clean = np.asarray(oracle.clean(states), dtype=np.float64)
        noisy = np.asarray(oracle.sample(states), dtype=np.float64)
        diff = np.abs(noisy - clean).reshape(len(states), -1)
        out.update({
            "mode_margin_defined": False,
            "mean_abs_noisy_minus_clean": float(diff.mean()),
            "max_abs_noisy_minus_clean": float(diff.max()),
            "mean_l2_noisy_minus_clean": float(np.linalg.norm(diff, axis=1).mean()),
        })
    env.close()
    return out


def format_diagnosis(d: dict[str, Any]) -> str:
    """A human-readable report of :func:`diagnose`'s output."""
    kw = " ".join(f"{k}={v}" for k, v in d["env_kwargs"].items())
    lines = [f"{d['env_id']} {kw}".rstrip(), f"  noise: {d['noise']}", f"  actions: {d['action_space']}",
             f"  episodes: {d['episodes']} clean + {d['episodes']} noisy, {d['visited_states']} visited states",
             f"  return: clean {d['clean_mean_return']:.3f}, noisy {d['noisy_mean_return']:.3f}",
             f"  episode length: clean {d['clean_mean_length']:.1f}, noisy {d['noisy_mean_length']:.1f}",
             f"  H = {d['horizon']:g} ({d['horizon_source']})"]
    if d["mode_margin_defined"]:
        lines += [
            f"  agreement with clean expert: exact mean {d['agreement_exact_mean']:.4f} (min "
            f"{d['agreement_exact_min']:.4f}), empirical {d['agreement_empirical']:.4f} over {d['agreement_samples']} labels",
            f"  mode margin: min {d['mode_margin_min']:.4f}, mean {d['mode_margin_mean']:.4f} -> mode condition "
            f"{'holds' if d['mode_condition'] else 'FAILS'}",
            f"  p (noisy acts like clean, along the clean path) = {d['p']:.4f}; at the first state p0 = {d['p0']:.4f}",
            f"  offline BC need   ~ {C_OFF} * p^-H = {d['offline_trajectories_pred']:.4g} trajectories"
            f" ~ {d['offline_labels_pred']:.4g} labels  (exponential in H)",
            f"  OPD (greedy) need ~ H(H+1)/2 + H*ceil(2 ln(H/{OPD_DELTA})/margin^2) = {d['opd_labels_pred']:.4g} labels"
            "  (polynomial in H)",
        ]
    else:
        lines += [
            f"  mean |noisy - clean| = {d['mean_abs_noisy_minus_clean']:.4f} (max {d['max_abs_noisy_minus_clean']:.4f}),"
            f" mean L2 = {d['mean_l2_noisy_minus_clean']:.4f}",
            "  mode margin: undefined for Box actions (no agreement probability / sample-need prediction)",
        ]
    return "\n".join(lines)
