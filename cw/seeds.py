"""Every random stream of the project, derived from an integer seed.

The trajectories, the initial weights, the noise and each analysis of a run are reproducible on
their own: every stream is a :class:`numpy.random.SeedSequence` of ``[seed, stream]`` (with
further keys where one stream has several members: the fresh training trials of update k are
``[seed, 0, k]``, the shuffles of development checkpoint k ``[seed, 102, k]``).  The numbers are
part of the results (changing one changes every network or analysis that draws from it), so they
are fixed here and nowhere else.
"""

from __future__ import annotations

import numpy as np

#: Streams of a run, from the run's ``seed``: training (0-5) and analysis (100-102).
STREAMS = {
    "train_trials": 0,  # the fresh training trials of update (or Adam step) k: [seed, 0, k]
    "test_trials": 1,  # the held-out test trials (or test walks)
    "init": 2,  # the initial weights
    "batches": 3,  # reserved (an earlier fixed training pool); never drawn from
    "noise": 4,  # the rate noise of the training updates (a TensorFlow stateless seed)
    "place_centres": 5,  # the place-cell centres of a place-cell read-out run
    "shuffles": 100,  # the shuffle null of the final network's units
    "long_path": 101,  # the long test path of Fig. 6
    "development": 102,  # the shuffle null at training checkpoint k: [seed, 102, k]
}

#: Streams of the theory control (:mod:`cw.analysis.theory_control`), from its own ``seed``.
THEORY_STREAMS = {"trials": 0, "centres": 1, "init": 2, "shuffles": 3}


def rng_for(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """Generator of one named stream of a run (:data:`STREAMS`), ``[seed, stream, *keys]``.

    >>> a, b = rng_for(1, "development", 3), rng_for(1, "development", 3)
    >>> float(a.random()) == float(b.random()), float(rng_for(1, "development", 4).random()) == float(a.random())
    (True, False)
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[stream], *map(int, keys)]))


def update_rng(seed: int, update: int) -> np.random.Generator:
    """Generator of the training trials of one update (1-based): a function of seed and update."""
    return rng_for(seed, "train_trials", update)


def noise_seed(seed: int) -> int:
    """The stateless seed (a non-negative int64) of a run's training noise: stream ``noise``;
    update k's noise is drawn with the pair ``(noise_seed(seed), k)``."""
    return int(np.random.SeedSequence([int(seed), STREAMS["noise"]]).generate_state(1)[0] >> 1)


def theory_rng(seed: int, stream: str) -> np.random.Generator:
    """Generator of one stream of the theory control (:data:`THEORY_STREAMS`)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), THEORY_STREAMS[stream]]))


def benchmark_rng(seed: int, arena_index: int) -> np.random.Generator:
    """Generator of the labelled benchmark's maps and trials in its ``arena_index``-th arena:
    ``[seed, arena_index]`` of the benchmark's own seed."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(arena_index)]))
