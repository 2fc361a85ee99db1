"""Small real network servers that answer badly: garbage over HTTP, half a MySQL handshake, a proxy
that cuts a connection in the middle of a result. Each listens on a free loopback port and is
stopped by ``close()`` (or the ``with`` block)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class GarbageHttp:
    """Answers every request with ``status``, ``content_type`` and ``body``."""

    def __init__(self, body: bytes, content_type: str = "application/json", status: int = 200) -> None:
        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                outer.requests += 1
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> GarbageHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _TcpServer:
    """Accepts connections on a loopback port; ``handle(conn)`` runs in a thread per connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self._open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_handshake(host: str, port: int) -> bytes:
    """The first packet (4-byte header + payload) a real MySQL/MariaDB server sends."""
    with socket.create_connection((host, port), timeout=10) as s:
        header = _read_exact(s, 4)
        length = int.from_bytes(header[:3], "little")
        return header + _read_exact(s, length)


def _read_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed early")
        data += chunk
    return data


class HalfHandshake(_TcpServer):
    """Sends the first half of a real server's handshake payload as a complete packet (its length
    header says half), then waits for the client to give up."""

    def __init__(self, real_handshake: bytes) -> None:
        payload = real_handshake[4:]
        half = payload[: len(payload) // 2]
        self.packet = len(half).to_bytes(3, "little") + real_handshake[3:4] + half
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.packet)
        conn.settimeout(30)
        while conn.recv(4096):
            pass


class CuttingProxy(_TcpServer):
    """Forwards to ``upstream``. The first ``cuts`` times a client sends bytes containing ``marker``,
    the connection is cut after ``after`` bytes of the server's answer have been passed on."""

    def __init__(self, upstream: tuple[str, int], marker: bytes, after: int, cuts: int = 1) -> None:
        self.upstream = upstream
        self.marker = marker
        self.after = after
        self.cuts_left = cuts
        self.cut = 0
        self._lock = threading.Lock()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        up = socket.create_connection(self.upstream, timeout=30)
        armed = threading.Event()
        done = threading.Event()

        def client_to_server() -> None:
            try:
                while not done.is_set():
                    data = conn.recv(65536)
                    if not data:
                        break
                    if self.marker in data:
                        with self._lock:
                            if self.cuts_left > 0:
                                self.cuts_left -= 1
                                armed.set()
                    up.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        t = threading.Thread(target=client_to_server, daemon=True)
        t.start()
        passed = 0
        try:
            while not done.is_set():
                data = up.recv(65536)
                if not data:
                    break
                if armed.is_set():
                    room = self.after - passed
                    if len(data) >= room:
                        conn.sendall(data[:room])
                        self.cut += 1
                        break
                    passed += len(data)
                conn.sendall(data)
        except OSError:
            pass
        finally:
            done.set()
            for s in (up, conn):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            up.close()


class SwitchProxy(_TcpServer):
    """Forwards to ``upstream`` while ``on``; ``off()`` cuts every connection and refuses new ones
    (a real network outage in front of a real server)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.is_on = True
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._plock = threading.Lock()
        super().__init__()

    def off(self) -> None:
        self.is_on = False
        with self._plock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def on(self) -> None:
        self.is_on = True

    def handle(self, conn: socket.socket) -> None:
        if not self.is_on:
            return
        up = socket.create_connection(self.upstream, timeout=30)
        with self._plock:
            self._pairs.append((conn, up))

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        t = threading.Thread(target=pump, args=(up, conn), daemon=True)
        t.start()
        pump(conn, up)
        t.join(timeout=5)
        up.close()
