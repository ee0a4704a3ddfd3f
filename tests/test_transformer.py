"""The causal transformer student (``policy="transformer"``), TokenChain's held-out prompts and the
``sft_logits`` learner (offline distillation on the teacher's distribution)."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import preprocess_obs

from baselines import run
from baselines.sweep.config import parse_config
from baselines.learners import bc as bc_module
from baselines.core.policies import make_policy
from baselines.core.seeds import RunSeeds
from baselines.sweep.store import read_records
from baselines.core.task import Task
from baselines.core.transformer import TokenTransformer, TransformerPolicy

TOKENS = "NoisyExpert/TokenChain-v0"
CARTPOLE = "NoisyExpert/CartPole-v1"
CHAIN = dict(chain_length=4, vocab_size=10, prompt_length=4, split="train")
SMALL = {"d_model": 16, "n_layers": 2, "n_heads": 2}


def token_task(**kwargs) -> Task:
    return Task(TOKENS, {**CHAIN, **kwargs})


def params(policy) -> np.ndarray:
    return th.nn.utils.parameters_to_vector(policy.parameters()).detach().numpy().copy()


# -- the policy --------------------------------------------------------------------------------------


def test_token_ids_are_recovered_from_sb3_one_hot_blocks() -> None:
    for space in (spaces.MultiDiscrete([11] * 6), spaces.MultiDiscrete([3, 5, 2, 7]), spaces.Discrete(4)):
        extractor = TokenTransformer(space, **SMALL)
        obs = np.stack([space.sample() for _ in range(16)]).reshape(16, -1)
        one_hot = preprocess_obs(th.as_tensor(obs), space)
        assert th.equal(extractor.token_ids(one_hot), th.as_tensor(obs, dtype=th.long))


def test_attention_is_causal_and_the_readout_is_the_last_written_token() -> None:
    task = token_task(chain_length=6)
    th.manual_seed(0)
    extractor = make_policy(task, "transformer", {**SMALL, "pad_id": 10}).features_extractor
    env = task.make_env()
    obs, _ = env.reset(seed=3)
    for token in (1, 7):  # two written tokens, then pads
        obs, *_ = env.step(token)
    base = th.as_tensor(obs[None])
    space = task.observation_space
    states = extractor.hidden_states(preprocess_obs(base, space))
    for position in (2, 5, 7):
        changed = base.clone()
        changed[0, position] = (changed[0, position] + 3) % 10
        other = extractor.hidden_states(preprocess_obs(changed, space))
        assert th.allclose(other[0, :position], states[0, :position], atol=1e-6)  # earlier positions: unchanged
        assert not th.allclose(other[0, position], states[0, position], atol=1e-4)  # the changed one moves
    # The features are the state at the last written token (position 4 + 2 - 1), per row of a batch.
    first, _ = env.reset(seed=3)  # nothing written yet: the readout is the last prompt token
    ids = th.as_tensor(np.stack([obs, first]))
    batch = preprocess_obs(ids, space)
    assert extractor.readout_positions(ids).tolist() == [5, 3]
    features = extractor(batch)
    assert th.allclose(features[0], states[0, 5], atol=1e-5)
    assert th.allclose(features[1], extractor.hidden_states(batch)[1, 3], atol=1e-5)
    # The policy hands the ids to the extractor directly: the same features as through SB3's one-hot.
    policy = make_policy(task, "transformer", {**SMALL, "pad_id": 10})
    policy.features_extractor.load_state_dict(extractor.state_dict())
    assert th.allclose(policy.extract_features(ids.float()), features, atol=1e-6)
    distribution = policy.get_distribution(ids.float()).distribution.logits
    assert th.allclose(distribution, policy._get_action_dist_from_latent(features).distribution.logits, atol=1e-6)


def test_box_observations_are_one_token_per_feature() -> None:
    task = Task(CARTPOLE)
    th.manual_seed(0)
    policy = make_policy(task, "transformer", SMALL)
    extractor = policy.features_extractor
    obs = th.as_tensor(np.stack([task.make_env().reset(seed=i)[0] for i in range(5)]))
    states = extractor.hidden_states(obs)
    assert states.shape == (5, 4, 16)
    changed = obs.clone()
    changed[:, 2] += 1.0
    assert th.allclose(extractor.hidden_states(changed)[:, :2], states[:, :2], atol=1e-6)
    assert th.allclose(extractor(obs), states[:, -1], atol=1e-5)  # no pad: the final position
    actions, _ = policy.predict(obs.numpy(), deterministic=True)
    assert actions.shape == (5,)


@pytest.mark.parametrize("env_id, env_kwargs, policy_kwargs", [
    (TOKENS, CHAIN, {**SMALL, "pad_id": 10}), (CARTPOLE, {}, SMALL)], ids=["token_chain", "cartpole"])
@pytest.mark.parametrize("algo, settings", [
    ("bc", {}), ("dagger", {"round_min_timesteps": 16, "round_min_episodes": 1}), ("opd", {}),
    ("sft_logits", {})], ids=["bc", "dagger", "opd", "sft_logits"])
def test_every_learner_trains_the_transformer(env_id, env_kwargs, policy_kwargs, algo, settings) -> None:
    result = run(algo, env_id, budget=48, seed=1, env_kwargs=env_kwargs, policy="transformer",
                 policy_kwargs=policy_kwargs, eval_episodes=2, **settings)
    assert isinstance(result.policy, TransformerPolicy)
    assert result.labels_used == 48 and result.updates == 96
    RunSeeds(1).seed_global()  # as run() does before building the policy: the same initial weights
    untrained = make_policy(Task(env_id, env_kwargs), "transformer", policy_kwargs)
    assert not np.allclose(params(untrained), params(result.policy))  # the gradient steps reached it


@pytest.mark.slow
def test_the_transformer_learns_a_short_chain() -> None:
    kwargs = dict(chain_length=2, vocab_size=4, prompt_length=2, noise="teacher", temperature=0.5)
    result = run("bc", TOKENS, budget=400, seed=0, env_kwargs=kwargs, policy="transformer",
                 policy_kwargs={**SMALL, "pad_id": 4}, eval_episodes=20)
    assert result.success_rate >= 0.8  # chance is 1/4


def test_same_seed_same_policy_and_results() -> None:
    kw = dict(budget=32, env_kwargs=CHAIN, policy="transformer", policy_kwargs={**SMALL, "pad_id": 10},
              eval_episodes=3, deterministic_eval=False, loss="reverse_kl")
    a, b, c = run("opd", TOKENS, seed=4, **kw), run("opd", TOKENS, seed=4, **kw), run("opd", TOKENS, seed=5, **kw)
    assert np.array_equal(params(a.policy), params(b.policy))
    assert a.to_record() | {"wall_time_s": 0} == b.to_record() | {"wall_time_s": 0}
    assert not np.array_equal(params(a.policy), params(c.policy))


@pytest.mark.filterwarnings("ignore:Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
def test_round_trips_through_sb3_save_and_load(tmp_path, monkeypatch) -> None:
    task = token_task()
    policy = make_policy(task, "transformer", {**SMALL, "pad_id": 10, "dropout": 0.1})
    obs = np.stack([task.observation_space.sample() for _ in range(8)])
    policy.set_training_mode(False)
    expected = policy.get_distribution(policy.obs_to_tensor(obs)[0]).distribution.probs.detach()
    policy.save(tmp_path / "policy.pt")
    # SB3's load is torch.load of its own pickle format, which torch >= 2.6 refuses by default: the
    # opt-in below trusts the file this test just wrote.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    loaded = TransformerPolicy.load(str(tmp_path / "policy.pt"))
    assert loaded.transformer_kwargs == {**SMALL, "pad_id": 10, "dropout": 0.1}
    loaded.set_training_mode(False)
    got = loaded.get_distribution(loaded.obs_to_tensor(obs)[0]).distribution.probs.detach()
    assert th.allclose(got, expected)
    # The safe route: tensors only (weights_only=True) into a policy built from the same kwargs.
    th.save(policy.state_dict(), tmp_path / "weights.pt")
    rebuilt = make_policy(task, "transformer", {**SMALL, "pad_id": 10, "dropout": 0.1})
    rebuilt.load_state_dict(th.load(tmp_path / "weights.pt", weights_only=True))
    rebuilt.set_training_mode(False)
    assert th.allclose(rebuilt.get_distribution(rebuilt.obs_to_tensor(obs)[0]).distribution.probs, expected)


def test_bad_transformer_arguments_are_named() -> None:
    task = token_task()
    with pytest.raises(ValueError, match="multiple of n_heads"):
        make_policy(task, "transformer", {"d_model": 10, "n_heads": 4})
    with pytest.raises(ValueError, match="pad_id"):
        make_policy(task, "transformer", {"pad_id": 11})
    with pytest.raises(ValueError, match="pad_id applies to token observations"):
        make_policy(Task(CARTPOLE), "transformer", {"pad_id": 0})
    with pytest.raises(ValueError, match=r"policy.*'mlp', 'transformer'"):
        make_policy(task, "lstm")
    with pytest.raises(TypeError, match="fixed by the transformer policy"):
        make_policy(task, "transformer", {"features_extractor_kwargs": {}})
    with pytest.raises(ValueError, match=r"config key 'algorithms\[0\].policy'.*valid choices"):
        parse_config({"envs": [TOKENS], "algorithms": [{"name": "bc", "policy": "lstm"}], "budgets": [10]})


VALID_KEYS = r"valid keys: \['d_model', 'n_layers', 'n_heads', 'dropout', 'pad_id', 'net_arch', 'activation_fn', 'ortho_init'\]"


def test_unknown_transformer_policy_kwargs_are_refused_naming_the_valid_keys() -> None:
    with pytest.raises(TypeError, match=rf"^unknown policy_kwargs key 'd_modle' for policy 'transformer'; {VALID_KEYS}$"):
        make_policy(token_task(), "transformer", {"d_modle": 16})
    with pytest.raises(TypeError, match=rf"^config key 'policy_kwargs': cannot build .*'d_modle'.*{VALID_KEYS}$"):
        parse_config({"envs": [{"id": TOKENS, "kwargs": CHAIN}], "algorithms": ["bc"], "budgets": [10],
                      "policy": "transformer", "policy_kwargs": {"d_modle": 16}})


def _widths(layers) -> list[int]:
    return [m.out_features for m in layers if isinstance(m, th.nn.Linear)]


def test_net_arch_is_honoured_between_the_readout_and_the_heads() -> None:
    policy = make_policy(token_task(), "transformer", {**SMALL, "net_arch": [24, 8]})
    assert _widths(policy.mlp_extractor.policy_net) == [24, 8] and policy.action_net.in_features == 8
    split = make_policy(token_task(), "transformer", {**SMALL, "net_arch": {"pi": [8], "vf": [4]}})
    assert _widths(split.mlp_extractor.policy_net) == [8] and _widths(split.mlp_extractor.value_net) == [4]
    plain = make_policy(token_task(), "transformer", SMALL)  # default: the heads read the readout state
    assert _widths(plain.mlp_extractor.policy_net) == [] and plain.action_net.in_features == 16


@pytest.mark.parametrize("kwargs, error, message", [
    ({"net_arch": [16, 0]}, ValueError, r"net_arch layer width must be an integer >= 1, got 0"),
    ({"net_arch": "wide"}, TypeError, r"net_arch must be a list of layer widths"),
    ({"net_arch": {"pi": [8], "qf": [8]}}, ValueError, r"net_arch as a mapping takes keys 'pi' and 'vf', got \['pi', 'qf'\]"),
    ({"ortho_init": "yes"}, TypeError, r"ortho_init must be true or false, got 'yes'"),
    ({"activation_fn": "relu"}, TypeError, r"activation_fn must be a torch.nn.Module class, got 'relu'"),
    ({"n_layers": 0}, ValueError, r"n_layers must be an integer >= 1, got 0"),
    ({"d_model": 2.5}, TypeError, r"d_model must be an integer, got 2.5"),
    ({"dropout": 1.5}, ValueError, r"dropout must be a probability in \[0, 1\], got 1.5"),
])
def test_transformer_settings_are_range_checked(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        make_policy(token_task(), "transformer", kwargs)


@pytest.mark.parametrize("task, kwargs", [
    (lambda: token_task(), {**SMALL, "pad_id": 10}),
    (lambda: token_task(), {"d_model": 8, "n_layers": 3, "n_heads": 2, "net_arch": {"pi": [5, 3], "vf": [7]}}),
    (lambda: Task(CARTPOLE), {**SMALL, "net_arch": [12]}),
])
def test_the_parameter_estimate_is_the_built_policys_count(task, kwargs) -> None:
    from baselines.core.transformer import parameter_count

    task = task()
    policy = make_policy(task, "transformer", kwargs)
    estimate = parameter_count(task.observation_space, kwargs["d_model"], kwargs["n_layers"], task.action_space,
                               kwargs.get("net_arch", []))
    assert estimate == sum(p.numel() for p in policy.parameters())


def test_a_transformer_too_large_to_fit_is_refused_before_any_allocation(monkeypatch) -> None:
    from baselines.core import transformer

    def no_allocation(*args, **kwargs):
        raise AssertionError("a block was allocated before the size check")

    monkeypatch.setattr(transformer.CausalBlock, "__init__", no_allocation)
    monkeypatch.setattr(transformer.BaseFeaturesExtractor, "__init__", no_allocation)
    message = r"the transformer would have [\d_]+ parameters \([\d.e+]+ GiB as float32\), more than the cap of 1 GiB"
    with pytest.raises(ValueError, match=message):
        make_policy(token_task(), "transformer", {"d_model": 2**20, "n_heads": 1})
    with pytest.raises(ValueError, match=message):  # the extractor alone (in another SB3 policy) too
        TokenTransformer(token_task().observation_space, d_model=2**15, n_layers=8)
    assert transformer.parameter_count(token_task().observation_space, 2**12, 1) * 4 < transformer.MAX_PARAMETER_BYTES


def test_a_config_sets_policy_and_decoding_per_algorithm() -> None:
    config = parse_config({
        "envs": [{"id": TOKENS, "kwargs": CHAIN}], "budgets": [10], "policy_kwargs": {"net_arch": [8]},
        "algorithms": [
            {"name": "bc", "label": "mlp"},
            {"name": "bc", "label": "tf-sampled", "policy": "transformer", "policy_kwargs": {**SMALL, "pad_id": 10},
             "deterministic_eval": False}]})
    mlp, tf = config.cells
    assert "policy" not in mlp and mlp["policy_kwargs"] == {"net_arch": [8]} and mlp["deterministic_eval"] is True
    assert tf["policy"] == "transformer" and tf["policy_kwargs"]["pad_id"] == 10 and tf["deterministic_eval"] is False
    with pytest.raises(TypeError, match="policy_kwargs"):  # each policy is built once at parse time
        parse_config({"envs": [TOKENS], "budgets": [10],
                      "algorithms": [{"name": "bc", "policy": "transformer", "policy_kwargs": {"width": 3}}]})


# -- held-out prompts --------------------------------------------------------------------------------


def prompts(task: Task, episodes: int, first_seed: int = 0) -> set[tuple[int, ...]]:
    env = task.make_env()
    return {tuple(int(t) for t in env.reset(seed=first_seed + i)[0][:4]) for i in range(episodes)}


def test_training_and_evaluation_prompts_are_disjoint() -> None:
    train, held_out = prompts(token_task(), 600), prompts(token_task().evaluation_task(), 300)
    assert not train & held_out
    assert len(train) > 400 and len(held_out) > 200  # 10**4 prompts: both sides are large
    everything = prompts(token_task(split=None), 600)
    assert everything & train and everything & held_out
    reseeded = prompts(token_task(split="eval", split_seed=1), 300)
    assert reseeded - held_out  # the split seed moves prompts between the sides


def test_learners_train_on_training_prompts_and_run_evaluates_held_out(monkeypatch) -> None:
    seen: dict[str, set] = {"train": set(), "eval": set()}
    from noisy_expert_envs.tasks.token_chain import TokenChainEnv

    reset = TokenChainEnv.reset

    def spy(self, **kwargs):
        obs, info = reset(self, **kwargs)
        seen[self.split].add(tuple(int(t) for t in obs[:4]))
        return obs, info

    monkeypatch.setattr(TokenChainEnv, "reset", spy)
    for algo, settings in (("bc", {}), ("opd", {}), ("dagger", {"round_min_timesteps": 8}), ("sft_logits", {})):
        run(algo, TOKENS, budget=40, seed=0, env_kwargs=CHAIN, eval_episodes=5, **settings)
    assert seen["train"] and seen["eval"] and not seen["train"] & seen["eval"]


def test_a_split_without_prompts_on_one_side_is_refused() -> None:
    with pytest.raises(ValueError, match="every prompt is on the"):
        for seed in range(50):  # 2 prompts: some seed puts both on one side
            Task(TOKENS, dict(vocab_size=2, prompt_length=1, split="train", split_seed=seed)).action_space
    with pytest.raises(ValueError, match="split"):
        Task(TOKENS, dict(split="test")).action_space


# -- sft_logits ----------------------------------------------------------------------------------------


def test_sft_logits_trains_on_the_teacher_distribution_at_teacher_written_prefixes(monkeypatch) -> None:
    captured = {}
    fit = bc_module.fit

    def spy(policy, obs, acts, **kwargs):
        captured.update(obs=np.asarray(obs), targets=np.asarray(acts), loss=kwargs["loss"], updates=kwargs["updates"])
        return fit(policy, obs, acts, **kwargs)

    monkeypatch.setattr(bc_module, "fit", spy)
    env_kwargs = {**CHAIN, "noise": "teacher", "temperature": 1.0}
    result = run("sft_logits", TOKENS, budget=60, seed=2, env_kwargs=env_kwargs, eval_episodes=2)
    obs, targets = captured["obs"], captured["targets"]
    assert result.labels_used == 60 == len(obs)  # one query per state
    assert captured["loss"] == "forward_kl" and captured["updates"] == 120
    oracle = Task(TOKENS, env_kwargs).oracle(0)
    np.testing.assert_allclose(targets, oracle.probs(obs), rtol=1e-6)  # the whole distribution
    assert (targets > 0).sum(axis=1).min() == 10
    # The states are the teacher's own chains: each prefix extends the previous one by a token the
    # teacher wrote, and some of those tokens are its mistakes.
    written = (obs[:, 4:] != 10).sum(axis=1)
    clean = oracle.clean(obs)
    mistakes = 0
    for i in range(len(obs) - 1):
        if written[i + 1] == written[i] + 1:
            token = obs[i + 1, 4 + written[i]]
            assert np.array_equal(obs[i + 1, :4 + written[i]], obs[i, :4 + written[i]])
            mistakes += int(token != clean[i])
        else:
            assert written[i + 1] == 0  # a new chain
    assert mistakes > 0


def test_sft_logits_moves_the_student_towards_the_teacher_distribution() -> None:
    env_kwargs = {**CHAIN, "chain_length": 1, "noise": "teacher", "temperature": 1.0}
    task = Task(TOKENS, env_kwargs)
    result = run("sft_logits", TOKENS, budget=300, seed=0, env_kwargs=env_kwargs, eval_episodes=2)
    obs = np.stack([task.make_env().reset(seed=i)[0] for i in range(30)])
    teacher = task.oracle(0).probs(obs)
    student = result.policy.get_distribution(result.policy.obs_to_tensor(obs)[0]).distribution.probs.detach().numpy()
    kl = (teacher * (np.log(teacher) - np.log(student))).sum(axis=1).mean()
    assert kl < 0.5 * (teacher * (np.log(teacher) - np.log(1 / 10))).sum(axis=1).mean()  # far below uniform's


def test_sft_logits_needs_discrete_actions() -> None:
    with pytest.raises(ValueError, match="sft_logits.*Discrete"):
        run("sft_logits", "NoisyExpert/Pendulum-v1", budget=10, seed=0)


def test_greedy_and_sampled_decoding_cells_share_one_training(tmp_path, monkeypatch) -> None:
    from baselines.core import run as core_run
    from baselines.sweep import runner

    trainings = []
    train = core_run.train_spec  # what the sweep trains a config's cell with
    monkeypatch.setattr(core_run, "train_spec", lambda *a, **k: trainings.append(a) or train(*a, **k))
    monkeypatch.setattr(runner, "_TRAINED", type(runner._TRAINED)())
    raw = {"envs": [{"id": TOKENS, "kwargs": CHAIN}], "budgets": [24, 32], "seeds": 2, "eval_episodes": 6,
           "algorithms": [{"name": "opd", "label": "greedy"},
                          {"name": "opd", "label": "sampled", "deterministic_eval": False}]}
    summary = runner.run_sweep(parse_config(raw), tmp_path, jobs=1)
    assert summary.ok == 8 and len(trainings) == 4  # one training per (budget, seed)
    stored = read_records(tmp_path / "results.jsonl").latest_ok().values()
    records = {(r["label"], r["budget"], r["seed"]): r for r in stored}
    assert len(records) == 8
    for (label, budget, seed), record in records.items():  # the same records as fresh runs
        fresh = run("opd", TOKENS, budget=budget, seed=seed, env_kwargs=CHAIN, eval_episodes=6,
                    deterministic_eval=label == "greedy").to_record()
        for field in ("success_rate", "mean_return", "labels_used", "updates", "settings"):
            assert record[field] == fresh[field], (label, budget, seed, field)
