"""``--seeds N`` and ``--set key=value``: edits of a raw sweep config, before it is validated.

A dotted key walks the YAML mapping (list items by index): ``eval_episodes=5``,
``envs.0.grid.horizon=[5,10]``, ``algorithms.2.k=5``. Values are parsed as YAML (``5`` is an int,
``[5, 10]`` a list, ``uniform`` a string). The edited mapping is what the sweep validates, runs and
stores in ``config.yaml``, so a store always says which overrides made it.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

from baselines.sweep.config import ENV_KEYS, TOP_LEVEL_KEYS, ConfigError

#: Keys a mapping may gain by ``--set`` at a path (other mappings: only the keys they already have,
#: except the free-form ``kwargs``/``grid``/``policy_kwargs`` ones, which the config's validation checks).
_NEW_KEYS_ALLOWED = {(): TOP_LEVEL_KEYS, ("envs", "*"): ENV_KEYS}
_FREE_FORM = ("kwargs", "grid", "policy_kwargs")


def _choices(items: Any) -> str:
    return ", ".join(str(c) for c in items)


def _set(raw: Any, key: str, value: Any) -> None:
    parts = key.split(".")
    if not key or "" in parts:
        raise ConfigError(f"--set {key!r}: expected a dotted key such as 'eval_episodes' or 'envs.0.grid.horizon'")
    node, path = raw, []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i]) or "the config"
        if isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                raise ConfigError(f"--set {key!r}: {where} is a list of {len(node)}; valid indices: 0..{len(node) - 1}")
            index: Any = int(part)
            path.append("*")
        elif isinstance(node, dict):
            allowed = _NEW_KEYS_ALLOWED.get(tuple(path), ())
            if part not in node and part not in allowed and (not path or path[-1] not in _FREE_FORM):
                raise ConfigError(f"--set {key!r}: unknown key {part!r} in {where}; valid choices: "
                                 f"{_choices(dict.fromkeys([*node, *allowed]))}")
            index = part
            path.append(part)
        else:
            raise ConfigError(f"--set {key!r}: {where} is {node!r}, not a mapping or list")
        if last:
            node[index] = value
        else:
            if isinstance(node, dict) and index not in node:
                node[index] = {}
            node = node[index]


def apply_overrides(raw: Any, seeds: int | None = None, sets: Sequence[str] = ()) -> Any:
    """A copy of ``raw`` with ``seeds`` and every ``key=value`` of ``sets`` applied, in order (``ValueError`` naming the key)."""
    import yaml

    if not isinstance(raw, dict):
        return raw  # the config's validation says what is wrong with it
    raw = copy.deepcopy(raw)
    if seeds is not None:
        raw["seeds"] = seeds
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {key!r}: the value {text!r} is not valid YAML ({str(err).splitlines()[0]})") from None
        _set(raw, key.strip(), value)
    return raw
