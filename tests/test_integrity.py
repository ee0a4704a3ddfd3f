"""Results-store integrity: records of another config, stub lines and a missing config.yaml are
refused (naming the line), never counted as done and never overwritten; a seeded fuzz test."""

from __future__ import annotations

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

import json
import random
import shutil
from pathlib import Path


from baselines.sweep.config import cell_key, parse_config
from baselines.report.build import make_report
from baselines.sweep.store import SCHEMA, read_records
from baselines.sweep.runner import run_sweep, sweep_fingerprint
from conftest import fake_execute

BASE = {
    "name": "integrity-a",
    "envs": [{"id": "NoisyExpert/CombinationLock-v0", "kwargs": {"horizon": 2}}],
    "algorithms": ["bc"],
    "budgets": [10, 20],
    "seeds": 4,
    "eval_episodes": 1,
}


@pytest.fixture(scope="module")
def configs():
    # Same cells, another name: the other sweep's records have this sweep's cell keys, so only the
    # fingerprint tells them apart (the dangerous case: they would count as done).
    return parse_config(BASE), parse_config({**BASE, "name": "integrity-b"})


@pytest.fixture()
def swept(tmp_path, fake_runs, configs) -> tuple[Path, Path]:
    a, b = configs
    run_sweep(a, tmp_path / "a", progress=False)
    run_sweep(b, tmp_path / "b", progress=False)
    fake_runs.clear()
    return tmp_path / "a", tmp_path / "b"


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _stubs(config) -> list[bytes]:
    """Schema-shaped lines that are not records: each must be refused, never count a cell as done."""
    cell = dict(config.cells[0])
    key = cell_key(cell)
    fp = sweep_fingerprint(config)
    stubs = [
        {"schema": SCHEMA, "cell_key": key, "status": "ok"},
        {"schema": SCHEMA, "cell_key": key, "status": "ok", "cell": cell, "config_fingerprint": fp},
        {**fake_execute(cell), "config_fingerprint": fp, "cell_key": "0" * 16},
        {**fake_execute(cell), "config_fingerprint": fp, "success_rate": "1.0"},
        {**fake_execute(cell), "config_fingerprint": fp, "cell": {**cell, "budget": None}},
    ]
    return [(json.dumps(s) + "\n").encode() for s in stubs]


def test_a_line_from_another_sweep_is_refused_with_its_line_number(swept, configs, fake_runs):
    a_dir, b_dir = swept
    results = a_dir / "results.jsonl"
    data = b"".join(_lines(results)[:3] + _lines(b_dir / "results.jsonl")[:1] + _lines(results)[3:])
    results.write_bytes(data)
    with pytest.raises(ValueError, match=r"results\.jsonl:4: record of another config"):
        run_sweep(configs[0], a_dir, progress=False)
    with pytest.raises(ValueError, match=r"results\.jsonl:4: record of another config"):
        make_report(a_dir, plots=False)
    assert results.read_bytes() == data and fake_runs == []


@pytest.mark.parametrize("index", range(5))
def test_a_stub_line_is_refused_by_resume_and_report(swept, configs, fake_runs, index):
    a_dir, _ = swept
    results = a_dir / "results.jsonl"
    results.write_bytes(_lines(results)[0] + _stubs(configs[0])[index])
    with pytest.raises(ValueError, match=r"results\.jsonl:2: "):
        run_sweep(configs[0], a_dir, progress=False)
    with pytest.raises(ValueError, match=r"results\.jsonl:2: "):
        make_report(a_dir, plots=False)
    assert fake_runs == []


@pytest.mark.parametrize("damage", ["delete", "empty", "garbage"])
def test_records_without_a_valid_config_are_refused_unless_adopted(swept, configs, fake_runs, damage):
    a_dir, _ = swept
    config_path = a_dir / "config.yaml"
    {"delete": config_path.unlink, "empty": lambda: config_path.write_text(""),
     "garbage": lambda: config_path.write_text("envs: [unclosed\n")}[damage]()
    before = (a_dir / "results.jsonl").read_bytes()
    with pytest.raises(ValueError, match=r"config\.yaml.*--adopt"):
        run_sweep(configs[0], a_dir, progress=False)
    with pytest.raises(ValueError, match=r"config\.yaml"):
        make_report(a_dir, plots=False)
    # A different config (another fingerprint) cannot adopt the records either.
    with pytest.raises(ValueError, match=r"results\.jsonl:1: record of another config"):
        run_sweep(configs[1], a_dir, progress=False, adopt=True)
    assert (a_dir / "results.jsonl").read_bytes() == before and fake_runs == []
    summary = run_sweep(configs[0], a_dir, progress=False, adopt=True)
    assert (summary.skipped, summary.ok) == (len(configs[0].cells), 0)
    assert (a_dir / "results.jsonl").read_bytes() == before
    assert run_sweep(configs[0], a_dir, progress=False).skipped == len(configs[0].cells)  # adopted for good
    if damage != "delete":
        assert len(list(a_dir.glob("config.yaml.replaced-*"))) == 1  # the invalid file is kept aside


