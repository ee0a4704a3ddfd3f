"""The learners: ``LEARNERS[name]`` is an object with a frozen ``Settings`` dataclass and
``train(policy, task, *, budget, seed, settings, on_round=None) -> Accounting``.

``register_learner(name, learner)`` adds your own (names are case-insensitive; the built-ins cannot be
replaced); it then works in ``baselines.run``, YAML configs and ``noisy-expert-bench list`` with no
other change. ``run`` gives ``train`` a task whose oracles count every label: a query past the
budget raises ``BudgetExceeded`` inside ``train``, and an ``Accounting.labels_used`` that is not the
count is refused. A learner may also define ``check(task, budget, settings)``, raising
``ValueError`` before any training when the task or budget cannot work (e.g. a loss that needs
Discrete actions).
"""

from baselines.learners.base import Accounting, Learner, OnRound, settings_docs
from baselines.learners.bc import BC
from baselines.learners.dagger import DAgger
from baselines.learners.opd import OPD
from baselines.learners.oracle_policy import OraclePolicy
from baselines.learners.registry import (BUILTIN_LEARNERS, LEARNERS, check_learner_fits, get_learner,
                                         learner_settings, register_learner, settings_table)

__all__ = [
    "Accounting", "BC", "BUILTIN_LEARNERS", "DAgger", "LEARNERS", "Learner", "OPD", "OnRound", "OraclePolicy",
    "check_learner_fits", "get_learner", "learner_settings", "register_learner", "settings_docs", "settings_table",
]
