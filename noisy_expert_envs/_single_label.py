"""The oracle's answer for one unbatched observation of a Discrete task: the wrapper's label per step.

Everything the oracle does differently for a single observation is here. A plain classic-control step
is a few microseconds of Python, and each numpy call on a one-row array costs a sizeable part of one
(measured in ``benchmarks/RESULTS.md``), so this path works on Python scalars where it can:

- the observation is checked on Python numbers (small ``Box`` spaces), else with the batch check;
- the clean action comes from the expert's optional ``act_one(obs) -> int`` (see
  :class:`~noisy_expert_envs.experts.base.Expert`), accepted with two comparisons; any other answer,
  and experts without ``act_one`` (run on a one-row batch), go through the batch checks, so an
  invalid action raises the batch path's error;
- ``uniform`` noise draws one uniform ``u`` from a buffer that the oracle's RNG fills
  ``_UNIFORM_BLOCK`` at a time: a random action ``int(u / epsilon * n)`` if ``u < epsilon``, else
  the clean one (given ``u < epsilon``, ``u / epsilon`` is uniform on [0, 1)). ``none`` draws
  nothing; every other model draws exactly as its batch ``sample`` of one row does;
- the label is a precomputed ``np.int64``, the type a batch's element has.

So for ``uniform`` noise N single labels are not the labels of one batch of N (the distribution is
the same). The buffer is part of the RNG state: it is emptied when the oracle gets a new generator
and pickles with the oracle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from noisy_expert_envs.noise.discrete import NoNoise, UniformNoise

if TYPE_CHECKING:
    from noisy_expert_envs.oracle import NoisyOracle

#: Uniforms drawn per refill of the buffer.
_UNIFORM_BLOCK = 256

#: Observations up to this size are checked on Python numbers; larger ones with numpy.
_PYTHON_CHECK_SIZE = 64

#: Stands for "the expert's ``act_one`` was not called" (``None`` is a possible, invalid answer).
_NOT_ASKED = object()


class SingleLabeler:
    """Labels and clean actions of one observation for a :class:`NoisyOracle` with Discrete actions.

    It keeps the oracle's ``expert``, ``noise`` and ``rng`` and what it derives from them (the
    expert's ``act_one``, the uniform buffer); the oracle calls :meth:`sync` when one is replaced.
    """

    def __init__(self, oracle: NoisyOracle) -> None:
        self._oracle = oracle
        space: spaces.Discrete = oracle.action_space  # type: ignore[assignment]
        self.start = int(space.start)
        self.stop = self.start + int(space.n)
        labels = np.arange(self.start, self.stop, dtype=np.int64)
        # Indexing a tuple of np.int64 is cheaper than building one per label; a huge action space
        # keeps the array (8 bytes per action instead of a Python object each).
        self._labels: tuple[np.int64, ...] | np.ndarray = tuple(labels) if len(labels) <= 4096 else labels
        self._python_check(oracle.observation_space)
        self._rng: Any = None
        self.sync()

    def label(self, obs: np.ndarray, noisy: bool = True) -> np.int64:
        """One noisy label for ``obs`` (one query), or with ``noisy=False`` its clean action (one
        clean query). One method, checks included, as it runs at every wrapper step."""
        valid = False
        if obs.dtype is self._dtype:  # a small flat float Box, and ``obs`` in its dtype
            values = obs.tolist()
            total = sum(values)
            valid = total - total == 0.0  # NaN for NaN or inf entries (or an overflow: see below)
            if valid and self._shared is not None:
                low, high = self._shared
                valid = low <= min(values) and max(values) <= high
            elif valid:
                for i, low, high in self._bounded:
                    if not low <= values[i] <= high:
                        valid = False
                        break
        if not valid:  # the full check raises, or passes what the cheap one could not vouch for
            self._oracle._observation_check.check(obs[None], single=True)
        act_one = self._act_one
        answer = act_one(obs) if act_one is not None else _NOT_ASKED
        if type(answer) is int and self.start <= answer < self.stop:
            action = answer - self.start
        else:
            action = self._checked_index(obs, answer)
        if not noisy:
            self._oracle._count(1, clean=True)
            return self._labels[action]
        noise = self._noise
        if type(noise) is UniformNoise:
            uniforms = self._uniforms
            u = uniforms.pop() if uniforms else self._refill()
            epsilon = noise.epsilon
            if u < epsilon:
                n = self.stop - self.start
                action = min(int(u / epsilon * n), n - 1)  # clamped: the product may round up to n
        elif type(noise) is not NoNoise:
            prefs = self._oracle._preferences(obs[None]) if noise.needs_preferences else None
            action = int(noise.sample(obs[None], np.array([action], dtype=np.int64), self._rng, prefs)[0])
        self._oracle._count(1)
        return self._labels[action]

    def sync(self) -> None:
        """Take the oracle's current expert, noise and RNG (a new RNG empties the buffer)."""
        oracle = self._oracle
        if oracle.rng is not self._rng:
            self._rng = oracle.rng
            self._uniforms: list[float] = []
        self._expert = oracle.expert
        self._act_one = getattr(self._expert, "act_one", None)
        self._noise = oracle.noise

    # -- internals --------------------------------------------------------------------------------

    def _refill(self) -> float:
        # Reversed so that ``pop()`` (the cheap end of a list) returns the values in draw order.
        self._uniforms = self._rng.random(_UNIFORM_BLOCK).tolist()[::-1]
        return self._uniforms.pop()

    def _checked_index(self, obs: np.ndarray, answer: Any) -> int:
        """The clean index when ``act_one`` is missing or answered anything but an in-range int."""
        oracle = self._oracle
        if answer is _NOT_ASKED:
            raw = self._expert(obs[None])
            if type(raw) is np.ndarray and raw.shape in ((1,), (1, 1)) and raw.dtype.kind in "iu" \
                    and self.start <= raw.item() < self.stop:
                return raw.item() - self.start  # the usual answer passes the batch checks below
            return int(oracle._check_discrete(np.asarray(raw), 1)[0])
        return int(oracle._check_discrete(np.asarray([answer]), 1)[0])

    def _python_check(self, space: spaces.Space) -> None:
        """Set up the cheap check of one observation: for a flat float Box of at most
        ``_PYTHON_CHECK_SIZE`` entries, the entries whose bounds are inside the range of the
        space's dtype (a finite value of that dtype is within the others) as ``(index, low, high)``,
        or the ``(low, high)`` that all entries share (then compared with ``min`` and ``max``)."""
        self._dtype: np.dtype | None = None
        self._bounded: list[tuple[int, float, float]] = []
        self._shared: tuple[float, float] | None = None
        if not (isinstance(space, spaces.Box) and len(space.shape) == 1 and space.dtype.kind == "f"
                and space.shape[0] <= _PYTHON_CHECK_SIZE):
            return
        self._dtype = space.dtype
        finite_max = float(np.finfo(space.dtype).max)
        lows, highs = space.low.tolist(), space.high.tolist()
        self._bounded = [(i, low, high) for i, (low, high) in enumerate(zip(lows, highs))
                         if low > -finite_max or high < finite_max]
        if len(self._bounded) == len(lows) and len(set(lows)) == 1 and len(set(highs)) == 1:
            self._shared = (lows[0], highs[0])
