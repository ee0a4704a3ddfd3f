"""The goal figures of issue 11 from query_efficient results directories (default: this one and its
``h160``, ``fixed_wrong`` and ``tasks`` subdirectories).

Prints a markdown table: per (noise, ε, H) the median labels-to-target of each rule over seeds with a
95% percentile bootstrap CI of the median (unreached seeds count as +inf), the paired per-seed ratio
uncertain / all (median, bootstrap CI), the information floor (sequential; fixed plurality) and
uncertain's ratio to it, and labels / H; for the other tasks (CartPole, TokenChain) a second table:
per label the median labels-to-target [CI] and the paired ratio to the `all` label with the same
loss; and writes ``labels_vs_horizon_floor.png`` next to this
script: uniform-noise labels-to-target per seed vs H for both rules with the floor.

    python docs/results/query_efficient/goal_figures.py [DIR ...]
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from baselines.analysis.information import FLOOR_DELTA, lock_information_floor, settle_labels

RESAMPLES = 2000


def _median_ci(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    idx = rng.integers(len(values), size=(RESAMPLES, len(values)))
    meds = np.median(values[idx], axis=1)
    lo, hi = np.quantile(meds, [0.025, 0.975], method="inverted_cdf")  # no interpolation: inf stays inf
    return float(np.median(values)), float(lo), float(hi)


def _fmt(x: float, digits: int = 0) -> str:
    return "∞" if math.isinf(x) else f"{x:.{digits}f}"


def _ci(m: float, lo: float, hi: float, digits: int = 0) -> str:
    return f"{_fmt(m, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _paired_ratio(unc: dict[int, float], alls: dict[int, float], rng: np.random.Generator) -> str:
    """Median [95% CI] over seeds of unc / all (a seed that only `unc` reaches: 0; neither: left out)."""
    paired = [s for s in sorted(unc) if s in alls]
    ratio = np.array([unc[s] / alls[s] if math.isfinite(alls[s]) else (0.0 if math.isfinite(unc[s]) else math.nan)
                      for s in paired])
    ratio = ratio[~np.isnan(ratio)]
    return _ci(*_median_ci(ratio, rng), digits=2) if len(ratio) else "-"


def _variant(labels: dict[int, float], alls: dict[int, float], rng: np.random.Generator) -> str:
    if not labels:
        return "-"
    return f"{_ci(*_median_ci(np.array(list(labels.values())), rng))}; {_paired_ratio(labels, alls, rng)}"


def _spent(values: list[int] | None) -> str:
    return f"median {np.median(values):.0f} ({min(values)}-{max(values)})" if values else "-"


def main(directories: list[Path]) -> None:
    records = [json.loads(line) for d in directories if (d / "results.jsonl").exists()
               for line in (d / "results.jsonl").read_text().splitlines() if line.strip()]
    lock_table(records)
    tasks_table(records)


def tasks_table(records: list[dict]) -> None:
    """Non-lock envs: each label against the `all` label of the same loss (opd-uncertain-c0.8 -> opd-all,
    opd-forward_kl-uncertain -> opd-forward_kl-all)."""
    per_env: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r.get("status") == "ok" and r["env_id"] != "NoisyExpert/CombinationLock-v0":
            labels = r["labels_to_target"]
            per_env[r["env_id"]][r["label"]][r["seed"]] = math.inf if labels is None else float(labels)
    if not per_env:
        return
    rng = np.random.default_rng(0)
    print("\n| env | label | seeds reached | labels-to-target: median [95% CI] | / `all` of the same loss: paired median [95% CI] |")
    print("| --- | --- | --- | --- | --- |")
    for env_id in sorted(per_env):
        for label, values in sorted(per_env[env_id].items()):
            reference = per_env[env_id].get(label.split("-uncertain")[0] + "-all", {})
            ratio = "-" if label.endswith("-all") else _paired_ratio(values, reference, rng)
            v = np.array(list(values.values()))
            print(f"| {env_id} | {label} | {int(np.isfinite(v).sum())}/{len(v)} | {_ci(*_median_ci(v, rng))} | {ratio} |")


def lock_table(records: list[dict]) -> None:
    """The lock: both rules per (noise, ε, H), the floor, and the plot."""
    cells: dict[tuple, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    spent: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))  # unreached: labels used
    for r in records:
        if r.get("status") != "ok" or r["env_id"] != "NoisyExpert/CombinationLock-v0":
            continue
        kw = r["env_kwargs"]
        key = (kw["noise"], kw["epsilon"], kw["horizon"], kw.get("n_actions", 4))
        labels = r["labels_to_target"]
        cells[key][r["label"]][r["seed"]] = math.inf if labels is None else float(labels)
        if labels is None:
            spent[key][r["label"]].append(r["bracket"][0])
    if not cells:
        return
    rng = np.random.default_rng(0)
    print("| noise | ε | H | seeds | uncertain: median [95% CI] | all: median [95% CI] | uncertain / all, paired "
          "median [95% CI] | floor (sequential; fixed) | uncertain / floor | uncertain labels / H | unreached seeds: labels spent (uncertain; all) | uncertain δ=0.1: median [95% CI]; "
          "/ all, paired |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in sorted(cells):
        noise, eps, h, n_actions = key
        unc, alls = cells[key].get("opd-uncertain", {}), cells[key].get("opd-all", {})
        seeds = sorted(set(unc) & set(alls)) or sorted(unc)
        u = np.array([unc[s] for s in seeds if s in unc])
        a = np.array([alls[s] for s in seeds if s in alls])
        um = _median_ci(u, rng) if len(u) else (math.nan,) * 3
        am = _median_ci(a, rng) if len(a) else (math.nan,) * 3
        ratio_text = _paired_ratio(unc, alls, rng)
        try:
            floor = lock_information_floor(h, n_actions, eps, FLOOR_DELTA, noise=noise)
            fixed = lock_information_floor(h, n_actions, eps, FLOOR_DELTA, noise=noise, rule="fixed")
            floor_text = f"{floor:.0f}; {fixed:.0f}"
            to_floor = _ci(*(x / floor for x in um), digits=2)
        except ValueError:
            floor_text, to_floor = "none (mode wrong)", "-"
        per_h = _ci(*(x / h for x in um), digits=1)
        reached = f"{int(np.isfinite(u).sum())}/{len(u)}, {int(np.isfinite(a).sum())}/{len(a)}"
        print(f"| {noise} | {eps} | {h} | {reached} | {_ci(*um)} | {_ci(*am)} | {ratio_text} | {floor_text} | "
              f"{to_floor} | {per_h} | {_spent(spent[key].get('opd-uncertain'))}; {_spent(spent[key].get('opd-all'))} | "
              f"{_variant(cells[key].get('opd-uncertain-d0.1', {}), alls, rng)} |")


    plot(cells, Path(__file__).parent / "labels_vs_horizon_floor.png")


def plot(cells: dict[tuple, dict[str, dict[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    uniform = sorted(k for k in cells if k[0] == "uniform" and k[1] == 0.2 and k[3] == 4)
    if len(uniform) < 2:
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    variants = (("opd-uncertain", "uncertain"), ("opd-all", "all"), ("opd-uncertain-d0.1", "uncertain, δ=0.1"))
    for i, (label, name) in enumerate(variants):
        hs, meds = [], []
        for key in uniform:
            per_seed = cells[key].get(label, {})
            if not per_seed:
                continue
            h = key[2]
            ys = np.array(list(per_seed.values()))
            xs = h * (1 + 0.04 * (i - 1) + 0.01 * np.linspace(-1, 1, len(ys)))
            ax.scatter(xs[np.isfinite(ys)], ys[np.isfinite(ys)], s=9, color=f"C{i}", alpha=0.6)
            hs.append(h)
            meds.append(np.median(ys))
        if hs:
            ax.plot(hs, meds, "-o", color=f"C{i}", ms=4, label=f"opd {name}: median over seeds")
    hs = np.array([k[2] for k in uniform])
    ax.plot(hs, [lock_information_floor(h, 4, 0.2, FLOOR_DELTA) for h in hs], color="0.3", lw=2,
            label=f"information floor (sequential, δ={FLOOR_DELTA})")
    ax.plot(hs, [lock_information_floor(h, 4, 0.2, FLOOR_DELTA, rule="fixed") for h in hs], ":", color="0.3",
            lw=1.5, label="fixed plurality at 1 − δ/H")
    settle = settle_labels(4, 0.2, 0.01)[0]
    ax.plot(hs, settle * hs, "--", color="C0", lw=1.0,
            label=f"H × {settle:.1f}: uncertain's own test settling every state (δ=0.01)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon H")
    ax.set_ylabel("labels to open the lock (success 0.9)")
    ax.set_title("CombinationLock, 4 actions, uniform ε = 0.2: labels-to-target per seed", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    here = Path(__file__).parent
    main([Path(a) for a in sys.argv[1:]] or [here, here / "h160", here / "fixed_wrong", here / "tasks"])
