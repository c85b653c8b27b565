"""The processes the cluster starts, stops and waits for, and how it speaks to the operator.

Each part runs in a session of its own with ``MARK`` in its environment, so that ``down`` finds
what it started, stragglers included. Standard library only (deploy/cluster/cluster.py says why).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from deploy.cluster.cluster import Cluster

# Every process started here carries this variable: `down` finds stragglers by it.
MARK = "PAYLANE_CLUSTER_DIR"


def say(message: str) -> None:
    print(f"paylane cluster: {message}", flush=True)


def fail(message: str) -> NoReturn:
    print(f"paylane cluster: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().split(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (honcho puts each child in a session of its own)."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, []))
    return out


def marked(folder: Path) -> list[int]:
    """Every live process whose environment names this cluster's folder."""
    needle = f"{MARK}={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """``sig`` to ``pid`` and everything below it; the pids signalled."""
    pids = [p for p in descendants(pid) if p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    return pids


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def start(
    cluster: Cluster, name: str, command: list[str], *, user: str | None = None, env: dict[str, str] | None = None
) -> int:
    """``command`` in a session of its own, its output in ``<dir>/logs/<name>.log``; its pid."""
    logs = cluster.dir / "logs"
    logs.mkdir(exist_ok=True)
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": str(cluster.dir)}
    with (logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(
            command,
            cwd=cluster.dir,
            env={**base, **(env or {}), MARK: str(cluster.dir)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    cluster.pids[name] = proc.pid
    cluster.save()
    return proc.pid


def stop(cluster: Cluster, name: str, timeout: float = 15) -> None:
    """SIGTERM to the process ``name`` (the whole tree for an app host), SIGKILL to what is left."""
    pid = cluster.pids.pop(name, None)
    cluster.save()
    if pid is None or not alive(pid):
        return
    tree = descendants(pid)
    os.kill(pid, signal.SIGTERM)
    if not wait_gone([pid], timeout):
        os.kill(pid, signal.SIGKILL)
    if not wait_gone(tree, 5):
        for p in tree:
            if alive(p):
                kill_tree(p)
        wait_gone(tree, 5)


def tcp_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            fail(f"{what}: not ready after {timeout:.0f} s (logs in the cluster folder's logs/)")
        time.sleep(0.2)


def http_get(port: int, path: str) -> tuple[int, Any]:
    """GET on loopback; (status, JSON body or None); (0, None) when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()
