"""Logging: one line per decision, stream_id and fragment_id as fields, never audio.

``text`` is for people at a terminal; ``json`` writes one object per line for journald and log
shippers, with the identifiers a record carries (``extra=``) as fields of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from echosts.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("stream_id", "fragment_id", "session_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class StreamLog:
    """A logger bound to one session: every line carries its stream_id and session_id.

    Every line ends with the identifiers; in JSON they are fields too, and a call's own
    ``extra`` (a fragment_id) joins them instead of replacing them. Slotted rather than a
    ``LoggerAdapter``: every idle session holds one.
    """

    __slots__ = ("_ids", "_logger")

    def __init__(self, logger: logging.Logger, stream_id: str, session_id: str) -> None:
        self._logger = logger
        self._ids = (stream_id, session_id)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - the logging API's name
        return self._logger.isEnabledFor(level)

    def log(
        self,
        level: int,
        msg: Any,
        *args: Any,
        extra: Mapping[str, Any] | None = None,
        stacklevel: int = 1,
        **kwargs: Any,
    ) -> None:
        self._log(level, msg, args, extra, stacklevel=stacklevel + 1, **kwargs)

    def debug(self, msg: Any, *args: Any, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.DEBUG, msg, args, extra)

    def info(self, msg: Any, *args: Any, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.INFO, msg, args, extra)

    def warning(self, msg: Any, *args: Any, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.WARNING, msg, args, extra)

    def _log(
        self,
        level: int,
        msg: Any,
        args: tuple[Any, ...],
        extra: Mapping[str, Any] | None,
        *,
        stacklevel: int = 2,
        **kwargs: Any,
    ) -> None:
        if not self._logger.isEnabledFor(level):
            return
        stream_id, session_id = self._ids
        fields = {"stream_id": stream_id, "session_id": session_id, **(extra or {})}
        text = str(msg) if args else str(msg).replace("%", "%%")
        self._logger.log(
            level,
            f"{text} [stream_id=%s session_id=%s]",
            *args,
            *self._ids,
            extra=fields,
            # The record names the caller of info()/debug(), not these two frames.
            stacklevel=stacklevel + 1,
            **kwargs,
        )


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Tornado logs each request itself; echosts.access replaces it.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


class OneLineHandlerErrors(logging.Filter):
    """python-engineio logs a traceback at ERROR for each message its handler could not take,
    such as a binary frame no Socket.IO packet announced: a hostile client could fill the
    journal with them. Each becomes one WARNING line, as a refused event is one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.msg == "message async handler error":
            problem = record.exc_info[1]
            record.msg = "a client message could not be handled: %s: %s"
            record.args = (type(problem).__name__, problem)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


def tame_engineio_errors() -> None:
    """Installs ``OneLineHandlerErrors`` once on python-engineio's server logger."""
    logger = logging.getLogger("engineio.server")
    if not any(isinstance(known, OneLineHandlerErrors) for known in logger.filters):
        logger.addFilter(OneLineHandlerErrors())
