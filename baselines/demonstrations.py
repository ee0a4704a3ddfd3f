"""Saving and loading noisy-expert demonstration sets with ``imitation.data.serialize``.

A set is a folder: ``trajectories/`` (imitation's Hugging Face datasets format) and
``metadata.json`` (env id, env kwargs, the oracle's noise config, seed, label count, clean or
noisy, package versions). Loading checks the metadata against what the caller asks for and refuses
a set whose metadata is missing or differs, so an experiment never trains on the wrong teacher.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from imitation.data import serialize, types

from baselines.task import Task, make_env
from baselines.learners.bc import collect_demonstrations
from baselines.store import package_version

FORMAT = "noisy-expert-demonstrations/1"
METADATA_FILE = "metadata.json"
TRAJECTORIES_DIR = "trajectories"


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


def save_demonstrations(
    path: str | os.PathLike[str], trajectories: list[types.TrajectoryWithRew], identity: dict[str, Any], labels: int
) -> Path:
    """Write ``trajectories`` and their metadata; refuses to overwrite an existing set."""
    root = Path(path)
    if (root / METADATA_FILE).exists() or (root / TRAJECTORIES_DIR).exists():
        raise FileExistsError(f"{root} already holds a demonstration set; choose a new path")
    root.mkdir(parents=True, exist_ok=True)
    serialize.save(root / TRAJECTORIES_DIR, trajectories)
    record = {
        "format": FORMAT,
        **identity,
        "labels": int(labels),
        "n_trajectories": len(trajectories),
        "versions": {pkg: package_version(pkg) for pkg in ("noisy-expert-envs", "imitation", "gymnasium")},
    }
    (root / METADATA_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
    return root


def load_demonstrations(
    path: str | os.PathLike[str],
    env_id: str,
    *,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    clean: bool = False,
    labels: int | None = None,
) -> tuple[list[types.Trajectory], dict[str, Any]]:
    """Load a set saved by :func:`make_demonstrations`, checking it matches the request.

    Raises ``ValueError`` naming the key when the metadata is missing, malformed, or differs from
    ``env_id``/``env_kwargs``/noise/``seed``/``clean`` (and ``labels``, when given).
    """
    root = Path(path)
    meta_path = root / METADATA_FILE
    if not meta_path.is_file():
        raise ValueError(f"{root} has no {METADATA_FILE}: not a noisy-expert demonstration set (refusing to load)")
    try:
        stored = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_path} is not valid JSON ({err}); refusing to load") from None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise ValueError(f"{meta_path} has format {stored.get('format') if isinstance(stored, dict) else stored!r}; expected {FORMAT!r}")
    wanted = describe(env_id, env_kwargs, seed, clean)
    if labels is not None:
        wanted["labels"] = int(labels)
    for key, value in wanted.items():
        if key not in stored:
            raise ValueError(f"{meta_path} lacks {key!r}; refusing to load")
        if stored[key] != value:
            raise ValueError(f"demonstration set {root} has {key}={stored[key]!r}, but {value!r} was requested")
    trajectories = list(serialize.load(root / TRAJECTORIES_DIR))
    if sum(len(t) for t in trajectories) != stored["labels"]:
        raise ValueError(f"{root} holds {sum(len(t) for t in trajectories)} transitions, metadata says {stored['labels']}")
    return trajectories, stored

