"""Many runs: a config expands into cells, a runner executes them (local pool or Ray) into an append-only store.

The threshold search (:func:`baselines.sweep.threshold.labels_to_target`) is one kind of cell.
"""
