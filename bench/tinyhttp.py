"""Just enough HTTP/1.1 over asyncio for the benchmark's peers (Stripe stand-in, webhook receiver).

Keep-alive connections, ``Content-Length`` bodies, JSON answers; a few microseconds of CPU per
request, so these peers never become what is measured.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

#: ``handler(method, path, headers, body)`` → ``(status, JSON-able body)``; header names lower-case.
Handler = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, Any]]]


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length else b""
            status, payload = await handler(method, path, headers, body)
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                f"Request-Id: req_{secrets.token_hex(6)}\r\nConnection: keep-alive\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(port: int, handler: Handler) -> None:
    """Serve ``handler`` on 127.0.0.1:``port`` until the process is killed."""
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, handler), "127.0.0.1", port, backlog=1024, limit=1 << 20
    )
    async with server:
        await server.serve_forever()
