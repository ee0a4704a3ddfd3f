"""What every learner shares: its settings schema, its accounting, and the ``Learner`` protocol.

A learner is an object with a frozen ``Settings`` dataclass (its tunable settings, defaults and
checks: the one schema that ``run()``, YAML configs, ``noisy-expert-bench list`` and the docs read)
and ``train(policy, task, *, budget, seed, settings, on_round=None) -> Accounting``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Protocol, runtime_checkable

from stable_baselines3.common.policies import BasePolicy

from baselines.core.task import Task
from noisy_expert_envs.validation import check_choice, check_int, check_positive, check_probability


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


def optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda name, value: None if value is None else check(name, value)


class SettingsBase:
    """Mix-in for a learner's frozen ``Settings`` dataclass: runs every field's check."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            if check is not None:
                check(f.name, getattr(self, f.name))


# -- the training rule every built-in learner shares ---------------------------------------------

#: ``"equal"``: after L labels every learner has taken ``equal_updates(L, updates_per_label)``
#: gradient steps in all; ``"legacy"``: each learner's own rule from before the rule was shared.
SCHEDULES = ("equal", "legacy")
UPDATES_PER_LABEL = 2.0
LR = 3e-3
BATCH_SIZE = 32


def equal_updates(labels: int, updates_per_label: float) -> int:
    """``U(L) = ceil(updates_per_label * L)``: the gradient steps taken in all after ``L`` labels
    under the ``equal`` schedule (rounded first so that e.g. 0.1 * 30 gives 3, not 4)."""
    return math.ceil(round(updates_per_label * labels, 9))


@dataclass(frozen=True)
class TrainingSettings(SettingsBase):
    """The settings every built-in learner shares: its training rule, learning rate, batch size.

    A learner's ``Settings`` subclasses this and sets ``legacy_lr``, the learning rate its legacy
    rule used, and ``legacy_defaults``, the defaults of its settings only that rule reads (declared
    with default None, refused under ``equal``); ``lr=None`` resolves to :data:`LR` under ``equal``
    and to ``legacy_lr`` under ``legacy``, so ``schedule="legacy"`` alone reproduces the records
    of the learner's old rule.
    """

    schedule: str = setting("equal", choice(*SCHEDULES), "training rule: `equal` (every learner takes "
                            "ceil(updates_per_label * labels) gradient steps in all) or `legacy` (this learner's "
                            "old rule, see its legacy settings)")
    updates_per_label: float = setting(UPDATES_PER_LABEL, positive(), "`equal`: gradient steps per label, the "
                                       "same for every learner (online learners spread them over rounds)")
    lr: float | None = setting(None, optional(positive()), f"Adam learning rate (None: {LR} under `equal`, the "
                               "learner's legacy rate under `legacy`)")
    batch_size: int = setting(BATCH_SIZE, integer(1), "minibatch size (capped at the number of labelled states)")
    ent_weight: float = setting(1e-3, positive(allow_zero=True), "entropy bonus weight")

    legacy_lr: ClassVar[float] = 1e-3
    #: ``{setting: default}`` of the settings only the legacy rule reads (declared with default None).
    legacy_defaults: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        super().__post_init__()
        # resolved here so that records carry the values actually used
        if self.lr is None:
            object.__setattr__(self, "lr", LR if self.schedule == "equal" else self.legacy_lr)
        resolve_mode_settings(self, self.legacy_defaults, self.schedule == "legacy",
                              "schedule='legacy' only; under schedule='equal' every learner takes "
                              "ceil(updates_per_label * labels) gradient steps: set updates_per_label, or "
                              "schedule='legacy'")


def resolve_mode_settings(settings: Any, defaults: Mapping[str, Any], applies: bool, refusal: str) -> None:
    """Settings only one mode reads (declared with default None): where the mode ``applies``, a None
    takes its default from ``defaults``; elsewhere a value is refused, since it would be silently
    ignored (``ValueError`` "<name>=<value> applies to <refusal>")."""
    for name, default in defaults.items():
        value = getattr(settings, name)
        if applies and value is None:
            object.__setattr__(settings, name, default)
        elif not applies and value is not None:
            raise ValueError(f"{name}={value!r} applies to {refusal}")


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
