"""The lifecycle tables of ``echosts.state`` and the admission check built on them."""

from __future__ import annotations

import pytest

from echosts import protocol as p
from echosts.errors import ErrorCode
from echosts.state import (
    ADMISSION,
    PHASES,
    TRANSITIONS,
    IllegalMoveError,
    State,
    Trigger,
    admit,
    after,
    refusal,
)

CONFIG_EVENTS = (p.CONFIG_PROCESSING_DELAY, p.CONFIG_ERROR_SIMULATION, p.CONFIG_BACKPRESSURE)

# transitions


def test_transitions_reach_every_state() -> None:
    assert set(TRANSITIONS.values()) == set(State)


def test_every_state_is_reachable_from_active() -> None:
    reached = {State.ACTIVE}
    frontier = [State.ACTIVE]
    while frontier:
        state = frontier.pop()
        for (source, _trigger), target in TRANSITIONS.items():
            if source is state and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(State)


@pytest.mark.parametrize(
    ("state", "trigger", "expected"),
    [
        (State.ACTIVE, Trigger.PAUSE, State.PAUSED),
        (State.PAUSED, Trigger.RESUME, State.ACTIVE),
        (State.PAUSED, Trigger.END, State.ENDING),
        (State.ENDING, Trigger.DRAINED, State.COMPLETED),
    ],
)
def test_after_follows_the_table(state: State, trigger: Trigger, expected: State) -> None:
    assert after(state, trigger) is expected


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        (State.COMPLETED, Trigger.RESUME),
        (State.ACTIVE, Trigger.DRAINED),
        (State.ENDING, Trigger.PAUSE),
        (State.COMPLETED, Trigger.END),
    ],
)
def test_a_move_the_table_lacks_raises_illegal_move(state: State, trigger: Trigger) -> None:
    with pytest.raises(IllegalMoveError) as raised:
        after(state, trigger)
    assert (raised.value.state, raised.value.trigger) == (state, trigger)


def test_illegal_move_message_names_the_state_and_the_trigger() -> None:
    with pytest.raises(IllegalMoveError, match=r"'resume'.*'completed'"):
        after(State.COMPLETED, Trigger.RESUME)


def test_illegal_move_is_not_a_key_error() -> None:
    with pytest.raises(IllegalMoveError) as raised:
        after(State.ACTIVE, Trigger.DRAINED)
    assert not isinstance(raised.value, KeyError)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


# the admission table


def test_admission_has_a_row_for_every_worker_event() -> None:
    assert set(ADMISSION) == set(p.WORKER_EVENTS)


@pytest.mark.parametrize("event", p.WORKER_EVENTS)
def test_every_admission_row_has_one_cell_per_phase(event: str) -> None:
    assert len(ADMISSION[event]) == len(PHASES)


def test_phases_are_no_stream_then_every_state() -> None:
    assert PHASES[0] is None
    assert set(PHASES[1:]) == set(State)
    assert len(PHASES) == len(set(PHASES))


def test_fragment_data_while_paused_is_refused_stream_paused() -> None:
    refused = refusal(p.FRAGMENT_DATA, State.PAUSED)
    assert refused is not None
    assert refused.code is ErrorCode.STREAM_PAUSED


def test_fragment_data_while_active_is_admitted() -> None:
    assert refusal(p.FRAGMENT_DATA, State.ACTIVE) is None


@pytest.mark.parametrize("event", CONFIG_EVENTS)
def test_config_events_are_admitted_while_ending(event: str) -> None:
    assert refusal(event, State.ENDING) is None


@pytest.mark.parametrize("event", CONFIG_EVENTS)
def test_config_events_are_refused_once_completed(event: str) -> None:
    refused = refusal(event, State.COMPLETED)
    assert refused is not None
    assert refused.code is ErrorCode.STREAM_NOT_FOUND


@pytest.mark.parametrize("phase", [None, State.COMPLETED])
def test_stream_init_is_admitted_with_no_stream_or_after_completion(phase: State | None) -> None:
    assert refusal(p.STREAM_INIT, phase) is None


@pytest.mark.parametrize("phase", [State.ACTIVE, State.PAUSED, State.ENDING])
def test_stream_init_is_refused_invalid_config_while_a_stream_runs(phase: State) -> None:
    refused = refusal(p.STREAM_INIT, phase)
    assert refused is not None
    assert refused.code is ErrorCode.INVALID_CONFIG


