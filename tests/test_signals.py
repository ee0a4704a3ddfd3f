"""SIGINT/SIGTERM to a sweep's parent alone: workers stop within 5 s, records stay whole, resume is identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_baselines_stack

require_baselines_stack()

import yaml

from baselines.sweep.config import load_config
from baselines.sweep.runner import run_sweep
from baselines.sweep.store import read_records
from test_sweep import TINY, comparable

# 16 runs of ~1-3 s each: with --jobs 2 the sweep is mid-way when the first record lands.
CONFIG = {**TINY, "name": "signals", "budgets": [40, 400]}
N_CELLS = 16


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its dead parent's reaper) has stopped too
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[-1][0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the workers through Linux /proc")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_parent_stops_the_workers_and_resume_matches_an_uninterrupted_run(tmp_path, signum, code):
    cfg = tmp_path / "signals.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    cmd = [sys.executable, "-m", "baselines", "run", str(cfg), "--out", str(out), "--jobs", "2", "--no-progress"]
    # a new session: the signal reaches the parent only, never the workers through a terminal's process group
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert proc.poll() is None, f"the sweep ended before the signal: {proc.stderr.read().decode()}"
    assert len(workers) >= 2, workers  # the pool's workers (and nothing else forks here)
    sent = time.monotonic()
    os.kill(proc.pid, signum)
    assert proc.wait(timeout=10) == code, proc.stderr.read().decode()
    stderr = proc.stderr.read().decode()
    assert f"interrupted by {signal.Signals(signum).name}" in stderr.strip().splitlines()[-1], stderr
    while time.monotonic() - sent < 5 and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "workers outlived the parent by 5 s"
    partial = read_records(results)  # every line parses: nothing torn
    assert results.read_bytes().endswith(b"\n")
    assert 1 <= len(partial.records) < N_CELLS

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(partial.records)} already done" in resumed.stdout
    if signum == signal.SIGTERM:  # one reference run is enough to show resume gives the same records
        reference = tmp_path / "reference"
        run_sweep(load_config(cfg), reference, jobs=2, progress=False)
        assert comparable(results) == comparable(reference / "results.jsonl")
    assert len(read_records(results).latest_ok()) == N_CELLS
