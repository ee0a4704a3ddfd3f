"""The batched engine: S seeds of one BC cell trained at once, as one stacked model.

Each seed is prepared exactly as the single engine prepares it (:func:`baselines.core.run.train_spec`:
its torch seed, its SB3 policy, its demonstrations from :meth:`BC.prepare`, so the labels and the
oracle's query counts are the same), then the actor paths of the S policies (their
``mlp_extractor.policy_net`` and ``action_net``, plus ``log_std`` for Box actions) are stacked and
trained together: one forward and one backward per gradient step for all seeds. Each seed keeps its
own data, its own minibatch stream (the permutations :class:`ShuffledBatches` would draw from its
``RunSeeds(seed).learner_rng()``), its own batch size and number of steps, and the single engine's
optimizer: Adam (lr, betas (0.9, 0.999), eps 1e-8, no weight decay) on the loss of
:class:`DistillationLossCalculator` with the one-action ``sampled`` loss (log-loss minus
``ent_weight`` times the entropy). After training, each seed's weights are copied back into its SB3
policy, so evaluation and records are those of the single engine.

Stacked weights and ``torch.baddbmm`` rather than ``torch.func.stack_module_state`` + ``vmap``:
measured on this machine (one torch thread, [64, 64] MLP, batch 32, CombinationLock H = 20) a
forward and backward of the stacked model took 83 us per seed at S = 10 and 78 us at S = 40 with
``baddbmm``, against 185 us and 104 us with ``vmap`` over ``functional_call`` and 290 us and 156 us
with ``vmap(grad(...))``: ``vmap``'s dispatch costs more than the matmuls of these small networks.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Sequence

import numpy as np
import torch as th
from stable_baselines3.common.distributions import CategoricalDistribution, DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

#: The learners the batched engine trains (the others, and ``policy: transformer``, train on the single engine).
BATCHED_ALGOS = ("bc", "bc_clean")
#: Adam's constants, as ``torch.optim.Adam``'s defaults (the single engine's optimizer).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Gradient steps whose minibatch indices are turned into one torch tensor at a time (bounds memory).
_INDEX_CHUNK = 256


#: The MLP ``policy_kwargs`` the engine stacks; any other (``use_sde``, a features extractor, ...) may
#: build a policy it cannot stack, so such runs stay on the single engine instead of failing.
BATCHED_POLICY_KWARGS = frozenset({"net_arch"})


def batchable(algo: str, policy: Any, policy_kwargs: dict[str, Any] | None = None) -> bool:
    """Whether the batched engine trains runs of ``algo`` with ``policy`` (a name or ``None``) and
    ``policy_kwargs``."""
    return algo in BATCHED_ALGOS and policy in (None, "mlp") and set(policy_kwargs or {}) <= BATCHED_POLICY_KWARGS


def batch_indices(n: int, batch_size: int, updates: int, rng: np.random.Generator) -> np.ndarray:
    """The ``(updates, batch_size)`` indices of the minibatches the single engine draws: epochs of a
    fresh ``rng.permutation(n)``, ``n // batch_size`` full batches each (:class:`ShuffledBatches`).

    imitation's ``set_demonstrations`` reads the first batch of a fresh pass to check its size, so
    the single engine's first permutation is drawn and never trained on: it is drawn here too.
    """
    rng.permutation(n)
    per_epoch = n // batch_size
    epochs = math.ceil(updates / per_epoch)
    rows = [rng.permutation(n)[:per_epoch * batch_size].reshape(per_epoch, batch_size) for _ in range(epochs)]
    return np.concatenate(rows)[:updates].astype(np.int64)


def _linear_path(policy: ActorCriticPolicy) -> list[nn.Module]:
    """The actor path of an SB3 MLP policy as modules (``Linear`` and parameter-free activations);
    ``TypeError`` for a policy the engine cannot stack."""
    if not isinstance(policy.action_dist, (CategoricalDistribution, DiagGaussianDistribution)) or policy.use_sde:
        raise TypeError(f"the batched engine trains Discrete or Box (Gaussian) actions, not "
                        f"{type(policy.action_dist).__name__}{' with gSDE' if policy.use_sde else ''}")
    if any(True for _ in policy.pi_features_extractor.parameters()):
        raise TypeError(f"the batched engine needs a parameter-free features extractor, not "
                        f"{type(policy.pi_features_extractor).__name__}")
    path = [*policy.mlp_extractor.policy_net, policy.action_net]
    for module in path:
        if not isinstance(module, nn.Linear) and any(True for _ in module.parameters()):
            raise TypeError(f"the batched engine stacks Linear layers and parameter-free activations, not {module}")
    return path


class StackedActor:
    """The actor paths of S policies of one architecture as stacked tensors (leaves with gradients).

    ``weights[i]`` is ``(S, in, out)`` (transposed, for ``baddbmm``), ``biases[i]`` ``(S, 1, out)``;
    ``log_std`` is ``(S, 1, k)`` for Box actions, else ``None``.
    """

    def __init__(self, policies: Sequence[ActorCriticPolicy]) -> None:
        paths = [_linear_path(p) for p in policies]
        shapes = {tuple(tuple(m.weight.shape) if isinstance(m, nn.Linear) else type(m) for m in path)
                  for path in paths}
        if len(shapes) != 1:
            raise ValueError(f"the policies of one batch must share their architecture, got {len(shapes)} different")
        self.ops: list[int | nn.Module] = []  # an index into weights/biases, or an activation
        self.weights: list[th.Tensor] = []
        self.biases: list[th.Tensor] = []
        for i, module in enumerate(paths[0]):
            if isinstance(module, nn.Linear):
                self.ops.append(len(self.weights))
                self.weights.append(self._stack([path[i].weight.T for path in paths]))
                self.biases.append(self._stack([path[i].bias[None] for path in paths]))
            else:
                self.ops.append(module)
        gaussian = isinstance(policies[0].action_dist, DiagGaussianDistribution)
        self.log_std = self._stack([p.log_std[None] for p in policies]) if gaussian else None

    @staticmethod
    def _stack(tensors: list[th.Tensor]) -> th.Tensor:
        return th.stack([t.detach() for t in tensors]).contiguous().requires_grad_(True)

    def parameters(self) -> list[th.Tensor]:
        return [*self.weights, *self.biases, *([self.log_std] if self.log_std is not None else [])]

    def forward(self, features: th.Tensor) -> th.Tensor:
        """``(S, B, in)`` features to ``(S, B, out)`` logits (or Gaussian means)."""
        x = features
        for op in self.ops:
            x = th.baddbmm(self.biases[op], x, self.weights[op]) if isinstance(op, int) else op(x)
        return x

    @property
    def by_hand(self) -> bool:
        """Whether :func:`categorical_grads` applies: Categorical actions, Linear layers with Tanh
        or ReLU between them."""
        hidden = self.ops[1::2]
        alternating = all(isinstance(op, int) for op in self.ops[::2]) and len(self.ops) % 2 == 1
        return self.log_std is None and alternating and all(type(op) in _ACTIVATIONS for op in hidden)

    def loss_and_grads(self, x: th.Tensor, y: th.Tensor, weights: th.Tensor,
                       ent_weight: float) -> tuple[th.Tensor, list[th.Tensor]]:
        """Per-seed loss ``(S,)`` of :func:`stacked_loss` and its gradients, in :meth:`parameters` order."""
        if self.by_hand:
            return categorical_grads(self, x, y, weights, ent_weight)
        loss = stacked_loss(self.forward(x), y, weights, ent_weight, self.log_std)
        return loss.detach(), list(th.autograd.grad(loss.sum(), self.parameters()))  # seeds are independent

    @th.no_grad()
    def write_back(self, policies: Sequence[ActorCriticPolicy]) -> None:
        """Copy seed ``s``'s trained weights into ``policies[s]`` (the SB3 policy evaluation uses)."""
        for s, policy in enumerate(policies):
            linears = [m for m in _linear_path(policy) if isinstance(m, nn.Linear)]
            for layer, weight, bias in zip(linears, self.weights, self.biases):
                layer.weight.copy_(weight[s].T)
                layer.bias.copy_(bias[s, 0])
            if self.log_std is not None:
                policy.log_std.copy_(self.log_std[s, 0])


