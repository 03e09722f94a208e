"""echosts: a protocol-faithful echo STS service for media workers' end-to-end tests."""

from __future__ import annotations

__version__ = "0.1.0"
