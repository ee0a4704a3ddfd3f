"""Analytic (hand-written, learning-free) clean experts for Gymnasium's classic-control tasks.

Every expert is a plain, stateless, picklable callable that maps a *batch* of observations,
shape ``(B, *obs_shape)``, to a batch of actions: ``(B,)`` int64 for ``Discrete`` tasks and
``(B, *action_shape)`` float32 for ``Box`` tasks, always inside the action space.  The experts for
the ``Discrete`` tasks also expose ``preferences(obs) -> (B, n_actions)`` float64 scores whose
argmax is exactly the chosen action (``__call__`` is defined as that argmax, ties going to the
lowest index as with ``np.argmax``); a softmax over ``preferences / T`` gives a Boltzmann teacher.

The models embedded below replicate the dynamics of Gymnasium 0.29.1 (numpy only, vectorised over
the batch; the environment state is a function of the observation, so no memory is kept).
``CartPoleExpert`` also has ``act_one(obs) -> int`` for one unbatched observation (see
``experts.base.Expert``), which the oracle uses for the label of every wrapper step.
"""

from __future__ import annotations

import functools
import math
from typing import Dict, Tuple, Type

import numpy as np

__all__ = [
    "CartPoleExpert",
    "MountainCarExpert",
    "AcrobotExpert",
    "PendulumExpert",
    "MountainCarContinuousExpert",
    "CLASSIC_CONTROL_EXPERTS",
]


