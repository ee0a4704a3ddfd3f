"""The results store: complete-line appends, torn last lines, corrupt and foreign lines, locking."""

from __future__ import annotations

import json

import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

from baselines.sweep.config import cell_key
from baselines.sweep.store import SCHEMA, ResultStore, config_fingerprint, make_record, read_records

FINGERPRINT = config_fingerprint({"name": "store-test"})


def _cell(seed: int) -> dict:
    return {"env_id": "NoisyExpert/CombinationLock-v0", "env_kwargs": {"horizon": 2}, "algo": "bc", "label": "bc",
            "settings": {}, "budget": 10, "seed": seed, "eval_episodes": 1, "deterministic_eval": True,
            "policy_kwargs": None}


def _record(seed: int, status: str = "ok", success: float = 1.0) -> dict:
    cell = _cell(seed)
    if status == "error":
        return make_record(cell, cell_key(cell), "error", error="boom")
    return make_record(cell, cell_key(cell), "ok", success_rate=success, normalized_return=success, labels_used=10,
                       wall_time_s=0.1, **{k: cell[k] for k in ("env_id", "env_kwargs", "algo", "budget", "seed")})


def _key(seed: int) -> str:
    return cell_key(_cell(seed))


def _write_three(tmp_path) -> ResultStore:
    store = ResultStore(tmp_path)
    store.lock()
    store.open_for_append(FINGERPRINT)
    for seed in range(3):
        store.append(_record(seed))
    store.close()
    return store


def test_append_reads_back_every_line(tmp_path):
    store = _write_three(tmp_path)
    records = read_records(store.results_path)
    assert [r["cell_key"] for r in records.records] == [_key(0), _key(1), _key(2)]
    assert records.torn is None
    assert all(r["schema"] == SCHEMA and r["versions"]["numpy"] for r in records.records)
    assert all(r["config_fingerprint"] == FINGERPRINT for r in records.records)
    assert store.results_path.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("bad, kind", [(b"{not json\n", "not JSON"), (b'{"hello": 1}\n', "foreign line"), (b"\n", "empty")])
def test_corrupt_or_foreign_line_is_reported_with_its_line_number_and_left_untouched(tmp_path, bad, kind):
    store = _write_three(tmp_path)
    lines = store.results_path.read_bytes().splitlines(keepends=True)
    data = b"".join(lines[:1] + [bad] + lines[1:])
    store.results_path.write_bytes(data)
    with pytest.raises(ValueError, match=rf"results\.jsonl:2: .*{kind}"):
        read_records(store.results_path)
    again = ResultStore(tmp_path)
    with pytest.raises(ValueError, match=r"results\.jsonl:2:"):
        again.open_for_append(FINGERPRINT)  # a sweep refuses to append
    again.close()
    assert store.results_path.read_bytes() == data


def test_torn_last_line_is_ignored_by_readers_and_moved_aside_on_resume(tmp_path):
    store = _write_three(tmp_path)
    complete = store.results_path.read_bytes()
    fragment = b'{"schema": "noisy-expert-bench/1", "cell_key": "key3", "sta'
    store.results_path.write_bytes(complete + fragment)
    records = read_records(store.results_path)
    assert len(records.records) == 3 and records.torn == fragment

    resumed = ResultStore(tmp_path)
    resumed.open_for_append(FINGERPRINT)
    assert any("torn" in note for note in resumed.notes)
    side = list(tmp_path.glob("results.jsonl.torn-*"))
    assert len(side) == 1 and side[0].read_bytes() == fragment  # the fragment is kept, not destroyed
    assert store.results_path.read_bytes() == complete  # every complete line byte-for-byte as before
    resumed.append(_record(3, success=0.0))
    resumed.close()
    after = read_records(store.results_path)
    assert [r["cell_key"] for r in after.records] == [_key(s) for s in range(4)] and after.torn is None


def test_latest_ok_and_errors(tmp_path):
    store = ResultStore(tmp_path)
    store.open_for_append(FINGERPRINT)
    store.append(_record(0, "error"))
    store.append(_record(0))
    store.append(_record(1, "error"))
    store.close()
    records = read_records(store.results_path)
    assert set(records.latest_ok()) == {_key(0)}
    assert [e["cell_key"] for e in records.errors()] == [_key(1)]


def test_a_second_sweep_cannot_take_the_directory(tmp_path):
    first = ResultStore(tmp_path)
    first.lock()
    second = ResultStore(tmp_path)
    with pytest.raises(ValueError, match="in use"):
        second.lock()
    first.close()
    second.lock()
    second.close()


def test_config_is_stored_once_and_never_replaced(tmp_path):
    store = ResultStore(tmp_path)
    store.write_config({"name": "a"})
    store.write_config({"name": "b"})
    assert store.stored_config() == {"name": "a"}
    assert json.dumps(store.stored_config())


def test_a_failed_config_write_leaves_no_temp_file_and_names_it(tmp_path, monkeypatch):
    import errno

    import baselines.sweep.store as store_module

    def failing_dump(raw, stream, **kwargs):  # what a full disk or RLIMIT_FSIZE does half-way through
        stream.write("name: half")
        raise OSError(errno.EFBIG, "File too large")

    store = ResultStore(tmp_path)
    monkeypatch.setattr(store_module.yaml, "safe_dump", failing_dump)
    with pytest.raises(OSError, match="File too large") as caught:
        store.write_config({"name": "store-test"})
    assert caught.value.filename == str(tmp_path / "config.yaml.tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_append_names_the_results_file(tmp_path, monkeypatch):
    import errno
    import os

    store = ResultStore(tmp_path)
    store.open_for_append(FINGERPRINT)

    def failing_write(fd, data):
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(OSError, match="File too large") as caught:
        store.append(_record(0))
    monkeypatch.undo()
    store.close()
    assert caught.value.filename == str(tmp_path / "results.jsonl")


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_directory_name_is_refused(name):
    from baselines.sweep.store import StoreError

    with pytest.raises(StoreError, match=rf"results directory {name!r}: an empty name"):
        ResultStore(name)
