"""The two kinds of cell a sweep runs, and the record each writes.

A :class:`BudgetCell` trains and evaluates one learner at one budget (``measure: budgets``); a
:class:`ThresholdCell` measures one seed's labels-to-target up to ``max_budget``
(``measure: threshold``). Both are read-only mappings of exactly the keys a cell had as a dict, so
:meth:`Cell.key` (the hash of that dict's canonical JSON) is the key every committed store was
written with, and a record's ``cell`` is :meth:`Cell.as_dict`.

:meth:`Cell.check_record` is the read-side check of an ``ok`` record against its cell: types, and
every number within the cell's bounds (``0 <= success_rate <= 1``, ``labels_used <= budget``,
``clean_labels_used <= labels_used`` where recorded, ``labels_to_target <= max_budget``, a bracket
consistent with ``resolution``, identity fields equal to the cell's), so an impossible record is
refused, never summarised or counted as done.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

_NUMBER = (int, float)
#: Fields of the first state's agreement ``p`` and mode margin, recorded at run time (``None``: Box actions).
FIRST_STATE_FIELDS = ("first_state_agreement", "first_state_margin")


def canonical(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces; ``repr`` for anything JSON lacks): what keys hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr)


def cell_key(cell: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a cell's configuration (env, kwargs, algorithm, settings, budget, seed, ...)."""
    return hashlib.sha256(canonical(dict(cell)).encode()).hexdigest()[:16]


def _typed(value: Any, types_: tuple[type, ...]) -> bool:
    return isinstance(value, types_) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return value is None or math.isfinite(value)


def _clean_labels_problem(record: Mapping[str, Any], of: str, labels: int) -> str | None:
    """What is wrong with a record's optional ``clean_labels_used`` (at most ``labels``, the record's ``of``)."""
    clean = record.get("clean_labels_used")  # optional: records from before it was counted have none
    if clean is not None and not (_typed(clean, (int,)) and 0 <= clean <= labels):
        return f"clean_labels_used {clean!r} is not an integer within [0, {of} {labels!r}]"
    return None


