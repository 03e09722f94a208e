"""Payloads the tests share with each other and with the protocol description."""

from __future__ import annotations

MEDIA_WORKER_INIT = {
    "stream_id": "s",
    "worker_id": "worker-s",
    "config": {
        "source_language": "en",
        "target_language": "zh",
        "voice_profile": "default",
        "format": "m4a",
        "sample_rate_hz": 48000,
        "channels": 2,
        "chunk_duration_ms": 6000,
    },
}
"""Exactly what the media worker sends on stream:init (no max_inflight, no timeout_ms)."""
