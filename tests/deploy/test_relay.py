"""deploy/relay.py: honcho's `start`, every process's output read by one thread of the manager."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.live import BASE_DIR

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX process groups")


def start(tmp_path: Path, procfile: str, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "Procfile").write_text(procfile)
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.relay", "start", "--procfile", str(tmp_path / "Procfile"),
         "--app-root", str(tmp_path), "--env", os.devnull, "--no-colour", *args],
        cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def lines_of(output: str, name: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"^\d\d:\d\d:\d\d {re.escape(name)}\s*\| (.*)$", output, re.M)]


def test_every_line_of_every_process_arrives_whole_in_order_with_its_name(tmp_path: Path) -> None:
    # Lines written in pieces (the second half after a pause), many lines in one write, and a last
    # line with no newline: each is printed once, whole, under its own process's name.
    (tmp_path / "emit.py").write_text(
        "import sys, time\n"
        "tag = sys.argv[1]\n"
        "for i in range(300):\n"
        "    sys.stdout.write(f'{tag} line {i} begins'); sys.stdout.flush()\n"
        "    if i % 50 == 0: time.sleep(0.02)\n"
        "    sys.stdout.write(' and ends\\n')\n"
        "    if i % 7 == 0: sys.stdout.flush()\n"
        "sys.stdout.write(f'{tag} last words'); sys.stdout.flush()\n"
        "time.sleep(0.3 if tag == 'a' else 1.5)\n"
    )
    emit = f"exec {sys.executable} {tmp_path}/emit.py"
    proc = start(tmp_path, f"a: {emit} a\nb: {emit} b\n")
    output, _ = proc.communicate(timeout=30)
    for name, tag in (("a.1", "a"), ("b.1", "b")):
        expected = [f"{tag} line {i} begins and ends" for i in range(300)] + [f"{tag} last words"]
        assert lines_of(output, name) == expected, output[-2000:]
    # honcho's rules: the first to exit (a, status 0) stops the rest; its status is the manager's.
    assert re.search(r"a\.1 stopped \(rc=0\)", output)
    assert re.search(r"sending SIGTERM to b\.1", output)
    assert proc.returncode == 0


def test_the_children_are_the_managers_own_not_a_process_each(tmp_path: Path) -> None:
    # Stock honcho runs each child under a Python process of its own that relays its lines one by
    # one through a multiprocessing queue; here the shell running each Procfile line is the
    # manager's own child.
    proc = start(tmp_path, "a: echo parent=$PPID; sleep 0.5\nb: echo parent=$PPID; sleep 0.5\n")
    output, _ = proc.communicate(timeout=30)
    assert lines_of(output, "a.1") == [f"parent={proc.pid}"]
    assert lines_of(output, "b.1") == [f"parent={proc.pid}"]


def test_a_failing_process_stops_the_others_and_its_status_is_the_exit_status(tmp_path: Path) -> None:
    proc = start(tmp_path, "web: sleep 30\nbroken: echo failing; exit 3\n", "--port", "9100")
    started = time.monotonic()
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert time.monotonic() - started < 10  # the sleeper was stopped, not waited for
    assert lines_of(output, "broken.1") == ["failing"]


def test_sigterm_stops_every_process_and_exits_143(tmp_path: Path) -> None:
    proc = start(tmp_path, "web: echo port=$PORT; exec sleep 30\n", "--port", "9100", "--concurrency", "web=2")
    assert proc.stdout is not None
    pids, seen = [], []
    deadline = time.monotonic() + 20
    while len(pids) < 2 and time.monotonic() < deadline:
        seen.append(proc.stdout.readline())
        match = re.search(r"started \(pid=(\d+)\)", seen[-1])
        if match:
            pids.append(int(match.group(1)))
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    # Not communicate(): with a timeout it reads the pipe beneath what readline() already buffered.
    output = "".join(seen) + proc.stdout.read()
    proc.wait(timeout=30)
    assert proc.returncode == 143, output
    assert lines_of(output, "web.1") == ["port=9100"] and lines_of(output, "web.2") == ["port=9101"], output
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_processes_never_block_when_the_managers_own_output_is_gone(tmp_path: Path) -> None:
    # A reader that has gone away (a closed pipe): the lines are lost, but each process still
    # writes all of its output and goes on; the relay must not stop reading and leave it blocked
    # on a full pipe.
    done = tmp_path / "done"
    (tmp_path / "writer.py").write_text(
        "import sys\n"
        "for i in range(20000):\n"
        "    print(f'line {i} ' + 'x' * 100, flush=True)\n"
        f"open({str(done)!r}, 'w').close()\n"
        "import time; time.sleep(30)\n"
    )
    proc = start(tmp_path, f"writer: exec {sys.executable} {tmp_path}/writer.py\n")
    assert proc.stdout is not None
    assert "started" in proc.stdout.readline()
    proc.stdout.close()  # the manager's next write fails: a broken pipe
    try:
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), "the writer was left blocked on a full pipe"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_line_without_end_is_printed_in_pieces_not_held_without_bound(tmp_path: Path) -> None:
    # 2.5 MiB without a newline: the manager holds at most LONGEST_LINE of it, prints it as it
    # comes (while the writer is still waiting, before any newline), and loses none of it.
    from deploy.relay import CHUNK, LONGEST_LINE

    go = tmp_path / "go"
    size = 5 * LONGEST_LINE // 2
    (tmp_path / "writer.py").write_text(
        "import os, sys, time\n"
        f"for _ in range({size // 1024}): sys.stdout.write('x' * 1024)\n"
        "sys.stdout.flush()\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
        "print(); print('done', flush=True)\n"
    )
    proc = start(tmp_path, f"writer: exec {sys.executable} {tmp_path}/writer.py\n")
    assert proc.stdout is not None
    held: list[str] = []
    reader = threading.Thread(target=lambda: held.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        # The writer waits for `go`, with no newline written yet: only pieces can have arrived.
        while time.monotonic() < deadline and sum(len(line) for line in held if "xxx" in line) < 2 * LONGEST_LINE:
            time.sleep(0.05)
        arrived = sum(len(line) for line in held if "xxx" in line)
    finally:
        go.touch()
    proc.wait(timeout=30)
    reader.join(timeout=30)
    assert arrived >= 2 * LONGEST_LINE, "the unfinished line was held, not printed in pieces"
    output = "".join(held)
    pieces = [line for line in lines_of(output, "writer.1") if line.startswith("x")]
    assert len(pieces) >= 2
    assert all(len(piece) <= LONGEST_LINE + CHUNK for piece in pieces)
    assert sum(len(piece) for piece in pieces) == size and set("".join(pieces)) == {"x"}
    assert lines_of(output, "writer.1")[-1] == "done"
