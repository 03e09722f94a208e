"""The ``echosts`` command: settings, logging, and the IOLoop that serves until a signal."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

from tornado.ioloop import PeriodicCallback

from echosts import __version__, protocol
from echosts.app import EchoService
from echosts.auth import KeyFileError, KeyRing
from echosts.config import Settings, SettingsError, load_settings
from echosts.logs import configure_logging
from echosts.systemd import Notifier

log = logging.getLogger("echosts.app")

STATUS_INTERVAL_S = 5.0
"""How often systemd's STATUS= is refreshed when no watchdog asks for more."""


class Shutdown:
    """The first SIGTERM or SIGINT starts a graceful drain; a second one exits at once."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()

    def __call__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            log.warning("%s again: exiting at once", name)
            logging.shutdown()
            os._exit(128 + signum)
        log.info("%s received: draining", name)
        self.requested.set()


GC_THRESHOLDS = (10_000, 10, 10)
"""Young-generation collections after 10,000 net container allocations instead of 700; the
older generations keep their defaults, so what a closed connection leaves in reference
cycles is still collected within minutes, in collections of modest size."""


def tune_garbage_collector() -> None:
    """Fewer, shorter collections: a fragment allocates dozens of short-lived containers.

    With the defaults the collector ran every 40 or so fragments and a full collection walked
    every object the service ever loaded, pausing the loop for up to 50 ms: that was the tail
    of the fragment round trip. What exists once the service listens is long-lived and is
    moved out of the collector's sight (without a full collection first, which would cost
    more start-up time than the little garbage it would spare).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def load_models() -> None:
    """Builds the payload validators, then moves them out of the collector's sight too."""
    protocol.load_models()
    gc.freeze()


def load_models_in_background() -> threading.Thread:
    """Builds the payload validators while the service already answers its first requests.

    Loading pydantic and building the models is the largest part of start-up; the service
    answers ``/health`` without them, and a first ``stream:init`` that arrives sooner waits for
    the import to finish (Python's import lock), never for a second one.
    """
    thread = threading.Thread(target=load_models, name="echosts-models", daemon=True)
    thread.start()
    return thread


def reload_keys(keys: KeyRing) -> None:
    """SIGHUP: the key file read again; one that cannot be read leaves the keys in force."""
    try:
        count = keys.reload()
    except KeyFileError as problem:
        log.error("API keys not reloaded, the %d in force stay: %s", len(keys.keys), problem)
        return
    log.info("API keys reloaded from %s: %d in force", keys.path, count)


async def serve(settings: Settings, keys: KeyRing) -> int:
    """Runs the service until a signal, drains it, and returns the exit status."""
    service = EchoService.create(settings, keys=keys)
    port = service.listen()
    tune_garbage_collector()
    load_models_in_background()
    notifier = Notifier()
    shutdown = Shutdown()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shutdown, signum)
    loop.add_signal_handler(signal.SIGHUP, reload_keys, keys)
    log.info(
        "echosts %s listening on http://%s:%d (auth %s, drain timeout %g s)",
        __version__,
        settings.host,
        port,
        "on" if settings.auth_enabled else "off",
        settings.drain_timeout_s,
    )
    print(f"echosts listening on http://{settings.host}:{port}", flush=True)
    notifier.ready(service.fleet.status())
    heartbeat = None
    if notifier.enabled:
        interval = min(notifier.watchdog_interval_s or STATUS_INTERVAL_S, STATUS_INTERVAL_S)
        beat = notifier.watchdog if notifier.watchdog_interval_s else notifier.status
        heartbeat = PeriodicCallback(lambda: beat(service.fleet.status()), interval * 1000)
        heartbeat.start()
    await shutdown.requested.wait()
    notifier.stopping(service.fleet.status())
    await service.drain()
    if heartbeat is not None:
        heartbeat.stop()
    await service.stop()
    log.info("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The subcommands load their modules only when asked: the service's start does not pay.
    if arguments[:1] == ["check"]:
        code: int = importlib.import_module("echosts.check").main(arguments[1:])
        return code
    if arguments[:1] == ["asyncapi"]:
        sys.stdout.write(importlib.import_module("echosts.contract").asyncapi_yaml())
        return 0
    try:
        settings = load_settings(os.environ, arguments)
    except SettingsError as problem:
        print(f"echosts: error: {problem}", file=sys.stderr)
        return 2
    try:
        keys = KeyRing(settings.api_keys, settings.api_keys_file)
    except KeyFileError as problem:
        print(f"echosts: error: ECHO_API_KEYS_FILE: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    return run(serve(settings, keys))


def run(main: Coroutine[Any, Any, int]) -> int:
    """Runs on uvloop when it is installed (less CPU per event), else on asyncio's loop."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - where no uvloop wheel exists
        return asyncio.run(main)
    return uvloop.run(main)
