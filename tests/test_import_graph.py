"""The package's structure, read from its source: an AST pass over every module of ma_vlm/.

Layers, from the ground up; a module may import its own layer and the ones below, never above:

1. ground floor: the small shared modules in `ma_vlm/` (errors, geometry, atomic_io, inputs,
   runtime, recipes, resources, model_folders, lazy, registration, moved_modules, visualize) and
   `ma_vlm/__init__.py`;
2. models: `ma_vlm/models/`; a model folder imports the ground floor, its own folder and the
   files directly in `ma_vlm/models/` (what the model folders share), never another model folder;
3. tools: every other folder (depth, export, pointmap, pretrain, data, benchmarks, mllm, plugin, vla,
   demo, testing); a tool never imports a command module;
4. commands: `ma_vlm/cli.py` and each folder's `cli.py` / `*_cli.py`; only a command module
   imports another folder's command module.

Two kinds of import are read: module-level ones (run when the module is imported: top-level
statements, including those under `if`/`try` and in class bodies) and function-level ones
(deferred to a call, which is how ma-vlm keeps `import ma_vlm` and `ma-vlm --help` free of torch).
Cycles are checked on module-level imports, the ones that can fail at import time; a deferred
import is a dependency all the same, so the layer rules hold for both kinds. Names that load on
first use through `ma_vlm.lazy.lazy_exports`, and the import paths in `ma_vlm.registration`'s
table, are strings, not imports: they are not edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ma_vlm"
GROUND = {"ma_vlm", "errors", "geometry", "atomic_io", "inputs", "runtime", "recipes", "resources", "model_folders",
          "lazy", "registration", "moved_modules", "visualize"}
TOOLS = {"depth", "export", "pointmap", "pretrain", "data", "benchmarks", "mllm", "plugin", "vla", "demo", "app",
         "testing"}
LAYERS = {"ground": 0, "models": 1, "tools": 2, "cli": 3}
# (importer, imported): why the rule does not fit this one edge
ALLOWED = {
    ("ma_vlm.demo.commands", "ma_vlm.cli"): "the demo runs the project's own commands through the `ma-vlm` parser "
                                            "in one process, so torch loads once for the whole demo",
}


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, node: ast.ImportFrom) -> list[str]:
    """The ma_vlm modules an import statement names (a name that is a submodule counts as one)."""
    if node.level:
        base = importer.split(".") if is_package(importer) else importer.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    targets = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES]
    if len(targets) < len(node.names) and module in MODULES:
        targets.append(module)
    return targets


def imports(name: str) -> tuple[set[str], set[str]]:
    """(module-level, function-level) ma_vlm modules that module `name` imports."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    top, deferred = set(), set()

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            found = []
            if isinstance(child, ast.Import):
                found = [alias.name for alias in child.names if alias.name in MODULES]
            elif isinstance(child, ast.ImportFrom):
                found = resolve(name, child)
            (deferred if inside else top).update(target for target in found if target != name)
            visit(child, inside)

    visit(tree, False)
    return top, deferred


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in GROUND):
        return "ground"
    if parts[-1] == "cli" or parts[-1].endswith("_cli"):
        return "cli"
    if parts[1] == "models":
        return "models"
    assert parts[1] in TOOLS, f"{name}: classify its folder in tests/test_import_graph.py"
    return "tools"


def model_folder(name: str) -> str | None:
    """ma_vlm.models.<folder> for a module of a model folder; None for ma_vlm.models' own files."""
    parts = name.split(".")
    return ".".join(parts[:3]) if len(parts) > 3 or (len(parts) == 3 and is_package(name)) else None


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    if (importer, imported) in ALLOWED:
        return None
    source, target = layer(importer), layer(imported)
    if LAYERS[target] > LAYERS[source]:
        return f"{source} imports {target}"
    if source == "models" and target == "models":
        home, other = model_folder(importer), model_folder(imported)
        if other is not None and other != home:
            return "a model imports another model's folder"
    return None  # below the command layer nothing imports a command module, so only commands use each other


def test_every_folder_and_file_has_a_layer():
    assert {name: layer(name) for name in MODULES}


def test_no_module_imports_upward():
    found = []
    for name in MODULES:
        top, deferred = imports(name)
        for imported in sorted(top | deferred):
            why = violation(name, imported)
            if why:
                found.append(f"{name} -> {imported}: {why}")
    assert not found, "\n".join(found)


def find_cycles(graph: dict[str, list[str]]) -> list[str]:
    """Each cycle a depth-first walk meets, as "a -> b -> a"."""
    state, stack, cycles = {}, [], []

    def walk(name: str) -> None:
        state[name] = "open"
        stack.append(name)
        for target in graph.get(name, []):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                walk(target)
        stack.pop()
        state[name] = "done"

    for name in graph:
        if name not in state:
            walk(name)
    return cycles


def test_the_module_level_import_graph_has_no_cycles():
    cycles = find_cycles({name: sorted(imports(name)[0]) for name in MODULES})
    assert not cycles, "\n".join(cycles)


def test_the_rules_catch_what_they_forbid():
    # the checks themselves: each forbidden kind of edge is reported, each allowed one is not
    assert violation("ma_vlm.models.metric_anything.presets", "ma_vlm.depth.inference") == "models imports tools"
    assert violation("ma_vlm.geometry", "ma_vlm.models.cpu_heap") == "ground imports models"
    assert violation("ma_vlm.pointmap.inference", "ma_vlm.pointmap.cli") == "tools imports cli"
    assert violation("ma_vlm.models.metric_anything_pointmap.convert",
                     "ma_vlm.models.metric_anything.convert") == "a model imports another model's folder"
    assert violation("ma_vlm.models.metric_anything_pointmap.convert", "ma_vlm.models.conversion") is None
    assert violation("ma_vlm.depth.cli", "ma_vlm.pointmap.image_outputs") is None
    assert layer("ma_vlm.pointmap.eval_cli") == "cli" and layer("ma_vlm.registration") == "ground"
    top, deferred = imports("ma_vlm.depth.cli")  # module-level and function-level imports told apart
    assert "ma_vlm.errors" in top and "ma_vlm.pointmap.image_outputs" in deferred - top
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == ["a -> b -> c -> a"]
    assert find_cycles({"a": ["b"], "b": [], "c": ["a", "b"]}) == []
