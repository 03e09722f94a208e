from __future__ import annotations

import json
import logging
import sys

from echosts.config import Settings
from echosts.logs import JsonFormatter, StreamLog, configure_logging


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


# StreamLog


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # No try/except: a formatting error reaches the test instead of stderr.
        self.lines.append(self.format(record))


def stream_log(
    formatter: logging.Formatter, stream_id: str = "s-1", session_id: str = "sess-1"
) -> tuple[StreamLog, Lines]:
    logger = logging.getLogger(f"tests.streamlog.{id(formatter)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    lines = Lines(formatter)
    logger.handlers[:] = [lines]
    return StreamLog(logger, stream_id, session_id), lines


def test_text_lines_end_with_the_stream_and_session_ids() -> None:
    log, lines = stream_log(logging.Formatter("%(message)s"))
    log.info("fragment accepted: n=%d", 3)
    assert lines.lines == ["fragment accepted: n=3 [stream_id=s-1 session_id=sess-1]"]


def test_json_records_carry_the_stream_and_session_ids_as_fields() -> None:
    log, lines = stream_log(JsonFormatter())
    log.info("stream started")
    entry = json.loads(lines.lines[0])
    assert (entry["stream_id"], entry["session_id"]) == ("s-1", "sess-1")


def test_json_records_add_a_calls_own_fragment_id() -> None:
    log, lines = stream_log(JsonFormatter())
    log.info("fragment processed", extra={"fragment_id": "f-7"})
    entry = json.loads(lines.lines[0])
    assert (entry["stream_id"], entry["session_id"], entry["fragment_id"]) == (
        "s-1",
        "sess-1",
        "f-7",
    )


def test_a_calls_fragment_id_does_not_carry_over_to_the_next_call() -> None:
    log, lines = stream_log(JsonFormatter())
    log.info("first", extra={"fragment_id": "f-7"})
    log.info("second")
    assert "fragment_id" not in json.loads(lines.lines[1])


def test_a_percent_in_the_stream_id_does_not_break_a_line_without_args() -> None:
    log, lines = stream_log(logging.Formatter("%(message)s"), stream_id="s%d%s%(x)s")
    log.info("stream started")
    assert lines.lines == ["stream started [stream_id=s%d%s%(x)s session_id=sess-1]"]


def test_a_percent_in_the_stream_id_does_not_break_a_line_with_args() -> None:
    log, lines = stream_log(logging.Formatter("%(message)s"), stream_id="s%d%s%(x)s")
    log.info("n=%d name=%s", 3, "x")
    assert lines.lines == ["n=3 name=x [stream_id=s%d%s%(x)s session_id=sess-1]"]


def test_a_percent_in_the_stream_id_does_not_break_json() -> None:
    log, lines = stream_log(JsonFormatter(), stream_id="50%s")
    log.info("n=%d", 3)
    entry = json.loads(lines.lines[0])
    assert entry["stream_id"] == "50%s"
    assert entry["message"].startswith("n=3 ")


def test_a_percent_in_a_message_without_args_is_kept_as_written() -> None:
    log, lines = stream_log(logging.Formatter("%(message)s"))
    log.info("100% done")
    assert lines.lines == ["100% done [stream_id=s-1 session_id=sess-1]"]


def test_a_record_names_the_function_that_logged_not_the_adapter() -> None:
    log, lines = stream_log(logging.Formatter("%(funcName)s"))

    def stream_started() -> None:
        log.info("started")

    stream_started()
    assert lines.lines == ["stream_started"]


def test_log_and_warning_carry_the_ids_and_follow_the_loggers_level() -> None:
    log, lines = stream_log(logging.Formatter("%(levelname)s %(message)s"))
    log.log(logging.ERROR, "broke: %s", "x", extra={"fragment_id": "f-1"})
    log.warning("slow")
    assert lines.lines == [
        "ERROR broke: x [stream_id=s-1 session_id=sess-1]",
        "WARNING slow [stream_id=s-1 session_id=sess-1]",
    ]
    logging.getLogger(f"tests.streamlog.{id(lines.formatter)}").setLevel(logging.ERROR)
    assert not log.isEnabledFor(logging.WARNING)
    log.warning("not written")
    assert len(lines.lines) == 2
