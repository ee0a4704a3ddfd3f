"""Demonstration sets: plain arrays plus metadata that must match on load; nothing in a set can run code."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

from baselines.demonstrations import (ARRAYS_FILE, LEGACY_FORMAT, METADATA_FILE, load_demonstrations,
                                     make_demonstrations)

LOCK = "NoisyExpert/CombinationLock-v0"
KW = dict(horizon=5, noise="uniform", epsilon=0.3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("demos") / "set"
    return path, make_demonstrations(path, LOCK, budget=120, seed=3, env_kwargs=KW)


def test_round_trip_keeps_trajectories_and_metadata(saved: tuple[Path, list]) -> None:
    path, original = saved
    loaded, meta = load_demonstrations(path, LOCK, seed=3, env_kwargs=KW, labels=120)
    assert meta["labels"] == 120 and meta["noise"] == {"noise": "uniform", "epsilon": 0.3, "noise_seed": 0}
    assert sum(len(t) for t in loaded) == 120
    for a, b in zip(original, loaded):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.acts, b.acts)


@pytest.mark.parametrize("override, key", [
    (dict(env_kwargs=dict(KW, epsilon=0.2)), "env_kwargs"),
    (dict(seed=4), "seed"),
    (dict(clean=True), "noise"),
    (dict(labels=100), "labels"),
])
def test_mismatched_request_is_refused(saved: tuple[Path, list], override: dict, key: str) -> None:
    path, _ = saved
    request = dict(seed=3, env_kwargs=KW, **{k: v for k, v in override.items() if k not in ("seed", "env_kwargs")})
    request.update({k: v for k, v in override.items() if k in ("seed", "env_kwargs")})
    with pytest.raises(ValueError, match=key):
        load_demonstrations(path, LOCK, **request)


def test_missing_or_foreign_metadata_is_refused(saved: tuple[Path, list], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no metadata.json"):
        load_demonstrations(tmp_path, LOCK, seed=3, env_kwargs=KW)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="format"):
        load_demonstrations(tmp_path, LOCK, seed=3, env_kwargs=KW)


def test_saving_never_overwrites(saved: tuple[Path, list]) -> None:
    path, _ = saved
    before = (path / METADATA_FILE).read_text()
    with pytest.raises(FileExistsError):
        make_demonstrations(path, LOCK, budget=50, seed=3, env_kwargs=KW)
    assert (path / METADATA_FILE).read_text() == before


# --- safety: nothing in a set runs code; a set failing its hash or schema check is refused -------


class _Payload:
    """Unpickling (or jsonpickle-decoding) this creates ``marker``: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _copy(saved: tuple[Path, list], tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(saved[0], dst)
    return dst


def _rehash(root: Path) -> None:
    """Make metadata.json's hash agree with the (tampered) arrays file, as an attacker would."""
    meta = json.loads((root / METADATA_FILE).read_text())
    meta["sha256"][ARRAYS_FILE] = hashlib.sha256((root / ARRAYS_FILE).read_bytes()).hexdigest()
    (root / METADATA_FILE).write_text(json.dumps(meta))


def test_the_payloads_do_run_code_when_decoded_the_old_way(tmp_path: Path) -> None:
    import jsonpickle

    pickle.loads(pickle.dumps(_Payload(str(tmp_path / "a"))))
    jsonpickle.decode(jsonpickle.encode(_Payload(str(tmp_path / "b"))))
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()  # so the tests below can fail


@pytest.mark.parametrize("consistent_hash", [False, True])
def test_pickle_payload_in_place_of_the_arrays_never_runs(saved, tmp_path, consistent_hash) -> None:
    root = _copy(saved, tmp_path)
    marker = tmp_path / "pwned"
    (root / ARRAYS_FILE).write_bytes(pickle.dumps([_Payload(str(marker))]))
    if consistent_hash:
        _rehash(root)
    with pytest.raises(ValueError, match=ARRAYS_FILE):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)
    assert not marker.exists()