def stacked_loss(out: th.Tensor, targets: th.Tensor, weights: th.Tensor, ent_weight: float,
                 log_std: th.Tensor | None) -> th.Tensor:
    """Per-seed ``(S,)`` loss of :class:`DistillationLossCalculator` (``sampled``): the mean log-loss
    of the labels minus ``ent_weight`` times the mean entropy, the means weighted by ``weights``
    ``(S, B)`` (``1 / batch_size`` on a seed's rows, 0 on padding)."""
    if log_std is None:  # Categorical, as torch.distributions computes log_prob and entropy
        logp = th.log_softmax(out, dim=-1)
        log_prob = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        entropy = -(logp.clamp(min=th.finfo(logp.dtype).min) * logp.exp()).sum(-1)
    else:  # diagonal Gaussian with a state-independent log_std, summed over action dimensions
        var = th.exp(2 * log_std)
        log_prob = (-((targets - out) ** 2) / (2 * var) - log_std - math.log(math.sqrt(2 * math.pi))).sum(-1)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(-1).expand_as(log_prob)
    return -(log_prob * weights).sum(-1) - ent_weight * (entropy * weights).sum(-1)


#: ``activation -> d activation / d input``, written in terms of the activation's output ``h``.
_DERIVATIVES = {nn.Tanh: lambda h: 1 - h * h, nn.ReLU: lambda h: (h > 0).to(h.dtype)}
#: The activations, in place on a fresh matmul output. tanh as 2 sigmoid(2x) - 1: within 2e-7 of
#: ``torch.tanh``, which on this torch build (2.13 CPU) takes 2.4x as long (54 against 22 us on a
#: (10, 32, 64) tensor), a tenth of a whole step at S = 10.
_ACTIVATIONS = {nn.Tanh: lambda z: th.sigmoid_(z.mul_(2)).mul_(2).sub_(1), nn.ReLU: th.relu_}


