"""Distillation losses as an imitation ``BC`` loss calculator.

imitation's BC trainer only knows the log-loss on one action per state. OPD also needs losses
against the teacher's whole distribution, so this calculator replaces ``bc.loss_calculator``; the
targets travel through BC's data loader in the ``acts`` field as probability rows ``(B, n)``.

Every learner here (bc, dagger, opd) trains with it, also on one-action labels: imitation's
``BehaviorCloningLossCalculator`` computes the same loss through ``policy.evaluate_actions``, which
also runs the value head BC never uses, and it sums the squares of every parameter for the L2 term
even at weight 0. Reading only the action distribution gives the same loss and gradients at less
than half the cost of a gradient step (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import dataclasses

import torch as th
import torch.nn.functional as F
from imitation.algorithms.bc import BCTrainingMetrics
from stable_baselines3.common.policies import ActorCriticPolicy

#: Losses on one action label per state (work for any action space).
LABEL_LOSSES = ("sampled", "plurality")
#: Losses on the teacher's whole distribution (Discrete actions only).
DISTRIBUTION_LOSSES = ("forward_kl", "reverse_kl", "gjsd")
LOSSES = LABEL_LOSSES + DISTRIBUTION_LOSSES
#: Losses that need Discrete actions (a plurality vote and distributions are over action indices).
DISCRETE_ONLY_LOSSES = ("plurality",) + DISTRIBUTION_LOSSES

_LOG_FLOOR = 1e-8  # teacher probabilities are floored before logs (reverse KL needs log p > -inf)


def generalized_jsd(student_logp: th.Tensor, teacher_p: th.Tensor, beta: float) -> th.Tensor:
    """Per-row generalized Jensen-Shannon divergence as in GKD / TRL's ``generalized_jsd_loss``.

    ``beta = 0`` is forward KL(teacher || student), ``beta = 1`` reverse KL(student || teacher);
    in between, ``beta * KL(teacher || M) + (1 - beta) * KL(student || M)`` with
    ``M = beta * teacher + (1 - beta) * student``.
    """
    teacher_logp = th.log(teacher_p.clamp_min(_LOG_FLOOR))
    student_p = student_logp.exp()
    if beta == 0.0:
        return (teacher_p * (teacher_logp - student_logp)).sum(-1)
    if beta == 1.0:
        return (student_p * (student_logp - teacher_logp)).sum(-1)
    mixture_logp = th.log(beta * teacher_p + (1.0 - beta) * student_p).clamp_min(th.log(th.tensor(_LOG_FLOOR)))
    kl_teacher = (teacher_p * (teacher_logp - mixture_logp)).sum(-1)
    kl_student = (student_p * (student_logp - mixture_logp)).sum(-1)
    return beta * kl_teacher + (1.0 - beta) * kl_student


@dataclasses.dataclass(frozen=True)
class DistillationLossCalculator:
    """Drop-in for ``BehaviorCloningLossCalculator`` supporting every OPD loss.

    Label losses are imitation's BC loss (log-loss of ``acts``); distribution losses read teacher
    probabilities from ``acts``. Entropy and L2 regularisation follow imitation's definitions (the
    L2 norm is reported as 0 when ``l2_weight`` is 0, since it is then not computed).
    """

    loss: str
    beta: float = 0.5
    ent_weight: float = 1e-3
    l2_weight: float = 0.0

    def __call__(self, policy: ActorCriticPolicy, obs: th.Tensor, acts: th.Tensor) -> BCTrainingMetrics:
        distribution = policy.get_distribution(obs)
        entropy = distribution.entropy()
        entropy = entropy.mean() if entropy is not None else None
        if self.loss in LABEL_LOSSES:
            log_prob = distribution.log_prob(acts)
            divergence = -log_prob.mean()
            prob_target = th.exp(log_prob).mean()
        else:
            teacher_p = th.as_tensor(acts, dtype=th.float32)
            student_logp = F.log_softmax(distribution.distribution.logits, dim=-1)
            beta = {"forward_kl": 0.0, "reverse_kl": 1.0}.get(self.loss, self.beta)
            divergence = generalized_jsd(student_logp, teacher_p, beta).mean()
            prob_target = student_logp.exp().gather(1, teacher_p.argmax(-1, keepdim=True)).mean()
        ent_loss = -self.ent_weight * (entropy if entropy is not None else th.zeros(()))
        l2_norm = sum(th.sum(th.square(w)) for w in policy.parameters()) / 2 if self.l2_weight else th.zeros(())
        l2_loss = self.l2_weight * l2_norm
        return BCTrainingMetrics(
            neglogp=divergence,
            entropy=entropy,
            ent_loss=ent_loss,
            prob_true_act=prob_target,
            l2_norm=l2_norm,
            l2_loss=l2_loss,
            loss=divergence + ent_loss + l2_loss,
        )
