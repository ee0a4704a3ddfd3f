"""Shared helpers for the noisy_expert_envs test suite.

The experts here are deliberately simple module-level functions (so they pickle by reference) and do
not depend on the analytic experts in ``noisy_expert_envs.experts.classic_control``; tests of those
live in ``test_classic_experts.py``.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from importlib.util import find_spec
from typing import Iterator

import numpy as np
import pytest


#: Env-checker warnings that report no problem of ours (``only_known_warnings`` fails on any other).
CHECKER_WARNINGS = (
    "is different from the unwrapped version",  # we check the made env, wrappers included, on purpose
    "env.seed to get variables",  # gymnasium's checker probing for the removed `seed` method
    "symmetric and normalized",  # Pendulum's native [-2, 2] action box
    # Gymnasium 1.x's checker on Gymnasium's own CartPole/LunarLander observation bounds (+-inf):
    "observation space minimum value is -infinity", "observation space maximum value is infinity",
)

#: Why Box2D tasks are skipped where the ``[box2d]`` extra is missing (``make`` installs it).
BOX2D_MISSING = "Box2D or pygame not installed (pip install -e '.[box2d]'; make installs it)"
BOX2D_INSTALLED = find_spec("Box2D") is not None and find_spec("pygame") is not None


def env_id_params(ids: list[str]) -> list:
    """``ids`` as pytest params; the Box2D ones are skipped, with the reason, without Box2D."""
    return [pytest.param(i, marks=pytest.mark.skipif("LunarLander" in i and not BOX2D_INSTALLED, reason=BOX2D_MISSING))
            for i in ids]


#: Why tests needing ``baselines`` are skipped where imitation is missing (``make test-gym1``).
BASELINES_STACK_MISSING = "needs the baselines stack (imitation 1.0.1 on gymnasium 0.29.1; `make test`), not installed here"
BASELINES_STACK_INSTALLED = find_spec("imitation") is not None


def require_baselines_stack() -> None:
    """Skip the calling test module, with the reason, when imitation is not installed: the gymnasium
    1.x job (``make test-gym1``) has no imitation, which supports gymnasium 0.29 only. On the pinned
    stack imitation is there, so a broken ``baselines`` import still fails the module loudly."""
    pytest.importorskip("imitation", reason=BASELINES_STACK_MISSING)


def cartpole_heuristic(obs: np.ndarray) -> np.ndarray:
    """Push toward the side the pole is falling to (batched CartPole expert, actions 0/1)."""
    obs = np.asarray(obs)
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0.0).astype(np.int64)


def pendulum_heuristic(obs: np.ndarray) -> np.ndarray:
    """A damping torque for Pendulum-v1, inside the [-2, 2] action bounds, shape (B, 1)."""
    obs = np.asarray(obs, dtype=np.float32)
    return np.clip(-2.0 * obs[:, 1:2] - 0.5 * obs[:, 2:3], -2.0, 2.0)


@pytest.fixture
def cartpole_expert():
    return cartpole_heuristic


@pytest.fixture
def pendulum_expert():
    return pendulum_heuristic


@contextmanager
def only_known_warnings(*allowed: str) -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning inside the block and fail on any whose message contains none of
    ``allowed``: a checker's warnings are how it reports problems short of an exception."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in allowed)]
    assert not unexpected, f"unexpected warnings: {unexpected}"


@pytest.fixture
def known_warnings():
    return only_known_warnings


def fake_execute(cell: dict) -> dict:
    """A sweep cell's store record without training: fast, deterministic, every field a real ``ok`` record
    needs (success alternates with the seed)."""
    from baselines.sweep.config import cell_key
    from baselines.sweep.store import make_record

    success = float(cell["seed"] % 2)
    return make_record(cell, cell_key(cell), "ok", success_rate=success, normalized_return=success,
                       labels_used=cell["budget"], wall_time_s=0.0,
                       **{k: cell[k] for k in ("env_id", "env_kwargs", "algo", "budget", "seed")})


@pytest.fixture
def fake_runs(monkeypatch) -> list[str]:
    """Sweeps (jobs=1, in-process) record :func:`fake_execute` records instead of training; the list
    collects the cell keys run, in order."""
    import baselines.sweep.runner as sweep
    from baselines.sweep.config import cell_key

    ran: list[str] = []

    def execute(cell: dict) -> dict:
        ran.append(cell_key(cell))
        return fake_execute(cell)

    monkeypatch.setattr(sweep, "execute_cell", execute)
    return ran
