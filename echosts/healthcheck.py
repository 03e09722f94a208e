"""``python -m echosts.healthcheck``: exit 0 when the local echosts answers /health with 200.

Container images based on slim Python have no curl; this needs nothing but the standard
library, so the same command serves Docker's HEALTHCHECK and a compose healthcheck. It reads
the port from ECHO_PORT like the service does; the first argument overrides the URL.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def main(argv: list[str]) -> int:
    url = argv[0] if argv else f"http://127.0.0.1:{os.environ.get('ECHO_PORT', '8000')}/health"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as problem:
        status = problem.code
    except (urllib.error.URLError, OSError) as problem:
        print(f"unhealthy: {url}: {problem}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