@th.no_grad()
def categorical_grads(actor: StackedActor, x: th.Tensor, y: th.Tensor, weights: th.Tensor,
                      ent_weight: float) -> tuple[th.Tensor, list[th.Tensor]]:
    """:func:`stacked_loss` for Categorical actions and its gradients, backpropagated by hand.

    The same arithmetic as autograd's, without building a graph: measured at S = 10, 440 us per
    forward and backward against 640 us through autograd (little difference at S = 40). With
    ``logp = log_softmax(z)``, ``p = exp(logp)`` and entropy ``H``, the gradient of the loss at the
    logits is ``w * (p - onehot(y) + ent_weight * p * (logp + H))``.
    """
    outputs = [x]  # the input of each Linear layer, then the logits
    for i, op in enumerate(actor.ops[::2]):
        z = th.baddbmm(actor.biases[op], outputs[-1], actor.weights[op])
        outputs.append(_ACTIVATIONS[type(actor.ops[2 * i + 1])](z) if 2 * i + 1 < len(actor.ops) else z)
    logp = th.log_softmax(outputs[-1], dim=-1)
    p = logp.exp()
    entropy = -(logp.clamp(min=th.finfo(logp.dtype).min) * p).sum(-1, keepdim=True)
    log_prob = logp.gather(-1, y.unsqueeze(-1))
    loss = -(log_prob.squeeze(-1) * weights).sum(-1) - ent_weight * (entropy.squeeze(-1) * weights).sum(-1)
    dz = p * (logp + entropy).mul_(ent_weight).add_(1)
    dz.scatter_add_(-1, y.unsqueeze(-1), th.full_like(log_prob, -1.0)).mul_(weights.unsqueeze(-1))
    n = len(actor.weights)
    grad_w: list[th.Tensor] = [th.empty(0)] * n
    grad_b: list[th.Tensor] = [th.empty(0)] * n
    for i in reversed(range(n)):
        grad_w[i] = th.bmm(outputs[i].transpose(1, 2), dz)
        grad_b[i] = dz.sum(1, keepdim=True)
        if i:
            derivative = _DERIVATIVES[type(actor.ops[2 * i - 1])]
            dz = th.bmm(dz, actor.weights[i].transpose(1, 2)).mul_(derivative(outputs[i]))
    return loss, grad_w + grad_b


