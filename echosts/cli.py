"""The ``echosts`` command: settings, logging, and the IOLoop that serves until a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from echosts import __version__
from echosts.app import EchoService
from echosts.config import Settings, SettingsError, load_settings
from echosts.logs import configure_logging

log = logging.getLogger("echosts.app")


async def serve(settings: Settings) -> int:
    """Runs the service until SIGTERM or SIGINT; returns the exit status."""
    service = EchoService.create(settings)
    port = service.listen()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "echosts %s listening on http://%s:%d (auth %s)",
        __version__,
        settings.host,
        port,
        "on" if settings.auth_enabled else "off",
    )
    print(f"echosts listening on http://{settings.host}:{port}", flush=True)
    await stop.wait()
    log.info("shutting down")
    await service.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(os.environ, sys.argv[1:] if argv is None else argv)
    except SettingsError as problem:
        print(f"echosts: error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    return asyncio.run(serve(settings))
