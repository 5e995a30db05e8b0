"""The package's layers point only down, and the launcher uses only the public API (docs/ARCHITECTURE.md, "Layers").

Both rules are read from the doc's tables, so the picture a newcomer reads is the
one the code is held to. Every import counts: module level, inside functions, and
`importlib.import_module` with a literal name.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGE = "ance_core"


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module (or module.name for `from module import name`)
    file: Path
    line: int

    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}: {self.source} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    return imports_in(path.read_text(), module_name(path), path)


def imports_in(text: str, source: str, path: Path) -> list[Import]:
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                targets = [arg.value]
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                targets = [str(arg.values[0].value).rstrip(".")]  # f"pkg.stages.{name}": the package
        found += [Import(source, t, path, node.lineno) for t in targets if t.split(".")[0] in (PACKAGE, "launcher")]
    return found


def all_imports(top: str) -> list[Import]:
    return [imp for path in sorted((ROOT / top).rglob("*.py")) for imp in imports_of(path)]


def doc_table(heading: str) -> list[list[str]]:
    """Rows (cells) of the first Markdown table after `heading` in docs/ARCHITECTURE.md."""
    text = DOC.read_text()
    start = text.find(heading)
    assert start >= 0, f"{DOC}: no section {heading!r}"
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header row


def layer_of() -> dict[str, int]:
    """Subpackage (or top-level module) of ance_core -> its layer; 0 is the bottom."""
    layers = {}
    for cells in doc_table("## Layers"):
        for name in re.findall(r"`([\w.]+)/?`", cells[1]):
            layers[name] = int(cells[0])
    assert layers, f"{DOC}: the Layers table names no packages"
    return layers


def unit(module: str) -> str:
    """ance_core.mining.refresh -> mining; ance_core -> __init__ (the version)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def unit_of_target(target: str, layers: dict[str, int]) -> str:
    # `from ance_core import report` names a subpackage; `from ance_core import __version__` the root.
    name = unit(target)
    return name if name in layers else "__init__"


def check_layers(imports: list[Import], layers: dict[str, int]) -> list[str]:
    problems = []
    edges: dict[str, dict[str, Import]] = defaultdict(dict)
    for imp in imports:
        if imp.target.split(".")[0] == "launcher":
            problems.append(f"{imp.where()}: ance_core never imports the launcher")
            continue
        src, dst = unit(imp.source), unit_of_target(imp.target, layers)
        for name in (src, dst):
            if name not in layers:
                problems.append(f"{imp.where()}: {PACKAGE}.{name} is in no layer of {DOC.name} ('## Layers' table)")
        if src == dst or src not in layers or dst not in layers:
            continue
        if layers[dst] > layers[src]:
            problems.append(f"{imp.where()}: upward import, layer {layers[src]} ({src}) -> layer {layers[dst]} ({dst})")
        edges[src].setdefault(dst, imp)
    problems += [f"cycle between subpackages {' -> '.join(cycle)}:\n    " + "\n    ".join(
        edges[a][b].where() for a, b in zip(cycle, cycle[1:])) for cycle in cycles(edges)]
    return problems


def cycles(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One closed path (first node repeated last) per cycle found by depth-first search."""
    found, state = [], {}  # state: 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [node, nxt] if nxt != node else [node, node])
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return found


def public_api() -> list[str]:
    names = [re.findall(r"`([\w.*]+)`", cells[0]) for cells in doc_table("### Public API")]
    api = [name for group in names for name in group]
    assert api, f"{DOC}: the Public API table names no modules"
    return api


def check_public_api(imports: list[Import], api: list[str]) -> list[str]:
    def allowed(target: str) -> bool:
        module, _, _name = target.rpartition(".")
        for entry in api:
            prefix = entry.removesuffix(".*")
            if entry.endswith(".*") and (target == prefix or target.startswith(prefix + ".")):
                return True
            if target == entry or module == entry:  # `import X` or `from X import name`
                return True
        return False

    return [f"{imp.where()}: not in the launcher's public API ({DOC.name}, 'Public API')"
            for imp in imports if imp.target.startswith(PACKAGE + ".") and not allowed(imp.target)]


def test_ance_core_layers_point_down_without_cycles():
    problems = check_layers(all_imports(PACKAGE), layer_of())
    assert not problems, "\n".join(problems)


def test_every_module_of_ance_core_is_in_exactly_the_layers_table():
    """Also the modules nothing in ance_core imports yet (the import check only sees imported ones)."""
    units = {unit(module_name(path)) for path in (ROOT / PACKAGE).rglob("*.py")}
    layers = layer_of()
    assert not units - set(layers), f"in no layer of {DOC.name}: {sorted(units - set(layers))}"
    assert not set(layers) - units, f"{DOC.name} layers name no such module: {sorted(set(layers) - units)}"


def test_launcher_uses_only_the_public_api():
    problems = check_public_api(all_imports("launcher"), public_api())
    assert not problems, "\n".join(problems)


# The checks themselves, on made-up imports: each rule catches what it is for.

def fake(source: str, target: str) -> Import:
    return Import(source, target, ROOT / "ance_core" / "x.py", 1)


LAYERS = {"loop": 3, "train": 2, "mining": 2, "data": 1, "__init__": 0}


@pytest.mark.parametrize("imports, expected", [
    ([fake("ance_core.data.readers", "ance_core.train.rundir.cache_root")], "upward import, layer 1 (data) -> layer 2 (train)"),
    ([fake("ance_core.train.trainer", "ance_core.mining.refresh"), fake("ance_core.mining.refresh", "ance_core.train.data.x")],
     "cycle between subpackages mining -> train -> mining"),
    ([fake("ance_core.nowhere.x", "ance_core.data.y")], "ance_core.nowhere is in no layer"),
    ([fake("ance_core.data.x", "launcher.cli.main")], "ance_core never imports the launcher"),
])
def test_layer_check_catches(imports, expected):
    problems = check_layers(imports, LAYERS)
    assert any(expected in problem for problem in problems), problems


def test_layer_check_passes_downward_and_sibling_imports():
    imports = [fake("ance_core.loop.ance", "ance_core.train.x"), fake("ance_core.mining.m", "ance_core.data.y"),
               fake("ance_core.train.t", "ance_core.mining.z"), fake("ance_core.data.d", "ance_core.__version__")]
    assert check_layers(imports, LAYERS) == []


def test_public_api_check():
    api = ["ance_core.config.*", "ance_core.report"]
    ok = [fake("launcher.cli", "ance_core.config.loader.load_experiment"), fake("launcher.cli", "ance_core.report.collect")]
    bad = [fake("launcher.cli", "ance_core.report.render.render_rich"), fake("launcher.cli", "ance_core.loop.ance.run")]
    assert check_public_api(ok, api) == []
    assert len(check_public_api(bad, api)) == 2


def test_imports_are_found_inside_functions_relative_and_by_name():
    text = ("import importlib\n"
            "def f(name):\n    from ..train import trainer\n    import ance_core.mining\n"
            "    importlib.import_module(f'ance_core.stages.{name}')\n")
    path = ROOT / "ance_core" / "data" / "probe.py"  # never written: only its place in the package counts
    targets = {imp.target for imp in imports_in(text, "ance_core.data.probe", path)}
    assert targets == {"ance_core.train.trainer", "ance_core.mining", "ance_core.stages"}
