"""Logging: one line per decision, stream_id and fragment_id as fields, never audio.

``text`` is for people at a terminal; ``json`` writes one object per line for journald and log
shippers, with the identifiers a record carries (``extra=``) as fields of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, MutableMapping
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


class StreamLog(logging.LoggerAdapter[logging.Logger]):
    """A logger bound to one session: every line carries its stream_id and session_id.

    Every line ends with the identifiers; in JSON they are fields too, and a call's own
    ``extra`` (a fragment_id) joins them instead of replacing them.
    """

    def __init__(self, logger: logging.Logger, stream_id: str, session_id: str) -> None:
        super().__init__(logger, {"stream_id": stream_id, "session_id": session_id})
        self._ids = (stream_id, session_id)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        own: Mapping[str, Any] = kwargs.get("extra") or {}
        kwargs["extra"] = {**(self.extra or {}), **own}
        return msg, kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            msg, kwargs = self.process(msg, kwargs)
            text = str(msg) if args else str(msg).replace("%", "%%")
            # The record names the caller of info()/debug(), not this adapter.
            kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
            self.logger.log(
                level, f"{text} [stream_id=%s session_id=%s]", *args, *self._ids, **kwargs
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
