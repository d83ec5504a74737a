"""HTTP/1.1 over one persistent socket, just what the lean @connections client needs: send a
request, read one response (length-delimited or chunked, skipping interim 1xx answers), and tell
whether an idle socket was closed by the server before it is reused."""

from __future__ import annotations

import contextlib
import select
import socket


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as expected."""


class NoResponse(ConnectionError):
    """The server closed the connection before sending a byte of the response."""


def _readable(sock: socket.socket) -> bool:
    """Whether an idle socket has something to read: EOF (the server closed it) or stray bytes."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class Connection:
    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def idle_ok(self) -> bool:
        try:
            return not self.buffer and not _readable(self.sock)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise NoResponse("connection closed by the server") if not self.buffer else ProtocolError("truncated")
        return chunk

    def exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        """Send ``request``, read one response: (status, lowercase headers, body, reusable)."""
        self.sock.sendall(request)
        data = self.buffer
        while True:  # skip interim 1xx responses
            end = data.find(b"\r\n\r\n")
            while end < 0:
                data += self._recv()
                self.buffer = data
                end = data.find(b"\r\n\r\n")
            head, data = data[:end].decode("latin-1"), data[end + 4 :]
            status_line, *lines = head.split("\r\n")
            version, _, rest = status_line.partition(" ")
            if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
                raise ProtocolError(f"bad status line {status_line[:40]!r}")
            status = int(rest[:3])
            if not 100 <= status < 200 or status == 101:
                break
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        reusable = (
            "close" not in headers.get("connection", "").lower()
            if version == "HTTP/1.1"
            else "keep-alive" in headers.get("connection", "").lower()
        )
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, data = self._chunked(data)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad content-length") from None
            while len(data) < length:
                self.buffer = data
                data += self._recv()
            body, data = data[:length], data[length:]
        else:  # delimited by the end of the connection
            chunks = [data]
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
            body, data, reusable = b"".join(chunks), b"", False
        self.buffer = data
        return status, headers, body, reusable

    def _chunked(self, data: bytes) -> tuple[bytes, bytes]:
        parts: list[bytes] = []
        while True:
            while (end := data.find(b"\r\n")) < 0:
                self.buffer = data
                data += self._recv()
            size = int(data[:end].split(b";", 1)[0].strip() or b"x", 16)
            data = data[end + 2 :]
            if size == 0:  # trailers, then the blank line
                while (end := data.find(b"\r\n")) != 0:
                    if end < 0:
                        self.buffer = data
                        data += self._recv()
                    else:
                        data = data[end + 2 :]
                return b"".join(parts), data[2:]
            while len(data) < size + 2:
                self.buffer = data
                data += self._recv()
            parts.append(data[:size])
            data = data[size + 2 :]
