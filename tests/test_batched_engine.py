"""The batched engine (``--engine batched``): the single engine's training for S seeds at once.

Fast tests check one batched seed against the single path step by step (losses and parameters),
S seeds batched against each seed alone (data, accounting, RNG state, weights), the masked update,
the sweep's grouping and records, and the refusals; the ``slow`` test compares the two engines'
per-seed success and labels-to-target over 24 seeds statistically.
"""

from __future__ import annotations

import copy
import json

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import numpy as np
import torch as th
import yaml

from baselines.cli import main
from baselines.core.policies import make_policy
from baselines.core.run import RunSpec, train_spec
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task
from baselines.learners import get_learner, losses
from baselines.learners.batched import (StackedActor, StackedAdam, _seed_run, categorical_grads, check_batch,
                                        fit_stacked, stacked_loss, train_batched)
from baselines.learners.bc import fit
from baselines.sweep.config import ConfigError, parse_config
from baselines.sweep.store import read_records
from baselines.sweep.runner import run_sweep

LOCK = "NoisyExpert/CombinationLock-v0"
LOCK_KWARGS = {"horizon": 6, "noise": "uniform", "epsilon": 0.2, "n_actions": 4}
#: A Discrete and a Box task (the Gaussian head's log_std is stacked too).
TASKS = [(LOCK, LOCK_KWARGS), ("NoisyExpert/Pendulum-v1", {})]
#: Float tolerance of the batched engine against the single one (one Adam step is lr * g / (|g| + eps):
#: where |g| is near eps, the last bits of g move the step; a few 1e-6 after hundreds of steps).
RTOL, ATOL = 1e-4, 1e-5

TINY = {
    "name": "tiny-engine",
    "envs": [{"id": LOCK, "kwargs": {"noise": "uniform", "epsilon": 0.2}, "grid": {"horizon": [2, 3]}}],
    "algorithms": [{"name": "bc", "updates_per_label": 0.5},
                   {"name": "bc_clean", "updates_per_label": 0.5, "label": "bc-clean"},  # its labels are clean ones
                   {"name": "opd", "updates_per_label": 0.5, "label": "opd-sampled"}],
    "budgets": [40],
    "seeds": 3,
    "eval_episodes": 3,
}
VOLATILE = ("wall_time_s", "finished_at", "engine")


def _spec(seed: int, budget: int, env_id: str = LOCK, env_kwargs: dict | None = None, **settings) -> RunSpec:
    return RunSpec.check("bc", env_id, budget=budget, seed=seed,
                         env_kwargs=LOCK_KWARGS if env_kwargs is None else env_kwargs, **settings)


def _actor_parameters(policy) -> dict[str, th.Tensor]:
    return {name: p.detach() for name, p in policy.named_parameters()}


@pytest.mark.parametrize("env_id, env_kwargs", TASKS)
def test_one_batched_seed_takes_the_single_paths_steps(env_id, env_kwargs, monkeypatch):
    spec = _spec(0, 64, env_id, env_kwargs, updates_per_label=0.25)  # 16 steps over 2 epochs of batch 32
    task = Task(env_id, dict(env_kwargs))
    RunSeeds(0).seed_global()
    policy = make_policy(task)
    data = get_learner("bc").prepare(task, budget=64, seed=0, settings=spec.settings)
    single, batched = copy.deepcopy(policy), copy.deepcopy(policy)

    recorded: list[float] = []
    call = losses.DistillationLossCalculator.__call__

    def recording(self, *args):
        metrics = call(self, *args)
        recorded.append(float(metrics.loss))
        return metrics

    monkeypatch.setattr(losses.DistillationLossCalculator, "__call__", recording)
    fit(single, data.obs, data.targets, updates=16, batch_size=32, lr=spec.settings.lr,
        ent_weight=spec.settings.ent_weight, rng=RunSeeds(0).learner_rng())
    actor = StackedActor([batched])
    history = fit_stacked(actor, [_seed_run(batched, data, 0)], lr=spec.settings.lr, ent_weight=spec.settings.ent_weight)
    actor.write_back([batched])

    assert len(recorded) == 16 and history.shape == (1, 16)
    np.testing.assert_allclose(history[0].numpy(), recorded, rtol=1e-5)
    moved = 0
    for name, p in _actor_parameters(single).items():
        th.testing.assert_close(_actor_parameters(batched)[name], p, rtol=RTOL, atol=ATOL)
        moved += not th.equal(p, _actor_parameters(policy)[name])
    assert moved >= 5  # the policy was trained (the comparison is not of two untouched copies)


@pytest.mark.parametrize("env_id, env_kwargs", TASKS)
def test_seeds_batched_get_what_each_gets_alone(env_id, env_kwargs):
    # different budgets: different data sizes and step counts in one batch (the short ones masked)
    specs = [_spec(seed, budget, env_id, env_kwargs, updates_per_label=0.5)
             for seed, budget in [(0, 60), (1, 60), (2, 40), (5, 90)]]
    alone = [train_spec(spec) for spec in specs]
    together = train_batched(specs)
    for a, b in zip(alone, together):
        assert (b.seed, b.budget, b.accounting) == (a.seed, a.budget, a.accounting)
        assert th.equal(b.torch_rng, a.torch_rng)  # a sampled evaluation draws the same numbers
        for name, p in _actor_parameters(a.policy).items():
            th.testing.assert_close(_actor_parameters(b.policy)[name], p, rtol=RTOL, atol=ATOL, msg=name)
    assert alone[0].accounting.updates != alone[2].accounting.updates


