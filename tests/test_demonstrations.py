"""Demonstration sets: imitation's serialize format plus metadata that must match on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import require_baselines_stack

require_baselines_stack()  # before the stack's imports (imitation, scipy, yaml, ...)

from baselines.demonstrations import METADATA_FILE, load_demonstrations, make_demonstrations

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