class StackedAdam:
    """Adam over stacked parameters whose seeds may stop early (``torch.optim.Adam``'s update).

    Every seed starts at step 0 and steps until its own count is reached, so the seeds still
    training share one step count. A seed that has stopped must not move at all: Adam with a zero
    gradient still moves by momentum, so its *update* is masked, not its gradient.
    """

    def __init__(self, params: list[th.Tensor], lr: float) -> None:
        self.params = params
        self.lr = lr
        self.exp_avg = [th.zeros_like(p) for p in params]
        self.exp_avg_sq = [th.zeros_like(p) for p in params]
        self.steps = 0

    @th.no_grad()
    def step(self, grads: Sequence[th.Tensor], active: th.Tensor | None) -> None:
        """One update with ``grads``; ``active`` ``(S,)`` bools (``None``: every seed steps)."""
        self.steps += 1
        beta1, beta2 = ADAM_BETAS
        step_size = self.lr / (1 - beta1 ** self.steps)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** self.steps)
        params, moments, squares = self.params, self.exp_avg, self.exp_avg_sq
        before = None if active is None else [[t.clone() for t in group] for group in (params, moments, squares)]
        # torch.optim.Adam's foreach update (one kernel launch per operation for all tensors)
        th._foreach_lerp_(moments, grads, 1 - beta1)
        th._foreach_mul_(squares, beta2)
        th._foreach_addcmul_(squares, grads, grads, 1 - beta2)
        denom = th._foreach_sqrt(squares)
        th._foreach_div_(denom, bias_correction2_sqrt)
        th._foreach_add_(denom, ADAM_EPS)
        th._foreach_addcdiv_(params, moments, denom, -step_size)
        if before is not None:  # stopped seeds get their parameters and moments back
            for group, olds in zip((params, moments, squares), before):
                for tensor, old in zip(group, olds):
                    keep = active.view(-1, *([1] * (tensor.dim() - 1)))
                    tensor.copy_(th.where(keep, tensor, old))


@dataclasses.dataclass
class SeedRun:
    """What one seed of a batch brings to the stacked training: its features (the policy's
    parameter-free features extractor applied once), targets, minibatch indices and settings."""

    features: th.Tensor
    targets: th.Tensor
    indices: np.ndarray
    batch_size: int


def fit_stacked(actor: StackedActor, runs: Sequence[SeedRun], *, lr: float, ent_weight: float) -> th.Tensor:
    """Train the stacked actor, seed ``s`` for ``len(runs[s].indices)`` steps on its own minibatches;
    returns the ``(S, steps)`` loss of every seed at every step it took (NaN after its last)."""
    S = len(runs)
    n_max = max(len(r.features) for r in runs)
    batch = max(r.batch_size for r in runs)
    updates = np.array([len(r.indices) for r in runs])
    features = th.zeros(S * n_max, *runs[0].features.shape[1:], dtype=runs[0].features.dtype)
    targets = th.zeros(S * n_max, *runs[0].targets.shape[1:], dtype=runs[0].targets.dtype)
    weights = th.zeros(S, batch)
    for s, run in enumerate(runs):
        features[s * n_max:s * n_max + len(run.features)] = run.features
        targets[s * n_max:s * n_max + len(run.targets)] = run.targets
        weights[s, :run.batch_size] = 1.0 / run.batch_size
    adam = StackedAdam(actor.parameters(), lr)
    history = th.full((S, int(updates.max())), math.nan)
    for start in range(0, int(updates.max()), _INDEX_CHUNK):
        chunk = _flat_indices(runs, start, min(_INDEX_CHUNK, int(updates.max()) - start), n_max, batch)
        for k, flat in enumerate(chunk, start=start):
            x = features.index_select(0, flat).view(S, batch, *features.shape[1:])
            y = targets.index_select(0, flat).view(S, batch, *targets.shape[1:])
            loss, grads = actor.loss_and_grads(x, y, weights, ent_weight)
            active = None if k < updates.min() else th.as_tensor(k < updates)
            adam.step(grads, active)
            history[:, k] = loss
    return history.masked_fill_(th.as_tensor(np.arange(history.shape[1]) >= updates[:, None]), math.nan)