def _batch(obs: np.ndarray, dim: int, name: str) -> np.ndarray:
    """Return ``obs`` as a float64 array of shape (B, dim); raise ValueError otherwise."""
    arr = np.asarray(obs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{name} expects a batch of shape (B, {dim}), got {arr.shape}")
    return arr


# --------------------------------------------------------------------------------------------
# CartPole-v1
# --------------------------------------------------------------------------------------------
class CartPoleExpert:
    """Linear state-feedback (LQR-like) controller for CartPole-v1.

    The signed margin ``s = 1.0*x + 1.5*x_dot + 20*theta + 3*theta_dot`` is the force the linear
    controller would like to apply; the expert pushes right (action 1) iff ``s > 0``, else left.
    The position/velocity terms keep the cart near the centre (|x| < 0.15 over 300 test episodes),
    the angle/angular-velocity terms keep the pole upright.  ``preferences`` is ``[-s/2, +s/2]``,
    so the logit gap between the actions equals the margin ``s``.
    """

    gains: Tuple[float, float, float, float] = (1.0, 1.5, 20.0, 3.0)

    def margin(self, obs: np.ndarray) -> np.ndarray:
        """Signed controller margin ``s`` (positive = push right), shape (B,)."""
        o = _batch(obs, 4, "CartPoleExpert")
        g0, g1, g2, g3 = self.gains
        # Spelled out left to right rather than ``o @ gains`` (whose summation order and FMA use
        # are up to the BLAS): these are exactly the float64 operations ``act_one`` does on Python
        # floats, so both give the same action even where ``s`` rounds to a tie.
        return o[:, 0] * g0 + o[:, 1] * g1 + o[:, 2] * g2 + o[:, 3] * g3

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        """Scores ``[-s/2, s/2]`` of shape (B, 2); argmax equals ``__call__``'s action."""
        s = self.margin(obs)
        return np.stack([-0.5 * s, 0.5 * s], axis=1)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions of shape (B,) int64: 1 (push right) iff the margin is positive."""
        s = self.margin(obs)
        # Exactly argmax(preferences) (ties and NaN go to 0), without building the (B, 2) array.
        return (0.5 * s > -0.5 * s).astype(np.int64)

    def act_one(self, obs: np.ndarray) -> int:
        """The action for one observation of shape (4,), as a Python int: ``__call__(obs[None])[0]``.

        Why: the oracle labels one observation per wrapper step, and the numpy path on one row
        costs more than a whole CartPole step; the same float64 arithmetic on Python floats costs a
        small fraction of it (``benchmarks/RESULTS.md``). ``0.5 * s > -0.5 * s`` (not ``s > 0``)
        keeps ties, NaN and subnormal ``s`` going to 0 as in the batch path.
        """
        g0, g1, g2, g3 = self.gains
        try:
            x, x_dot, theta, theta_dot = obs.tolist()
            s = x * g0 + x_dot * g1 + theta * g2 + theta_dot * g3
        except (AttributeError, TypeError, ValueError):
            s = None
        if type(s) is not float:
            # Not an array of 4 floats or ints (whose Python values are exactly the float64 values
            # ``_batch`` computes with): convert to float64 as ``_batch`` does, or say what is wrong.
            values = np.asarray(obs, dtype=np.float64)
            if values.shape != (4,):
                raise ValueError(f"CartPoleExpert.act_one expects one observation of shape (4,), got "
                                 f"{values.shape}")
            x, x_dot, theta, theta_dot = values.tolist()
            s = x * g0 + x_dot * g1 + theta * g2 + theta_dot * g3
        return 1 if 0.5 * s > -0.5 * s else 0


# --------------------------------------------------------------------------------------------
# MountainCar-v0
# --------------------------------------------------------------------------------------------
class MountainCarExpert:
    """One-step policy improvement (rollout) over the 'push along the velocity' rule, MountainCar-v0.

    The base rule pushes in the direction of motion (action 2 if ``v >= 0`` else 0), pumping energy
    every step.  For each candidate first action the exact MountainCar dynamics are simulated,
    then the base rule, until the goal (``x >= 0.5``, ``v >= 0``); the preference of an action is
    minus that number of steps (a Q-value in reward units, since each step costs -1), plus a
    0.25 bonus on the base rule's action to break exact ties.  If the goal is not reached within
    the horizon the score is ``-(horizon + 1) - (0.5 - max position reached)``.  The expert takes
    the argmax, i.e. it mainly chooses the better initial swing direction and the switch points.
    """

    horizon: int = 200
    tie_bonus: float = 0.25

    @staticmethod
    def _base_action(velocity: np.ndarray) -> np.ndarray:
        return np.where(velocity >= 0.0, 2.0, 0.0)

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        """Negative predicted steps-to-goal of each action, shape (B, 3)."""
        o = _batch(obs, 2, "MountainCarExpert")
        b = o.shape[0]
        x = np.repeat(o[:, 0], 3)
        v = np.repeat(o[:, 1], 3)
        a = np.tile(np.arange(3, dtype=np.float64), b)
        steps = np.full(x.shape, np.inf)
        best_x = x.copy()
        done = np.zeros(x.shape, dtype=bool)
        for k in range(self.horizon):
            v = np.clip(v + (a - 1.0) * 0.001 - 0.0025 * np.cos(3.0 * x), -0.07, 0.07)
            x = np.clip(x + v, -1.2, 0.6)
            v = np.where((x <= -1.2) & (v < 0.0), 0.0, v)
            best_x = np.maximum(best_x, x)
            reached = (x >= 0.5) & (v >= 0.0) & ~done
            steps[reached] = k + 1.0
            done |= reached
            if done.all():
                break
            a = self._base_action(v)
        unreached = self.horizon + 1.0 + (0.5 - np.minimum(best_x, 0.5))
        score = -np.where(done, steps, unreached).reshape(b, 3)
        base = self._base_action(o[:, 1]).astype(np.int64)
        score[np.arange(b), base] += self.tie_bonus
        return score

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions of shape (B,) int64 (argmax of ``preferences``)."""
        return np.argmax(self.preferences(obs), axis=1).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Acrobot-v1
# --------------------------------------------------------------------------------------------
_ACRO_TORQUES = np.array([-1.0, 0.0, 1.0])


def _acrobot_derivs(s: np.ndarray, torque: np.ndarray) -> np.ndarray:
    """Time derivative of the Acrobot-v1 state (rows: th1, th2, dth1, dth2), 'book' dynamics."""
    m1 = m2 = 1.0
    l1 = 1.0
    lc1 = lc2 = 0.5
    i1 = i2 = 1.0
    g = 9.8
    th1, th2, dth1, dth2 = s
    c2, s2 = np.cos(th2), np.sin(th2)
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2.0 * l1 * lc2 * c2) + i1 + i2
    d2 = m2 * (lc2**2 + l1 * lc2 * c2) + i2
    phi2 = m2 * lc2 * g * np.cos(th1 + th2 - math.pi / 2.0)
    phi1 = (
        -m2 * l1 * lc2 * dth2**2 * s2
        - 2.0 * m2 * l1 * lc2 * dth2 * dth1 * s2
        + (m1 * lc1 + m2 * l1) * g * np.cos(th1 - math.pi / 2.0)
        + phi2
    )
    ddth2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dth1**2 * s2 - phi2) / (
        m2 * lc2**2 + i2 - d2**2 / d1
    )
    ddth1 = -(d2 * ddth2 + phi1) / d1
    return np.stack([dth1, dth2, ddth1, ddth2])


