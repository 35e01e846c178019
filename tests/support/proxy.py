"""A TCP proxy a test can cut: a server "goes down" for the processes behind it (their
connections drop and new ones are refused) and comes back, while the real server, which
other tests share, keeps running."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

from election.local.emulator import free_port


class CuttableProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; :meth:`cut` and :meth:`restore`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CuttableProxy:
        """Listen and forward, from a thread of its own."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.setblocking(False)
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="proxy", daemon=True)
        self._thread.start()
        return self

    def cut(self) -> None:
        """Drop every connection and refuse new ones (the server is "down")."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        with self._lock:
            for pair in self._pairs:
                for end in pair:
                    with contextlib.suppress(OSError):
                        end.close()
            self._pairs.clear()

    def restore(self) -> None:
        """Accept connections again."""
        self.start()

    def _serve(self) -> None:
        assert self._listener is not None
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept(selector, peers)
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    other = peers.get(sock)
                    if not data or other is None:
                        self._drop(selector, peers, sock)
                        continue
                    try:
                        other.sendall(data)
                    except OSError:
                        self._drop(selector, peers, sock)
        finally:
            for sock in list(peers):
                self._drop(selector, peers, sock)
            selector.close()
            self._listener.close()

    def _accept(
        self, selector: selectors.BaseSelector, peers: dict[socket.socket, socket.socket]
    ) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for end in (client, upstream):
            end.setblocking(True)
            selector.register(end, selectors.EVENT_READ, None)
        peers[client], peers[upstream] = upstream, client
        with self._lock:
            self._pairs.append((client, upstream))

    def _drop(
        self,
        selector: selectors.BaseSelector,
        peers: dict[socket.socket, socket.socket],
        sock: socket.socket,
    ) -> None:
        other = peers.pop(sock, None)
        for end in (sock, other):
            if end is None:
                continue
            peers.pop(end, None)
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(end)
            with contextlib.suppress(OSError):
                end.close()
