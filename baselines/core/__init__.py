"""One run: the task, its seeds, the learner's policy (MLP or transformer), evaluation, the result, ``run``.

Imports flow one way through the layers: ``core`` (task, seeds, policies, evaluation, result) ->
``learners`` -> ``core.run`` -> ``sweep`` -> ``analysis`` -> ``report`` -> ``cli``.
"""
