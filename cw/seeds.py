"""Independent random streams derived from a run's integer seed.

The trajectories, the initial weights and the noise of a run are each reproducible on their own:
every stream is a :class:`numpy.random.SeedSequence` of ``[seed, stream]`` (and, for the fresh
training trials of update k, ``[seed, stream, k]``).
"""

from __future__ import annotations

import numpy as np

#: Independent random streams derived from a run's seed.
STREAMS = {"train_trials": 0, "test_trials": 1, "init": 2, "batches": 3, "noise": 4, "place_centres": 5}


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """Generator for one named stream of a run (see :data:`STREAMS`)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[stream]]))


def update_rng(seed: int, update: int) -> np.random.Generator:
    """Generator of the training trials of one update (1-based): a function of seed and update."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS["train_trials"], int(update)]))
