"""A small causal transformer student as an SB3 policy (``policy="transformer"``).

:class:`TokenTransformer` is an SB3 features extractor reading the observation as a sequence of
tokens: token + position embeddings, pre-norm causal self-attention blocks, and the hidden state at
one *readout* position as the features. :class:`TransformerPolicy` is an ``ActorCriticPolicy``
with it, so imitation's BC trainer, DAgger and OPD train it unchanged.

Observations as tokens:

- ``MultiDiscrete`` (e.g. TokenChain's token ids): SB3's ``preprocess_obs`` one-hot encodes every
  entry before any features extractor sees it. :class:`TransformerPolicy` skips that and hands the
  extractor the ids themselves; the extractor alone (``forward``, ``hidden_states``, e.g. in another
  SB3 policy) takes SB3's one-hot and recovers the ids (argmax per block, exact). Either way the ids
  are embedded with one table of ``max(nvec)`` rows, entry ``i`` as token ``obs[i]`` at position ``i``.
- ``Discrete``: one token.
- ``Box`` (e.g. CartPole): each feature is a token, embedded linearly (``x_i * w_i + b_i``, a
  weight and bias vector per feature).

The readout is the last position whose token is not ``pad_id`` (TokenChain pads the unwritten
chain with ``vocab_size``): the next token is predicted at the last written one, as in a language
model. With ``pad_id=None`` (the default; always for Box) it is the final position. Causal attention
means position ``i`` never reads a later position, so pads after the readout cannot change it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from noisy_expert_envs.validation import check_int, check_probability

#: The transformer's own ``policy_kwargs`` (:class:`TokenTransformer`'s arguments).
TRANSFORMER_KWARGS = ("d_model", "n_layers", "n_heads", "dropout", "pad_id")
#: Every ``policy_kwargs`` key ``policy="transformer"`` accepts: its own, plus SB3's ``net_arch``
#: (hidden layers between the readout state and the action and value heads; default none),
#: ``activation_fn`` (of those layers) and ``ortho_init`` (default off).
POLICY_KWARGS = (*TRANSFORMER_KWARGS, "net_arch", "activation_fn", "ortho_init")
#: SB3 keys the transformer policy sets itself (refused by :class:`TransformerPolicy`, saying so).
FIXED_KWARGS = ("features_extractor_class", "features_extractor_kwargs", "share_features_extractor")
#: The largest transformer policy built: its parameters as float32 (the documented students have
#: 10 000-30 000 parameters, about 0.1 MB; training needs about 4x this, with gradients and Adam's moments).
MAX_PARAMETER_BYTES = 2**30


def _layout(observation_space: spaces.Space) -> tuple[tuple[int, ...] | None, int]:
    """``(nvec, length)``: the token vocabulary per position (``None`` for a Box) and the sequence length."""
    if isinstance(observation_space, spaces.MultiDiscrete):
        nvec = tuple(int(n) for n in np.asarray(observation_space.nvec).ravel())
        return nvec, len(nvec)
    if isinstance(observation_space, spaces.Discrete):
        return (int(observation_space.n),), 1
    if isinstance(observation_space, spaces.Box):
        return None, int(np.prod(observation_space.shape))
    raise TypeError(f"the transformer policy reads MultiDiscrete, Discrete or Box observations, got {observation_space}")


def _layers(net_arch: Any) -> list[list[int]]:
    """The hidden layer widths of ``net_arch`` (a list of ints, or ``{"pi": [...], "vf": [...]}``),
    as [policy, value]; ``TypeError``/``ValueError`` naming it otherwise."""
    arch = net_arch if isinstance(net_arch, dict) else {"pi": net_arch, "vf": net_arch}
    if isinstance(net_arch, dict) and not set(net_arch) <= {"pi", "vf"}:
        raise ValueError(f"net_arch as a mapping takes keys 'pi' and 'vf', got {sorted(net_arch)}")
    widths = [arch.get("pi", []), arch.get("vf", [])]
    for layers in widths:
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f"net_arch must be a list of layer widths (or {{pi: [...], vf: [...]}}), got {net_arch!r}")
        for width in layers:
            check_int("net_arch layer width", width, minimum=1)
    return [list(layers) for layers in widths]


def parameter_count(observation_space: spaces.Space, d_model: int, n_layers: int,
                    action_space: spaces.Space | None = None, net_arch: Any = ()) -> int:
    """The parameters of a :class:`TokenTransformer` (and, with ``action_space``, of the
    :class:`TransformerPolicy` with ``net_arch`` around it), counted from the sizes alone."""
    nvec, length = _layout(observation_space)
    embedding = max(nvec) * d_model if nvec is not None else 2 * length * d_model
    block = 12 * d_model**2 + 13 * d_model  # qkv, proj, the 4x MLP, two LayerNorms
    total = embedding + length * d_model + n_layers * block + 2 * d_model
    if action_space is not None:
        outputs = [spaces.flatdim(action_space), 1]  # the action logits (or means), the value
        for layers, out in zip(_layers(net_arch), outputs):
            widths = [d_model, *layers, out]
            total += sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    return total


def check_size(parameters: int) -> None:
    """``ValueError`` naming the estimate if ``parameters`` float32 would exceed :data:`MAX_PARAMETER_BYTES`."""
    if 4 * parameters > MAX_PARAMETER_BYTES:
        raise ValueError(f"the transformer would have {parameters:_} parameters ({4 * parameters / 2**30:.3g} GiB "
                         f"as float32), more than the cap of {MAX_PARAMETER_BYTES / 2**30:g} GiB: use a smaller "
                         "d_model or n_layers")


def check_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``policy_kwargs`` for ``policy="transformer"``: ``TypeError`` for a key not in
    :data:`POLICY_KWARGS` (naming them) or an ill-typed ``net_arch``/``ortho_init``/``activation_fn``,
    ``ValueError`` for a ``net_arch`` width < 1; the transformer's own sizes are checked where it is built."""
    unknown = sorted(set(policy_kwargs) - set(POLICY_KWARGS) - set(FIXED_KWARGS))
    if unknown:
        raise TypeError(f"unknown policy_kwargs key {unknown[0]!r} for policy 'transformer'; valid keys: "
                        f"{list(POLICY_KWARGS)}")
    if "net_arch" in policy_kwargs:
        _layers(policy_kwargs["net_arch"])
    if not isinstance(policy_kwargs.get("ortho_init", False), bool):
        raise TypeError(f"ortho_init must be true or false, got {policy_kwargs['ortho_init']!r}")
    activation = policy_kwargs.get("activation_fn", nn.Tanh)
    if not (isinstance(activation, type) and issubclass(activation, nn.Module)):
        raise TypeError(f"activation_fn must be a torch.nn.Module class, got {activation!r}")
    return dict(policy_kwargs)


