"""The ``Examples`` sections of the library's docstrings run as tests (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import cw

MODULES = sorted(m.name for m in pkgutil.walk_packages(cw.__path__, "cw.")
                 if m.name.startswith(("cw.analysis", "cw.task")) or m.name in ("cw.config", "cw.synthetic", "cw.stats"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
