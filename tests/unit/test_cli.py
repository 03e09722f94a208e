"""The command's event loop."""

from __future__ import annotations

import asyncio

from echosts.cli import run


def test_the_command_runs_on_uvloop_when_it_is_installed() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_module()).startswith("uvloop")