def _acrobot_step(s: np.ndarray, torque: np.ndarray, dt: float = 0.2) -> np.ndarray:
    """One RK4 step of Acrobot-v1 (same integrator, angle wrapping and velocity bounds)."""
    k1 = _acrobot_derivs(s, torque)
    k2 = _acrobot_derivs(s + 0.5 * dt * k1, torque)
    k3 = _acrobot_derivs(s + 0.5 * dt * k2, torque)
    k4 = _acrobot_derivs(s + dt * k3, torque)
    ns = s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    ns[0] = (ns[0] + math.pi) % (2.0 * math.pi) - math.pi
    ns[1] = (ns[1] + math.pi) % (2.0 * math.pi) - math.pi
    ns[2] = np.clip(ns[2], -4.0 * math.pi, 4.0 * math.pi)
    ns[3] = np.clip(ns[3], -9.0 * math.pi, 9.0 * math.pi)
    return ns


class AcrobotExpert:
    """Energy-pumping heuristic + one-step policy improvement by model rollouts, Acrobot-v1.

    Base rule (energy pumping): apply torque ``-sign(dtheta1)`` (action 0 if ``dtheta1 > 0`` else
    2), which alone reaches the line in ~85 steps.  For each of the three torques the known
    Acrobot 'book' dynamics (RK4, dt=0.2) are rolled out from the observed state, the first step
    with that torque and then the base rule, until the tip height ``-cos(th1) - cos(th1 + th2)``
    exceeds 1.  The preference of an action is minus the predicted number of steps to the goal
    (a Q-value in reward units), plus a 0.25 bonus on the base rule's action to break exact ties;
    beyond the horizon the score is ``-(horizon + 1) - (1 - max tip height)``.
    """

    horizon: int = 100
    tie_bonus: float = 0.25

    @staticmethod
    def _base_torque(dth1: np.ndarray) -> np.ndarray:
        return np.where(dth1 > 0.0, -1.0, 1.0)

    def preferences(self, obs: np.ndarray) -> np.ndarray:
        """Negative predicted steps-to-goal of each torque (-1, 0, +1), shape (B, 3)."""
        o = _batch(obs, 6, "AcrobotExpert")
        b = o.shape[0]
        s0 = np.stack(
            [np.arctan2(o[:, 1], o[:, 0]), np.arctan2(o[:, 3], o[:, 2]), o[:, 4], o[:, 5]]
        )
        s = np.repeat(s0, 3, axis=1)
        torque = np.tile(_ACRO_TORQUES, b)
        steps = np.full(3 * b, np.inf)
        best_h = np.full(3 * b, -2.0)
        done = np.zeros(3 * b, dtype=bool)
        for k in range(self.horizon):
            s = _acrobot_step(s, torque)
            h = -np.cos(s[0]) - np.cos(s[0] + s[1])
            best_h = np.maximum(best_h, h)
            reached = (h > 1.0) & ~done
            steps[reached] = k + 1.0
            done |= reached
            if done.all():
                break
            torque = self._base_torque(s[2])
        unreached = self.horizon + 1.0 + (1.0 - np.minimum(best_h, 1.0))
        score = -np.where(done, steps, unreached).reshape(b, 3)
        base = (self._base_torque(o[:, 4]) + 1.0).astype(np.int64)  # torque -1, 0, +1 is action 0, 1, 2
        score[np.arange(b), base] += self.tie_bonus
        return score

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions of shape (B,) int64 (argmax of ``preferences``)."""
        return np.argmax(self.preferences(obs), axis=1).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Pendulum-v1
# --------------------------------------------------------------------------------------------
@functools.cache  # a constant of the task: 2000 Riccati steps, otherwise repeated at every gym.make
def _pendulum_lqr_gain(q_theta: float = 1.0, q_omega: float = 0.1, r: float = 0.001) -> np.ndarray:
    """Discrete-time LQR gain for Pendulum-v1 linearised at the top (cost weights of the task)."""
    dt, a_g, b_u = 0.05, 15.0, 3.0  # theta_ddot = 15 sin(theta) + 3 u
    a = np.array([[1.0 + dt * dt * a_g, dt], [dt * a_g, 1.0]])
    b = np.array([[dt * dt * b_u], [dt * b_u]])
    q = np.diag([q_theta, q_omega])
    p = q.copy()
    for _ in range(2000):
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p = q + a.T @ p @ (a - b @ k)
    return k[0]


class PendulumExpert:
    """Energy-shaping swing-up plus LQR balance for Pendulum-v1.

    With ``E = omega^2/2 + 15 cos(theta)`` (the upright rest energy is 15), the swing-up law is
    ``u = k_E (15 - E) omega`` (pump energy in when short, brake when in excess; an exactly resting
    pendulum gets u = 1 to start).  Once ``cos(theta) > 0.8`` the discrete-time LQR law
    ``u = -K [theta, omega]`` (K from the task's own cost weights on the linearised model, about
    [19.7, 5.26]) takes over.  Torques are clipped to [-2, 2].
    """

    def __init__(self, energy_gain: float = 0.5, lqr_cos_threshold: float = 0.8) -> None:
        self.energy_gain = float(energy_gain)
        self.lqr_cos_threshold = float(lqr_cos_threshold)
        self.lqr_gain = _pendulum_lqr_gain().copy()  # a copy: the cached array stays untouched

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Torques of shape (B, 1) float32 in [-2, 2]."""
        o = _batch(obs, 3, "PendulumExpert")
        cos_t, sin_t, omega = o[:, 0], o[:, 1], o[:, 2]
        theta = np.arctan2(sin_t, cos_t)
        energy = 0.5 * omega**2 + 15.0 * cos_t
        swing = self.energy_gain * (15.0 - energy) * omega
        swing = np.where(np.abs(omega) < 1e-3, np.where(cos_t < -0.99, 1.0, swing), swing)
        lqr = -(self.lqr_gain[0] * theta + self.lqr_gain[1] * omega)
        u = np.where(cos_t > self.lqr_cos_threshold, lqr, swing)
        return np.clip(u, -2.0, 2.0).astype(np.float32)[:, None]


