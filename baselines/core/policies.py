"""Learner policies: a name (``"mlp"``, ``"transformer"``), any SB3 ``ActorCriticPolicy`` class
with ``policy_kwargs``, or an instance."""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy

from baselines.core.transformer import TransformerPolicy, check_policy_kwargs
from noisy_expert_envs.validation import check_choice

DEFAULT_NET_ARCH = [64, 64]

#: Policies by name (``run(policy=...)`` and configs): the MLP default and the causal transformer.
POLICIES: dict[str, type[ActorCriticPolicy]] = {"mlp": ActorCriticPolicy, "transformer": TransformerPolicy}


def make_policy(
    task: Any,
    policy: str | type[ActorCriticPolicy] | ActorCriticPolicy | None = None,
    policy_kwargs: dict[str, Any] | None = None,
) -> ActorCriticPolicy:
    """Build the learner: ``policy`` may be a name of :data:`POLICIES` (``"mlp"``: a plain
    ``ActorCriticPolicy``, default ``net_arch=[64, 64]``; ``"transformer"``:
    :class:`~baselines.core.transformer.TransformerPolicy`, ``policy_kwargs`` ``d_model``, ``n_layers``,
    ``n_heads``, ``dropout``, ``pad_id``, ``net_arch``, ``activation_fn``, ``ortho_init``, any other key
    refused naming them, sizes beyond :data:`~baselines.core.transformer.MAX_PARAMETER_BYTES` refused before
    anything is allocated), an ``ActorCriticPolicy`` subclass (built with
    ``policy_kwargs``; default ``net_arch=[64, 64]``), a ready instance (used as given, spaces
    checked), or ``None`` for ``"mlp"``. ``task`` is anything with ``observation_space`` and
    ``action_space`` (a :class:`~baselines.core.task.Task` or an env)."""
    if isinstance(policy, BasePolicy):
        if policy_kwargs:
            raise TypeError("policy_kwargs cannot be combined with a policy instance")
        if policy.observation_space != task.observation_space or policy.action_space != task.action_space:
            raise ValueError(
                f"policy spaces ({policy.observation_space}, {policy.action_space}) do not match the "
                f"task's ({task.observation_space}, {task.action_space})"
            )
        return policy  # type: ignore[return-value]
    if isinstance(policy, str):
        policy = POLICIES[check_choice("policy", policy, tuple(POLICIES))]
    cls = ActorCriticPolicy if policy is None else policy
    if not (isinstance(cls, type) and issubclass(cls, ActorCriticPolicy)):
        raise TypeError(f"policy must be one of {sorted(POLICIES)}, an ActorCriticPolicy subclass or instance, "
                        f"got {policy!r}")
    if issubclass(cls, TransformerPolicy):
        kwargs = check_policy_kwargs(policy_kwargs or {})
    else:
        kwargs = {"net_arch": DEFAULT_NET_ARCH, **(policy_kwargs or {})}
    # BC builds its own optimizer; the policy's lr_schedule is never used for training.
    return cls(task.observation_space, task.action_space, lr_schedule=lambda _: 0.0, **kwargs)
