"""The core modules import neither tornado nor socketio, so they test with plain calls."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "echosts"
CORE = ["config", "context", "errors", "protocol", "session", "ordering", "stats", "faults"]
FORBIDDEN = {"tornado", "socketio", "engineio", "asyncio", "prometheus_client"}


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io_framework(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
