from __future__ import annotations

import json
import logging
import sys

from echosts.config import Settings
from echosts.logs import JsonFormatter, configure_logging


def record(**extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("echosts.session", logging.INFO, __file__, 1, "x=%d", (3,), None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_carry_identifiers_as_fields() -> None:
    line = JsonFormatter().format(record(stream_id="s", fragment_id="f", session_id=None))
    entry = json.loads(line)
    assert entry["message"] == "x=3"
    assert (entry["stream_id"], entry["fragment_id"]) == ("s", "f")
    assert "session_id" not in entry
    assert entry["level"] == "INFO"


def test_json_lines_include_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        entry = record()
        entry.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(entry))["exception"]


def test_configure_logging_picks_the_format_and_level() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(log_format="json", log_level="WARNING"))
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
        configure_logging(Settings())
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
