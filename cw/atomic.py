"""Files that are written whole or not at all.

A reader (a Snakemake job, a user opening a figure) never sees half a file: the content goes to a
temporary file beside the target, which replaces the target in one ``os.replace`` once it is
complete; on any error the temporary file is removed and the old target, if any, is untouched.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "write_text_atomic", "file_mode"]


def file_mode() -> int:
    """Permissions of a new file under the process's umask (0o644 under the usual 0o022):
    results are shared with the group, as a plain ``open`` would create them."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block ends.

    Parameters
    ----------
    path : the file to write (its folder is created)
    suffix : ending of the temporary name; writers that pick the format from the suffix
        (matplotlib, PIL) need the target's own, e.g. ``".part.png"`` (default ``".part"``)

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "table.md"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("| a |")
    >>> target.read_text()
    '| a |'
    >>> try:
    ...     with atomic_path(target) as tmp:
    ...         _ = tmp.write_text("half")
    ...         raise RuntimeError("disk full")
    ... except RuntimeError:
    ...     pass
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('| a |', ['table.md'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".part", dir=path.parent)
    os.fchmod(fd, file_mode())  # mkstemp creates 0600 files
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as fh:  # on disk before it replaces the target (a crash leaves the old file)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