@dataclass(frozen=True, eq=False)
class Cell(Mapping):
    """What one run of a sweep is: env, learner, settings, seed, evaluation; a mapping of its dict keys.

    ``policy`` ``None`` is left out of the mapping (cells written before per-algorithm policies have
    no such key, and their keys must not change).
    """

    env_id: str
    env_kwargs: dict[str, Any]
    algo: str
    label: str
    settings: dict[str, Any]
    seed: int
    eval_episodes: int
    deterministic_eval: bool
    policy_kwargs: dict[str, Any] | None
    policy: str | None = None
    #: The run's arguments as the config checked them (a :class:`baselines.core.run.RunSpec` at the cell's
    #: budget): executed as they are, so a setting is validated once, where the config entered. Not part
    #: of the mapping or the key; a cell read back from a record has none and is checked on execution.
    spec: Any = field(default=None, repr=False, compare=False)

    #: The ``ok`` record's kind-specific fields with their types (beyond schema, cell_key, cell, status).
    RECORD_FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {}
    #: The fields every record's cell must have, with their types.
    CELL_FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "env_id": (str,), "env_kwargs": (dict,), "algo": (str,), "label": (str,), "seed": (int,),
    }

    # -- the mapping (exactly the keys of the cell's dict) ---------------------------------------

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "spec"}
        if out["policy"] is None:
            del out["policy"]
        return out

    def __getitem__(self, name: str) -> Any:
        return self.as_dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def key(self) -> str:
        """The cell's store key: :func:`cell_key` of :meth:`as_dict` (what resuming matches on)."""
        return cell_key(self.as_dict())

    @property
    def cost(self) -> int:
        """The label budget the run may spend (sweeps start the most costly cells first)."""
        raise NotImplementedError

    def describe(self) -> str:
        """The cell's budget as failure lines name it."""
        raise NotImplementedError

    def run_arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`baselines.run` (or the threshold search) shared by both kinds."""
        return dict(env_kwargs=dict(self.env_kwargs), policy=self.policy, policy_kwargs=self.policy_kwargs,
                    **self.settings)

    def execute(self) -> dict[str, Any]:
        """Run the cell; the ``ok`` record's fields (raises on failure: the runner records the error)."""
        raise NotImplementedError

    def first_state(self) -> dict[str, float | None]:
        """The oracle's agreement and mode margin at the task's first state (what a report compares with)."""
        from baselines.diagnose import depth0_stats

        stats = depth0_stats(self.env_id, dict(self.env_kwargs))
        return dict(zip(FIRST_STATE_FIELDS, stats if stats is not None else (None, None)))

    # -- records -------------------------------------------------------------------------------

    def check_record(self, record: Mapping[str, Any]) -> str | None:
        """What is wrong with ``record`` as this cell's ``ok`` record (types, then bounds), or ``None``."""
        for name, types_ in self.RECORD_FIELDS.items():
            if name not in record or not _typed(record[name], types_):
                return f"ok record lacks {name!r} or it has the wrong type ({record.get(name)!r})"
        for name in ("env_id", "algo", "seed", "label"):
            if record[name] != self[name]:
                return f"{name} {record[name]!r} is not its cell's {self[name]!r}"
        for name in FIRST_STATE_FIELDS:  # optional (written since they were added)
            value = record.get(name)
            if value is not None and not (_typed(value, _NUMBER) and math.isfinite(value)):
                return f"{name} {value!r} is not a finite number"
        p = record.get(FIRST_STATE_FIELDS[0])
        if p is not None and not 0.0 <= p <= 1.0:
            return f"{FIRST_STATE_FIELDS[0]} {p!r} is not in [0, 1]"
        return self._bounds_problem(record)

    def _bounds_problem(self, record: Mapping[str, Any]) -> str | None:
        raise NotImplementedError

    @staticmethod
    def from_dict(cell: Mapping[str, Any]) -> "Cell":
        """The typed cell of a cell dict (a record's ``cell``, or a config's expansion).

        ``ValueError`` naming the key when a key is missing or unknown (types are checked by the
        store's :meth:`check_cell`).
        """
        kind: type[Cell] = ThresholdCell if cell.get("measure") == ThresholdCell.measure else BudgetCell
        names = {f.name for f in fields(kind)} - {"measure", "spec"}
        given = set(cell) - {"measure"} if kind is ThresholdCell else set(cell)
        missing = sorted(names - given - {"policy"})
        unknown = sorted(given - names)
        if missing or unknown:
            what = f"lacks {missing[0]!r}" if missing else f"has an unknown key {unknown[0]!r}"
            raise ValueError(f"cell {what} (a {kind.__name__} has {sorted(names)})")
        return kind(**{k: v for k, v in cell.items() if k != "measure"})

    @classmethod
    def check_cell(cls, cell: Mapping[str, Any]) -> str | None:
        """What is wrong with a cell dict's field types for this kind, or ``None``."""
        for name, types_ in cls.CELL_FIELDS.items():
            if name not in cell or not _typed(cell[name], types_):
                return f"cell lacks {name!r} or it has the wrong type ({cell.get(name)!r})"
        return None


@dataclass(frozen=True, eq=False)
class BudgetCell(Cell):
    """Train ``algo`` with at most ``budget`` labels, evaluate it (``measure: budgets``)."""

    budget: int = 0

    RECORD_FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "env_id": (str,), "env_kwargs": (dict,), "label": (str,), "algo": (str,), "budget": (int,),
        "seed": (int,), "success_rate": (*_NUMBER, type(None)), "normalized_return": _NUMBER,
        "labels_used": _NUMBER, "wall_time_s": _NUMBER,
    }
    CELL_FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {**Cell.CELL_FIELDS, "budget": (int,)}

    @property
    def cost(self) -> int:
        return self.budget

    def describe(self) -> str:
        return f"budget={self.budget}"

    def training_key(self, *, but: tuple[str, ...] = ()) -> str:
        """Cells that differ only in evaluation or label train the same policy: they share this key
        (``but``: fields that may differ too, e.g. ``("seed",)`` for the trainings of one batch)."""
        return cell_key({k: v for k, v in self.as_dict().items()
                         if k not in ("label", "deterministic_eval", "eval_episodes", *but)})

    def execute(self) -> dict[str, Any]:
        from baselines.sweep.runner import trained_for

        from baselines.core.run import evaluate

        trained = trained_for(self)
        result = evaluate(trained, eval_episodes=self.eval_episodes, deterministic_eval=self.deterministic_eval)
        return {**result.to_record(), **self.first_state()}

    def _bounds_problem(self, record: Mapping[str, Any]) -> str | None:
        if record["budget"] != self.budget:
            return f"budget {record['budget']!r} is not its cell's budget {self.budget}"
        numbers = {k: record[k] for k in ("success_rate", "normalized_return", "labels_used", "wall_time_s")}
        for name, value in numbers.items():
            if not _finite(value):
                return f"{name} {value!r} is not a finite number"
        if record["success_rate"] is not None and not 0.0 <= record["success_rate"] <= 1.0:
            return f"success_rate {record['success_rate']!r} is not in [0, 1]"
        if not 0 <= record["labels_used"] <= self.budget:
            return f"labels_used {record['labels_used']!r} is not within [0, budget {self.budget}]"
        if record["wall_time_s"] < 0:
            return f"wall_time_s {record['wall_time_s']!r} is negative"
        return _clean_labels_problem(record, "labels_used", record["labels_used"])


