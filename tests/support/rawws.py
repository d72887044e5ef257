"""A bare WebSocket client on a plain socket, for what a well-behaved library will not
do: never read (with a tiny receive buffer), send arbitrary frames, and then read the raw
stream to see how the server ended it."""
import base64
import os
import socket
import struct
import time


class RawWebSocket:
    def __init__(self, port, path_and_query, rcvbuf=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect, so the TCP window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)  # byte by byte: nothing after the headers is consumed
            if not chunk:
                raise ConnectionError(f"closed during the handshake: {head!r}")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"upgrade refused: {head!r}")

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        if n:
            key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
            payload = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
        self.sock.sendall(header + mask + payload)

    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def read_to_end(self, timeout=30):
        """Reads until the server closes the TCP connection, answering its close frame as
        a client should. Returns (bytes read, the close code of the server's close frame,
        or None if it sent none)."""
        self.sock.settimeout(1)
        data = bytearray()
        parser = FrameScanner()
        answered = False
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"server did not close the connection within {timeout}s "
                                   f"({len(data)} bytes read)")
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            parser.feed(data)
            if parser.close_code is not None and not answered:
                answered = True
                try:
                    self.send_frame(0x8, struct.pack("!H", parser.close_code))
                except OSError:
                    pass
        return len(data), parser.close_code

    def close(self):
        self.sock.close()


class FrameScanner:
    """Walks server frames (unmasked) as the stream grows; remembers the first close
    frame's code."""

    def __init__(self):
        self.pos = 0
        self.close_code = None

    def feed(self, stream):
        while self.close_code is None:
            pos = self.pos
            if pos + 2 > len(stream):
                return
            opcode, n = stream[pos] & 0x0F, stream[pos + 1] & 0x7F
            pos += 2
            if n == 126:
                if pos + 2 > len(stream):
                    return
                n = struct.unpack("!H", stream[pos:pos + 2])[0]
                pos += 2
            elif n == 127:
                if pos + 8 > len(stream):
                    return
                n = struct.unpack("!Q", stream[pos:pos + 8])[0]
                pos += 8
            if pos + n > len(stream):
                return
            if opcode == 0x8:
                body = bytes(stream[pos:pos + n])
                self.close_code = struct.unpack("!H", body[:2])[0] if len(body) >= 2 else 1005
            self.pos = pos + n
