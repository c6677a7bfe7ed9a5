"""Health check of the web container: GET /healthz from gunicorn inside the container.

python:3.11-slim has no curl, hence the standard library. Django answers 400 to a Host header outside
ALLOWED_HOSTS, so the request names the first allowed host rather than "localhost". Exit status 0 when
/healthz answers 200 (the database answers), 1 otherwise, which is Docker's contract for health checks.
"""

import os
import sys
import urllib.error
import urllib.request

URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 5


def host_header(allowed_hosts: str) -> str:
    """The Host to send: the first entry of ALLOWED_HOSTS, made concrete ("*" and ".example.org" patterns)."""
    for entry in allowed_hosts.split(","):
        host = entry.strip()
        if not host:
            continue
        if host == "*":
            return "localhost"
        return host.lstrip(".")
    return "localhost"


def main() -> int:
    request = urllib.request.Request(URL, headers={"Host": host_header(os.environ.get("ALLOWED_HOSTS", ""))})
    try:
        # A fixed http:// URL on the loopback interface: S310's concern (file:// and the like) does not apply.
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = response.status
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {URL}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {URL} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
