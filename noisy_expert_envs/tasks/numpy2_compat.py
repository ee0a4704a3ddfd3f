"""Keep Gymnasium 0.29's Acrobot working under NumPy 2.

Gymnasium 0.29.1's ``acrobot.rk4`` allocates with ``np.float_``, which NumPy 2.0 removed, so every
``AcrobotEnv.step`` raises ``AttributeError``. We replace that one module function with the same
integrator using ``np.float64`` (only when NumPy lacks ``float_``); nothing else is touched.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


def rk4(derivs: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, t: Sequence[float]) -> np.ndarray:
    """Gymnasium's fourth-order Runge-Kutta step, returning only the final state (as it does)."""
    yout = np.zeros((len(t), len(y0)), np.float64)
    yout[0] = y0
    for i in range(len(t) - 1):
        dt = t[i + 1] - t[i]
        dt2 = dt / 2.0
        y = yout[i]
        k1 = np.asarray(derivs(y))
        k2 = np.asarray(derivs(y + dt2 * k1))
        k3 = np.asarray(derivs(y + dt2 * k2))
        k4 = np.asarray(derivs(y + dt * k3))
        yout[i + 1] = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return yout[-1][:4]


def patch_acrobot() -> None:
    """Install :func:`rk4` into Gymnasium's acrobot module if NumPy lacks ``float_``."""
    if hasattr(np, "float_"):
        return
    from gymnasium.envs.classic_control import acrobot

    acrobot.rk4 = rk4


def make_acrobot_env(render_mode: str | None = None) -> Any:
    """Gymnasium's ``AcrobotEnv``, with :func:`patch_acrobot` applied first (the task's entry point)."""
    patch_acrobot()
    from gymnasium.envs.classic_control.acrobot import AcrobotEnv

    return AcrobotEnv(render_mode=render_mode)
