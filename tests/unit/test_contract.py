"""The AsyncAPI document: built from the models, committed, and true to what the core sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from echosts import protocol as p
from echosts.cli import main
from echosts.contract import RECEIVED, SENT, asyncapi_yaml, document
from echosts.outputs import Emit
from tests.unit.driver import Driver

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == asyncapi_yaml(), (
        "docs/asyncapi.yaml is stale: run `echosts asyncapi > docs/asyncapi.yaml`"
    )


def test_the_document_is_yaml_that_reads_back_as_itself() -> None:
    assert yaml.safe_load(asyncapi_yaml()) == json.loads(json.dumps(document()))


def test_the_document_is_asyncapi_3_with_a_message_and_operation_per_event() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    names = {message["name"] for message in doc["components"]["messages"].values()}
    assert names == set(p.WORKER_EVENTS) | set(SENT)
    actions = {operation["action"] for operation in doc["operations"].values()}
    assert actions == {"send", "receive"}
    for message in doc["components"]["messages"].values():
        reference = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert reference in doc["components"]["schemas"]


def test_every_worker_event_and_every_server_event_has_a_model() -> None:
    assert set(RECEIVED) == set(p.WORKER_EVENTS)
    assert set(p.SERVER_EVENTS) <= set(SENT)


def test_the_command_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asyncapi"]) == 0
    assert capsys.readouterr().out == asyncapi_yaml()


def sent_by_a_busy_session() -> list[Emit]:
    """Every kind of server event, from one session with faults of every kind."""
    driver = Driver(queue_limit=3, backpressure_enabled=True)
    driver.init("s", max_inflight=2)
    driver.delay(50, mode="serial")
    driver.send(
        "config:error_simulation",
        {
            "rules": [
                {"trigger": "sequence_number", "value": 1, "error_code": "ASR_FAILED"},
                {"trigger": "sequence_number", "value": 2, "error_code": "X", "status": "partial"},
            ]
        },
    )
    driver.send(
        "config:backpressure",
        {
            "enabled": True,
            "threshold": 1,
            "severity": "medium",
            "action": "pause",
            "recommended_delay_ms": 100,
        },
    )
    driver.send("config:processing_delay", {"delay_ms": -1})
    driver.send("simulate:disconnect", {"delay_ms": 60_000})
    for number in range(5):
        driver.fragment(number)
    driver.send("fragment:data", {"not": "a fragment"})
    driver.advance(10)
    driver.send("stream:end", {"stream_id": "s"})
    driver.advance(10)
    return [output for output in driver.log if isinstance(output, Emit)]


def test_every_event_the_core_sends_fits_its_model() -> None:
    sent = sent_by_a_busy_session()
    events = {emit.event for emit in sent}
    assert events >= set(p.SERVER_EVENTS)
    assert {"config:error_simulation:ack", "simulate:disconnect:ack"} <= events
    for emit in sent:
        SENT[emit.event].model_validate(emit.data, strict=True)
        assert None not in emit.data.values(), emit


def test_the_document_allows_no_null_anywhere() -> None:
    assert '"null"' not in asyncapi_yaml()
