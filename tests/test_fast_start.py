"""``noisy-expert-bench --help`` imports nothing heavy; ``--seeds``/``--set`` overrides reach config.yaml."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import require_baselines_stack

require_baselines_stack()

import yaml

from baselines.cli import main
from baselines.sweep.overrides import apply_overrides

# gymnasium is not in the list: the stack check at `import baselines` reads it through noisy_expert_envs.
HEAVY = ("torch", "stable_baselines3", "imitation", "datasets", "matplotlib")


def test_help_imports_no_heavy_module():
    code = ("import sys\nfrom baselines.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_overrides_edit_dotted_keys_and_list_items():
    raw = {"seeds": 3, "eval_episodes": 20, "envs": [{"id": "X", "grid": {"horizon": [10, 30]}}]}
    new = apply_overrides(raw, 1, ["eval_episodes=5", "envs.0.grid.horizon=[5,10]", "envs.0.kwargs.epsilon=0.1"])
    assert new == {"seeds": 1, "eval_episodes": 5, "envs": [{"id": "X", "grid": {"horizon": [5, 10]},
                                                              "kwargs": {"epsilon": 0.1}}]}
    assert raw["seeds"] == 3  # the input is not changed


@pytest.mark.parametrize("item, message", [
    ("nope=1", "unknown key 'nope' in the config; valid choices: seeds, eval_episodes, envs, name"),
    ("envs.3.id=Y", "envs is a list of 1; valid indices: 0..0"),
    ("envs.0.bad=1", "unknown key 'bad' in envs.0; valid choices: id, grid, kwargs"),
    ("seeds", "--set expects key=value, got 'seeds'"),
])
def test_bad_overrides_name_the_key_and_the_valid_choices(item, message):
    raw = {"seeds": 3, "eval_episodes": 20, "envs": [{"id": "X", "grid": {"horizon": [10, 30]}}]}
    with pytest.raises(ValueError) as err:
        apply_overrides(raw, None, [item])
    assert message in str(err.value)


def test_run_with_seeds_and_set_records_them_in_config_yaml(tmp_path, capsys):
    from test_sweep import TINY

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    code = main(["run", str(cfg), "--out", str(out), "--seeds", "1", "--set", "envs.0.grid.horizon=[2]",
                 "--set", "eval_episodes=2", "--no-progress"])
    assert code == 0
    stored = yaml.safe_load((out / "config.yaml").read_text())
    assert (stored["seeds"], stored["eval_episodes"], stored["envs"][0]["grid"]["horizon"]) == (1, 2, [2])
    assert "2 cells" in capsys.readouterr().out  # 1 horizon x 2 algorithms x 1 budget x 1 seed


def test_a_bad_override_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--set", "envs.0.bad=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'bad' in envs.0; valid choices:" in err[0]
    assert not out.exists()


def test_list_into_a_closed_pipe_exits_quietly():
    result = subprocess.run(f"{sys.executable} -m baselines list | head -1", shell=True, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip() == "environments:"
    assert "Broken pipe" not in result.stderr and "Error" not in result.stderr, result.stderr
