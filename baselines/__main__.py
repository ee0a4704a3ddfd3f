"""``python -m baselines``: the ``noisy-expert-bench`` command."""

import sys

from baselines.cli import main

sys.exit(main())
