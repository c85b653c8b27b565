"""`honcho start` with one thread reading every process's output: what `make serve` runs.

honcho (deploy/Procfile's runner) reads each process's output in a Python process of its own, one
line at a time, and sends every line through a ``multiprocessing.Queue`` (pickled, a feeder thread,
a pipe) to the process that prints it. On the production stack that relay cost 0.7 ms of the
10.4 ms of CPU an API transfer costs the host (three lines: nginx's access line, the request's and
the money movement's), and 1.2 of 20.3 ms on a slower machine, where this module's relay cost 0.5
(docs/performance.md, "Issue 15, seventh round").

This module is honcho (its command line, Procfile, ports, printer, signals and stop rules: the
first process to exit stops the rest, SIGTERM then SIGKILL after 5 s) with one change: the
children are started in this process, and one thread reads all their pipes as they fill, a chunk
at a time, and prints whole lines itself (a process's unfinished line waits for its end, up to
``LONGEST_LINE``): no process per child, no queue message per line, no pickling. The main thread
keeps honcho's loop for the starts, the stops and its own lines, under the same lock.

    python -m deploy.relay start --procfile deploy/Procfile --port 8100 --concurrency web=4

honcho has no option for this; ``RelayManager`` overrides the one method of honcho's ``Manager``
that starts the children (``_start``) and the one that prints its own lines, with honcho pinned in
requirements.txt and tests/deploy/test_relay.py run against it.
"""

from __future__ import annotations

import os
import queue
import selectors
import threading
from typing import Any

import honcho.command
from honcho.manager import Manager
from honcho.printer import Message
from honcho.process import Popen

CHUNK = 64 * 1024
# A process's unfinished line is held until its newline, up to this many bytes; beyond, what is held
# is printed as a line of its own and the rest follows in the next, so a process that writes without
# newlines cannot grow the manager's memory without bound (stock honcho's readline() could).
LONGEST_LINE = 1024 * 1024


class RelayManager(Manager):
    """honcho's Manager, its children started here and their output read by one thread."""

    def __init__(self, printer: Any = None) -> None:
        super().__init__(printer)
        # The main loop reads it with get(timeout=0.1), as it read honcho's multiprocessing queue:
        # the processes' starts and stops. Their lines go to the printer from the reading thread.
        self.events: queue.SimpleQueue[Message] = queue.SimpleQueue()  # type: ignore[assignment]
        self._printing = threading.Lock()

    def _system_print(self, data: str) -> None:
        with self._printing:
            super()._system_print(data)

    def _print(self, data: bytes, process: Any) -> None:
        message = Message(type="line", data=data, time=self._clock.now(), name=process.name, colour=process.colour)
        with self._printing:
            try:
                self._printer.write(message)
            except (OSError, ValueError):
                # Our own output is gone (a closed pipe, a full disk): the lines are lost, but the
                # reading goes on, or every process would stop at its next write to a full pipe.
                pass

    def _start(self) -> None:
        readers: dict[int, tuple[Any, Popen]] = {}
        for entry in self._processes.values():
            process = entry["obj"]
            # honcho's Popen: through the shell, in a session of its own (the terminal's Ctrl-C
            # reaches the manager alone, which stops them all), stderr into stdout.
            child = Popen(process.cmd, env=process.env, cwd=process.cwd)
            entry["process"] = child
            self._post("start", {"pid": child.pid}, process)
            os.set_blocking(child.stdout.fileno(), False)
            readers[child.stdout.fileno()] = (process, child)
        threading.Thread(target=self._read, args=(readers,), name="relay", daemon=True).start()

    def _post(self, kind: str, data: Any, process: Any) -> None:
        self.events.put(Message(type=kind, data=data, time=self._clock.now(), name=process.name, colour=process.colour))

    def _read(self, readers: dict[int, tuple[Any, Popen]]) -> None:
        """Every child's output to the printer, whole lines at a time, until each closes its end."""
        partial = {fd: b"" for fd in readers}
        with selectors.DefaultSelector() as selector:
            for fd in readers:
                selector.register(fd, selectors.EVENT_READ)
            while readers:
                for key, _ in selector.select():
                    fd = key.fd
                    process, child = readers[fd]
                    try:
                        data = os.read(fd, CHUNK)
                    except BlockingIOError:
                        continue
                    if data:
                        lines, _, partial[fd] = (partial[fd] + data).rpartition(b"\n")
                        if len(partial[fd]) > LONGEST_LINE:  # printed as a line of its own
                            lines = lines + b"\n" + partial[fd] if lines else partial[fd]
                            partial[fd] = b""
                        if lines and not process.quiet:
                            self._print(lines + b"\n", process)
                        continue
                    # End of output: its last unfinished line, then its exit status when it has one.
                    selector.unregister(fd)
                    del readers[fd]
                    if partial[fd] and not process.quiet:
                        self._print(partial[fd] + b"\n", process)
                    child.stdout.close()
                    threading.Thread(target=self._reap, args=(child, process), daemon=True).start()

    def _reap(self, child: Popen, process: Any) -> None:
        # A process may close its output and go on running: waiting for it here holds up no one.
        child.wait()
        self._post("stop", {"returncode": child.returncode}, process)


def main() -> None:
    honcho.command.Manager = RelayManager  # type: ignore[misc]
    honcho.command.main()


if __name__ == "__main__":
    # honcho's own entry point reads sys.argv; `python -m deploy.relay start ...` is `honcho start ...`.
    main()
