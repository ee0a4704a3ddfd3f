"""Sweep configurations: parse, validate (all of it, before any run) and expand into cells.

A configuration is a mapping (usually read from YAML) with these top-level keys::

    name: separation              # optional, free text
    description: ...              # optional, free text
    envs:                         # required, non-empty list
      - id: NoisyExpert/CombinationLock-v0
        kwargs: {noise: uniform, epsilon: 0.2, n_actions: 4}   # fixed keyword arguments
        grid: {horizon: [5, 10, 15]}                           # lists expanded as a grid
        budgets: [3000]                                        # optional: overrides top-level budgets
        # or per algorithm label: budgets: {opd-plurality: [50, 100], default: [3000]}
        algorithms: [bc, opd-plurality]                        # optional: only these labels run here
    algorithms:                   # required, non-empty list
      - bc                                                    # a bare name ...
      - {name: opd, loss: plurality, k: 3, label: opd-plurality}  # ... or a name plus settings
      - {name: bc, budgets: [1000, 4000]}                     # optional per-algorithm budgets
      # label: how tables, plots and budget mappings name it; default the name, or the name plus
      # settings such as "opd(loss=forward_kl, k=5)"
    budgets: [100, 400, 1600]     # required unless every env or algorithm has its own
    seeds: 3                      # an int n (seeds 0..n-1) or a list of ints
    eval_episodes: 20             # optional, default 20
    deterministic_eval: true      # optional, default true
    policy: mlp                   # optional: the learner policy by name, `mlp` (default) or `transformer`
    policy_kwargs: {net_arch: [32, 32]}   # optional, passed to the learner policy
    # policy, policy_kwargs and deterministic_eval may also be set per algorithm entry (overriding
    # the top level), e.g. {name: bc, policy: transformer, deterministic_eval: false, label: ...}
    target: 0.9                   # optional: the success level `report` measures labels-to-target at
    measure: budgets              # optional: `budgets` (default, the grid above) or `threshold`
    # With `measure: threshold` give `max_budget` (top level, per env as an int or a mapping of
    # labels, or per algorithm) instead of `budgets`, and optionally `resolution` (default 2**0.25):
    # each cell measures one seed's labels-to-target with baselines.sweep.threshold.labels_to_target.

Every other top-level key is refused. Algorithm settings are checked against
:data:`baselines.learners.LEARNERS`' ``Settings``, env keyword arguments by building each expanded env once
(cheap), so a typo fails here, naming the key, and never half-way through a sweep. A cell's budgets
come from, first found: its env's ``budgets`` mapping entry for the algorithm's label, the
algorithm's ``budgets``, the env's ``budgets`` list (or its mapping's ``default``), the top level.

The grid is envs x env-grid x algorithms x budgets x seeds; each point is a *cell*, identified by
:func:`cell_key`, a hash of its canonical JSON (seed included), which is what resuming matches on.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.core.run import DEFAULT_EVAL_EPISODES
from baselines.sweep.cells import BudgetCell, Cell, ThresholdCell, cell_key
from baselines.sweep.threshold import DEFAULT_RESOLUTION, DEFAULT_TARGET

TOP_LEVEL_KEYS = (
    "name", "description", "envs", "algorithms", "budgets", "seeds", "eval_episodes",
    "deterministic_eval", "policy", "policy_kwargs", "target", "measure", "max_budget", "resolution",
)
ENV_KEYS = ("id", "kwargs", "grid", "budgets", "max_budget", "label", "algorithms")
#: Top-level keys an algorithm entry may override for its own cells.
ALGO_OVERRIDES = ("policy", "policy_kwargs", "deterministic_eval")
ALGO_RESERVED_KEYS = ("name", "label", "budgets", "max_budget", *ALGO_OVERRIDES)
#: ``budgets``: train and evaluate at each budget of a grid; ``threshold``: measure each seed's
#: labels-to-target with :func:`baselines.sweep.threshold.labels_to_target` up to ``max_budget``.
MEASURES = ("budgets", "threshold")


class ConfigError(ValueError):
    """A bad sweep config (or a bad stored config or results file): the CLI's exit 2, one line.

    A ``ValueError`` subclass, so callers that caught ``ValueError`` still do; a plain
    ``ValueError`` raised inside a run is a bug, not bad input.
    """


class ConfigTypeError(ConfigError, TypeError):
    """A config value of the wrong type (also a ``TypeError``, as the setting's own check raises)."""


@dataclass(frozen=True)
class SweepConfig:
    """A validated configuration: the raw mapping (as stored in ``config.yaml``) and its cells."""

    raw: dict[str, Any]
    cells: tuple[Cell, ...]

    @property
    def name(self) -> str:
        return str(self.raw.get("name", "sweep"))

    @property
    def target(self) -> float:
        return float(self.raw.get("target", DEFAULT_TARGET))


def _fail(exc: type[Exception], where: str, message: str) -> None:
    """Raise the :class:`ConfigError` (``ConfigTypeError`` for ``exc`` a ``TypeError``) naming ``where``."""
    raise (ConfigTypeError if issubclass(exc, TypeError) else ConfigError)(f"config key {where!r}: {message}")


def _check_budgets(where: str, budgets: Any) -> list[int]:
    if not isinstance(budgets, list) or not budgets:
        _fail(ValueError, where, f"must be a non-empty list of positive integers, got {budgets!r}")
    for b in budgets:
        if isinstance(b, bool) or not isinstance(b, numbers.Integral):
            _fail(TypeError, where, f"budgets must be integers, got {b!r} of type {type(b).__name__}")
        if b < 1:
            _fail(ValueError, where, f"budgets must be >= 1, got {b!r}")
    if len(set(budgets)) != len(budgets):
        _fail(ValueError, where, f"duplicate budgets in {budgets!r}")
    return [int(b) for b in budgets]


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            _fail(ValueError, "seeds", f"an integer number of seeds must be >= 1, got {seeds!r}")
        return list(range(int(seeds)))
    if not isinstance(seeds, list) or not seeds:
        _fail(ValueError, "seeds", f"must be an integer >= 1 or a non-empty list of integers >= 0, got {seeds!r}")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            _fail(ValueError, "seeds", f"seeds must be integers >= 0, got {s!r}")
    if len(set(seeds)) != len(seeds):
        _fail(ValueError, "seeds", f"duplicate seeds in {seeds!r}")
    return [int(s) for s in seeds]


def _env_budgets(where: str, value: Any) -> dict[str, list[int]]:
    """An env's budgets as {label or 'default': list}."""
    if isinstance(value, dict):
        if not value:
            _fail(ValueError, where, "empty mapping: give lists per algorithm label (or 'default')")
        return {str(k): _check_budgets(f"{where}.{k}", v) for k, v in value.items()}
    return {"default": _check_budgets(where, value)}


def _as_lists(max_budget: Any) -> Any:
    """A ``max_budget`` (an int, or a mapping of labels to ints) in the shape of ``budgets``."""
    if isinstance(max_budget, dict):
        return {k: [v] for k, v in max_budget.items()}
    return [max_budget]


def _check_measure(raw: dict[str, Any]) -> str:
    """The config's measure, with the keys that belong to the other one refused."""
    measure = raw.get("measure", "budgets")
    if measure not in MEASURES:
        _fail(ValueError, "measure", f"unknown measure {measure!r}; valid choices: {list(MEASURES)}")
    entries = [("", raw)] + [(f"envs[{i}].", e) for i, e in enumerate(raw["envs"]) if isinstance(e, dict)] + [
        (f"algorithms[{i}].", a) for i, a in enumerate(raw["algorithms"]) if isinstance(a, dict)]
    wrong = ("max_budget", "resolution") if measure == "budgets" else ("budgets",)
    for prefix, entry in entries:
        for key in wrong:
            if key in entry:
                hint = "max_budget (and resolution)" if key == "budgets" else "budgets"
                _fail(ValueError, prefix + key, f"not used with measure: {measure}; give {hint} instead")
    if measure == "threshold":
        resolution = raw.get("resolution", DEFAULT_RESOLUTION)
        if isinstance(resolution, bool) or not isinstance(resolution, numbers.Real) or not 1.0 < float(resolution) < 1e6:
            _fail(ValueError, "resolution", f"must be a number > 1 (a ratio of budgets), got {resolution!r}")
    return measure


def _env_algorithms(where: str, entry: dict[str, Any], labels: list[str]) -> list[str]:
    """The algorithm labels an env entry runs (its ``algorithms`` list; default: all of them)."""
    chosen = entry.get("algorithms", labels)
    if not isinstance(chosen, list) or not chosen or not all(isinstance(x, str) for x in chosen):
        _fail(TypeError, where, f"must be a non-empty list of algorithm labels, got {chosen!r}")
    for label in chosen:
        if label not in labels:
            _fail(ValueError, where, f"{label!r} is not an algorithm label; valid: {labels}")
    if len(set(chosen)) != len(chosen):
        _fail(ValueError, where, f"duplicate labels in {chosen!r}")
    return chosen


def _expand_env(index: int, entry: Any) -> tuple[str, list[dict[str, Any]], dict[str, list[int]]]:
    where = f"envs[{index}]"
    if isinstance(entry, str):
        entry = {"id": entry}
    if not isinstance(entry, dict):
        _fail(TypeError, where, f"must be an env id or a mapping with keys {list(ENV_KEYS)}, got {entry!r}")
    unknown = sorted(set(entry) - set(ENV_KEYS))
    if unknown:
        _fail(ValueError, f"{where}.{unknown[0]}", f"unknown key; valid keys: {list(ENV_KEYS)}")
    env_id = entry.get("id")
    if not isinstance(env_id, str):
        _fail(TypeError, f"{where}.id", f"must be a registered env id string, got {env_id!r}")
    fixed = entry.get("kwargs") or {}
    grid = entry.get("grid") or {}
    for name, value in (("kwargs", fixed), ("grid", grid)):
        if not isinstance(value, dict):
            _fail(TypeError, f"{where}.{name}", f"must be a mapping, got {value!r}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            _fail(ValueError, f"{where}.grid.{key}", f"grid values must be a non-empty list, got {values!r}")
        if key in fixed:
            _fail(ValueError, f"{where}.grid.{key}", "given both in kwargs and in grid")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else [{}]
    kwargs_list = [{**fixed, **combo} for combo in combos]
    budgets = _env_budgets(f"{where}.budgets", entry["budgets"]) if "budgets" in entry else {}
    if "max_budget" in entry:
        budgets = _env_budgets(f"{where}.max_budget", _as_lists(entry["max_budget"]))
    return env_id, kwargs_list, budgets


def _check_overrides(where: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The ``policy``, ``policy_kwargs`` and ``deterministic_eval`` given in ``raw``, checked."""
    from baselines.core.policies import POLICIES

    prefix = f"{where}." if where else ""
    policy = raw.get("policy")
    if policy is not None and policy not in POLICIES:
        _fail(ValueError, prefix + "policy", f"unknown policy {policy!r}; valid choices: {sorted(POLICIES)}")
    policy_kwargs = raw.get("policy_kwargs")
    if policy_kwargs is not None and not isinstance(policy_kwargs, dict):
        _fail(TypeError, prefix + "policy_kwargs", f"must be a mapping, got {policy_kwargs!r}")
    deterministic_eval = raw.get("deterministic_eval", True)
    if not isinstance(deterministic_eval, bool):
        _fail(TypeError, prefix + "deterministic_eval", f"must be true or false, got {deterministic_eval!r}")
    return {key: raw[key] for key in ALGO_OVERRIDES if key in raw}


def _algorithm(index: int, entry: Any) -> tuple[str, str, dict[str, Any], list[int] | None, dict[str, Any], Any]:
    from baselines.core.run import COMMON_KWARGS
    from baselines.learners import LEARNERS, learner_settings

    where = f"algorithms[{index}]"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict):
        _fail(TypeError, where, f"must be an algorithm name or a mapping with 'name', got {entry!r}")
    overrides = _check_overrides(where, entry)
    name = entry.get("name")
    if name not in LEARNERS:
        _fail(ValueError, f"{where}.name", f"unknown algorithm {name!r}; valid choices: {sorted(LEARNERS)}")
    settings = {k: v for k, v in entry.items() if k not in ALGO_RESERVED_KEYS}
    for key in settings:
        if key in COMMON_KWARGS:
            _fail(TypeError, f"{where}.{key}", f"not a setting of algorithm {name!r}: set it at the top level of the config")
    try:  # the config's one check of the learner's settings; cells carry the result
        chosen = learner_settings(name, settings)
    except (TypeError, ValueError) as err:
        valid = {f.name for f in dataclasses.fields(LEARNERS[name].Settings)}
        unknown = [key for key in settings if key not in valid]
        _fail(type(err), f"{where}.{unknown[0]}" if unknown else where, str(err))
    # Default label: the name plus its settings, e.g. "opd(loss=forward_kl, k=5)".
    default_label = name if not settings else f"{name}({', '.join(f'{k}={v}' for k, v in settings.items())})"
    label = entry.get("label", default_label)
    if not isinstance(label, str) or not label:
        _fail(TypeError, f"{where}.label", f"must be a non-empty string, got {label!r}")
    budgets = _check_budgets(f"{where}.budgets", entry["budgets"]) if "budgets" in entry else None
    if "max_budget" in entry:
        budgets = _check_budgets(f"{where}.max_budget", [entry["max_budget"]])
    return name, label, settings, budgets, overrides, chosen


def _check_env_builds(where: str, env_id: str, kwargs: dict[str, Any], algos: list[tuple[str, str, dict, Any, dict, Any]],
                      smallest_budgets: list[int], policies: list[tuple[Any, Any]], index: dict[str, int]) -> None:
    """Build the env (and the learner policy) once: unknown ids, task arguments, noise parameters,
    policy kwargs and learner/task/budget mismatches (each algorithm at its smallest budget) fail here.
    ``index`` maps each label to its position in the config's algorithm list (for the message)."""
    from baselines.learners import check_learner_fits
    from baselines.core.policies import make_policy
    from baselines.core.task import Task
    from noisy_expert_envs.registration import check_env_id

    try:
        check_env_id(env_id)
    except ValueError as err:
        _fail(ValueError, f"{where}.id", str(err))
    task = Task(env_id, dict(kwargs))
    try:
        task.action_space
    except (TypeError, ValueError) as err:
        _fail(type(err), f"{where}.kwargs", f"{env_id} with {kwargs}: {err}")
    for policy, policy_kwargs in policies:
        try:
            make_policy(task, policy, policy_kwargs)
        except (TypeError, ValueError) as err:
            _fail(type(err), "policy_kwargs",
                  f"cannot build the learner policy {policy or 'mlp'!r} for {env_id}: {err}")
    for (name, label, _, _, _, chosen), budget in zip(algos, smallest_budgets):
        try:
            check_learner_fits(name, task, budget, chosen)
        except ValueError as err:
            _fail(ValueError, f"algorithms[{index[label]}]", f"(label {label!r}) {err}")


def _run_spec(common: dict[str, Any], budget: int, settings: Any) -> Any:
    """The cell's run as a :class:`RunSpec` built from what this config has checked (the learner's
    ``settings`` object included): workers execute it as it is, without checking it again."""
    from baselines.core.run import RunSpec

    return RunSpec(common["algo"], common["env_id"], budget, common["seed"], settings, dict(common["env_kwargs"]),
                   common["policy"], common["policy_kwargs"], common["eval_episodes"], common["deterministic_eval"])


def parse_config(raw: Any, *, check_envs: bool = True) -> SweepConfig:
    """Validate a configuration mapping and expand it into cells.

    Raises ``ValueError``/``TypeError`` whose message starts with ``config key '<key>'`` for the
    first problem found: an unknown top-level key, env key or algorithm setting, an unknown
    algorithm or env id, a bad env keyword argument, an empty grid, a bad budget or seed list.
    """
    if not isinstance(raw, dict):
        raise ConfigTypeError(f"a sweep config must be a mapping with keys {list(TOP_LEVEL_KEYS)}, got {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        _fail(ValueError, unknown[0], f"unknown top-level key; valid keys: {list(TOP_LEVEL_KEYS)}")
    for key in ("envs", "algorithms"):
        if key not in raw:
            _fail(ValueError, key, "missing (required)")
        if not isinstance(raw[key], list) or not raw[key]:
            _fail(ValueError, key, f"empty grid: must be a non-empty list, got {raw[key]!r}")
    seeds = _check_seeds(raw.get("seeds", 1))
    measure = _check_measure(raw)
    resolution = raw.get("resolution", DEFAULT_RESOLUTION)
    budget_key = "max_budget" if measure == "threshold" else "budgets"
    top_budgets = _check_budgets(budget_key, raw["budgets"]) if "budgets" in raw else None
    if "max_budget" in raw:
        top_budgets = _check_budgets("max_budget", [raw["max_budget"]])
    eval_episodes = raw.get("eval_episodes", DEFAULT_EVAL_EPISODES)
    if isinstance(eval_episodes, bool) or not isinstance(eval_episodes, numbers.Integral) or eval_episodes < 1:
        _fail(ValueError, "eval_episodes", f"must be an integer >= 1, got {eval_episodes!r}")
    top = {"policy": None, "policy_kwargs": None, "deterministic_eval": True, **_check_overrides("", raw)}
    target = raw.get("target", DEFAULT_TARGET)
    if isinstance(target, bool) or not isinstance(target, numbers.Real) or not 0.0 < float(target) <= 1.0:
        _fail(ValueError, "target", f"must be a number in (0, 1], got {target!r}")

    algos = [_algorithm(i, entry) for i, entry in enumerate(raw["algorithms"])]
    labels = [label for _, label, *_ in algos]
    # Per algorithm: its policy, policy_kwargs and deterministic_eval (its own, else the top level's).
    chosen = [{**top, **overrides} for *_, overrides, _ in algos]
    duplicates = sorted({lab for lab in labels if labels.count(lab) > 1})
    if duplicates:
        _fail(ValueError, "algorithms", f"duplicate labels {duplicates}: give each variant its own 'label'")

    cells: list[dict[str, Any]] = []
    for env_index, entry in enumerate(raw["envs"]):
        env_id, kwargs_list, env_budgets = _expand_env(env_index, entry)
        here = _env_algorithms(f"envs[{env_index}].algorithms", entry, labels) if isinstance(entry, dict) else labels
        env_algos = [a for a in algos if a[1] in here]
        env_chosen = [c for a, c in zip(algos, chosen) if a[1] in here]
        env_policies = list({json.dumps([c["policy"], c["policy_kwargs"]], sort_keys=True):
                             (c["policy"], c["policy_kwargs"]) for c in env_chosen}.values())
        stray = sorted(set(env_budgets) - set(labels) - {"default"})
        if stray:
            _fail(ValueError, f"envs[{env_index}].budgets.{stray[0]}",
                  f"not an algorithm label; valid: {labels + ['default']}")
        for kwargs in kwargs_list:
            cell_budgets = []
            for algo_index, (name, label, settings, algo_budgets, *_) in enumerate(algos):
                if label not in here:
                    continue
                budgets = env_budgets.get(label) or algo_budgets or env_budgets.get("default") or top_budgets
                if budgets is None:
                    _fail(ValueError, budget_key,
                          f"missing: no top-level {budget_key}, and neither envs[{env_index}] nor "
                          f"algorithms[{algo_index}] has its own")
                cell_budgets.append(budgets)
            if check_envs:
                _check_env_builds(f"envs[{env_index}]", env_id, kwargs, env_algos,
                                  [min(b) for b in cell_budgets], env_policies,
                                  {label: i for i, (_, label, *_) in enumerate(algos)})
            for (name, label, settings, *_, checked), algo_common, budgets in zip(env_algos, env_chosen,
                                                                                  cell_budgets):
                for budget in budgets:
                    for seed in seeds:
                        common = dict(env_id=env_id, env_kwargs=dict(kwargs), algo=name, label=label,
                                      settings=dict(settings), seed=seed, eval_episodes=int(eval_episodes),
                                      deterministic_eval=algo_common["deterministic_eval"],
                                      policy_kwargs=algo_common["policy_kwargs"], policy=algo_common["policy"])
                        spec = _run_spec(common, budget, checked)
                        if measure == "threshold":
                            cells.append(ThresholdCell(**common, max_budget=budget, target=float(target),
                                                       resolution=float(resolution), spec=spec))
                        else:
                            cells.append(BudgetCell(**common, budget=budget, spec=spec))
    keys = [cell_key(c) for c in cells]
    if len(set(keys)) != len(keys):
        _fail(ValueError, "envs", "the grid holds the same cell twice (repeated env entries or kwargs?)")
    return SweepConfig(raw=raw, cells=tuple(cells))


#: Bounds on a config file, checked before (size) or while (nodes, depth) it is parsed: the
#: project's configs are a few kB, 20 levels deep and a few hundred nodes.
MAX_CONFIG_BYTES = 1_000_000
#: Nodes after alias expansion (an alias counts as a copy of its anchor's whole subtree): an
#: "alias bomb" of a few lines expands to billions of nodes when the config is copied or hashed.
MAX_CONFIG_NODES = 100_000
MAX_CONFIG_DEPTH = 50


def _strict_loader() -> type:
    import yaml

    class ConfigRefused(yaml.YAMLError):
        """A config beyond a bound (nodes, depth, recursive alias): refused, not "invalid YAML"."""

        def __init__(self, problem: str, mark: Any) -> None:
            super().__init__(problem)
            self.problem, self.problem_mark = problem, mark

    class StrictSafeLoader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that refuses a mapping holding the same key twice (PyYAML keeps the last)
        and, while composing (before anything is constructed or expanded), a document of more than
        :data:`MAX_CONFIG_NODES` nodes with aliases expanded or nested deeper than :data:`MAX_CONFIG_DEPTH`."""

        refused = ConfigRefused

        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self._depth = 0
            self._sizes: dict[int, int] = {}  # id(node) -> its subtree's node count, aliases expanded
            # id(node) -> its subtree's depth, aliases expanded: an anchor nesting aliases of anchors
            # is deep once expanded though no composed node is (the composer's own depth is _depth)
            self._heights: dict[int, int] = {}

        def compose_node(self, parent: Any, index: Any) -> Any:
            mark = self.peek_event().start_mark
            if self.check_event(yaml.AliasEvent):
                node = super().compose_node(parent, index)  # the anchored node itself, not a copy
                if id(node) not in self._sizes:  # its own subtree is still being composed
                    raise ConfigRefused("recursive alias (a node that contains itself)", mark)
                return node
            self._depth += 1
            if self._depth > MAX_CONFIG_DEPTH:
                raise ConfigRefused(f"nested deeper than {MAX_CONFIG_DEPTH} levels", mark)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            children = node.value if isinstance(node, yaml.SequenceNode) else (
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
            size = 1 + sum(self._sizes[id(child)] for child in children)
            if size > MAX_CONFIG_NODES:
                raise ConfigRefused(f"more than {MAX_CONFIG_NODES:_} nodes with aliases expanded", mark)
            height = 1 + max((self._heights[id(child)] for child in children), default=0)
            if height > MAX_CONFIG_DEPTH:
                raise ConfigRefused(f"nested deeper than {MAX_CONFIG_DEPTH} levels with aliases expanded", mark)
            self._sizes[id(node)], self._heights[id(node)] = size, height
            return node

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable key: PyYAML's own check reports it
                    continue
                if duplicate:
                    line = key_node.start_mark.line + 1
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictSafeLoader


def _check_size(source: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ConfigError(f"config {source!r} refused: {size:_} bytes, more than the {max_bytes:_}-byte cap "
                          "(sweep configs are a few kB)")


def safe_load_yaml(text: str, source: str, *, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """Parse YAML safely (no Python objects), refusing duplicate keys; ``ConfigError`` naming ``source``.

    The message's first line names the source and the problem (with its line), e.g.
    ``config 'sweep.yaml' is not valid YAML: duplicate key 'budgets' (line 7)``. Also refused, before
    anything is constructed: more than ``max_bytes`` of text, more than :data:`MAX_CONFIG_NODES`
    nodes once aliases are expanded, nesting deeper than :data:`MAX_CONFIG_DEPTH`.
    """
    import yaml

    _check_size(source, len(text.encode()), max_bytes)
    loader = _strict_loader()
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        at = ""
        if mark is not None and "line" not in problem:
            at = f" (line {mark.line + 1}, column {mark.column + 1})"
        what = "refused" if isinstance(err, loader.refused) else "is not valid YAML"
        raise ConfigError(f"config {source!r} {what}: {problem}{at}") from None


def read_config_text(path: str | Path) -> str:
    """The text of a config file; ``ConfigError`` naming it if unreadable, not UTF-8, or larger than
    :data:`MAX_CONFIG_BYTES` (no more than that is read: a pipe or device has no size to check first)."""
    path = Path(path)
    try:
        _check_size(str(path), path.stat().st_size, MAX_CONFIG_BYTES)
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {str(path)!r} refused: more than the {MAX_CONFIG_BYTES:_}-byte cap "
                              "(sweep configs are a few kB)")
        return data.decode("utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config {str(path)!r}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read config {str(path)!r}: not UTF-8 text") from None


def load_config(path: str | Path) -> SweepConfig:
    """Read a YAML config file (duplicate keys refused, size, nodes and depth bounded) and
    :func:`parse_config` it."""
    return parse_config(safe_load_yaml(read_config_text(path), str(path)))


def config_diff(stored: Any, new: Any, prefix: str = "") -> str | None:
    """The dotted path of the first key where two configs differ, or ``None`` if they are equal."""
    if isinstance(stored, dict) and isinstance(new, dict):
        for key in sorted(set(stored) | set(new), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in stored or key not in new:
                return where
            found = config_diff(stored[key], new[key], where)
            if found:
                return found
        return None
    if isinstance(stored, list) and isinstance(new, list):
        if len(stored) != len(new):
            return prefix or "<root>"
        for i, (a, b) in enumerate(zip(stored, new)):
            found = config_diff(a, b, f"{prefix}[{i}]")
            if found:
                return found
        return None
    return None if stored == new and type(stored) is type(new) else (prefix or "<root>")
