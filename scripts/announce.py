"""Print where `make run` serves, once it answers: the last thing a person sees before the server's logs.

Started beside the development server (deploy/Procfile.dev); polls ``<address>healthz`` until it
answers (or gives up after a minute, saying so) and prints the address in a box, then exits.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

WAIT_SECONDS = 60.0


def reachable(address: str) -> str:
    """The address to open in a browser: a server bound to every interface is opened on this machine."""
    parts = urlsplit(address)
    if parts.hostname in ("0.0.0.0", "::", ""):
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))
    return address


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200 (not ready yet, say): it is serving
    except OSError:
        return False


def banner(address: str) -> str:
    lines = [
        f"Paylane is serving {address}",
        f"Open it in a browser to sign up or sign in; the dashboard is {address}dashboard/",
    ]
    width = max(len(line) for line in lines) + 4
    return "\n".join(["=" * width, *(f"  {line}" for line in lines), "=" * width])


def announce(address: str, *, wait: float = WAIT_SECONDS, poll: float = 0.2) -> bool:
    """Wait for ``address`` to answer and print the banner; False (and a note) when it never did."""
    address = reachable(address if address.endswith("/") else address + "/")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if answers(address + "healthz"):
            print(banner(address), flush=True)
            return True
        time.sleep(poll)
    print(f"Paylane did not answer at {address} within {wait:.0f} s: see the web process's log above.", flush=True)
    return False


if __name__ == "__main__":
    sys.exit(0 if announce(sys.argv[1]) else 1)
