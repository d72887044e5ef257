"""A TCP proxy between test clients and a relay that cuts connections as a dropped
network does, while making the seam countable.

cut() stops forwarding what clients send and ends the relay's side of each connection
(a FIN, as a client that went away): the relay notices and closes it. Everything the
relay wrote before it noticed still reaches the client, then the client's side closes
without a WebSocket close frame (1006, as after a network drop). So every change the
relay handed to the socket reached the client, and every other one must be kept for its
return. While down, new connections are accepted and closed at once (realtime-js keeps
retrying); restore() lets them through again.
"""
import socket
import threading


class CutProxy:
    def __init__(self, target_port, host="127.0.0.1", listen_host=None):
        self.target = (host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((listen_host or host, 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.closed = False
        self.lock = threading.Lock()
        self.pairs = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def url(self, relay, token=None, vsn="1.0.0", path="/socket/websocket"):
        """relay.url(...) through this proxy."""
        return relay.url(token, vsn, path).replace(f":{relay.port}/", f":{self.port}/", 1)

    def _accept_loop(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down or self.closed:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = {"client": client, "server": server, "cut": False}
            with self.lock:
                self.pairs.append(pair)
                self.accepted += 1
            threading.Thread(target=self._upstream, args=(pair,), daemon=True).start()
            threading.Thread(target=self._downstream, args=(pair,), daemon=True).start()

    def _upstream(self, pair):
        """client -> relay, until cut."""
        try:
            while True:
                data = pair["client"].recv(65536)
                if not data or pair["cut"]:
                    break
                pair["server"].sendall(data)
        except OSError:
            pass
        self._end_upstream(pair)

    def _end_upstream(self, pair):
        try:
            pair["server"].shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _downstream(self, pair):
        """relay -> client, until the relay closes (also after a cut: nothing it wrote is lost)."""
        try:
            while True:
                data = pair["server"].recv(65536)
                if not data:
                    break
                pair["client"].sendall(data)
        except OSError:
            pass
        for end in ("server", "client"):
            try:
                # shutdown first: a close alone waits for the other thread's blocked recv
                pair[end].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                pair[end].close()
            except OSError:
                pass
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)

    def cut(self):
        """Drops every connection (see the module's comment) and refuses new ones."""
        self.down = True
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            pair["cut"] = True
            self._end_upstream(pair)

    def restore(self):
        self.down = False

    def connections(self):
        with self.lock:
            return len(self.pairs)

    def close(self):
        self.closed = True
        self.cut()
        try:
            self.listener.close()
        except OSError:
            pass