@pytest.mark.parametrize("event", [p.FRAGMENT_ACK, p.SIMULATE_DISCONNECT])
@pytest.mark.parametrize("phase", PHASES)
def test_ack_and_simulated_disconnect_are_admitted_in_every_phase(
    event: str, phase: State | None
) -> None:
    assert refusal(event, phase) is None


# admit()


def test_a_claimed_stream_other_than_the_connections_is_not_found() -> None:
    rejection = admit(p.STREAM_RESUME, State.PAUSED, "s-1", "s-2")
    assert rejection is not None
    assert rejection.code is ErrorCode.STREAM_NOT_FOUND


def test_a_wrong_stream_is_reported_before_the_table_is_asked() -> None:
    # The table alone would answer STREAM_PAUSED for fragment:data while paused.
    rejection = admit(p.FRAGMENT_DATA, State.PAUSED, "s-1", "s-2", "f-1")
    assert rejection is not None
    assert rejection.code is ErrorCode.STREAM_NOT_FOUND


def test_a_wrong_stream_rejection_carries_the_connections_stream_and_the_event() -> None:
    rejection = admit(p.FRAGMENT_DATA, State.ACTIVE, "s-1", "s-2", "f-1")
    assert rejection is not None
    assert rejection.stream_id == "s-1"
    assert rejection.fragment_id == "f-1"
    assert rejection.metadata == {"event": p.FRAGMENT_DATA}


def test_the_right_stream_is_passed_on_to_the_table() -> None:
    rejection = admit(p.FRAGMENT_DATA, State.PAUSED, "s-1", "s-1")
    assert rejection is not None
    assert rejection.code is ErrorCode.STREAM_PAUSED


def test_an_admitted_event_naming_the_right_stream_gives_no_rejection() -> None:
    assert admit(p.FRAGMENT_DATA, State.ACTIVE, "s-1", "s-1") is None


def test_an_event_naming_no_stream_is_not_checked_against_the_connections() -> None:
    assert admit(p.CONFIG_BACKPRESSURE, State.ACTIVE, "s-1") is None


def test_a_table_refusal_carries_the_event_in_its_metadata() -> None:
    rejection = admit(p.STREAM_PAUSE, State.ENDING, "s-1", "s-1")
    assert rejection is not None
    assert rejection.code is ErrorCode.STREAM_NOT_FOUND
    assert rejection.stream_id == "s-1"
    assert rejection.metadata == {"event": p.STREAM_PAUSE}


def test_without_a_session_the_rejection_carries_a_readable_claimed_id() -> None:
    rejection = admit(p.FRAGMENT_DATA, None, None, "s-9")
    assert rejection is not None
    assert rejection.code is ErrorCode.STREAM_NOT_FOUND
    assert rejection.stream_id == "s-9"


@pytest.mark.parametrize("claimed", [42, "", "x" * 257, None, ["s-1"]])
def test_without_a_session_an_unreadable_claimed_id_is_left_out(claimed: object) -> None:
    rejection = admit(p.FRAGMENT_DATA, None, None, claimed)
    assert rejection is not None
    assert rejection.stream_id is None


def test_without_a_session_a_claimed_id_of_256_chars_is_readable() -> None:
    claimed = "x" * 256
    rejection = admit(p.STREAM_END, None, None, claimed)
    assert rejection is not None
    assert rejection.stream_id == claimed


@pytest.mark.parametrize(
    ("event", "phase", "stream_id", "claimed"),
    [
        (p.FRAGMENT_DATA, State.ACTIVE, "s-1", "s-2"),
        (p.FRAGMENT_DATA, State.PAUSED, "s-1", "s-1"),
        (p.STREAM_INIT, State.ACTIVE, "s-1", "s-1"),
        (p.STREAM_END, None, None, 42),
        (p.CONFIG_BACKPRESSURE, State.COMPLETED, "s-1", "s-1"),
    ],
)
def test_a_rejection_message_starts_with_the_event(
    event: str, phase: State | None, stream_id: str | None, claimed: object
) -> None:
    rejection = admit(event, phase, stream_id, claimed)
    assert rejection is not None
    assert rejection.message.startswith(f"{event}: ")
