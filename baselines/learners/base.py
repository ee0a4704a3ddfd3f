"""What every learner shares: its settings schema, its accounting, and the ``Learner`` protocol.

A learner is an object with a frozen ``Settings`` dataclass (its tunable settings, defaults and
checks: the one schema that ``run()``, YAML configs, ``noisy-expert-bench list`` and the docs read)
and ``train(policy, task, *, budget, seed, settings, on_round=None) -> Accounting``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from stable_baselines3.common.policies import BasePolicy

from baselines.task import Task
from noisy_expert_envs._validation import check_choice, check_int, check_positive, check_probability


@dataclass
class Accounting:
    """The cost of training: expert labels, env steps, gradient steps, episodes, rounds.

    ``extra`` holds a learner's own figures (e.g. OPD's ``labelled_states``).
    """

    labels_used: int = 0
    env_steps: int = 0
    updates: int = 0
    episodes: int = 0
    rounds: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


#: ``on_round(policy, accounting) -> bool``: called after every round of an online learner (after
#: the final fit of an offline one); returning True stops training.
OnRound = Callable[[BasePolicy, Accounting], bool]


@runtime_checkable
class Learner(Protocol):
    """The interface of every learner in :data:`baselines.learners.LEARNERS`."""

    Settings: type

    def train(
        self,
        policy: BasePolicy,
        task: Task,
        *,
        budget: int,
        seed: int,
        settings: Any,
        on_round: OnRound | None = None,
    ) -> Accounting:
        """Train ``policy`` on ``task`` with at most ``budget`` expert labels."""


# -- settings fields ------------------------------------------------------------------------------
# Each field carries its own check and a one-line doc in its metadata, so the schema is stated once.


def setting(default: Any, check: Callable[[str, Any], Any], doc: str) -> Any:
    """A ``Settings`` field with its default, its check (``check(name, value)`` raising
    ``TypeError``/``ValueError``) and a one-line description."""
    return field(default=default, metadata={"check": check, "doc": doc})


def integer(minimum: int) -> Callable[[str, Any], Any]:
    return lambda name, value: check_int(name, value, minimum=minimum)


def positive(*, allow_zero: bool = False) -> Callable[[str, Any], Any]:
    return lambda name, value: check_positive(name, value, allow_zero=allow_zero)


def probability(name: str, value: Any) -> Any:
    return check_probability(name, value)


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):  # "false" in a config is a string, and a true one
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return value


def choice(*choices: str) -> Callable[[str, Any], Any]:
    return lambda name, value: check_choice(name, value, choices)


class SettingsBase:
    """Mix-in for a learner's frozen ``Settings`` dataclass: runs every field's check."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            if check is not None:
                check(f.name, getattr(self, f.name))


def settings_docs(settings_cls: type) -> dict[str, tuple[Any, str]]:
    """``{name: (default, doc)}`` of a ``Settings`` dataclass, in declaration order."""
    return {f.name: (f.default, f.metadata.get("doc", "")) for f in dataclasses.fields(settings_cls)}


def make_settings(name: str, settings_cls: type, values: Mapping[str, Any]) -> Any:
    """``settings_cls(**values)``; an unknown key is a ``TypeError`` naming the valid settings."""
    valid = [f.name for f in dataclasses.fields(settings_cls)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown} for algorithm {name!r}; valid settings: {valid}")
    return settings_cls(**values)
