"""What each session did, for a test to ask afterwards (section 12): a journal and its counts.

Recording has to be cheap, since it runs on every fragment: an entry is one tuple of the few
fields a test reads, never the audio; it becomes the protocol's JSON object only when it is
read. A journal keeps its last ``max_events`` entries, and counts that stay exact when older
entries go. The book keeps every live session's journal and the last ``max_sessions`` ended
ones.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from itertools import islice
from typing import Any

from echosts import protocol as p

IN = "in"
OUT = "out"
CLOSED = "closed"
STATES = ("active", "paused", "ending", "completed", CLOSED)

COUNTS = (
    "fragments_received",
    "fragments_accepted",
    "fragments_rejected",
    "processed_success",
    "processed_partial",
    "processed_failed",
    "dropped",
    "acks_received",
    "errors_sent",
    "backpressure_sent",
)

Entry = tuple[int, float, str, str, Any, Any, Any, Any, Any, Any]
"""(seq, t_ms, dir, event, fragment_id, sequence_number, status, code, bytes, about): ``about``
is what an entry says beyond the protocol's fields (a backpressure action, the event an error
refused, a worker ack that was well-formed), kept for ``verify``."""

FIELDS = ("fragment_id", "sequence_number", "status", "code", "bytes")
Fields = tuple[Any, Any, Any, Any, Any, Any]
"""An entry's (fragment_id, sequence_number, status, code, bytes, about)."""
NO_FIELDS: Fields = (None, None, None, None, None, None)


MAX_TEXT = 64
"""Longest status, code or event name an entry keeps; a fragment_id keeps what
``protocol.readable_id`` allows. A worker's oversized strings are not the journal's to hold."""
VALID_ACK = "valid"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_TEXT else None


def _name(event: str) -> str:
    return event if len(event) <= MAX_TEXT else event[: MAX_TEXT - 3] + "..."


def _audio_chars(audio: Any) -> int | None:
    if isinstance(audio, dict):
        data = audio.get("data_base64")
        if isinstance(data, str):
            return len(data)
    return None


