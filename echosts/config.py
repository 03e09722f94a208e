"""Service settings: one frozen dataclass, read from the environment, then the command line.

Every setting has one entry in ``SETTINGS``: its environment variable, its command-line flag
(derived from the variable's name), the parser that checks its range, and a one-line help. A
bad value raises ``SettingsError`` naming the variable or flag it came from, so the command
line can exit with status 2 and a message a person can act on.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from echosts import __version__

MIN_BUFFER_SIZE = 11_534_336
"""10 MiB of base64 plus room for the Socket.IO envelope of one fragment."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A setting's value is out of range; ``name`` is the variable or flag it came from."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    """Everything the service reads at start; one value drives every limit it governs."""

    host: str = "0.0.0.0"
    """Bind address."""
    port: int = 8000
    """TCP port; 0 picks a free one and prints it."""
    processing_delay_ms: int = 0
    """Default per-fragment processing delay, milliseconds."""
    processing_jitter_ms: int = 0
    """Default uniform jitter added to the delay, milliseconds."""
    api_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    """Accepted API keys; empty (and no key file) turns authentication off. Never logged."""
    api_keys_file: str | None = None
    """A file of API keys, one a line, read at start and again on SIGHUP."""
    auto_disconnect_s: float = 5.0
    """Seconds after stream:complete before the server disconnects the client."""
    queue_limit: int = 20
    """Fragments in flight per session before QUEUE_FULL."""
    backpressure_enabled: bool = False
    """Turns the fraction-of-max_inflight backpressure ladder on for every session."""
    drain_timeout_s: float = 10.0
    """Seconds that in-flight fragments get to finish on shutdown."""
    log_level: str = "INFO"
    """Root log level."""
    log_format: str = "text"
    """``text`` for people, ``json`` for one object per line (journald, log shippers)."""
    max_plans: int = 1000
    """Fault plans the control API keeps at most."""
    plan_idle_expiry_s: float = 3600.0
    """Seconds after which a fault plan that nothing used is forgotten."""
    max_connections: int = 500
    """Open Socket.IO connections before RATE_LIMIT refusals."""
    max_buffer_size: int = 52_428_800
    """Largest incoming message in bytes, for both engine.io and Tornado."""
    ping_interval: int = 25
    """Engine.IO ping interval, seconds."""
    ping_timeout: int = 10
    """Engine.IO ping timeout, seconds."""
    compression: bool = False
    """Accept permessage-deflate when a client offers it."""
    idle_timeout_s: float = 60.0
    """Seconds a connection may stay without a session or a stream:init in progress; 0: off."""
    max_output_buffer_mb: int = 64
    """MiB that may wait to be written to one client before the server drops it."""
    fragment_id_window: int = 10_000
    """Accepted fragment_ids a session remembers for the duplicate check."""
    journal_events: int = 10_000
    """Journal entries a session keeps (section 12); the oldest go first."""
    journal_sessions: int = 1000
    """Ended sessions whose journals are kept; the oldest ended go first."""

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys) or self.api_keys_file is not None


Parser = Callable[[str], object]


def _integer(low: int, high: int | None = None) -> Parser:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bounds = f"{low}-{high}" if high is not None else f"at least {low}"
            raise ValueError(f"{value} is out of range ({bounds})")
        return value

    return parse


def _number(low: float, high: float) -> Parser:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        if not low <= value <= high:
            raise ValueError(f"{raw.strip()} is out of range ({low:g}-{high:g})")
        return value

    return parse


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean (true/false, 1/0, yes/no, on/off)")


def _choice(*choices: str, upper: bool = False) -> Parser:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in choices:
            raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")
        return value

    return parse