def test_object_array_inside_the_npz_never_runs(saved, tmp_path) -> None:
    root = _copy(saved, tmp_path)
    marker = tmp_path / "pwned"
    with np.load(root / ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["acts"] = np.array([_Payload(str(marker))] * len(arrays["acts"]), dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (root / ARRAYS_FILE).write_bytes(buffer.getvalue())
    _rehash(root)
    with pytest.raises(ValueError, match=rf"{ARRAYS_FILE}.*pickle"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)
    assert not marker.exists()


def _legacy_set(saved, tmp_path: Path, payload_in: str) -> tuple[Path, Path]:
    """A format-/1 set (imitation's serialize format) with consistent metadata and a payload."""
    from imitation.data import huggingface_utils, types

    root = tmp_path / "legacy"
    root.mkdir()
    marker = tmp_path / "pwned"
    meta = json.loads((saved[0] / METADATA_FILE).read_text())
    meta["format"] = LEGACY_FORMAT
    (root / METADATA_FILE).write_text(json.dumps(meta))
    if payload_in == "pickle":  # imitation's loader np.load(allow_pickle=True)s a file
        (root / "trajectories").write_bytes(pickle.dumps([_Payload(str(marker))]))
    else:  # a jsonpickle value in the infos column, decoded when the trajectories are used
        trajs = [types.TrajectoryWithRew(obs=t.obs, acts=t.acts, terminal=t.terminal, rews=t.rews,
                                         infos=np.array([{"x": _Payload(str(marker))}] * len(t.acts)))
                 for t in saved[1]]
        huggingface_utils.trajectories_to_dataset(trajs).save_to_disk(str(root / "trajectories"))
    assert not marker.exists()
    return root, marker


@pytest.mark.parametrize("payload_in", ["pickle", "jsonpickle"])
def test_legacy_set_is_refused_without_trust_and_runs_nothing(saved, tmp_path, payload_in) -> None:
    root, marker = _legacy_set(saved, tmp_path, payload_in)
    with pytest.raises(ValueError, match="legacy format.*trust=True"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)
    assert not marker.exists()


def test_legacy_set_loads_with_trust(saved, tmp_path) -> None:
    from imitation.data import serialize

    root = tmp_path / "legacy"
    root.mkdir()
    meta = json.loads((saved[0] / METADATA_FILE).read_text())
    meta["format"] = LEGACY_FORMAT
    (root / METADATA_FILE).write_text(json.dumps(meta))
    serialize.save(root / "trajectories", saved[1])
    loaded, _ = load_demonstrations(root, LOCK, seed=3, env_kwargs=KW, trust=True)
    assert [len(t) for t in loaded] == [len(t) for t in saved[1]]


def _tamper_array(root: Path, name: str, value) -> None:
    with np.load(root / ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if value is None:
        del arrays[name]
    else:
        arrays[name] = value(arrays[name])
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (root / ARRAYS_FILE).write_bytes(buffer.getvalue())
    _rehash(root)


@pytest.mark.parametrize("tamper, message", [
    (lambda root: (root / ARRAYS_FILE).write_bytes((root / ARRAYS_FILE).read_bytes()[:-3] + b"xyz"), "sha256"),
    (lambda root: (root / ARRAYS_FILE).unlink(), "missing"),
    (lambda root: (root / "extra.pkl").write_bytes(b"x"), "extra.pkl: unexpected file"),
    (lambda root: _tamper_array(root, "rews", None), "holds arrays"),
    (lambda root: _tamper_array(root, "acts", lambda a: a.astype(np.float32)), "'acts' has dtype"),
    (lambda root: _tamper_array(root, "obs", lambda a: a[:-1]), "'obs' has dtype .* shape"),
])
def test_set_failing_its_hash_or_schema_check_is_refused_naming_the_file(saved, tmp_path, tamper, message) -> None:
    root = _copy(saved, tmp_path)
    tamper(root)
    with pytest.raises(ValueError, match=message):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)


def test_inconsistent_lengths_are_refused_even_with_consistent_metadata(saved, tmp_path) -> None:
    root = _copy(saved, tmp_path)
    _tamper_array(root, "lengths", lambda a: a + 1)  # dtype and shape as declared, sum no longer fits
    with pytest.raises(ValueError, match=rf"{ARRAYS_FILE}: inconsistent arrays"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)


def test_loaded_trajectories_have_no_infos_and_equal_rewards(saved) -> None:
    path, original = saved
    loaded, _ = load_demonstrations(path, LOCK, seed=3, env_kwargs=KW)
    assert all(t.infos is None for t in loaded)
    assert [t.terminal for t in loaded] == [t.terminal for t in original]
    for a, b in zip(original, loaded):
        np.testing.assert_array_equal(a.rews, b.rews)


# --- the arrays against the task's spaces, and trajectory boundaries against their digests ------------


def _agree(root: Path, arrays: dict[str, np.ndarray], *, digests: bool = True) -> None:
    """Write ``arrays`` and make every check of metadata.json agree with them (hash, schema, count and,
    with ``digests``, the per-trajectory digests): only the checks against the task remain."""
    from baselines.demonstrations import DIGESTS, trajectory_digests

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (root / ARRAYS_FILE).write_bytes(buffer.getvalue())
    meta = json.loads((root / METADATA_FILE).read_text())
    meta["arrays"] = {k: {"dtype": a.dtype.str, "shape": list(a.shape)} for k, a in arrays.items()}
    meta["n_trajectories"] = len(arrays["lengths"])
    if digests:
        meta[DIGESTS] = trajectory_digests(arrays)
    (root / METADATA_FILE).write_text(json.dumps(meta))
    _rehash(root)


def _arrays(root: Path) -> dict[str, np.ndarray]:
    with np.load(root / ARRAYS_FILE) as npz:
        return {k: npz[k].copy() for k in npz.files}


def _set_row(a: np.ndarray, row: int, value) -> np.ndarray:
    a[row] = value
    return a


@pytest.mark.parametrize("name, change, message", [
    ("acts", lambda a: a.astype(np.float32), r"acts: dtype float32 does not fit the space's dtype int64, for the "
                                             r"task's action space Discrete\(4\)"),
    ("acts", lambda a: _set_row(a, 7, 99), r"acts: row 7 holds 99, outside 0\.\.3, for the task's action space "
                                           r"Discrete\(4\)"),
    ("acts", lambda a: _set_row(a, 0, -1), r"acts: row 0 holds -1, outside 0\.\.3"),
    ("obs", lambda a: _set_row(a, 5, np.nan), r"obs: a non-finite value \(NaN or inf\) in row 5, for the task's "
                                              r"observation space Box\(0\.0, 1\.0, \(6,\), float32\)"),
    ("obs", lambda a: np.concatenate([a, a], axis=1), r"obs: each row has shape \(12,\), the space's is \(6,\)"),
    ("obs", lambda a: a.astype(np.int64), r"obs: dtype int64 does not fit the space's dtype float32"),
    ("rews", lambda a: _set_row(a, 2, np.inf), r"rews: a non-finite reward"),
])
def test_arrays_that_do_not_fit_the_task_are_refused_naming_field_and_space(saved, tmp_path, name, change,
                                                                              message) -> None:
    root = _copy(saved, tmp_path)
    arrays = _arrays(root)
    arrays[name] = change(arrays[name])
    _agree(root, arrays)  # metadata edited to agree, digests included
    with pytest.raises(ValueError, match=rf"{ARRAYS_FILE}: {message}"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)


def test_space_problem_covers_multidiscrete_and_box_bounds() -> None:
    from gymnasium import spaces

    from baselines.demonstrations import space_problem

    tokens = spaces.MultiDiscrete([3, 5])
    assert space_problem(np.array([[2, 4], [0, 0]]), tokens) is None
    assert space_problem(np.array([[2, 5]]), tokens) == "row 0 holds [2, 5], outside [0, 0]..[2, 4]"
    box = spaces.Box(-2.0, 2.0, (1,), np.float32)
    assert space_problem(np.array([[2.5]], dtype=np.float32), box) == "row 0 holds [2.5], outside [-2.0]..[2.0]"
    assert space_problem(np.array([[2.5]], dtype=np.float32), box, check_box_bounds=False) is None
    assert space_problem(np.array([[1]]), spaces.Tuple([box])) is None  # not checked


def test_moved_trajectory_boundaries_are_caught_by_the_digests(saved, tmp_path) -> None:
    root = _copy(saved, tmp_path)
    arrays = _arrays(root)
    lengths = arrays["lengths"]
    moved = np.roll(lengths, 1)  # a permutation: the same steps and count, other boundaries
    first = int(np.argmax(moved != lengths))
    assert moved[first] != lengths[first]
    _agree(root, {**arrays, "lengths": moved}, digests=False)  # everything but the digests edited to agree
    with pytest.raises(ValueError, match=rf"trajectory {first} does not match metadata.json's "
                                         rf"trajectory_sha256\[{first}\] \(its boundaries, order or contents"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)
    terminal = arrays["terminal"].copy()
    terminal[3] = not terminal[3]
    _agree(root, {**arrays, "terminal": terminal}, digests=False)
    with pytest.raises(ValueError, match=r"trajectory 3 does not match"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)


def test_a_set_without_digests_loads_with_a_warning_and_its_other_checks(saved, tmp_path) -> None:
    from baselines.demonstrations import DIGESTS

    root = _copy(saved, tmp_path)
    meta = json.loads((root / METADATA_FILE).read_text())
    del meta[DIGESTS]  # as saved before the digests existed
    (root / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"no 'trajectory_sha256'.*boundaries and order could not be checked"):
        loaded, _ = load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)
    assert [len(t) for t in loaded] == [len(t) for t in saved[1]]
    arrays = _arrays(root)
    arrays["acts"][0] = 99
    _agree(root, arrays, digests=False)
    with pytest.raises(ValueError, match=r"acts: row 0 holds 99"):  # refused before the digests are looked at
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)


