from __future__ import annotations

import pytest

from echosts.auth import KeyFileError, KeyRing, bearer_token, read_key_file, token_matches


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


def write_keys(tmp_path, text: str) -> str:
    path = tmp_path / "api-keys"
    path.write_text(text)
    return str(path)


def test_a_key_file_has_one_key_a_line_and_skips_comments_and_blanks(tmp_path) -> None:
    path = write_keys(tmp_path, "# team A\nkey-a\n\n  key-b  \n   # old: key-c\n")
    assert read_key_file(path) == ("key-a", "key-b")


def test_a_key_ring_adds_the_files_keys_to_the_settings_keys(tmp_path) -> None:
    ring = KeyRing(("env-key",), write_keys(tmp_path, "file-key\n"))
    assert ring.matches("env-key")
    assert ring.matches("file-key")
    assert not ring.matches("other")


def test_reload_reads_the_file_again(tmp_path) -> None:
    path = write_keys(tmp_path, "old-key\n")
    ring = KeyRing((), path)
    write_keys(tmp_path, "new-key\n")
    assert ring.reload() == 1
    assert ring.matches("new-key")
    assert not ring.matches("old-key")


def test_a_reload_that_fails_keeps_the_keys_in_force(tmp_path) -> None:
    path = write_keys(tmp_path, "kept-key\n")
    ring = KeyRing((), path)
    (tmp_path / "api-keys").unlink()
    with pytest.raises(KeyFileError):
        ring.reload()
    assert ring.matches("kept-key")


def test_an_empty_key_file_keeps_authentication_on_and_admits_nobody(tmp_path) -> None:
    ring = KeyRing((), write_keys(tmp_path, "# nobody yet\n"))
    assert ring.enabled
    assert not ring.matches("")
    assert not ring.matches(None)


def test_no_keys_and_no_file_turn_authentication_off() -> None:
    assert not KeyRing().enabled


def test_a_key_file_error_names_the_file_and_never_its_content(tmp_path) -> None:
    path = tmp_path / "api-keys"
    path.write_bytes(b"secret-key-1\n\xff\xfe")
    with pytest.raises(KeyFileError) as raised:
        KeyRing((), str(path))
    assert str(path) in str(raised.value)
    assert "secret" not in str(raised.value)
    missing = tmp_path / "missing"
    with pytest.raises(KeyFileError, match="No such file"):
        KeyRing((), str(missing))


def test_a_key_ring_shows_no_key_in_its_repr(tmp_path) -> None:
    ring = KeyRing(("env-secret",), write_keys(tmp_path, "file-secret\n"))
    assert "secret" not in repr(ring)
