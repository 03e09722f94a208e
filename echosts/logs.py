"""Logging: one line per decision, stream_id and fragment_id as fields, never audio.

``text`` is for people at a terminal; ``json`` writes one object per line for journald and log
shippers, with the identifiers a record carries (``extra=``) as fields of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

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
