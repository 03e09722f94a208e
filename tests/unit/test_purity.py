"""The core imports no IO framework, so it tests with plain calls.

Every module of the package is core unless it is named an edge module here; a core module
imports neither tornado, socketio, asyncio nor prometheus_client, nor an edge module that
does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "echosts"
EDGE = {
    "__main__",
    "app",
    "cli",
    "control",
    "fleet",
    "gateway",
    "link",
    "metrics",
    "sessions_api",
    "check",
    "pytest_plugin",
    "testing",
    "transport",
    "web",
    "wire",
}
SESSION_CORE = {
    "hangup",
    "connection",
    "stream",
    "state",
    "outputs",
    "sequence",
    "faults",
    "plans",
    "observe",
    "admission",
}
FORBIDDEN = {"tornado", "socketio", "engineio", "asyncio", "prometheus_client"}
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py"))
CORE = [module for module in MODULES if module not in EDGE]


def imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "echosts":
                found |= {f"echosts.{alias.name}" for alias in node.names}
    return found


def test_every_session_module_is_core_and_every_edge_module_exists() -> None:
    assert set(CORE) >= SESSION_CORE
    assert set(MODULES) >= EDGE


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io_framework(module: str) -> None:
    top_level = {name.split(".")[0] for name in imports(module)}
    assert not top_level & FORBIDDEN


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_edge_module(module: str) -> None:
    ours = {
        name.removeprefix("echosts.") for name in imports(module) if name.startswith("echosts.")
    }
    assert not ours & EDGE
