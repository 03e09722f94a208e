"""A small JSON client for the control API."""

from __future__ import annotations

import json
from typing import Any

from tornado.httpclient import AsyncHTTPClient


async def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    payload: bytes | None = raw
    if payload is None and body is not None:
        payload = json.dumps(body).encode()
    if payload is None and method in ("POST", "PUT"):
        payload = b""
    response = await AsyncHTTPClient().fetch(
        f"{url}{path}",
        method=method,
        body=payload,
        headers=headers,
        raise_error=False,
        allow_nonstandard_methods=True,
    )
    return response.code, json.loads(response.body or b"{}"), dict(response.headers)
