"""The registry of learners: ``LEARNERS``, ``register_learner``, settings lookup and the settings table."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Mapping

from baselines.learners.base import Accounting, Learner, OnRound, make_settings, settings_docs
from baselines.learners.bc import BC
from baselines.learners.dagger import DAgger
from baselines.learners.opd import OPD
from noisy_expert_envs.validation import check_choice

LEARNERS: dict[str, Learner] = {
    "bc": BC(),
    "bc_clean": BC(clean=True),
    "sft_logits": BC(distribution=True),
    "dagger": DAgger(),
    "opd": OPD(),
}

#: The learners shipped here: never replaced, since records and committed results name them.
BUILTIN_LEARNERS = tuple(LEARNERS)

_TRAIN_PARAMETERS = ("policy", "task", "budget", "seed", "settings", "on_round")


def check_new_name(name: Any, replace: bool) -> None:
    """``ValueError`` unless ``name`` is an identifier that is free, or (with ``replace``) a user
    learner's exact name. Names are compared case-insensitively ("BC" is taken by ``bc``), and a
    built-in is never replaced (a record that says ``opd`` must mean the shipped ``opd``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a learner name must be an identifier string, got {name!r}")
    taken = next((other for other in LEARNERS if other.lower() == name.lower()), None)
    if taken is None:
        return
    if taken in BUILTIN_LEARNERS:
        what = "is a built-in" if taken == name else f"is taken by the built-in {taken!r} (names are case-insensitive)"
        raise ValueError(f"learner name {name!r} {what}; the built-ins {list(BUILTIN_LEARNERS)} cannot be replaced: "
                         "register yours under another name")
    if taken != name:
        raise ValueError(f"learner name {name!r} is taken by the registered {taken!r} (names are case-insensitive): "
                         f"use {taken!r} (with replace=True to replace it) or another name")
    if not replace:
        raise ValueError(f"learner {name!r} is already registered; pass replace=True to replace it")


def register_learner(name: str, learner: Learner, *, replace: bool = False) -> None:
    """Make ``learner`` available as ``name`` (``TypeError`` unless it has a frozen dataclass
    ``Settings`` and the shared ``train`` signature; ``ValueError`` for a taken name, see
    :func:`check_new_name`)."""
    check_new_name(name, replace)
    settings_cls = getattr(learner, "Settings", None)
    if not (dataclasses.is_dataclass(settings_cls) and settings_cls.__dataclass_params__.frozen):  # type: ignore[union-attr]
        raise TypeError(f"learner {name!r} needs a frozen dataclass `Settings` (got {settings_cls!r})")
    train = getattr(learner, "train", None)
    params = tuple(inspect.signature(train).parameters) if callable(train) else ()
    if params != _TRAIN_PARAMETERS:
        raise TypeError(f"learner {name!r} needs train({', '.join(_TRAIN_PARAMETERS)}); got train{params}")
    LEARNERS[name] = learner


def get_learner(name: Any) -> Learner:
    """The registered learner ``name`` (``ValueError`` naming the valid choices otherwise)."""
    check_choice("algorithm", name, tuple(LEARNERS))
    return LEARNERS[name]


def learner_settings(name: str, values: Mapping[str, Any] | None = None) -> Any:
    """The checked ``Settings`` of learner ``name`` from ``values`` (defaults for missing keys)."""
    learner = get_learner(name)
    return make_settings(name, learner.Settings, dict(values or {}))


def check_learner_fits(name: str, task: Any, budget: int, settings: Any) -> None:
    """Run the learner's own ``check(task, budget, settings)`` if it has one."""
    check = getattr(LEARNERS[name], "check", None)
    if check is not None:
        check(task, budget, settings)


def settings_table() -> str:
    """A markdown table of every registered learner's settings (the README shows it)."""
    lines = ["| learner | setting | default | meaning |", "| --- | --- | --- | --- |"]
    shown: dict[type, str] = {}
    for name, learner in LEARNERS.items():
        if learner.Settings in shown:
            lines.append(f"| `{name}` | the settings of `{shown[learner.Settings]}` | | |")
            continue
        shown[learner.Settings] = name
        for field_name, (default, doc) in settings_docs(learner.Settings).items():
            lines.append(f"| `{name}` | `{field_name}` | `{default!r}` | {doc} |")
    return "\n".join(lines)
