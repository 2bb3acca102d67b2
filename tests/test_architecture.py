"""The library's layering: stages import only downward, and every module stays small.

Stages, lowest first: infrastructure (``cw/*.py``) <- ``cw.task`` <- ``cw.network`` <-
``cw.analysis`` <- ``cw.report`` <- ``cw.steps``. Run with ``-s`` to print the import graph
between stages and the module sizes.
"""

import ast
from collections import defaultdict
from pathlib import Path

CW = Path(__file__).resolve().parent.parent / "cw"
STAGES = ["infrastructure", "task", "network", "analysis", "report", "steps"]
MAX_LINES = 500


def _module(path: Path) -> str:
    parts = list(path.relative_to(CW.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else "infrastructure"


def _cw_imports(path: Path) -> set[str]:
    """``cw`` modules that ``path`` imports (at top level or inside functions)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "cw"}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod.split(".")[0] == "cw":
                names = [f"{mod}.{a.name}" for a in node.names]
                subs = [n for n in names if (CW.parent / n.replace(".", "/")).with_suffix(".py").is_file()
                        or (CW.parent / n.replace(".", "/") / "__init__.py").is_file()]
                out |= set(subs) if subs else {mod}
    return out


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(CW.rglob("*.py"))}


def test_stages_import_only_downward():
    graph, bad = defaultdict(set), []
    for module, path in _modules().items():
        src = _stage(module)
        for imp in _cw_imports(path):
            dst = _stage(imp)
            graph[src].add(dst)
            if STAGES.index(dst) > STAGES.index(src):
                bad.append(f"{module} ({src}) imports {imp} ({dst})")
    print("\nimports between stages (lowest first):")
    for s in STAGES:
        print(f"  {s:15s} <- uses {', '.join(d for d in STAGES if d in graph[s] and d != s) or '-'}")
    assert not bad, "\n".join(bad)


def test_no_module_exceeds_500_lines():
    sizes = {m: len(p.read_text().splitlines()) for m, p in _modules().items()}
    print("\nmodule sizes (lines):")
    for m, n in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d}  {m}")
    over = {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert not over, over
