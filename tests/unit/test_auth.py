from __future__ import annotations

import pytest

from echosts.auth import bearer_token, token_matches


@pytest.mark.parametrize(
    ("token", "expected"),
    [("k1", True), ("k2", True), ("k3", False), ("", False), (None, False), ("k1 ", False)],
)
def test_token_matches_any_configured_key(token: str | None, expected: bool) -> None:
    assert token_matches(token, ("k1", "k2")) is expected


def test_no_keys_match_nothing() -> None:
    assert not token_matches("anything", ())


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_authorization_header(header, token) -> None:
    assert bearer_token(header) == token
