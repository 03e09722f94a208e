"""``verify``: did the worker behave as a polite client of the protocol? (section 12)

Each check reads the session's journal and says, when it fails, which fragment or event broke
it. A journal that dropped its oldest entries is checked on what it kept, and says so.
"""

from __future__ import annotations

from typing import Any

from echosts import protocol as p
from echosts.journal import IN, OUT, VALID_ACK, SessionJournal

DEFAULT_GRACE_MS = 250
MAX_NAMED = 20
"""How many fragment_ids a failing check names at most."""


def _named(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def acked_every_processed(journal: SessionJournal) -> tuple[bool, str]:
    """Only well-formed acks count: one the server refused acknowledged nothing."""
    processed: list[str] = []
    acked: set[str] = set()
    for entry in journal.entries():
        direction, event, fragment_id = entry[2], entry[3], entry[4]
        if direction == OUT and event == p.FRAGMENT_PROCESSED and fragment_id is not None:
            processed.append(fragment_id)
        elif direction == IN and event == p.FRAGMENT_ACK and entry[9] == VALID_ACK:
            acked.add(fragment_id)
    missing = [fragment_id for fragment_id in processed if fragment_id not in acked]
    if missing:
        return False, f"no fragment:ack from the worker for {_named(missing)}"
    return True, f"the worker acknowledged all {len(processed)} fragment:processed"


def respected_backpressure(journal: SessionJournal, grace_ms: float) -> tuple[bool, str]:
    paused_at: float | None = None
    pauses = 0
    late: list[str] = []
    for entry in journal.entries():
        direction, event, t_ms = entry[2], entry[3], entry[1]
        if direction == OUT and event == p.BACKPRESSURE:
            if entry[9] == "pause":
                pauses += 1
                paused_at = t_ms if paused_at is None else paused_at
            else:
                paused_at = None
        elif (
            direction == IN
            and event == p.FRAGMENT_DATA
            and paused_at is not None
            and t_ms > paused_at + grace_ms
        ):
            late.append(f"{entry[4]} ({round(t_ms - paused_at)} ms into a pause)")
    if late:
        return False, f"fragment:data sent during a backpressure pause: {_named(late)}"
    return True, f"{pauses} pause(s) sent, none ignored (grace {grace_ms:g} ms)"


def no_rejected_fragments(journal: SessionJournal) -> tuple[bool, str]:
    rejected = [
        f"{entry[4] or 'a fragment without a readable id'} ({entry[7]})"
        for entry in journal.entries()
        if entry[2] == OUT and entry[3] == p.ERROR and entry[9] == p.FRAGMENT_DATA
    ]
    if rejected:
        return False, f"fragment:data refused: {_named(rejected)}"
    return True, "every fragment:data was accepted"


def ended_cleanly(journal: SessionJournal) -> tuple[bool, str]:
    if not journal.ended:
        return False, "still open"
    ended = any(entry[2] == IN and entry[3] == p.STREAM_END for entry in journal.entries())
    completed = any(
        entry[2] == OUT and entry[3] == p.STREAM_COMPLETE for entry in journal.entries()
    )
    if not ended:
        return False, "the worker never sent stream:end"
    if not completed:
        return False, "the connection closed before stream:complete"
    return True, "stream:end, then stream:complete before the connection closed"


def verify(journal: SessionJournal, grace_ms: float = DEFAULT_GRACE_MS) -> dict[str, Any]:
    results = {
        "acked_every_processed": acked_every_processed(journal),
        "respected_backpressure": respected_backpressure(journal, grace_ms),
        "no_rejected_fragments": no_rejected_fragments(journal),
        "ended_cleanly": ended_cleanly(journal),
    }
    checks = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()}
    if journal.dropped_entries:
        kept = journal.next_seq - journal.dropped_entries
        for name, check in checks.items():
            if name != "ended_cleanly":
                check["detail"] += f" (on the last {kept} events)"
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