@dataclass(frozen=True, eq=False)
class ThresholdCell(Cell):
    """Measure one seed's labels-to-target up to ``max_budget`` (``measure: threshold``)."""

    max_budget: int = 0
    target: float = 0.0
    resolution: float = 0.0

    measure: ClassVar[str] = "threshold"
    RECORD_FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "env_id": (str,), "env_kwargs": (dict,), "label": (str,), "algo": (str,), "seed": (int,),
        "labels_to_target": (int, type(None)), "bracket": (list,), "runs": (int,), "wall_time_s": _NUMBER,
    }
    CELL_FIELDS: ClassVar[dict[str, tuple[type, ...]]] = {
        **Cell.CELL_FIELDS, "max_budget": (int,), "target": _NUMBER, "resolution": _NUMBER,
    }

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "measure": self.measure}

    @property
    def cost(self) -> int:
        return self.max_budget

    def describe(self) -> str:
        return f"max_budget={self.max_budget}"

    def execute(self) -> dict[str, Any]:
        from baselines.sweep.threshold import labels_to_target, search

        start = time.perf_counter()
        if self.spec is not None:
            t = search(self.spec, self.target, self.resolution)
        else:
            t = labels_to_target(self.algo, self.env_id, target=self.target, max_budget=self.max_budget,
                                 resolution=self.resolution, seed=self.seed, eval_episodes=self.eval_episodes,
                                 deterministic_eval=self.deterministic_eval, **self.run_arguments())
        return {"algo": self.algo, "env_id": self.env_id, "env_kwargs": self.env_kwargs, "seed": self.seed,
                "labels_to_target": t.labels, "bracket": list(t.bracket), "runs": t.runs,
                "clean_labels_used": t.clean_labels_used,
                "wall_time_s": time.perf_counter() - start, **self.first_state()}

    def _bounds_problem(self, record: Mapping[str, Any]) -> str | None:
        bracket, labels = record["bracket"], record["labels_to_target"]

        def count(x: Any) -> bool:
            return isinstance(x, int) and not isinstance(x, bool) and x >= 0

        if len(bracket) != 2 or not count(bracket[0]) or not (bracket[1] is None or count(bracket[1])):
            return f"bracket {bracket!r} is not [lo, hi] with integer counts (hi may be null)"
        lo, hi = bracket
        if hi is not None and hi <= lo:
            return f"bracket {bracket!r} has hi <= lo"
        if labels != hi:
            return f"labels_to_target {labels!r} is not the bracket's hi {hi!r}"
        if hi is None:
            if lo > self.max_budget:
                return f"bracket {bracket!r}: not reached within lo {lo}, above max_budget {self.max_budget}"
        else:
            if hi > self.max_budget:
                return f"labels_to_target {hi!r} is above its cell's max_budget {self.max_budget}"
            if lo != 0 and hi != lo + 1 and hi / lo > self.resolution * (1 + 1e-9):
                return (f"bracket {bracket!r} is wider than its cell's resolution {self.resolution:g} "
                        "(hi/lo > resolution with lo > 0 and hi > lo + 1)")
        if record["runs"] < 1:
            return f"runs {record['runs']!r} is not >= 1"
        if not math.isfinite(record["wall_time_s"]) or record["wall_time_s"] < 0:
            return f"wall_time_s {record['wall_time_s']!r} is not a finite number >= 0"
        return _clean_labels_problem(record, "the bracket's labels", lo if hi is None else hi)


__all__ = ["BudgetCell", "Cell", "FIRST_STATE_FIELDS", "ThresholdCell", "canonical", "cell_key"]
