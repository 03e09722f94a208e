"""The command's event loop."""

from __future__ import annotations

import asyncio
import gc

from echosts.cli import GC_THRESHOLDS, run, tune_garbage_collector


def test_the_command_runs_on_uvloop_when_it_is_installed() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_module()).startswith("uvloop")


def test_the_garbage_collector_is_tuned_for_many_short_lived_containers() -> None:
    saved = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
