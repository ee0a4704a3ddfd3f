"""Saving and loading noisy-expert demonstration sets in a format that cannot carry code.

A set is a folder holding exactly two files:

- ``trajectories.npz``: the trajectories concatenated into five plain arrays (``obs``, ``acts``,
  ``rews``, ``lengths``, ``terminal``), read with ``numpy.load(allow_pickle=False)``, so an object
  array (which would need unpickling) is refused by numpy itself;
- ``metadata.json``: what the set is (env id, env kwargs, the oracle's noise config, seed, label
  count, clean or noisy, package versions), the dtype and shape of every array and the sha256 of
  ``trajectories.npz``.

Loading checks the metadata against what the caller asks for, the file's hash, the arrays'
schema (names, dtypes, shapes, lengths consistent with each other), the arrays against the task's
observation and action spaces (dtype, shape, action range, finiteness: :func:`space_problem`) and
each trajectory against its sha256 in the metadata (``trajectory_sha256``, written at save time:
moved trajectory boundaries are caught) before building imitation's ``TrajectoryWithRew``
objects; any mismatch or any other file in the folder is a ``ValueError`` naming the file. A set
saved before the per-trajectory digests loads with a warning saying its boundaries were not checked. The per-step ``infos`` are not stored (no learner reads them, and they may hold
arbitrary objects): loaded trajectories have ``infos=None``.

Sets written by earlier versions (format ``noisy-expert-demonstrations/1``: a ``trajectories/``
folder in imitation's Hugging Face format, whose ``infos`` column is jsonpickle-encoded, and which
imitation's loader also accepts as a pickle file) load only with ``trust=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from imitation.data import types

from baselines.core.task import Task, make_env
from baselines.learners.bc import collect_demonstrations
from baselines.sweep.store import package_version

FORMAT = "noisy-expert-demonstrations/2"
LEGACY_FORMAT = "noisy-expert-demonstrations/1"
METADATA_FILE = "metadata.json"
ARRAYS_FILE = "trajectories.npz"
LEGACY_TRAJECTORIES = "trajectories"  # format /1: imitation's serialize.save output
ARRAY_NAMES = ("obs", "acts", "rews", "lengths", "terminal")
DIGESTS = "trajectory_sha256"  # metadata key: one sha256 per trajectory, in order


def describe(env_id: str, env_kwargs: dict[str, Any] | None, seed: int, clean: bool) -> dict[str, Any]:
    """The identity of a demonstration set: what ``load_demonstrations`` compares."""
    env_kwargs = dict(env_kwargs or {})
    oracle = make_env(env_id, env_kwargs).get_wrapper_attr("oracle")
    return {
        "env_id": env_id,
        "env_kwargs": json.loads(json.dumps(env_kwargs, sort_keys=True, default=repr)),
        "noise": {"noise": "none"} if clean else oracle.config(),
        "seed": int(seed),
        "clean": bool(clean),
    }


def make_demonstrations(
    path: str | os.PathLike[str],
    env_id: str,
    *,
    budget: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    clean: bool = False,
) -> list[types.TrajectoryWithRew]:
    """Collect ``budget`` expert-labelled transitions and save them with their metadata at ``path``."""
    trajectories, labels = collect_demonstrations(Task(env_id, dict(env_kwargs or {})), budget, seed, clean=clean)
    save_demonstrations(path, trajectories, describe(env_id, env_kwargs, seed, clean), labels)
    return trajectories


def _to_arrays(trajectories: list[types.TrajectoryWithRew]) -> dict[str, np.ndarray]:
    if not trajectories:
        raise ValueError("no trajectories to save")
    for t in trajectories:
        if not isinstance(t, types.TrajectoryWithRew) or not isinstance(t.obs, np.ndarray):
            raise TypeError(f"expected TrajectoryWithRew with array observations, got {type(t).__name__} "
                            f"with obs of type {type(getattr(t, 'obs', None)).__name__}")
    arrays = {
        "obs": np.concatenate([t.obs for t in trajectories]),
        "acts": np.concatenate([t.acts for t in trajectories]),
        "rews": np.concatenate([t.rews for t in trajectories]),
        "lengths": np.array([len(t) for t in trajectories], dtype=np.int64),
        "terminal": np.array([t.terminal for t in trajectories], dtype=bool),
    }
    for name in ("obs", "acts"):
        if arrays[name].dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric to be stored without pickling, "
                            f"got dtype {arrays[name].dtype}")
    return arrays


def save_demonstrations(
    path: str | os.PathLike[str], trajectories: list[types.TrajectoryWithRew], identity: dict[str, Any], labels: int
) -> Path:
    """Write ``trajectories`` (without their infos) and their metadata; refuses to overwrite an existing set."""
    root = Path(path)
    if any((root / name).exists() for name in (METADATA_FILE, ARRAYS_FILE, LEGACY_TRAJECTORIES)):
        raise FileExistsError(f"{root} already holds a demonstration set; choose a new path")
    arrays = _to_arrays(trajectories)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    root.mkdir(parents=True, exist_ok=True)
    (root / ARRAYS_FILE).write_bytes(data)
    record = {
        "format": FORMAT,
        **identity,
        "labels": int(labels),
        "n_trajectories": len(trajectories),
        DIGESTS: trajectory_digests(arrays),
        "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()},
        "sha256": {ARRAYS_FILE: hashlib.sha256(data).hexdigest()},
        "versions": {pkg: package_version(pkg) for pkg in ("noisy-expert-envs", "imitation", "gymnasium")},
    }
    (root / METADATA_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
    return root


def _read_arrays(root: Path, stored: dict[str, Any]) -> dict[str, np.ndarray]:
    """The set's arrays, after checking the folder's files, the hash and every array's dtype and shape."""
    file = root / ARRAYS_FILE
    extra = sorted(p.name for p in root.iterdir() if p.name not in (METADATA_FILE, ARRAYS_FILE))
    if extra:
        raise ValueError(f"{root / extra[0]}: unexpected file in a demonstration set (holds only "
                         f"{METADATA_FILE} and {ARRAYS_FILE}); refusing to load")
    if not file.is_file():
        raise ValueError(f"{file}: missing; refusing to load")
    expected = stored.get("sha256", {}).get(ARRAYS_FILE) if isinstance(stored.get("sha256"), dict) else None
    data = file.read_bytes()
    if not isinstance(expected, str) or hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(f"{file}: sha256 does not match {METADATA_FILE} (changed or corrupt); refusing to load")
    schema = stored.get("arrays")
    if not isinstance(schema, dict) or sorted(schema) != sorted(ARRAY_NAMES):
        raise ValueError(f"{root / METADATA_FILE}: 'arrays' must describe exactly {list(ARRAY_NAMES)}; "
                         "refusing to load")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if sorted(npz.files) != sorted(ARRAY_NAMES):
                raise ValueError(f"{file}: holds arrays {sorted(npz.files)}, expected {sorted(ARRAY_NAMES)}")
            arrays = {name: npz[name] for name in ARRAY_NAMES}
    except ValueError as err:  # numpy refuses object (pickled) arrays here
        raise ValueError(f"{file}: not a plain-array set ({err}); refusing to load") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{file}: not a readable .npz file ({err}); refusing to load") from None
    for name, a in arrays.items():
        want = schema[name]
        if not isinstance(want, dict) or a.dtype.str != want.get("dtype") or list(a.shape) != want.get("shape"):
            raise ValueError(f"{file}: array {name!r} has dtype {a.dtype.str} shape {list(a.shape)}, "
                             f"{METADATA_FILE} says {want!r}; refusing to load")
    lengths = arrays["lengths"]
    n, steps = len(lengths), int(lengths.sum())
    obs, acts, rews, terminal = (arrays[k] for k in ("obs", "acts", "rews", "terminal"))
    checks = {
        "lengths (int64, each >= 1)": lengths.dtype == np.int64 and lengths.ndim == 1 and bool(np.all(lengths >= 1)),
        "terminal (one bool per trajectory)": terminal.dtype == bool and terminal.shape == (n,),
        "rews (one float per step)": rews.dtype.kind == "f" and rews.shape == (steps,),
        "acts (one per step)": acts.dtype.kind in "biuf" and len(acts) == steps,
        "obs (one per step plus one per trajectory)": obs.dtype.kind in "biuf" and len(obs) == steps + n,
        f"n_trajectories ({stored.get('n_trajectories')!r})": stored.get("n_trajectories") == n,
    }
    for what, ok in checks.items():
        if not ok:
            raise ValueError(f"{file}: inconsistent arrays, expected {what}; refusing to load")
    return arrays


