"""Sweeps: config validation before any run, records, resume after a kill, errors, backends."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import yaml

from baselines.sweep.config import cell_key, load_config, parse_config
from baselines.sweep.store import read_records
from baselines.sweep.runner import run_sweep

TINY = {
    "name": "tiny",
    "envs": [{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"noise": "uniform", "epsilon": 0.2},
              "grid": {"horizon": [2, 3]}}],
    "algorithms": [
        {"name": "bc", "updates_per_label": 0.5},
        {"name": "opd", "updates_per_label": 0.5, "label": "opd-sampled"},
    ],
    "budgets": [40],
    "seeds": 2,
    "eval_episodes": 3,
}
VOLATILE = ("wall_time_s", "finished_at")


def comparable(path: Path) -> dict[str, dict]:
    """ok records by cell key, without the fields that legitimately differ run to run."""
    out = {}
    for key, record in read_records(path).latest_ok().items():
        out[key] = {k: v for k, v in record.items() if k not in VOLATILE}
    return out


def test_config_expands_to_a_grid_with_stable_keys():
    config = parse_config(TINY)
    assert len(config.cells) == 2 * 2 * 1 * 2
    assert {c["env_kwargs"]["horizon"] for c in config.cells} == {2, 3}
    assert {c["label"] for c in config.cells} == {"bc(updates_per_label=0.5)", "opd-sampled"}
    keys = [cell_key(c) for c in config.cells]
    assert len(set(keys)) == len(keys)
    assert keys == [cell_key(c) for c in parse_config(copy.deepcopy(TINY)).cells]  # stable


def test_an_env_entry_can_restrict_its_algorithms():
    envs = [{"id": "NoisyExpert/CombinationLock-v0", "grid": {"horizon": [2, 3]}, "algorithms": ["opd-sampled"]},
            {"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"horizon": 4}}]
    cells = parse_config({**TINY, "envs": envs}).cells
    by_horizon = {h: sorted({c["label"] for c in cells if c["env_kwargs"]["horizon"] == h}) for h in (2, 3, 4)}
    assert by_horizon == {2: ["opd-sampled"], 3: ["opd-sampled"], 4: ["bc(updates_per_label=0.5)", "opd-sampled"]}
    assert len(cells) == (2 + 2) * 2  # (2 horizons x 1 algorithm + 1 horizon x 2 algorithms) x 2 seeds


def _with(**changes):
    raw = copy.deepcopy(TINY)
    for key, value in changes.items():
        raw[key] = value
    return raw


@pytest.mark.parametrize("raw, exc, key", [
    (_with(bugdets=[10]), ValueError, "bugdets"),
    (_with(algorithms=["bc", "ppo"]), ValueError, "algorithms[1].name"),
    (_with(algorithms=[{"name": "opd", "lossy": "x"}]), TypeError, "algorithms[0].lossy"),
    (_with(algorithms=[{"name": "opd", "loss": "nope"}]), ValueError, "algorithms[0]"),
    (_with(envs=[]), ValueError, "envs"),
    (_with(algorithms=[]), ValueError, "algorithms"),
    (_with(budgets=[0]), ValueError, "budgets"),
    (_with(budgets=["10"]), TypeError, "budgets"),
    (_with(budgets=[]), ValueError, "budgets"),
    (_with(seeds=0), ValueError, "seeds"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "grid": {"horizon": []}}]), ValueError, "envs[0].grid.horizon"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"hroizon": 3}}]), TypeError, "envs[0].kwargs"),
    (_with(envs=[{"id": "NoisyExpert/Nope-v0"}]), ValueError, "envs[0].id"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "colour": 1}]), ValueError, "envs[0].colour"),
    (_with(algorithms=["bc", "bc"]), ValueError, "algorithms"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "algorithms": ["ppo"]}]), ValueError, "envs[0].algorithms"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "algorithms": "bc"}]), TypeError, "envs[0].algorithms"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "algorithms": []}]), TypeError, "envs[0].algorithms"),
    (_with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "algorithms": ["bc", "bc"]}]), ValueError,
     "envs[0].algorithms"),
])
def test_bad_configs_fail_naming_the_key(raw, exc, key):
    with pytest.raises(exc, match=rf"config key '{__import__('re').escape(key)}'"):
        parse_config(raw)


EXPERIMENTS = sorted((Path(__file__).parent.parent / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.name for p in EXPERIMENTS])
def test_shipped_experiment_configs_validate(path):
    """Every config the README tells users to run loads (names, kwargs, envs that build) and has cells."""
    config = load_config(path)
    assert config.cells, path
    assert len({cell_key(c) for c in config.cells}) == len(config.cells)


def test_tiny_sweep_records_resume_and_config_guard(tmp_path):
    config = parse_config(TINY)
    summary = run_sweep(config, tmp_path, jobs=1, progress=False)
    assert (summary.total, summary.ok, summary.failed, summary.skipped) == (8, 8, 0, 0)
    records = read_records(tmp_path / "results.jsonl").records
    assert len(records) == 8
    rec = records[0]
    assert rec["status"] == "ok" and rec["cell_key"] == cell_key(rec["cell"])
    assert set(rec["versions"]) == {"noisy-expert-envs", "imitation", "stable-baselines3", "gymnasium", "torch", "numpy"}
    assert rec["labels_used"] <= rec["budget"] and "success_rate" in rec and "wall_time_s" in rec
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == TINY

    again = run_sweep(config, tmp_path, jobs=1, progress=False)
    assert (again.skipped, again.ok) == (8, 0)
    assert len(read_records(tmp_path / "results.jsonl").records) == 8  # nothing re-run, nothing rewritten

    before = (tmp_path / "results.jsonl").read_bytes()
    with pytest.raises(ValueError, match="key 'seeds'"):
        run_sweep(parse_config(_with(seeds=3)), tmp_path, jobs=1, progress=False)
    assert (tmp_path / "results.jsonl").read_bytes() == before


def test_a_failing_run_is_recorded_and_retried_on_resume(tmp_path, monkeypatch):
    import baselines.core.run as experiment

    real_train = experiment.train_spec  # the sweep trains the config's checked RunSpec, then evaluate()s

    def flaky(spec, on_round=None):
        if spec.seed == 1:
            raise RuntimeError("injected failure")
        return real_train(spec, on_round)

    monkeypatch.setattr(experiment, "train_spec", flaky)
    config = parse_config(TINY)
    summary = run_sweep(config, tmp_path, jobs=1, progress=False)
    assert (summary.ok, summary.failed) == (4, 4)
    errors = [r for r in read_records(tmp_path / "results.jsonl").records if r["status"] == "error"]
    assert len(errors) == 4 and "injected failure" in errors[0]["error"] and "Traceback" in errors[0]["traceback"]

    monkeypatch.setattr(experiment, "train_spec", real_train)
    resumed = run_sweep(config, tmp_path, jobs=1, progress=False)
    assert (resumed.skipped, resumed.ok, resumed.failed) == (4, 4, 0)
    stored = read_records(tmp_path / "results.jsonl")
    assert len(stored.latest_ok()) == 8 and stored.errors() == []


def test_parallel_and_serial_sweeps_give_the_same_records(tmp_path):
    config = parse_config(TINY)
    run_sweep(config, tmp_path / "serial", jobs=1, progress=False)
    run_sweep(config, tmp_path / "pool", jobs=2, progress=False)
    assert comparable(tmp_path / "serial" / "results.jsonl") == comparable(tmp_path / "pool" / "results.jsonl")


def test_cells_sharing_a_training_go_to_one_worker_with_the_same_records(tmp_path):
    from baselines.sweep.runner import _training_groups

    raw = {**TINY, "algorithms": [{"name": "opd", "updates_per_label": 0.5, "label": "greedy"},
                                  {"name": "opd", "updates_per_label": 0.5, "label": "sampled",
                                   "deterministic_eval": False}]}
    config = parse_config(raw)
    groups = _training_groups(config.cells)
    assert len(groups) == len(config.cells) // 2
    assert all(sorted(c["label"] for c in g) == ["greedy", "sampled"] for g in groups)
    threshold = parse_config({**{k: v for k, v in raw.items() if k != "budgets"}, "measure": "threshold",
                              "max_budget": 40, "target": 0.9})
    assert [len(g) for g in _training_groups(threshold.cells)] == [1] * len(threshold.cells)  # each its own search
    run_sweep(config, tmp_path / "serial", jobs=1, progress=False)
    run_sweep(config, tmp_path / "pool", jobs=2, progress=False)
    assert comparable(tmp_path / "serial" / "results.jsonl") == comparable(tmp_path / "pool" / "results.jsonl")


def test_a_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    killed = tmp_path / "killed"
    results = killed / "results.jsonl"
    cmd = [sys.executable, "-m", "baselines", "run", str(cfg), "--out", str(killed), "--jobs", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = read_records(results)
    assert 1 <= len(partial.records) < 8  # killed mid-way, and what is there reads back

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "already done" in resumed.stdout

    reference = tmp_path / "reference"
    run_sweep(load_config(cfg), reference, jobs=1, progress=False)
    assert comparable(results) == comparable(reference / "results.jsonl")
    assert len(read_records(results).records) == 8


@pytest.mark.ray
def test_ray_backend_gives_the_same_records_as_the_local_one(tmp_path):
    pytest.importorskip("ray", reason="the Ray backend needs the optional 'ray' extra (pip install '.[ray]')")
    small = _with(envs=[{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"horizon": 2}}])
    config = parse_config(small)
    run_sweep(config, tmp_path / "local", jobs=1, progress=False)
    summary = run_sweep(config, tmp_path / "ray", jobs=2, backend="ray", progress=False)
    assert (summary.ok, summary.failed) == (4, 0)
    assert comparable(tmp_path / "local" / "results.jsonl") == comparable(tmp_path / "ray" / "results.jsonl")


def test_records_are_json_lines(tmp_path):
    run_sweep(parse_config(_with(seeds=[5], budgets=[32], algorithms=[{"name": "bc", "updates_per_label": 0.25}])),
              tmp_path, jobs=1, progress=False)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["seed"] == 5 for line in lines)
