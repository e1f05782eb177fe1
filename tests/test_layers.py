"""The layers import downward only, read from the source with ``ast`` (no module is imported).

core (math) <- features <- runtime <- studies <- tools and scripts; ``envs`` takes only the
errors from ``agents``. Every import counts, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["core", "features", "runtime", "studies", "tools"]
"""Bottom to top: a layer may import the layers before it, never those after it."""
CORE_FORBIDDEN = ("hydra", "omegaconf", "gymnasium", "tensorboard", "tqdm", "matplotlib", "envs")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module named by an ``import`` or ``from ... import`` in the file (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "agents" and parts[1] in LAYERS else None


@pytest.mark.parametrize("path", sources("agents"), ids=lambda p: module_name(p))
def test_layers_import_downward_only(path):
    own = layer_of(module_name(path))
    if own is None:  # agents/__init__.py (the public names) and agents/errors.py
        return
    allowed = set(LAYERS[: LAYERS.index(own) + 1])
    upward = sorted(m for m in imports_of(path) if layer_of(m) is not None and layer_of(m) not in allowed)
    assert not upward, f"{module_name(path)} ({own}) imports upward: {upward}"


@pytest.mark.parametrize("path", sources("agents/core"), ids=lambda p: module_name(p))
def test_core_imports_only_torch_numpy_and_errors(path):
    bad = sorted(m for m in imports_of(path) if m.split(".")[0] in CORE_FORBIDDEN)
    assert not bad, f"{module_name(path)} imports {bad}"


@pytest.mark.parametrize("path", sources("envs"), ids=lambda p: module_name(p))
def test_envs_take_only_the_errors_from_agents(path):
    bad = sorted(m for m in imports_of(path) if m.startswith("agents") and not m.startswith("agents.errors"))
    assert not bad, f"{module_name(path)} imports {bad}"


def test_no_import_circles():
    """The graph of imports between the project's modules has no cycle."""
    modules = {module_name(p): p for p in [*sources("agents"), *sources("envs")]}
    graph = {
        name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            pytest.fail("import circle: " + " -> ".join([*stack[stack.index(name) :], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_checks_catch_an_upward_import(tmp_path):
    """The helpers above see an upward import (so the tests can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from agents.tools.cli import hydra_main\n    import hydra\n")
    assert {"agents.tools.cli", "agents.tools.cli.hydra_main", "hydra"} <= imports_of(bad)
    assert layer_of("agents.tools.cli") == "tools"
