"""Progress without a terminal: a line per finished run (rate-limited) and a heartbeat while runs go on."""

from __future__ import annotations

import io
import re
import time

from conftest import require_baselines_stack

require_baselines_stack()

from baselines.sweep.config import parse_config
from baselines.sweep.progress import LineProgress
from baselines.sweep.runner import run_sweep
from test_sweep import TINY

STATUS = re.compile(r"^tiny: (\d+)/(\d+) runs done, (\d+) failed, elapsed \d+s, ETA (\d+s|\?)( \(running\))?$")


def test_a_line_per_finished_run_with_done_total_failures_elapsed_and_eta():
    out = io.StringIO()
    with LineProgress(3, "tiny", file=out, heartbeat_s=60) as progress:
        for failed in (False, True, False):
            progress.update(failed)
    lines = out.getvalue().splitlines()
    assert lines[0] == "tiny: 3 runs to do"
    matches = [STATUS.match(line) for line in lines[1:]]
    assert all(matches), lines
    assert [(m.group(1), m.group(2), m.group(3)) for m in matches] == [("1", "3", "0"), ("2", "3", "1"), ("3", "3", "1")]
    assert matches[-1].group(4) == "0s"  # nothing left


def test_a_big_grid_prints_about_a_hundred_lines_not_one_per_run():
    out = io.StringIO()
    with LineProgress(10_000, "tiny", file=out, heartbeat_s=60) as progress:
        for _ in range(10_000):
            progress.update(False)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 100
    assert lines[-1].startswith("tiny: 10000/10000 runs done")


def test_a_heartbeat_while_a_long_run_goes_on_and_none_after_close():
    out = io.StringIO()
    with LineProgress(2, "tiny", file=out, heartbeat_s=0.2) as progress:
        time.sleep(0.7)  # one long run: no run finishes
        beats = [line for line in out.getvalue().splitlines() if line.endswith("(running)")]
        assert 2 <= len(beats) <= 4, out.getvalue()
        assert all(STATUS.match(b) and b.startswith("tiny: 0/2 runs done") for b in beats), beats
    after = out.getvalue()
    time.sleep(0.4)
    assert out.getvalue() == after  # the heartbeat thread stopped with the sweep


def test_run_sweep_prints_lines_on_a_non_terminal_stderr_and_nothing_with_progress_false(tmp_path, capsys):
    config = parse_config({**TINY, "seeds": 1, "envs": [{**TINY["envs"][0], "grid": {"horizon": [2]}}]})
    run_sweep(config, tmp_path / "a", jobs=1)  # progress=None; capsys' stderr is not a terminal
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "tiny: 2 runs to do"
    assert [STATUS.match(line).group(1) for line in lines[1:]] == ["1", "2"], lines
    run_sweep(config, tmp_path / "b", jobs=1, progress=False)
    assert capsys.readouterr().err == ""
