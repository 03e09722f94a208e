"""API keys: one constant-time check shared by the Socket.IO handshake and the control API."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


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