@pytest.mark.parametrize("policy_kwargs", [None, {"activation_fn": th.nn.ReLU, "net_arch": [16, 8, 12]}])
def test_the_gradients_by_hand_are_autograds(policy_kwargs):
    task = Task(LOCK, dict(LOCK_KWARGS))
    actor = StackedActor([make_policy(task, None, policy_kwargs) for _ in range(3)])
    assert actor.by_hand
    x, y = th.rand(3, 32, task.observation_space.shape[0]), th.randint(0, 4, (3, 32))
    weights = th.full((3, 32), 1 / 32)
    weights[1, 20:] = 0.0  # a seed with a smaller batch
    by_hand = categorical_grads(actor, x, y, weights, 0.1)
    loss = stacked_loss(actor.forward(x), y, weights, 0.1, None)
    th.testing.assert_close(by_hand[0], loss.detach())
    for mine, reference in zip(by_hand[1], th.autograd.grad(loss.sum(), actor.parameters())):
        th.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-7)
    assert not StackedActor([make_policy(Task("NoisyExpert/Pendulum-v1", {}))]).by_hand  # Box: autograd


def test_a_stopped_seed_does_not_move_even_with_momentum():
    p = th.ones(3, 2, 2, requires_grad=True)
    adam = StackedAdam([p], lr=0.1)
    adam.step([th.ones(3, 2, 2)], None)  # every seed now has momentum
    before = (p.detach().clone(), adam.exp_avg[0].clone(), adam.exp_avg_sq[0].clone())
    adam.step([th.zeros(3, 2, 2)], th.tensor([True, False, True]))
    assert th.equal(p[1], before[0][1]) and th.equal(adam.exp_avg[0][1], before[1][1])
    assert th.equal(adam.exp_avg_sq[0][1], before[2][1])
    assert not th.equal(p[0], before[0][0])  # a zero gradient still moves an active seed (momentum)


@pytest.mark.parametrize("specs, words", [
    (lambda: [], ["at least one run"]),
    (lambda: [RunSpec.check("opd", LOCK, budget=20, seed=0)], ["'opd'", "['bc', 'bc_clean']"]),
    (lambda: [RunSpec.check("bc", LOCK, budget=20, seed=0, policy="transformer")], ["'transformer'", "'mlp'"]),
    (lambda: [_spec(0, 20), _spec(1, 20, lr=0.01)], ["differ only in seed and budget", "settings"]),
    (lambda: [_spec(0, 20), _spec(0, 30)], ["distinct seeds", "[0, 0]"]),
    (lambda: [RunSpec.check("bc", "NoisyExpert/Pendulum-v1", budget=20, seed=0, policy_kwargs={"use_sde": True})],
     ["'use_sde'", "['net_arch']"]),
])
def test_a_batch_the_engine_cannot_train_is_refused_before_any_work(specs, words):
    with pytest.raises(ValueError) as err:
        check_batch(specs())
    for word in words:
        assert word in str(err.value)


def _comparable(path) -> dict[str, dict]:
    return {key: {k: v for k, v in record.items() if k not in VOLATILE}
            for key, record in read_records(path).latest_ok().items()}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_batched_sweep_writes_the_single_sweeps_records_and_names_its_engine(tmp_path, jobs):
    run_sweep(parse_config(copy.deepcopy(TINY)), tmp_path / "single", progress=False)
    summary = run_sweep(parse_config(copy.deepcopy(TINY)), tmp_path / "batched", jobs=jobs, engine="batched",
                        progress=False)
    assert (summary.ok, summary.failed) == (18, 0)
    assert _comparable(tmp_path / "batched" / "results.jsonl") == _comparable(tmp_path / "single" / "results.jsonl")
    batched = read_records(tmp_path / "batched" / "results.jsonl").records
    engines = {(r["label"], r["engine"]) for r in batched}
    assert engines == {("bc(updates_per_label=0.5)", "batched"), ("bc-clean", "batched"),
                       ("opd-sampled", "single")}  # opd is not batched
    assert {r["clean_labels_used"] for r in batched if r["label"] == "bc-clean"} == {40}  # counted by the oracles
    assert {r["engine"] for r in read_records(tmp_path / "single" / "results.jsonl").records} == {"single"}


