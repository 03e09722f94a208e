"""The reference JavaScript Socket.IO client, as a Node media worker would use it."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def node() -> str:
    """Node with the locked socket.io-client installed from the npm registry."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed; the JavaScript client cannot run")
    if not (NODE_DIR / "node_modules" / "socket.io-client").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=150,
        )
    return node


async def run_worker(node: str, *args: str) -> dict:
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / "worker.mjs"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert stdout, stderr.decode()
    return {"exit": process.returncode, **json.loads(stdout)}


@pytest.mark.parametrize(("path", "namespace"), [("/socket.io/", "/"), ("/ws/sts/", "/sts")])
async def test_javascript_worker_streams_to_completion(
    node: str, start_server, path: str, namespace: str
) -> None:
    server = start_server(auto_disconnect_s=0.2)
    seen = await run_worker(node, "stream", server.url, path, namespace, "js-1")
    assert seen["exit"] == 0
    assert seen["processed"] == [
        {"sequence_number": seq, "status": "success", "identical": True} for seq in range(3)
    ]
    assert seen["complete"]["total_fragments"] == 3
    assert seen["complete"]["statistics"]["success_count"] == 3
    assert seen["events"][0] == "stream:ready"
    assert seen["events"][-1] == "stream:complete"
    assert seen["reason"] == "io server disconnect"


async def test_javascript_worker_sees_structured_auth_refusal(node: str, start_server) -> None:
    server = start_server(api_keys=("right",))
    seen = await run_worker(node, "refused", server.url, "/socket.io/", "/", "js-2", "wrong")
    assert seen["exit"] == 0
    assert seen["error"] == {
        "message": "AUTH_FAILED",
        "data": {
            "code": "AUTH_FAILED",
            "message": "authentication failed: auth.token matches no configured API key",
            "severity": "fatal",
            "retryable": False,
        },
    }


async def test_javascript_worker_with_the_right_key_is_served(node: str, start_server) -> None:
    server = start_server(api_keys=("right",), auto_disconnect_s=0.2)
    seen = await run_worker(node, "stream", server.url, "/socket.io/", "/", "js-3", "right")
    assert seen["complete"]["total_fragments"] == 3