def _host(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("the bind address is empty")
    return value


def _key_list(raw: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in raw.split(",") if key.strip())


def _path(raw: str) -> str:
    if not raw.strip():
        raise ValueError("is empty: give the path of the key file")
    return raw.strip()


@dataclass(frozen=True)
class SettingSpec:
    field: str
    env: str
    parse: Parser
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.env.split("_", 1)[1].lower().replace("_", "-")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("host", "ECHO_HOST", _host, "bind address"),
    SettingSpec("port", "ECHO_PORT", _integer(0, 65535), "TCP port (0: any free port)"),
    SettingSpec(
        "processing_delay_ms",
        "ECHO_PROCESSING_DELAY_MS",
        _integer(0, 60000),
        "default per-fragment processing delay, ms (0-60000)",
    ),
    SettingSpec(
        "processing_jitter_ms",
        "ECHO_PROCESSING_JITTER_MS",
        _integer(0, 60000),
        "default uniform jitter added to the delay, ms (0-60000)",
    ),
    SettingSpec(
        "api_keys", "ECHO_API_KEYS", _key_list, "comma-separated API keys (unset: auth off)"
    ),
    SettingSpec(
        "api_keys_file",
        "ECHO_API_KEYS_FILE",
        _path,
        "file of API keys, one a line, # comments; re-read on SIGHUP (unset: none)",
    ),
    SettingSpec(
        "auto_disconnect_s",
        "ECHO_AUTO_DISCONNECT_S",
        _number(0, 3600),
        "seconds after stream:complete before disconnecting (0-3600)",
    ),
    SettingSpec(
        "queue_limit",
        "ECHO_QUEUE_LIMIT",
        _integer(1, 1000),
        "fragments in flight per session before QUEUE_FULL (1-1000)",
    ),
    SettingSpec(
        "backpressure_enabled",
        "ECHO_BACKPRESSURE_ENABLED",
        _boolean,
        "backpressure ladder for every session",
    ),
    SettingSpec(
        "drain_timeout_s",
        "ECHO_DRAIN_TIMEOUT_S",
        _number(0, 600),
        "seconds in-flight fragments get on shutdown (0-600)",
    ),
    SettingSpec(
        "log_level",
        "ECHO_LOG_LEVEL",
        _choice(*LOG_LEVELS, upper=True),
        "DEBUG, INFO, WARNING, ERROR",
    ),
    SettingSpec("log_format", "ECHO_LOG_FORMAT", _choice(*LOG_FORMATS), "text or json"),
    SettingSpec(
        "max_plans", "ECHO_MAX_PLANS", _integer(1, 100000), "fault plans kept at most (1-100000)"
    ),
    SettingSpec(
        "plan_idle_expiry_s",
        "ECHO_PLAN_IDLE_EXPIRY_S",
        _number(1, 604800),
        "seconds before an unused fault plan is forgotten (1-604800)",
    ),
    SettingSpec(
        "max_connections",
        "WS_MAX_CONNECTIONS",
        _integer(1, 100000),
        "open connections before RATE_LIMIT (1-100000)",
    ),
    SettingSpec(
        "max_buffer_size",
        "WS_MAX_BUFFER_SIZE",
        _integer(MIN_BUFFER_SIZE),
        f"largest incoming message, bytes (at least {MIN_BUFFER_SIZE})",
    ),
    SettingSpec(
        "ping_interval", "WS_PING_INTERVAL", _integer(1, 3600), "ping interval, seconds (1-3600)"
    ),
    SettingSpec(
        "ping_timeout", "WS_PING_TIMEOUT", _integer(1, 3600), "ping timeout, seconds (1-3600)"
    ),
    SettingSpec(
        "compression", "WS_COMPRESSION", _boolean, "accept permessage-deflate when offered"
    ),
    SettingSpec(
        "idle_timeout_s",
        "ECHO_IDLE_TIMEOUT_S",
        _number(0, 86400),
        "seconds a connection may stay without a session, 0 = off (0-86400)",
    ),
    SettingSpec(
        "max_output_buffer_mb",
        "ECHO_MAX_OUTPUT_BUFFER_MB",
        _integer(1, 4096),
        "MiB waiting for one client before it is dropped (1-4096)",
    ),
    SettingSpec(
        "journal_events",
        "ECHO_JOURNAL_EVENTS",
        _integer(1, 1_000_000),
        "journal entries a session keeps (1-1000000)",
    ),
    SettingSpec(
        "journal_sessions",
        "ECHO_JOURNAL_SESSIONS",
        _integer(0, 100_000),
        "ended sessions whose journals are kept (0-100000)",
    ),
    SettingSpec(
        "fragment_id_window",
        "ECHO_FRAGMENT_ID_WINDOW",
        _integer(1, 10_000_000),
        "accepted fragment_ids a session remembers (1-10000000)",
    ),
)


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echosts",
        description="Echo STS service: a Socket.IO test double for live-dubbing media workers.",
        epilog="Every flag can also be set by the environment variable shown; flags win.",
    )
    parser.add_argument("--version", action="version", version=f"echosts {__version__}")
    defaults = Settings()
    for spec in SETTINGS:
        default = getattr(defaults, spec.field)
        shown = "unset" if spec.field == "api_keys" else default
        parser.add_argument(
            spec.flag,
            dest=spec.field,
            metavar="VALUE",
            default=None,
            help=f"{spec.help} [env {spec.env}, default {shown}]",
        )
    return parser


def load_settings(environ: Mapping[str, str], argv: Sequence[str]) -> Settings:
    """Settings from ``environ`` overridden by ``argv``; raises SettingsError on a bad value.

    Argument-syntax errors (an unknown flag) are argparse's: it prints usage and exits 2.
    """
    arguments = _argument_parser().parse_args(list(argv))
    values: dict[str, object] = {}
    for spec in SETTINGS:
        from_flag = getattr(arguments, spec.field)
        if from_flag is not None:
            source, raw = spec.flag, from_flag
        elif spec.env in environ:
            source, raw = spec.env, environ[spec.env]
        else:
            continue
        try:
            values[spec.field] = spec.parse(raw)
        except ValueError as problem:
            raise SettingsError(source, str(problem)) from None
    return Settings(**values)  # type: ignore[arg-type]
