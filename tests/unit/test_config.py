"""Settings: environment, then flags; a bad value names the variable or flag it came from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from echosts.config import MIN_BUFFER_SIZE, SETTINGS, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_protocol_table() -> None:
    settings = load_settings({}, [])
    assert settings == Settings()
    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert (settings.queue_limit, settings.max_connections) == (20, 500)
    assert settings.max_buffer_size == 52_428_800
    assert (settings.ping_interval, settings.ping_timeout) == (25, 10)
    assert (settings.auto_disconnect_s, settings.drain_timeout_s) == (5.0, 10.0)
    assert not settings.auth_enabled
    assert not settings.compression


def test_environment_sets_values() -> None:
    settings = load_settings(
        {
            "ECHO_PORT": "9000",
            "ECHO_API_KEYS": "a, b,,",
            "ECHO_BACKPRESSURE_ENABLED": "yes",
            "ECHO_AUTO_DISCONNECT_S": "0.5",
            "ECHO_LOG_LEVEL": "debug",
            "WS_MAX_CONNECTIONS": "3",
        },
        [],
    )
    assert settings.port == 9000
    assert settings.api_keys == ("a", "b")
    assert settings.backpressure_enabled
    assert settings.auto_disconnect_s == 0.5
    assert settings.log_level == "DEBUG"
    assert settings.max_connections == 3


def test_flags_override_the_environment() -> None:
    settings = load_settings(
        {"ECHO_PORT": "9000", "ECHO_HOST": "0.0.0.0"},
        [
            "--port",
            "9100",
            "--host",
            "127.0.0.1",
            "--processing-delay-ms",
            "50",
            "--compression",
            "on",
        ],
    )
    assert (settings.port, settings.host, settings.processing_delay_ms) == (9100, "127.0.0.1", 50)
    assert settings.compression


@pytest.mark.parametrize(
    ("environ", "argv", "named"),
    [
        ({"ECHO_PORT": "abc"}, [], "ECHO_PORT"),
        ({}, ["--port", "abc"], "--port"),
        ({}, ["--port", "65536"], "--port"),
        ({"ECHO_PROCESSING_DELAY_MS": "-1"}, [], "ECHO_PROCESSING_DELAY_MS"),
        ({}, ["--processing-jitter-ms", "60001"], "--processing-jitter-ms"),
        ({"ECHO_AUTO_DISCONNECT_S": "soon"}, [], "ECHO_AUTO_DISCONNECT_S"),
        ({"ECHO_QUEUE_LIMIT": "0"}, [], "ECHO_QUEUE_LIMIT"),
        ({"ECHO_BACKPRESSURE_ENABLED": "maybe"}, [], "ECHO_BACKPRESSURE_ENABLED"),
        ({"ECHO_DRAIN_TIMEOUT_S": "601"}, [], "ECHO_DRAIN_TIMEOUT_S"),
        ({"ECHO_LOG_LEVEL": "LOUD"}, [], "ECHO_LOG_LEVEL"),
        ({"WS_MAX_BUFFER_SIZE": str(MIN_BUFFER_SIZE - 1)}, [], "WS_MAX_BUFFER_SIZE"),
        ({"WS_PING_INTERVAL": "0"}, [], "WS_PING_INTERVAL"),
        ({"ECHO_HOST": " "}, [], "ECHO_HOST"),
    ],
)
def test_bad_value_names_its_setting(environ: dict, argv: list, named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ, argv)
    assert raised.value.name == named
    assert str(raised.value).startswith(f"{named}: ")


def test_api_keys_are_not_in_the_settings_repr() -> None:
    assert "secret" not in repr(load_settings({"ECHO_API_KEYS": "secret"}, []))


def test_every_setting_has_a_field_and_a_flag() -> None:
    fields = set(Settings.__dataclass_fields__)
    assert {spec.field for spec in SETTINGS} == fields
    assert len({spec.flag for spec in SETTINGS}) == len(SETTINGS)


def test_env_file_lists_every_setting_with_its_default_and_a_comment() -> None:
    text = (ROOT / "conf" / "echosts.env").read_text()
    defaults = Settings()
    for spec in SETTINGS:
        match = re.search(rf"^(# )?{spec.env}=(.*)$", text, re.MULTILINE)
        assert match, spec.env
        preceding = text[: match.start()].rstrip().splitlines()[-1]
        assert preceding.startswith("# "), spec.env
        if spec.field not in ("api_keys", "api_keys_file"):
            assert spec.parse(match.group(2)) == getattr(defaults, spec.field), spec.env


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for spec in SETTINGS:
        assert f"`{spec.env}`" in readme, spec.env
        assert f"`{spec.flag}`" in readme, spec.flag
