"""A stream's lifecycle: its states, the moves between them, and what each state admits.

Two tables are the specification, read top to bottom: ``TRANSITIONS`` (every legal move of a
session) and ``ADMISSION`` (which worker event each phase of a connection accepts, and the
error that refuses it otherwise). A move the table lacks is our bug and raises
``IllegalMoveError``; an event the table refuses is the worker's fault, answered with the
refusal's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from echosts import protocol as p
from echosts.errors import ErrorCode, Rejection


class State(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDING = "ending"
    COMPLETED = "completed"


class Trigger(Enum):
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    DRAINED = "drained"


TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.ACTIVE, Trigger.PAUSE): State.PAUSED,
    (State.PAUSED, Trigger.PAUSE): State.PAUSED,
    (State.PAUSED, Trigger.RESUME): State.ACTIVE,
    (State.ACTIVE, Trigger.RESUME): State.ACTIVE,
    (State.ACTIVE, Trigger.END): State.ENDING,
    (State.PAUSED, Trigger.END): State.ENDING,
    (State.ENDING, Trigger.DRAINED): State.COMPLETED,
}
"""Every legal move of a session; anything else is our bug."""


class IllegalMoveError(Exception):
    """The core tried a move ``TRANSITIONS`` does not have: a bug in echosts, not the peer's."""

    def __init__(self, state: State, trigger: Trigger) -> None:
        super().__init__(f"no move {trigger.value!r} from state {state.value!r}")
        self.state = state
        self.trigger = trigger


def after(state: State, trigger: Trigger) -> State:
    """The state ``trigger`` leads to from ``state``."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalMoveError(state, trigger) from None


Phase = State | None
"""Where a connection is: None until a stream:init is accepted, then its session's state."""

PHASES: tuple[Phase, ...] = (None, State.ACTIVE, State.PAUSED, State.ENDING, State.COMPLETED)
"""The columns of ``ADMISSION``, in this order."""


@dataclass(frozen=True)
class Refusal:
    """Why a phase refuses an event; ``reason`` may name ``{stream}`` and ``{state}``."""

    code: ErrorCode
    reason: str

    def message(self, event: str, stream: str, phase: Phase) -> str:
        state = phase.value if phase is not None else "absent"
        return f"{event}: " + self.reason.format(stream=stream, state=state)


OK = None
NOT_STARTED = Refusal(
    ErrorCode.STREAM_NOT_FOUND, "no stream on this connection: send stream:init first"
)
NOT_DONE = Refusal(
    ErrorCode.INVALID_CONFIG,
    "stream {stream} on this connection has not completed; "
    "send stream:end and wait for stream:complete first",
)
PAUSED = Refusal(ErrorCode.STREAM_PAUSED, "stream {stream} is paused: send stream:resume first")
NO_MORE = Refusal(
    ErrorCode.STREAM_NOT_FOUND,
    "stream {stream} is ending: no fragment is accepted after stream:end",
)
ENDED = Refusal(ErrorCode.STREAM_NOT_FOUND, "stream {stream} is {state}")
COMPLETED = Refusal(ErrorCode.STREAM_NOT_FOUND, "the stream completed: send stream:init first")

_ALWAYS = (OK, OK, OK, OK, OK)
_CONTROL = (NOT_STARTED, OK, OK, ENDED, ENDED)
_CONFIG = (NOT_STARTED, OK, OK, OK, COMPLETED)

ADMISSION: dict[str, tuple[Refusal | None, ...]] = {
    #                          no stream    ACTIVE    PAUSED    ENDING    COMPLETED
    p.STREAM_INIT:            (OK,          NOT_DONE, NOT_DONE, NOT_DONE, OK),
    p.FRAGMENT_DATA:          (NOT_STARTED, OK,       PAUSED,   NO_MORE,  NO_MORE),
    p.FRAGMENT_ACK:           _ALWAYS,
    p.STREAM_PAUSE:           _CONTROL,
    p.STREAM_RESUME:          _CONTROL,
    p.STREAM_END:             _CONTROL,
    p.CONFIG_PROCESSING_DELAY: _CONFIG,
    p.CONFIG_ERROR_SIMULATION: _CONFIG,
    p.CONFIG_BACKPRESSURE:    _CONFIG,
    p.SIMULATE_DISCONNECT:    _ALWAYS,
}  # fmt: skip
"""For each worker event, what each phase does with it: OK admits, a Refusal answers."""


def refusal(event: str, phase: Phase) -> Refusal | None:
    """What refuses ``event`` in ``phase``, or None when the phase admits it."""
    return ADMISSION[event][PHASES.index(phase)]


UNNAMED: Final = object()
"""Stands for "the event names no stream", as opposed to naming a wrong one."""


def admit(
    event: str,
    phase: Phase,
    stream_id: str | None,
    claimed: Any = UNNAMED,
    fragment_id: str | None = None,
) -> Rejection | None:
    """None when ``event`` may go on, else the rejection that answers it.

    ``stream_id`` is the connection's stream (None without a session); an event that names a
    stream (``claimed``) must name that one before the table is asked.
    """
    if stream_id is not None and claimed is not UNNAMED and claimed != stream_id:
        message = (
            f"{event}: stream_id {p.show(claimed)} is not this connection's stream "
            f"{p.show(stream_id)}"
        )
        return Rejection(
            ErrorCode.STREAM_NOT_FOUND, message, stream_id, fragment_id, {"event": event}
        )
    refused = refusal(event, phase)
    if refused is None:
        return None
    if stream_id is None and claimed is not UNNAMED:
        stream_id = p.readable_id(claimed)
    message = refused.message(event, p.show(stream_id), phase)
    return Rejection(refused.code, message, stream_id, fragment_id, {"event": event})
