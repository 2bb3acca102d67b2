"""Process set-up shared by the pipeline steps: threads and logging."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path


@contextlib.contextmanager
def stderr_to(path: str | os.PathLike | None):
    """Within the block, the process's standard error (file descriptor 2, where TensorFlow's C++
    start-up lines go: oneDNN notes, CUDA probing on a machine without a GPU) is appended to
    ``path`` instead of the terminal; nothing changes when ``path`` is None."""
    if path is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "a") as fh:
            os.dup2(fh.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


_JOB_THREADS = 1


def job_threads() -> int:
    """Threads of the running job (the rule's ``threads:``, set by :func:`configure_threads`;
    1 outside a Snakemake step): how many workers a step may run side by side."""
    return _JOB_THREADS


def configure_threads(threads: int, start_up_log: str | os.PathLike | None = None,
                      tensorflow: bool = True) -> None:
    """Limit TensorFlow and the BLAS libraries to ``threads`` threads.

    Must run before TensorFlow executes its first operation (the scripts call it first thing).
    Snakemake passes a rule's ``threads:`` here so that parallel jobs do not oversubscribe cores.

    TensorFlow gets ``threads`` intra-op threads (one large operation split across cores: noise
    generation, transposes) and ``threads`` inter-op threads (independent operations side by
    side).  The time loops of :mod:`cw.network.objective` cut the batch into as many chunks as there are
    inter-op threads and run them side by side: the per-step matrix products (500 x 100 by
    100 x 100) are too small to gain from intra-op threads (two intra-op threads made a loop of
    them slower than one), but two independent chunks keep two cores busy.
    """
    global _JOB_THREADS
    threads = max(1, int(threads))
    _JOB_THREADS = threads
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:  # the variables above come too late for a BLAS that numpy has already loaded
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover (threadpoolctl comes with scikit-learn)
        pass
    if not tensorflow:
        return
    with stderr_to(start_up_log):
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already initialised in this process: keep its settings
            logging.getLogger(__name__).warning("TensorFlow already initialised; thread settings unchanged")
        tf.constant(0.0).numpy()  # start the runtime (device probing) while the chatter is redirected


def configure_logging(log_file: str | os.PathLike | None = None, level: int = logging.INFO) -> None:
    """Log to ``log_file`` (Snakemake's ``log:``) and warnings also to stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        open(log_file, "w").close()  # a fresh log per job; appended to from here on (O_APPEND),
        fh = logging.FileHandler(log_file, mode="a")  # so redirected C++ lines interleave safely
        fh.setFormatter(fmt)
        root.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.WARNING if log_file else level)
    sh.setFormatter(fmt)
    root.addHandler(sh)


def run_step(smk, func, *args, tensorflow_threads: bool = False, **kwargs) -> None:
    """Run one pipeline step from a Snakemake script.

    Sets up logging to the rule's ``log:`` file, the threads of the BLAS libraries and of
    :func:`job_threads` and, if asked, of TensorFlow from the rule's ``threads:``; a failure is written in full to the log and as one line to stderr.
    """
    kwargs.pop("code", None)  # the rule's code hash (cw.codehash): for Snakemake's rerun trigger only
    configure_logging(smk.log[0] if smk.log else None)
    configure_threads(smk.threads, start_up_log=smk.log[0] if smk.log else None, tensorflow=tensorflow_threads)
    try:
        func(*args, **kwargs)
    except KeyboardInterrupt as exc:  # e.g. cw.network.training.TrainingInterrupted: the state is saved
        logging.getLogger(func.__module__).info("%s", exc or "interrupted")  # the log file; one line below
        print(f"cw: {exc or 'interrupted'}", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as exc:
        logging.getLogger(func.__module__).exception("%s failed", func.__name__)
        print(f"cw error in {func.__name__}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
