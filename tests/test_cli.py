"""The noisy-expert-bench command: help, list, diagnose, config errors, and a tiny run + report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import yaml

from baselines.cli import build_parser, demo_config_text, main
from baselines.sweep.config import parse_config

TINY = {
    "name": "tiny-cli",
    "envs": [{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"horizon": 2}}],
    "algorithms": [{"name": "opd", "updates_per_label": 0.5, "label": "opd"}],
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


# --- exit codes: every file-system or config error is exit 2 with one line naming the path ------


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture()
def tiny_config(tmp_path) -> Path:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    return cfg


@pytest.fixture()
def finished(tmp_path, tiny_config, fake_runs, capsys) -> Path:
    out = tmp_path / "out"
    assert main(["run", str(tiny_config), "--out", str(out), "--no-progress"]) == 0
    fake_runs.clear()
    capsys.readouterr()
    return out


def test_out_naming_a_file_exits_2_and_writes_nothing(tmp_path, tiny_config, capsys):
    out = tmp_path / "a-file"
    out.write_text("mine")
    assert main(["run", str(tiny_config), "--out", str(out)]) == 2
    _one_line_error(capsys, str(out), "not a directory")
    assert main(["report", str(out)]) == 2
    _one_line_error(capsys, str(out), "not a directory")
    assert out.read_text() == "mine"


def _tear(out: Path) -> bytes:
    """Add a torn last line (which a resume would move aside): proof that nothing was changed."""
    with open(out / "results.jsonl", "ab") as f:
        f.write(b'{"schema": "noisy')
    return (out / "results.jsonl").read_bytes()


def test_unwritable_results_file_exits_2_naming_it_and_changes_nothing(finished, tiny_config, capsys, monkeypatch):
    import os

    before = _tear(finished)
    results = str(finished / "results.jsonl")
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):  # what an immutable (chattr +i) file does, even for root
        if str(path) == results and flags & os.O_WRONLY:
            raise PermissionError(1, "Operation not permitted", results)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    assert main(["run", str(tiny_config), "--out", str(finished)]) == 2
    _one_line_error(capsys, results, "Operation not permitted")
    assert (finished / "results.jsonl").read_bytes() == before
    assert not list(finished.glob("results.jsonl.torn-*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only files (covered by the OSError test above)")
def test_read_only_results_file_exits_2(finished, tiny_config, capsys):
    before = _tear(finished)
    (finished / "results.jsonl").chmod(0o444)
    assert main(["run", str(tiny_config), "--out", str(finished)]) == 2
    _one_line_error(capsys, "results.jsonl", "Permission denied")
    assert (finished / "results.jsonl").read_bytes() == before


@pytest.mark.parametrize("text, words", [
    ("envs: [unclosed\n", ["not valid YAML", "line"]),
    ("", ["empty, or not a mapping"]),
    ("- just\n- a list\n", ["not a mapping"]),
    ("name: a\nname: b\n", ["duplicate key 'name'", "line 2"]),
])
def test_corrupt_config_yaml_in_the_results_directory_exits_2(finished, tiny_config, capsys, text, words):
    (finished / "config.yaml").write_text(text)
    before = (finished / "results.jsonl").read_bytes()
    assert main(["run", str(tiny_config), "--out", str(finished)]) == 2
    _one_line_error(capsys, "config.yaml", *words)
    assert main(["report", str(finished)]) == 2
    _one_line_error(capsys, "config.yaml")
    assert (finished / "results.jsonl").read_bytes() == before and (finished / "config.yaml").read_text() == text


def test_adopt_accepts_records_whose_config_was_deleted(finished, tiny_config, capsys, fake_runs):
    (finished / "config.yaml").unlink()
    assert main(["run", str(tiny_config), "--out", str(finished)]) == 2
    _one_line_error(capsys, "config.yaml", "--adopt")
    assert main(["run", str(tiny_config), "--out", str(finished), "--adopt", "--no-progress"]) == 0
    assert "4 already done, 0 run ok" in capsys.readouterr().out and fake_runs == []
    assert yaml.safe_load((finished / "config.yaml").read_text()) == TINY


def test_a_record_of_another_sweep_exits_2_naming_its_line(finished, tiny_config, tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**TINY, "name": "another"}))
    out2 = tmp_path / "out2"
    assert main(["run", str(other), "--out", str(out2), "--no-progress"]) == 0
    capsys.readouterr()
    foreign = (out2 / "results.jsonl").read_bytes().splitlines(keepends=True)[0]
    with open(finished / "results.jsonl", "ab") as f:
        f.write(foreign)
    assert main(["run", str(tiny_config), "--out", str(finished)]) == 2
    _one_line_error(capsys, "results.jsonl:5", "record of another config")
    assert main(["report", str(finished)]) == 2
    _one_line_error(capsys, "results.jsonl:5", "record of another config")


def test_unwritable_report_directory_exits_2(finished, capsys, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    assert main(["report", str(finished), "--no-plots"]) == 2
    _one_line_error(capsys, str(finished / "report.md"), "Permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories (covered by the test above)")
def test_read_only_report_directory_exits_2(finished, capsys):
    finished.chmod(0o555)
    try:
        assert main(["report", str(finished)]) == 2
        _one_line_error(capsys, str(finished), "Permission denied")
    finally:
        finished.chmod(0o755)


@pytest.mark.parametrize("content, words", [
    (b"envs: [\n", ["not valid YAML"]),
    (b"name: a\nenvs: []\nname: b\n", ["duplicate key 'name'", "line 3"]),
    (b"\xff\xfe\x00bad", ["not UTF-8"]),
    (None, ["Is a directory"]),
])
def test_unreadable_or_corrupt_config_argument_exits_2(tmp_path, capsys, content, words):
    cfg = tmp_path / "cfg.yaml"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_bytes(content)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    _one_line_error(capsys, str(cfg), *words)
    assert not out.exists()


def test_unavailable_backend_exits_2_before_writing_into_out(tmp_path, tiny_config, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the 'ray' extra were not installed
    out = tmp_path / "out"
    assert main(["run", str(tiny_config), "--out", str(out), "--backend", "ray"]) == 2
    _one_line_error(capsys, "needs Ray")
    assert not out.exists()


def test_a_large_grid_needs_yes(tmp_path, tiny_config, capsys, monkeypatch, fake_runs):
    import baselines.cli as cli

    monkeypatch.setattr(cli, "LARGE_GRID", 3)  # TINY has 4 runs
    out = tmp_path / "out"
    assert main(["run", str(tiny_config), "--out", str(out)]) == 2  # pytest's stdin is not a terminal
    _one_line_error(capsys, "4 runs", "--yes")
    assert not out.exists() and fake_runs == []
    assert main(["run", str(tiny_config), "--out", str(out), "--yes", "--no-progress"]) == 0
    assert len(fake_runs) == 4


# --- bounded inputs: oversized, alias-expanding and deeply nested configs; empty directory names --------


def _bomb(levels: int) -> str:
    """A YAML "billion laughs": ``levels`` anchors, each a list of ten aliases of the one before."""
    lines = ["  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "description:\n" + "\n".join(lines) + "\n"


def _deep_aliases(anchors: int) -> str:
    """Anchors each nesting an alias of the one before 45 levels down: shallow as composed, deep expanded."""
    return "description:\n" + "".join(
        f"  - &d{k} " + "[" * 45 + (f"*d{k - 1}" if k else "0") + "]" * 45 + "\n" for k in range(anchors))


@pytest.mark.parametrize("extra, words", [
    (lambda: "description: " + "x" * 1_000_000 + "\n", ["refused", "bytes, more than the 1_000_000-byte cap"]),
    (lambda: _bomb(9), ["refused", "more than 100_000 nodes with aliases expanded", "line"]),
    (lambda: "description: " + "[" * 20_000 + "]" * 20_000 + "\n", ["refused", "nested deeper than 50 levels"]),
    (lambda: "description: &a [1, *a]\n", ["refused", "recursive alias"]),
    (lambda: _deep_aliases(60), ["refused", "nested deeper than 50 levels with aliases expanded"]),
])
@pytest.mark.parametrize("flags", [[], ["--seeds", "1"]])  # the file read directly, and read for --seeds/--set
def test_unbounded_configs_exit_2_naming_the_file_before_anything_is_written(tmp_path, capsys, extra, words, flags):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(TINY) + extra())
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), *flags]) == 2
    _one_line_error(capsys, f"config {str(cfg)!r}", *words)
    assert not out.exists()


def test_configs_within_the_bounds_load():
    from baselines.sweep.config import MAX_CONFIG_DEPTH, safe_load_yaml

    deep = safe_load_yaml("[" * MAX_CONFIG_DEPTH + "]" * MAX_CONFIG_DEPTH, "deep.yaml")
    for _ in range(MAX_CONFIG_DEPTH - 1):
        (deep,) = deep
    assert deep == []
    shared = safe_load_yaml(_bomb(4), "aliases.yaml")  # 11_111 nodes expanded: aliases are fine in moderation
    assert shared["description"]["a3"][0] == shared["description"]["a2"]


@pytest.mark.parametrize("argv", [["run", "CONFIG", "--out", ""], ["report", ""], ["demo", "--out", ""]])
def test_an_empty_directory_name_exits_2_and_writes_nothing_here(tmp_path, tiny_config, capsys, monkeypatch, argv):
    here = tmp_path / "here"
    here.mkdir()
    (here / "results.jsonl").write_text("")  # `report ""` would read the current directory
    monkeypatch.chdir(here)
    assert main([str(tiny_config) if a == "CONFIG" else a for a in argv]) == 2
    _one_line_error(capsys, "results directory '': an empty name")
    assert sorted(p.name for p in here.iterdir()) == ["results.jsonl"]


def test_a_file_too_large_while_writing_exits_2_naming_the_file(tmp_path, tiny_config):
    import resource
    import signal

    def limit() -> None:  # the kernel's "File too large" (EFBIG) past 600 bytes, instead of SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))

    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "baselines", "run", str(tiny_config), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=300, preexec_fn=limit,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith(f"{out / 'results.jsonl'}: File too large\n")
    assert not list(out.glob("*.tmp"))


def test_large_grid_threshold_is_in_the_help(capsys):
    from baselines.cli import LARGE_GRID

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert f"more than {LARGE_GRID} runs" in capsys.readouterr().out


@pytest.mark.parametrize("argv, named", [
    (["diagnose", "NoisyExpert/CombinationLock-v0", "horizon=-3"], "horizon"),
    (["diagnose", "NoisyExpert/NoSuchTask-v0"], "NoSuchTask"),
    (["diagnose", "NoisyExpert/CombinationLock-v0", "horizon"], "expected key=value"),
    (["diagnose", "NoisyExpert/CombinationLock-v0", "horizon=[3"], "not valid YAML"),
])
def test_bad_input_on_the_command_line_is_one_line_and_exit_2(argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "Traceback" not in err


def test_a_bug_s_value_error_is_not_reported_as_bad_input(monkeypatch):
    # only ConfigError/StoreError/UsageError mean bad input: any other ValueError is ours, and keeps its traceback
    import baselines.diagnose

    def broken(*args, **kwargs):
        raise ValueError("an internal invariant failed")

    monkeypatch.setattr(baselines.diagnose, "diagnose", broken)
    with pytest.raises(ValueError, match="an internal invariant failed"):
        main(["diagnose", "NoisyExpert/CombinationLock-v0", "horizon=3"])


def test_a_report_s_write_fault_names_the_file(tmp_path):
    import resource
    import signal

    store = tmp_path / "sep"
    shutil.copytree(Path(__file__).parents[1] / "docs" / "results" / "separation", store)
    for name in ("report.md", "fits.json"):
        (store / name).unlink()

    def limit() -> None:  # fits.json (~20 kB) is written first and goes past the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))

    done = subprocess.run([sys.executable, "-m", "baselines", "report", str(store), "--no-plots"],
                          capture_output=True, text=True, timeout=300, preexec_fn=limit,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith(f"{store / 'fits.json'}: File too large\n")


def test_a_config_without_a_size_to_stat_is_read_no_further_than_the_cap(tmp_path, capsys):
    # /dev/zero reports size 0 and never ends: only the cap's bytes are read, then it is refused
    assert main(["run", "/dev/zero", "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "config '/dev/zero' refused: more than the 1_000_000-byte cap")
    assert not (tmp_path / "out").exists()


def test_a_negative_diagnose_seed_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["diagnose", "NoisyExpert/CombinationLock-v0", "horizon=3", "--seed", "-1"])
    assert exit_.value.code == 2 and "--seed: must be an integer >= 0, got -1" in capsys.readouterr().err