class CausalBlock(nn.Module):
    """Pre-norm transformer block: causal multi-head self-attention, then a GELU MLP (4x wide)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.drop = nn.Dropout(dropout)
        self.attn_dropout = dropout

    def forward(self, x: th.Tensor, readout: th.Tensor | None = None) -> th.Tensor:
        """``(B, length, d_model)`` -> the same shape; with ``readout`` (a position per row), only the
        outputs at those positions, ``(B, 1, d_model)``: the last block needs nothing else, and
        skipping the other positions' queries and MLP saves most of its cost."""
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        dropout = self.attn_dropout if self.training else 0.0
        if readout is None:
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            rows = th.arange(batch, device=x.device)
            x, q = x[rows, readout].unsqueeze(1), q[rows, :, readout].unsqueeze(2)  # (B, 1, W), (B, H, 1, d)
            visible = th.arange(length, device=x.device) <= readout[:, None]  # causal: keys up to the readout
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=visible[:, None, None, :],
                                                      dropout_p=dropout)
        x = x + self.drop(self.proj(attended.transpose(1, 2).reshape(batch, -1, width)))
        return x + self.drop(self.mlp(self.norm2(x)))


class TokenTransformer(BaseFeaturesExtractor):
    """Causal transformer features extractor; features = the hidden state at the readout position.

    Args:
        observation_space: ``MultiDiscrete``, ``Discrete`` or a ``Box`` (see the module docstring).
        d_model: width of embeddings and blocks (a multiple of ``n_heads``).
        n_layers: number of causal blocks.
        n_heads: attention heads per block.
        dropout: dropout probability in the blocks (0: none, the default).
        pad_id: the padding token id; the readout is the last non-pad position (None: the final
            position). Token observations only.
    """

    def __init__(self, observation_space: spaces.Space, d_model: int = 32, n_layers: int = 2, n_heads: int = 4,
                 dropout: float = 0.0, pad_id: int | None = None) -> None:
        d_model = check_int("d_model", d_model, minimum=1)
        n_layers = check_int("n_layers", n_layers, minimum=1)
        n_heads = check_int("n_heads", n_heads, minimum=1)
        if d_model % n_heads:
            raise ValueError(f"d_model must be a multiple of n_heads, got d_model={d_model}, n_heads={n_heads}")
        dropout = float(check_probability("dropout", dropout))
        nvec, length = _layout(observation_space)
        check_size(parameter_count(observation_space, d_model, n_layers))  # before anything is allocated
        super().__init__(observation_space, features_dim=d_model)
        self.nvec: tuple[int, ...] | None = nvec
        if pad_id is not None:
            if self.nvec is None:
                raise ValueError(f"pad_id applies to token observations (MultiDiscrete/Discrete), not {observation_space}")
            pad_id = check_int("pad_id", pad_id, minimum=0, maximum=max(self.nvec) - 1)
        self.pad_id = pad_id
        self.length = length
        if self.nvec is not None:
            self.token_embedding = nn.Embedding(max(self.nvec), d_model)
        else:
            self.feature_weight = nn.Parameter(th.empty(self.length, d_model))
            self.feature_bias = nn.Parameter(th.zeros(self.length, d_model))
        self.position_embedding = nn.Embedding(self.length, d_model)
        self.blocks = nn.ModuleList(CausalBlock(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self._init_weights(n_layers)

    def _init_weights(self, n_layers: int) -> None:
        """GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layers)."""
        for name, param in self.named_parameters():
            if param.dim() < 2:
                continue  # biases and LayerNorm gains keep torch's defaults (0 and 1)
            std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("proj.weight", "mlp.2.weight")) else 0.02
            nn.init.normal_(param, std=std)

    def token_ids(self, observations: th.Tensor) -> th.Tensor:
        """The token ids ``(B, length)`` from SB3's one-hot encoding ``(B, sum(nvec))``."""
        assert self.nvec is not None
        if len(set(self.nvec)) == 1:
            return observations.view(len(observations), self.length, self.nvec[0]).argmax(-1)
        return th.stack([block.argmax(-1) for block in th.split(observations, list(self.nvec), dim=1)], dim=1)

    def inputs(self, observations: th.Tensor) -> th.Tensor:
        """The sequence the blocks read, from SB3-preprocessed observations: token ids ``(B, length)``
        (long) for token spaces, the features ``(B, length)`` for a Box."""
        if self.nvec is not None:
            return self.token_ids(observations)
        return observations.reshape(len(observations), self.length)

    def _embed(self, inputs: th.Tensor) -> th.Tensor:
        if self.nvec is not None:
            x = self.token_embedding(inputs)
        else:
            x = inputs.unsqueeze(-1) * self.feature_weight + self.feature_bias
        return x + self.position_embedding.weight

    def hidden_states(self, observations: th.Tensor) -> th.Tensor:
        """Per-position outputs ``(B, length, d_model)`` of the (SB3-preprocessed) observations."""
        x = self._embed(self.inputs(observations))
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def readout_positions(self, inputs: th.Tensor) -> th.Tensor:
        """Per row of :meth:`inputs`, the position whose hidden state is the features (see the class
        docstring)."""
        if self.pad_id is None:
            return th.full((len(inputs),), self.length - 1, dtype=th.long, device=inputs.device)
        positions = th.arange(self.length, device=inputs.device)
        return th.where(inputs != self.pad_id, positions, 0).amax(dim=1)

    def features(self, inputs: th.Tensor) -> th.Tensor:
        """The hidden state at each row's readout position, ``(B, d_model)``, from :meth:`inputs`
        (equal to :meth:`hidden_states` there; the last block computes that position only)."""
        x = self._embed(inputs)
        for block in self.blocks[:-1]:
            x = block(x)
        return self.norm(self.blocks[-1](x, self.readout_positions(inputs)).squeeze(1))

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.features(self.inputs(observations))


class TransformerPolicy(ActorCriticPolicy):
    """``ActorCriticPolicy`` on a :class:`TokenTransformer` (action and value heads read its
    readout state directly: ``net_arch=[]`` unless given). SB3's orthogonal initialisation is off by
    default (the extractor has its own); ``policy.save`` / ``TransformerPolicy.load`` round-trip it
    (SB3's own format, a torch pickle: load only files you trust)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Any, *,
                 d_model: int = 32, n_layers: int = 2, n_heads: int = 4, dropout: float = 0.0,
                 pad_id: int | None = None, **kwargs: Any) -> None:
        for key in FIXED_KWARGS:
            if key in kwargs:
                raise TypeError(f"{key} is fixed by the transformer policy (one shared transformer); set "
                                f"d_model, n_layers, n_heads, dropout, pad_id instead")
        kwargs.setdefault("net_arch", [])
        kwargs.setdefault("ortho_init", False)
        # The whole policy's size, heads included, before SB3 allocates any of it (the extractor
        # checks its own part again, for use in other policies).
        check_size(parameter_count(observation_space, check_int("d_model", d_model, minimum=1),
                                   check_int("n_layers", n_layers, minimum=1), action_space, kwargs["net_arch"]))
        self.transformer_kwargs = {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads, "dropout": dropout,
                                   "pad_id": pad_id}
        super().__init__(observation_space, action_space, lr_schedule, features_extractor_class=TokenTransformer,
                         features_extractor_kwargs=dict(self.transformer_kwargs), **kwargs)

    def extract_features(self, obs: th.Tensor, features_extractor: Any = None) -> th.Tensor:  # type: ignore[override]
        """Token observations go to the transformer as ids: SB3 would one-hot encode every entry in a
        Python loop only for the extractor to take the argmax back (same features, less work)."""
        extractor = self.features_extractor if features_extractor is None else features_extractor
        if extractor.nvec is not None:
            return extractor.features(obs.long().reshape(len(obs), extractor.length))
        return super().extract_features(obs, extractor)

    # SB3's get_distribution and predict_values call BaseModel.extract_features directly (super()),
    # which would bypass the override above: the same three lines, through it.
    def get_distribution(self, obs: th.Tensor) -> Distribution:
        return self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(self.extract_features(obs)))

    def predict_values(self, obs: th.Tensor) -> th.Tensor:
        return self.value_net(self.mlp_extractor.forward_critic(self.extract_features(obs)))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        del data["features_extractor_class"], data["features_extractor_kwargs"]
        return {**data, **self.transformer_kwargs}