def test_a_digest_list_of_the_wrong_length_is_refused(saved, tmp_path) -> None:
    from baselines.demonstrations import DIGESTS

    root = _copy(saved, tmp_path)
    meta = json.loads((root / METADATA_FILE).read_text())
    meta[DIGESTS] = meta[DIGESTS][:-1]
    (root / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=rf"'{DIGESTS}' must list one sha256 per trajectory \({len(saved[1])}\)"):
        load_demonstrations(root, LOCK, seed=3, env_kwargs=KW)


@pytest.mark.parametrize("env_id, env_kwargs, budget, clean", [
    (LOCK, dict(horizon=20, noise="uniform", epsilon=0.2), 600, False),
    (LOCK, KW, 97, True),
    ("NoisyExpert/Pendulum-v1", {}, 450, False),
])
def test_counting_steps_as_they_come_collects_imitations_demonstrations(monkeypatch, env_id, env_kwargs, budget,
                                                                       clean) -> None:
    from imitation.data import rollout

    from baselines.core.task import Task
    from baselines.learners import bc

    ours = bc.collect_demonstrations(Task(env_id, dict(env_kwargs)), budget, 4, clean=clean)
    monkeypatch.setattr(bc, "EnoughSteps", lambda n: rollout.make_sample_until(min_timesteps=n))
    reference = bc.collect_demonstrations(Task(env_id, dict(env_kwargs)), budget, 4, clean=clean)
    assert ours[1] == reference[1] == budget and len(ours[0]) == len(reference[0]) > 1
    for a, b in zip(ours[0], reference[0]):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.acts, b.acts)


def test_enough_steps_answers_as_imitation_on_a_growing_list() -> None:
    from types import SimpleNamespace

    from imitation.data import rollout

    from baselines.learners.bc import EnoughSteps

    ours, reference = EnoughSteps(10), rollout.make_sample_until(min_timesteps=10)
    trajectories: list = []
    answers = []
    for length in [0, 3, 0, 0, 4, 0, 2, 1, 5]:  # 0: no trajectory finished at this step
        if length:
            trajectories.append(SimpleNamespace(obs=np.zeros(length + 1)))
        answers.append((ours(trajectories), reference(trajectories)))
    assert [a for a, _ in answers] == [b for _, b in answers] and answers[-1] == (True, True)
    assert not answers[4][0]
