"""Logging: one line per decision, stream_id and fragment_id as fields, never audio."""

from __future__ import annotations

import logging
import sys

from echosts.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Tornado logs each request itself; ours (echosts.access) replaces it.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
