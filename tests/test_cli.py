"""The noisy-expert-bench command: help, list, diagnose, config errors, and a tiny run + report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import yaml

from baselines.cli import build_parser, demo_config_text, main
from baselines.config import parse_config

TINY = {
    "name": "tiny-cli",
    "envs": [{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"horizon": 2}}],
    "algorithms": [{"name": "opd", "updates_per_round": 5, "label": "opd"}],
    "budgets": [20, 40],
    "seeds": 2,
    "eval_episodes": 2,
}

FLAGS = {
    "run": ["--out", "--jobs", "--backend", "--ray-address", "CONFIG"],
    "report": ["--target", "DIR"],
    "demo": ["--out", "--jobs"],
    "diagnose": ["ENV_ID", "key=value", "--episodes"],
    "list": [],
}


@pytest.mark.parametrize("command", sorted(FLAGS))
def test_help_of_each_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text
    for flag in FLAGS[command]:
        assert flag in text


def test_top_level_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in FLAGS:
        assert command in text


def test_module_and_console_script_entry_points():
    out = subprocess.run([sys.executable, "-m", "baselines", "list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "NoisyExpert/CombinationLock-v0" in out.stdout
    # The venv's bin folder need not be on PATH (make runs .venv/bin/python directly).
    beside = Path(sys.executable).with_name("noisy-expert-bench")
    script = str(beside) if beside.exists() else shutil.which("noisy-expert-bench")
    assert script is not None, "console script noisy-expert-bench not installed (pip install -e .)"
    assert subprocess.run([script, "--help"], capture_output=True, timeout=60).returncode == 0


def test_list_prints_ids_noise_models_algorithms_and_losses(capsys):
    import noisy_expert_envs

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for env_id in noisy_expert_envs.registered_ids():
        assert env_id in out
    for word in ("uniform", "epsilon=0.2", "boltzmann", "gaussian", "bc_clean", "dagger", "opd", "plurality", "gjsd"):
        assert word in out


def test_diagnose_discrete_and_box(capsys):
    assert main(["diagnose", "NoisyExpert/CombinationLock-v0", "horizon=10", "--episodes", "5"]) == 0
    out = capsys.readouterr().out
    assert "mode margin: min 0.8000" in out and "p0 = 0.8500" in out and "p^-H" in out
    assert main(["diagnose", "NoisyExpert/Pendulum-v1", "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    assert "mean |noisy - clean|" in out and "undefined" in out


def test_diagnose_bad_input_is_a_one_line_error(capsys):
    assert main(["diagnose", "NoisyExpert/CombinationLock-v0", "hroizon=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hroizon" in err
    assert main(["diagnose", "NoisyExpert/Nope-v0"]) == 2


@pytest.mark.parametrize("change, key", [({"colour": "red"}, "colour"), ({"algorithms": ["ppo"]}, "algorithms[0].name"),
                                         ({"envs": []}, "envs")])
def test_bad_config_exits_2_before_any_run(tmp_path, capsys, change, key):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, **change}))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{key}'" in err
    assert not out.exists()


def test_run_then_report(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--no-progress"]) == 0
    assert "4 run ok" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| opd | 20 | 2 |" in text and (out / "report.md").exists()
    assert (out / "return_vs_budget_NoisyExpert-CombinationLock-v0.png").exists()


def test_packaged_demo_config_is_valid():
    config = parse_config(yaml.safe_load(demo_config_text()))
    assert {c["algo"] for c in config.cells} == {"bc", "dagger", "opd"}
    assert {c["env_id"] for c in config.cells} == {"NoisyExpert/CombinationLock-v0", "NoisyExpert/CartPole-v1"}
    assert build_parser().parse_args(["demo"]).out == "demo-results"
