"""The HTTP benchmarks' client: one keep-alive HTTPS connection, a request written in one piece,
the answer read by its ``Content-Length`` (or its chunks), and nothing more.

The 16 API clients of ``bench http`` share the machine's two cores with the stack they measure
(in production the programs calling the API are elsewhere). ``http.client`` cost about 1.4 ms of
CPU per request there (the headers are put one call each, and the answer's are parsed by the
``email`` package), a tenth of the machine at 120 requests/s; this client sends the same request
bytes (HTTP/1.1, ``Host``, ``Content-Length``, the caller's headers) on the same kind of TLS
connection, verified against the stack's own CA. An answer that says ``Connection: close`` (nginx
ends a keep-alive connection after ``keepalive_requests``) is read, then the next request opens
a new connection.
"""

from __future__ import annotations

import socket
import ssl


class KeepAlive:
    def __init__(self, port: int, context: ssl.SSLContext, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.host, self.port, self.context, self.timeout = host, port, context, timeout
        self.sock: ssl.SSLSocket | None = None
        self.pending = b""

    def _connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""
        return self.context.wrap_socket(raw, server_hostname=self.host)

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send one request; its status and body."""
        if self.sock is None:
            self.sock = self._connect()
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n{lines}\r\n"
        )
        self.sock.sendall(head.encode("latin-1") + body)
        status, fields = self._head()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            answer = self._chunks()
        else:
            answer = self._exactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            self.close()
            raise ConnectionError("the server closed the connection")
        self.pending += data

    def _line_block(self, end: bytes) -> bytes:
        while (at := self.pending.find(end)) < 0:
            self._fill()
        block, self.pending = self.pending[:at], self.pending[at + len(end) :]
        return block

    def _exactly(self, size: int) -> bytes:
        while len(self.pending) < size:
            self._fill()
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def _head(self) -> tuple[int, dict[str, str]]:
        status_line, *lines = self._line_block(b"\r\n\r\n").decode("latin-1").split("\r\n")
        fields = {}
        for line in lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return int(status_line.split(" ", 2)[1]), fields

    def _chunks(self) -> bytes:
        parts = []
        while size := int(self._line_block(b"\r\n").split(b";", 1)[0], 16):
            parts.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk
        self._line_block(b"\r\n")  # no trailers: the empty line that ends the body
        return b"".join(parts)
