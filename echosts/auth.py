"""API keys: one constant-time check shared by the Socket.IO handshake and the control API.

Keys come from ``ECHO_API_KEYS`` and from a file (``ECHO_API_KEYS_FILE``, one key a line,
``#`` comments), which SIGHUP reads again: a shared instance rotates keys without dropping a
session. No key is ever put in a log line, an error message or a metric; a file that cannot
be read is named, its content never.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from pathlib import Path


def token_matches(token: str | None, keys: Iterable[str]) -> bool:
    """Whether ``token`` is one of ``keys``, comparing against every key whichever matches."""
    candidate = (token or "").encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key.encode())
    return matched and token is not None


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class KeyFileError(Exception):
    """The key file cannot be read; the message names the file and why, never a key."""


def read_key_file(path: str) -> tuple[str, ...]:
    """The keys of ``path``: one a line, blank lines and ``#`` comment lines skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not UTF-8 text") from None
    except OSError as problem:
        raise KeyFileError(f"{path}: {problem.strerror or type(problem).__name__}") from None
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


class KeyRing:
    """The API keys in force: the settings' own, and a file's as last read.

    With a key file configured, authentication is on even while the file holds no key: an
    emptied file must shut everyone out, not let everyone in.
    """

    def __init__(self, keys: Iterable[str] = (), path: str | None = None) -> None:
        self._fixed = tuple(keys)
        self.path = path
        self.keys = self._fixed + (read_key_file(path) if path is not None else ())

    def __repr__(self) -> str:
        return f"KeyRing({len(self.keys)} keys, path={self.path!r})"

    @property
    def enabled(self) -> bool:
        return bool(self._fixed) or self.path is not None

    def matches(self, token: str | None) -> bool:
        return token_matches(token, self.keys)

    def reload(self) -> int:
        """Reads the file again and returns how many keys are in force.

        Raises KeyFileError when it cannot, leaving the keys in force as they were.
        """
        if self.path is not None:
            self.keys = self._fixed + read_key_file(self.path)
        return len(self.keys)