class SessionJournal:
    """One session's events in and out, its counts, and where it stands."""

    __slots__ = (
        "_ack_valid",
        "_entries",
        "_state",
        "counts",
        "dropped_entries",
        "ended_at",
        "next_seq",
        "session",
        "session_id",
        "started_at",
        "statistics",
        "stream_id",
        "worker_id",
    )

    def __init__(
        self,
        session_id: str,
        *,
        stream_id: str,
        worker_id: str,
        started_at: float,
        session: Any,
        max_events: int,
    ) -> None:
        self.session_id = session_id
        self.stream_id = stream_id
        self.worker_id = worker_id
        self.started_at = started_at
        """Unix ms."""
        self.ended_at: float | None = None
        self.session = session
        """The live ``StreamSession`` until the journal ends; None after."""
        self._state: str | None = None
        self.statistics: dict[str, Any] | None = None
        """The session's statistics as they were when it ended."""
        self._entries: deque[Entry] = deque(maxlen=max_events)
        self.next_seq = 0
        self.dropped_entries = 0
        self.counts = dict.fromkeys(COUNTS, 0)
        self._ack_valid = False
        """Whether the worker ack being handled was well-formed (its entry follows)."""

    @property
    def state(self) -> str:
        return self._state if self._state is not None else self.session.state.value

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def _add(self, t_ms: float, direction: str, event: str, fields: Fields = NO_FIELDS) -> None:
        entries = self._entries
        if len(entries) == entries.maxlen:
            self.dropped_entries += 1
        entries.append((self.next_seq, t_ms, direction, event, *fields))
        self.next_seq += 1

    def received(self, event: str, payload: Any, t_ms: float) -> None:
        """An event the worker sent, from its stream:init on."""
        event = _name(event)
        if not isinstance(payload, dict):
            if event == p.FRAGMENT_DATA:
                self.counts["fragments_received"] += 1
            self._add(t_ms, IN, event)
            return
        if event == p.FRAGMENT_DATA:
            self.counts["fragments_received"] += 1
            number = payload.get("sequence_number")
            fragment_id = p.readable_id(payload.get("fragment_id"))
            size = _audio_chars(payload.get("audio"))
            fields = (fragment_id, p.readable_sequence(number), None, None, size, None)
            self._add(t_ms, IN, event, fields)
        elif event == p.FRAGMENT_ACK:
            fragment_id = p.readable_id(payload.get("fragment_id"))
            status = _text(payload.get("status"))
            valid = VALID_ACK if self._ack_valid else None
            self._ack_valid = False
            self._add(t_ms, IN, event, (fragment_id, None, status, None, None, valid))
        else:
            self._add(t_ms, IN, event)

    def ack_received(self) -> None:
        """A well-formed worker fragment:ack; its entry, written next, says so."""
        self.counts["acks_received"] += 1
        self._ack_valid = True

    def sent(self, event: str, data: dict[str, Any], t_ms: float) -> None:
        """An event sent for this session; a test may push any object as its data (11.8)."""
        counts = self.counts
        if event == p.FRAGMENT_PROCESSED:
            status = data.get("status")
            counted = f"processed_{status}"
            if counted in counts:
                counts[counted] += 1
            error = data.get("error")
            fields = (
                p.readable_id(data.get("fragment_id")),
                p.readable_sequence(data.get("sequence_number")),
                _text(status),
                _text(error.get("code")) if isinstance(error, dict) else None,
                _audio_chars(data.get("dubbed_audio")),
                None,
            )
            self._add(t_ms, OUT, event, fields)
        elif event == p.FRAGMENT_ACK:
            counts["fragments_accepted"] += 1
            fields = (p.readable_id(data.get("fragment_id")), None, _text(data.get("status")))
            fields += (None, None, None)
            self._add(t_ms, OUT, event, fields)
        elif event == p.ERROR:
            counts["errors_sent"] += 1
            metadata = data.get("metadata")
            refused = metadata.get("event") if isinstance(metadata, dict) else None
            if refused == p.FRAGMENT_DATA:
                counts["fragments_rejected"] += 1
            fragment_id = p.readable_id(data.get("fragment_id"))
            fields = (fragment_id, None, None, _text(data.get("code")), None, _text(refused))
            self._add(t_ms, OUT, event, fields)
        elif event == p.BACKPRESSURE:
            counts["backpressure_sent"] += 1
            self._add(t_ms, OUT, event, (None, None, None, None, None, _text(data.get("action"))))
        else:
            self._add(t_ms, OUT, event)

    def end(self, t_ms: float, state: str, statistics: dict[str, Any]) -> None:
        """The session is over: its state and statistics are kept, the session let go."""
        self.ended_at = t_ms
        self._state = state
        self.statistics = statistics
        self.session = None

    def entries(self, after: int = -1) -> Iterator[Entry]:
        """The kept entries with a ``seq`` above ``after``, oldest first."""
        start = max(0, after + 1 - self.dropped_entries)
        return islice(self._entries, start, None)

    def page(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``limit`` entries after ``after`` as JSON objects, and the ``after`` of the
        next page (None when there is none)."""
        events = []
        for entry in self.entries(after):
            if len(events) == limit:
                return events, events[-1]["seq"]
            events.append(as_json(entry))
        return events, None

    def current_statistics(self) -> dict[str, Any]:
        """As in stream:complete: so far while live, as they ended after."""
        if self.statistics is not None:
            return self.statistics
        summary: dict[str, Any] = self.session.stats.summary()
        return summary

    def summary(self) -> dict[str, Any]:
        counts = dict(self.counts)
        counts["dropped"] = self.current_statistics()["dropped_count"]
        return {
            "session_id": self.session_id,
            "stream_id": self.stream_id,
            "worker_id": self.worker_id,
            "state": self.state,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "counts": counts,
        }

    def detail(self) -> dict[str, Any]:
        statistics = self.current_statistics()
        return {**self.summary(), "statistics": statistics, "journal_dropped": self.dropped_entries}


def as_json(entry: Entry) -> dict[str, Any]:
    body: dict[str, Any] = {"seq": entry[0], "t_ms": entry[1], "dir": entry[2], "event": entry[3]}
    for name, value in zip(FIELDS, entry[4:9], strict=True):
        if value is not None:
            body[name] = value
    if entry[3] == p.BACKPRESSURE and entry[9] is not None:
        body["action"] = entry[9]
    return body


class JournalBook:
    """Every live session's journal, and the last ``max_sessions`` ended ones."""

    def __init__(self, max_events: int, max_sessions: int) -> None:
        self.max_events = max_events
        self.max_sessions = max_sessions
        self._live: dict[str, SessionJournal] = {}
        self._ended: OrderedDict[str, SessionJournal] = OrderedDict()

    def start(
        self, session_id: str, *, stream_id: str, worker_id: str, t_ms: float, session: Any
    ) -> SessionJournal:
        journal = SessionJournal(
            session_id,
            stream_id=stream_id,
            worker_id=worker_id,
            started_at=t_ms,
            session=session,
            max_events=self.max_events,
        )
        self._live[session_id] = journal
        return journal

    def end(self, journal: SessionJournal, t_ms: float, *, closed: bool) -> None:
        """Ends ``journal``: its connection closed, or it started another session."""
        if journal.ended:
            return
        session = journal.session
        state = CLOSED if closed else session.state.value
        journal.end(t_ms, state, session.stats.summary())
        self._live.pop(journal.session_id, None)
        self._ended[journal.session_id] = journal
        while len(self._ended) > self.max_sessions:
            self._ended.popitem(last=False)

    def get(self, session_id: str) -> SessionJournal | None:
        return self._live.get(session_id) or self._ended.get(session_id)

    def sessions(
        self,
        stream_id: str | None = None,
        worker_id: str | None = None,
        state: str | None = None,
    ) -> list[SessionJournal]:
        """The journals that match every filter given, newest started first."""
        found = [
            journal
            for journal in (*self._live.values(), *self._ended.values())
            if (stream_id is None or journal.stream_id == stream_id)
            and (worker_id is None or journal.worker_id == worker_id)
            and (state is None or journal.state == state)
        ]
        found.sort(key=lambda journal: journal.started_at, reverse=True)
        return found

    def reset(self) -> int:
        """Forgets every ended session's journal; returns how many."""
        forgotten = len(self._ended)
        self._ended.clear()
        return forgotten