def _flat_indices(runs: Sequence[SeedRun], start: int, count: int, n_max: int, batch: int) -> th.Tensor:
    """``(count, S * batch)`` row indices into the seeds' concatenated data for steps ``start..``:
    seed ``s``'s minibatch at its offset ``s * n_max``, padded (row 0 of its data, weight 0) where its
    batch is smaller or its steps are over."""
    out = np.zeros((count, len(runs), batch), dtype=np.int64)
    for s, run in enumerate(runs):
        rows = run.indices[start:start + count]
        out[:len(rows), s, :run.batch_size] = rows
        out[:, s] += s * n_max
    return th.from_numpy(out.reshape(count, -1))


def train_batched(specs: Sequence[Any]) -> list[Any]:
    """Train checked :class:`~baselines.core.run.RunSpec` s that differ only in seed and budget, as
    one stacked model; returns each one's :class:`~baselines.core.run.Trained`, as
    :func:`~baselines.core.run.train_spec` would (``wall_time_s``: the batch's training time over
    its seeds). ``ValueError`` for specs the engine does not batch, before any work."""
    from baselines.core.run import Trained, check_accounting, seeded_start, training_scope
    from baselines.learners import get_learner

    check_batch(specs)
    settings = specs[0].settings
    start = time.perf_counter()
    prepared = []
    with training_scope():
        for spec in specs:  # each seed as train_spec starts it: seed, policy, then the learner's data
            task, policy = seeded_start(spec)
            # The oracles' count is the cost, as in train_spec: all of a seed's labels are drawn here.
            with task.metered(spec.budget) as meter:
                data = get_learner(spec.algo).prepare(task, budget=spec.budget, seed=spec.seed,
                                                      settings=spec.settings)
            check_accounting(spec.algo, data.accounting, meter, "prepare() returned")
            # Training draws no torch random numbers, so this is the state train_spec ends with.
            prepared.append((task, policy, data, th.get_rng_state(), meter.clean_labels))
        policies = [policy for _, policy, *_ in prepared]
        actor = StackedActor(policies)
        runs = [_seed_run(policy, data, spec.seed) for spec, (_, policy, data, *_) in zip(specs, prepared)]
        fit_stacked(actor, runs, lr=settings.lr, ent_weight=settings.ent_weight)
        actor.write_back(policies)
    wall = (time.perf_counter() - start) / len(specs)
    return [Trained(spec.algo, spec.env_id, task, spec.budget, spec.seed, spec.settings, policy, data.accounting,
                    wall, rng, clean) for spec, (task, policy, data, rng, clean) in zip(specs, prepared)]


def _seed_run(policy: ActorCriticPolicy, data: Any, seed: int) -> SeedRun:
    from baselines.core.seeds import RunSeeds

    with th.no_grad():
        # BaseModel's extract_features: what get_distribution applies (shared extractor or not)
        features = super(ActorCriticPolicy, policy).extract_features(th.tensor(np.asarray(data.obs)),
                                                                     policy.pi_features_extractor)
    targets = th.tensor(np.asarray(data.targets))
    indices = batch_indices(len(data.obs), data.batch_size, data.accounting.updates, RunSeeds(seed).learner_rng())
    return SeedRun(features, targets, indices, data.batch_size)


def check_batch(specs: Sequence[Any]) -> None:
    """``ValueError`` unless ``specs`` is a non-empty batch the engine trains: a batched learner, the
    MLP policy, and the same run but for seed and budget (distinct seeds)."""
    if not specs:
        raise ValueError("a batch needs at least one run")
    first = specs[0]
    if not batchable(first.algo, first.policy, first.policy_kwargs):
        raise ValueError(f"the batched engine trains algorithms {list(BATCHED_ALGOS)} with policy 'mlp' and "
                         f"policy_kwargs among {sorted(BATCHED_POLICY_KWARGS)}; got {first.algo!r} with policy "
                         f"{first.policy!r} and policy_kwargs {first.policy_kwargs!r}")
    shared = ("algo", "env_id", "settings", "env_kwargs", "policy", "policy_kwargs")
    for spec in specs[1:]:
        for name in shared:
            if getattr(spec, name) != getattr(first, name):
                raise ValueError(f"the runs of one batch may differ only in seed and budget; {name} "
                                 f"{getattr(spec, name)!r} is not {getattr(first, name)!r}")
    seeds = [spec.seed for spec in specs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs of one batch need distinct seeds, got {seeds}")