# --------------------------------------------------------------------------------------------
# MountainCarContinuous-v0
# --------------------------------------------------------------------------------------------
class MountainCarContinuousExpert:
    """Constant-magnitude energy pumping for MountainCarContinuous-v0.

    ``u = c * sign(v)`` with ``c = magnitude`` (default 0.3): pushing along the velocity adds
    energy every step, and since the action cost ``0.1 u^2`` per step falls faster than the number
    of steps grows, a small constant magnitude pays less than full throttle (c must exceed ~0.18,
    the force needed to climb from the left wall to the goal in one run).  At ``v == 0`` the car is
    pushed the way gravity pulls it (left if exactly at the valley bottom).
    """

    def __init__(self, magnitude: float = 0.3) -> None:
        if not 0.0 < magnitude <= 1.0:
            raise ValueError(f"magnitude must be in (0, 1], got {magnitude}")
        self.magnitude = float(magnitude)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Forces of shape (B, 1) float32 in [-1, 1]."""
        o = _batch(obs, 2, "MountainCarContinuousExpert")
        x, v = o[:, 0], o[:, 1]
        gravity = -0.0025 * np.cos(3.0 * x)
        direction = np.where(v != 0.0, np.sign(v), np.where(gravity > 0.0, 1.0, -1.0))
        return (self.magnitude * direction).astype(np.float32)[:, None]


CLASSIC_CONTROL_EXPERTS: Dict[str, Type] = {
    "CartPole-v1": CartPoleExpert,
    "MountainCar-v0": MountainCarExpert,
    "Acrobot-v1": AcrobotExpert,
    "Pendulum-v1": PendulumExpert,
    "MountainCarContinuous-v0": MountainCarContinuousExpert,
}
