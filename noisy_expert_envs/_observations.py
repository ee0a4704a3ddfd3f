"""What the oracle accepts as observations: the supported spaces and the check of a batch's values."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

#: Observation spaces whose observations are fixed-shape numeric arrays, the oracle's input.
SUPPORTED_OBSERVATION_SPACES: tuple[type[spaces.Space], ...] = (
    spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary,
)

#: The largest finite float64; stands in for infinite bounds, so that ``low <= x <= high`` alone
#: refuses NaN (every comparison with NaN is false) and +-inf.
_FLOAT_MAX = float(np.finfo(np.float64).max)


def check_observation_space(space: spaces.Space) -> None:
    """``TypeError`` unless ``space`` is one of :data:`SUPPORTED_OBSERVATION_SPACES`."""
    if not isinstance(space, SUPPORTED_OBSERVATION_SPACES):
        names = [cls.__name__ for cls in SUPPORTED_OBSERVATION_SPACES]
        raise TypeError(
            f"the oracle supports observation spaces {names}, got {space}; flatten a Dict or Tuple "
            "observation first (e.g. gymnasium.wrappers.FlattenObservation)"
        )


class ObservationCheck:
    """Refuses observations that are not finite or lie outside the observation space.

    ``low`` and ``high`` are the bounds per entry as float64 with infinite bounds replaced by the
    largest finite float, so ``low <= x <= high`` is false exactly for NaN, +-inf and values out of
    bounds; the discrete spaces also need integral values.
    """

    def __init__(self, space: spaces.Space) -> None:
        check_observation_space(space)
        self.space = space
        self.integral = not isinstance(space, spaces.Box)
        shape = tuple(space.shape or ())
        if isinstance(space, spaces.Box):
            low, high = space.low, space.high
        elif isinstance(space, spaces.Discrete):
            low, high = space.start, space.start + space.n - 1
        elif isinstance(space, spaces.MultiDiscrete):
            start = getattr(space, "start", 0)  # Gymnasium >= 1.0 has a start per entry
            low, high = start, start + space.nvec - 1
        else:  # MultiBinary
            low, high = 0, 1
        self.low = np.clip(np.broadcast_to(np.asarray(low, dtype=np.float64), shape), -_FLOAT_MAX, _FLOAT_MAX)
        self.high = np.clip(np.broadcast_to(np.asarray(high, dtype=np.float64), shape), -_FLOAT_MAX, _FLOAT_MAX)

    def check(self, batch: np.ndarray, single: bool = False) -> None:
        """``ValueError`` naming the first row of ``batch`` (shape ``(B, *obs_shape)``) that is not
        finite or not in the space (``single``: the batch holds one unbatched observation);
        ``TypeError`` for non-numeric observations."""
        if batch.dtype.kind not in "biuf":
            raise TypeError(f"observations must be numeric arrays, got dtype {batch.dtype}")
        ok = (batch >= self.low) & (batch <= self.high)
        if self.integral:
            ok &= np.mod(batch, 1) == 0
        ok_rows = ok.reshape(len(batch), -1).all(axis=1) if batch.size else np.ones(len(batch), dtype=bool)
        if ok_rows.all():
            return
        row = int(np.argmin(ok_rows))
        values = batch[row]
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            problem = "is not finite (NaN or inf)"
        else:
            problem = f"lies outside {self.space}"
        which = "the observation" if single else f"observation row {row}"
        raise ValueError(f"{which} {problem}: {values.tolist()!r}")