def test_resuming_with_the_other_engine_is_refused_naming_both(tmp_path):
    out = tmp_path / "out"
    run_sweep(parse_config(copy.deepcopy(TINY)), out, progress=False)
    before = (out / "results.jsonl").read_bytes()
    with pytest.raises(ConfigError) as err:
        run_sweep(parse_config(copy.deepcopy(TINY)), out, engine="batched", progress=False)
    for word in ("'single' engine", "--engine batched", "'batched' engine", "--engine single", "results.jsonl:"):
        assert word in str(err.value)
    assert (out / "results.jsonl").read_bytes() == before  # nothing written
    # and the other way round; records without an `engine` field (written before it) count as single
    lines = [{k: v for k, v in r.items() if k != "engine"} for r in read_records(out / "results.jsonl").records]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(ConfigError, match="by the 'single' engine"):
        run_sweep(parse_config(copy.deepcopy(TINY)), out, engine="batched", progress=False)
    assert run_sweep(parse_config(copy.deepcopy(TINY)), out, progress=False).skipped == 18


def test_a_batched_store_resumed_single_is_refused(tmp_path):
    out = tmp_path / "out"
    run_sweep(parse_config(copy.deepcopy(TINY)), out, engine="batched", progress=False)
    with pytest.raises(ConfigError, match="by the 'batched' engine.*--engine single"):
        run_sweep(parse_config(copy.deepcopy(TINY)), out, progress=False)
    assert run_sweep(parse_config(copy.deepcopy(TINY)), out, engine="batched", progress=False).skipped == 18


@pytest.mark.parametrize("kwargs, words", [
    ({"engine": "fast"}, ["'fast'", "['single', 'batched']"]),
    ({"engine": "batched", "backend": "ray"}, ["--engine batched", "local backend"]),
])
def test_a_bad_engine_is_refused_before_anything_is_written(tmp_path, kwargs, words):
    with pytest.raises(ConfigError) as err:
        run_sweep(parse_config(copy.deepcopy(TINY)), tmp_path / "out", progress=False, **kwargs)
    for word in words:
        assert word in str(err.value)
    assert not (tmp_path / "out").exists()


def test_the_cli_engine_flag(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(config), "--out", str(tmp_path / "out"), "--engine", "fast"])
    assert exit_info.value.code == 2 and "'fast'" in capsys.readouterr().err
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--engine", "batched", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'batched' engine" in err and "Traceback" not in err
    assert not any(tmp_path.glob("out/results.jsonl.*"))


def _labels_to_target(path, target: float) -> tuple[dict[int, float], dict[int, float]]:
    """Per seed: the smallest budget of the grid whose success reaches ``target`` (twice the largest
    budget if none: a censored value that keeps its rank), and the success at the largest budget."""
    records = read_records(path).latest_ok().values()
    budgets = sorted({r["budget"] for r in records})
    reached: dict[int, float] = {}
    for r in sorted(records, key=lambda r: r["budget"], reverse=True):
        if r["success_rate"] >= target:
            reached[r["seed"]] = r["budget"]
        else:
            reached.setdefault(r["seed"], 2 * budgets[-1])
    success = {r["seed"]: r["success_rate"] for r in records if r["budget"] == budgets[-1]}
    return reached, success


@pytest.mark.slow
def test_the_engines_agree_statistically_over_24_seeds(tmp_path):
    from scipy import stats

    config = {
        "name": "engines", "eval_episodes": 5, "seeds": 24,
        # horizon 16: the seeds' labels-to-target spread over the grid (median ~80, some not within 453)
        "envs": [{"id": LOCK, "kwargs": {"noise": "uniform", "epsilon": 0.2, "n_actions": 4, "horizon": 16}}],
        "algorithms": ["bc"], "budgets": [28, 40, 57, 80, 113, 160, 226, 320, 453],
    }
    found = {}
    for engine in ("single", "batched"):
        run_sweep(parse_config(copy.deepcopy(config)), tmp_path / engine, jobs=2, engine=engine, progress=False)
        found[engine] = _labels_to_target(tmp_path / engine / "results.jsonl", 0.9)
    (t_single, s_single), (t_batched, s_batched) = found["single"], found["batched"]
    for single, batched in ((t_single, t_batched), (s_single, s_batched)):
        a, b = np.array(list(single.values())), np.array(list(batched.values()))
        assert len(a) == len(b) == 24
        assert stats.mannwhitneyu(a, b).pvalue > 0.01
        assert abs(np.median(b) - np.median(a)) <= 0.15 * abs(np.median(a))
        print(f"single median {np.median(a)}, batched median {np.median(b)}, "
              f"{int(np.sum(a != b))} of 24 seeds differ")
    assert sum(t <= config["budgets"][-1] for t in t_single.values()) >= 12  # mostly reached: a real comparison


def test_cells_whose_policy_kwargs_the_engine_cannot_stack_stay_single(tmp_path):
    raw = {"name": "sde", "envs": [{"id": "NoisyExpert/Pendulum-v1"}], "seeds": 2, "budgets": [30], "eval_episodes": 1,
           "policy_kwargs": {"use_sde": True}, "algorithms": [{"name": "bc", "updates_per_label": 0.5}]}
    summary = run_sweep(parse_config(raw), tmp_path, engine="batched", progress=False)
    assert (summary.ok, summary.failed) == (2, 0)
    assert {r["engine"] for r in read_records(tmp_path / "results.jsonl").records} == {"single"}
