"""Sample-need predictions from the lock's theory: offline IL exponential in H, greedy OPD polynomial.

Pure functions of (p, H, mode margin); :mod:`baselines.diagnose` measures p and margins on a task
and its module docstring derives both formulas and their constants.
"""

from __future__ import annotations

import math


C_OFF = 4.5
OPD_DELTA = 0.1


def offline_trajectories(p: float, horizon: float) -> float:
    """Predicted noisy demonstrations offline BC needs: ``C_OFF * p^-H``."""
    return C_OFF * p ** (-horizon) if p > 0 else math.inf


def noisy_episode_length(p: float, horizon: float) -> float:
    """Mean length of a noisy-expert episode when every deviation ends it: ``(1 - p^H) / (1 - p)``."""
    return float(horizon) if p >= 1.0 else (1.0 - p ** horizon) / (1.0 - p)


def offline_labels(p: float, horizon: float, mean_length: float | None = None) -> float:
    """Predicted labels offline BC needs: ``C_OFF * p^-H * L`` (``L`` defaults to the geometric length)."""
    length = noisy_episode_length(p, horizon) if mean_length is None else mean_length
    return offline_trajectories(p, horizon) * length


def opd_labels(horizon: float, margin: float, delta: float = OPD_DELTA) -> float:
    """Predicted labels for greedy OPD: ``H (H + 1) / 2 + H * ceil(2 ln(H / δ) / Δ²)``; inf if Δ <= 0."""
    if margin <= 0:
        return math.inf
    per_state = math.ceil(2.0 * math.log(max(horizon, 1.0) / delta) / margin**2)
    return horizon * (horizon + 1) / 2 + horizon * per_state
