"""Small checks shared by the parameter dataclasses of the analysis modules."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

import numpy as np

T = TypeVar("T")


def is_int(v: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v: Any) -> bool:
    """A real number (Python or numpy int or float), not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def section_from_dict(cls: type[T], d: Mapping | None, section: str) -> T:
    """``cls(**d)`` for the config section ``section``; an unknown key is a one-line error naming it."""
    d = dict(d or {})
    extra = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if extra:
        raise ValueError(f"{section}.{extra[0]}: unknown key")
    return cls(**d)