def test_legacy_records_are_read_by_report_but_not_resumed(swept, configs):
    a_dir, _ = swept
    results = a_dir / "results.jsonl"
    legacy = []
    for line in _lines(results):
        record = json.loads(line)
        record.pop("config_fingerprint")
        legacy.append((json.dumps({**record, "schema": "noisy-expert-bench/1"}) + "\n").encode())
    results.write_bytes(b"".join(legacy))
    assert sum(len(r.seeds) for r in make_report(a_dir, plots=False).rows) == len(configs[0].cells)
    with pytest.raises(ValueError, match=r"results\.jsonl:1: .*written before config fingerprints"):
        run_sweep(configs[0], a_dir, progress=False)


@pytest.mark.parametrize("seed", range(12))
def test_fuzz_resume_never_loses_or_miscounts_a_record(swept, configs, fake_runs, tmp_path, seed):
    """Random foreign lines, stub lines, truncation and config damage; then resume and report."""
    rng = random.Random(seed)
    a_dir, b_dir = swept
    config = configs[0]
    own = _lines(a_dir / "results.jsonl")
    work = tmp_path / f"work{seed}"
    shutil.copytree(a_dir, work)
    results, config_path = work / "results.jsonl", work / "config.yaml"

    lines = list(own)
    for _ in range(rng.choice([0, 0, 1, 2])):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(_lines(b_dir / "results.jsonl")))
    for _ in range(rng.choice([0, 0, 1])):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(_stubs(config)))
    data = b"".join(lines)
    if rng.random() < 0.6:
        data = data[:rng.randrange(len(data) + 1)]
    results.write_bytes(data)
    damage = rng.choice(["keep", "keep", "delete", "empty"])
    if damage == "delete":
        config_path.unlink()
    elif damage == "empty":
        config_path.write_text("")
    config_before = config_path.read_bytes() if config_path.exists() else None

    complete = data[:data.rfind(b"\n") + 1]
    bad = [i for i, line in enumerate(complete.splitlines(keepends=True), start=1) if line not in own]
    done = {json.loads(line)["cell_key"] for line in complete.splitlines() if line + b"\n" in own}

    def unchanged() -> None:
        assert results.read_bytes() == data and fake_runs == []
        assert (config_path.read_bytes() if config_path.exists() else None) == config_before

    if damage != "keep" and (data or damage == "empty"):
        with pytest.raises(ValueError, match=r"config\.yaml"):
            run_sweep(config, work, progress=False)
        unchanged()
        adopt = bool(data)
    else:
        adopt = False
    if bad:
        with pytest.raises(ValueError, match=rf"results\.jsonl:{bad[0]}: "):
            run_sweep(config, work, progress=False, adopt=adopt)
        unchanged()
        if damage == "keep":
            with pytest.raises(ValueError, match=rf"results\.jsonl:{bad[0]}: "):
                make_report(work, plots=False)
        return
    if damage == "empty" and not data:
        return  # an invalid config.yaml and no records: refused above, nothing to adopt
    summary = run_sweep(config, work, progress=False, adopt=adopt)
    assert summary.skipped == len(done) and summary.ok == len(config.cells) - len(done)
    assert sorted(fake_runs) == sorted(cell_key(c) for c in config.cells if cell_key(c) not in done)
    after = results.read_bytes()
    assert after.startswith(complete)  # every complete line kept byte for byte
    torn = data[len(complete):]
    if torn:
        assert [p.read_bytes() for p in work.glob("results.jsonl.torn-*")] == [torn]
    stored = read_records(results, fingerprint=sweep_fingerprint(config))
    assert set(stored.latest_ok()) == {cell_key(c) for c in config.cells}
    assert len(stored.records) == len(config.cells)  # each cell exactly once
    assert sum(len(r.seeds) for r in make_report(work, plots=False).rows) == len(config.cells)
