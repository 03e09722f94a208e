"""``python -m echosts``: the same as the ``echosts`` command."""

from __future__ import annotations

from echosts.cli import main

raise SystemExit(main())
