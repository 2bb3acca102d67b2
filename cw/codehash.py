"""The code a pipeline step runs, as one hash: Snakemake reruns a step exactly when its code changed.

Each rule passes ``code_hash(<its script>)`` as a ``params:`` value, so Snakemake's params trigger
reruns the rule's jobs when, and only when, the code the step executes changes:

* the script itself (``workflow/scripts/<rule>.py``);
* for every name it imports from ``cw`` (e.g. ``from cw.steps.pipeline import train_model``): that
  function's own code and the module-level functions, classes and constants of the same module
  it refers to, recursively;
* every ``cw`` module imported along the way (module-level or inside a function), whole, and the
  modules those import, recursively.

The code is hashed as its syntax tree without docstrings (``ast.dump``), so comments, docstrings
and formatting never rerun anything, while any change to what runs does.  An edit of one step
function in ``cw/steps/pipeline.py`` reruns that step only; an edit in ``cw/analysis/scores/`` reruns the
steps that import it (scores, development, ...) but no training.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

CW_DIR = Path(__file__).resolve().parent


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@lru_cache(maxsize=None)
def _parse(path: str) -> ast.Module:
    return _strip_docstrings(ast.parse(Path(path).read_text(), filename=path))


def module_path(name: str) -> Path | None:
    """File of a ``cw`` module (``cw.network.optimizers`` -> its ``__init__.py``), None if not one."""
    if name == "cw":
        return CW_DIR / "__init__.py"
    if not name.startswith("cw."):
        return None
    rel = Path(*name.split(".")[1:])
    for cand in (CW_DIR / rel.with_suffix(".py"), CW_DIR / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _package(module: str, path: Path) -> str:
    """The package a module's relative imports start from (itself for an ``__init__.py``)."""
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def _imports(tree: ast.AST, package: str) -> set[str]:
    """``cw`` modules imported anywhere in ``tree`` (``from cw.a import b`` also tries ``cw.a.b``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name == "cw" or a.name.startswith("cw.")}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import inside the package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod == "cw" or mod.startswith("cw."):
                out.add(mod)
                out |= {f"{mod}.{a.name}" for a in node.names if module_path(f"{mod}.{a.name}") is not None}
    return {m for m in out if module_path(m) is not None}


def _closure(modules: set[str]) -> set[str]:
    """The modules and every ``cw`` module they import, recursively."""
    todo, seen = list(modules), set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        path = module_path(m)
        todo += list(_imports(_parse(str(path)), _package(m, path)) - seen)
        parent = m.rsplit(".", 1)[0]
        if parent != m and parent not in seen:
            todo.append(parent)  # importing cw.a.b runs cw/a/__init__.py
    return seen


def _definition_closure(tree: ast.Module, names: set[str]) -> list[ast.AST]:
    """Top-level statements of a module that define ``names`` and what they refer to, recursively,
    plus the module's imports (they bind names the definitions use)."""
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        defs[n.id] = node
    todo, seen, out = list(names), set(), []
    while todo:
        n = todo.pop()
        if n in seen or n not in defs:
            continue
        seen.add(n)
        node = defs[n]
        if node not in out:
            out.append(node)
        todo += [x.id for x in ast.walk(node) if isinstance(x, ast.Name)]
        todo += [x.attr for x in ast.walk(node) if isinstance(x, ast.Attribute)]  # e.g. self._loop
    out.sort(key=lambda node: node.lineno)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return imports + out


def step_dependencies(script: str | Path) -> tuple[list[ast.AST], set[str]]:
    """The syntax trees a step script runs (script, imported functions) and the ``cw`` modules
    imported whole on the way."""
    script = Path(script)
    tree = _parse(str(script))
    parts: list[ast.AST] = [tree]
    whole: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "cw" or node.module.startswith("cw.")):
            path = module_path(node.module)
            if path is None:
                continue
            names = {a.name for a in node.names}
            submodules = {f"{node.module}.{n}" for n in names if module_path(f"{node.module}.{n}") is not None}
            whole |= submodules
            mtree = _parse(str(path))
            defs = _definition_closure(mtree, names)
            parts += defs
            for d in defs:
                whole |= _imports(d, _package(node.module, path))
        elif isinstance(node, ast.Import):
            whole |= {a.name for a in node.names if module_path(a.name) is not None}
    return parts, _closure(whole)


def code_hash(script: str | Path) -> str:
    """16 hex digits identifying the code a step script runs (module docstring)."""
    parts, modules = step_dependencies(script)
    h = hashlib.sha256()
    for p in parts:
        h.update(ast.dump(p, include_attributes=False).encode())
    for m in sorted(modules):
        h.update(m.encode())
        h.update(ast.dump(_parse(str(module_path(m))), include_attributes=False).encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    """``python -m cw.codehash SCRIPT ...``: each step script's hash and the modules it depends on."""
    import sys

    for s in (argv if argv is not None else sys.argv[1:]):
        _, mods = step_dependencies(s)
        print(f"{s}: {code_hash(s)}  ({', '.join(sorted(mods))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
