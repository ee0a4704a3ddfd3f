"""The token-chain experiment's figure: success vs chain length, one panel per (student, decoding).

The report's own success-vs-horizon plot draws all 20 labels of ``experiments/token_chain.yaml`` on
one axis; this splits them by the label's ``student/learner/decoding`` parts and draws the teacher's
own success (its sampled chains on the held-out prompts, 1000 per length) for reference::

    python experiments/token_chain_figure.py token-chain-results   # writes success_by_student.png there
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import matplotlib

import noisy_expert_envs  # noqa: F401  (registers the ids)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from baselines.analysis.summary import build_rows  # noqa: E402
from baselines.sweep.store import read_records  # noqa: E402

LEARNERS = ("sft", "sft_logits", "opd-forward_kl", "opd-reverse_kl", "opd-sampled")


def teacher_success(env_kwargs: dict, chain_length: int, episodes: int = 1000) -> float:
    """The fraction of held-out prompts the noisy teacher's own chains solve (seeds apart from any run's)."""
    kwargs = {**env_kwargs, "chain_length": chain_length, "split": "eval"}
    env = gym.make("NoisyExpert/TokenChain-v0", **kwargs)
    solved = 0
    for episode in range(episodes):
        _, info = env.reset(seed=10_000_000 + episode)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            done = terminated or truncated
        solved += bool(info["solved"])
    return solved / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="the --out directory of the sweep")
    args = parser.parse_args()
    records = list(read_records(args.results / "results.jsonl", legacy=True).latest_ok().values())
    rows = [r for r in build_rows(records) if r.success is not None and r.label.count("/") == 2]
    budget = max(r.budget for r in rows)
    students = sorted({r.label.split("/")[0] for r in rows})
    decodings = ("greedy", "sampled")
    fig, axes = plt.subplots(len(students), 2, figsize=(10, 3.6 * len(students)), sharex=True, sharey=True,
                             squeeze=False)
    chance = 1.0 / rows[0].env_kwargs.get("vocab_size", 10)
    lengths = sorted({r.env_kwargs["chain_length"] for r in rows})
    teacher = [teacher_success(rows[0].env_kwargs, n) for n in lengths]
    print("teacher's own success on held-out prompts:", dict(zip(lengths, teacher)))
    for i, student in enumerate(students):
        for j, decoding in enumerate(decodings):
            ax = axes[i][j]
            for learner in LEARNERS:
                label = f"{student}/{learner}/{decoding}"
                points = sorted((r.env_kwargs["chain_length"], r.success) for r in rows
                                if r.label == label and r.budget == budget)
                if not points:
                    continue
                xs = [x for x, _ in points]
                means = [s[0] for _, s in points]
                lo = [s[0] - (s[1] if s[1] is not None else s[0]) for _, s in points]
                hi = [(s[2] if s[2] is not None else s[0]) - s[0] for _, s in points]
                ax.errorbar(xs, means, yerr=[lo, hi], marker="o", capsize=3, label=learner)
            ax.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
            ax.plot(lengths, teacher, "k--", linewidth=1, label="teacher's own chains")
            ax.set_xscale("log", base=2)
            ax.set_xticks(lengths, [str(n) for n in lengths])
            ax.minorticks_off()
            ax.set_title(f"{student} student, {decoding} decoding")
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            if i == len(students) - 1:
                ax.set_xlabel("chain length")
            if j == 0:
                ax.set_ylabel(f"success on held-out prompts\n(budget {budget}, 95% CI over seeds)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    out = args.results / "success_by_student.png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
