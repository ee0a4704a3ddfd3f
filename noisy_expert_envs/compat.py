"""Every difference between the Gymnasium lines we support (0.29.1 and 1.x), in one place.

Each item says which versions it concerns. This module imports nothing from gymnasium at import
time: Gymnasium 0.29 imports our registration (which imports this module) through its plugin entry
point while ``gymnasium`` itself is still half-imported, so the version is read from the installed
distribution's metadata rather than from ``gymnasium.__version__``.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Sequence

import numpy as np


def major_minor(text: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string such as ``"2.9.2"``."""
    match = re.match(r"(\d+)\.(\d+)", text)
    if match is None:
        raise ValueError(f"cannot read a version number from {text!r}")
    return int(match.group(1)), int(match.group(2))


#: ``(major, minor)`` of the installed Gymnasium.
GYMNASIUM_VERSION: tuple[int, int] = major_minor(version("gymnasium"))

#: Gymnasium >= 1.0. Differences from 0.29 that matter here:
#: - 1.0 removed plugin loading: the ``gymnasium.envs`` entry point in setup.cfg is read by 0.29 only,
#:   so on 1.x the ids exist after ``import noisy_expert_envs`` (``gym.register_envs``) or with
#:   ``gym.make("noisy_expert_envs:NoisyExpert/...")``;
#: - 1.0 renamed LunarLander-v2 to -v3 (see ``LUNAR_LANDER_ID``);
#: - ``gym.make_vec`` resets finished sub-envs differently (see ``MAKE_VEC_RESETS_ON_NEXT_STEP``);
#: - ``imitation`` 1.0.1 declares 0.29 only; ``baselines`` runs it on 1.x too (installed ``--no-deps``,
#:   with SB3 >= 2.4: ``make install-modern``).
GYMNASIUM_1: bool = GYMNASIUM_VERSION >= (1, 0)

#: How the vector envs of ``gym.make_vec`` reset a finished sub-env. 0.29 (``gymnasium.experimental.vector``)
#: resets it within the same ``step``: that step returns the new episode's first observation and its
#: reset ``info`` (the finished step's ``info`` is under ``info["final_info"]``). 1.x (``gymnasium.vector``,
#: default ``AutoresetMode.NEXT_STEP``) resets it on the next ``step``, ignoring that step's action.
#: Either way ``info["expert_action"][i]`` labels the returned ``obs[i]``; Box labels (arrays) come as
#: an object array of arrays on 0.29 and stacked into one array on 1.x.
MAKE_VEC_RESETS_ON_NEXT_STEP: bool = GYMNASIUM_1

#: Whether Gymnasium reads ``gymnasium.envs`` entry points (0.29 does at ``import gymnasium``).
READS_PLUGIN_ENTRY_POINTS: bool = not GYMNASIUM_1

#: Gymnasium's own id of the LunarLander task we wrap: "LunarLander-v2" on 0.29, "LunarLander-v3"
#: from 1.0 on. Same class, module and heuristic; v3 resets the wind/turbulence phase at ``reset``
#: (matters only with ``enable_wind=True``), destroys the previous Box2D world fully (Gymnasium issue
#: 728; we saw the same seed give the same episode after 10 others on 0.29.1 too) and widens the
#: observation bounds. Our id is ``NoisyExpert/LunarLander-v3`` on both lines.
LUNAR_LANDER_ID: str = "LunarLander-v3" if GYMNASIUM_1 else "LunarLander-v2"

#: What to install for Box2D tasks: the prebuilt ``box2d`` 2.3.10 wheels (Gymnasium's own
#: ``[box2d]`` extra pins ``box2d-py`` and swig, i.e. compiles).
BOX2D_INSTALL_HINT = 'pip install "noisy-expert-envs[box2d]"  (box2d==2.3.10 wheels + pygame; no compiler)'