def _slices(arrays: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """Each trajectory's ``(obs, acts, rews, terminal)``, cut from the concatenated arrays by ``lengths``."""
    out, step = [], 0
    for i, (length, terminal) in enumerate(zip(arrays["lengths"].tolist(), arrays["terminal"].tolist())):
        obs_start = step + i  # each trajectory has one more observation than steps
        out.append((arrays["obs"][obs_start:obs_start + length + 1], arrays["acts"][step:step + length],
                    arrays["rews"][step:step + length], bool(terminal)))
        step += length
    return out


def trajectory_digests(arrays: dict[str, np.ndarray]) -> list[str]:
    """The sha256 of each trajectory (length, terminal flag, observation, action and reward bytes)."""
    out = []
    for obs, acts, rews, terminal in _slices(arrays):
        digest = hashlib.sha256(f"{len(acts)}:{int(terminal)}:{obs.dtype.str}:{acts.dtype.str}:".encode())
        for a in (obs, acts, rews):
            digest.update(np.ascontiguousarray(a).tobytes())
        out.append(digest.hexdigest())
    return out


def _trajectories(arrays: dict[str, np.ndarray]) -> list[types.TrajectoryWithRew]:
    return [types.TrajectoryWithRew(obs=obs, acts=acts, infos=None, terminal=terminal, rews=rews)
            for obs, acts, rews, terminal in _slices(arrays)]


def space_problem(values: np.ndarray, space: spaces.Space, *, check_box_bounds: bool = True) -> str | None:
    """What makes the rows of ``values`` (one per step) not elements of ``space``, or ``None``:
    dtype, shape, range and finiteness, for ``Discrete``, ``MultiDiscrete`` and ``Box`` spaces (others
    are not checked). ``check_box_bounds=False`` skips a Box's low/high (an env may observe beyond them)."""
    shape = tuple(values.shape[1:])
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        kinds = "iu"
        low = np.asarray(getattr(space, "start", 0))
        high = low + (space.n if isinstance(space, spaces.Discrete) else space.nvec) - 1
    elif isinstance(space, spaces.Box):
        kinds = "f" if space.dtype.kind == "f" else "iu"
        low, high = (space.low, space.high) if check_box_bounds else (-np.inf, np.inf)
    else:
        return None
    if values.dtype.kind not in kinds:
        return f"dtype {values.dtype} does not fit the space's dtype {space.dtype}"
    if shape != space.shape:
        return f"each row has shape {shape}, the space's is {space.shape}"
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        return f"a non-finite value (NaN or inf) in row {int(np.argwhere(~np.isfinite(values))[0][0])}"
    outside = np.argwhere((values < low) | (values > high))
    if len(outside):
        row = int(outside[0][0])
        return f"row {row} holds {values[row].tolist()!r}, outside {low.tolist()!r}..{high.tolist()!r}"
    return None


def _check_against_task(file: Path, arrays: dict[str, np.ndarray], task: Task) -> None:
    """``ValueError`` naming the field and the task's space an array does not fit, or non-finite rewards."""
    for name, which, space, bounds in (("obs", "observation", task.observation_space, False),
                                        ("acts", "action", task.action_space, True)):
        # Observations are not held to a Box's bounds: envs may observe beyond them (e.g. LunarLander).
        problem = space_problem(arrays[name], space, check_box_bounds=bounds)
        if problem is not None:
            raise ValueError(f"{file}: {name}: {problem}, for the task's {which} space {space}; refusing to load")
    if not np.all(np.isfinite(arrays["rews"])):
        raise ValueError(f"{file}: rews: a non-finite reward (NaN or inf); refusing to load")


def _check_digests(file: Path, meta_path: Path, arrays: dict[str, np.ndarray], stored: dict[str, Any]) -> None:
    """``ValueError`` for a trajectory whose sha256 is not the metadata's; a warning if there are none."""
    expected = stored.get(DIGESTS)
    if expected is None:
        warnings.warn(f"{meta_path}: no {DIGESTS!r} (a set saved before per-trajectory digests): its trajectory "
                      "boundaries and order could not be checked, everything else was; re-save it to add them",
                      stacklevel=3)
        return
    n = len(arrays["lengths"])
    if not isinstance(expected, list) or len(expected) != n:
        raise ValueError(f"{meta_path}: {DIGESTS!r} must list one sha256 per trajectory ({n}); refusing to load")
    for i, (found, want) in enumerate(zip(trajectory_digests(arrays), expected)):
        if found != want:
            raise ValueError(f"{file}: trajectory {i} does not match {METADATA_FILE}'s {DIGESTS}[{i}] (its "
                             "boundaries, order or contents changed); refusing to load")


def load_demonstrations(
    path: str | os.PathLike[str],
    env_id: str,
    *,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    clean: bool = False,
    labels: int | None = None,
    trust: bool = False,
) -> tuple[list[types.TrajectoryWithRew], dict[str, Any]]:
    """Load a set saved by :func:`make_demonstrations`, checking it matches the request.

    Raises ``ValueError`` naming the key when the metadata is missing, malformed, or differs from
    ``env_id``/``env_kwargs``/noise/``seed``/``clean`` (and ``labels``, when given), and naming the
    file when the arrays fail their hash or schema check. Nothing in the set is unpickled or decoded
    as code. Trajectories come back with ``infos=None``.

    The arrays are checked against the task's spaces (dtype, shape, action range, finiteness,
    naming the field and the space) and each trajectory against its digest; a set without digests
    (saved by an earlier version) loads with a ``UserWarning`` saying what could not be checked.

    ``trust=True`` additionally loads legacy sets (format ``noisy-expert-demonstrations/1``) with
    imitation's loader. **Dangerous**: that loader unpickles (``numpy.load(allow_pickle=True)``) and
    decodes jsonpickle, so a crafted set runs arbitrary code on your machine. Pass it only for a set
    you made yourself, and better re-save it in the current format.
    """
    root = Path(path)
    meta_path = root / METADATA_FILE
    if not meta_path.is_file():
        raise ValueError(f"{root} has no {METADATA_FILE}: not a noisy-expert demonstration set (refusing to load)")
    try:
        stored = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{meta_path} is not valid JSON ({err}); refusing to load") from None
    found = stored.get("format") if isinstance(stored, dict) else stored
    if found == LEGACY_FORMAT and not trust:
        raise ValueError(f"{meta_path}: legacy format {LEGACY_FORMAT!r} (pickle/jsonpickle based: loading it "
                         "can run code); refusing to load. Pass trust=True only for a set you made yourself")
    if found not in (FORMAT, LEGACY_FORMAT):
        raise ValueError(f"{meta_path} has format {found!r}; expected {FORMAT!r}")
    if isinstance(stored.get("labels"), bool) or not isinstance(stored.get("labels"), int):
        raise ValueError(f"{meta_path} lacks an integer 'labels'; refusing to load")
    wanted = describe(env_id, env_kwargs, seed, clean)
    if labels is not None:
        wanted["labels"] = int(labels)
    for key, value in wanted.items():
        if key not in stored:
            raise ValueError(f"{meta_path} lacks {key!r}; refusing to load")
        if stored[key] != value:
            raise ValueError(f"demonstration set {root} has {key}={stored[key]!r}, but {value!r} was requested")
    task = Task(env_id, dict(env_kwargs or {}))
    if found == LEGACY_FORMAT:  # trust=True: the caller accepted the risk
        from imitation.data import serialize

        trajectories = list(serialize.load_with_rewards(root / LEGACY_TRAJECTORIES))
        _check_against_task(root / LEGACY_TRAJECTORIES, _to_arrays(trajectories), task)
    else:
        arrays = _read_arrays(root, stored)
        _check_against_task(root / ARRAYS_FILE, arrays, task)
        _check_digests(root / ARRAYS_FILE, meta_path, arrays, stored)
        trajectories = _trajectories(arrays)
    if sum(len(t) for t in trajectories) != stored["labels"]:
        raise ValueError(f"{root} holds {sum(len(t) for t in trajectories)} transitions, metadata says {stored['labels']}")
    return trajectories, stored
