"""The connect storm's client: an authenticated ``/ws/wallet/`` handshake up to its hello, and little else.

The storm's client shares the machine's two cores with the servers it measures (in production
clients are elsewhere). The ``websockets`` library's client (bench/ws.py ``socket_open``, which
the latency and idle-socket benchmarks keep: they read frames for seconds and answer pings) cost
0.83 ms of CPU per handshake in a 500/s storm, about 0.4 of a core taken from the servers. This
client sends the same upgrade request (RFC 6455 section 4.1: ``Sec-WebSocket-Key``, version 13,
the Bearer token) on a plain asyncio stream, checks the answer as a client must (status 101,
``Upgrade``, ``Sec-WebSocket-Accept`` derived from the key), reads frames until the first text
frame and checks it is the hello; a close frame instead (4401 for a refused token, 1013 when the
database is away) is a refusal, raised with its code. Closing sends a masked close frame (1000),
as the protocol asks of a client, then drops the connection. It never reads more than the hello:
a frame after it (a push, a ping) stays unread in the kernel's buffer until the socket closes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
import time
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9


class Refused(Exception):
    """The server did not open the socket, or closed it before the hello."""


def accept_for(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key``."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def close_frame(code: int = 1000) -> bytes:
    """A client's close frame: FIN + opcode 8, masked, the code as its payload."""
    mask = os.urandom(4)
    payload = struct.pack("!H", code)
    return bytes([0x80 | OP_CLOSE, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def frame_read(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unfragmented frame from the server (unmasked, as servers send): its opcode and payload."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    if second & 0x80:
        raise Refused("the server masked a frame")
    return first & 0x0F, await reader.readexactly(length)


class HelloSocket:
    """An open socket after its hello. ``close()`` ends it as a client should."""

    def __init__(self, writer: asyncio.StreamWriter, hello: dict[str, Any]) -> None:
        self.writer, self.hello = writer, hello

    async def close(self) -> None:
        try:
            self.writer.write(close_frame())
            self.writer.close()
            await self.writer.wait_closed()
        except OSError:
            pass


async def hello_open(port: int, token: str, timeout: float = 10.0) -> tuple[HelloSocket, float]:
    """An authenticated socket on ``127.0.0.1:port`` and the seconds from TCP connect to its hello."""
    began = time.perf_counter()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            hello = await _handshake(reader, writer, port, token)
        except BaseException:
            writer.close()
            raise
    return HelloSocket(writer, hello), time.perf_counter() - began


async def _handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, token: str
) -> dict[str, Any]:
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET /ws/wallet/ HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
        b"Authorization: Bearer %s\r\n\r\n" % (port, key, token.encode())
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    if not status.startswith("HTTP/1.1 101"):
        raise Refused(status)
    fields = (line.partition(":") for line in lines if line)
    headers = {name.strip().lower(): value.strip() for name, _, value in fields}
    upgraded = headers.get("upgrade", "").lower() == "websocket"
    if not upgraded or headers.get("sec-websocket-accept", "").encode() != accept_for(key):
        raise Refused(f"not a websocket upgrade: {headers}")
    while True:
        opcode, payload = await frame_read(reader)
        if opcode == OP_TEXT:
            hello: dict[str, Any] = json.loads(payload)
            if hello.get("type") != "hello":
                raise Refused(f"first frame is not hello: {hello!r}")
            return hello
        if opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            raise Refused(f"closed with {code} before the hello")
        # a ping before the hello: skipped (the socket lives seconds; the server's 20 s pings come later)