#: imitation releases ``baselines`` is tested with. 1.0.1 declares gymnasium ~0.29 and SB3 ~2.2.1,
#: but runs on gymnasium 1.x with SB3 >= 2.4 when installed with ``--no-deps`` (requirements-modern.txt).
TESTED_IMITATION: tuple[str, ...] = ("1.0.1",)
#: The first stable-baselines3 that supports gymnasium 1.x.
MIN_SB3_ON_GYMNASIUM_1: tuple[int, int] = (2, 4)


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when it is not installed (read from its
    metadata: nothing is imported)."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def baselines_stack_problem(gymnasium: str, imitation: str | None, sb3: str | None) -> str | None:
    """None when ``baselines`` is tested on these versions, else what is missing or untested, starting
    with the Gymnasium found (``baselines`` raises ``ImportError`` with it). Tested: imitation 1.0.1 on
    gymnasium 0.29 (the pinned stack, held by imitation's own pins) or on 1.x with SB3 >= 2.4."""
    found = f"gymnasium {gymnasium}"
    if imitation is None or sb3 is None:
        return f"{found}, no imitation" if imitation is None else f"{found}, no stable-baselines3"
    if major_minor(gymnasium) < (1, 0):
        return None
    if imitation not in TESTED_IMITATION:
        return f"{found}, imitation {imitation} (tested on gymnasium 1.x: {', '.join(TESTED_IMITATION)})"
    if major_minor(sb3) < MIN_SB3_ON_GYMNASIUM_1:
        return f"{found}, stable-baselines3 {sb3} (gymnasium 1.x needs >= 2.4)"
    return None


# Gymnasium 0.29.1 with NumPy >= 2.0: ``acrobot.rk4`` allocates with ``np.float_``, which NumPy 2.0
# removed, so every ``AcrobotEnv.step`` raises AttributeError. Gymnasium 1.x uses ``np.float64``.
def acrobot_rk4(derivs: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, t: Sequence[float]) -> np.ndarray:
    """Gymnasium 0.29's fourth-order Runge-Kutta step with ``np.float64``, returning only the final
    state (as it does)."""
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
    """Install :func:`acrobot_rk4` into Gymnasium's acrobot module when Gymnasium < 1.0 runs on
    NumPy >= 2.0 (the only combination that needs it); nothing else is touched."""
    if GYMNASIUM_1 or hasattr(np, "float_"):
        return
    from gymnasium.envs.classic_control import acrobot

    acrobot.rk4 = acrobot_rk4


def make_acrobot_env(render_mode: str | None = None) -> Any:
    """Gymnasium's ``AcrobotEnv``, with :func:`patch_acrobot` applied first (the task's entry point)."""
    patch_acrobot()
    from gymnasium.envs.classic_control.acrobot import AcrobotEnv

    return AcrobotEnv(render_mode=render_mode)


def lunar_lander_module() -> Any:
    """``gymnasium.envs.box2d.lunar_lander`` (same module path on 0.29 and 1.x), or
    ``DependencyNotInstalled`` naming our ``[box2d]`` extra when Box2D or pygame is missing
    (Gymnasium's own message suggests swig and a compiled ``box2d-py``)."""
    from gymnasium.error import DependencyNotInstalled

    try:
        from gymnasium.envs.box2d import lunar_lander
    except (ImportError, DependencyNotInstalled) as e:  # DependencyNotInstalled is not an ImportError
        raise DependencyNotInstalled(f"NoisyExpert/LunarLander needs Box2D and pygame: {BOX2D_INSTALL_HINT}") from e
    return lunar_lander


def make_lunar_lander_env(
    render_mode: str | None = None,
    gravity: float = -10.0,
    enable_wind: bool = False,
    wind_power: float = 15.0,
    turbulence_power: float = 1.5,
) -> Any:
    """Gymnasium's discrete ``LunarLander`` (``LUNAR_LANDER_ID``'s dynamics); the task's entry point.

    ``continuous`` is deliberately not a parameter: the clean expert is the discrete heuristic.
    """
    env = lunar_lander_module().LunarLander(
        render_mode=render_mode, continuous=False, gravity=gravity, enable_wind=enable_wind,
        wind_power=wind_power, turbulence_power=turbulence_power,
    )
    if not GYMNASIUM_1:
        # 0.29's bounds are narrower than what the env produces (a lander climbing past y = 1.5 is
        # returned, and our oracle refuses observations outside the space); 1.0 widened them to these.
        import numpy as np
        from gymnasium import spaces

        high = np.array([2.5, 2.5, 10.0, 10.0, 2 * np.pi, 10.0, 1.0, 1.0], dtype=np.float32)
        low = np.concatenate([-high[:6], np.zeros(2, dtype=np.float32)])
        env.observation_space = spaces.Box(low, high, dtype=np.float32)
    return env
